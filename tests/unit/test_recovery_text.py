"""What a reply cut off by a crash shows once the bot is back (plain functions of bot.ui.recovery)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from bot.store.conversations import TurnRow
from bot.ui.recovery import cut_text, shown_text


def reply(content: str, status: str, swipes: list[str] | None = None) -> TurnRow:
    return TurnRow(1, "assistant", None, "Scarlett", content, swipes or [content], 0, status, [5], 2, 3)


def message(content: str = "", *, webhook: bool = True, description: str | None = None) -> Any:
    embeds = [SimpleNamespace(description=description)] if description is not None else []
    return SimpleNamespace(content=content, webhook_id=7 if webhook else None, embeds=embeds)


def test_a_cut_reply_keeps_its_text_and_says_why_it_stopped() -> None:
    assert cut_text(reply("She smiles.", "cut")) == "She smiles.\n*(cut off: the bot restarted)*"


def test_an_open_code_block_is_closed_before_the_note() -> None:
    assert cut_text(reply("Look:\n```\ncode", "cut")).endswith("code\n```\n*(cut off: the bot restarted)*")


def test_a_reply_with_no_text_invites_a_regenerate() -> None:
    assert "Regenerate" in cut_text(reply("", "failed"))


def test_text_shown_before_the_crash_stays_visible_but_is_said_to_be_out_of_the_story() -> None:
    shown = cut_text(reply("", "failed"), "She smiles and")
    assert shown.startswith("She smiles and\n*(cut off: the bot restarted") and "not in the story" in shown


def test_an_interrupted_regenerate_shows_the_previous_swipe_again() -> None:
    shown = cut_text(reply("The first answer.", "complete", ["The first answer."]))
    assert shown.startswith("The first answer.\n") and "Regenerating was cut off" in shown


def test_the_writing_marker_is_not_part_of_the_text_read_back() -> None:
    assert shown_text([message("She smiles and\n-# ✍️ writing…")]) == "She smiles and"


def test_text_is_read_from_the_embed_where_no_webhook_posted_it() -> None:
    assert shown_text([message(webhook=False, description="In a DM.\n-# ✍️ writing…")]) == "In a DM."


def test_a_held_or_empty_message_gives_no_text() -> None:
    assert shown_text([message("-# ✍️ writing…"), message("…")]) == ""
