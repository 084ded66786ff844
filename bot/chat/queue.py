"""One turn at a time per channel: a channel's messages are answered in order, channels at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import TracebackType


class ChannelQueue:
    """Answers one channel's messages in order; channels run concurrently. Locks live only while used."""

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    def waiting(self, channel_id: int) -> int:
        return self._users.get(channel_id, 0)

    @contextlib.asynccontextmanager
    async def turn(self, channel_id: int) -> AsyncIterator[None]:
        """Wait for the channel's turn and hold it."""
        async with self.line_up(channel_id):
            yield

    def line_up(self, channel_id: int) -> Spot:
        """Take a place in the channel's line now (in arrival order) and wait for it later:
        `async with spot:` holds the turn; `spot.leave()` gives the place up unused."""
        lock = self._locks.setdefault(channel_id, asyncio.Lock())
        self._users[channel_id] = self._users.get(channel_id, 0) + 1
        return Spot(self, channel_id, lock)

    def _left(self, channel_id: int) -> None:
        self._users[channel_id] -= 1
        if self._users[channel_id] == 0:
            del self._users[channel_id]
            self._locks.pop(channel_id, None)


class Spot:
    """A place in a channel's line (asyncio locks serve waiters first come, first served)."""

    def __init__(self, queue: ChannelQueue, channel_id: int, lock: asyncio.Lock) -> None:
        self._queue = queue
        self._channel_id = channel_id
        self._lock = lock
        self._acquiring: asyncio.Task[bool] = asyncio.create_task(lock.acquire(), name=f"chat-line-{channel_id}")
        self._done = False

    async def __aenter__(self) -> None:
        try:
            await asyncio.shield(self._acquiring)
        except BaseException:
            self.leave()
            raise

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._lock.release()
        self._finish()

    def leave(self) -> None:
        """Give the place up without taking the turn (the request was refused before it came)."""
        if self._done:
            return
        if self._acquiring.done() and not self._acquiring.cancelled():
            self._lock.release()
        elif not self._acquiring.done():
            # Still waiting: release the turn the moment it is granted, so the line moves on.
            self._acquiring.add_done_callback(lambda task: None if task.cancelled() else self._lock.release())
        self._finish()

    def _finish(self) -> None:
        if not self._done:
            self._done = True
            self._queue._left(self._channel_id)
