"""Who runs next in the shared image line, and where everyone else stands (a plain function)."""

from __future__ import annotations

from bot.images.shared_queue import RUNNING, WAITING, SlotRow, plan_dispatch
from bot.store.processes import overlaps

LIMITS = {"global_limit": 4, "per_guild": 2, "per_user": 1}


def rows(*specs: tuple[int, int | None, str]) -> list[SlotRow]:
    return [SlotRow(i, user, guild, state) for i, (user, guild, state) in enumerate(specs, start=1)]


def test_free_slots_go_to_the_earliest_waiting_requests() -> None:
    line = rows((1, 10, WAITING), (2, 20, WAITING), (3, 30, WAITING))
    assert plan_dispatch(line, **LIMITS) == ([1, 2, 3], {})


def test_the_global_limit_counts_what_already_runs() -> None:
    line = rows((1, 10, RUNNING), (2, 20, RUNNING), (3, 30, RUNNING), (4, 40, WAITING), (5, 50, WAITING))
    assert plan_dispatch(line, **LIMITS) == ([4], {5: 1})


def test_a_blocked_user_is_skipped_not_waited_for() -> None:
    line = rows((1, 10, RUNNING), (1, 10, WAITING), (2, 20, WAITING))
    granted, positions = plan_dispatch(line, **LIMITS)
    assert granted == [3] and positions == {2: 1}


def test_a_busy_server_does_not_hold_up_another() -> None:
    line = rows((1, 10, RUNNING), (2, 10, RUNNING), (3, 10, WAITING), (4, 20, WAITING))
    assert plan_dispatch(line, **LIMITS) == ([4], {3: 1})


def test_direct_messages_count_only_against_the_user_and_global_limits() -> None:
    line = rows((1, None, RUNNING), (2, None, RUNNING), (3, None, WAITING))
    assert plan_dispatch(line, **LIMITS) == ([3], {})


def test_positions_count_only_the_requests_still_waiting_ahead() -> None:
    line = rows(*[(u, 10 + u, RUNNING) for u in range(4)], (7, 70, WAITING), (8, 80, WAITING), (9, 90, WAITING))
    assert plan_dispatch(line, **LIMITS) == ([], {5: 1, 6: 2, 7: 3})


def test_shard_sets_overlap_as_discord_shards_do() -> None:
    assert overlaps([0], [0, 1]) and not overlaps([0], [1])
    assert overlaps(None, [3]) and overlaps([3], None) and overlaps(None, None)
    assert not overlaps([], None) and not overlaps(None, []) and not overlaps([], [])
