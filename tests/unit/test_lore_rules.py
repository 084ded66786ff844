"""Entry rules of `checkWorldInfo` (world-info.js) beyond keys: generation-type triggers, the
character filter, minimum activations and outlets."""

from __future__ import annotations

from dataclasses import replace

from bot.characters.lore_settings import LoreSettings
from bot.characters.model import LoreEntry
from tests.unit.test_lorebook import entry, fired


def test_an_entry_with_triggers_fires_only_for_those_kinds_of_generation() -> None:
    only_continue = entry(["dragon"], "on continue", ext={"triggers": ["continue"]})
    always = entry(["dragon"], "always")
    said = ["A dragon lands."]
    assert fired([only_continue, always], said) == ["always"]  # a new message is "normal"
    assert fired([only_continue, always], said, settings=LoreSettings(generation=("continue",))) == [
        "on continue", "always"]
    # 🔄 is both a regenerate and a swipe
    swipe = entry(["dragon"], "on swipe", ext={"triggers": ["swipe"]})
    assert fired([swipe], said, settings=LoreSettings(generation=("regenerate", "swipe"))) == ["on swipe"]


def test_triggers_also_hold_back_constant_entries() -> None:
    quiet = entry([], "quiet only", constant=True, ext={"triggers": ["quiet"]})
    assert fired([quiet], ["hi"]) == []
    assert fired([quiet], ["hi"], settings=LoreSettings(generation=("quiet",))) == ["quiet only"]


def test_a_standalone_worlds_triggers_field_counts_too() -> None:
    e = LoreEntry(keys=["dragon"], content="normal only", extra={"triggers": ["impersonate"]})
    assert fired([e], ["A dragon."]) == []


def filtered(names: list[str] | None = None, tags: list[str] | None = None, exclude: bool = False) -> LoreEntry:
    filt = {"names": names or [], "tags": tags or [], "isExclude": exclude}
    return entry(["dragon"], "filtered", ext={"characterFilter": filt})


def test_the_character_filter_keeps_an_entry_for_the_named_characters_only() -> None:
    said = ["A dragon."]
    alice = LoreSettings(character_name="Alice Vance")
    bruno = LoreSettings(character_name="Bruno")
    assert fired([filtered(["alice vance"])], said, settings=alice) == ["filtered"]
    assert fired([filtered(["Alice Vance"])], said, settings=bruno) == []
    assert fired([filtered(["Alice Vance"], exclude=True)], said, settings=alice) == []
    assert fired([filtered(["Alice Vance"], exclude=True)], said, settings=bruno) == ["filtered"]


def test_the_character_filter_by_tags_and_in_a_standalone_world() -> None:
    said = ["A dragon."]
    fantasy = LoreSettings(character_name="Bruno", character_tags=("Fantasy", "male"))
    modern = replace(fantasy, character_tags=("modern",))
    assert fired([filtered(tags=["fantasy"])], said, settings=fantasy) == ["filtered"]
    assert fired([filtered(tags=["fantasy"])], said, settings=modern) == []
    assert fired([filtered(tags=["fantasy"], exclude=True)], said, settings=modern) == ["filtered"]
    world = LoreEntry(keys=["dragon"], content="world", extra={"characterFilter": {"names": ["Celeste"]}})
    assert fired([world], said, settings=fantasy) == []
    assert fired([world], said, settings=replace(fantasy, character_name="Celeste")) == ["world"]
