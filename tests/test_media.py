"""Photo uploads with real images made by Pillow: oriented, resized, metadata stripped, bad input refused."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import aiohttp
import pillow_heif
import pytest
from aiohttp import web
from PIL import Image

from conftest import ADMIN, make_event, make_token

MEDIA = "/api/events/socitm-2011/media"
GPS_IFD = 0x8825
ORIENTATION = 0x0112


def photo(width: int, height: int, *, fmt: str = "JPEG", exif: Image.Exif | None = None, mode: str = "RGB") -> bytes:
    """A photo whose top half is red and bottom half blue (so a rotation shows), optionally with EXIF."""
    image = Image.new(mode, (width, height), (200, 30, 30, 255) if mode == "RGBA" else (200, 30, 30))
    image.paste((30, 30, 200) if mode == "RGB" else (30, 30, 200, 128), (0, height // 2, width, height))
    out = io.BytesIO()
    image.save(out, fmt, **({"exif": exif} if exif is not None else {}))
    return out.getvalue()


def tagged_exif() -> Image.Exif:
    """EXIF as a phone writes it: rotated 90° (orientation 6), where it was taken, which phone."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[0x010F] = "PhoneMaker"
    exif[GPS_IFD] = {1: "N", 2: (52.0, 27.0, 10.0), 3: "W", 4: (1.0, 43.0, 30.0)}
    return exif


def form(data: bytes, name: str = "file", filename: str = "photo.jpg", kind: str = "image/jpeg") -> aiohttp.FormData:
    body = aiohttp.FormData()
    body.add_field(name, data, filename=filename, content_type=kind)
    return body


async def upload(client: Any, data: Any, **kwargs: Any) -> Any:
    return await client.post(MEDIA, data=data, headers={**ADMIN, **kwargs.pop("headers", {})}, **kwargs)


async def fetch_image(client: Any, url: str) -> tuple[Image.Image, Any]:
    path = url.split(f":{client.port}", 1)[1]
    response = await client.get(path)
    assert response.status == 200, path
    return Image.open(io.BytesIO(await response.read())), response


async def test_phone_photo_is_oriented_resized_and_stripped(client: Any) -> None:
    await make_event(client)
    original = photo(4000, 3000, exif=tagged_exif())
    assert Image.open(io.BytesIO(original)).getexif()[ORIENTATION] == 6
    response = await upload(client, form(original))
    assert response.status == 201, await response.text()
    body = await response.json()
    # Orientation 6 means "turn 90° clockwise to view": the landscape pixels become a portrait photo.
    assert (body["width"], body["height"], body["type"]) == (1536, 2048, "image/jpeg")
    image, served = await fetch_image(client, body["url"])
    assert image.format == "JPEG" and image.size == (1536, 2048)
    assert served.content_type == "image/jpeg" and "immutable" in served.headers["Cache-Control"]
    assert "max-age=31536000" in served.headers["Cache-Control"]
    # The red top half of the sensor is now on the right (turned clockwise), the blue on the left.
    right, left = image.getpixel((1500, 1000)), image.getpixel((30, 1000))
    assert isinstance(right, tuple) and isinstance(left, tuple)
    assert right[0] > 150 > right[2] and left[2] > 150 > left[0]
    # No EXIF at all (orientation, maker, GPS), no XMP, no ICC profile.
    assert not image.getexif() and "exif" not in image.info and "icc_profile" not in image.info
    raw = await served.read()
    assert b"Exif" not in raw and b"PhoneMaker" not in raw
    # The small rendition for srcset.
    small_url, small_w = body["srcset"].split(", ")[0].split(" ")
    small, _ = await fetch_image(client, small_url)
    assert max(small.size) == 640 and small_w == f"{small.width}w"


async def test_raw_png_body_keeps_transparency_and_small_photos_are_not_enlarged(client: Any) -> None:
    await make_event(client)
    response = await upload(client, photo(300, 200, fmt="PNG", mode="RGBA"), headers={"Content-Type": "image/png"})
    assert response.status == 201, await response.text()
    body = await response.json()
    assert (body["width"], body["height"], body["type"]) == (300, 200, "image/png")
    image, served = await fetch_image(client, body["url"])
    assert served.content_type == "image/png" and image.mode == "RGBA"


async def test_heic_from_an_iphone(client: Any) -> None:
    await make_event(client)
    out = io.BytesIO()
    pillow_heif.from_pillow(Image.open(io.BytesIO(photo(640, 480)))).save(out, quality=80)
    response = await upload(client, form(out.getvalue(), filename="IMG_0001.HEIC", kind="image/heic"))
    assert response.status == 201, await response.text()
    body = await response.json()
    assert (body["width"], body["height"], body["type"]) == (640, 480, "image/jpeg")


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"%PDF-1.4 not a photo", 415),
        (photo(64, 64, fmt="GIF"), 415),
        (photo(800, 600)[:400], 422),  # truncated
    ],
)
async def test_non_images_are_refused_naming_the_field(client: Any, data: bytes, status: int) -> None:
    await make_event(client)
    response = await upload(client, form(data))
    assert response.status == status, await response.text()
    problem = await response.json()
    assert response.content_type == "application/problem+json" and problem["field"] == "file"


async def test_decompression_bomb_is_refused_before_decoding(client: Any) -> None:
    await make_event(client)
    # A 1-bit PNG of 30,000 × 30,000 pixels compresses to a few kilobytes; decoded it would take 2.7 GB as RGB.
    out = io.BytesIO()
    Image.new("1", (30_000, 30_000)).save(out, "PNG")
    assert len(out.getvalue()) < 200_000
    response = await upload(client, form(out.getvalue(), kind="image/png"))
    assert response.status == 413, await response.text()
    assert (await response.json())["field"] == "file"


async def test_size_cap_form_field_and_content_type(
    aiohttp_client: Any, make_app: Callable[..., web.Application]
) -> None:
    client = await aiohttp_client(make_app(media_max_bytes=20_000))
    await make_event(client)
    big = photo(1200, 900)
    assert len(big) > 20_000
    response = await upload(client, form(big))
    assert response.status == 413 and (await response.json())["field"] == "file"
    response = await upload(client, form(photo(20, 20), name="photo"))
    assert response.status == 422 and "file" in (await response.json())["detail"]
    response = await upload(client, b"{}", headers={"Content-Type": "application/json"})
    assert response.status == 415
    for broken in ("multipart/form-data", "multipart/form-data; boundary=x"):  # no boundary; a body that is no form
        response = await upload(client, b"not a form", headers={"Content-Type": broken})
        assert response.status == 400 and (await response.json())["field"] == "file", broken


async def test_who_may_upload_and_the_per_token_limit(
    aiohttp_client: Any, make_app: Callable[..., web.Application]
) -> None:
    client = await aiohttp_client(make_app(media_uploads_per_minute=2))
    await make_event(client)
    small = photo(40, 30)
    assert (await client.post(MEDIA, data=form(small))).status == 401
    outsider = await make_token(client, "Sam", events=[])
    assert (await client.post(MEDIA, data=form(small), headers=outsider)).status == 403
    reporter = await make_token(client, "Drew")
    for _ in range(2):
        assert (await client.post(MEDIA, data=form(small), headers=reporter)).status == 201
    limited = await client.post(MEDIA, data=form(small), headers=reporter)
    assert limited.status == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
    other = await aiohttp_client(make_app(media_uploads_per_minute=2))  # another server process, same store
    assert (await other.post(MEDIA, data=form(small), headers=reporter)).status == 429  # the limit is shared
    assert (await upload(client, form(small))).status == 201  # another token is not held back


async def test_uploaded_photo_in_an_update_on_the_reader_page(client: Any) -> None:
    await make_event(client)
    body = await (await upload(client, form(photo(3000, 2000)))).json()
    image = {"url": body["url"], "width": body["width"], "height": body["height"], "alt": "The hall"}
    update = {"text": "Full hall", "happened_at": "2011-10-11T08:18:00Z", "image": image}
    posted = await client.post("/api/events/socitm-2011/updates", headers=ADMIN, json=update)
    assert posted.status == 201, await posted.text()
    html = await (await client.get("/events/socitm-2011")).text()
    assert f'src="{body["url"]}"' in html and 'width="2048" height="1365"' in html
    assert f'srcset="{body["url"].replace("-2048.", "-640.")} 640w, {body["url"]} 2048w"' in html
    assert (await client.get("/media/socitm-2011/../../etc/passwd")).status == 404
    assert (await client.get("/media/socitm-2011/" + "0" * 24 + "-2048.jpg")).status == 404
