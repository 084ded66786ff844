"""Bodies, readers, prices and model choice for Venice's media endpoints: speech, transcription, edit.

What swagger promises about cost: nothing in the responses. `/audio/speech`,
`/audio/transcriptions` and `/image/edit` return the audio, the transcript or the image, and only
an `X-Balance-Remaining` header for x402 wallets (not API keys). So the cost is computed from the
model's `/models` price list: TTS `pricing.input` per million characters, ASR
`pricing.per_audio_second`, edits `pricing.inpaint` per edit (or per `resolutions` tier). The
`x-venice-balance-usd` header every response carries still updates `VeniceClient.last_balance`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .errors import MalformedResponse
from .payloads import decode_image, parse_json
from .types import Cost, ModelInfo, as_float

__all__ = [
    "DEFAULT_ASR_MODEL",
    "DEFAULT_TTS_MODEL",
    "EDIT_ASPECT_RATIOS",
    "SPEECH_FORMATS",
    "SpeechResult",
    "Transcription",
    "asr_cost",
    "edit_body",
    "edit_cost",
    "parse_transcription",
    "pick_edit_model",
    "speech_body",
    "transcription_form",
    "tts_cost",
    "vision_models",
]

DEFAULT_TTS_MODEL = "tts-kokoro"  # the cheapest TTS model, and private
# Whisper: private, billed per second like the others, and it takes a language hint.
DEFAULT_ASR_MODEL = "openai/whisper-large-v3"
SPEECH_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
SPEECH_INPUT_LIMIT = 4096
EDIT_ASPECT_RATIOS = ("auto", "1:1", "3:2", "16:9", "21:9", "9:16", "2:3", "3:4", "4:5")
EDIT_FORMATS = ("jpeg", "png", "webp")
EDIT_PROMPT_LIMIT = 32768
EDIT_MIN_PIXELS = 65_536
EDIT_MAX_PIXELS = 33_177_600
EDIT_MAX_BYTES = 25 * 1000 * 1000


@dataclass(frozen=True, slots=True)
class SpeechResult:
    """Audio Venice synthesised for one `input` (at most 4,096 characters)."""

    audio: bytes = field(repr=False)
    content_type: str
    format: str | None
    model: str
    voice: str | None
    characters: int
    cost: Cost | None = None


@dataclass(frozen=True, slots=True)
class Transcription:
    """What Venice heard in an audio file."""

    text: str
    duration_secs: float | None
    model: str
    cost: Cost | None = None


def speech_body(
    text: str,
    *,
    model: str,
    voice: str | None = None,
    response_format: str | None = None,
    speed: float | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    """The JSON body for `POST /audio/speech` (`CreateSpeechRequestSchema`, no unknown fields)."""
    if not text or not text.strip():
        raise ValueError("speech needs some text")
    if len(text) > SPEECH_INPUT_LIMIT:
        raise ValueError(f"speech input is limited to {SPEECH_INPUT_LIMIT} characters; split it first")
    if not model:
        raise ValueError("speech needs a model")
    body: dict[str, Any] = {"input": text, "model": model}
    if voice:
        if len(voice) > 512:
            raise ValueError("voice names are at most 512 characters")
        body["voice"] = voice
    if response_format is not None:
        if response_format not in SPEECH_FORMATS:
            raise ValueError(f"response_format must be one of {', '.join(SPEECH_FORMATS)}")
        body["response_format"] = response_format
    if speed is not None:
        if not 0.25 <= speed <= 4.0:
            raise ValueError("speed must be between 0.25 and 4")
        body["speed"] = float(speed)
    if language:
        if not 2 <= len(language) <= 32:
            raise ValueError("language must be 2 to 32 characters")
        body["language"] = language
    return body


def transcription_form(
    audio: bytes,
    *,
    model: str,
    filename: str = "voice-message.ogg",
    content_type: str = "audio/ogg",
    language: str | None = None,
) -> Callable[[], aiohttp.FormData]:
    """A factory of multipart bodies for `POST /audio/transcriptions` (a fresh one per attempt)."""
    if not audio:
        raise ValueError("there is no audio to transcribe")
    if not model:
        raise ValueError("transcription needs a model")

    def build() -> aiohttp.FormData:
        form = aiohttp.FormData()
        form.add_field("file", audio, filename=filename, content_type=content_type)
        form.add_field("model", model)
        form.add_field("response_format", "json")
        if language:
            form.add_field("language", language)
        return form

    return build


def parse_transcription(body: bytes, content_type: str, *, model: str) -> Transcription:
    """Read `{"text", "duration"?}` (or a plain-text transcript)."""
    if content_type.startswith("text/plain"):
        return Transcription(body.decode("utf-8", "replace").strip(), None, model)
    data = parse_json(body, "transcription")
    if not isinstance(data, Mapping) or not isinstance(data.get("text"), str):
        raise MalformedResponse("transcription: response has no text")
    return Transcription(data["text"].strip(), as_float(data.get("duration")), model)


def edit_body(
    image: bytes,
    prompt: str,
    *,
    model: str,
    aspect_ratio: str | None = None,
    output_format: str = "png",
    safe_mode: bool = False,
    prompt_limit: int | None = None,
) -> dict[str, Any]:
    """The JSON body for `POST /image/edit` (`EditImageRequest`), image as base64.

    Venice's input rules are checked here so nothing it would refuse is sent: 65,536 to
    33,177,600 pixels, under 25 MB, prompt within the model's `promptCharacterLimit`.
    """
    if not prompt or not prompt.strip():
        raise ValueError("an edit needs a prompt")
    limit = min(prompt_limit or EDIT_PROMPT_LIMIT, EDIT_PROMPT_LIMIT)
    if len(prompt) > limit:
        raise ValueError(f"the edit prompt is limited to {limit} characters")
    if len(image) >= EDIT_MAX_BYTES:
        raise ValueError("the image to edit must be under 25 MB")
    _, width, height = decode_image(image, "image to edit")
    if not EDIT_MIN_PIXELS <= width * height <= EDIT_MAX_PIXELS:
        raise ValueError("the image to edit must have between 65,536 and 33,177,600 pixels")
    if output_format not in EDIT_FORMATS:
        raise ValueError(f"output_format must be one of {', '.join(EDIT_FORMATS)}")
    body: dict[str, Any] = {
        "image": base64.b64encode(image).decode("ascii"),
        "prompt": prompt,
        "model": model,
        "output_format": output_format,
        # Venice's default (true) blurs adult images; the gate decides where they may appear.
        "safe_mode": safe_mode,
    }
    if aspect_ratio is not None:
        if aspect_ratio not in EDIT_ASPECT_RATIOS:
            raise ValueError(f"aspect_ratio must be one of {', '.join(EDIT_ASPECT_RATIOS)}")
        body["aspect_ratio"] = aspect_ratio
    return body


def _price(pricing: Mapping[str, Any], *path: str) -> Cost | None:
    node: Any = pricing
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return Cost.from_api(node)


def _scaled(cost: Cost | None, factor: float) -> Cost | None:
    if cost is None:
        return None
    return Cost(
        None if cost.usd is None else cost.usd * factor,
        None if cost.diem is None else cost.diem * factor,
    )


def tts_cost(model: ModelInfo | None, characters: int) -> Cost | None:
    """Price of `characters` of speech input (`pricing.input` is per million characters)."""
    return _scaled(_price(model.pricing, "input"), characters / 1_000_000) if model else None


def asr_cost(model: ModelInfo | None, seconds: float | None) -> Cost | None:
    """Price of transcribing `seconds` of audio (`pricing.per_audio_second`)."""
    if model is None or seconds is None:
        return None
    return _scaled(_price(model.pricing, "per_audio_second"), seconds)


def edit_cost(model: ModelInfo | None, resolution: str | None = None) -> Cost | None:
    """Price of one edit: the resolution tier's price where listed, else `pricing.inpaint`."""
    if model is None:
        return None
    if resolution:
        tier = _price(model.pricing, "resolutions", resolution)
        if tier is not None:
            return tier
    return _price(model.pricing, "inpaint")


def pick_edit_model(models: Sequence[ModelInfo], preferred: str | None = None) -> ModelInfo | None:
    """The edit model to use: `preferred` if it is listed and online, else an uncensored one.

    Among uncensored, online models: private (zero retention) before anonymized, then cheapest.
    Censored edit models are never picked on their own: they refuse or blur adult pictures.
    """
    online = [m for m in models if not m.offline]
    if preferred:
        match = next((m for m in online if m.id == preferred), None)
        if match is not None:
            return match
    candidates = [m for m in online if m.uncensored]

    def rank(m: ModelInfo) -> tuple[int, float, str]:
        price = edit_cost(m)
        usd = price.usd if price is not None and price.usd is not None else float("inf")
        return (0 if m.privacy == "private" else 1, usd, m.id)

    return min(candidates, key=rank, default=None)


def vision_models(models: Sequence[ModelInfo]) -> list[ModelInfo]:
    """Online text models that accept pictures (`capabilities.supportsVision`), uncensored first."""
    seeing = [m for m in models if m.supports_vision and not m.offline]
    return sorted(seeing, key=lambda m: (not m.uncensored, m.id))
