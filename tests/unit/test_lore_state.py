"""Per-conversation lore state: stored as JSON, counts the chat's messages across turns."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.characters.lore_state import MAX_VARIABLES, Effect, LoreState, advance, note_user_turn


def test_state_round_trips_through_json() -> None:
    state = LoreState(seed=3, chat_length=5, last_turn_id=9, sticky={"b.1": Effect("h", 2, 4)},
                      cooldown={"b.2": Effect("g", 1, 3, True)}, variables={"x": "1"})
    assert LoreState.from_json(state.to_json()) == state


def test_malformed_json_gives_a_fresh_state_with_the_seed() -> None:
    assert LoreState.from_json("nonsense", seed=42) == LoreState(seed=42)
    assert LoreState.from_json({"sticky": {"a": "bad"}, "chat_length": "x"}, seed=1) == LoreState(seed=1)


def test_the_chat_length_grows_by_the_new_turns_only() -> None:
    first = advance(LoreState(), [1, 2, 3], fallback_length=3)
    assert first.chat_length == 3
    assert advance(first, [2, 3, 4, 5], fallback_length=4).chat_length == 5


def test_a_regenerate_does_not_advance_the_chat() -> None:
    first = advance(LoreState(), [1, 2], fallback_length=2)
    assert advance(first, [1, 2], fallback_length=2).chat_length == 2


def test_summarised_turns_leaving_the_window_do_not_shrink_the_chat() -> None:
    first = advance(LoreState(), list(range(1, 401)), fallback_length=400)
    assert advance(first, list(range(300, 402)), fallback_length=102).chat_length == 401


def test_idle_time_is_measured_from_the_previous_user_message() -> None:
    state = LoreState()
    note_user_turn(state, 1, datetime(2024, 1, 1, 10, tzinfo=UTC))
    note_user_turn(state, 3, datetime(2024, 1, 1, 12, tzinfo=UTC))
    note_user_turn(state, 3, datetime(2024, 1, 1, 13, tzinfo=UTC))  # a regenerate of the same message
    assert state.previous_user_at == datetime(2024, 1, 1, 10, tzinfo=UTC).isoformat()


def test_variables_are_bounded() -> None:
    state = LoreState()
    for i in range(MAX_VARIABLES + 10):
        state.set_variable(f"v{i}", "x" * 10_000)
    assert len(state.variables) == MAX_VARIABLES and "v0" not in state.variables
    assert max(len(v) for v in state.variables.values()) <= 4_000
