"""Fit generated images into Discord's upload limit, and read their size without trusting them.

Venice returns WebP by default, usually a few hundred kilobytes, so most images pass through
untouched. Upscales are PNG and can be tens of megabytes; those are decoded once, re-encoded at
falling quality and, if need be, downscaled until they fit `interaction.filesize_limit`.

Everything here is CPU-bound and synchronous: call it through the bot's offload thread pool
(`Offload.in_thread`; Pillow's codecs release the GIL) from the event loop. Images are closed as
soon as they are no longer needed and only bytes are returned, so nothing decoded outlives the call.
"""

from __future__ import annotations

import io
import logging
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, UnidentifiedImageError

log = logging.getLogger(__name__)

# Content type → file extension Discord shows.
_EXTENSIONS = {
    "image/webp": "webp",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/gif": "gif",
}
_PIL_FORMATS = {"WEBP": "image/webp", "PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif"}
_OUTPUT = {"webp": ("WEBP", "image/webp", "webp"), "jpeg": ("JPEG", "image/jpeg", "jpg")}

QUALITIES = (88, 78, 66, 52, 40)
MIN_OUTPUT_SIDE = 64
# If the best quality is this far over the limit, lowering quality alone will not get there.
_HOPELESS = 2.0


def probe(data: bytes) -> tuple[int, int, str]:
    """(width, height, Pillow format name) from the image header.

    Raises ValueError("not an image") for data Pillow cannot identify, and for images so large
    that they trip Pillow's decompression-bomb guard (`Image.MAX_IMAGE_PIXELS`). Only the header
    is read, so a truncated file still probes; `fit_to_limit` decodes fully.
    """
    with _bomb_guard(), _open(data) as image:
        return image.width, image.height, image.format or ""


def fit_to_limit(data: bytes, content_type: str, limit_bytes: int, *, prefer: str = "webp") -> tuple[bytes, str, str]:
    """Return (bytes, content_type, extension) of an image no larger than `limit_bytes`.

    Data already within the limit is returned as it is, with the content type its magic bytes
    show (`content_type` is only what the sender claimed). Otherwise the image is re-encoded as `prefer`
    ("webp" or "jpeg") at falling quality, then downscaled, until it fits. Metadata is not
    carried over, which also drops any prompt Venice wrote into EXIF. Raises ValueError when
    the data is not an image or cannot be made to fit.
    """
    if limit_bytes <= 0:
        raise ValueError("the size limit must be positive")
    if prefer not in _OUTPUT:
        raise ValueError(f"cannot encode as {prefer!r}; use one of {', '.join(_OUTPUT)}")
    if len(data) <= limit_bytes:
        # The bytes decide, not the label: an empty body or an error page must never be posted
        # as an image, and a mislabelled image still gets the right extension.
        kind = _sniff(data)
        if kind is None:
            raise ValueError("not an image")
        if kind != _normalise_type(content_type):
            log.debug("image labelled %r is really %s", content_type, kind)
        return data, kind, _EXTENSIONS[kind]

    pil_format, out_type, extension = _OUTPUT[prefer]
    with _bomb_guard(), _open(data) as source:
        try:
            source.load()
        except (OSError, SyntaxError) as exc:  # Pillow reports corrupt data as either
            raise ValueError("not an image") from exc
        work = _flatten(source, pil_format)
    try:
        while True:
            size = _best_effort(work, pil_format, limit_bytes)
            if isinstance(size, bytes):
                return size, out_type, extension
            work = _downscale(work, math.sqrt(limit_bytes / size))
    finally:
        work.close()


def _best_effort(image: Image.Image, pil_format: str, limit: int) -> bytes | int:
    """Encoded bytes at the highest quality that fits, or the smallest size reached if none does."""
    smallest = 0
    for quality in QUALITIES:
        encoded = _encode(image, pil_format, quality)
        if len(encoded) <= limit:
            return encoded
        smallest = len(encoded)
        if quality == QUALITIES[0] and smallest > limit * _HOPELESS:
            break  # Skip the slow walk down the qualities; a smaller image is needed anyway.
    return smallest


def _downscale(image: Image.Image, factor: float) -> Image.Image:
    """A smaller copy of `image` (the original is closed); raises when it would be too small."""
    # Aim a little under the estimate, since size does not fall exactly with pixel count,
    # but never shrink so little that the loop crawls or so much that quality collapses.
    factor = max(0.5, min(0.9, factor * 0.95))
    width, height = round(image.width * factor), round(image.height * factor)
    if min(width, height) < MIN_OUTPUT_SIDE:
        image.close()
        raise ValueError("the image cannot be made small enough to upload")
    smaller = image.resize((width, height), Image.Resampling.LANCZOS)
    image.close()
    return smaller


def _encode(image: Image.Image, pil_format: str, quality: int) -> bytes:
    buffer = io.BytesIO()
    options: dict[str, object] = {"quality": quality}
    if pil_format == "WEBP":
        options["method"] = 4  # Pillow's default speed/size balance; 6 is much slower for ~5%.
    else:
        options["optimize"] = True
    image.save(buffer, format=pil_format, **options)
    return buffer.getvalue()


def _flatten(image: Image.Image, pil_format: str) -> Image.Image:
    """A copy in a mode the output format can hold (JPEG has no alpha; palettes become colour)."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if pil_format == "WEBP" and has_alpha:
        return image.convert("RGBA")
    if has_alpha:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        rgba.close()
        return flat
    return image.convert("RGB")


def _open(data: bytes) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError("not an image") from exc
    except Image.DecompressionBombError as exc:
        raise ValueError("not an image (too many pixels)") from exc


@contextmanager
def _bomb_guard() -> Iterator[None]:
    """Treat Pillow's decompression-bomb warning as an error.

    Pillow only warns between MAX_IMAGE_PIXELS and twice that; nothing Venice makes comes near
    it (upscales stop at 16.8 million pixels), so anything there is hostile or broken.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise ValueError("not an image (too many pixels)") from exc


def _normalise_type(content_type: str) -> str | None:
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind == "image/jpg":
        kind = "image/jpeg"
    return kind if kind in _EXTENSIONS else None


def _sniff(data: bytes) -> str | None:
    """Content type from magic bytes, without decoding anything."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None
