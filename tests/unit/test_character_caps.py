"""The caps as plain decisions: how many characters, how many bytes, how often an import."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.characters import caps
from bot.characters.caps import MAX_CHARACTERS, MAX_STORED_BYTES, Storage, import_wait, room_for
from bot.characters.model import Character
from bot.errors import LimitReached

MIB = 2**20


def test_one_more_character_fits_below_the_count_cap() -> None:
    room_for(Storage(MAX_CHARACTERS - 1, 0), adding=1000)


def test_the_count_cap_refuses_and_says_what_to_do() -> None:
    with pytest.raises(LimitReached, match=f"{MAX_CHARACTERS} characters already.*/character delete"):
        room_for(Storage(MAX_CHARACTERS, 0), adding=10)


def test_an_edit_is_not_a_new_character() -> None:
    room_for(Storage(MAX_CHARACTERS, 10 * MIB), adding=20, replacing=10, new=False)


def test_the_byte_cap_counts_what_is_stored_plus_what_comes() -> None:
    room_for(Storage(3, MAX_STORED_BYTES - 5 * MIB), adding=5 * MIB)
    with pytest.raises(LimitReached) as refused:
        room_for(Storage(3, MAX_STORED_BYTES - 5 * MIB), adding=5 * MIB + 1)
    text = refused.value.user_message
    assert "64.0 MiB" in text and "59.0 MiB" in text and "Delete a character" in text


def test_a_change_that_does_not_grow_is_allowed_even_over_the_cap() -> None:
    room_for(Storage(3, MAX_STORED_BYTES + MIB), adding=MIB, replacing=2 * MIB, new=False)
    with pytest.raises(LimitReached):
        room_for(Storage(3, MAX_STORED_BYTES + MIB), adding=3 * MIB, replacing=2 * MIB, new=False)


def test_stored_size_counts_the_card_and_the_avatar() -> None:
    small = caps.stored_size(Character(name="Mara", description="x"), None)
    assert caps.stored_size(Character(name="Mara", description="x" * 1000), None) == small + 999
    assert caps.stored_size(Character(name="Mara", description="x"), b"\0" * 500) == small + 500


def test_import_cooldown() -> None:
    now = datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert import_wait(None, now) == 0
    assert import_wait(now - timedelta(seconds=10), now) == pytest.approx(caps.IMPORT_COOLDOWN - 10)
    assert import_wait(now - timedelta(seconds=caps.IMPORT_COOLDOWN + 1), now) == 0
