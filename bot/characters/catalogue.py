"""Venice's adult character catalogue, paged locally.

Venice's `GET /characters` has no total count and no cursor, only `limit`/`offset`. Browsing one
character per page would otherwise cost a request per click, so each (search, tag) listing is
fetched in batches of `BATCH` and paged in memory; the next batch is only asked for when the user
pages past the end of what is loaded. This is a cache, not shared state: another process (or a
restart) simply loads the batches it needs again, and the Venice client caches those calls too.

Every description is screened by the content policy before it is shown or used; a character
whose name, description or tags are flagged is left out of every listing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot import safety
from bot.venice.errors import VeniceError

if TYPE_CHECKING:
    from bot.venice.client import VeniceClient
    from bot.venice.types import VeniceCharacter

log = logging.getLogger(__name__)

BATCH = 25
MAX_INDEX = 999  # a browse session cannot page further than this (custom ids stay short)


def screen_text(character: VeniceCharacter) -> str:
    """Everything of a Venice character that users or the model will read."""
    return "\n".join([character.name, character.description or "", " ".join(character.tags)])


@dataclass(frozen=True, slots=True)
class Page:
    """One character of a listing, with what the paging buttons need to know."""

    character: VeniceCharacter | None
    index: int
    known: int  # how many characters are loaded so far for this listing
    more: bool  # whether Venice may have more after the loaded ones

    @property
    def has_prev(self) -> bool:
        return self.index > 0

    @property
    def has_next(self) -> bool:
        return self.index + 1 < self.known or (self.more and self.index + 1 <= MAX_INDEX)


@dataclass
class _Listing:
    entries: list[VeniceCharacter] = field(default_factory=list)
    next_offset: int = 0
    exhausted: bool = False
    loaded_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Catalogue:
    """Adult characters from Venice, screened and paged in memory per (search, tag)."""

    def __init__(
        self,
        venice: VeniceClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        ttl: float = 600.0,
        max_listings: int = 200,
    ) -> None:
        self.venice = venice
        self._clock = clock
        self.ttl = ttl
        self._max = max_listings
        self._listings: OrderedDict[tuple[str, str], _Listing] = OrderedDict()
        self._verdicts: OrderedDict[str, bool] = OrderedDict()
        self._background: set[asyncio.Task[object]] = set()

    # -- screening --------------------------------------------------------------------------------

    def allowed(self, character: VeniceCharacter) -> bool:
        """Whether the content screen lets this character be shown or used (cached per slug)."""
        key = f"{character.slug}\x00{hash(screen_text(character))}"
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = safety.screen(screen_text(character)).allowed
            if not verdict:
                log.info("catalogue: Venice character %s left out by the content screen", character.slug)
            self._verdicts[key] = verdict
            if len(self._verdicts) > 5000:
                self._verdicts.popitem(last=False)
        return verdict

    # -- listings ---------------------------------------------------------------------------------

    def _listing(self, search: str, tag: str) -> _Listing:
        key = (search.strip().lower(), tag.strip().lower())
        listing = self._listings.get(key)
        if listing is None or (listing.loaded_at and self._clock() - listing.loaded_at > self.ttl):
            listing = _Listing()
            self._listings[key] = listing
        self._listings.move_to_end(key)
        while len(self._listings) > self._max:
            self._listings.popitem(last=False)
        return listing

    async def _load_batch(self, listing: _Listing, search: str, tag: str) -> None:
        batch = await self.venice.list_characters(
            search=search.strip() or None,
            tags=[tag.strip()] if tag.strip() else None,
            adult=True,
            limit=BATCH,
            offset=listing.next_offset,
        )
        seen = {c.slug for c in listing.entries}
        listing.entries.extend(c for c in batch if c.slug not in seen and self.allowed(c))
        listing.next_offset += BATCH
        # No total count: a short page means the end (see the Venice reference, §4.1).
        listing.exhausted = len(batch) < BATCH
        if not listing.loaded_at:
            listing.loaded_at = self._clock()

    async def page(self, *, search: str = "", tag: str = "", index: int = 0) -> Page:
        """The character at `index` of the listing, loading batches only as far as needed."""
        index = max(0, min(index, MAX_INDEX))
        listing = self._listing(search, tag)
        async with listing.lock:
            while len(listing.entries) <= index and not listing.exhausted:
                await self._load_batch(listing, search, tag)
        if not listing.entries:
            return Page(None, 0, 0, False)
        index = min(index, len(listing.entries) - 1)
        return Page(listing.entries[index], index, len(listing.entries), not listing.exhausted)

    def loaded(self) -> list[VeniceCharacter]:
        """Every screened character already in memory, newest listings first, without duplicates."""
        seen: set[str] = set()
        out: list[VeniceCharacter] = []
        for listing in reversed(self._listings.values()):
            for character in listing.entries:
                if character.slug not in seen:
                    seen.add(character.slug)
                    out.append(character)
        return out

    # -- autocomplete -----------------------------------------------------------------------------

    async def suggestions(self, text: str, *, wait: float = 1.5, limit: int = 25) -> list[VeniceCharacter]:
        """Characters whose name matches `text`, answering within `wait` seconds whatever Venice does.

        What is already loaded answers at once. When that is not enough, the first batch of a
        Venice search is started in the background; if it is back within `wait` it is used,
        otherwise it finishes later and warms the cache for the next keystroke.
        """
        needle = text.strip().lower()
        matches = [c for c in self.loaded() if not needle or needle in c.name.lower() or needle in c.slug]
        if len(matches) >= limit:
            return matches[:limit]
        listing = self._listing(needle, "")
        if not listing.entries and not listing.exhausted:
            task = self._load_in_background(listing, needle)
            # shield: a slow search keeps running after the timeout and fills the cache.
            with contextlib.suppress(TimeoutError, VeniceError):
                await asyncio.wait_for(asyncio.shield(task), timeout=wait)
        seen = {c.slug for c in matches}
        # Venice's search also matches descriptions and tags, so its results are all kept.
        for character in listing.entries:
            if character.slug not in seen:
                seen.add(character.slug)
                matches.append(character)
        return matches[:limit]

    def _load_in_background(self, listing: _Listing, search: str) -> asyncio.Task[object]:
        async def load() -> None:
            async with listing.lock:
                if not listing.entries and not listing.exhausted:
                    await self._load_batch(listing, search, "")

        task: asyncio.Task[object] = asyncio.create_task(load())
        self._background.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[object]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.info("catalogue: background character search failed: %s", task.exception())

    async def close(self) -> None:
        """Cancel background loads (called when the bot shuts down)."""
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
