"""A fair image queue: global, per-server and per-user concurrency limits, with live positions.

Usage, from one event loop:

    ticket = queue.submit(user_id, guild_id, on_position=show_position)
    # … post "queued" with a cancel button that calls ticket.cancel() …
    async with queue.slot(ticket):      # raises Cancelled if the user cancelled while waiting
        await generate_image()

Whenever a slot frees, the earliest waiting ticket whose user and server are under their limits
runs. Because a user may hold at most `per_user` slots and a server at most `per_guild`, one busy
user or server cannot take the capacity others need, and skipping over blocked tickets keeps
the rest moving.

A ticket's position is how many tickets submitted before it are still waiting, plus one. New
tickets only ever join at the back, so a position never goes up; it is reported through
`on_position` from the waiting task itself, at most once per `min_update_interval`, always with
the latest value. The body of `async with` starting is the signal that the ticket runs.

Not thread-safe: all calls must come from the event loop that owns the queue (no locks are
needed because no bookkeeping step awaits).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum

log = logging.getLogger(__name__)

PositionCallback = Callable[[int], Awaitable[None]]


class Cancelled(Exception):
    """The ticket was cancelled while it waited; nothing ran."""


class EntryState(Enum):
    """Where a ticket is in its life."""

    WAITING = "waiting"
    RUNNING = "running"  # holds a slot (granted; the body of `slot()` may not have started yet)
    DONE = "done"
    CANCELLED = "cancelled"


@dataclass(eq=False)
class QueueEntry:
    """One image request's place in the queue. Create tickets with `ImageQueue.submit`."""

    user_id: int
    guild_id: int | None
    on_position: PositionCallback | None
    seq: int
    submitted_at: float
    position: int = 0
    state: EntryState = EntryState.WAITING
    _queue: ImageQueue | None = field(default=None, repr=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _entered: bool = field(default=False, repr=False)

    def cancel(self) -> bool:
        """Cancel this request if it has not started; True when that took it out of the queue.

        A waiting ticket leaves the queue and its `slot()` raises Cancelled. A ticket granted a
        slot that its owner has not entered yet gives the slot back. A running ticket is not
        touched (False): the caller stops its own work, and leaving `slot()` frees the slot.
        """
        if self._queue is None:
            return False
        return self._queue._cancel(self)


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """Counts for a status display."""

    running: int
    waiting: int
    global_limit: int
    per_guild: int
    per_user: int
    running_by_guild: dict[int, int]
    running_by_user: dict[int, int]


class ImageQueue:
    """Admits image requests under three concurrency limits, in fair FIFO order."""

    def __init__(
        self,
        global_limit: int = 4,
        per_guild: int = 2,
        per_user: int = 1,
        *,
        min_update_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if min(global_limit, per_guild, per_user) < 1:
            raise ValueError("queue limits must be at least 1")
        if min_update_interval < 0:
            raise ValueError("min_update_interval cannot be negative")
        self.global_limit = global_limit
        self.per_guild = per_guild
        self.per_user = per_user
        self.min_update_interval = min_update_interval
        self._clock = clock
        self._waiting: list[QueueEntry] = []
        self._running = 0
        self._by_user: Counter[int] = Counter()
        self._by_guild: Counter[int] = Counter()
        self._seq = itertools.count(1)

    def submit(self, user_id: int, guild_id: int | None, on_position: PositionCallback | None = None) -> QueueEntry:
        """Queue a request. It may be granted a slot at once (then `position` is 0).

        Every ticket must afterwards either enter `slot()` or be cancelled, or its slot is held.
        `guild_id` None (a DM) is only subject to the global and per-user limits.
        """
        ticket = QueueEntry(user_id, guild_id, on_position, next(self._seq), self._clock(), _queue=self)
        self._waiting.append(ticket)
        ticket.position = len(self._waiting)
        self._dispatch()
        return ticket

    @contextlib.asynccontextmanager
    async def slot(self, ticket: QueueEntry) -> AsyncIterator[QueueEntry]:
        """Wait for the ticket's turn, hold a slot for the body, and free it afterwards.

        Raises Cancelled when the ticket is cancelled before it runs. If the waiting task
        itself is cancelled (asyncio), the ticket leaves the queue or gives back its slot.
        """
        if ticket._queue is not self:
            raise ValueError("this ticket belongs to another queue")
        if ticket._entered:
            raise RuntimeError("a ticket's slot can be entered only once")
        ticket._entered = True
        try:
            await self._wait_turn(ticket)
        except BaseException:
            # Covers asyncio cancellation too: never leave a ghost waiter or a held slot.
            if ticket.state is EntryState.WAITING:
                self._cancel(ticket)
            elif ticket.state is EntryState.RUNNING:
                self._release(ticket)
            raise
        try:
            yield ticket
        finally:
            self._release(ticket)

    def snapshot(self) -> QueueSnapshot:
        """How busy the queue is right now."""
        return QueueSnapshot(
            running=self._running,
            waiting=len(self._waiting),
            global_limit=self.global_limit,
            per_guild=self.per_guild,
            per_user=self.per_user,
            running_by_guild=dict(+self._by_guild),
            running_by_user=dict(+self._by_user),
        )

    async def _wait_turn(self, ticket: QueueEntry) -> None:
        """Sleep until granted or cancelled, reporting position changes at a bounded rate."""
        reported: int | None = None
        last_report = -float("inf")
        while ticket.state is EntryState.WAITING:
            timeout: float | None = None
            if ticket.on_position is not None and ticket.position != reported:
                due = last_report + self.min_update_interval - self._clock()
                if due <= 0:
                    reported, last_report = ticket.position, self._clock()
                    await self._report(ticket, reported)
                    continue  # the state may have changed while the callback ran
                timeout = due  # wake up to send the newest position once the interval passes
            ticket._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ticket._wake.wait(), timeout)
        if ticket.state is EntryState.CANCELLED:
            raise Cancelled()

    @staticmethod
    async def _report(ticket: QueueEntry, position: int) -> None:
        """Call the position callback; a failed status edit must not lose the user's place."""
        assert ticket.on_position is not None
        try:
            await ticket.on_position(position)
        except Exception:
            log.warning("queue position update failed", exc_info=True)

    def _eligible(self, ticket: QueueEntry) -> bool:
        if self._by_user[ticket.user_id] >= self.per_user:
            return False
        return ticket.guild_id is None or self._by_guild[ticket.guild_id] < self.per_guild

    def _dispatch(self) -> None:
        """Grant free slots to the earliest eligible waiters, then refresh everyone's position."""
        if self._running < self.global_limit:
            still_waiting: list[QueueEntry] = []
            for ticket in self._waiting:
                if self._running < self.global_limit and self._eligible(ticket):
                    self._grant(ticket)
                else:
                    still_waiting.append(ticket)
            self._waiting = still_waiting
        for index, ticket in enumerate(self._waiting, start=1):
            if ticket.position != index:
                ticket.position = index
                ticket._wake.set()

    def _grant(self, ticket: QueueEntry) -> None:
        self._running += 1
        self._by_user[ticket.user_id] += 1
        if ticket.guild_id is not None:
            self._by_guild[ticket.guild_id] += 1
        ticket.state = EntryState.RUNNING
        ticket.position = 0
        ticket._wake.set()

    def _release(self, ticket: QueueEntry) -> None:
        """Give back a running ticket's slot (idempotent) and let the next one in."""
        if ticket.state is not EntryState.RUNNING:
            return
        ticket.state = EntryState.DONE
        self._running -= 1
        self._by_user[ticket.user_id] -= 1
        if ticket.guild_id is not None:
            self._by_guild[ticket.guild_id] -= 1
        self._dispatch()

    def _cancel(self, ticket: QueueEntry) -> bool:
        if ticket.state is EntryState.WAITING:
            self._waiting.remove(ticket)
            ticket.state = EntryState.CANCELLED
            ticket.position = 0
            ticket._wake.set()
            self._dispatch()
            return True
        if ticket.state is EntryState.RUNNING and not ticket._entered:
            self._release(ticket)
            ticket.state = EntryState.CANCELLED
            return True
        return False
