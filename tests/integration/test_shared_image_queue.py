"""The image queue shared by processes: one line and one set of limits in the database.

Two queues on separate engines with their own process rows stand for two bot processes; real OS
processes: `test_limits_processes.py`. The line's order and limits are `plan_dispatch`'s
(unit-tested in `tests/unit/test_shared_queue_plan.py`); these tests check that processes agree.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bot.images.queue import Cancelled, EntryState
from bot.images.shared_queue import SharedImageQueue, SharedQueueEntry
from bot.store.engine import make_engine, make_sessionmaker
from bot.store.models import ImageSlot, ProcessRow, utcnow
from bot.store.processes import Process

pytestmark = pytest.mark.postgres
WAIT = 30.0


class Stack:
    """One process's queue: its own engine and process row."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = make_sessionmaker(self.engine)
        self.process: Process | None = None
        self.queue: SharedImageQueue | None = None

    async def open(self, *, heartbeat: bool = True) -> Stack:
        self.process = await Process.register(self.sessions, shard_ids=())
        if heartbeat:
            self.process.start()
        self.queue = SharedImageQueue(self.sessions, owner=self.process, global_limit=2, per_guild=2, per_user=1,
                                      min_update_interval=0, poll_interval=0.02)
        return self


@pytest.fixture
async def stacks(db_url: str) -> AsyncIterator[list[Stack]]:
    made: list[Stack] = []
    yield made
    for stack in made:
        if stack.process is not None and stack.process._task is not None:
            await stack.process.retire()
        await stack.engine.dispose()


async def two(stacks: list[Stack], db_url: str) -> tuple[SharedImageQueue, SharedImageQueue]:
    stacks += [await Stack(db_url).open(), await Stack(db_url).open()]
    assert stacks[0].queue is not None and stacks[1].queue is not None
    return stacks[0].queue, stacks[1].queue


class Holder:
    """A request that, once running, holds its slot until released."""

    def __init__(self, queue: SharedImageQueue, user: int, guild: int | None = None) -> None:
        self.positions: list[int] = []
        self.ticket: SharedQueueEntry = queue.submit(user, guild, self._position)
        self.running = asyncio.Event()
        self.release = asyncio.Event()
        self.task = asyncio.create_task(self._run(queue))

    async def _position(self, position: int) -> None:
        self.positions.append(position)

    async def _run(self, queue: SharedImageQueue) -> None:
        async with queue.slot(self.ticket):
            self.running.set()
            await self.release.wait()

    async def started(self) -> None:
        await asyncio.wait_for(self.running.wait(), WAIT)

    async def at(self, position: int) -> None:
        async with asyncio.timeout(WAIT):
            while self.ticket.position != position or self.ticket.state is not EntryState.WAITING:  # noqa: ASYNC110
                await asyncio.sleep(0.01)

    async def done(self) -> None:
        self.release.set()
        await asyncio.wait_for(self.task, WAIT)


async def test_the_global_limit_counts_both_processes_requests(stacks, db_url) -> None:
    a, b = await two(stacks, db_url)
    first, second = Holder(a, 1), Holder(a, 2)
    await first.started()
    await second.started()

    third = Holder(b, 3)  # the other process: the two slots are taken
    await third.at(1)
    assert not third.running.is_set()

    await first.done()  # a slot frees in process A; process B notices and runs
    await third.started()
    await second.done()
    await third.done()


async def test_positions_count_every_processs_requests_ahead(stacks, db_url) -> None:
    a, b = await two(stacks, db_url)
    running = [Holder(a, 1), Holder(b, 2)]
    for holder in running:
        await holder.started()
    waiting = []
    for place, (queue, user) in enumerate([(a, 3), (b, 4), (a, 5)], start=1):
        waiting.append(Holder(queue, user))
        await waiting[-1].at(place)  # in line behind the ones before it, whichever process they came from

    await running[0].done()
    await waiting[0].started()
    await waiting[1].at(1)
    await waiting[2].at(2)
    assert waiting[2].positions == sorted(waiting[2].positions, reverse=True)  # never backwards
    for holder in [running[1], *waiting]:
        holder.release.set()
    await asyncio.wait_for(asyncio.gather(*(h.task for h in [running[1], *waiting])), WAIT)


async def test_a_cancelled_request_leaves_the_line_and_those_behind_move_up(stacks, db_url) -> None:
    a, b = await two(stacks, db_url)
    running = [Holder(a, 1), Holder(a, 2)]
    for holder in running:
        await holder.started()
    leaving = Holder(b, 3)
    await leaving.at(1)
    staying = Holder(a, 4)
    await staying.at(2)

    assert leaving.ticket.cancel() is True
    with pytest.raises(Cancelled):
        await asyncio.wait_for(leaving.task, WAIT)
    await staying.at(1)
    for holder in [*running, staying]:
        holder.release.set()
    await asyncio.wait_for(asyncio.gather(*(h.task for h in [*running, staying])), WAIT)
    async with stacks[0].sessions() as s:
        assert await s.scalar(select(func.count()).select_from(ImageSlot)) == 0


async def test_a_dead_processs_slots_free_when_its_lease_runs_out(stacks, db_url) -> None:
    stacks += [await Stack(db_url).open(heartbeat=False), await Stack(db_url).open()]
    dead, alive = stacks[0], stacks[1]
    assert dead.queue is not None and alive.queue is not None and dead.process is not None
    held = [Holder(dead.queue, 1), Holder(dead.queue, 2)]
    for holder in held:
        await holder.started()
    waiting = Holder(alive.queue, 3)
    await waiting.at(1)

    async with dead.sessions.begin() as s:  # the process is gone and its lease has run out
        await s.execute(update(ProcessRow).where(ProcessRow.id == dead.process.id)
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    await waiting.started()
    await waiting.done()
    for holder in held:
        holder.task.cancel()
    await asyncio.gather(*(h.task for h in held), return_exceptions=True)
