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


def test_min_activations_scan_deeper_until_enough_entries_fired() -> None:
    """`world_info_min_activations`: with too few entries fired at the scan depth (2), the scan goes
    one message deeper at a time, until enough fired or the history (or the max depth) ends."""
    book = [entry(["dragon"], "dragon"), entry(["castle"], "castle"), entry(["sword"], "sword")]
    said = ["A sword in the stone.", "A castle on the hill.", "Quiet.", "Nothing.", "A dragon! A castle!"]
    assert fired(book, said) == ["dragon", "castle"]  # the last two messages only
    assert fired(book, said, settings=LoreSettings(min_activations=3)) == ["dragon", "castle", "sword"]
    assert fired(book, said, settings=LoreSettings(min_activations=3, min_activations_depth_max=3)) == [
        "dragon", "castle"]  # the sword is five messages back
    assert fired(book, said[:4], settings=LoreSettings(min_activations=5)) == ["castle", "sword"]  # all history


def test_min_activations_counts_what_fired_already() -> None:
    book = [entry(["dragon"], "dragon"), entry(["castle"], "castle")]
    said = ["A castle.", "x", "A dragon."]
    assert fired(book, said, settings=LoreSettings(min_activations=1)) == ["dragon"]


def test_outlet_entries_go_where_a_card_field_or_the_authors_note_writes_the_macro() -> None:
    """Position 7 ("outlet"): the entry is not placed before or after the definition but where
    `{{outlet::name}}` is written, in the description or the Author's Note; an outlet nobody
    filled is empty."""
    from bot.characters.model import Character, Lorebook
    from bot.chat.prompt import PromptInput, Turn, build_prompt
    from bot.chat.prompt_lore import AuthorNote

    book = Lorebook(entries=[
        LoreEntry(keys=["harbour"], content="The harbour smells of tar.", id=0,
                  extensions={"position": 7, "outlet_name": "places"}),
        LoreEntry(keys=["harbour"], content="Gulls everywhere.", id=1, insertion_order=50,
                  extra={"outletName": "birds"}, extensions={"position": 7}),
    ])
    mira = Character(name="Mira", description="Mira sails. Places: {{outlet::places}}. Nothing: [{{outlet::none}}]",
                     lorebook=book)
    inp = PromptInput(character=mira, user_name="Alex", turns=[Turn("user", "To the harbour!", id=1)],
                      context_tokens=8192, reply_tokens=256,
                      author_note=AuthorNote("Birds: {{outlet::birds}}", depth=0))
    messages = build_prompt(inp).messages
    system = messages[0]["content"]
    assert "Places: The harbour smells of tar.." in system and "Nothing: []" in system
    assert system.count("The harbour smells of tar.") == 1 and "Gulls everywhere." not in system
    note = [m["content"] for m in messages[1:] if m["role"] == "system"]
    assert any("Birds: Gulls everywhere." in n for n in note), messages
