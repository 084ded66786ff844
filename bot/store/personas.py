"""Who a user is in the story (`{{user}}`): one persona per user, used in every conversation.

The persona's text is screened before it is stored (the cog does that with `bot.policy`), because
it goes into every prompt the user's turns are part of.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.locks import insert_for
from bot.store.models import Persona, utcnow

NAME_LIMIT = 100
DESCRIPTION_LIMIT = 2000


async def get(sessions: async_sessionmaker[AsyncSession], user_id: int) -> Persona | None:
    async with sessions() as session:
        return await session.get(Persona, user_id)


async def put(sessions: async_sessionmaker[AsyncSession], user_id: int, name: str, description: str) -> None:
    """Create or replace the user's persona (callers screen and bound the text first)."""
    values = {"name": name[:NAME_LIMIT], "description": description[:DESCRIPTION_LIMIT], "updated_at": utcnow()}
    async with sessions.begin() as session:
        stmt = insert_for(session, Persona).values(user_id=user_id, **values)
        await session.execute(stmt.on_conflict_do_update(index_elements=["user_id"], set_=values))


async def clear(sessions: async_sessionmaker[AsyncSession], user_id: int) -> bool:
    """Forget the persona; False when there was none."""
    async with sessions.begin() as session:
        row = await session.get(Persona, user_id)
        if row is None:
            return False
        await session.delete(row)
        return True


async def persona_for(sessions: async_sessionmaker[AsyncSession], user_id: int) -> tuple[str, str] | None:
    """(name, description) of the user's persona for `{{user}}` in prompts, or None if unset."""
    row = await get(sessions, user_id)
    if row is None or not row.name.strip():
        return None
    return row.name, row.description or ""
