"""The image queue shared by every bot process: one Venice key, one set of limits, one line.

Same rules and surface as `bot.images.queue.ImageQueue` (global, per-server and per-user
concurrency; first come, first served among those allowed to run; live positions; cancel), but
the line lives in the `image_slots` table, so N processes never send N times the jobs:
- a request is a row (`waiting`, then `running` while it holds a slot); every change to the line
  (a request joins, leaves, finishes) runs one dispatch under the queue lock (an advisory lock on
  PostgreSQL, the write lock on SQLite) that grants free slots to the earliest eligible rows,
  whichever process they belong to;
- a process learns that another one granted or moved its requests by polling, once per
  `poll_interval` for all its waiting requests together (one short transaction), and at once when
  the change is its own;
- rows of a process that stopped renewing its lease (`bot.store.processes`) neither count nor wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.images.queue import Cancelled, EntryState, PositionCallback
from bot.store.locks import serialize
from bot.store.models import ImageSlot, utcnow
from bot.store.processes import Process, alive

log = logging.getLogger(__name__)

QUEUE_LOCK = "image-queue"
WAITING, RUNNING = "waiting", "running"


@dataclass(frozen=True, slots=True)
class SlotRow:
    """One request in the shared line, as the dispatcher sees it."""

    id: int
    user_id: int
    guild_id: int | None
    state: str


def plan_dispatch(rows: list[SlotRow], *, global_limit: int, per_guild: int, per_user: int
                  ) -> tuple[list[int], dict[int, int]]:
    """(rows to start now, position of each row still waiting), `rows` in order of arrival.

    The earliest waiting row whose user and server are under their limits runs while the global
    limit allows; a blocked row is skipped, not waited for, so one busy user cannot hold up others.
    """
    running = [r for r in rows if r.state == RUNNING]
    total = len(running)
    by_user = Counter(r.user_id for r in running)
    by_guild = Counter(r.guild_id for r in running if r.guild_id is not None)
    granted: list[int] = []
    positions: dict[int, int] = {}
    for row in rows:
        if row.state != WAITING:
            continue
        if (total < global_limit and by_user[row.user_id] < per_user
                and (row.guild_id is None or by_guild[row.guild_id] < per_guild)):
            granted.append(row.id)
            total += 1
            by_user[row.user_id] += 1
            if row.guild_id is not None:
                by_guild[row.guild_id] += 1
        else:
            positions[row.id] = len(positions) + 1
    return granted, positions


@dataclass(eq=False)
class SharedQueueEntry:
    """One request's place in the shared line (create with `SharedImageQueue.submit`)."""

    user_id: int
    guild_id: int | None
    on_position: PositionCallback | None
    seq: int
    position: int = 0
    state: EntryState = EntryState.WAITING
    row_id: int | None = None
    _queue: SharedImageQueue | None = field(default=None, repr=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _entered: bool = field(default=False, repr=False)

    def cancel(self) -> bool:
        """Cancel this request if it has not started; True when that took it out of the line."""
        if self.state is not EntryState.WAITING:
            return False
        self.state = EntryState.CANCELLED
        self._wake.set()  # its waiting task leaves the line and raises Cancelled
        return True


class SharedImageQueue:
    """Admits image requests under the three limits, across every process on the database."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, owner: Process | None = None, global_limit: int = 4,
        per_guild: int = 2, per_user: int = 1, min_update_interval: float = 1.0, poll_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if min(global_limit, per_guild, per_user) < 1:
            raise ValueError("queue limits must be at least 1")
        self.sessions = sessions
        self.owner = owner
        self.global_limit = global_limit
        self.per_guild = per_guild
        self.per_user = per_user
        self.min_update_interval = min_update_interval
        self.poll_interval = poll_interval
        self._clock = clock
        self._seq = itertools.count(1)
        self._mine: dict[int, SharedQueueEntry] = {}  # row id -> this process's tickets in the line
        self._refreshing: asyncio.Task[None] | None = None
        # SQLite has one writer: this process's changes to the line take turns here rather than in
        # SQLite's busy handler (see `bot.limits`); PostgreSQL waits on the advisory lock.
        bind = sessions.kw.get("bind")
        self._one_writer = asyncio.Lock() if bind is not None and bind.dialect.name == "sqlite" else None

    def submit(self, user_id: int, guild_id: int | None, on_position: PositionCallback | None = None
               ) -> SharedQueueEntry:
        """A ticket for a request; it joins the line when its `slot()` is entered."""
        return SharedQueueEntry(user_id, guild_id, on_position, next(self._seq), _queue=self)

    @contextlib.asynccontextmanager
    async def slot(self, ticket: SharedQueueEntry) -> AsyncIterator[SharedQueueEntry]:
        """Join the line, wait for a slot (reporting the position), hold it for the body, free it.

        Raises Cancelled when the ticket is cancelled before it runs; a cancelled task leaves
        the line (or gives its slot back) before the cancellation goes on.
        """
        if ticket._queue is not self:
            raise ValueError("this ticket belongs to another queue")
        if ticket._entered:
            raise RuntimeError("a ticket's slot can be entered only once")
        ticket._entered = True
        if ticket.state is EntryState.CANCELLED:
            raise Cancelled()
        try:
            await self._join(ticket)
            await self._wait_turn(ticket)
        except BaseException:
            if ticket.row_id is not None:
                await asyncio.shield(self._leave(ticket))
            if ticket.state is EntryState.CANCELLED:
                raise Cancelled() from None
            raise
        try:
            yield ticket
        finally:
            ticket.state = EntryState.DONE
            await asyncio.shield(self._leave(ticket))

    # -- waiting ----------------------------------------------------------------------------------

    async def _wait_turn(self, ticket: SharedQueueEntry) -> None:
        reported: int | None = None
        last_report = -float("inf")
        next_poll = self._clock() + self.poll_interval
        while ticket.state is EntryState.WAITING:
            due: float | None = None
            if ticket.on_position is not None and ticket.position != reported:
                due = last_report + self.min_update_interval - self._clock()
                if due <= 0:
                    reported, last_report = ticket.position, self._clock()
                    await self._report(ticket, reported)
                    continue
            ticket._wake.clear()
            wait = max(0.0, next_poll - self._clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ticket._wake.wait(), wait if due is None else min(due, wait))
            if ticket.state is EntryState.WAITING and self._clock() >= next_poll:
                next_poll = self._clock() + self.poll_interval
                try:
                    await self._refresh()
                except Exception:  # the database blinked: keep the place, look again next time
                    log.warning("image queue: refreshing the line failed", exc_info=True)
        if ticket.state is EntryState.CANCELLED:
            raise Cancelled()

    @staticmethod
    async def _report(ticket: SharedQueueEntry, position: int) -> None:
        assert ticket.on_position is not None
        try:
            await ticket.on_position(position)
        except Exception:
            log.warning("queue position update failed", exc_info=True)

    async def _refresh(self) -> None:
        """One dispatch for all of this process's waiting tickets (concurrent callers share it)."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._locked(None), name="image-queue-refresh")
        await asyncio.shield(self._refreshing)

    # -- the line in the database -----------------------------------------------------------------

    async def _join(self, ticket: SharedQueueEntry) -> None:
        await self._locked(ticket, joining=True)

    async def _leave(self, ticket: SharedQueueEntry) -> None:
        await self._locked(ticket, joining=False)

    async def _locked(self, ticket: SharedQueueEntry | None, *, joining: bool = False) -> None:
        """Under the queue lock: add or remove `ticket`'s row, dispatch, and tell local tickets."""
        owner = self.owner.id if self.owner is not None else None
        async with self._one_writer or contextlib.nullcontext(), self.sessions.begin() as session:
            await serialize(session, QUEUE_LOCK)
            if ticket is not None and joining:
                row = ImageSlot(owner_id=owner, user_id=ticket.user_id, guild_id=ticket.guild_id, state=WAITING,
                                created_at=utcnow())
                session.add(row)
                await session.flush()
                ticket.row_id = int(row.id)
                self._mine[ticket.row_id] = ticket
            elif ticket is not None and ticket.row_id is not None:
                await session.execute(delete(ImageSlot).where(ImageSlot.id == ticket.row_id))
                self._mine.pop(ticket.row_id, None)
            states = await self._dispatch(session, owner)
        self._apply(states)

    async def _dispatch(self, session: AsyncSession, owner: int | None) -> dict[int, tuple[str, int]]:
        now = utcnow()
        live = alive(ImageSlot.owner_id, now)
        if owner is not None:
            live = or_(ImageSlot.owner_id == owner, live)  # our own rows, even if our lease lapsed
        rows = [SlotRow(*r) for r in (await session.execute(
            select(ImageSlot.id, ImageSlot.user_id, ImageSlot.guild_id, ImageSlot.state).where(live)
            .order_by(ImageSlot.id))).all()]
        lost = [t for rid, t in self._mine.items() if t.state is EntryState.WAITING
                and rid not in {r.id for r in rows}]
        for ticket in lost:  # our row was purged (a very long stall): join again, at the back
            row = ImageSlot(owner_id=owner, user_id=ticket.user_id, guild_id=ticket.guild_id, state=WAITING,
                            created_at=now)
            session.add(row)
            await session.flush()
            self._mine.pop(ticket.row_id or 0, None)
            ticket.row_id = int(row.id)
            self._mine[ticket.row_id] = ticket
            rows.append(SlotRow(ticket.row_id, ticket.user_id, ticket.guild_id, WAITING))
        granted, positions = plan_dispatch(rows, global_limit=self.global_limit, per_guild=self.per_guild,
                                           per_user=self.per_user)
        if granted:
            await session.execute(update(ImageSlot).where(ImageSlot.id.in_(granted)).values(state=RUNNING))
        states = {r.id: (r.state, 0) for r in rows}
        states.update({rid: (RUNNING, 0) for rid in granted})
        states.update({rid: (WAITING, pos) for rid, pos in positions.items()})
        return states

    def _apply(self, states: dict[int, tuple[str, int]]) -> None:
        """Tell this process's waiting tickets whether they run now, or where they stand."""
        for row_id, ticket in list(self._mine.items()):
            if ticket.state is not EntryState.WAITING or row_id not in states:
                continue
            state, position = states[row_id]
            if state == RUNNING:
                ticket.state, ticket.position = EntryState.RUNNING, 0
                ticket._wake.set()
            elif position != ticket.position:
                ticket.position = position
                ticket._wake.set()
