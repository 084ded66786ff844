"""The worker pools: CPU-heavy work runs elsewhere, bounded in number, per user and in time."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator

import pytest

from bot.characters.cards_json import CardError
from bot.offload import BUSY, YOURS_BUSY, Busy, Offload, TooSlow


def where_am_i() -> tuple[int, int]:
    return os.getpid(), threading.get_ident()


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def refuse(text: str) -> None:
    raise CardError(text)


@pytest.fixture
async def offload() -> AsyncIterator[Offload]:
    pools = Offload(processes=1, threads=1, queue=1, per_owner=1, timeout=30)
    pools.start()
    yield pools
    await pools.close()


async def test_process_jobs_run_in_another_process_and_return_their_result(offload: Offload) -> None:
    pid, _ = await offload.in_process(where_am_i)
    assert pid != os.getpid()


async def test_thread_jobs_run_off_the_event_loop_thread(offload: Offload) -> None:
    pid, thread = await offload.in_thread(where_am_i)
    assert (pid, thread) == (os.getpid(), thread) and thread != threading.get_ident()


async def test_a_job_s_error_reaches_the_caller_with_its_message(offload: Offload) -> None:
    with pytest.raises(CardError, match="not a card"):
        await offload.in_process(refuse, "not a card")


async def test_a_job_past_its_time_limit_is_stopped_and_the_pool_keeps_working(offload: Offload) -> None:
    first, _ = await offload.in_process(where_am_i)
    with pytest.raises(TooSlow, match="too long"):
        await offload.in_process(nap, 60, time_limit=0.5)
    second, _ = await offload.in_process(where_am_i)
    assert second != first  # the overrunning worker was killed and replaced


async def test_one_owner_gets_one_job_at_a_time() -> None:
    offload = Offload(processes=2, queue=0, per_owner=1)
    offload.start()
    running = asyncio.create_task(offload.in_process(nap, 60, owner=7))
    await asyncio.sleep(0)
    try:
        with pytest.raises(Busy) as refused:
            await offload.in_process(where_am_i, owner=7)
        assert refused.value.user_message == YOURS_BUSY
        pid, _ = await offload.in_process(where_am_i, owner=8)  # someone else still gets in
        assert pid != os.getpid()
    finally:
        running.cancel()  # cancelling the caller stops the job too
        await asyncio.gather(running, return_exceptions=True)
        await offload.close()


async def test_a_full_queue_refuses_more_work(offload: Offload) -> None:
    # One worker and a queue of one: two jobs fit, the third is refused.
    held = [asyncio.create_task(offload.in_process(nap, 60, owner=owner)) for owner in (1, 2)]
    await asyncio.sleep(0)
    try:
        with pytest.raises(Busy) as refused:
            await offload.in_process(where_am_i, owner=3)
        assert refused.value.user_message == BUSY
    finally:
        for task in held:
            task.cancel()
        await asyncio.gather(*held, return_exceptions=True)
    pid, _ = await offload.in_process(where_am_i, owner=3)  # the places were given back
    assert pid != os.getpid()


async def test_close_stops_the_workers() -> None:
    pools = Offload(processes=1)
    pools.start()
    pid, _ = await pools.in_process(where_am_i)
    await pools.close()
    for _ in range(100):  # the fork server reaps it; give it a moment
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail(f"worker {pid} is still running after close()")
    with pytest.raises(RuntimeError, match="closed"):
        await pools.in_process(where_am_i)


def niceness() -> int:
    return os.nice(0)


async def test_workers_run_at_a_lower_cpu_priority_than_the_bot(offload: Offload) -> None:
    assert await offload.in_process(niceness) >= os.nice(0) + 10
