"""GET /api/events/{event}/stream: the live feed as Server-Sent Events, fed by the same hub."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from aiohttp.http import HttpVersion11

from server.api import Routes
from server.appkeys import HUB, SETTINGS, STORE
from server.client import client_address, origin_allowed
from server.errors import Forbidden
from server.hub import Format, Message, Reader
from server.params import parse_seq, parse_session, slug
from server.ratelimit import feed_admission

logger = logging.getLogger(__name__)

routes = Routes()


class SseReader(Reader):
    """An SSE reader: ``id:`` seq, ``event:`` type, ``data:`` the message JSON."""

    __slots__ = ("response",)

    def __init__(self, event: str, fmt: Format, transport: asyncio.Transport, *, session: str | None,
                 address: str, response: web.StreamResponse) -> None:  # fmt: skip
        super().__init__(event, fmt, transport, session=session, address=address)
        self.response = response

    async def send(self, message: Message) -> None:
        await self.response.write(message.body(Format.SSE))  # aiohttp adds the chunk framing

    def cut(self, code: int, reason: str) -> None:
        """SSE has no close code: closing the response makes EventSource resume with Last-Event-ID."""


@routes.route("GET", "/api/events/{event}/stream", "Live feed as Server-Sent Events (id: seq, event: type, "
              "data: JSON); resumes after Last-Event-ID or after=", query=("after", "session"),
              errors=(404, 422, 429, 503))  # fmt: skip
async def stream(request: web.Request) -> web.StreamResponse:
    """Send the event's messages after ``Last-Event-ID`` (or ``after``, or from now), then live ones, in seq
    order, each once; keep-alive comments every ``keepalive_seconds``. A reader that falls
    ``reader_buffer_bytes`` behind has its response closed (it resumes with Last-Event-ID)."""
    event = slug(request, "event")
    settings = request.app[SETTINGS]
    if not origin_allowed(request, settings):
        raise Forbidden(f"origin {request.headers.get('Origin')!r} may not open this feed")
    header = request.headers.get("Last-Event-ID")
    after = parse_seq(header, "Last-Event-ID") if header else parse_seq(request.query.get("after"))
    session = parse_session(request.query.get("session"))
    await request.app[STORE].get_event(event)
    transport = request.transport
    if transport is None:
        raise ConnectionResetError("the client went away")
    hub = request.app[HUB]
    address = client_address(request, settings)
    fmt = Format.SSE_CHUNKED if request.version >= HttpVersion11 else Format.SSE
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
    })  # fmt: skip
    async with feed_admission(request, address):
        reader = SseReader(event, fmt, transport, session=session, address=address, response=response)
        await hub.join(reader)
        try:
            await response.prepare(request)
            logger.debug("sse open: %s after=%s session=%s from %s", event, after, session, address)
            await hub.catch_up(reader, after)
            await reader.done.wait()  # set when the hub cuts it, sees its transport closed, or shuts down
        except ConnectionError:
            pass
        finally:
            hub.leave(reader)
            logger.debug("sse close: %s from %s%s", event, address, " (slow)" if reader.cut_slow else "")
    return response
