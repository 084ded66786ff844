"""Applying the content screen at every input, with the audit log and repeated-attempt blocks.

`bot.safety.screen` decides; this module acts on the decision: it writes an audit event (who,
where, when, which rule — never the text), counts strikes for minors refusals, blocks a user who
keeps trying, and raises `Refused` with wording that never repeats the content.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import safety
from bot.errors import Refused
from bot.offload import Offload
from bot.store import users
from bot.store.models import AuditEvent

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


@dataclass(frozen=True, slots=True)
class Where:
    """Who did it and where, for the audit log."""

    user_id: int | None
    guild_id: int | None
    channel_id: int | None
    entry: str  # e.g. "chat", "imagine", "character import"


async def audit(
    sessions: async_sessionmaker[AsyncSession], where: Where, *, kind: str, rule: str = "", detail: str = ""
) -> None:
    async with sessions.begin() as session:
        session.add(AuditEvent(
            guild_id=where.guild_id, channel_id=where.channel_id, user_id=where.user_id,
            kind=kind, rule=rule, detail=(detail or where.entry)[:300],
        ))


async def refuse(
    sessions: async_sessionmaker[AsyncSession], where: Where, verdict: safety.Verdict, *, strike: bool = True
) -> Refused:
    """Record a refusal (and a strike for minors rules) and build the error to raise.

    `strike=False` for text the person did not write (a scene Venice described, a character's
    stored definition): it is refused and audited, but nobody is blamed for it.
    """
    await audit(sessions, where, kind="refusal", rule=verdict.rule)
    message = verdict.reason
    if strike and verdict.rule in MINOR_RULES and where.user_id is not None:
        strikes, blocked = await users.add_strike(
            sessions, where.user_id, window=STRIKE_WINDOW, threshold=STRIKE_THRESHOLD, block_for=BLOCK_FOR
        )
        if blocked is not None:
            await audit(sessions, where, kind="block", rule=verdict.rule, detail=f"blocked for {BLOCK_FOR}")
            message += " You are now blocked from this bot for 24 hours after repeated attempts."
        elif strikes == STRIKE_THRESHOLD - 1:
            message += " One more attempt and you will be blocked from this bot for 24 hours."
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
    """Screen each text; on the first refusal, record it and raise `Refused`.

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
    await check_texts(sessions, [text], where, for_image=for_image, strike=strike)


def output_verdict(text: str) -> safety.Verdict:
    """Screen model output before it is posted (the model is told all characters are adults, but
    Venice is not relied on as the safeguard)."""
    return safety.screen(text, context="output")
