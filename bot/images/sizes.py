"""Aspect ratios to pixel sizes, within what an image model accepts.

Venice takes `width`/`height` up to 1280 each, and each model wants them to be multiples of its
`constraints.widthHeightDivisor` (8 for lustify, 16 for venice-sd35). Venice does not check the
divisor itself, so a wrong size silently produces a worse image; we round here instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

VENICE_MAX_SIDE = 1280
MIN_SIDE = 256
BASE_PIXELS = 1024 * 1024  # SDXL is trained around one megapixel; sizes near it look best.

UPSCALE_MIN_INPUT_PIXELS = 65_536
UPSCALE_MAX_OUTPUT_PIXELS = 16_777_216
UPSCALE_SCALES = (2, 4)


@dataclass(frozen=True, slots=True)
class Aspect:
    """A named aspect ratio: `key` is what commands send, `label` what users read."""

    key: str
    label: str
    width: int
    height: int

    @property
    def ratio(self) -> float:
        """Width divided by height."""
        return self.width / self.height


# Ordered portrait → square → landscape so the Discord choice list reads naturally.
ASPECTS: dict[str, Aspect] = {
    a.key: a
    for a in (
        Aspect("9:16", "Tall 9:16 (phone)", 9, 16),
        Aspect("2:3", "Portrait 2:3", 2, 3),
        Aspect("3:4", "Portrait 3:4", 3, 4),
        Aspect("4:5", "Portrait 4:5", 4, 5),
        Aspect("1:1", "Square 1:1", 1, 1),
        Aspect("4:3", "Landscape 4:3", 4, 3),
        Aspect("3:2", "Landscape 3:2", 3, 2),
        Aspect("16:9", "Wide 16:9", 16, 9),
    )
}

# Words people type instead of ratios.
ASPECT_ALIASES: dict[str, str] = {
    "square": "1:1",
    "portrait": "3:4",
    "landscape": "4:3",
    "tall": "9:16",
    "phone": "9:16",
    "wide": "16:9",
    "widescreen": "16:9",
}

DEFAULT_ASPECT = "1:1"


def aspect_choices() -> list[tuple[str, str]]:
    """(label, key) pairs for a Discord choice list, in display order (well under Discord's 25)."""
    return [(a.label, a.key) for a in ASPECTS.values()]


def resolve_aspect(aspect: str | None) -> Aspect:
    """Find a named aspect from a key, an alias or a loose spelling ("16x9", " 16 : 9 ").

    An empty value means the default (square). Raises ValueError with a user-facing message.
    """
    text = "".join((aspect or "").split()).lower()
    if not text:
        return ASPECTS[DEFAULT_ASPECT]
    text = ASPECT_ALIASES.get(text, text).replace("x", ":").replace("/", ":")
    found = ASPECTS.get(text)
    if found is None:
        names = ", ".join(ASPECTS)
        raise ValueError(f"Unknown aspect “{aspect.strip()[:20]}”. Choose one of: {names}.")
    return found


@dataclass(frozen=True, slots=True)
class ImageConstraints:
    """What one image model accepts, from `GET /models?type=image` (`model_spec.constraints`)."""

    prompt_char_limit: int = 1500
    steps_default: int = 20
    steps_max: int = 50
    divisor: int = 8
    max_side: int = VENICE_MAX_SIDE
    supports_size: bool = True
    supports_negative: bool = True
    aspect_ratios: tuple[str, ...] = ()  # set for models sized by `aspect_ratio`, not pixels

    @classmethod
    def from_model(cls, info: Any) -> ImageConstraints:
        """Build constraints from a model description, falling back to defaults for gaps.

        `info` may be an object or a mapping with the flattened fields `prompt_char_limit`,
        `steps_default`, `steps_max`, `width_height_divisor` (and optionally `supports_size`,
        `supports_negative`, `aspect_ratios`, `resolutions`), as `bot.venice.types.ModelInfo`
        has them, or a raw Venice model entry with `model_spec.constraints`. Missing, None or
        nonsensical (≤ 0) values use the defaults, because a model list with a gap should
        degrade to safe sizes rather than break /imagine.
        A model listing aspect ratios or resolutions takes those instead of width/height, so
        `supports_size` is False for it unless stated otherwise.
        """
        default = cls()
        raw = _raw_constraints(info)
        ratios: Any = _field(info, "aspect_ratios")
        sized = default.supports_size
        if raw is not None:
            steps = raw.get("steps") if isinstance(raw.get("steps"), Mapping) else {}
            limit = raw.get("promptCharacterLimit")
            steps_default, steps_max = steps.get("default"), steps.get("max")
            divisor = raw.get("widthHeightDivisor")
            ratios = raw.get("aspectRatios") or ratios
            sized = not (raw.get("aspectRatios") or raw.get("resolutions"))
        else:
            limit = _field(info, "prompt_char_limit")
            steps_default = _field(info, "steps_default")
            steps_max = _field(info, "steps_max")
            divisor = _field(info, "width_height_divisor")
            if divisor is None:
                divisor = _field(info, "divisor")
            sized = not (ratios or _field(info, "resolutions"))
        steps_max_v = _positive(steps_max, default.steps_max)
        # A default above the maximum would be rejected by Venice with a 400.
        steps_default_v = min(_positive(steps_default, default.steps_default), steps_max_v)
        return cls(
            prompt_char_limit=_positive(limit, default.prompt_char_limit),
            steps_default=steps_default_v,
            steps_max=steps_max_v,
            divisor=_positive(divisor, default.divisor),
            max_side=min(_positive(_field(info, "max_side"), default.max_side), VENICE_MAX_SIDE),
            supports_size=_flag(_field(info, "supports_size"), sized),
            supports_negative=_flag(_field(info, "supports_negative"), default.supports_negative),
            aspect_ratios=tuple(r for r in ratios or () if isinstance(r, str)),
        )

    def clamp_steps(self, steps: int | None) -> int:
        """Steps this model accepts; see `clamp_steps`."""
        return clamp_steps(steps, self)


def clamp_steps(steps: int | None, constraints: ImageConstraints | None = None) -> int:
    """The model's default for None, else `steps` limited to 1..steps_max (above max is a 400)."""
    c = constraints or ImageConstraints()
    if steps is None:
        return c.steps_default
    return max(1, min(int(steps), c.steps_max))


def size_for(
    aspect: str,
    constraints: ImageConstraints | None = None,
    *,
    divisor: int = 8,
    max_side: int = VENICE_MAX_SIDE,
    base_pixels: int = BASE_PIXELS,
) -> tuple[int, int]:
    """Width and height for `aspect`: about `base_pixels` in area, at that ratio.

    Each side is a multiple of the divisor, at most `max_side` (never above Venice's 1280), and at
    least 256. When `constraints` is given its divisor and max_side replace the keyword values.
    Raises ValueError (a user-facing message) for an unknown aspect.
    """
    if constraints is not None:
        divisor, max_side = constraints.divisor, constraints.max_side
    if divisor < 1:
        raise ValueError("divisor must be at least 1")
    ratio = resolve_aspect(aspect).ratio
    # Largest multiple of the divisor that fits, and smallest that reaches the minimum.
    cap = min(max_side, VENICE_MAX_SIDE) // divisor * divisor
    floor = -(-MIN_SIDE // divisor) * divisor
    if cap < floor:
        raise ValueError(f"no size fits between {MIN_SIDE} and {max_side} in steps of {divisor}")

    width = math.sqrt(base_pixels * ratio)
    height = math.sqrt(base_pixels / ratio)
    # Shrink both sides together when the long side is over the cap, so the ratio survives.
    shrink = min(1.0, cap / max(width, height))
    width, height = width * shrink, height * shrink
    return _snap(width, divisor, floor, cap), _snap(height, divisor, floor, cap)


def fit_upscale(width: int, height: int, scale: int) -> bool:
    """True when Venice's /image/upscale accepts this image at `scale` (2 or 4).

    The input must have at least 65,536 pixels and the output at most 16,777,216.
    """
    if scale not in UPSCALE_SCALES or width <= 0 or height <= 0:
        return False
    pixels = width * height
    return pixels >= UPSCALE_MIN_INPUT_PIXELS and pixels * scale * scale <= UPSCALE_MAX_OUTPUT_PIXELS


def _snap(value: float, divisor: int, floor: int, cap: int) -> int:
    """Nearest multiple of `divisor` to `value`, kept within [floor, cap]."""
    return max(floor, min(cap, round(value / divisor) * divisor))


def _raw_constraints(info: Any) -> Mapping[str, Any] | None:
    """The `model_spec.constraints` mapping of a raw Venice model entry, if that is what we got."""
    spec = _field(info, "model_spec")
    if isinstance(spec, Mapping) and isinstance(spec.get("constraints"), Mapping):
        return spec["constraints"]
    constraints = _field(info, "constraints")
    return constraints if isinstance(constraints, Mapping) else None


def _field(info: Any, name: str) -> Any:
    """Read `name` from a mapping or an object, None when absent."""
    if info is None:
        return None
    if isinstance(info, Mapping):
        return info.get(name)
    return getattr(info, name, None)


def _positive(value: Any, default: int) -> int:
    """`value` as a positive int, or `default` when it is missing or unusable."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return default
    return int(value)


def _flag(value: Any, default: bool) -> bool:
    """`value` when it is a real bool, else `default`."""
    return value if isinstance(value, bool) else default
