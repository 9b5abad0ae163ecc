"""Versioned static files from clients/reader and clients/desk, served under /static/."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

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
#: Files other sites load: the embed's loader script, pasted into news sites' articles.
CROSS_ORIGIN = frozenset({"embed.js"})


@dataclass(frozen=True, slots=True)
class Asset:
    """One file served under /static/, with the version that goes into its URL."""

    name: str
    body: bytes
    content_type: str
    version: str


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
                kind = _CONTENT_TYPES[name.rpartition(".")[2]]
                found[name] = Asset(name, body, kind, hashlib.sha256(body).hexdigest()[:12])
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
    etag = f'"{found.version}"'
    versioned = request.query.get("v") == found.version
    headers = {
        "ETag": etag,
        "Cache-Control": "public, max-age=31536000, immutable" if versioned else "no-cache",
        "Cross-Origin-Resource-Policy": "cross-origin" if found.name in CROSS_ORIGIN else "same-origin",
    }
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=found.body, headers={**headers, "Content-Type": found.content_type})
