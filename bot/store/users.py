"""Per-user flags: the DM unlock, safety strikes and temporary blocks."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.models import UserFlag, utcnow


async def _flags(session: AsyncSession, user_id: int) -> UserFlag:
    row = await session.get(UserFlag, user_id)
    if row is None:
        row = UserFlag(user_id=user_id, strikes=0)
        session.add(row)
    return row


async def unlock_dm(sessions: async_sessionmaker[AsyncSession], user_id: int) -> None:
    """Remember that this user ran one of our (age-restricted) commands in their DM with the bot."""
    async with sessions.begin() as session:
        row = await _flags(session, user_id)
        if row.dm_unlocked_at is None:
            row.dm_unlocked_at = utcnow()


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
        row = await _flags(session, user_id)
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
