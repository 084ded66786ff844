"""The judge's cache: verdicts by content hash, shared by every process through the database.

Written with an upsert (`ON CONFLICT DO NOTHING`): two processes judging the same content at once
both insert, the second insert is a no-op, and neither fails. Reading and inserting are separate
calls on purpose: the judge's Venice call sits between them and must not hold a transaction open.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.models import JudgeVerdict, utcnow

__all__ = ["CachedVerdict", "count", "get", "put"]


@dataclass(frozen=True, slots=True)
class CachedVerdict:
    """A stored verdict (what the judge answered), without any of the content."""

    minor_sexual: bool
    real_person_sexual: bool
    confidence: str
    reason: str
    model: str


async def get(sessions: async_sessionmaker[AsyncSession], key: str) -> CachedVerdict | None:
    """The verdict stored for `key`, or None."""
    async with sessions() as session:
        row = await session.get(JudgeVerdict, key)
    if row is None:
        return None
    return CachedVerdict(row.minor_sexual, row.real_person_sexual, row.confidence, row.reason, row.model)


async def put(sessions: async_sessionmaker[AsyncSession], key: str, kind: str, verdict: CachedVerdict) -> None:
    """Store `verdict` for `key` unless a verdict is already stored (the first one stays)."""
    values = {
        "key": key, "kind": kind, "minor_sexual": verdict.minor_sexual,
        "real_person_sexual": verdict.real_person_sexual, "confidence": verdict.confidence,
        "reason": verdict.reason, "model": verdict.model, "created_at": utcnow(),
    }
    async with sessions.begin() as session:
        dialect = session.bind.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await session.execute(insert(JudgeVerdict).values(**values).on_conflict_do_nothing(index_elements=["key"]))


async def count(sessions: async_sessionmaker[AsyncSession]) -> int:
    """How many verdicts are stored (for tests and operators)."""
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(JudgeVerdict)) or 0)
