"""The async Venice client used by the bot: chat (plain and streamed), images, models, characters.

Speech, transcription, image edits and voices come from `MediaMixin` (media_client.py).

One client (and one aiohttp session) per process, created in `setup_hook` and closed in `close()`.
Errors are `bot.venice.errors` exceptions whose `user_message` can be shown in Discord as is.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.cache import TTLCache

from .errors import MalformedResponse, VeniceError
from .media_client import MediaMixin
from .payloads import (
    chat_body,
    check_image_flags,
    decode_image,
    image_body,
    image_result,
    parse_characters,
    parse_chat_completion,
    parse_json,
    parse_models,
    parse_styles,
)
from .streaming import read_chat_stream
from .transport import OnWait, Sleep, Timeouts, Transport
from .types import Balance, ChatResult, ImageResult, ModelInfo, RateLimitInfo, StreamDelta, StreamEnd, VeniceCharacter

__all__ = ["OnWait", "Timeouts", "VeniceClient"]

log = logging.getLogger("bot.venice")

_SORTS = ("featured", "highestRating", "highlyRated", "highlyRatedAndRecent", "imports", "mostRecent", "ratingCount")


class VeniceClient(MediaMixin):
    """Async client for the Venice endpoints the bot uses.

    `sleep`, `clock` and `rng` are injectable so tests can record back-off waits and expire
    caches without waiting.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        cache_ttl: float = 300.0,
        timeouts: Timeouts | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._http = Transport(
            api_key,
            base_url,
            session=session,
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            sleep=sleep,
            rng=rng,
        )
        self.timeouts = timeouts or Timeouts()
        self._cache = TTLCache(cache_ttl, clock)

    def __repr__(self) -> str:
        return f"VeniceClient(base_url={self._http.base_url!r}, api_key=<hidden>)"

    @property
    def base_url(self) -> str:
        """The API base, e.g. `https://api.venice.ai/api/v1`."""
        return self._http.base_url

    @property
    def last_balance(self) -> Balance | None:
        """Balance from the most recent response that carried balance headers."""
        return self._http.last_balance

    @property
    def last_rate_limit(self) -> RateLimitInfo | None:
        """Rate-limit headers from the most recent response that carried them."""
        return self._http.last_rate_limit

    async def close(self) -> None:
        """Close the HTTP session if the client created it."""
        await self._http.close()

    async def __aenter__(self) -> VeniceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def clear_cache(self) -> None:
        """Forget cached models, styles and characters."""
        self._cache.clear()

    # -- catalogue ---------------------------------------------------------------------------

    async def list_models(self, type: str = "text") -> list[ModelInfo]:
        """`GET /models?type=…`, cached for `cache_ttl` seconds."""

        async def load() -> tuple[ModelInfo, ...]:
            reply = await self._http.fetch(
                "GET", "/models", params=[("type", type)], client_timeout=self._catalogue_timeout()
            )
            return tuple(parse_models(parse_json(reply.body, "models")))

        return list(await self._cache.get_or_load(("models", type), load))

    async def get_model(self, model_id: str, type: str = "text") -> ModelInfo | None:
        """The catalogue entry for `model_id`, or None if Venice does not list it."""
        return next((m for m in await self.list_models(type) if m.id == model_id), None)

    async def image_styles(self) -> list[str]:
        """`GET /image/styles` (names for `style_preset`), cached."""

        async def load() -> tuple[str, ...]:
            reply = await self._http.fetch("GET", "/image/styles", client_timeout=self._catalogue_timeout())
            return tuple(parse_styles(parse_json(reply.body, "image styles")))

        return list(await self._cache.get_or_load(("styles",), load))

    async def list_characters(
        self,
        *,
        search: str | None = None,
        tags: Sequence[str] | None = None,
        adult: bool = True,
        limit: int = 50,
        offset: int = 0,
        sort_by: str | None = None,
    ) -> list[VeniceCharacter]:
        """`GET /characters`, one page, cached per query.

        Venice's `isAdult` filter is exclusive: `adult=True` lists only adult characters and
        `adult=False` only the others. There is no total; a short page is the last one.
        """
        if not 1 <= limit <= 100:
            raise ValueError("limit must be between 1 and 100")
        if offset < 0:
            raise ValueError("offset must not be negative")
        if sort_by is not None and sort_by not in _SORTS:
            raise ValueError(f"sort_by must be one of {', '.join(_SORTS)}")
        params: list[tuple[str, str]] = [
            ("isAdult", "true" if adult else "false"),
            ("limit", str(limit)),
            ("offset", str(offset)),
        ]
        if search:
            params.append(("search", search[:200]))
        params.extend(("tags", tag) for tag in (tags or [])[:20])
        if sort_by:
            params.append(("sortBy", sort_by))

        async def load() -> tuple[VeniceCharacter, ...]:
            reply = await self._http.fetch(
                "GET", "/characters", params=params, client_timeout=self._catalogue_timeout()
            )
            return tuple(parse_characters(parse_json(reply.body, "characters")))

        return list(await self._cache.get_or_load(("characters", tuple(params)), load))

    async def get_character(self, slug: str) -> VeniceCharacter:
        """`GET /characters/{slug}` (the UUID works too), cached. Unknown → NotFoundError."""
        if not slug:
            raise ValueError("slug is empty")

        async def load() -> VeniceCharacter:
            path = "/characters/" + quote(slug, safe="")
            reply = await self._http.fetch("GET", path, client_timeout=self._catalogue_timeout())
            data = parse_json(reply.body, "character")
            item = data.get("data", data) if isinstance(data, Mapping) else None
            if not isinstance(item, Mapping) or not item.get("slug"):
                raise MalformedResponse("character: unexpected response shape")
            return VeniceCharacter.from_api(item)

        return await self._cache.get_or_load(("character", slug), load)

    # -- chat --------------------------------------------------------------------------------

    async def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: list[str] | None = None,
        character_slug: str | None = None,
        include_venice_system_prompt: bool = False,
        strip_thinking: bool = True,
        disable_thinking: bool = False,
        response_format: Mapping[str, Any] | None = None,
        attempt_timeout: float | None = None,
        on_wait: OnWait | None = None,
    ) -> ChatResult:
        """`POST /chat/completions` without streaming. `content_filter` → ContentPolicyError.

        `attempt_timeout` (seconds) bounds each attempt instead of `timeouts.chat`; retries may
        follow, so a caller that needs a bound on the whole call wraps it in `asyncio.timeout`.
        """
        body = chat_body(
            messages,
            model=model,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            stop=stop,
            character_slug=character_slug,
            include_venice_system_prompt=include_venice_system_prompt,
            strip_thinking=strip_thinking,
            disable_thinking=disable_thinking,
            response_format=response_format,
        )
        reply = await self._http.fetch(
            "POST",
            "/chat/completions",
            json=body,
            model=model,
            client_timeout=self.timeouts.total(attempt_timeout or self.timeouts.chat),
            on_wait=on_wait,
        )
        return parse_chat_completion(parse_json(reply.body, "chat"), model=model)

    async def chat_stream(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: list[str] | None = None,
        character_slug: str | None = None,
        include_venice_system_prompt: bool = False,
        strip_thinking: bool = True,
        on_wait: OnWait | None = None,
    ) -> AsyncGenerator[StreamDelta | StreamEnd, None]:
        """Stream a reply: `StreamDelta`s as text arrives, then one `StreamEnd`.

        Failures after the first delta raise StreamError (or ContentPolicyError) once the deltas
        that did arrive have been yielded; the caller keeps them. Use `contextlib.aclosing` when
        stopping early so the connection is released at once.
        """
        body = chat_body(
            messages,
            model=model,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            stop=stop,
            character_slug=character_slug,
            include_venice_system_prompt=include_venice_system_prompt,
            strip_thinking=strip_thinking,
            stream=True,
        )
        resp, first = await self._http.open_stream(
            "/chat/completions", json=body, model=model, client_timeout=self.timeouts.stream(), on_wait=on_wait
        )
        clean = False
        try:
            if resp.content_type == "application/json":
                # Venice answered without streaming; hand the whole reply over as one delta.
                result = parse_chat_completion(parse_json(first + await resp.read(), "chat"), model=model)
                clean = True
                if result.text:
                    yield StreamDelta(result.text)
                yield StreamEnd(result.finish_reason, result.usage, result.cost, result.model)
                return
            async with aclosing(read_chat_stream(resp.content, first, model, self.timeouts.stream_read)) as items:
                async for item in items:
                    yield item
            clean = True
        except VeniceError as err:
            err.cf_ray = err.cf_ray or resp.headers.get("CF-RAY")
            log.warning("Venice chat stream failed: %s (cf-ray %s)", err, err.cf_ray or "-")
            raise
        finally:
            if clean:
                resp.release()
            else:
                resp.close()

    # -- images ------------------------------------------------------------------------------

    async def generate_image(
        self,
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
        on_wait: Callable[[float], Awaitable[None]] | None = None,
    ) -> ImageResult:
        """`POST /image/generate`; one image, checked against Venice's safety headers.

        A flagged image (content violation, adult-model violation, possible minor) raises
        ContentPolicyError and is never returned. `on_wait(seconds)` is awaited before each
        retry back-off so the caller can show that it is waiting for Venice.
        """
        body = image_body(
            model=model,
            prompt=prompt,
            negative_prompt=negative_prompt,
            width=width,
            height=height,
            steps=steps,
            cfg_scale=cfg_scale,
            seed=seed,
            style_preset=style_preset,
            safe_mode=safe_mode,
            format=format,
            hide_watermark=hide_watermark,
        )
        reply = await self._http.fetch(
            "POST",
            "/image/generate",
            json=body,
            model=model,
            client_timeout=self.timeouts.total(self.timeouts.image),
            on_wait=on_wait,
        )
        return image_result(reply.body, reply.headers, model=model, seed=seed)

    async def upscale(self, image: bytes, *, scale: int = 2, on_wait: OnWait | None = None) -> bytes:
        """`POST /image/upscale` (2× or 4×); returns PNG bytes. Flags raise ContentPolicyError."""
        if scale not in (2, 4):
            raise ValueError("scale must be 2 or 4")
        body = {"image": base64.b64encode(image).decode("ascii"), "scale": scale}
        reply = await self._http.fetch(
            "POST",
            "/image/upscale",
            json=body,
            accept="image/png",
            client_timeout=self.timeouts.total(self.timeouts.upscale),
            on_wait=on_wait,
        )
        check_image_flags(reply.headers)
        decode_image(reply.body, "upscale")
        return reply.body

    def _catalogue_timeout(self) -> aiohttp.ClientTimeout:
        return self.timeouts.total(self.timeouts.catalogue)
