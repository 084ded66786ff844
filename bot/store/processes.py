"""This bot process in the database: who owns work in flight, and who runs the periodic jobs.

Each process registers a row (its shards) with a lease on being alive, `expires_at`, which a
heartbeat renews every third of `PROCESS_TTL` (one UPDATE every 15 s, not a write per second).
Work in flight names its process (`owner_id` on streaming turns, usage reservations and image
queue slots), so:
- a concurrency slot or queue slot held by a process that died stops counting once its lease
  runs out (within `PROCESS_TTL`), not after the work's own ten-minute backstop;
- start-up recovery settles only the work of this process's shards (a previous incarnation of
  it) or of processes that stopped renewing, never another live process's;
- `claim` lets exactly one process run a periodic job (retention, purges) per period.
A process that shuts down cleanly deletes its row, so what it leaves is free at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, exists, or_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.locks import insert_for
from bot.store.models import ImageSlot, JobRun, ProcessRow, Usage, utcnow

log = logging.getLogger(__name__)

PROCESS_TTL = timedelta(seconds=45)
HOUSEKEEPING_EVERY = timedelta(minutes=5)
FORGET_AFTER = timedelta(days=1)  # dead processes' rows are kept this long for operators
EPOCH = datetime(2000, 1, 1, tzinfo=utcnow().tzinfo)


def alive(owner_id: ColumnElement[int | None] | object, now: datetime) -> ColumnElement[bool]:
    """SQL: the row's owner process still renews its lease (rows without an owner count as alive)."""
    column = owner_id  # a column of the table being filtered, e.g. Usage.owner_id
    return or_(
        column.is_(None),  # type: ignore[attr-defined]
        exists().where(ProcessRow.id == column, ProcessRow.expires_at > now),
    )


def overlaps(mine: Iterable[int] | None, theirs: Iterable[int] | None) -> bool:
    """Whether two processes' shard sets share a shard (None means every shard)."""
    if mine is None:
        return theirs is None or any(True for _ in theirs)
    mine = set(mine)
    if theirs is None:
        return bool(mine)
    return bool(mine & set(theirs))


class Process:
    """This process's row: registered once, renewed by `start()`'s heartbeat, deleted by `retire`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], process_id: int, *, name: str,
                 shard_ids: tuple[int, ...] | None, shard_count: int | None, ttl: timedelta) -> None:
        self.sessions = sessions
        self.id = process_id
        self.name = name
        self.shard_ids = shard_ids
        self.shard_count = shard_count
        self.ttl = ttl
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def register(
        cls, sessions: async_sessionmaker[AsyncSession], *, shard_ids: Iterable[int] | None,
        shard_count: int | None = None, ttl: timedelta = PROCESS_TTL, name: str | None = None,
    ) -> Process:
        """Add this process's row (one INSERT). `shard_ids` None: every shard; empty: none (CLI)."""
        shards = None if shard_ids is None else tuple(sorted(shard_ids))
        name = name or f"{socket.gethostname()}:{os.getpid()}"
        now = utcnow()
        async with sessions.begin() as session:
            row = ProcessRow(name=name[:200], shard_ids=None if shards is None else list(shards),
                             shard_count=shard_count, started_at=now, expires_at=now + ttl)
            session.add(row)
            await session.flush()
            process_id = int(row.id)
        return cls(sessions, process_id, name=name, shard_ids=shards, shard_count=shard_count, ttl=ttl)

    # -- the heartbeat ----------------------------------------------------------------------------

    def start(self) -> None:
        """Renew the lease every third of the TTL until `retire`."""
        if self._task is None:
            self._task = asyncio.create_task(self._beating(), name=f"process-heartbeat-{self.id}")

    async def _beating(self) -> None:
        interval = self.ttl.total_seconds() / 3
        beats = 0
        while True:
            await asyncio.sleep(interval)
            try:
                await self.beat()
                beats += 1
                if beats % max(1, int(HOUSEKEEPING_EVERY.total_seconds() // interval)) == 0 and await self.claim(
                        "housekeeping", HOUSEKEEPING_EVERY):
                    await self.housekeeping()
            except Exception:  # a database hiccup must not stop the heartbeat for good
                log.warning("process %s: heartbeat failed; retrying", self.id, exc_info=True)

    async def beat(self) -> None:
        """Renew the lease; a row someone purged (a very long stall) is put back."""
        now = utcnow()
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(ProcessRow).where(ProcessRow.id == self.id).values(expires_at=now + self.ttl)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                session.add(ProcessRow(id=self.id, name=self.name[:200], shard_count=self.shard_count,
                                       shard_ids=None if self.shard_ids is None else list(self.shard_ids),
                                       started_at=now, expires_at=now + self.ttl))

    async def retire(self) -> None:
        """Stop the heartbeat and delete the row: whatever this process still holds is free at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        async with self.sessions.begin() as session:
            await session.execute(delete(ImageSlot).where(ImageSlot.owner_id == self.id))
            await session.execute(delete(ProcessRow).where(ProcessRow.id == self.id))

    # -- periodic jobs, once across processes -----------------------------------------------------

    async def claim(self, job: str, every: timedelta) -> bool:
        """True for exactly one process per `every`: the one that should run `job` now.

        A conditional UPDATE decides (PostgreSQL re-checks the condition after waiting for a
        concurrent claim's row lock; SQLite runs one writer at a time), so two processes waking
        together cannot both win. A process that dies mid-job leaves it to the next period.
        """
        now = utcnow()
        async with self.sessions.begin() as session:
            insert = insert_for(session, JobRun).values(name=job, last_run_at=EPOCH, owner_id=None)
            await session.execute(insert.on_conflict_do_nothing(index_elements=["name"]))
            result = await session.execute(
                update(JobRun).where(JobRun.name == job, JobRun.last_run_at <= now - every)
                .values(last_run_at=now, owner_id=self.id)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def housekeeping(self) -> None:
        """Tidy what dead processes left: their reservations become plain usage, their queue
        slots go, and their rows go after a day. Counting already ignores them; this keeps it small."""
        now = utcnow()
        async with self.sessions.begin() as session:
            await session.execute(
                update(Usage).where(Usage.state != "done", Usage.owner_id.is_not(None), ~alive(Usage.owner_id, now))
                .values(state="done").execution_options(synchronize_session=False)
            )
            await session.execute(
                delete(ImageSlot).where(ImageSlot.owner_id.is_not(None), ~alive(ImageSlot.owner_id, now))
                .execution_options(synchronize_session=False)
            )
            await session.execute(delete(ProcessRow).where(ProcessRow.expires_at < now - FORGET_AFTER))
