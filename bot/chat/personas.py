"""Who a person is in a story: their persona (`{{user}}`), looked up on every turn and so cached.

(Which *character* speaks next in a group scene is `bot.chat.speakers`.)

A persona changed in this process is seen at once; one changed (or deleted) in another process
is seen within `TTL` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cache import TTLCache
from bot.store import personas
from bot.where import Where

TTL = 10.0


class Personas:
    """Personas, cached per user."""

    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.sessions = sessions
        self._personas = TTLCache(TTL, clock, max_entries=10_000)

    async def persona(self, user_id: int) -> tuple[str, str] | None:
        """(name, description) of the user's persona, or None."""
        return await self._personas.get_or_load(user_id, lambda: personas.persona_for(self.sessions, user_id))

    async def set(self, user_id: int, name: str, description: str) -> None:
        await personas.put(self.sessions, user_id, name, description)
        self._personas.forget(user_id)

    async def clear(self, user_id: int) -> bool:
        self._personas.forget(user_id)
        return await personas.clear(self.sessions, user_id)

    def forget(self, user_id: int) -> None:
        self._personas.forget(user_id)

    async def named(self, where: Where) -> Where:
        """`where` with the speaker's story name: their persona's, else the name they came with."""
        if where.user_id is None:
            return where
        persona = await self.persona(where.user_id)
        return replace(where, user_name=persona[0]) if persona else where
