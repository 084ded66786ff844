"""Typed results of the Venice client: frozen dataclasses, built defensively from Venice's JSON.

Venice adds and drops fields often (its catalogue and character API are marked "preview"), so every
parser tolerates missing or oddly typed fields and keeps the original dict in `raw`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Balance",
    "ChatResult",
    "Cost",
    "ImageResult",
    "ModelInfo",
    "RateLimitInfo",
    "StreamDelta",
    "StreamEnd",
    "Usage",
    "VeniceCharacter",
]


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value))
        except ValueError:
            return None
    return None


def as_float(value: Any) -> float | None:
    """A number from JSON or a header string; None for anything else (booleans included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _strs(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts Venice reported for one completion."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def from_api(cls, data: Any) -> Usage | None:
        """Build from a `usage` object; None when absent or unreadable."""
        if not isinstance(data, Mapping):
            return None
        prompt = _int(data.get("prompt_tokens"))
        completion = _int(data.get("completion_tokens"))
        if prompt is None and completion is None:
            return None
        prompt, completion = prompt or 0, completion or 0
        total = _int(data.get("total_tokens"))
        return cls(prompt, completion, total if total is not None else prompt + completion)


@dataclass(frozen=True, slots=True)
class Cost:
    """What a request cost, in USD and in DIEM."""

    usd: float | None
    diem: float | None

    @classmethod
    def from_api(cls, data: Any) -> Cost | None:
        """Build from a `cost` object; None when absent."""
        if not isinstance(data, Mapping):
            return None
        usd, diem = as_float(data.get("usd")), as_float(data.get("diem"))
        if usd is None and diem is None:
            return None
        return cls(usd, diem)


@dataclass(frozen=True, slots=True)
class ChatResult:
    """A finished (non-streamed) chat completion."""

    text: str
    finish_reason: str | None
    usage: Usage | None
    cost: Cost | None
    model: str


@dataclass(frozen=True, slots=True)
class StreamDelta:
    """A piece of reply text, yielded as soon as it arrives."""

    text: str


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The last event of a stream: why it stopped and what it cost."""

    finish_reason: str | None
    usage: Usage | None
    cost: Cost | None
    model: str = ""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One entry of `GET /models`, with the fields the bot decides on pulled out."""

    id: str
    type: str
    name: str
    context_tokens: int | None = None
    max_completion_tokens: int | None = None
    offline: bool = False
    uncensored: bool = False
    traits: tuple[str, ...] = ()
    prompt_char_limit: int | None = None
    steps_default: int | None = None
    steps_max: int | None = None
    width_height_divisor: int | None = None
    aspect_ratios: tuple[str, ...] = ()
    resolutions: tuple[str, ...] = ()
    supports_vision: bool = False
    response_schema: bool = False
    supports_multiple_images: bool = False
    max_images: int | None = None
    voices: tuple[str, ...] = ()
    supported_formats: tuple[str, ...] = ()
    default_format: str | None = None
    privacy: str | None = None
    pricing: Mapping[str, Any] = field(default_factory=dict, compare=False)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ModelInfo:
        """Build from a `ModelResponse` dict."""
        spec = _map(data.get("model_spec"))
        capabilities = _map(spec.get("capabilities"))
        constraints = _map(spec.get("constraints"))
        steps = _map(constraints.get("steps"))
        context = _int(spec.get("availableContextTokens"))
        if context is None:
            context = _int(data.get("context_length"))
        model_id = _str(data.get("id")) or ""
        return cls(
            id=model_id,
            type=_str(data.get("type")) or "",
            name=_str(spec.get("name")) or model_id,
            context_tokens=context,
            max_completion_tokens=_int(spec.get("maxCompletionTokens")),
            offline=spec.get("offline") is True,
            uncensored=spec.get("uncensored") is True,
            traits=_strs(spec.get("traits")),
            prompt_char_limit=_int(constraints.get("promptCharacterLimit")),
            steps_default=_int(steps.get("default")),
            steps_max=_int(steps.get("max")),
            width_height_divisor=_int(constraints.get("widthHeightDivisor")),
            aspect_ratios=_strs(constraints.get("aspectRatios")),
            resolutions=_strs(constraints.get("resolutions")),
            supports_vision=capabilities.get("supportsVision") is True,
            response_schema=capabilities.get("supportsResponseSchema") is True,
            supports_multiple_images=capabilities.get("supportsMultipleImages") is True,
            max_images=_int(capabilities.get("maxImages")),
            voices=_strs(spec.get("voices")),
            supported_formats=_strs(spec.get("supported_formats")),
            default_format=_str(spec.get("default_format")),
            privacy=_str(spec.get("privacy")),
            pricing=dict(_map(spec.get("pricing"))),
            raw=dict(data),
        )


@dataclass(frozen=True, slots=True)
class ImageResult:
    """A generated image that passed Venice's safety headers."""

    data: bytes = field(repr=False)
    content_type: str
    seed: int | None
    width: int
    height: int
    model: str
    timing_ms: float | None = None
    blurred: bool = False
    cost: Cost | None = None


@dataclass(frozen=True, slots=True)
class VeniceCharacter:
    """One public character from Venice's catalogue."""

    id: str
    slug: str
    name: str
    description: str | None = None
    adult: bool = False
    tags: tuple[str, ...] = ()
    model_id: str | None = None
    photo_url: str | None = None
    share_url: str | None = None
    rating: float | None = None
    rating_count: int = 0
    imports: int = 0
    featured: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> VeniceCharacter:
        """Build from a character object of `GET /characters` or `GET /characters/{slug}`."""
        stats = _map(data.get("stats"))
        slug = _str(data.get("slug")) or ""
        return cls(
            id=_str(data.get("id")) or slug,
            slug=slug,
            name=_str(data.get("name")) or slug,
            description=_str(data.get("description")),
            adult=data.get("adult") is True,
            tags=_strs(data.get("tags")),
            model_id=_str(data.get("modelId")),
            photo_url=_str(data.get("photoUrl")),
            share_url=_str(data.get("shareUrl")),
            rating=as_float(stats.get("averageRating")),
            rating_count=_int(stats.get("ratingCount")) or 0,
            imports=_int(stats.get("imports")) or 0,
            featured=data.get("featured") is True,
            raw=dict(data),
        )


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """Rate-limit headers of the last response, kept as numbers without guessing their units.

    Venice's docs disagree on whether the reset values are seconds, Unix seconds or Unix
    milliseconds, so they are stored as sent.
    """

    limit_requests: int | None = None
    remaining_requests: int | None = None
    reset_requests: float | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_tokens: float | None = None
    type: str | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitInfo | None:
        """Read `x-ratelimit-*`; None when the response carried none of them."""
        info = cls(
            limit_requests=_int(headers.get("x-ratelimit-limit-requests")),
            remaining_requests=_int(headers.get("x-ratelimit-remaining-requests")),
            reset_requests=as_float(headers.get("x-ratelimit-reset-requests")),
            limit_tokens=_int(headers.get("x-ratelimit-limit-tokens")),
            remaining_tokens=_int(headers.get("x-ratelimit-remaining-tokens")),
            reset_tokens=as_float(headers.get("x-ratelimit-reset-tokens")),
            type=headers.get("x-ratelimit-type"),
        )
        return None if info == cls() else info


@dataclass(frozen=True, slots=True)
class Balance:
    """Account balance Venice reported (before the request that carried it)."""

    usd: float | None
    diem: float | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Balance | None:
        """Read `x-venice-balance-usd` / `-diem`; None when neither is present."""
        usd = as_float(headers.get("x-venice-balance-usd"))
        diem = as_float(headers.get("x-venice-balance-diem"))
        if usd is None and diem is None:
            return None
        return cls(usd, diem)
