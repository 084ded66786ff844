"""The image queue: limits never exceeded, every request runs once, honest positions, cancel."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from bot.images.queue import Cancelled, EntryState, ImageQueue, QueueEntry


class Recorder:
    """Collects the positions one ticket reported."""

    def __init__(self) -> None:
        self.positions: list[int] = []

    async def __call__(self, position: int) -> None:
        self.positions.append(position)


async def settle() -> None:
    """Let every ready task run until the loop is quiet."""
    for _ in range(20):
        await asyncio.sleep(0)


async def hold(queue: ImageQueue, ticket: QueueEntry, release: asyncio.Event, started: list[QueueEntry]) -> None:
    async with queue.slot(ticket):
        started.append(ticket)
        await release.wait()


@pytest.mark.parametrize("seed", [1, 7, 2024])
async def test_thirty_concurrent_requests_all_run_once_within_every_limit(seed: int) -> None:
    queue = ImageQueue(global_limit=4, per_guild=2, per_user=1, min_update_interval=0)
    rng = random.Random(seed)
    running = Counter[str]()
    peaks = Counter[str]()
    runs: list[int] = []
    recorders: dict[int, Recorder] = {}
    waited: set[int] = set()

    def bump(key: str, delta: int) -> None:
        running[key] += delta
        peaks[key] = max(peaks[key], running[key])

    async def request(i: int) -> None:
        user, guild = rng.randrange(8), rng.choice([1, 2, 3, None])
        recorders[i] = Recorder()
        ticket = queue.submit(user, guild, recorders[i])
        await asyncio.sleep(rng.random() / 200)  # the caller posts its "queued" message first
        if ticket.state is EntryState.WAITING:
            waited.add(i)
        async with queue.slot(ticket):
            keys = ["global", f"user:{user}"] + ([f"guild:{guild}"] if guild is not None else [])
            for key in keys:
                bump(key, 1)
            assert running["global"] <= 4
            assert running[f"user:{user}"] <= 1
            assert guild is None or running[f"guild:{guild}"] <= 2
            # Granted tickets whose task has not resumed yet hold slots too.
            assert running["global"] <= queue.snapshot().running <= 4
            await asyncio.sleep(rng.random() / 100)
            runs.append(i)
            for key in keys:
                bump(key, -1)

    await asyncio.gather(*(request(i) for i in range(30)))

    assert sorted(runs) == list(range(30))
    assert peaks["global"] == 4  # the queue was actually saturated
    assert max(v for k, v in peaks.items() if k.startswith("user:")) == 1
    assert max(v for k, v in peaks.items() if k.startswith("guild:")) <= 2
    for i, recorder in recorders.items():
        assert recorder.positions == sorted(recorder.positions, reverse=True)
        assert all(p >= 1 for p in recorder.positions)
        assert (i in waited) == bool(recorder.positions)  # everyone who waited was told where
    assert any(len(r.positions) > 1 for r in recorders.values())  # positions were updated live
    snapshot = queue.snapshot()
    assert (snapshot.running, snapshot.waiting) == (0, 0)


async def test_positions_count_the_requests_ahead() -> None:
    queue = ImageQueue(global_limit=1, per_guild=1, per_user=1)
    tickets = [queue.submit(user, 1) for user in range(5)]
    assert [t.position for t in tickets] == [0, 1, 2, 3, 4]
    assert tickets[0].state is EntryState.RUNNING
    assert queue.snapshot().waiting == 4


async def test_waiting_ticket_reports_its_position_as_it_falls() -> None:
    queue = ImageQueue(global_limit=1, min_update_interval=0)
    release, started = asyncio.Event(), []
    first = queue.submit(1, 1)
    holder = asyncio.create_task(hold(queue, first, release, started))
    recorder = Recorder()
    others = [queue.submit(u, None) for u in (2, 3)]
    last = queue.submit(4, None, recorder)
    waiter = asyncio.create_task(hold(queue, last, asyncio.Event(), started))
    await settle()
    assert recorder.positions == [3]
    others[0].cancel()
    await settle()
    others[1].cancel()
    await settle()
    assert recorder.positions == [3, 2, 1]
    release.set()
    await settle()
    assert started == [first, last]
    assert recorder.positions == [3, 2, 1]  # running is signalled by the body starting, not 0
    waiter.cancel()
    await asyncio.gather(holder, waiter, return_exceptions=True)
    assert queue.snapshot().running == 0


async def test_cancel_while_waiting_raises_cancelled_and_moves_others_up() -> None:
    queue = ImageQueue(global_limit=1)
    queue.submit(1, None)
    victim = queue.submit(2, None)
    behind = queue.submit(3, None)
    waiter = asyncio.create_task(hold(queue, victim, asyncio.Event(), []))
    await settle()
    assert victim.cancel() is True
    with pytest.raises(Cancelled):
        await waiter
    assert victim.state is EntryState.CANCELLED
    assert behind.position == 1
    assert queue.snapshot().waiting == 1
    assert victim.cancel() is False  # a second cancel changes nothing


async def test_cancelled_before_entering_the_slot_raises_on_entry() -> None:
    queue = ImageQueue(global_limit=1)
    queue.submit(1, None)
    ticket = queue.submit(2, None)
    assert ticket.cancel()
    with pytest.raises(Cancelled):
        async with queue.slot(ticket):
            pytest.fail("a cancelled ticket must not run")


async def test_cancel_of_a_running_ticket_is_a_no_op() -> None:
    queue = ImageQueue(global_limit=1)
    ticket = queue.submit(1, None)
    async with queue.slot(ticket):
        assert ticket.cancel() is False
        assert queue.snapshot().running == 1
    assert ticket.state is EntryState.DONE
    assert queue.snapshot().running == 0


async def test_cancel_of_a_granted_but_unentered_ticket_frees_its_slot() -> None:
    queue = ImageQueue(global_limit=1)
    granted = queue.submit(1, None)
    nxt = queue.submit(2, None)
    assert granted.state is EntryState.RUNNING
    assert granted.cancel() is True
    assert nxt.state is EntryState.RUNNING
    assert queue.snapshot().running == 1


async def test_task_cancellation_while_waiting_leaves_no_ghost() -> None:
    queue = ImageQueue(global_limit=1)
    queue.submit(1, None)
    ticket = queue.submit(2, None)
    behind = queue.submit(3, None)
    waiter = asyncio.create_task(hold(queue, ticket, asyncio.Event(), []))
    await settle()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert ticket.state is EntryState.CANCELLED
    assert behind.position == 1


async def test_task_cancelled_just_as_its_slot_was_granted_gives_it_back() -> None:
    queue = ImageQueue(global_limit=1)
    first = queue.submit(1, None)
    ticket = queue.submit(2, None)
    waiter = asyncio.create_task(hold(queue, ticket, asyncio.Event(), []))
    await settle()
    async with queue.slot(first):
        pass  # leaving grants `ticket` …
    waiter.cancel()  # … but its task is cancelled before it resumes
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert queue.snapshot().running == 0
    assert ticket.state is EntryState.DONE


async def test_one_users_backlog_does_not_hold_up_another_user() -> None:
    queue = ImageQueue(global_limit=2, per_guild=2, per_user=1)
    release, started = asyncio.Event(), []
    mine = [queue.submit(1, 10) for _ in range(5)]
    theirs = queue.submit(2, 10)
    tasks = [asyncio.create_task(hold(queue, t, release, started)) for t in [*mine, theirs]]
    await settle()
    assert started == [mine[0], theirs]
    release.set()
    await asyncio.gather(*tasks)
    assert started[2:] == mine[1:]


async def test_one_busy_server_does_not_hold_up_another() -> None:
    queue = ImageQueue(global_limit=4, per_guild=2, per_user=1)
    busy = [queue.submit(user, 10) for user in range(6)]
    other = queue.submit(99, 20)
    assert [t.state for t in busy[:2]] == [EntryState.RUNNING] * 2
    assert all(t.state is EntryState.WAITING for t in busy[2:])
    assert other.state is EntryState.RUNNING
    assert other.position == 0
    assert queue.snapshot().running_by_guild == {10: 2, 20: 1}


async def test_direct_messages_count_only_against_user_and_global_limits() -> None:
    queue = ImageQueue(global_limit=3, per_guild=1, per_user=1)
    tickets = [queue.submit(user, None) for user in range(3)]
    assert all(t.state is EntryState.RUNNING for t in tickets)


async def test_eligible_tickets_start_in_submission_order() -> None:
    queue = ImageQueue(global_limit=1, per_guild=5, per_user=5)
    release, started = asyncio.Event(), []
    tickets = [queue.submit(user, 1) for user in range(6)]
    release.set()
    await asyncio.gather(*(hold(queue, t, release, started) for t in reversed(tickets)))
    assert started == tickets


async def test_position_updates_are_rate_limited_and_carry_the_latest_value() -> None:
    class Clock:
        now = 0.0

        def __call__(self) -> float:
            return self.now

    clock = Clock()
    queue = ImageQueue(global_limit=1, min_update_interval=1.0, clock=clock)
    queue.submit(1, None)
    ahead = [queue.submit(u, None) for u in (2, 3, 4)]
    recorder = Recorder()
    ticket = queue.submit(5, None, recorder)
    waiter = asyncio.create_task(hold(queue, ticket, asyncio.Event(), []))
    await settle()
    ahead[0].cancel()
    ahead[1].cancel()
    await settle()
    assert recorder.positions == [4]  # 3 and 2 came within the interval
    clock.now = 1.0
    ahead[2].cancel()
    await settle()
    assert recorder.positions == [4, 1]
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)


async def test_a_pending_update_is_sent_when_the_interval_ends() -> None:
    queue = ImageQueue(global_limit=1, min_update_interval=0.05)
    queue.submit(1, None)
    ahead = queue.submit(2, None)
    recorder = Recorder()
    ticket = queue.submit(3, None, recorder)
    waiter = asyncio.create_task(hold(queue, ticket, asyncio.Event(), []))
    await settle()
    ahead.cancel()
    await settle()
    assert recorder.positions == [2]
    await asyncio.sleep(0.2)
    assert recorder.positions == [2, 1]
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)


async def test_a_failing_position_callback_does_not_lose_the_place() -> None:
    queue = ImageQueue(global_limit=1, min_update_interval=0)
    first = queue.submit(1, None)

    async def broken(position: int) -> None:
        raise RuntimeError("message was deleted")

    ticket = queue.submit(2, None, broken)
    started: list[QueueEntry] = []
    release = asyncio.Event()
    release.set()
    waiter = asyncio.create_task(hold(queue, ticket, release, started))
    await settle()
    async with queue.slot(first):
        pass
    await waiter
    assert started == [ticket]


async def test_a_slot_can_be_entered_only_once_and_only_on_its_queue() -> None:
    queue, other = ImageQueue(), ImageQueue()
    ticket = queue.submit(1, None)
    with pytest.raises(ValueError):
        async with other.slot(ticket):
            pass
    async with queue.slot(ticket):
        pass
    with pytest.raises(RuntimeError):
        async with queue.slot(ticket):
            pass


async def test_errors_in_the_body_still_free_the_slot() -> None:
    queue = ImageQueue(global_limit=1)
    ticket = queue.submit(1, None)
    waiting = queue.submit(2, None)
    with pytest.raises(KeyError):
        async with queue.slot(ticket):
            raise KeyError("venice failed")
    assert waiting.state is EntryState.RUNNING


def test_snapshot_reports_counts_and_limits() -> None:
    queue = ImageQueue(global_limit=2, per_guild=2, per_user=1)
    queue.submit(1, 7)
    queue.submit(1, 7)
    queue.submit(2, None)
    snap = queue.snapshot()
    assert (snap.running, snap.waiting) == (2, 1)
    assert (snap.global_limit, snap.per_guild, snap.per_user) == (2, 2, 1)
    assert snap.running_by_user == {1: 1, 2: 1}
    assert snap.running_by_guild == {7: 1}


@pytest.mark.parametrize("limits", [(0, 1, 1), (1, 0, 1), (1, 1, 0)])
def test_limits_must_be_positive(limits: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError):
        ImageQueue(*limits)
