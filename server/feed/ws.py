"""GET /ws/events/{event}: the live feed over WebSocket (aiohttp's handshake; frames pre-built by the hub)."""

from __future__ import annotations

from aiohttp import WSMsgType, web

from server.api import Routes
from server.appkeys import SETTINGS
from server.errors import BadRequest
from server.feed.handler import close_feed, feed_request, open_feed
from server.feed.wire import Format
from server.ratelimit import feed_admission

routes = Routes()

MSGPACK_PROTOCOL = "plenary.msgpack"


@routes.route("GET", "/ws/events/{event}", "Live feed over WebSocket (JSON text frames; binary msgpack frames with "
              "the plenary.msgpack subprotocol); resumes after a seq", status=101, query=("after", "session"),
              errors=(400, 403, 404, 422, 429, 503))  # fmt: skip
async def ws_feed(request: web.Request) -> web.StreamResponse:
    """Send the event's messages after ``after`` (or from now), then live ones, in seq order, each once.

    Closes with 4008 when the reader falls ``reader_buffer_bytes`` behind (reconnect with after), 1009 when
    the client sends a message over ``ws_max_message_bytes``, 1001 when the server shuts down. The hub pings
    every ``keepalive_seconds``; a reader that has not answered by the next ping is dropped.
    """
    feed = await feed_request(request)
    ws = web.WebSocketResponse(
        protocols=(MSGPACK_PROTOCOL,),
        compress=False,  # frames are pre-built and shared by every reader
        autoping=False,  # the hub pings every reader with one shared frame; a timer per connection costs memory
        max_msg_size=request.app[SETTINGS].ws_max_message_bytes,
    )
    ready = ws.can_prepare(request)
    if not ready.ok:
        raise BadRequest("this path takes a WebSocket upgrade")
    fmt = Format.MSGPACK if ready.protocol == MSGPACK_PROTOCOL else Format.JSON

    async with feed_admission(request, feed.address):  # RateLimited, Overloaded (429, 503)
        reader = await open_feed(request, feed, fmt, ws)
        if reader is None:
            return ws
        try:
            async for message in ws:  # clients have nothing to say but pings and pongs; aiohttp answers closes
                if message.type is WSMsgType.PING:
                    await ws.pong(message.data)
                elif message.type is WSMsgType.PONG:
                    reader.awaiting_pong = False
        except ConnectionError:
            pass
        finally:
            close_feed(request, reader)
    return ws
