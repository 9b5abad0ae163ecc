"""GET /ws/events/{event}: origin check, after=, subprotocol, catch-up, join the hub, keep-alive."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import WSMsgType, web

from server.api import Routes
from server.appkeys import HUB, SETTINGS, STORE
from server.client import client_address, origin_allowed
from server.errors import BadRequest, Forbidden
from server.hub import Format, Message, Reader, ws_close_frame
from server.params import parse_seq, parse_session, slug
from server.ratelimit import feed_admission

logger = logging.getLogger(__name__)

routes = Routes()

MSGPACK_PROTOCOL = "plenary.msgpack"


class WsReader(Reader):
    """A WebSocket reader: JSON text frames, or msgpack binary frames with the plenary.msgpack subprotocol."""

    __slots__ = ("ws",)

    def __init__(self, event: str, fmt: Format, transport: asyncio.Transport, *, session: str | None,
                 address: str, ws: web.WebSocketResponse) -> None:  # fmt: skip
        super().__init__(event, fmt, transport, session=session, address=address)
        self.ws = ws

    async def send(self, message: Message) -> None:
        opcode = WSMsgType.BINARY if self.fmt is Format.MSGPACK else WSMsgType.TEXT
        await self.ws.send_frame(message.body(self.fmt), opcode)

    def cut(self, code: int, reason: str) -> None:
        self.transport.write(ws_close_frame(code, reason))


@routes.route("GET", "/ws/events/{event}", "Live feed over WebSocket (JSON text frames; binary msgpack frames with "
              "the plenary.msgpack subprotocol); resumes after a seq", status=101, query=("after", "session"),
              errors=(400, 403, 404, 422, 429, 503))  # fmt: skip
async def ws_feed(request: web.Request) -> web.StreamResponse:
    """Send the event's messages after ``after`` (or from now), then live ones, in seq order, each once.

    Closes with 4008 when the reader falls ``reader_buffer_bytes`` behind (reconnect with after), 1009 when
    the client sends a message over ``ws_max_message_bytes``, 1001 when the server shuts down. The hub pings
    every ``keepalive_seconds``; a reader that has not answered by the next ping is dropped.
    """
    event = slug(request, "event")
    settings = request.app[SETTINGS]
    if not origin_allowed(request, settings):
        raise Forbidden(f"origin {request.headers.get('Origin')!r} may not open this feed")
    after = parse_seq(request.query.get("after"))
    session = parse_session(request.query.get("session"))
    await request.app[STORE].get_event(event)
    ws: web.WebSocketResponse = web.WebSocketResponse(
        protocols=(MSGPACK_PROTOCOL,),
        compress=False,  # frames are pre-built and shared by every reader
        autoping=False,  # the hub pings every reader with one shared frame; a timer per connection costs memory
        max_msg_size=settings.ws_max_message_bytes,
    )
    ready = ws.can_prepare(request)
    if not ready.ok:
        raise BadRequest("this path takes a WebSocket upgrade")
    transport = request.transport
    if transport is None:
        raise ConnectionResetError("the client went away")
    hub = request.app[HUB]
    address = client_address(request, settings)
    fmt = Format.MSGPACK if ready.protocol == MSGPACK_PROTOCOL else Format.JSON
    async with feed_admission(request, address):
        reader = WsReader(event, fmt, transport, session=session, address=address, ws=ws)
        await hub.join(reader)
        try:
            await ws.prepare(request)
            logger.debug("ws open: %s %s after=%s session=%s from %s", event, fmt, after, session, address)
            await hub.catch_up(reader, after)
            async for message in ws:  # clients have nothing to say but pings and pongs; aiohttp answers closes
                if message.type is WSMsgType.PING:
                    await ws.pong(message.data)
                elif message.type is WSMsgType.PONG:
                    reader.awaiting_pong = False
        except ConnectionError:
            pass
        finally:
            hub.leave(reader)
            logger.debug("ws close: %s from %s (code %s%s)", event, address, ws.close_code,
                         ", slow" if reader.cut_slow else "")  # fmt: skip
    return ws
