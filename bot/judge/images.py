"""Images as the vision judge receives them: one still frame, 64–768 px a side, as a PNG data URL.

Venice wants images of at least 64 px a side; large photos are scaled down because the judge
needs to see people, not pixels, and every byte is sent as base64. An animated image is judged by
its first frame, which is what the bot stores and shows as an avatar (callers judge the bytes they
are about to store). Bytes Pillow cannot read raise `JudgeUnavailable("unreadable_image")`.
"""

from __future__ import annotations

import base64
import io

from PIL import Image, UnidentifiedImageError

from bot.judge.answer import JudgeUnavailable

__all__ = ["MAX_SIDE", "MIN_SIDE", "data_url"]

MIN_SIDE = 64
MAX_SIDE = 768
# Pillow refuses to open decompression bombs beyond its own limit; this keeps the judge's work
# bounded well below it (a 16-megapixel photo is the largest reasonable avatar source).
MAX_PIXELS = 16_000_000


def data_url(data: bytes) -> str:
    """`data` (PNG, JPEG, GIF, WebP…) as a `data:image/png;base64,…` URL the judge can read."""
    try:
        with Image.open(io.BytesIO(data)) as picture:
            if picture.width * picture.height > MAX_PIXELS:
                raise JudgeUnavailable("unreadable_image", "too many pixels")
            picture.seek(0)
            frame = picture.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise JudgeUnavailable("unreadable_image", f"{len(data)} bytes") from None
    flat = Image.new("RGB", frame.size, (255, 255, 255))
    flat.paste(frame, mask=frame.getchannel("A"))
    scale = min(1.0, MAX_SIDE / max(flat.size))
    # Each side within bounds; a sliver of an image is stretched rather than refused.
    size = (_fit(flat.width * scale), _fit(flat.height * scale))
    if size != flat.size:
        flat = flat.resize(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    flat.save(out, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _fit(side: float) -> int:
    return min(MAX_SIDE, max(MIN_SIDE, round(side)))
