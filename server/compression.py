"""gzip for pages, JSON answers and the Atom feed when the client accepts it (static files come precompressed)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

#: Answers worth compressing; live feeds (WebSocket, SSE) are stream responses and never pass through here.
COMPRESSIBLE = frozenset({"text/html", "application/json", "application/atom+xml"})
#: Below this a gzip header and trailer save nothing worth the work.
MIN_BYTES = 1024


def accepts_gzip(request: web.Request) -> bool:
    """Whether the client named gzip in Accept-Encoding (without q=0)."""
    for part in request.headers.get("Accept-Encoding", "").lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*") and params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            return True
    return False


def vary_on_encoding(response: web.StreamResponse) -> None:
    """Tell caches that the answer depends on Accept-Encoding."""
    vary = response.headers.get("Vary", "")
    if "accept-encoding" not in vary.lower():
        response.headers["Vary"] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"


@web.middleware
async def compression_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if (
        type(response) is web.Response
        and response.content_type in COMPRESSIBLE
        and "Content-Encoding" not in response.headers
        and isinstance(response.body, bytes)
        and len(response.body) >= MIN_BYTES
    ):
        vary_on_encoding(response)
        if accepts_gzip(request):
            response.enable_compression(web.ContentCoding.gzip)
    return response
