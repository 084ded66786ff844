"""Data behind the fake Venice: model catalogue, styles, characters, and seed-dependent images.

The catalogue starts from Venice's own `static-models.json` (../shared/venice) and adds the fields
the live API sends but that file leaves out (`object`, `owned_by`, `context_length`, image
`constraints`, `maxCompletionTokens`), with values from venice-api.md §3.3 and §5.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter

from tests.fakes.openapi_validate import SHARED_DIR

__all__ = [
    "STATIC_MODELS",
    "STYLES",
    "build_characters",
    "build_models",
    "make_image",
    "upscale_image",
]

STATIC_MODELS = SHARED_DIR / "venice" / "static-models.json"

STYLES = [
    "3D Model", "Analog Film", "Anime", "Cinematic", "Comic Book", "Craft Clay", "Digital Art",
    "Enhance", "Fantasy Art", "Isometric Style", "Line Art", "Lowpoly", "Neon Punk", "Origami",
    "Photographic", "Pixel Art", "Texture", "Advertising", "Gothic", "Horror", "Watercolor",
]  # fmt: skip

# (promptCharacterLimit, steps default, steps max, widthHeightDivisor) from venice-api.md §3.3.
_IMAGE_CONSTRAINTS: dict[str, tuple[int, int, int, int]] = {
    "lustify-sdxl": (1500, 20, 50, 8),
    "lustify-v7": (1500, 20, 50, 8),
    "lustify-v8": (1500, 30, 50, 8),
    "venice-sd35": (1500, 25, 30, 16),
    "wai-Illustrious": (1500, 25, 30, 16),
    "z-image-turbo": (7500, 8, 8, 8),
    "qwen-image": (1500, 8, 8, 8),
    "chroma": (7500, 25, 50, 8),
}
_PIXEL_SIZED = set(_IMAGE_CONSTRAINTS)
_MAX_COMPLETION = {"venice-uncensored-1-2": 8192, "venice-uncensored-role-play": 4096}


def _image_constraints(model_id: str) -> dict[str, Any]:
    limit, steps_default, steps_max, divisor = _IMAGE_CONSTRAINTS.get(model_id, (1500, 8, 8, 8))
    constraints: dict[str, Any] = {
        "promptCharacterLimit": limit,
        "steps": {"default": steps_default, "max": steps_max},
        "widthHeightDivisor": divisor,
    }
    if model_id not in _PIXEL_SIZED:
        # Third-party models are sized by aspect ratio / resolution tier instead of pixels.
        constraints["aspectRatios"] = ["1:1", "3:2", "2:3", "16:9", "9:16"]
        constraints["defaultAspectRatio"] = "1:1"
        constraints["resolutions"] = ["1K", "2K"]
        constraints["defaultResolution"] = "1K"
    return constraints


def build_models(path: Path = STATIC_MODELS) -> list[dict[str, Any]]:
    """The full catalogue (every type), shaped like the live `GET /models` entries."""
    models: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for raw in models:
        model = copy.deepcopy(raw)
        model.setdefault("object", "model")
        model.setdefault("owned_by", "venice.ai")
        spec = model.setdefault("model_spec", {})
        spec.setdefault("offline", False)
        if model["type"] == "text":
            spec.setdefault("availableContextTokens", 32768)
            spec.setdefault("maxCompletionTokens", _MAX_COMPLETION.get(model["id"], 16384))
            spec.setdefault("constraints", {"temperature": {"default": 0.7}, "top_p": {"default": 0.9}})
            model["context_length"] = spec["availableContextTokens"]
        elif model["type"] == "image":
            spec.setdefault("constraints", _image_constraints(model["id"]))
        out.append(model)
    ids = {m["id"] for m in out}
    missing = {"venice-uncensored-1-2", "lustify-sdxl"} - ids
    if missing:
        raise RuntimeError(f"static-models.json lacks {sorted(missing)}; the fake needs them")
    return out


_FIRST = [
    "Aria", "Luna", "Scarlett", "Vivian", "Nadia", "Selene", "Iris", "Camille", "Mira", "Jade",
    "Raven", "Sienna", "Elena", "Kira", "Lyra", "Rosa", "Talia", "Vera",
]  # fmt: skip
_ROLES = ["bartender", "sorceress", "pirate captain", "vampire countess", "spy", "succubus"]
_TAGS = ["romance", "fantasy", "roleplay", "dominant", "submissive", "sci-fi", "horror", "nsfw"]
_MODELS = ["venice-uncensored-1-2", "venice-uncensored-role-play", "llama-3.3-70b"]
_SFW = ["Alan Watts", "Ada Lovelace", "Marcus Aurelius", "Tour Guide", "Chess Coach", "Chef Remy"]


def _character(index: int, name: str, description: str, adult: bool, tags: list[str]) -> dict[str, Any]:
    slug = name.lower().replace(" ", "-") + f"-{index}"
    uid = hashlib.md5(slug.encode(), usedforsecurity=False).hexdigest()
    ratings = 3 + index % 40
    rating_sum = ratings * 3 + index % 7
    return {
        "id": f"{uid[:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-{uid[20:32]}",
        "slug": slug,
        "name": name,
        "description": description,
        "adult": adult,
        "webEnabled": index % 3 == 0,
        "featured": index % 5 == 0,
        "author": uid[:5],
        "tags": tags,
        "modelId": _MODELS[index % len(_MODELS)],
        "photoUrl": f"https://outerface.venice.ai/api/characters/{slug}/photo" if index % 4 else None,
        "shareUrl": f"https://venice.ai/c/{slug}",
        "stats": {
            "averageRating": round(rating_sum / ratings, 2),
            "imports": 1000 - index * 17,
            "ratingCount": ratings,
            "ratingSum": rating_sum,
            "userRating": None,
        },
        "createdAt": f"2025-{1 + index % 12:02d}-{1 + index % 28:02d}T12:00:00.000Z",
        "updatedAt": "2026-08-01T12:00:00.000Z",
    }


def build_characters(adult_count: int = 36) -> list[dict[str, Any]]:
    """A few dozen adult characters and a handful of non-adult ones, deterministic."""
    characters = []
    for i in range(adult_count):
        name = f"{_FIRST[i % len(_FIRST)]} the {_ROLES[i % len(_ROLES)].title()}"
        tags = [_TAGS[i % len(_TAGS)], _TAGS[(i * 3 + 1) % len(_TAGS)], "adult"]
        desc = f"{name}, a confident adult {_ROLES[i % len(_ROLES)]} with a secret."
        characters.append(_character(i, name, desc, True, sorted(set(tags))))
    for j, name in enumerate(_SFW):
        characters.append(_character(adult_count + j, name, f"Chat with {name}.", False, ["education", "sfw"]))
    return characters


def _pattern(seed: int, prompt: str, width: int, height: int) -> Image.Image:
    digest = hashlib.sha512(f"{seed}|{prompt}".encode()).digest()
    img = Image.new("RGB", (width, height), tuple(digest[0:3]))
    draw = ImageDraw.Draw(img)
    for i in range(6):
        b = digest[3 + i * 5 : 8 + i * 5]
        x0, y0 = b[0] * width // 256, b[1] * height // 256
        x1, y1 = x0 + 1 + b[2] * width // 512, y0 + 1 + b[3] * height // 512
        draw.rectangle((x0, y0, x1, y1), fill=(b[4], b[2], b[0]))
    return img


def _encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    pil_format = {"webp": "WEBP", "png": "PNG", "jpeg": "JPEG"}[fmt]
    img.save(buf, format=pil_format, **({"quality": 80} if fmt != "png" else {}))
    return buf.getvalue()


def make_image(
    seed: int, prompt: str, width: int, height: int, fmt: str, *, blur: bool = False, black: bool = False
) -> bytes:
    """Real image bytes whose pixels depend on the seed and the prompt."""
    if black:
        img = Image.new("RGB", (width, height), (0, 0, 0))  # what Venice sends for a blocked image
    else:
        img = _pattern(seed, prompt, width, height)
        if blur:
            img = img.filter(ImageFilter.GaussianBlur(8))
    return _encode(img, fmt)


def upscale_image(data: bytes, scale: float) -> bytes:
    """PNG of `data` resized by `scale` (kept within Venice's 16,777,216-pixel output cap)."""
    with Image.open(io.BytesIO(data)) as src:
        img = src.convert("RGB")
    while scale > 1 and img.width * scale * img.height * scale > 16_777_216:
        scale -= 1
    out = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.NEAREST)
    return _encode(out, "png")
