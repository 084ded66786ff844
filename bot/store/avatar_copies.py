"""Renewable copies of custom characters' pictures (`AvatarCopy`), see `bot.characters.avatar_urls`."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.locks import insert_for
from bot.store.models import AvatarCopy, CharacterRow, utcnow


async def get(sessions: async_sessionmaker[AsyncSession], character_id: int) -> AvatarCopy | None:
    async with sessions() as s:
        return await s.get(AvatarCopy, character_id)


async def save(sessions: async_sessionmaker[AsyncSession], character_id: int, channel_id: int, message_id: int,
               url: str) -> None:
    """Remember (or renew) where the character's picture is kept; one row per character."""
    async with sessions.begin() as s:
        values = {"character_id": character_id, "channel_id": channel_id, "message_id": message_id, "url": url,
                  "updated_at": utcnow()}
        statement = insert_for(s, AvatarCopy).values(**values)
        await s.execute(statement.on_conflict_do_update(
            index_elements=[AvatarCopy.character_id],
            set_={k: v for k, v in values.items() if k != "character_id"}))


async def forget(sessions: async_sessionmaker[AsyncSession], character_id: int) -> None:
    async with sessions.begin() as s:
        await s.execute(delete(AvatarCopy).where(AvatarCopy.character_id == character_id))


async def picture(sessions: async_sessionmaker[AsyncSession], character_id: int) -> bytes | None:
    """The character's stored picture (PNG), if it has one."""
    async with sessions() as s:
        return await s.scalar(select(CharacterRow.avatar_png).where(CharacterRow.id == character_id))


async def of_owner(sessions: async_sessionmaker[AsyncSession], owner_id: int) -> list[tuple[int, int]]:
    """(channel id, message id) of every copy of an owner's characters' pictures."""
    async with sessions() as s:
        rows = await s.execute(select(AvatarCopy.channel_id, AvatarCopy.message_id)
                               .join(CharacterRow, CharacterRow.id == AvatarCopy.character_id)
                               .where(CharacterRow.owner_id == owner_id))
        return [(int(c), int(m)) for c, m in rows.all()]
