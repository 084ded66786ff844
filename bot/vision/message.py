"""The multimodal user message for Venice's chat completions (swagger `ChatCompletionRequest`).

A user message's `content` becomes a list of parts: `{"type": "text", "text": …}` (the text must
be at least one character, so it is left out when empty) followed by one
`{"type": "image_url", "image_url": {"url": "data:…"}}` per picture. Only user messages may carry
images, and only models whose `/models` entry has `supportsVision` accept them; a model without
`supportsMultipleImages` is sent only the last picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .input import VisionImage

__all__ = ["image_limit", "vision_user_message"]


def image_limit(*, supports_vision: bool, supports_multiple: bool, max_images: int | None) -> int:
    """How many pictures a model takes in one request (0 when it cannot see)."""
    if not supports_vision:
        return 0
    if not supports_multiple:
        return 1
    return max_images if max_images and max_images > 0 else 1


def vision_user_message(text: str, images: Sequence[VisionImage], *, limit: int | None = None) -> dict[str, Any]:
    """`{"role": "user", "content": [text part?, image parts…]}`; keeps the last `limit` pictures."""
    if limit is not None:
        images = images[-limit:] if limit > 0 else []
    parts: list[dict[str, Any]] = []
    if text.strip():
        parts.append({"type": "text", "text": text})
    parts.extend({"type": "image_url", "image_url": {"url": image.data_url}} for image in images)
    if not parts:
        raise ValueError("a message needs text or at least one picture")
    return {"role": "user", "content": parts}
