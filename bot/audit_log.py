"""Reading the audit log, and forgetting it after a while.

The log (`bot.policy.audit` writes it) answers "who, where, when, which rule" for refusals,
safety blocks, Venice safety flags, admin changes and privacy requests. It never holds the refused
text. Events are kept for `RETENTION` (90 days): long enough for a server's moderators to look
into a pattern of refusals, short enough that the bot does not keep a lasting record of anyone.
`purge_expired` runs once a day across all bot processes: each wakes hourly and the one that
claims the day's run (`Process.claim`) purges.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.models import AuditEvent, utcnow

RETENTION = timedelta(days=90)
LISTING_LIMIT = 25
# What an admin may filter by; the same words `bot.policy` and the cogs write.
KINDS = ("refusal", "block", "venice_flag", "admin", "privacy")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A plain copy of one audit event, safe to use after the session closes."""

    id: int
    guild_id: int | None
    channel_id: int | None
    user_id: int | None
    kind: str
    rule: str
    detail: str
    created_at: datetime

    @classmethod
    def of(cls, row: AuditEvent) -> AuditEntry:
        return cls(
            id=row.id, guild_id=row.guild_id, channel_id=row.channel_id, user_id=row.user_id,
            kind=row.kind, rule=row.rule or "", detail=row.detail or "", created_at=row.created_at,
        )


async def recent(
    sessions: async_sessionmaker[AsyncSession],
    *,
    guild_id: int | None,
    user_id: int | None = None,
    kind: str | None = None,
    limit: int = LISTING_LIMIT,
) -> list[AuditEntry]:
    """The newest events of one server (or, with `guild_id` None, of DMs), newest first.

    Uses the (guild_id, created_at) index, so a busy server's log lists as fast as a quiet one's.
    """
    where = AuditEvent.guild_id.is_(None) if guild_id is None else AuditEvent.guild_id == guild_id
    query = select(AuditEvent).where(where)
    if user_id is not None:
        query = query.where(AuditEvent.user_id == user_id)
    if kind:
        query = query.where(AuditEvent.kind == kind)
    query = query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(max(1, limit))
    async with sessions() as session:
        rows = (await session.scalars(query)).all()
    return [AuditEntry.of(r) for r in rows]


async def about_user(sessions: async_sessionmaker[AsyncSession], user_id: int) -> list[AuditEntry]:
    """Every event about one user, oldest first (for their privacy export)."""
    query = select(AuditEvent).where(AuditEvent.user_id == user_id).order_by(AuditEvent.id)
    async with sessions() as session:
        rows = (await session.scalars(query)).all()
    return [AuditEntry.of(r) for r in rows]


async def purge_expired(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime | None = None, retention: timedelta = RETENTION
) -> int:
    """Delete events older than `retention`; returns how many went."""
    cutoff = (now or utcnow()) - retention
    async with sessions.begin() as session:
        result = await session.execute(delete(AuditEvent).where(AuditEvent.created_at < cutoff))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
