"""A second real public lorebook, entry by entry: "Grand Archive of Oakhaven" (tests/data/Oakhaven.json,
see SOURCES.md), a V2 `character_book` as a standalone file, checked against SillyTavern's rules
(`checkWorldInfo`, `matchKeys`, `convertCharacterBook` in world-info.js).

What the file exercises that Eldoria does not: a book in the V2 card shape (`keys`,
`secondary_keys`, snake_case `extensions`), a selective entry (AND ANY over six secondary keys),
keys of several words with a hyphen and a digit, entries that reach each other through recursion,
and an `order` field that the V2 shape does not have (SillyTavern's `convertCharacterBook` reads
`insertion_order` only, so every entry ties; their texts then come in reverse activation order).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bot.characters.lore_state import LoreState
from bot.characters.lorebook import LoreResult, ScanText, select_lore
from bot.characters.model import Lorebook
from bot.characters.worlds import parse_lorebook

OAKHAVEN = Path(__file__).parents[1] / "data" / "Oakhaven.json"
ARCHIVE, ENGINE, VAULT, AUTOMATA = ("The Grand Archive of Oakhaven - Main Setting", "The Central Aether Engine",
                                    "Restricted Stacks / Vault of Whispers (Selective activation)",
                                    "Scrivener Automata")


@pytest.fixture(scope="module")
def book() -> Lorebook:
    return parse_lorebook(OAKHAVEN.read_bytes(), "Oakhaven.json")


def scan(book: Lorebook, *messages: str) -> LoreResult:
    return select_lore(book, ScanText(messages=list(messages)), state=LoreState(), budget_tokens=4_000,
                       rng=random.Random(7))


def test_the_file_reads_as_sillytavern_converts_a_character_book(book: Lorebook) -> None:
    assert book.name == "Grand Archive of Oakhaven" and len(book.entries) == 4
    assert [e.comment for e in book.entries] == [ARCHIVE, ENGINE, VAULT, AUTOMATA]
    # `order` is not a V2 field: convertCharacterBook's `order: entry.insertion_order` leaves them all equal.
    assert {e.insertion_order for e in book.entries} == {100}
    assert [e.selective for e in book.entries] == [False, False, True, False]
    assert book.entries[2].secondary_keys == ["key", "permit", "clearance", "tome", "forbidden", "grimoire"]
    # The entries have no `enabled` (they say `"disable": false`, a world-JSON field). SillyTavern's
    # convertCharacterBook sets `disable: !entry.enabled`, which would switch every one off; we read a
    # missing `enabled` as on (the bot's one deliberate difference here, in docs/sillytavern.md).
    assert all(e.enabled for e in book.entries)
    # The book-level scan_depth, token_budget and recursive_scanning are kept but not used, as in SillyTavern.
    assert (book.scan_depth, book.token_budget, book.recursive_scanning) == (2, 512, True)


@pytest.mark.parametrize(("text", "fired"), [
    # A plain key, whole word, case-insensitive.
    ("Let's visit the library.", [ARCHIVE]),
    ("the ARCANE CORE hums", [ENGINE, ARCHIVE]),  # the engine's text says "the Archive": recursion
    ("an automaton!", [AUTOMATA, ARCHIVE]),  # "…maintain the Archive": recursion
    # Whole words: a key inside a longer word does not match.
    ("librarys and automatons", []),
    ("Where do the scriveners go?", []),
    # The selective entry: a primary key and any secondary key (AND ANY).
    ("The restricted section.", []),
    ("a keyhole in the restricted section", []),  # "key" is a whole word only
    ("A forbidden grimoire in the Vault of Whispers.", [VAULT, ARCHIVE]),  # "The Restricted Stacks…": "stacks"
    # Keys of several words are matched as plain text (matchKeys: `haystack.includes(key)`), so
    # "sub-level 7" is found inside "sub-level 70".
    ("Take me to sub-level 7.", []),
    ("Take me to sub-level 70, I have clearance.", [VAULT, ARCHIVE]),
    # The archive's own text says "tomes", not the secondary key "tome": recursion does not unlock the vault.
    ("The library's restricted section.", [ARCHIVE]),
])
def test_which_entries_fire(book: Lorebook, text: str, fired: list[str]) -> None:
    assert scan(book, text).names == fired


def test_recursion_reasons_and_the_order_of_the_text(book: Lorebook) -> None:
    result = scan(book, "Tell me about the aether engine.")
    assert result.names == [ENGINE, ARCHIVE]
    why = {item["name"]: item["why"] for item in result.why()}
    assert why[ENGINE] == "key “aether engine”"
    assert why[ARCHIVE].startswith("key “archive”") and "other entries" in why[ARCHIVE]
    # All "after the character" (position 1); equal order, so each is put in front of the one
    # activated before it (`WIAfterEntries.unshift`): the archive, then the engine.
    assert [text.split(" is ")[0] for text in result.after] == ["The Grand Archive of Oakhaven",
                                                                "The Central Aether Engine"]
    assert result.before == []


def test_scan_depth_is_sillytaverns_two_messages_not_the_books(book: Lorebook) -> None:
    assert scan(book, "the library", "hi", "hello").names == []
    assert scan(book, "hi", "the library", "hello").names == [ARCHIVE]
