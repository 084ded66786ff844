"""Limits, leases, periodic jobs and the image queue across real OS processes on one database.

Each worker is `python -m tests.limits_worker` (see there), started with its own interpreter,
engine and process row. On PostgreSQL (TEST_DATABASE_URL) this is the several-shards deployment;
on SQLite it is several processes on one file, which must agree just the same. Workers wait for
a "go" line so their requests really arrive together.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.errors import LimitReached
from bot.services import Services, build_services
from bot.store.models import ProcessRow, utcnow
from tests.conftest import make_settings
from tests.e2e import ROOT, clean_env
from tests.limits_worker import CHANNEL, GUILD, USER

pytestmark = pytest.mark.postgres
WAIT = 60.0  # generous: the machine may be busy; nothing here asserts a duration


class Worker:
    """One `python -m tests.limits_worker` process, driven through stdin and read through stdout."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, *args: str) -> Worker:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.limits_worker", *args, env=clean_env(), cwd=ROOT,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def expect(self, prefix: str) -> str:
        """The next stdout line, which must start with `prefix` (the worker's stderr if it died)."""
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), WAIT)
        text = raw.decode().strip()
        if not text.startswith(prefix):
            err = await self.proc.stderr.read() if self.proc.stderr and self.proc.returncode is not None else b""
            raise AssertionError(f"worker said {text!r}, expected {prefix!r}\n{err.decode()[-3000:]}")
        return text[len(prefix):].strip()

    def send(self, text: str = "go") -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{text}\n".encode())

    async def finish(self) -> None:
        if self.proc.returncode is None:
            self.send("bye")
            try:
                await asyncio.wait_for(self.proc.wait(), WAIT)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()


@pytest.fixture
async def workers() -> AsyncIterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.kill()
        await worker.proc.wait()


@pytest.fixture
async def here(db_url: str) -> AsyncIterator[Services]:
    """This test process's own service stack on the same database."""
    services = await build_services(make_settings(db_url))
    yield services
    await services.close()


async def together(workers: list[Worker], prefix: str) -> list[str]:
    for worker in workers:
        await worker.expect("ready")
    for worker in workers:
        worker.send()
    return [await worker.expect(prefix) for worker in workers]


async def test_a_daily_quota_of_one_admits_one_request_across_two_processes(db_url, here, workers) -> None:
    await here.settings.set("daily_messages", 1, scope="guild", scope_id=GUILD, guild_id=GUILD, by=1)
    workers += [await Worker.start(db_url, "burst", "chat", "10") for _ in range(2)]

    won = await together(workers, "won")

    assert sum(int(w) for w in won) == 1
    for worker in workers:
        await worker.finish()


async def test_concurrency_of_two_holds_across_two_processes(db_url, workers) -> None:
    workers += [await Worker.start(db_url, "burst", "chat", "10") for _ in range(2)]

    won = await together(workers, "won")

    assert sum(int(w) for w in won) == 2
    for worker in workers:
        await worker.finish()


async def test_a_killed_processs_slots_free_once_its_heartbeat_stops(db_url, here, workers) -> None:
    holder = await Worker.start(db_url, "hold", "2", "3")  # two chat slots, a 3-second lease
    workers.append(holder)
    process_id = int(await holder.expect("held"))
    acquire = dict(user_id=USER, guild_id=GUILD, channel_id=CHANNEL, kind="chat")

    async def renewed() -> None:
        async with here.sessions() as s:
            first = await s.scalar(select(ProcessRow.expires_at).where(ProcessRow.id == process_id))
        async with asyncio.timeout(WAIT):
            while True:
                async with here.sessions() as s:
                    now = await s.scalar(select(ProcessRow.expires_at).where(ProcessRow.id == process_id))
                if now != first:
                    return
                await asyncio.sleep(0.1)

    await renewed()  # its heartbeat has renewed the lease at least once: it is alive
    with pytest.raises(LimitReached, match="in progress"):
        await here.limits.acquire(**acquire)

    holder.kill()
    await holder.proc.wait()
    # No release ever comes. The slots free when the dead process's lease runs out (3 s here,
    # 45 s in production), not after the ten-minute backstop: wait for exactly that.
    async with asyncio.timeout(WAIT):
        while True:
            try:
                ticket = await here.limits.acquire(**acquire)
                break
            except LimitReached:
                await asyncio.sleep(0.2)
    async with here.sessions() as s:
        expired_at = await s.scalar(select(ProcessRow.expires_at).where(ProcessRow.id == process_id))
    assert expired_at <= utcnow()  # freed by the lease running out, nothing else
    assert utcnow() - expired_at < timedelta(minutes=1)
    await here.limits.release(ticket)


async def test_a_periodic_job_runs_once_across_processes(db_url, workers) -> None:
    workers += [await Worker.start(db_url, "claim", "retention", "5") for _ in range(3)]

    won = await together(workers, "won")

    assert sum(int(w) for w in won) == 1


async def test_the_image_queues_global_limit_holds_across_processes(db_url, workers, tmp_path: Path) -> None:
    marks = tmp_path / "running"
    marks.mkdir()
    workers += [await Worker.start(db_url, "queue", "4", "0.3", str(marks)) for _ in range(2)]

    peaks = await together(workers, "peak")

    assert max(int(p) for p in peaks) == 2  # global limit 2: eight requests, never more than two at once
    assert list(marks.iterdir()) == []
