"""Applying the content policy (DESIGN §5) at every input and output: both stages, audit, strikes.

Stage 1 (`bot.safety.screen`, local) refuses what is clear-cut and marks what it cannot clear
(`Verdict.judge`); stage 2 (`bot.judge.Judge`, a Venice model) decides those, with the text's
context. `ContentPolicy` runs both and acts on the outcome: it writes an audit event (who, where,
when, which rule — never the text), counts strikes for decisive minors refusals, blocks a user who
keeps trying, and raises `Refused` with wording that never repeats the content.

The API the bot calls (one `ContentPolicy` per process, built where everything is built)::

    policy = ContentPolicy(sessions, venice, env, offload=offload)  # clock=..., screen=... for tests

    # An input, or several fields of one thing, with its context. Returns the (allowed) Decision;
    # raises Refused (rule: the stage-1 rule, "judge_minor", "judge_real_person", "too_long") or
    # CheckUnavailable (a Refused whose rule is "judge_unavailable") when the judge failed.
    await policy.check(texts, where, context="chat", background=JudgeContext(...), strike=True)
    # `background` may also be an async callable returning the JudgeContext: it is awaited only
    # when the judge is asked (a chat turn loads its recent turns only for the few texts judged).

    # Model output about to be shown (each streamed edit's text): never raises for the policy;
    # returns a Decision whose `allowed` says whether the text may be shown. Refusals and judge
    # failures are audited here (kind "output_refusal" / "judge_unavailable"), never a strike.
    decision = await policy.check_output(text, where, background=JudgeContext(...))

    # An image a user supplies (avatar, vision input), before it is stored or shown.
    await policy.check_image(data, where, strike=True)          # raises like check()

    # Stage 1 alone, acting on its refusals (audit, strike): a private answer before an
    # interaction is deferred. Returns whether the judge will still be asked by `check`.
    await policy.precheck(texts, where, context="image", strike=True)

    # Write an audit event (who, where, when, which rule; never the text) for other refusals.
    await audit(sessions, where, kind="refusal", rule="negative_adult")

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

Stage 1 over more than `INLINE_SCREEN_CHARS` (a long card, a lorebook) runs in a worker process
when the policy was given an `offload`, so a big card never holds the event loop; the judge is
then awaited on the loop (it is I/O). A worker that runs out of time raises `TooSlow` (refused,
never let through).

`audit` (below the class) writes one audit event.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
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
# A document (a card, a lorebook) is checked in batches of `DOCUMENT_BATCH_CHARS`, each a check of
# its own; it may hold `MAX_DOCUMENT_CHARS` in all (every character of it screened).
DOCUMENT_BATCH_CHARS = 300_000
MAX_DOCUMENT_CHARS = 3_000_000
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
_DOCUMENT_TOO_LONG = (f"This holds more than {MAX_DOCUMENT_CHARS:,} characters of text, more than I can check. "
                      "Shorten it (its lorebook, most likely) and try again.")
_TOO_LONG = f"This is too long to check (the limit is {MAX_CHECK_CHARS:,} characters). Shorten it and try again."
UNAVAILABLE = "This couldn't be checked right now, so it wasn't used. Please try again in a moment."
OUTPUT_UNAVAILABLE = "The reply couldn't be checked right now, so it was withheld. Regenerate to try again."

Texts = str | Mapping[str, str] | Iterable[str]
# The judge's context for a text, or an async callable that builds it (awaited only if judged).
Background = JudgeContext | Callable[[], Awaitable[JudgeContext]] | None


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


def batches(fields: Iterable[tuple[str, str]], size: int = DOCUMENT_BATCH_CHARS) -> Iterator[dict[str, str]]:
    """The fields in labelled groups of at most `size` characters (a longer field is cut in
    overlapping pieces, so a phrase at a cut is still read whole)."""
    batch: dict[str, str] = {}
    used = 0
    for label, text in fields:
        pieces = [text] if len(text) <= size else [text[i:i + size] for i in range(0, len(text), size - 1_000)]
        for n, piece in enumerate(pieces):
            if used + len(piece) > size and batch:
                yield batch
                batch, used = {}, 0
            key = label if len(pieces) == 1 else f"{label} (part {n + 1})"
            while key in batch:
                key += "'"
            batch[key] = piece
            used += len(piece)
    if batch:
        yield batch


Document = Mapping[str, str] | Iterable[tuple[str, str]]


def _document_fields(fields: Document) -> list[tuple[str, str]]:
    """(label, text) pairs of a document given as a mapping or as pairs, empty texts dropped."""
    pairs = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
    return _fields(dict(pairs)) if len({label for label, _ in pairs}) == len(pairs) else [
        (label, text) for label, text in pairs if isinstance(text, str) and text.strip()]


def document_batches(fields: Document, size: int = DOCUMENT_BATCH_CHARS) -> list[dict[str, str]]:
    """A long document as the checks that read it: one check when it fits, else batches."""
    pairs = _document_fields(fields)
    if sum(len(text) for _, text in pairs) <= size:
        return [dict(pairs)] if pairs else []
    return list(batches(pairs, size))


class ContentPolicy:
    """Both stages of the content screen, with audit and strikes (see the module docstring).

    Built with what it uses: the database `sessions` (audit log, strikes, the judge's cache), the
    `venice` client, and the environment `env` (`safety_model`, `safety_vision_model`, `safety_timeout`).
    `clock` gives today's date to the judge (birth years); `screen` is stage 1 (tests and the
    screen-rate benchmark may pass another function with `safety.screen`'s signature); `offload`
    runs stage 1 over long inputs in a worker process (see the module docstring).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        venice: VeniceClient,
        env: Env,
        *,
        clock: Callable[[], datetime] = _now,
        screen: Callable[..., safety.Verdict] = safety.screen,
        offload: Offload | None = None,
    ) -> None:
        self.sessions = sessions
        self.judge = Judge(
            venice, sessions, model=env.safety_model, vision_model=env.safety_vision_model,
            timeout=env.safety_timeout, clock=clock,
        )
        self._screen = screen
        self._offload = offload

    # -- decisions without side effects ---------------------------------------------------------

    async def assess(
        self, texts: Texts, *, context: str = "chat", background: Background = None,
        owner: int | None = None,
    ) -> Decision:
        """Both stages for an input; no audit, no strike. See `check` for the arguments; `context`
        may also be "output" (model text: judged only when stage 1 asks, as `check_output` does).
        `owner` is whose worker slot a long input's stage 1 takes (one at a time per person)."""
        if context not in (*CONTEXTS, "output"):
            raise ValueError(f"unknown context {context!r}; expected one of {(*CONTEXTS, 'output')}")
        fields = _fields(texts)
        if not fields:
            return ALLOWED
        return await self._decide(fields, context, background, always_judge=context in ALWAYS_JUDGED, owner=owner)

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
        background: Background = None,
        strike: bool = True,
    ) -> Decision:
        """Check an input before anything is done with it; raise `Refused` if it breaks the policy
        (`CheckUnavailable` if the judge could not answer). Audits every refusal; adds a strike
        for decisive ones when `strike` is true and the user is known."""
        if context not in CONTEXTS:
            raise ValueError(f"unknown context {context!r}; expected one of {CONTEXTS} (output: check_output)")
        decision = await self.assess(texts, context=context, background=background, owner=where.user_id)
        if not decision.allowed:
            raise await self._refuse(decision, where, strike=strike)
        return decision

    async def check_document(self, fields: Document, where: Where, *, context: str = "character",
                             background: Background = None, strike: bool = True) -> None:
        """`check` over a document that may be too long for one check (a card with a big
        lorebook, a standalone lorebook): in batches (see `document_batches`), each read with
        `background` (for a card: who the character is, so every window of its lore is judged
        next to it); refused as too long beyond `MAX_DOCUMENT_CHARS`."""
        fields = _document_fields(fields)
        total = sum(len(text) for _, text in fields)
        if total > MAX_DOCUMENT_CHARS:
            raise await self._refuse(Decision(False, TOO_LONG_RULE, _PREFIX[context] + _DOCUMENT_TOO_LONG),
                                     where, strike=False)
        for batch in document_batches(fields):
            await self.check(batch, where, context=context, background=background, strike=strike)

    async def precheck(self, texts: Texts, where: Where, *, context: str = "chat", strike: bool = True) -> bool:
        """Stage 1 alone, before the judge: raise `Refused` (audited, a strike for a decisive
        refusal when `strike`) if it refuses; else return whether `check` will ask the judge.

        For answering clear-cut cases at once (a private reply before an interaction is
        deferred); it never replaces `check`, which runs both stages (stage 1 again, cheaply).
        """
        if context not in CONTEXTS:
            raise ValueError(f"unknown context {context!r}; expected one of {CONTEXTS}")
        fields = _fields(texts)
        if not fields:
            return False
        decision = _too_long(fields, context)
        asked = False
        if decision is None:
            verdict, asked = await self._stage1(fields, context, where.user_id)
            decision = _stage1_refusal(verdict, context) if verdict is not None else None
        if decision is not None:
            raise await self._refuse(decision, where, strike=strike)
        return asked or context in ALWAYS_JUDGED

    async def check_output(self, text: str, where: Where, *, background: Background = None) -> Decision:
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
        self, fields: list[tuple[str, str]], context: str, background: Background, *, always_judge: bool,
        owner: int | None = None,
    ) -> Decision:
        too_long = _too_long(fields, context)
        if too_long is not None:
            return too_long
        verdict, asked = await self._stage1(fields, context, owner)
        if verdict is not None:
            return _stage1_refusal(verdict, context)
        if not (asked or always_judge):
            return ALLOWED
        document = "\n\n".join(f"{label}: {text}" if label else text for label, text in fields)
        try:
            if callable(background):
                background = await background()
            judgement = await self.judge.text(document, background, kind=context)
        except JudgeUnavailable as err:
            reason = OUTPUT_UNAVAILABLE if context == "output" else UNAVAILABLE
            return Decision(False, UNAVAILABLE_RULE, reason, judged=True, detail=err.cause)
        if not judgement.flagged:
            return _judged_allowed(judgement)
        return _judge_refusal(judgement, _PREFIX[context] + (_MINORS if judgement.minor else _REAL_PEOPLE))

    async def _stage1(
        self, fields: list[tuple[str, str]], context: str, owner: int | None
    ) -> tuple[safety.Verdict | None, bool]:
        """Stage 1 over every field: in a worker process when the input is long and the policy
        has one (`TooSlow` if it runs out of time), else here."""
        if (self._offload is not None and self._screen is safety.screen
                and sum(len(text) for _, text in fields) > INLINE_SCREEN_CHARS):
            return await self._offload.in_process(screen_fields, fields, context, owner=owner)
        return screen_fields(fields, context, self._screen)

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


def screen_fields(
    fields: list[tuple[str, str]], context: str, screen: Callable[..., safety.Verdict] = safety.screen
) -> tuple[safety.Verdict | None, bool]:
    """Stage 1 over every field (long ones in overlapping windows it reads whole): the first
    refusal, and whether any piece asked for the judge. Pure: runs in a worker process too."""
    screen_context = context if context in safety.CONTEXTS else "chat"
    asked = False
    for _, text in fields:
        for piece in windows(text, safety.MAX_CHARS, 200):
            verdict = screen(piece, for_image=context == "image", context=screen_context)
            if not verdict.allowed:
                return verdict, asked
            asked = asked or verdict.judge
    return None, asked


def _too_long(fields: list[tuple[str, str]], context: str) -> Decision | None:
    if sum(len(text) for _, text in fields) > MAX_CHECK_CHARS:
        return Decision(False, TOO_LONG_RULE, _PREFIX[context] + _TOO_LONG)
    return None


def _stage1_refusal(verdict: safety.Verdict, context: str) -> Decision:
    # Stage 1 words its reasons for its own contexts; others (persona) get their prefix here.
    reason = verdict.reason if context in safety.CONTEXTS else _PREFIX[context] + verdict.reason
    return Decision(False, verdict.rule, reason, decisive=verdict.rule in MINOR_RULES)


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


async def audit(
    sessions: async_sessionmaker[AsyncSession], where: Where, *, kind: str, rule: str = "", detail: str = ""
) -> None:
    """Write one audit event (who, where, when, which rule; never the text)."""
    async with sessions.begin() as session:
        session.add(AuditEvent(
            guild_id=where.guild_id, channel_id=where.channel_id, user_id=where.user_id,
            kind=kind, rule=rule, detail=(detail or where.entry)[:300],
        ))


__all__ = [
    "ALLOWED",
    "ALWAYS_JUDGED",
    "BLOCK_FOR",
    "CONTEXTS",
    "MINOR_RULES",
    "OUTPUT_UNAVAILABLE",
    "STRIKE_THRESHOLD",
    "STRIKE_WINDOW",
    "UNAVAILABLE",
    "Background",
    "ContentPolicy",
    "Decision",
    "JudgeContext",
    "Where",
    "audit",
]
