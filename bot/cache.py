"""A small time-limited cache: Venice's catalogue (models, styles, characters), and the lookups
every chat turn makes (settings, a channel's conversation and character, personas).

Concurrent misses for the same key share one load (a per-key lock), so the start-up burst of
`list_models` calls from several cogs costs one request. Values expire `ttl` seconds after they
were loaded; an owner that changes a value in this process `forget`s it at once, and other
processes (shards sharing one database) see the change when their copy expires.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

__all__ = ["TTLCache"]

T = TypeVar("T")
_MISS = object()


class TTLCache:
    """Values expire `ttl` seconds after they were loaded, measured by the injected clock."""

    def __init__(self, ttl: float, clock: Callable[[], float], max_entries: int = 512) -> None:
        self.ttl = ttl
        self._clock = clock
        self._max = max_entries
        self._items: dict[Hashable, tuple[float, Any]] = {}
        self._locks: dict[Hashable, asyncio.Lock] = {}

    def _fresh(self, key: Hashable) -> Any:
        hit = self._items.get(key)
        if hit is None or hit[0] <= self._clock():
            return _MISS
        return hit[1]

    async def get_or_load(self, key: Hashable, loader: Callable[[], Awaitable[T]]) -> T:
        """The cached value for `key`, loading it (once, even under concurrency) when missing."""
        value = self._fresh(key)
        if value is not _MISS:
            return value
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                value = self._fresh(key)
                if value is not _MISS:
                    return value
                loaded = await loader()
                if self.ttl > 0:
                    self._items[key] = (self._clock() + self.ttl, loaded)
                    self._prune()
                return loaded
        finally:
            # Drop idle locks so one-off keys (character searches) do not pile up.
            if not lock.locked() and self._locks.get(key) is lock:
                del self._locks[key]

    def put(self, key: Hashable, value: Any) -> None:
        """Remember a value this process just wrote (it expires like a loaded one)."""
        if self.ttl > 0:
            self._items[key] = (self._clock() + self.ttl, value)
            self._prune()

    def pop(self, key: Hashable) -> Any:
        """Take a value out (None when missing or expired)."""
        value = self._fresh(key)
        self._items.pop(key, None)
        return None if value is _MISS else value

    def forget(self, key: Hashable) -> None:
        """Drop one key: the next read loads it again."""
        self._items.pop(key, None)

    def forget_if(self, predicate: Callable[[Hashable], bool]) -> None:
        """Drop every key `predicate` accepts (e.g. every scope chain that contains a channel)."""
        for key in [k for k in self._items if predicate(k)]:
            del self._items[key]

    def clear(self) -> None:
        """Forget everything (e.g. after an admin changes models)."""
        self._items.clear()

    def _prune(self) -> None:
        if len(self._items) <= self._max:
            return
        now = self._clock()
        for key in [k for k, (expires, _) in self._items.items() if expires <= now]:
            del self._items[key]
        while len(self._items) > self._max:
            del self._items[next(iter(self._items))]  # oldest insertion first
