"""A process's row: heartbeat, clean exit, periodic jobs run once, and tidying after the dead."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bot.store.engine import make_engine, make_sessionmaker
from bot.store.models import ImageSlot, JobRun, ProcessRow, Usage, utcnow
from bot.store.processes import Process

pytestmark = pytest.mark.postgres


@pytest.fixture
async def engines(db_url: str) -> AsyncIterator[list]:  # type: ignore[type-arg]
    """Two engines on one database: two processes' connection pools."""
    made = [make_engine(db_url), make_engine(db_url)]
    yield [make_sessionmaker(e) for e in made]
    for engine in made:
        await engine.dispose()


async def test_twenty_simultaneous_claims_in_two_processes_run_the_job_once(engines) -> None:
    one, two = [await Process.register(s, shard_ids=()) for s in engines]

    won = await asyncio.gather(*((one if i % 2 else two).claim("retention", timedelta(hours=23)) for i in range(20)))

    assert sum(won) == 1
    assert not await one.claim("retention", timedelta(hours=23))  # not again within the period
    async with engines[0].begin() as s:  # a day later
        await s.execute(update(JobRun).values(last_run_at=utcnow() - timedelta(hours=24)))
    assert await two.claim("retention", timedelta(hours=23))


async def test_a_heartbeat_renews_the_lease_and_a_clean_exit_removes_the_row(engines) -> None:
    process = await Process.register(engines[0], shard_ids=[0], ttl=timedelta(seconds=30))
    async with engines[0]() as s:
        before = await s.scalar(select(ProcessRow.expires_at).where(ProcessRow.id == process.id))
    await process.beat()
    async with engines[0]() as s:
        assert await s.scalar(select(ProcessRow.expires_at).where(ProcessRow.id == process.id)) > before

    await process.retire()
    async with engines[0]() as s:
        assert await s.scalar(select(func.count()).select_from(ProcessRow)) == 0


async def test_housekeeping_tidies_what_dead_processes_left(engines) -> None:
    live, dead = [await Process.register(engines[0], shard_ids=()) for _ in range(2)]
    async with engines[0].begin() as s:
        s.add_all([
            Usage(user_id=1, kind="chat", state="reserved", owner_id=dead.id, cost_usd=0.002),
            Usage(user_id=1, kind="chat", state="running", owner_id=live.id),
            ImageSlot(owner_id=dead.id, user_id=1, state="running"),
            ImageSlot(owner_id=live.id, user_id=2, state="running"),
        ])
        await s.execute(update(ProcessRow).where(ProcessRow.id == dead.id)
                        .values(expires_at=utcnow() - timedelta(days=2)))

    await live.housekeeping()

    async with engines[0]() as s:
        states = (await s.execute(select(Usage.owner_id, Usage.state).order_by(Usage.id))).all()
        slots = (await s.scalars(select(ImageSlot.owner_id))).all()
        processes = (await s.scalars(select(ProcessRow.id))).all()
    # The dead process's reservation stays booked (Venice may have billed it), no longer in flight.
    assert states == [(dead.id, "done"), (live.id, "running")]
    assert slots == [live.id] and processes == [live.id]
