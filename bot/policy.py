"""Applying the content policy (DESIGN §5) at every input and output: both stages, audit, strikes.

Stage 1 (`bot.safety.screen`, local) refuses what is clear-cut and marks what it cannot clear
(`Verdict.judge`); stage 2 (`bot.judge.Judge`, a Venice model) decides those, with the text's
context. `ContentPolicy` runs both and acts on the outcome: it writes an audit event (who, where,
when, which rule — never the text), counts strikes for decisive minors refusals, blocks a user who
keeps trying, and raises `Refused` with wording that never repeats the content.

The API the bot calls (one `ContentPolicy` per process, built where everything is built)::

    policy = ContentPolicy(sessions, venice, env)                 # clock=..., screen=... for tests

    # An input, or several fields of one thing, with its context. Returns the (allowed) Decision;
    # raises Refused (rule: the stage-1 rule, "judge_minor", "judge_real_person", "too_long") or
    # CheckUnavailable (a Refused whose rule is "judge_unavailable") when the judge failed.
    await policy.check(texts, where, context="chat", background=JudgeContext(...), strike=True)

    # Model output about to be shown (each streamed edit's text): never raises for the policy;
    # returns a Decision whose `allowed` says whether the text may be shown. Refusals and judge
    # failures are audited here (kind "output_refusal" / "judge_unavailable"), never a strike.
    decision = await policy.check_output(text, where, background=JudgeContext(...))

    # An image a user supplies (avatar, vision input), before it is stored or shown.
    await policy.check_image(data, where, strike=True)          # raises like check()

    # Both stages without any side effect (no audit, no strike), for operators and benchmarks.
    decision = await policy.assess(texts, context="chat", background=None)
    decision = await policy.assess_image(data)

`texts` is a string, a list of strings, or a mapping of label → text ("Description" → "…"; the
labels help the judge read a card). `context` is where the text comes from: "chat" (a message the
user wrote), "character" (every field, greeting and lorebook entry of a definition), "persona",
"image" (an image prompt, including what the bot adds). Characters, personas and image prompts
are always judged (and cached by content hash, so a reroll or an unchanged card costs nothing);
chat and output only when stage 1 asks. `strike=False` for text the person did not write (a
character's stored definition, a scene Venice described): refused and audited, nobody blamed.

Fail closed: a judge timeout (`SAFETY_TIMEOUT`), an HTTP error, Venice declining, or an answer
that is not a well-typed verdict refuses the text with "this couldn't be checked right now,
please try again", audited as kind "judge_unavailable" (the rule says why), with no strike.
Strikes only for decisive refusals: stage 1's `MINOR_RULES`, or the judge flagging minors with
high confidence.

The module-level helpers below the class (`audit`, `refuse`, `check_texts`, `check_text`,
`output_verdict`, `Where`) are the old path: stage 1 only, as today's callers use them, unchanged
until every caller has moved to `ContentPolicy`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import safety
from bot.config import Env
from bot.errors import CheckUnavailable, Refused
from bot.judge import Judge, JudgeContext, Judgement, JudgeUnavailable
from bot.judge.context import windows
from bot.offload import Offload
from bot.store import users
from bot.store.models import AuditEvent
from bot.venice.client import VeniceClient
from bot.where import Where

log = logging.getLogger(__name__)

# Strikes count only the rules with few false refusals (stated ages, minor terms); a school setting
# near sexual words also catches adults reminiscing, so it is refused without a strike.
MINOR_RULES = frozenset({"minor_age", "minor_term"})
STRIKE_WINDOW = timedelta(hours=24)
STRIKE_THRESHOLD = 5
BLOCK_FOR = timedelta(hours=24)
# Texts up to this many characters in all (a chat message is at most 4,000) are screened on the
# event loop; more goes to a worker process when the caller has one.
INLINE_SCREEN_CHARS = 4_096

CONTEXTS = ("chat", "character", "persona", "image")
# Definitions and image prompts are judged whatever stage 1 says (DESIGN §5).
ALWAYS_JUDGED = frozenset({"character", "persona", "image"})
# The most text one check reads (a card with a long lorebook); beyond it the input is refused as
# too long rather than costing dozens of judge calls.
MAX_CHECK_CHARS = 400_000
# More text than this in one check is screened (stage 1) in a worker thread, off the event loop.
INLINE_STAGE1_CHARS = 20_000
JUDGE_MINOR_RULE = "judge_minor"
JUDGE_REAL_PERSON_RULE = "judge_real_person"
UNAVAILABLE_RULE = "judge_unavailable"
TOO_LONG_RULE = "too_long"

_PREFIX = {
    "chat": "",
    "character": "This character can't be used. ",
    "persona": "This persona can't be used. ",
    "image": "This image can't be made. ",
    "output": "The reply was withheld. ",
    "supplied_image": "This image can't be used. ",
}
_MINORS = "This bot never writes sexual content involving anyone under 18. Make every character clearly an adult."
_REAL_PEOPLE = "This bot never makes sexual content about real, identifiable people. Use a fictional character instead."
_IMAGE_MINOR = "The bot is for adults only, and this image looks like it shows someone under 18."
_IMAGE_REAL = "It looks like a sexualised picture of a real person."
_TOO_LONG = f"This is too long to check (the limit is {MAX_CHECK_CHARS:,} characters). Shorten it and try again."
UNAVAILABLE = "This couldn't be checked right now, so it wasn't used. Please try again in a moment."
OUTPUT_UNAVAILABLE = "The reply couldn't be checked right now, so it was withheld. Regenerate to try again."

Texts = str | Mapping[str, str] | Iterable[str]


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of both stages for one input.

    - `allowed`: the content may be used (or shown);
    - `rule`: "" when allowed; a stage-1 rule, "judge_minor", "judge_real_person", "too_long",
      or "judge_unavailable" (the judge failed: refused, fail closed);
    - `reason`: the sentence for the user, never the content;
    - `judged`: stage 2 was consulted (from the cache or Venice); `judge_calls`, `cost_usd`:
      the Venice calls that took (0 when cached) and what Venice reported they cost;
    - `decisive`: a refusal that counts as a strike when the person wrote the text;
    - `detail`: for the audit log (the judge's reason code and confidence, or why it failed).
    """

    allowed: bool
    rule: str = ""
    reason: str = ""
    judged: bool = False
    decisive: bool = False
    detail: str = ""
    judge_calls: int = 0
    cost_usd: float = 0.0

    @property
    def unavailable(self) -> bool:
        """Refused because the judge could not answer (not because the content broke the policy)."""
        return self.rule == UNAVAILABLE_RULE


ALLOWED = Decision(True)


def _now() -> datetime:
    return datetime.now(UTC)


def _fields(texts: Texts) -> list[tuple[str, str]]:
    """(label, text) pairs with empty texts dropped."""
    if isinstance(texts, str):
        pairs = [("", texts)]
    elif isinstance(texts, Mapping):
        pairs = [(str(label), text) for label, text in texts.items()]
    else:
        pairs = [("", text) for text in texts]
    for _, text in pairs:
        if not isinstance(text, str):
            raise TypeError(f"texts must be strings, not {type(text).__name__}")
    return [(label, text) for label, text in pairs if text and text.strip()]


class ContentPolicy:
    """Both stages of the content screen, with audit and strikes (see the module docstring).

    Built with what it uses: the database `sessions` (audit log, strikes, the judge's cache), the
    `venice` client, and the environment `env` (`safety_model`, `safety_vision_model`, `safety_timeout`).
    `clock` gives today's date to the judge (birth years); `screen` is stage 1 (tests and the
    screen-rate benchmark may pass another function with `safety.screen`'s signature).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        venice: VeniceClient,
        env: Env,
        *,
        clock: Callable[[], datetime] = _now,
        screen: Callable[..., safety.Verdict] = safety.screen,
    ) -> None:
        self.sessions = sessions
        self.judge = Judge(
            venice, sessions, model=env.safety_model, vision_model=env.safety_vision_model,
            timeout=env.safety_timeout, clock=clock,
        )
        self._screen = screen

    # -- decisions without side effects ---------------------------------------------------------

    async def assess(
        self, texts: Texts, *, context: str = "chat", background: JudgeContext | None = None
    ) -> Decision:
        """Both stages for an input; no audit, no strike. See `check` for the arguments; `context`
        may also be "output" (model text: judged only when stage 1 asks, as `check_output` does)."""
        if context not in (*CONTEXTS, "output"):
            raise ValueError(f"unknown context {context!r}; expected one of {(*CONTEXTS, 'output')}")
        fields = _fields(texts)
        if not fields:
            return ALLOWED
        return await self._decide(fields, context, background, always_judge=context in ALWAYS_JUDGED)

    async def assess_image(self, data: bytes) -> Decision:
        """The vision judge's decision on an image; no audit, no strike."""
        try:
            judgement = await self.judge.image(data)
        except JudgeUnavailable as err:
            return Decision(False, UNAVAILABLE_RULE, UNAVAILABLE, judged=True, detail=err.cause)
        if not judgement.flagged:
            return _judged_allowed(judgement)
        words = _IMAGE_MINOR if judgement.minor else _IMAGE_REAL
        return _judge_refusal(judgement, _PREFIX["supplied_image"] + words)

    # -- checks that act ------------------------------------------------------------------------

    async def check(
        self,
        texts: Texts,
        where: Where,
        *,
        context: str = "chat",
        background: JudgeContext | None = None,
        strike: bool = True,
    ) -> Decision:
        """Check an input before anything is done with it; raise `Refused` if it breaks the policy
        (`CheckUnavailable` if the judge could not answer). Audits every refusal; adds a strike
        for decisive ones when `strike` is true and the user is known."""
        if context not in CONTEXTS:
            raise ValueError(f"unknown context {context!r}; expected one of {CONTEXTS} (output: check_output)")
        decision = await self.assess(texts, context=context, background=background)
        if not decision.allowed:
            raise await self._refuse(decision, where, strike=strike)
        return decision

    async def check_output(self, text: str, where: Where, *, background: JudgeContext | None = None) -> Decision:
        """May this model output be shown? Stage 1, then the judge when stage 1 asks.

        Returns the Decision rather than raising: the chat turn withholds the reply when
        `allowed` is false (`reason` is the sentence to show). Refusals are audited as
        "output_refusal", judge failures as "judge_unavailable"; never a strike (the model wrote
        it). Each call that needs the judge costs one judge call unless this exact text and
        context were judged before, so call it at the edit cadence, not per token.
        """
        decision = await self.assess(text, context="output", background=background)
        if not decision.allowed:
            kind = "judge_unavailable" if decision.unavailable else "output_refusal"
            await audit(self.sessions, where, kind=kind, rule=decision.rule, detail=_detail(where, decision))
            log.info("policy: withheld %s output (rule %s)", where.entry, decision.rule)
        return decision

    async def check_image(self, data: bytes, where: Where, *, strike: bool = True) -> Decision:
        """Check an image a user supplies before it is stored or shown; raise like `check`."""
        decision = await self.assess_image(data)
        if not decision.allowed:
            raise await self._refuse(decision, where, strike=strike)
        return decision

    # -- internals ------------------------------------------------------------------------------

    async def _decide(
        self, fields: list[tuple[str, str]], context: str, background: JudgeContext | None, *, always_judge: bool
    ) -> Decision:
        if sum(len(text) for _, text in fields) > MAX_CHECK_CHARS:
            return Decision(False, TOO_LONG_RULE, _PREFIX[context] + _TOO_LONG)
        if sum(len(text) for _, text in fields) > INLINE_STAGE1_CHARS:
            # A definition or a lorebook: stage 1 (pure, thread-safe) reads it in a worker thread,
            # so the event loop keeps running (stage 1 takes about 5 ms per 1,000 characters).
            verdict, asked = await asyncio.to_thread(self._stage1, fields, context)
        else:
            verdict, asked = self._stage1(fields, context)
        if verdict is not None:
            # Stage 1 words its reasons for its own contexts; others (persona) get their prefix here.
            reason = verdict.reason if context in safety.CONTEXTS else _PREFIX[context] + verdict.reason
            return Decision(False, verdict.rule, reason, decisive=verdict.rule in MINOR_RULES)
        if not (asked or always_judge):
            return ALLOWED
        document = "\n\n".join(f"{label}: {text}" if label else text for label, text in fields)
        try:
            judgement = await self.judge.text(document, background, kind=context)
        except JudgeUnavailable as err:
            reason = OUTPUT_UNAVAILABLE if context == "output" else UNAVAILABLE
            return Decision(False, UNAVAILABLE_RULE, reason, judged=True, detail=err.cause)
        if not judgement.flagged:
            return _judged_allowed(judgement)
        return _judge_refusal(judgement, _PREFIX[context] + (_MINORS if judgement.minor else _REAL_PEOPLE))

    def _stage1(self, fields: list[tuple[str, str]], context: str) -> tuple[safety.Verdict | None, bool]:
        """Stage 1 over every field (long ones in overlapping windows it reads whole): the first
        refusal, and whether any piece asked for the judge."""
        screen_context = context if context in safety.CONTEXTS else "chat"
        asked = False
        for _, text in fields:
            for piece in windows(text, safety.MAX_CHARS, 200):
                verdict = self._screen(piece, for_image=context == "image", context=screen_context)
                if not verdict.allowed:
                    return verdict, asked
                asked = asked or verdict.judge
        return None, asked

    async def _refuse(self, decision: Decision, where: Where, *, strike: bool) -> Refused:
        if decision.unavailable:
            await audit(self.sessions, where, kind="judge_unavailable", rule=decision.detail[:64],
                        detail=where.entry)
            log.info("policy: could not check %s input from user %s (%s)", where.entry, where.user_id,
                     decision.detail)
            return CheckUnavailable(decision.reason)
        await audit(self.sessions, where, kind="refusal", rule=decision.rule, detail=_detail(where, decision))
        message = decision.reason
        if strike and decision.decisive:
            message += await _strike(self.sessions, where, decision.rule)
        log.info("policy: refused %s input from user %s (rule %s)", where.entry, where.user_id, decision.rule)
        return Refused(message, decision.rule)


def _judged_allowed(judgement: Judgement) -> Decision:
    return Decision(True, judged=True, judge_calls=judgement.calls, cost_usd=judgement.cost_usd)


def _judge_refusal(judgement: Judgement, reason: str) -> Decision:
    rule = JUDGE_MINOR_RULE if judgement.minor else JUDGE_REAL_PERSON_RULE
    return Decision(
        False, rule, reason, judged=True, decisive=judgement.decisive,
        detail=f"judge {judgement.reason}, {judgement.confidence} confidence",
        judge_calls=judgement.calls, cost_usd=judgement.cost_usd,
    )


def _detail(where: Where, decision: Decision) -> str:
    return f"{where.entry}: {decision.detail}" if decision.detail else where.entry


async def _strike(sessions: async_sessionmaker[AsyncSession], where: Where, rule: str) -> str:
    """Count a strike against the user (if known); the sentence to add to the refusal."""
    if where.user_id is None:
        return ""
    strikes, blocked = await users.add_strike(
        sessions, where.user_id, window=STRIKE_WINDOW, threshold=STRIKE_THRESHOLD, block_for=BLOCK_FOR
    )
    if blocked is not None:
        await audit(sessions, where, kind="block", rule=rule, detail=f"blocked for {BLOCK_FOR}")
        return " You are now blocked from this bot for 24 hours after repeated attempts."
    if strikes == STRIKE_THRESHOLD - 1:
        return " One more attempt and you will be blocked from this bot for 24 hours."
    return ""


# -- the old path: stage 1 only, for today's callers --------------------------------------------


async def audit(
    sessions: async_sessionmaker[AsyncSession], where: Where, *, kind: str, rule: str = "", detail: str = ""
) -> None:
    """Write one audit event (who, where, when, which rule; never the text)."""
    async with sessions.begin() as session:
        session.add(AuditEvent(
            guild_id=where.guild_id, channel_id=where.channel_id, user_id=where.user_id,
            kind=kind, rule=rule, detail=(detail or where.entry)[:300],
        ))


async def refuse(
    sessions: async_sessionmaker[AsyncSession], where: Where, verdict: safety.Verdict, *, strike: bool = True
) -> Refused:
    """Old path (stage 1 only): record a refusal (and a strike for minors rules) and build the
    error to raise.

    `strike=False` for text the person did not write (a scene Venice described, a character's
    stored definition): it is refused and audited, but nobody is blamed for it.
    """
    await audit(sessions, where, kind="refusal", rule=verdict.rule)
    message = verdict.reason
    if strike and verdict.rule in MINOR_RULES:
        message += await _strike(sessions, where, verdict.rule)
    log.info("policy: refused %s input from user %s (rule %s)", where.entry, where.user_id, verdict.rule)
    return Refused(message, verdict.rule)


def first_refusal(texts: list[str], for_image: bool = False) -> safety.Verdict | None:
    """The first refusing verdict among `texts`, or None. Pure: runs in a worker process too."""
    for text in texts:
        verdict = safety.screen(text, for_image=for_image)
        if not verdict.allowed:
            return verdict
    return None


async def check_texts(
    sessions: async_sessionmaker[AsyncSession], texts: Iterable[str], where: Where, *, for_image: bool = False,
    strike: bool = True, offload: Offload | None = None,
) -> None:
    """Old path (stage 1 only): screen each text; on the first refusal, record it and raise
    `Refused`. Use `ContentPolicy.check` in new code.

    More than `INLINE_SCREEN_CHARS` in all (a card, a lorebook, a whole character) is screened in
    a worker process when `offload` is given, so it never holds the event loop; a chat message is
    screened here, at a cost of milliseconds. A screen that runs out of time raises `TooSlow`:
    text is refused, never let through, when it could not be checked.
    """
    wanted = [text for text in texts if text]
    if offload is not None and sum(map(len, wanted)) > INLINE_SCREEN_CHARS:
        verdict = await offload.in_process(first_refusal, wanted, for_image, owner=where.user_id)
    else:
        verdict = first_refusal(wanted, for_image)
    if verdict is not None:
        raise await refuse(sessions, where, verdict, strike=strike)


async def check_text(
    sessions: async_sessionmaker[AsyncSession], text: str, where: Where, *, for_image: bool = False,
    strike: bool = True,
) -> None:
    """Old path (stage 1 only): `check_texts` for one text."""
    await check_texts(sessions, [text], where, for_image=for_image, strike=strike)


def output_verdict(text: str) -> safety.Verdict:
    """Old path (stage 1 only): screen model output before it is posted (the model is told all
    characters are adults, but Venice is not relied on as the safeguard). Use
    `ContentPolicy.check_output` in new code."""
    return safety.screen(text, context="output")


__all__ = [
    "ALLOWED",
    "ALWAYS_JUDGED",
    "BLOCK_FOR",
    "CONTEXTS",
    "MINOR_RULES",
    "STRIKE_THRESHOLD",
    "STRIKE_WINDOW",
    "UNAVAILABLE",
    "ContentPolicy",
    "Decision",
    "JudgeContext",
    "Where",
    "audit",
    "check_text",
    "check_texts",
    "output_verdict",
    "refuse",
]
