"""Versioned static files from clients/reader and clients/desk, served under /static/."""

from __future__ import annotations

import functools
import gzip
import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

from server.compression import accepts_gzip
from server.errors import NotFound

__all__ = ["Asset", "asset", "asset_url", "routes"]

routes = web.RouteTableDef()

#: Folders of ``clients`` whose files are served under /static/ (names must be unique across them).
ASSET_DIRS = ("reader", "desk")
_ASSET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\.(?:js|css|svg|png|ico|webmanifest)")
_CONTENT_TYPES = {
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
    "png": "image/png",
    "ico": "image/x-icon",
    "webmanifest": "application/manifest+json",
}
_TEXT = frozenset({"js", "css", "svg", "webmanifest"})
#: Files other sites load: the embed's loader script, pasted into news sites' articles.
CROSS_ORIGIN = frozenset({"embed.js"})


@dataclass(frozen=True, slots=True)
class Asset:
    """One file served under /static/, with the version that goes into its URL."""

    name: str
    body: bytes
    content_type: str
    version: str
    #: The body gzipped once when the file is read (None for formats that are compressed already).
    gzipped: bytes | None = None


@functools.cache
def _assets() -> dict[str, Asset]:
    """Every servable file, read once per process: a lookup never touches the disk, so misses cost nothing."""
    found: dict[str, Asset] = {}
    base = resources.files("clients")
    for folder in ASSET_DIRS:
        for path in base.joinpath(folder).iterdir():
            name = path.name
            if path.is_file() and _ASSET_NAME.fullmatch(name) and name not in found:
                body = path.read_bytes()
                ext = name.rpartition(".")[2]
                packed = gzip.compress(body, 9, mtime=0) if ext in _TEXT else None
                found[name] = Asset(name, body, _CONTENT_TYPES[ext], hashlib.sha256(body).hexdigest()[:12], packed)
    return found


def asset(name: str) -> Asset | None:
    """The static file ``name`` from clients/reader or clients/desk, or None."""
    return _assets().get(name)


def asset_url(name: str) -> str:
    """The versioned URL of a static file, cached for a year by browsers; changes whenever the file does."""
    found = asset(name)
    if found is None:
        raise LookupError(f"no static file {name!r}")
    return f"/static/{name}?v={found.version}"


@routes.get("/static/{name}")
async def static(request: web.Request) -> web.Response:
    found = asset(request.match_info["name"])
    if found is None:
        raise NotFound("no such file")
    packed = found.gzipped if found.gzipped is not None and accepts_gzip(request) else None
    etag = f'"{found.version}-gz"' if packed is not None else f'"{found.version}"'
    versioned = request.query.get("v") == found.version
    headers = {
        "ETag": etag,
        "Vary": "Accept-Encoding",
        "Cache-Control": "public, max-age=31536000, immutable" if versioned else "no-cache",
        "Cross-Origin-Resource-Policy": "cross-origin" if found.name in CROSS_ORIGIN else "same-origin",
    }
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    if packed is not None:
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=packed or found.body, headers={**headers, "Content-Type": found.content_type})
