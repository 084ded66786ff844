"""A group scene as SillyTavern group chat JSONL (`bot.chat.cast_export`)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from bot.chat.cast_export import avatar_file, group_chat_jsonl, send_date
from bot.store.cast import TranscriptTurn

START = datetime(2026, 3, 9, 21, 5, tzinfo=UTC)


def _turn(i: int, role: str, name: str, text: str, *, swipes: list[str] | None = None, index: int = 0,
          status: str = "complete") -> TranscriptTurn:
    return TranscriptTurn(id=i, role=role, author_name=name, content=text, swipes=swipes or [], swipe_index=index,
                          status=status, speaker_ref=None if role == "user" else f"custom:{name}",
                          created_at=START + timedelta(minutes=i))


TURNS = [
    _turn(1, "assistant", "Mira", "Welcome aboard."),
    _turn(2, "assistant", "Jun", "*nods*"),
    _turn(3, "user", "Alex", "Hi both"),
    _turn(4, "assistant", "Rosa", "Second try", swipes=["First try", "Second try"], index=1),
    _turn(5, "user", "Alex", "removed", status="deleted"),
    _turn(6, "assistant", "Jun", "", status="failed"),
]


def _export() -> list[dict[str, object]]:
    text = group_chat_jsonl(title="Night shift", created_at=START, members=["Mira", "Jun", "Rosa"], mode="natural",
                            summary="They met at the hangar.", turns=TURNS, user_name="Alex")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_every_line_parses_and_the_header_comes_first() -> None:
    header, *_ = _export()

    assert header["user_name"] == "unused" and header["character_name"] == "unused"
    group = header["chat_metadata"]["lustify_group"]  # type: ignore[index]
    assert group["members"] == ["Mira.png", "Jun.png", "Rosa.png"]
    assert group["activation_strategy"] == 0
    assert header["chat_metadata"]["note_prompt"] == "They met at the hangar."  # type: ignore[index]


def test_every_speaker_is_carried_in_order() -> None:
    _header, *messages = _export()

    assert [(m["name"], m["is_user"], m["mes"]) for m in messages] == [
        ("Mira", False, "Welcome aboard."), ("Jun", False, "*nods*"), ("Alex", True, "Hi both"),
        ("Rosa", False, "Second try"),
    ]
    assert [m.get("original_avatar") for m in messages] == ["Mira.png", "Jun.png", None, "Rosa.png"]


def test_swipes_and_the_chosen_one_are_kept() -> None:
    rosa = _export()[-1]

    assert rosa["swipes"] == ["First try", "Second try"] and rosa["swipe_id"] == 1
    assert len(rosa["swipe_info"]) == 2  # type: ignore[arg-type]


def test_dates_are_written_as_sillytavern_writes_them() -> None:
    _header, first, *_ = _export()

    assert first["send_date"] == "March 9, 2026 9:06pm"
    assert send_date(datetime(2026, 1, 2, 0, 7, tzinfo=UTC)) == "January 2, 2026 12:07am"
    assert send_date(datetime(2026, 1, 2, 12, 0, tzinfo=UTC)) == "January 2, 2026 12:00pm"
    assert re.fullmatch(r"[A-Z][a-z]+ \d{1,2}, \d{4} \d{1,2}:\d{2}[ap]m", str(first["send_date"]))


def test_round_robin_maps_to_the_closest_sillytavern_strategy() -> None:
    text = group_chat_jsonl(title="", created_at=START, members=["A"], mode="round_robin", summary="", turns=[])
    header = json.loads(text.splitlines()[0])

    assert header["chat_metadata"] == {"lustify_group": {
        "name": "Scene", "members": ["A.png"], "activation_strategy": 3, "generation_mode": 0,
        "disabled_members": [], "allow_self_responses": False,
    }}


def test_avatar_file_names_are_safe() -> None:
    assert avatar_file('Dr. "No"/Yes') == "Dr. NoYes.png"
    assert avatar_file("///") == "character.png"
