"""Pictures people give the bot, made safe and small enough for a vision model.

Two steps, cheapest first, each raising `ImageRefused` (a `reason` code for logs and audits, and
wording for the user):

1. `check_declared` — from the attachment's declared size and content type, before download.
2. `prepare_image` — on the bytes: the real format is read from the data, not trusted from the
   name (PNG, JPEG, WebP, GIF — the first frame of an animation); the pixel count is checked from
   the header *before* anything is decoded (a 50 KB PNG can claim 2 gigapixels: the bomb guard);
   each side must be at least 64 px (Venice refuses smaller); EXIF orientation is applied; the
   picture is downscaled so its longest side is at most `max_side` and re-encoded as JPEG
   (PNG when it has transparency), which also drops every metadata block (GPS, camera serials).
   The result is a `data:` URL: Discord's CDN links expire, and Venice must not fetch from them.

`prepare_image` is synchronous and CPU-bound: call it through `bot.offload.run_cpu`. Lives below
the services so the chat turn and the screen's image judge use the same prepared picture.
"""

from __future__ import annotations

import base64
import io
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["ACCEPTED_TYPES", "ImageLimits", "ImageRefused", "VisionImage", "check_declared", "prepare_image"]

ACCEPTED_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP", "image/gif": "GIF"}
_FORMATS = set(ACCEPTED_TYPES.values()) | {"MPO"}  # MPO: JPEG from phone cameras, read as JPEG


@dataclass(frozen=True, slots=True)
class ImageLimits:
    """Bounds on an incoming picture.

    `max_bytes` sits under Discord's own upload limit for a server with no boost (10 MiB) and
    well under Venice's 35 MB request body; `max_pixels` stops decompression bombs long before
    Pillow's own 89-megapixel warning; `max_side` is the longest side sent to the model (vision
    models tile or shrink larger pictures anyway, so more only costs upload time and tokens).
    """

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000
    min_side: int = 64
    max_side: int = 1568
    jpeg_quality: int = 85


@dataclass(frozen=True, slots=True)
class VisionImage:
    """A picture ready for an `image_url` content part."""

    data: bytes = field(repr=False)
    content_type: str
    width: int
    height: int
    original_width: int
    original_height: int

    @property
    def data_url(self) -> str:
        """`data:<type>;base64,…` for Venice's `image_url.url`."""
        return f"data:{self.content_type};base64,{base64.b64encode(self.data).decode('ascii')}"


class ImageRefused(ValueError):
    """A picture the bot will not pass on; `user_message` says why, kindly."""

    def __init__(self, reason: str, user_message: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.user_message = user_message


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


def check_declared(*, size: int, content_type: str | None, limits: ImageLimits = ImageLimits()) -> None:
    """Refuse from the attachment's metadata alone: not a picture type we read, or too large."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in ACCEPTED_TYPES:
        raise ImageRefused("unsupported_type", "I can only look at PNG, JPEG, WebP or GIF pictures.")
    if size > limits.max_bytes:
        raise ImageRefused("too_large", f"That picture is too large — please send one under {_mib(limits.max_bytes)}.")


def prepare_image(data: bytes, *, limits: ImageLimits = ImageLimits()) -> VisionImage:
    """Check, orient, downscale and re-encode `data`; refuse what is not a safe, usable picture."""
    if len(data) > limits.max_bytes:
        raise ImageRefused("too_large", f"That picture is too large — please send one under {_mib(limits.max_bytes)}.")
    unreadable = ImageRefused("unreadable", "That picture couldn't be opened — try a PNG or JPEG.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.format not in _FORMATS:
                    raise ImageRefused("unsupported_type", "I can only look at PNG, JPEG, WebP or GIF pictures.")
                width, height = img.size
                _check_size(width, height, limits)
                img.seek(0)  # animations: the first frame
                if img.format in {"JPEG", "MPO"}:
                    # Let libjpeg decode at a reduced scale: far less work for phone-camera photos.
                    img.draft("RGB", (limits.max_side, limits.max_side))
                frame = ImageOps.exif_transpose(img)
                return _encode(frame, width, height, limits)
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own guard fired first (it reads the header on open): same answer as ours.
        raise ImageRefused("too_many_pixels", "That picture has too many pixels to look at.") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise unreadable from None


def _check_size(width: int, height: int, limits: ImageLimits) -> None:
    if width * height > limits.max_pixels:
        raise ImageRefused("too_many_pixels", "That picture has too many pixels to look at.")
    if min(width, height) < limits.min_side:
        raise ImageRefused(
            "too_small", f"That picture is too small to see — it needs at least {limits.min_side} px on each side."
        )
    if min(width, height) * min(1.0, limits.max_side / max(width, height)) < limits.min_side:
        # Shrunk to fit `max_side`, its short side would fall under Venice's minimum.
        raise ImageRefused("too_narrow", "That picture is too long and thin to look at — try cropping it.")


def _encode(img: Image.Image, width: int, height: int, limits: ImageLimits) -> VisionImage:
    transparent = img.mode in {"RGBA", "LA", "PA"} or (img.mode == "P" and "transparency" in img.info)
    img = img.convert("RGBA" if transparent else "RGB")
    if max(img.size) > limits.max_side:
        img.thumbnail((limits.max_side, limits.max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    if transparent:
        img.save(buf, format="PNG", optimize=True)
        content_type = "image/png"
    else:
        img.save(buf, format="JPEG", quality=limits.jpeg_quality, optimize=True)
        content_type = "image/jpeg"
    return VisionImage(buf.getvalue(), content_type, img.width, img.height, width, height)
