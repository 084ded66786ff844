"""Per-channel state chosen by users: the character and the image seed (threads inherit)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.locks import insert_for
from bot.store.models import ChannelState, utcnow


@dataclass(frozen=True, slots=True)
class ChannelView:
    """A channel's state with inheritance applied, and where each value came from."""

    character_ref: str | None
    character_source: str  # "channel" | "parent channel" | "none"
    seed: int | None
    seed_locked: bool
    seed_source: str


async def load(
    sessions: async_sessionmaker[AsyncSession], channel_id: int, parent_id: int | None = None
) -> ChannelView:
    async with sessions() as session:
        own = await session.get(ChannelState, channel_id)
        parent = await session.get(ChannelState, parent_id) if parent_id else None
    character_ref, character_source = None, "none"
    for row, label in ((own, "channel"), (parent, "parent channel")):
        if row is not None and row.character_ref:
            character_ref, character_source = row.character_ref, label
            break
    seed, locked, seed_source = None, False, "none"
    for row, label in ((own, "channel"), (parent, "parent channel")):
        if row is not None and row.seed is not None:
            seed, locked, seed_source = row.seed, bool(row.seed_locked), label
            break
    return ChannelView(character_ref, character_source, seed, locked, seed_source)


async def _upsert(session: AsyncSession, channel_id: int, guild_id: int | None, **values: object) -> None:
    """Create the channel's row or change `values` in it: one statement, so concurrent first
    writes to a channel cannot both insert."""
    row = {"channel_id": channel_id, "guild_id": guild_id, "seed_locked": False, "updated_at": utcnow(), **values}
    stmt = insert_for(session, ChannelState).values(**row)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["channel_id"], set_={**values, "updated_at": stmt.excluded.updated_at}))


async def set_character(
    sessions: async_sessionmaker[AsyncSession], channel_id: int, guild_id: int | None, ref: str | None
) -> None:
    async with sessions.begin() as session:
        await _upsert(session, channel_id, guild_id, character_ref=ref)


async def set_seed(
    sessions: async_sessionmaker[AsyncSession], channel_id: int, guild_id: int | None, seed: int | None, *, locked: bool
) -> None:
    async with sessions.begin() as session:
        await _upsert(session, channel_id, guild_id, seed=seed, seed_locked=locked)
