"""Lorebook: which entries fire and where they go, entry by entry as SillyTavern's world-info.js decides.

Each test states one rule of `checkWorldInfo` (or `WorldInfoBuffer.matchKeys`, the timed effects,
`filterByInclusionGroups`) and checks our scan against it. Entries are written the way
SillyTavern's exporter writes a card's `character_book` (`use_regex: true` on every entry, the
settings in `extensions`).
"""

from __future__ import annotations

import random

import pytest

from bot.characters import lore_match
from bot.characters.lore_settings import LoreSettings, Position, Role
from bot.characters.lore_state import LoreState
from bot.characters.lorebook import LoreResult, ScanText, select_lore
from bot.characters.model import Lorebook, LoreEntry
from bot.chat.tokens import estimate

BIG = 100_000


def entry(keys: list[str] | None = None, content: str = "", **fields: object) -> LoreEntry:
    """An entry as SillyTavern exports it: `use_regex` always true, settings in `extensions`."""
    keys = ["dragon"] if keys is None else keys
    ext = fields.pop("ext", {})
    return LoreEntry(
        keys=keys, content=content or f"lore about {keys[0] if keys else 'nothing'}", use_regex=True,
        extensions=dict(ext), **fields,  # type: ignore[arg-type]
    )


def scan(entries: list[LoreEntry], messages: list[str], *, state: LoreState | None = None, budget: int = BIG,
         settings: LoreSettings | None = None, seed: int = 0, **text: str) -> LoreResult:
    book = Lorebook(entries=entries, name="book")
    state = state or LoreState(chat_length=len(messages))
    return select_lore(book, ScanText(messages, **text), state=state, budget_tokens=budget, settings=settings,
                       rng=random.Random(seed))


def fired(entries: list[LoreEntry], messages: list[str], **kwargs: object) -> list[str]:
    """The contents that fired, in activation order."""
    return [e.content for e in scan(entries, messages, **kwargs).activated]  # type: ignore[arg-type]


# --- keys: WorldInfoBuffer.matchKeys ---------------------------------------------------------------


def test_an_entry_fires_when_one_of_its_keys_appears() -> None:
    assert fired([entry(["dragon", "wyrm"])], ["A wyrm circles the tower."]) == ["lore about dragon"]


def test_an_entry_does_not_fire_without_its_keys() -> None:
    assert fired([entry()], ["A quiet morning."]) == []


def test_use_regex_is_ignored_so_cpp_only_matches_cpp() -> None:
    e = entry(["C++"], "cpp")
    assert fired([e], ["some c code"]) == []
    assert fired([e], ["I write C++ daily"]) == ["cpp"]


def test_asterisks_in_a_key_are_literal() -> None:
    e = entry(["*hugs*"], "hug")
    assert fired([e], ["she *hugs* him"]) == ["hug"]
    assert fired([e], ["hugs all round"]) == []


def test_keys_ignore_case_by_default() -> None:
    assert fired([entry(["Dragon"])], ["DRAGON!"]) == ["lore about Dragon"]


def test_case_sensitive_extension_needs_the_exact_case() -> None:
    e = entry(["Rose"], "r", ext={"case_sensitive": True})
    assert fired([e], ["a rose by the door"]) == []
    assert fired([e], ["Rose opens the door"]) == ["r"]


def test_the_spec_case_sensitive_field_counts_when_the_extension_is_silent() -> None:
    assert fired([entry(["Rose"], "r", case_sensitive=True)], ["a rose"]) == []


def test_one_word_keys_match_whole_words() -> None:
    assert fired([entry(["cat"])], ["they concatenate strings"]) == []
    assert fired([entry(["cat"])], ["the cat, asleep"]) == ["lore about cat"]


def test_match_whole_words_off_matches_inside_words() -> None:
    assert fired([entry(["cat"], ext={"match_whole_words": False})], ["concatenate"]) == ["lore about cat"]


def test_keys_of_several_words_match_as_plain_text() -> None:
    assert fired([entry(["black tower"])], ["At the Black Towers."]) == ["lore about black tower"]


def test_word_boundaries_are_javascript_ascii_word_characters() -> None:
    assert fired([entry(["Dr."], "d")], ["Ask Dr. Who"]) == ["d"]
    assert fired([entry(["Dr."], "d")], ["Ask Dr.Who"]) == []  # "W" after the key is a word character
    assert fired([entry(["café"], "c")], ["cafés"]) == []
    assert fired([entry(["café"], "c")], ["au café."]) == ["c"]


def test_keys_in_scripts_without_spaces_match_inside_words() -> None:
    assert fired([entry(["龍"], "dragon lore")], ["這是龍的巢穴"]) == ["dragon lore"]
    assert fired([entry(["ドラゴン"], "d")], ["巨大なドラゴンが現れた"]) == ["d"]


def test_blank_keys_never_match() -> None:
    assert fired([entry(["", "  "])], ["anything at all"]) == []


def test_slash_keys_are_javascript_regexes_with_their_own_flags() -> None:
    assert fired([entry(["/moon(light)?/i"], "m")], ["MOONLIGHT falls"]) == ["m"]
    assert fired([entry(["/Moon/"], "m")], ["moon"]) == []  # no `i`: the text is not lower-cased for regexes


def test_a_key_with_an_unescaped_slash_inside_is_literal_text() -> None:
    assert fired([entry(["/a/b/"], "x")], ["path /a/b/ here"]) == ["x"]


def test_a_regex_key_re2_cannot_run_is_skipped_and_the_other_keys_still_work() -> None:
    e = entry(["/drag(?=on)/", "wyrm"], "x")
    assert fired([e], ["dragon"]) == []
    assert fired([e], ["a wyrm"]) == ["x"]


def test_regexes_that_backtrack_badly_elsewhere_run_in_linear_time() -> None:
    e = entry([r"/(a+)+$/"], "bomb")
    assert fired([e], ["a" * 50_000 + "!"]) == []
    assert fired([e], ["aaaa"]) == ["bomb"]


def test_long_regex_keys_are_read() -> None:
    key = "/(" + "|".join(f"word{i}" for i in range(60)) + ")/"
    assert len(key) > 200
    assert fired([entry([key], "x")], ["say word42"]) == ["x"]


def test_keys_over_the_length_limit_are_skipped_not_refused() -> None:
    e = entry(["x" * (lore_match.MAX_KEY_CHARS + 1), "dragon"], "x")
    assert fired([e], ["dragon"]) == ["x"]


def test_macros_in_keys_are_expanded() -> None:
    book = Lorebook(entries=[entry(["{{user}}"], "about the user")])
    result = select_lore(book, ScanText(["Sam: hello"]), state=LoreState(chat_length=1), budget_tokens=BIG,
                         substitute=lambda s: s.replace("{{user}}", "Sam"), names=("Mira", "Sam"))
    assert [e.content for e in result.activated] == ["about the user"]


# --- activation rules ------------------------------------------------------------------------------


def test_disabled_entries_never_fire_even_when_constant() -> None:
    assert fired([entry(enabled=False), entry(["x"], "c", constant=True, enabled=False)], ["dragon x"]) == []


def test_constant_entries_always_fire() -> None:
    assert fired([entry(["never"], "always", constant=True)], ["nothing relevant"]) == ["always"]


def test_activate_and_dont_activate_decorators() -> None:
    assert fired([entry(["k"], "@@activate\nyes")], ["nothing"]) == ["yes"]
    assert fired([entry(["k"], "@@dont_activate\nno")], ["k"]) == []


def test_unknown_decorators_are_cut_and_fallbacks_tried() -> None:
    result = scan([entry(["k"], "@@risu_magic 4\n@@@activate\nyes")], ["nothing"])
    assert [e.content for e in result.activated] == ["yes"]
    assert result.before == ["yes"]


def test_entries_with_empty_content_activate_but_are_not_placed() -> None:
    result = scan([LoreEntry(keys=["x"], content="", constant=True)], ["x"])
    assert len(result.activated) == 1
    assert result.before == result.after == []


# --- secondary keys: matchSecondaryKeys ------------------------------------------------------------


@pytest.mark.parametrize(
    ("logic", "text", "fires"),
    [
        (0, "her sword is cracked", True),  # AND ANY: one secondary key present
        (0, "her sword", False),
        (1, "her sword is cracked", True),  # NOT ALL: "broken" is missing
        (1, "her sword is cracked and broken", False),
        (2, "her sword", True),  # NOT ANY: no secondary key present
        (2, "her sword is cracked", False),  # ... one present suppresses it
        (3, "her sword is cracked and broken", True),  # AND ALL
        (3, "her sword is cracked", False),
    ],
)
def test_selective_logic(logic: int, text: str, fires: bool) -> None:
    e = entry(["sword"], "blade", selective=True, secondary_keys=["broken", "cracked"], ext={"selectiveLogic": logic})
    assert fired([e], [text]) == (["blade"] if fires else [])


def test_secondary_keys_are_ignored_unless_selective() -> None:
    assert fired([entry(["sword"], "b", secondary_keys=["broken"])], ["sword"]) == ["b"]


def test_selective_entry_without_secondary_keys_behaves_like_a_plain_one() -> None:
    assert fired([entry(["sword"], "b", selective=True)], ["sword"]) == ["b"]


# --- scanned text: speaker names, depth, card fields -------------------------------------------------


def test_only_the_last_two_messages_are_scanned_by_default() -> None:
    messages = ["a dragon appears", "small talk", "more small talk"]
    assert fired([entry()], messages) == []
    assert fired([entry()], messages, settings=LoreSettings(scan_depth=3)) == ["lore about dragon"]


def test_an_entry_scan_depth_overrides_the_global_one() -> None:
    assert fired([entry(ext={"scan_depth": 3})], ["a dragon appears", "b", "c"]) == ["lore about dragon"]


def test_scan_depth_zero_leaves_only_constant_entries() -> None:
    entries = [entry(), entry(["k"], "c", constant=True)]
    assert fired(entries, ["dragon"], settings=LoreSettings(scan_depth=0)) == ["c"]


def test_speaker_names_in_the_scanned_text_can_fire_entries() -> None:
    assert fired([entry(["Sam"], "who Sam is")], ["Sam: hello there"]) == ["who Sam is"]


def test_entries_can_opt_into_scanning_the_persona() -> None:
    e = entry(["smuggler"], "x", ext={"match_persona_description": True})
    assert fired([e], ["hi"], persona="a smuggler") == ["x"]
    assert fired([entry(["smuggler"], "x")], ["hi"], persona="a smuggler") == []


# --- recursion -------------------------------------------------------------------------------------


def test_recursion_is_on_by_default_and_pulls_in_entries_mentioned_by_others() -> None:
    entries = [entry(["castle"], "The castle has a dragon."), entry(["dragon"], "Dragons breathe fire.")]
    assert fired(entries, ["We reach the castle."]) == ["The castle has a dragon.", "Dragons breathe fire."]


def test_recursion_can_be_turned_off() -> None:
    entries = [entry(["castle"], "The castle has a dragon."), entry(["dragon"], "Dragons breathe fire.")]
    assert fired(entries, ["the castle"], settings=LoreSettings(recursive=False)) == ["The castle has a dragon."]


def test_exclude_recursion_entries_fire_only_on_the_messages() -> None:
    entries = [entry(["castle"], "The castle has a dragon."),
               entry(["dragon"], "D", ext={"exclude_recursion": True})]
    assert fired(entries, ["the castle"]) == ["The castle has a dragon."]
    assert fired(entries, ["a dragon"]) == ["D"]


def test_prevent_recursion_entries_trigger_nothing_further() -> None:
    entries = [entry(["castle"], "It has a dragon.", ext={"prevent_recursion": True}), entry(["dragon"], "D")]
    assert fired(entries, ["the castle"]) == ["It has a dragon."]


def test_delay_until_recursion_entries_fire_only_through_recursion() -> None:
    delayed = entry(["dragon"], "D", ext={"delay_until_recursion": True})
    assert fired([delayed], ["a dragon"]) == []
    assert fired([entry(["castle"], "has a dragon"), delayed], ["the castle"]) == ["has a dragon", "D"]


def test_delay_levels_open_one_after_another() -> None:
    trigger = entry(["castle"], "a dragon lives here")
    second = entry(["dragon"], "two", ext={"delay_until_recursion": 2})
    first = entry(["dragon"], "one", ext={"delay_until_recursion": 1})
    assert fired([second, first, trigger], ["the castle"]) == ["a dragon lives here", "one", "two"]


def test_with_nothing_to_recurse_on_the_next_delay_level_opens_at_once() -> None:
    # checkWorldInfo: an empty pass moves straight to the next level, so level 1 and 2 fire together.
    first = entry(["castle"], "one", ext={"delay_until_recursion": 1})
    second = entry(["castle"], "two", ext={"delay_until_recursion": 2})
    assert fired([second, first], ["the castle"]) == ["two", "one"]


def test_recursion_terminates_on_cycles() -> None:
    entries = [entry(["a"], "mentions b"), entry(["b"], "mentions a")]
    assert len(fired(entries, ["a"])) == 2


# --- probability, groups ---------------------------------------------------------------------------


def test_probability_zero_never_fires_and_probability_off_always_does() -> None:
    assert fired([entry(ext={"probability": 0, "useProbability": True})], ["dragon"]) == []
    assert fired([entry(ext={"probability": 0, "useProbability": False})], ["dragon"]) == ["lore about dragon"]


def test_probability_rolls_come_from_the_given_generator() -> None:
    e = entry(ext={"probability": 50, "useProbability": True})
    outcomes = {seed: fired([e], ["dragon"], seed=seed) for seed in range(40)}
    assert outcomes == {seed: fired([e], ["dragon"], seed=seed) for seed in range(40)}
    assert {len(v) for v in outcomes.values()} == {0, 1}


def test_only_one_entry_of_an_inclusion_group_fires() -> None:
    entries = [entry(["k"], f"e{i}", ext={"group": "weather"}) for i in range(3)]
    assert len(fired(entries, ["k"])) == 1


def test_group_override_picks_the_highest_order() -> None:
    entries = [entry(["k"], "low", insertion_order=1, ext={"group": "g", "group_override": True}),
               entry(["k"], "high", insertion_order=9, ext={"group": "g", "group_override": True}),
               entry(["k"], "plain", insertion_order=50, ext={"group": "g"})]
    assert fired(entries, ["k"]) == ["high"]


def test_group_weight_zero_never_wins_against_weight() -> None:
    entries = [entry(["k"], "never", ext={"group": "g", "group_weight": 0}), entry(["k"], "w", ext={"group": "g"})]
    assert {tuple(fired(entries, ["k"], seed=s)) for s in range(20)} == {("w",)}


def test_group_scoring_keeps_the_entry_with_the_most_keys_found() -> None:
    entries = [entry(["rain"], "drizzle", ext={"group": "g", "use_group_scoring": True}),
               entry(["rain", "storm"], "storm", ext={"group": "g", "use_group_scoring": True})]
    assert {tuple(fired(entries, ["rain and storm"], seed=s)) for s in range(20)} == {("storm",)}


def test_a_group_already_activated_keeps_its_other_entries_out_of_recursion() -> None:
    entries = [entry(["castle"], "a dragon here", ext={"group": "g"}), entry(["dragon"], "D", ext={"group": "g"})]
    assert fired(entries, ["the castle"]) == ["a dragon here"]


# --- timed effects: WorldInfoTimedEffects ------------------------------------------------------------


def _turn(entries: list[LoreEntry], messages: list[str], state: LoreState) -> LoreResult:
    state = state.copy()
    state.chat_length = len(messages)
    return scan(entries, messages, state=state)


def test_sticky_keeps_an_entry_for_n_messages_after_its_keys_are_gone() -> None:
    e = entry(ext={"sticky": 3})
    first = _turn([e], ["a dragon"], LoreState())
    assert first.state.sticky  # the effect starts at chat length 1, ends at 4
    later = _turn([e], ["a dragon", "x", "y"], first.state)
    assert [x.content for x in later.activated] == ["lore about dragon"]
    over = _turn([e], ["a dragon", "x", "y", "z"], later.state)
    assert over.activated == []


def test_cooldown_keeps_an_entry_off_for_n_messages_after_it_fired() -> None:
    e = entry(ext={"cooldown": 2})
    first = _turn([e], ["dragon"], LoreState())
    assert len(first.activated) == 1
    assert _turn([e], ["dragon", "dragon"], first.state).activated == []
    assert len(_turn([e], ["dragon", "dragon", "dragon"], first.state).activated) == 1


def test_a_sticky_entry_goes_on_cooldown_when_it_ends() -> None:
    e = entry(ext={"sticky": 1, "cooldown": 2})
    first = _turn([e], ["dragon"], LoreState())
    ended = _turn([e], ["dragon", "dragon"], first.state)
    assert ended.activated == []
    assert "book.0" in ended.state.cooldown and ended.state.cooldown["book.0"].protected


def test_delay_keeps_an_entry_off_until_the_chat_is_long_enough() -> None:
    e = entry(ext={"delay": 3})
    assert _turn([e], ["dragon", "dragon"], LoreState()).activated == []
    assert len(_turn([e], ["dragon"] * 3, LoreState()).activated) == 1


def test_a_regenerate_decides_afresh() -> None:
    e = entry(ext={"cooldown": 5})
    first = _turn([e], ["x", "dragon"], LoreState())
    assert first.state.cooldown["book.0"].start == 2
    # Regenerating the same reply: the chat is still 2 messages long, so the cooldown set by the
    # first attempt is dropped (WorldInfoTimedEffects: "chat not advanced") and the entry fires again.
    assert len(_turn([e], ["x", "dragon"], first.state).activated) == 1


def test_an_edited_entry_loses_its_timed_effect() -> None:
    first = _turn([entry(ext={"sticky": 5})], ["dragon"], LoreState())
    edited = entry(content="new text", ext={"sticky": 5})
    assert _turn([edited], ["x", "y"], first.state).activated == []


# --- budget and order --------------------------------------------------------------------------------


def test_placed_text_is_in_ascending_insertion_order() -> None:
    entries = [entry(["k"], "third", insertion_order=30), entry(["k"], "first", insertion_order=1),
               entry(["k"], "second", insertion_order=20)]
    assert scan(entries, ["k"]).before == ["first", "second", "third"]


def test_the_budget_goes_to_higher_insertion_order_first_and_the_rest_is_left_out() -> None:
    entries = [entry(["k"], "low " * 40, insertion_order=1, comment="Low"),
               entry(["k"], "high " * 40, insertion_order=9, comment="High")]
    result = scan(entries, ["k"], budget=estimate("high " * 40 + "\n") + 5)
    assert [e.name for e in result.activated] == ["High"]
    assert [e.name for e in result.left_out] == ["Low"]


def test_the_first_entry_over_the_budget_ends_the_scan() -> None:
    entries = [entry(["k"], "big " * 200, insertion_order=9), entry(["k"], "small", insertion_order=1)]
    result = scan(entries, ["k"], budget=30)
    assert result.activated == []
    assert len(result.left_out) == 2


def test_constant_entries_get_no_priority_over_keyed_ones() -> None:
    entries = [entry(["k"], "keyed " * 20, insertion_order=9),
               entry(["z"], "const " * 20, constant=True, insertion_order=1)]
    result = scan(entries, ["k"], budget=estimate("keyed " * 20 + "\n") + 5)
    assert [e.constant for e in result.activated] == [False]


def test_ignore_budget_entries_go_in_after_the_budget_is_spent() -> None:
    entries = [entry(["k"], "big " * 200, insertion_order=9), entry(["k"], "must", ext={"ignore_budget": True})]
    assert [e.content for e in scan(entries, ["k"], budget=30).activated] == ["must"]


def test_no_budget_selects_nothing() -> None:
    assert scan([entry(["k"], "c", constant=True)], [], budget=0).activated == []


# --- positions ---------------------------------------------------------------------------------------


def test_each_position_gets_its_entries() -> None:
    entries = [
        entry(["k"], "before", ext={"position": 0}),
        entry(["k"], "after", ext={"position": 1}),
        entry(["k"], "an top", ext={"position": 2}),
        entry(["k"], "an bottom", ext={"position": 3}),
        entry(["k"], "deep", ext={"position": 4, "depth": 2, "role": 1}),
        entry(["k"], "em top", ext={"position": 5}),
        entry(["k"], "em bottom", ext={"position": 6}),
    ]
    result = scan(entries, ["k"])
    assert (result.before, result.after, result.an_top, result.an_bottom) == (
        ["before"], ["after"], ["an top"], ["an bottom"])
    assert sorted(result.examples) == [(Position.EM_TOP, "em top"), (Position.EM_BOTTOM, "em bottom")]
    assert [(g.depth, g.role, g.contents) for g in result.depth] == [(2, Role.USER, ["deep"])]


def test_the_spec_position_is_used_when_the_extension_has_none() -> None:
    assert scan([entry(["k"], "A", position="after_char")], ["k"]).after == ["A"]


# --- bounds ------------------------------------------------------------------------------------------


def test_a_flood_of_overlapping_keys_stops_at_the_work_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lore_match, "MAX_AUTOMATON_MATCHES", 1_000)
    entries = [entry(["a" * n], f"e{n}", ext={"match_whole_words": False}) for n in range(1, 50)]
    result = scan(entries, ["b" + "a" * 5_000])
    assert "keys" in result.cut_short


def test_regex_work_is_bounded_per_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lore_match, "MAX_REGEX_BYTES", 10_000)
    entries = [entry([f"/x{i}y/"], f"e{i}") for i in range(20)]
    result = scan(entries, ["z" * 5_000])
    assert "regex" in result.cut_short
