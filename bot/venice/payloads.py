"""Request bodies the client sends and readers for what Venice sends back.

The bodies hold only fields that exist in Venice's OpenAPI description (the top-level chat and
image schemas reject unknown fields with a 400). Caller mistakes that Venice would reject anyway
(out-of-range numbers, too many stop sequences) raise ValueError before anything is sent.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from PIL import Image, UnidentifiedImageError

from .errors import ContentPolicyError, MalformedResponse, ServerError
from .types import ChatResult, Cost, ImageResult, ModelInfo, Usage, VeniceCharacter

__all__ = [
    "IMAGE_FORMATS",
    "SEED_RANGE",
    "chat_body",
    "check_image_flags",
    "decode_image",
    "image_body",
    "image_result",
    "message_text",
    "parse_characters",
    "parse_chat_completion",
    "parse_json",
    "parse_models",
    "parse_styles",
]

IMAGE_FORMATS = ("webp", "png", "jpeg")
SEED_RANGE = (-999_999_999, 999_999_999)
_MAX_SIDE = 1280

# Safety headers on image responses, most serious first; each is a hard stop (DESIGN §5).
_IMAGE_FLAGS: tuple[tuple[str, str], ...] = (
    (
        "x-venice-contains-minor",
        "Venice flagged this image as possibly showing a minor, so it was not posted.",
    ),
    (
        "x-venice-is-content-violation",
        "Venice blocked this image under its content policy, so it was not posted.",
    ),
    (
        "x-venice-is-adult-model-content-violation",
        "Venice blocked this image under its adult-content policy, so it was not posted.",
    ),
)


def chat_body(
    messages: Sequence[Mapping[str, Any]],
    *,
    model: str,
    max_tokens: int | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    stop: Sequence[str] | None = None,
    character_slug: str | None = None,
    include_venice_system_prompt: bool = False,
    strip_thinking: bool = True,
    disable_thinking: bool = False,
    response_format: Mapping[str, Any] | None = None,
    stream: bool = False,
) -> dict[str, Any]:
    """The JSON body for `POST /chat/completions`.

    `response_format` is passed as given (e.g. `{"type": "json_schema", "json_schema": {...}}`);
    only models with `supportsResponseSchema` honour it. `disable_thinking` turns reasoning off
    on models that support it (a classifier wants its answer, not an essay).
    """
    if not messages:
        raise ValueError("a chat needs at least one message")
    if not model:
        raise ValueError("a chat needs a model")
    body: dict[str, Any] = {"model": model, "messages": [dict(m) for m in messages]}
    if max_tokens is not None:
        if max_tokens <= 0:
            raise ValueError("max_tokens must be positive")
        # max_tokens is deprecated at Venice; max_completion_tokens also caps reasoning tokens.
        body["max_completion_tokens"] = int(max_tokens)
    if temperature is not None:
        if not 0.0 <= temperature <= 2.0:
            raise ValueError("temperature must be between 0 and 2")
        body["temperature"] = float(temperature)
    if top_p is not None:
        if not 0.0 <= top_p <= 1.0:
            raise ValueError("top_p must be between 0 and 1")
        body["top_p"] = float(top_p)
    if stop:
        if len(stop) > 4:
            raise ValueError("Venice accepts at most 4 stop sequences")
        body["stop"] = list(stop)
    params: dict[str, Any] = {
        # Venice adds its own system prompt unless told not to; the bot owns the persona.
        "include_venice_system_prompt": include_venice_system_prompt,
    }
    if strip_thinking:
        # Keeps <think> blocks of reasoning models out of what users see; ignored by other models.
        params["strip_thinking_response"] = True
    if disable_thinking:
        params["disable_thinking"] = True
    if character_slug:
        params["character_slug"] = character_slug
    body["venice_parameters"] = params
    if response_format is not None:
        if stream:
            raise ValueError("response_format needs a non-streamed completion")
        body["response_format"] = dict(response_format)
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def image_body(
    *,
    model: str,
    prompt: str,
    negative_prompt: str | None = None,
    width: int | None = None,
    height: int | None = None,
    steps: int | None = None,
    cfg_scale: float | None = None,
    seed: int | None = None,
    style_preset: str | None = None,
    safe_mode: bool = False,
    format: str = "webp",
    hide_watermark: bool = True,
) -> dict[str, Any]:
    """The JSON body for `POST /image/generate` (base64 JSON answer, one image)."""
    if not prompt or not prompt.strip():
        raise ValueError("an image needs a prompt")
    if format not in IMAGE_FORMATS:
        raise ValueError(f"format must be one of {', '.join(IMAGE_FORMATS)}")
    body: dict[str, Any] = {
        "model": model,
        "prompt": prompt,
        "format": format,
        "safe_mode": safe_mode,
        "hide_watermark": hide_watermark,
        "return_binary": False,
    }
    if negative_prompt:
        body["negative_prompt"] = negative_prompt
    for name, side in (("width", width), ("height", height)):
        if side is not None:
            if not 0 < side <= _MAX_SIDE:
                raise ValueError(f"{name} must be between 1 and {_MAX_SIDE}")
            body[name] = int(side)
    if steps is not None:
        if steps < 1:
            raise ValueError("steps must be at least 1")
        body["steps"] = int(steps)
    if cfg_scale is not None:
        if not 0.0 < cfg_scale <= 20.0:
            raise ValueError("cfg_scale must be above 0 and at most 20")
        body["cfg_scale"] = float(cfg_scale)
    if seed is not None:
        # Sent only when asked for: Venice takes 0 literally, and leaving it out means random.
        if not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
            raise ValueError("seed must be within ±999,999,999")
        body["seed"] = int(seed)
    if style_preset:
        body["style_preset"] = style_preset
    return body


def parse_json(body: bytes, what: str) -> Any:
    """Decode a JSON body or raise MalformedResponse."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedResponse(f"{what}: response is not JSON ({len(body)} bytes)") from None


def message_text(content: Any) -> str:
    """Text of a message `content`, which may be a string, null, or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, Mapping) and isinstance(p.get("text"), str))
    return ""


def parse_chat_completion(data: Any, *, model: str) -> ChatResult:
    """Read a non-streamed completion; raise on content filtering or an unexpected shape."""
    if not isinstance(data, Mapping):
        raise MalformedResponse("chat: response is not a JSON object")
    if data.get("error") is not None and not data.get("choices"):
        raise in_band_error(data["error"], what="chat")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise MalformedResponse("chat: response has no choices")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, Mapping):
        raise MalformedResponse("chat: first choice has no message")
    finish = choice.get("finish_reason")
    finish = finish if isinstance(finish, str) else None
    if finish == "content_filter":
        raise ContentPolicyError("chat: finish_reason content_filter", rule="finish_reason_content_filter")
    return ChatResult(
        text=message_text(message.get("content")),
        finish_reason=finish,
        usage=Usage.from_api(data.get("usage")),
        cost=Cost.from_api(data.get("cost")),
        model=data["model"] if isinstance(data.get("model"), str) else model,
    )


def in_band_error(error: Any, *, what: str) -> ContentPolicyError | ServerError:
    """An `{"error": ...}` object that arrived with HTTP 200 (outside a stream)."""
    code = error.get("code") if isinstance(error, Mapping) else None
    message = error.get("message") if isinstance(error, Mapping) else error
    if code == "content_blocked_by_provider":
        return ContentPolicyError(f"{what}: {message}", rule="content_blocked_by_provider", code=code)
    return ServerError(f"{what}: in-band error {code}: {message}", code=code if isinstance(code, str) else None)


def check_image_flags(headers: Mapping[str, str]) -> bool:
    """Raise ContentPolicyError for any Venice safety flag; return whether the image was blurred."""
    for header, user_message in _IMAGE_FLAGS:
        if (headers.get(header) or "").strip().lower() == "true":
            raise ContentPolicyError(f"image flagged by {header}", rule=header, user_message=user_message)
    return (headers.get("x-venice-is-blurred") or "").strip().lower() == "true"


def decode_image(data: bytes, what: str) -> tuple[str, int, int]:
    """Check that `data` is an image; return its content type, width and height."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = (img.format or "").lower()
            width, height = img.size
            img.verify()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise MalformedResponse(f"{what}: image data could not be read ({len(data)} bytes)") from None
    return Image.MIME.get(fmt.upper(), f"image/{fmt or 'octet-stream'}"), width, height


def b64_image(value: Any, what: str) -> bytes:
    """Decode one base64 image string (a data: URI prefix is tolerated)."""
    if not isinstance(value, str) or not value:
        raise MalformedResponse(f"{what}: no image in response")
    if value.startswith("data:"):
        value = value.partition(",")[2]
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedResponse(f"{what}: image is not valid base64") from None


def _data_list(data: Any, what: str) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, Mapping) and isinstance(data.get("data"), list):
        return data["data"]
    raise MalformedResponse(f"{what}: expected a list")


def parse_models(data: Any) -> list[ModelInfo]:
    """Read `GET /models`; entries without an id are skipped."""
    return [ModelInfo.from_api(m) for m in _data_list(data, "models") if isinstance(m, Mapping) and m.get("id")]


def parse_styles(data: Any) -> list[str]:
    """Read `GET /image/styles`, as `{data: [...]}` or a bare list (the docs show both)."""
    return [s for s in _data_list(data, "image styles") if isinstance(s, str)]


def parse_characters(data: Any) -> list[VeniceCharacter]:
    """Read `GET /characters`; entries without a slug are skipped."""
    items = _data_list(data, "characters")
    return [VeniceCharacter.from_api(c) for c in items if isinstance(c, Mapping) and c.get("slug")]


def image_result(body: bytes, headers: Mapping[str, str], *, model: str, seed: int | None) -> ImageResult:
    """Read a `/image/generate` answer after checking its safety headers (a flag raises)."""
    blurred = check_image_flags(headers)
    timing: float | None = None
    if (headers.get("Content-Type") or "").startswith("image/"):
        data = body  # return_binary style answer; tolerated although we ask for JSON
    else:
        payload = parse_json(body, "image")
        if not isinstance(payload, Mapping) or not isinstance(payload.get("images"), list):
            raise MalformedResponse("image: response has no images list")
        images = payload["images"]
        data = b64_image(images[0] if images else None, "image")
        timing = _timing_total(payload.get("timing"))
        seed = _echoed_seed(payload.get("request"), seed)
    content_type, width, height = decode_image(data, "image")
    return ImageResult(data, content_type, seed, width, height, model, timing, blurred)


def _timing_total(timing: Any) -> float | None:
    if isinstance(timing, Mapping) and isinstance(timing.get("total"), int | float):
        return float(timing["total"])
    return None


def _echoed_seed(request: Any, sent: int | None) -> int | None:
    """The seed Venice used, from its echo of the request (`{"success", "data": {...}}`)."""
    if isinstance(request, Mapping):
        data = request.get("data", request)
        if isinstance(data, Mapping):
            seed = data.get("seed")
            if isinstance(seed, int) and not isinstance(seed, bool):
                return seed
    return sent
