"""Stage 2 of the content screen: a Venice model judges a text (with its context) or an image.

`Judge.text()` and `Judge.image()` return a `Judgement` or raise `JudgeUnavailable`; they never
approve by default. Each verdict is cached in the database by a hash of everything that decides
it (the content, its bounded context, the kind of text, the policy version, the model and, for
texts, the year, since birth years are judged against today's date), so a character, persona or
image prompt is judged once: a reroll or a same-seed edit sends the same text and reuses it.
Failures are never cached.

The whole call, retries included, is bounded by `timeout` seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.judge.answer import Judgement, JudgeUnavailable, combine, parse_answer
from bot.judge.context import JudgeContext, windows
from bot.judge.images import data_url
from bot.judge.prompt import (
    IMAGE_FLAGS,
    KINDS,
    POLICY_VERSION,
    TEXT_FLAGS,
    image_messages,
    image_response_format,
    text_messages,
    text_response_format,
)
from bot.store import judgements
from bot.venice.client import VeniceClient
from bot.venice.errors import ContentPolicyError, MalformedResponse, VeniceError, VeniceTimeout

__all__ = ["ANSWER_TOKENS", "MAX_TEXT_CHARS", "Judge"]

log = logging.getLogger(__name__)

# Longest text one judge call reads; longer texts (a whole card with its lorebook) are judged in
# overlapping windows, each with the same context.
MAX_TEXT_CHARS = 12_000
WINDOW_OVERLAP = 400
# The answer is a few dozen tokens; the cap leaves room for models that think before answering.
ANSWER_TOKENS = 400


def _now() -> datetime:
    return datetime.now(UTC)


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


class Judge:
    """Asks Venice's `model` (texts) and `vision_model` (images) whether content breaks the policy.

    `sessions` holds the verdict cache; `clock` gives today's date for the prompt.
    """

    def __init__(
        self,
        venice: VeniceClient,
        sessions: async_sessionmaker[AsyncSession],
        *,
        model: str,
        vision_model: str | None = None,
        timeout: float = 6.0,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.venice = venice
        self.sessions = sessions
        self.model = model
        self.vision_model = vision_model or model
        self.timeout = timeout
        self._clock = clock
        # Judgements under way in this process, by cache key: the same content checked twice at
        # once (two channels choosing one card, a double-pressed reroll) costs one call.
        self._pending: dict[str, asyncio.Task[Judgement]] = {}

    async def text(self, text: str, context: JudgeContext | None = None, *, kind: str = "chat") -> Judgement:
        """Judge `text` (a chat message, character definition, persona, image prompt or model
        reply: `kind` is one of `prompt.KINDS`) with its `context`."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; expected one of {sorted(KINDS)}")
        background = (context or JudgeContext()).bounded()
        pieces = list(windows(text, MAX_TEXT_CHARS, WINDOW_OVERLAP))
        if len(pieces) == 1:
            return await self._text_once(text, background, kind)
        return combine(await asyncio.gather(*(self._text_once(p, background, kind) for p in pieces)))

    async def image(self, data: bytes) -> Judgement:
        """Judge an image a user supplied: an apparent minor, or a sexualised real person."""
        key = _digest("image", POLICY_VERSION, self.vision_model, hashlib.sha256(data).hexdigest())
        return await self._cached(key, "image", lambda: self._ask_image(data))

    async def _text_once(self, text: str, context: JudgeContext, kind: str) -> Judgement:
        today = self._clock().date()
        key = _digest("text", POLICY_VERSION, self.model, today.year, kind, text, context.as_dict())
        messages = text_messages(text, context, kind, today)
        return await self._cached(key, "text", lambda: self._ask(messages, self.model, text_response_format(),
                                                                 TEXT_FLAGS))

    async def _ask_image(self, data: bytes) -> Judgement:
        url = data_url(data)
        return await self._ask(image_messages(url), self.vision_model, image_response_format(), IMAGE_FLAGS)

    async def _cached(self, key: str, kind: str, ask: Callable[[], Awaitable[Judgement]]) -> Judgement:
        if key not in self._pending:
            stored = await judgements.get(self.sessions, key)
            if stored is not None:
                return Judgement(stored.minor_sexual, stored.real_person_sexual, stored.confidence, stored.reason,
                                 stored.model, cached=True, calls=0)
        task = self._pending.get(key)
        if task is None:
            task = asyncio.ensure_future(self._ask_and_store(key, kind, ask))
            self._pending[key] = task
            task.add_done_callback(lambda done: self._settled(key, done))
            # Shielded: a caller that gives up (its interaction cancelled) does not cancel the
            # judgement others are waiting for, and the verdict is still stored.
            return await asyncio.shield(task)
        judgement = await asyncio.shield(task)
        return replace(judgement, cached=True, calls=0, cost_usd=0.0)

    async def _ask_and_store(self, key: str, kind: str, ask: Callable[[], Awaitable[Judgement]]) -> Judgement:
        judgement = await ask()
        await judgements.put(self.sessions, key, kind, judgements.CachedVerdict(
            judgement.minor, judgement.real_person, judgement.confidence, judgement.reason, judgement.model))
        return judgement

    def _settled(self, key: str, task: asyncio.Task[Judgement]) -> None:
        self._pending.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved, so a failure nobody awaited any more is not logged as lost

    async def _ask(
        self, messages: list[dict[str, object]], model: str, response_format: dict[str, object],
        flags: tuple[str, str],
    ) -> Judgement:
        try:
            async with asyncio.timeout(self.timeout):
                result = await self.venice.chat(
                    messages, model=model, temperature=0.0, max_tokens=ANSWER_TOKENS,
                    response_format=response_format, include_venice_system_prompt=False,
                    disable_thinking=True, attempt_timeout=self.timeout,
                )
        except (TimeoutError, VeniceTimeout):
            log.warning("judge: %s did not answer within %.1fs", model, self.timeout)
            raise JudgeUnavailable("timeout") from None
        except ContentPolicyError as err:
            log.warning("judge: Venice declined to judge (%s)", err.rule)
            raise JudgeUnavailable("refused", err.rule) from None
        except MalformedResponse as err:
            log.warning("judge: unreadable response from Venice: %s", err)
            raise JudgeUnavailable("unparseable") from None
        except VeniceError as err:
            log.warning("judge: Venice error %s", err)
            raise JudgeUnavailable("venice_error", str(err.status or err.code or "")) from None
        try:
            judgement = parse_answer(result.text, flags, model=result.model or model)
        except JudgeUnavailable as err:
            log.warning("judge: %s answered something that is not a verdict (%s)", model, err.cause)
            raise
        cost = result.cost.usd if result.cost is not None and result.cost.usd is not None else 0.0
        return Judgement(judgement.minor, judgement.real_person, judgement.confidence, judgement.reason,
                         judgement.model, cost_usd=cost)
