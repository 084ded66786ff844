"""Hostile inputs, built by hand for tests and `bench/hostile.py` (no code from `bot`).

Each one is within the bot's declared limits (8 MiB files, 50,000-character fields, 500 lore
entries) yet expensive for a naive reader: what one ill-willed user can upload.
"""

from __future__ import annotations

import io
import zipfile

from tests import cardgen

PROSE = "She leans across the bar and refills your glass, smiling at the familiar face. "


def lore_card(entries: int = 500, chars: int = 15_000, keys: int = 50) -> bytes:
    """A JSON card whose lorebook is as big as allowed: long entries, many keys each."""
    content = (PROSE * (chars // len(PROSE) + 1))[:chars]
    book = cardgen.character_book([cardgen.lore_entry([f"key{i}_{k}" for k in range(keys)], content)
                                   for i in range(entries)])
    return cardgen.card_json(cardgen.v2_card(name="Loremaster", description="An adult archivist.",
                                             character_book=book))


def ones_card(chars: int = 50_000, fields: int = 5) -> bytes:
    """A JSON card whose text fields are `1 1 1 …` (hard for a backtracking screen)."""
    ones = ("1 " * (chars // 2 + 1))[:chars]
    names = ("description", "personality", "scenario", "first_mes", "mes_example")[:fields]
    return cardgen.card_json(cardgen.v2_card(name="Ones", **dict.fromkeys(names, ones)))


def chunk_bomb_png(chunks: int = 650_000) -> bytes:
    """A PNG card with that many empty ancillary chunks before its card text (~12 bytes each)."""
    card = cardgen.v2_card(name="Bomb", description="An adult woman.")
    empty = cardgen.chunk(b"tIME", b"")
    return (cardgen.PNG_SIGNATURE + b"".join(cardgen.image_chunks()) + empty * chunks
            + cardgen.text_chunk("chara", cardgen.b64(card)) + cardgen.chunk(b"IEND", b""))


def many_entries_zip(entries: int = 90_000) -> bytes:
    """A .charx whose central directory lists that many (empty) files besides card.json."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("card.json", cardgen.card_json(cardgen.v2_card(name="Zip", description="An adult.")))
        for i in range(entries):
            zf.writestr(f"{i}", b"")
    return out.getvalue()


def ones_message(chars: int = 4_000) -> str:
    """The longest chat message Discord allows, made of `1 1 1 …`."""
    return ("1 " * (chars // 2 + 1))[:chars]
