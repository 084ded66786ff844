"""`POST /image/generate` and `POST /image/upscale` of the fake Venice, with real image bytes."""

from __future__ import annotations

import base64
import binascii
import io
import random
import secrets
from typing import TYPE_CHECKING, Any

from aiohttp import web
from PIL import Image, UnidentifiedImageError

from tests.fakes.venice_data import make_image, upscale_image
from tests.fakes.venice_faults import FAULT_KEY

if TYPE_CHECKING:
    from tests.fakes.venice import FakeVenice

__all__ = ["FLAG_HEADERS", "ImageHandler"]

# Fault kind → the safety header Venice sets (venice-api.md §3.2, §6.5).
FLAG_HEADERS = {
    "content_violation": "x-venice-is-content-violation",
    "adult_violation": "x-venice-is-adult-model-content-violation",
    "contains_minor": "x-venice-contains-minor",
}


def _invalid(field: str, message: str) -> web.Response:
    body = {
        "error": "Invalid request parameters",
        "details": {"_errors": [], field: {"_errors": [message]}},
        "issues": [{"path": [field], "message": message}],
    }
    return web.json_response(body, status=400)


class ImageHandler:
    """Generates deterministic images (pixels depend on seed and prompt) and upscales them."""

    def __init__(self, fake: FakeVenice) -> None:
        self.fake = fake
        self._rng = random.Random()

    async def generate(self, request: web.Request) -> web.Response:
        """Answer like Venice with `return_binary: false` (or raw bytes when it is true)."""
        body: dict[str, Any] = await request.json()
        model = self.fake.model(body["model"])
        if model is None or model["type"] != "image":
            return web.json_response(
                {"error": f"Model {body['model']} not found. Try lustify-sdxl.", "code": "MODEL_NOT_FOUND"},
                status=404,
            )
        constraints = model["model_spec"].get("constraints", {})
        limit = constraints.get("promptCharacterLimit", 1500)
        for name in ("prompt", "negative_prompt"):
            if len(body.get(name) or "") > limit:
                return _invalid(name, f"String must contain at most {limit} character(s)")
        steps_max = (constraints.get("steps") or {}).get("max")
        if steps_max is not None and body.get("steps", 0) > steps_max:
            return _invalid("steps", f"Number must be less than or equal to {steps_max}")
        if "style_preset" in body and body["style_preset"] not in self.fake.styles:
            return _invalid("style_preset", f"Invalid style preset: {body['style_preset']}")
        seed = body["seed"] if "seed" in body else self._rng.randint(1, 999_999_999)
        width, height = body.get("width", 1024), body.get("height", 1024)
        fmt = body.get("format", "webp")
        safe_mode = body.get("safe_mode", True)
        fault = request.get(FAULT_KEY)
        flag = FLAG_HEADERS.get(fault.kind) if fault is not None else None
        # A real classifier would decide; the fake treats every image as adult content.
        blurred = bool(safe_mode) and flag is None
        headers = {"x-venice-is-blurred": str(blurred).lower(), "x-venice-is-content-violation": "false"}
        if flag is not None:
            headers[flag] = "true"
        images = [
            make_image(seed + i, body["prompt"], width, height, fmt, blur=blurred, black=flag is not None)
            for i in range(body.get("variants", 1))
        ]
        if body.get("return_binary"):
            return web.Response(body=images[0], content_type=f"image/{fmt}", headers=headers)
        echo = {**body, "seed": seed, "width": width, "height": height, "format": fmt, "safe_mode": safe_mode}
        payload = {
            "id": f"generate-image-{secrets.randbelow(10**10)}",
            "images": [base64.b64encode(img).decode("ascii") for img in images],
            "timing": {"inferenceDuration": 1840, "inferencePreprocessingTime": 22, "inferenceQueueTime": 31,
                       "total": 1893},
            "request": {"success": True, "data": echo},
        }  # fmt: skip
        self.fake.balance_usd -= 0.01
        return web.json_response(payload, headers=headers)

    async def upscale(self, request: web.Request) -> web.Response:
        """Binary PNG, `scale` times larger; Venice's input-size rules are enforced."""
        body: dict[str, Any] = await request.json()
        image = body.get("image")
        try:
            data = base64.b64decode(image, validate=True) if isinstance(image, str) else b""
            with Image.open(io.BytesIO(data)) as img:
                pixels = img.width * img.height
        except (binascii.Error, ValueError, UnidentifiedImageError):
            return _invalid("image", "Invalid image")
        if pixels < 65_536:
            return _invalid("image", "Image dimensions must be at least 65536 pixels")
        fault = request.get(FAULT_KEY)
        headers = {}
        if fault is not None and fault.kind in FLAG_HEADERS:
            headers[FLAG_HEADERS[fault.kind]] = "true"
        self.fake.balance_usd -= 0.02
        return web.Response(body=upscale_image(data, body.get("scale", 2)), content_type="image/png", headers=headers)
