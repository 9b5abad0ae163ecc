"""What both feed transports do with a request: validate it, admit it, join, catch up, and in the end leave.

The transport adapters hold ``feed_admission``, call ``open_feed``, wait in their own handler coroutine until the
reader leaves, then ``close_feed``: no extra coroutine or closure per idle reader (each costs memory x thousands).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web

from server.appkeys import HUB, SETTINGS, STORE
from server.client import client_address, origin_allowed
from server.errors import Forbidden
from server.feed.core import Position
from server.feed.wire import Format
from server.feed.writer import Reader
from server.params import parse_seq, parse_session, slug

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FeedRequest:
    """A validated feed request: which event, from where, with which filter, from whom."""

    event: str
    after: Position | None
    session: str | None
    address: str


async def feed_request(request: web.Request, last_event_id: str | None = None) -> FeedRequest:
    """Check the origin, the event and the query (``Last-Event-ID`` wins over ``after``).

    Raises:
        Forbidden: an origin outside ``public_url`` and ``allowed_origins``.
        Invalid: a malformed ``after``, ``Last-Event-ID`` or ``session``.
        NotFound: no such event.
    """
    event = slug(request, "event")
    settings = request.app[SETTINGS]
    if not origin_allowed(request, settings):
        raise Forbidden(f"origin {request.headers.get('Origin')!r} may not open this feed")
    given = (last_event_id, "Last-Event-ID") if last_event_id else (request.query.get("after"), "after")
    seq = parse_seq(*given)
    session = parse_session(request.query.get("session"))
    await request.app[STORE].get_event(event)
    after = None if seq is None else Position.of(seq)
    return FeedRequest(event, after, session, client_address(request, settings))


async def open_feed(
    request: web.Request, feed: FeedRequest, fmt: Format, response: web.StreamResponse
) -> Reader | None:
    """Join the reader, send the head (101 or the SSE response), catch it up and make it live (the caller holds
    its ``feed_admission``).

    Joining comes before the head, so any message published after the client sees the head reaches it. Returns
    the live reader (the caller waits, then calls ``close_feed``), or None when the peer went away or was cut
    during the catch-up (all released already).

    Raises:
        StoreUnavailable: the event's feed could not be subscribed in time.
    """
    transport = request.transport
    if transport is None:
        raise ConnectionResetError("the client went away")
    hub = request.app[HUB]
    reader = Reader(feed.event, fmt, transport, request.writer, session=feed.session, address=feed.address)
    try:
        await hub.join(reader)
        await response.prepare(request)
        reader.opened = True
        logger.debug("feed open: %s %s after=%s session=%s from %s", feed.event, fmt, feed.after, feed.session,
                     feed.address)  # fmt: skip
        await hub.catch_up(reader, feed.after)
    except ConnectionError:
        close_feed(request, reader)
        return None
    except BaseException:
        close_feed(request, reader)
        raise
    return reader


def close_feed(request: web.Request, reader: Reader) -> None:
    """The reader has gone: forget it (called once per reader ``open_feed`` returned)."""
    request.app[HUB].leave(reader)
    logger.debug("feed close: %s %s from %s%s", reader.event, reader.fmt, reader.address,
                 " (slow)" if reader.cut_slow else "")  # fmt: skip
