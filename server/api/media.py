"""Photos: a reporter uploads one (POST), it is made safe and stored; anyone reads the renditions (GET)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import BodyPartReader, web
from pydantic import BaseModel

from server import media
from server.api import Routes
from server.appkeys import MEDIA, SETTINGS
from server.auth import require
from server.errors import BadRequest, Invalid, NotFound, TooLarge, UnsupportedMediaType
from server.media_store import CONTENT_TYPES, DiskStorage
from server.models import Role
from server.pages import base_url
from server.params import slug
from server.ratelimit import LIMITER

routes = Routes()
#: The stored renditions, outside /api (not in the OpenAPI document).
files = web.RouteTableDef()

CHUNK = 1 << 16


class MediaCreated(BaseModel):
    """The stored photo: use ``url`` (with ``width`` and ``height``) in an update's ``image``."""

    url: str
    width: int
    height: int
    type: str
    srcset: str


async def media_ctx(app: web.Application) -> AsyncIterator[None]:
    """Photos under ``<data_dir>/media``."""
    app[MEDIA] = DiskStorage(app[SETTINGS].data_dir / "media")
    yield


async def _collect(read: Callable[[int], Awaitable[bytes]], limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"file: larger than {limit:,} bytes", field="file")
        chunks.append(chunk)
    return b"".join(chunks)


async def _upload(request: web.Request, limit: int) -> bytes:
    """The photo's bytes, from the ``file`` field of a form or from a raw image/* body, at most ``limit``."""
    if request.content_length is not None and request.content_length > limit + CHUNK:
        raise TooLarge(f"file: larger than {limit:,} bytes", field="file")
    kind = request.content_type
    if kind == "multipart/form-data":
        try:
            reader = await request.multipart()
            async for part in reader:
                if isinstance(part, BodyPartReader) and part.name == "file":
                    return await _collect(part.read_chunk, limit)
        except ValueError as exc:  # no boundary, or a form that does not parse (aiohttp raises ValueError)
            raise BadRequest(f"file: the multipart form does not parse ({exc})", field="file") from exc
        raise Invalid("file: the form has no field named file", field="file")
    if kind.startswith("image/"):
        return await _collect(request.content.read, limit)
    raise UnsupportedMediaType("file: send multipart/form-data with a file field, or an image/* body", field="file")


@routes.route("POST", "/api/events/{event}/media", "Upload a photo; it is re-encoded without metadata",
              who="reporter+", response=MediaCreated, status=201,
              errors=(400, 401, 403, 404, 413, 415, 422, 429))  # fmt: skip
async def upload_media(request: web.Request) -> web.Response:
    event_id = slug(request, "event")
    who = await require(request, Role.REPORTER, event_id)
    settings = request.app[SETTINGS]
    per_minute = settings.media_uploads_per_minute  # a token bucket in Redis: the limit holds across processes
    await request.app[LIMITER].take("media", who.name, per_minute / 60, per_minute)
    data = await _upload(request, settings.media_max_bytes)
    if not data:
        raise Invalid("file: empty", field="file")
    renditions = await asyncio.to_thread(media.process, data)  # decoding a 48 MP photo takes a while
    storage = request.app[MEDIA]
    for rendition in renditions:
        await storage.put(event_id, rendition.name, rendition.body)
    base = f"{base_url(request)}/media/{event_id}"
    full = renditions[0]
    srcset = ", ".join(f"{base}/{r.name} {r.width}w" for r in reversed(renditions))
    body = MediaCreated(url=f"{base}/{full.name}", width=full.width, height=full.height, type=full.content_type,
                        srcset=srcset)  # fmt: skip
    return web.json_response(body.model_dump(), status=201)


@files.get("/media/{event}/{name}")
async def get_media(request: web.Request) -> web.Response:
    """A stored photo rendition: named by its content, so cached for a year."""
    event_id = slug(request, "event")
    name = request.match_info["name"]
    body = await request.app[MEDIA].get(event_id, name)
    if body is None:
        raise NotFound("no such photo")
    headers = {
        "Cache-Control": "public, max-age=31536000, immutable",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "ETag": f'"{name.partition(".")[0]}"',
    }
    if request.headers.get("If-None-Match") == headers["ETag"]:
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type=CONTENT_TYPES[name.rpartition(".")[2]], headers=headers)
