"""Photos from reporters' phones made safe to publish: decoded, oriented, resized, re-encoded, metadata gone. Pure."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from server.errors import Invalid, TooLarge, UnsupportedMediaType

pillow_heif.register_heif_opener()

#: Formats a phone or camera produces that we accept (Pillow's names; HEIF covers iPhone HEIC).
FORMATS = frozenset({"JPEG", "PNG", "WEBP", "HEIF"})
#: Longest side of each rendition: the full one, and a small one for srcset on phones.
SIZES = (2048, 640)
#: Pixels a photo may have before it is decoded (a 48 MP phone photo fits; a decompression bomb does not).
MAX_PIXELS = 80_000_000
JPEG_QUALITY = 85


@dataclass(frozen=True, slots=True)
class Rendition:
    """One re-encoded size of a photo."""

    name: str
    body: bytes
    content_type: str
    width: int
    height: int


def _open(data: bytes) -> Image.Image:
    """Decode ``data`` as one of FORMATS, refusing what is not an image or would need too many pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in FORMATS:
                raise UnsupportedMediaType(f"file: {image.format} is not a photo format (JPEG, PNG, WebP, HEIC)",
                                           field="file")  # fmt: skip
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise TooLarge(f"file: {width}×{height} pixels is more than {MAX_PIXELS:,}", field="file")
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooLarge(f"file: too many pixels to decode safely ({exc})", field="file") from None
    except UnidentifiedImageError:
        raise UnsupportedMediaType("file: not an image (JPEG, PNG, WebP or HEIC)", field="file") from None
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt data
        raise Invalid(f"file: the image cannot be decoded ({exc})", field="file") from None
    return image


def process(data: bytes) -> list[Rendition]:
    """The photo in ``data`` as renditions, largest first, named by content so the same photo gets the same URLs.

    The pixels are turned upright by the EXIF orientation, then only the pixels are kept: no EXIF, GPS, XMP,
    ICC profile or comments survive. Opaque photos become JPEG; those with transparency PNG.

    Raises:
        UnsupportedMediaType: not an image, or not JPEG, PNG, WebP or HEIC.
        TooLarge: more than MAX_PIXELS pixels (a decompression bomb is refused before it is decoded).
        Invalid: truncated or corrupt image data.
    """
    image = _open(data)
    upright = ImageOps.exif_transpose(image)
    alpha = upright.mode in ("RGBA", "LA", "PA") or (upright.mode == "P" and "transparency" in upright.info)
    pixels = upright.convert("RGBA" if alpha else "RGB")
    digest = hashlib.sha256(data).hexdigest()[:24]
    renditions: list[Rendition] = []
    for side in SIZES:
        copy = pixels.copy()
        copy.thumbnail((side, side), Image.Resampling.LANCZOS)  # never enlarges
        out = io.BytesIO()
        if alpha:
            copy.save(out, "PNG", optimize=True)
            kind, ext = "image/png", "png"
        else:
            copy.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
            kind, ext = "image/jpeg", "jpg"
        renditions.append(Rendition(f"{digest}-{side}.{ext}", out.getvalue(), kind, copy.width, copy.height))
    return renditions
