"""Per-user flags: the DM unlock, safety strikes and temporary blocks.

The row is created on demand by an upsert: a new user's first commands often arrive together
(several in their DM at once), and a get-then-add would let two of them insert the same row.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.locks import insert_for
from bot.store.models import UserFlag, utcnow


async def _locked_flags(session: AsyncSession, user_id: int) -> UserFlag:
    """The user's row, created if missing, locked for this transaction (read-modify-write)."""
    await session.execute(
        insert_for(session, UserFlag).values(user_id=user_id, strikes=0).on_conflict_do_nothing(
            index_elements=["user_id"])
    )
    # FOR UPDATE on PostgreSQL; on SQLite the insert above already holds the write lock.
    row = await session.scalar(select(UserFlag).where(UserFlag.user_id == user_id).with_for_update()
                               .execution_options(populate_existing=True))
    assert row is not None
    return row


async def unlock_dm(sessions: async_sessionmaker[AsyncSession], user_id: int) -> None:
    """Remember that this user ran one of our (age-restricted) commands in their DM with the bot."""
    if await dm_unlocked(sessions, user_id):
        return  # the usual case: one read, no write on every DM command
    async with sessions.begin() as session:
        stmt = insert_for(session, UserFlag).values(user_id=user_id, strikes=0, dm_unlocked_at=utcnow())
        await session.execute(stmt.on_conflict_do_update(
            index_elements=["user_id"], set_={"dm_unlocked_at": stmt.excluded.dm_unlocked_at},
            where=UserFlag.dm_unlocked_at.is_(None),
        ))


async def dm_unlocked(sessions: async_sessionmaker[AsyncSession], user_id: int) -> bool:
    async with sessions() as session:
        value = await session.scalar(select(UserFlag.dm_unlocked_at).where(UserFlag.user_id == user_id))
        return value is not None


async def blocked_until(sessions: async_sessionmaker[AsyncSession], user_id: int) -> datetime | None:
    """When the user's block ends, or None if they are not blocked now."""
    async with sessions() as session:
        until = await session.scalar(select(UserFlag.blocked_until).where(UserFlag.user_id == user_id))
    return until if until is not None and until > utcnow() else None


async def add_strike(
    sessions: async_sessionmaker[AsyncSession],
    user_id: int,
    *,
    window: timedelta,
    threshold: int,
    block_for: timedelta,
) -> tuple[int, datetime | None]:
    """Count a minors refusal; past `threshold` within `window` the user is blocked for `block_for`.

    Returns (strikes in the current window, block end if this strike blocked them).
    """
    now = utcnow()
    async with sessions.begin() as session:
        row = await _locked_flags(session, user_id)
        if row.strikes_since is None or now - row.strikes_since > window:
            row.strikes_since = now
            row.strikes = 0
        row.strikes = (row.strikes or 0) + 1
        if row.strikes >= threshold:
            row.blocked_until = now + block_for
            row.strikes = 0
            row.strikes_since = None
            return threshold, row.blocked_until
        return row.strikes, None


async def voice_off(sessions: async_sessionmaker[AsyncSession], user_id: int) -> bool:
    """Did this person turn spoken replies off for themselves?"""
    async with sessions() as session:
        return bool(await session.scalar(select(UserFlag.voice_off).where(UserFlag.user_id == user_id)))


async def set_voice_off(sessions: async_sessionmaker[AsyncSession], user_id: int, off: bool) -> None:
    """Spoken replies off (True) or on again for this person (one upsert)."""
    async with sessions.begin() as session:
        stmt = insert_for(session, UserFlag).values(user_id=user_id, strikes=0, voice_off=off)
        await session.execute(stmt.on_conflict_do_update(index_elements=["user_id"], set_={"voice_off": off}))
