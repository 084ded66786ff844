"""The privacy export file and the words around it: plain functions, no database, no Discord."""

from __future__ import annotations

import base64
import gzip
import json
import os
from typing import Any

import pytest

from bot.privacy import ExportTooLarge, encode_export, summary_line
from cogs.privacy import deletion_report


def export(messages: int = 1, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "format": "lustify-privacy-export", "version": 1, "user_id": "1",
        "messages": [{"id": i, "content": f"line {i} " + "la " * 20} for i in range(messages)],
        "conversations_started": [], "characters": [], "persona": None, "images": [], "usage": [],
        "user_flags": None, "settings_changed": [], "audit_events": [],
    }
    data.update(extra)
    return data


def test_small_export_is_plain_json_that_round_trips() -> None:
    data = export(messages=3, persona={"name": "Ally ✨"})

    packed = encode_export(data, limit=1_000_000, stem="me")

    assert packed.filename == "me.json" and not packed.compressed
    assert json.loads(packed.data) == data
    assert "✨".encode() in packed.data  # readable UTF-8, not \\u escapes


def test_export_over_the_limit_is_gzipped_and_fits() -> None:
    data = export(messages=400)
    plain = encode_export(data, limit=10**9).data

    packed = encode_export(data, limit=len(plain) // 4, stem="me")

    assert packed.compressed and packed.filename == "me.json.gz"
    assert len(packed.data) <= len(plain) // 4
    assert json.loads(gzip.decompress(packed.data)) == data


def test_gzip_output_is_reproducible() -> None:
    data = export(messages=200)
    limit = len(encode_export(data, limit=10**9).data) // 2

    first, again = encode_export(data, limit=limit), encode_export(data, limit=limit)

    assert first.compressed and first.data == again.data


def test_export_too_large_even_gzipped_says_so_kindly() -> None:
    with pytest.raises(ExportTooLarge, match="even compressed") as raised:
        encode_export(export(messages=50), limit=10)

    assert "/conversation delete" in raised.value.user_message


def test_avatars_are_left_out_with_a_note_when_nothing_else_fits() -> None:
    avatar = base64.b64encode(os.urandom(6000)).decode()  # random bytes: gzip can't shrink them
    data = export(messages=5, characters=[{"id": 1, "name": "Rogue", "avatar_png_base64": avatar}])

    packed = encode_export(data, limit=4000)

    character = json.loads(packed.data)["characters"][0]
    assert character["avatar_png_base64"] is None and "/character export" in character["avatar_png"]
    assert data["characters"][0]["avatar_png_base64"] == avatar  # the caller's data is untouched


def test_summary_line_counts_each_kind() -> None:
    line = summary_line(export(messages=2, persona={"name": "Ally"}, user_flags={"strikes": 0}))

    assert line.startswith("Your data: 2 messages, 0 conversations started")
    assert "your persona" in line and "your account flags" in line


def test_deletion_report_names_what_went_and_what_was_kept() -> None:
    text = deletion_report({"conversations": 2, "conversation_messages": 9, "messages_blanked": 3,
                            "characters": 1, "images": 4, "usage": 5, "persona": 1, "flags": 1,
                            "block_kept": 1, "usage_kept_today": 2})

    assert "2 conversations (9 messages)" in text and "3 of your messages in shared conversations" in text
    assert "your persona" in text and "your account flags" not in text
    assert "Kept: your active safety block, today's 2 usage counts" in text


def test_deletion_report_for_someone_with_nothing_stored() -> None:
    text = deletion_report({})

    assert text.startswith("🗑️ Done. Deleted: 0 conversations") and "Kept" not in text
