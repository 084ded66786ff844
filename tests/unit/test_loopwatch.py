"""The loop watch names the task that stalls the event loop, and where it was."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from bot.loopwatch import LoopWatch


class Caught(logging.Handler):
    """Keeps the watch's records and signals the first warning to a blocked loop."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.warned = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        if "CommandTree-invoker" in record.getMessage():  # not some other stall of a busy machine
            self.warned.set()


@pytest.fixture
def caught() -> Caught:
    handler = Caught()
    logger = logging.getLogger("bot.loopwatch")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def hog_the_loop(warned: threading.Event) -> bool:
    """Block the event loop thread until the watch has spoken (or 10 s, as a safety net)."""
    return warned.wait(10)


async def greedy_handler(warned: threading.Event) -> bool:
    return hog_the_loop(warned)


async def test_a_stall_is_reported_with_the_task_and_where_it_was(caught: Caught) -> None:
    watch = LoopWatch(threshold=0.05, interval=0.02)
    watch.start()
    try:
        seen = await asyncio.create_task(greedy_handler(caught.warned), name="CommandTree-invoker")
        await asyncio.sleep(0.1)  # one more heartbeat: the stall's end is logged with its length
    finally:
        await watch.stop()
    assert seen, "the watch never reported the blocked loop"
    ours = [r.getMessage() for r in caught.records if "CommandTree-invoker" in r.getMessage()]
    first = ours[0]
    assert "event loop blocked for over" in first
    assert "task 'CommandTree-invoker' (greedy_handler)" in first
    assert "in hog_the_loop" in first and "test_loopwatch.py" in first
    assert any("was blocked for" in text for text in ours[1:]), ours
    assert watch.worst > 0.05


async def test_stop_ends_the_heartbeat_and_the_watchdog_thread() -> None:
    watch = LoopWatch()
    watch.start()
    assert watch.running
    await watch.stop()
    assert not watch.running
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "lustify-loop-watch"]


async def test_an_idle_loop_is_not_woken_by_the_watch() -> None:
    watch = LoopWatch(interval=0.01)
    watch.start()
    try:
        for _ in range(500):  # wait for the watchdog to look often enough (a busy machine is slow)
            if watch.checks >= 20:
                break
            await asyncio.sleep(0.05)  # the loop thread waits in its selector meanwhile
    finally:
        await watch.stop()
    assert watch.checks >= 20
    # A heartbeat would wake the loop on every check; the watch only probes a loop it found busy.
    assert watch.probes <= watch.checks // 4, (watch.probes, watch.checks)
