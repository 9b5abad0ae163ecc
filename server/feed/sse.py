"""GET /api/events/{event}/stream: the live feed as Server-Sent Events, fed by the same hub."""

from __future__ import annotations

from aiohttp import web
from aiohttp.http import HttpVersion11

from server.api import Routes
from server.feed.handler import close_feed, feed_request, open_feed
from server.feed.wire import Format
from server.ratelimit import feed_admission

routes = Routes()


@routes.route("GET", "/api/events/{event}/stream", "Live feed as Server-Sent Events (id: seq, event: type, "
              "data: JSON); resumes after Last-Event-ID or after=", query=("after", "session"),
              errors=(404, 422, 429, 503))  # fmt: skip
async def stream(request: web.Request) -> web.StreamResponse:
    """Send the event's messages after ``Last-Event-ID`` (or ``after``, or from now), then live ones, in seq
    order, each once; keep-alive comments every ``keepalive_seconds``. A reader that falls
    ``reader_buffer_bytes`` behind has its response closed (it resumes with Last-Event-ID)."""
    feed = await feed_request(request, request.headers.get("Last-Event-ID"))
    fmt = Format.SSE_CHUNKED if request.version >= HttpVersion11 else Format.SSE
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
    })  # fmt: skip

    async with feed_admission(request, feed.address):  # RateLimited, Overloaded (429, 503)
        reader = await open_feed(request, feed, fmt, response)
        if reader is None:
            return response
        try:
            await reader.done.wait()  # set when the hub cuts it, sees its transport closed, or shuts down
        finally:
            close_feed(request, reader)
    return response
