"""Profile and MMS image intake: judge the type by content, refuse bombs, re-encode clean.

Everything uploaded is hostile: the file name and the declared content type are ignored,
Pillow identifies the format from the bytes, and the output is a freshly encoded image with
no metadata (EXIF, GPS, comments) from the original.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = {"PNG", "JPEG", "GIF", "WEBP"}
MAX_BYTES = 5 * 1024 * 1024
# Far below Pillow's own bomb threshold (about 89 Mpx): a profile picture needs nothing close.
MAX_PIXELS = 24_000_000
PROFILE_SIZE = 256


class ImageRejected(ValueError):
    """The upload is not an acceptable image; `code` says why (for a translated message)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    mime_type: str
    width: int
    height: int


def _open_checked(data: bytes, max_bytes: int, max_pixels: int) -> Image.Image:
    if not data:
        raise ImageRejected("empty")
    if len(data) > max_bytes:
        raise ImageRejected("too_large")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            # The header alone tells the size: refuse before decoding a single pixel.
            if img.format not in ALLOWED_FORMATS:
                raise ImageRejected("format")
            width, height = img.size
            if width <= 0 or height <= 0 or width * height > max_pixels:
                raise ImageRejected("too_many_pixels")
            img.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageRejected("too_many_pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ImageRejected("format") from None
    return img


def clean_profile_image(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS,
                        size: int = PROFILE_SIZE) -> CleanImage:
    """Return the upload as a square PNG of `size` pixels, centre-cropped, without metadata."""
    img = _open_checked(data, max_bytes, max_pixels)
    img = ImageOps.exif_transpose(img)  # respect the camera's orientation before dropping EXIF
    img = img.convert("RGBA") if img.mode in ("RGBA", "LA", "P") else img.convert("RGB")
    img = ImageOps.fit(img, (size, size), method=Image.Resampling.LANCZOS)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return CleanImage(out.getvalue(), "image/png", size, size)


def clean_mms_image(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS,
                    max_side: int = 1280) -> CleanImage:
    """Return the upload as a JPEG no larger than max_side on either side, without metadata."""
    img = _open_checked(data, max_bytes, max_pixels)
    img = ImageOps.exif_transpose(img).convert("RGB")
    img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=85)
    return CleanImage(out.getvalue(), "image/jpeg", img.width, img.height)
