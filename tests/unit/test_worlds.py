"""Standalone lorebooks: every format SillyTavern imports becomes the same Lorebook, and exports back."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from bot.characters.cards import parse_card
from bot.characters.cards_json import MAX_LORE_ENTRIES, CardError
from bot.characters.lore_state import LoreState
from bot.characters.lorebook import ScanText, select_lore
from bot.characters.worlds import export_world_json, lorebook_from_object, parse_lorebook, world_to_object

DATA = Path(__file__).resolve().parents[1] / "data"

# A world entry as SillyTavern 1.12 writes it (newWorldInfoEntryTemplate plus uid and displayIndex).
ST_ENTRY = {
    "uid": 7, "key": ["moon", "/lun(ar|a)/i"], "keysecondary": ["night"], "comment": "Moon", "content": "The moon.",
    "constant": False, "vectorized": False, "selective": True, "selectiveLogic": 2, "addMemo": True, "order": 90,
    "position": 4, "disable": False, "excludeRecursion": True, "preventRecursion": False, "delayUntilRecursion": 0,
    "probability": 100, "useProbability": True, "depth": 2, "group": "sky", "groupOverride": False,
    "groupWeight": 100, "scanDepth": None, "caseSensitive": None, "matchWholeWords": None, "useGroupScoring": None,
    "automationId": "", "role": 1, "sticky": 2, "cooldown": None, "delay": None, "displayIndex": 0,
}


def test_sillytaverns_bundled_world_is_read() -> None:
    book = parse_lorebook((DATA / "Eldoria.json").read_bytes(), "Eldoria.json")
    assert book.name == "Eldoria"
    assert [e.keys[0] for e in book.entries] == ["eldoria", "shadowfang", "glade", "power"]


def test_sillytaverns_bundled_world_exports_back_identically() -> None:
    raw = (DATA / "Eldoria.json").read_bytes()
    assert world_to_object(parse_lorebook(raw, "Eldoria.json")) == json.loads(raw)


def test_a_full_sillytavern_entry_round_trips_field_for_field() -> None:
    world = {"entries": {"7": ST_ENTRY}}
    book = lorebook_from_object(world, name="w")
    assert world_to_object(book) == world
    assert json.loads(export_world_json(book)) == world


def test_world_fields_land_where_a_cards_character_book_keeps_them() -> None:
    entry = lorebook_from_object({"entries": {"7": ST_ENTRY}}).entries[0]
    assert (entry.id, entry.insertion_order, entry.secondary_keys, entry.comment) == (7, 90, ["night"], "Moon")
    assert entry.extensions["selectiveLogic"] == 2 and entry.extensions["exclude_recursion"] is True
    assert entry.extensions["position"] == 4 and entry.extensions["role"] == 1 and entry.extensions["sticky"] == 2
    assert entry.extensions["vectorized"] is False
    assert entry.extra == {"addMemo": True}  # no card field holds it; kept for export


def test_the_world_and_the_card_book_of_seraphina_fire_the_same_entries() -> None:
    world = parse_lorebook((DATA / "Eldoria.json").read_bytes(), "Eldoria.json")
    card_book = parse_card((DATA / "default_Seraphina.png").read_bytes(), "default_Seraphina.png").lorebook
    assert card_book is not None

    def first_keys(book: object, messages: list[str]) -> list[str]:
        result = select_lore(book, ScanText(messages), state=LoreState(chat_length=2),  # type: ignore[arg-type]
                             budget_tokens=10_000, rng=random.Random(0))
        return [e.keys[0] for e in result.activated]

    chat = ["You: what is this place?", "Seraphina: my forest glade."]
    # "forest" and "glade" fire entries 0 and 2; their texts mention "beasts" and "magic", so
    # recursion (on by default) brings in the Shadowfang entry and the powers entry, in uid order.
    assert first_keys(world, chat) == first_keys(card_book, chat) == ["eldoria", "glade", "shadowfang", "power"]
    # "forests" is not the whole word "forest", and "Shadowfangs" is not "shadowfang".
    assert first_keys(world, ["You: forests and Shadowfangs", "Seraphina: hm."]) == []


def test_a_v3_lorebook_file_is_read() -> None:
    obj = {"spec": "lorebook_v3", "data": {"name": "Book", "entries": [{"keys": ["k"], "content": "c"}]}}
    book = lorebook_from_object(obj)
    assert (book.name, book.entries[0].keys) == ("Book", ["k"])


def test_a_character_cards_book_is_read_as_a_lorebook() -> None:
    book = parse_lorebook((DATA / "default_Seraphina.png").read_bytes(), "default_Seraphina.png")
    assert len(book.entries) == 4


def test_the_tavernai_format_without_disable_is_enabled() -> None:
    obj = {"entries": {"0": {"uid": 0, "key": ["Axel"], "keysecondary": [], "comment": "", "content": "A city.",
                             "constant": False, "selective": False, "order": 0}}}
    entry = lorebook_from_object(obj).entries[0]
    assert entry.enabled and entry.keys == ["Axel"] and entry.insertion_order == 0


def test_koboldai_list_with_comma_separated_keys() -> None:
    book = lorebook_from_object([{"key": "tavern, inn", "keysecondary": "", "content": "A rowdy inn.",
                                  "selective": False, "constant": False, "folder": None}])
    assert book.entries[0].keys == ["tavern", "inn"]
    assert book.entries[0].extra == {"folder": None}


def test_novelai_agnai_and_risu_books_are_converted() -> None:
    novel = lorebook_from_object({"lorebookVersion": 5, "entries": [
        {"keys": ["k"], "text": "t", "displayName": "N", "enabled": True, "contextConfig": {"budgetPriority": 400}}]})
    agnai = lorebook_from_object({"kind": "memory", "name": "A", "entries": [
        {"name": "n", "entry": "t", "keywords": ["k"], "priority": 1, "weight": 5, "enabled": True}]})
    risu = lorebook_from_object({"type": "risu", "data": [
        {"key": "a, b", "secondkey": "", "content": "t", "comment": "c", "insertorder": 3, "alwaysActive": True}]})
    assert (novel.entries[0].insertion_order, novel.entries[0].comment) == (400, "N")
    assert (agnai.name, agnai.entries[0].insertion_order) == ("A", 5)
    assert (risu.entries[0].keys, risu.entries[0].constant) == (["a", "b"], True)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (b"[1, 2]", "entry 1"),
        (b'{"name": "x"}', "no `entries`"),
        (b'{"entries": {"0": "oops"}}', "entry 0"),
        (b'{"entries": {"0": {"key": {"a": 1}}}}', "list of words"),
        (json.dumps({"entries": {str(i): {"key": ["k"]} for i in range(MAX_LORE_ENTRIES + 1)}}).encode(), "at most"),
        (b'{"entries": ', "not valid JSON"),
    ],
)
def test_bad_lorebooks_are_refused_in_words_an_author_understands(data: bytes, fragment: str) -> None:
    with pytest.raises(CardError, match=fragment):
        parse_lorebook(data, "book.json")


def test_triggers_character_filter_and_outlets_survive_import_and_export() -> None:
    """The fields the scan now reads (generation triggers, characterFilter, outlet position and
    name) are written back exactly as read, and the parsed entry behaves as they say."""
    from bot.characters.lore_settings import LoreSettings, Position, character_allows, entry_settings

    entry = {"uid": 0, "key": ["harbour"], "content": "Tar.", "position": 7, "outletName": "places",
             "triggers": ["normal", "swipe"],
             "characterFilter": {"isExclude": True, "names": ["Bruno"], "tags": ["fantasy"]}}
    book = parse_lorebook(json.dumps({"entries": {"0": entry}}).encode(), "Harbour.json")
    settings = entry_settings(book.entries[0], 0)
    assert settings.position == Position.OUTLET and settings.outlet == "places"
    assert settings.triggers == ("normal", "swipe") and settings.filter_exclude
    assert not character_allows(settings, "Bruno", ()) and character_allows(settings, "Alice", ("modern",))
    assert LoreSettings().generation == ("normal",)
    written = json.loads(export_world_json(book))["entries"]["0"]
    for key, value in entry.items():
        assert written[key] == value, key
