"""Lorebook: which entries fire, in what order, within what budget, and where their text goes."""

from __future__ import annotations

import time

import pytest

from bot.characters import lorebook
from bot.characters.lorebook import REGEX_WINDOW_CHARS, format_lore, lore_text, select_entries
from bot.characters.model import Lorebook, LoreEntry

BIG = 10_000


def entry(keys: list[str] | None = None, content: str = "", **fields: object) -> LoreEntry:
    keys = ["dragon"] if keys is None else keys
    return LoreEntry(keys=keys, content=content or f"lore about {keys[0] if keys else 'nothing'}", **fields)  # type: ignore[arg-type]


def fired(entries: list[LoreEntry], texts: list[str], *, budget: int = BIG, **book: object) -> list[str]:
    chosen = select_entries(Lorebook(entries=entries, **book), texts, budget_tokens=budget)  # type: ignore[arg-type]
    return [e.content for e in chosen]


# --- keys ----------------------------------------------------------------------------------------


def test_entry_fires_when_a_key_appears() -> None:
    assert fired([entry(["dragon", "wyrm"])], ["A wyrm circles the tower."]) == ["lore about dragon"]


def test_entry_does_not_fire_without_its_keys() -> None:
    assert fired([entry()], ["A quiet morning."]) == []


def test_no_book_selects_nothing() -> None:
    assert select_entries(None, ["dragon"], budget_tokens=BIG) == []


def test_keys_are_case_insensitive_by_default() -> None:
    assert fired([entry(["Dragon"])], ["DRAGON!"]) == ["lore about Dragon"]


def test_case_sensitive_entries_need_the_exact_case() -> None:
    e = entry(["Rose"], case_sensitive=True)
    assert fired([e], ["a rose by the door"]) == []
    assert fired([e], ["Rose opens the door"]) == ["lore about Rose"]


def test_plain_keys_match_whole_words_only() -> None:
    assert fired([entry(["cat"])], ["they concatenate strings"]) == []
    assert fired([entry(["cat"])], ["the cat, asleep"]) == ["lore about cat"]


def test_multi_word_and_punctuated_keys() -> None:
    assert fired([entry(["black tower"])], ["At the Black Tower."]) == ["lore about black tower"]
    assert fired([entry(["Dr."])], ["Ask Dr. Who"]) == ["lore about Dr."]


def test_keys_in_scripts_without_spaces_match_inside_words() -> None:
    assert fired([entry(["龍"], "dragon lore")], ["這是龍的巢穴"]) == ["dragon lore"]
    assert fired([entry(["ドラゴン"], "d")], ["巨大なドラゴンが現れた"]) == ["d"]


def test_accented_keys_still_need_whole_words() -> None:
    assert fired([entry(["café"], "c")], ["cafés"]) == []
    assert fired([entry(["café"], "c")], ["au café."]) == ["c"]


def test_blank_keys_never_match() -> None:
    assert fired([entry(["", "  "])], ["anything at all"]) == []


def test_disabled_entries_never_fire_even_when_constant() -> None:
    assert fired([entry(enabled=False), entry(["x"], "c", constant=True, enabled=False)], ["dragon x"]) == []


def test_constant_entries_always_fire() -> None:
    assert fired([entry(["never"], "always", constant=True)], ["nothing relevant"]) == ["always"]


def test_entries_with_empty_content_never_fire() -> None:
    assert fired([entry(["x"], " \n", constant=True)], ["x"]) == []


# --- secondary keys ------------------------------------------------------------------------------


def test_selective_entry_needs_a_secondary_key_too() -> None:
    e = entry(["sword"], "the blade", selective=True, secondary_keys=["broken", "cracked"])
    assert fired([e], ["She draws her sword."]) == []
    assert fired([e], ["Her sword is cracked."]) == ["the blade"]


def test_secondary_keys_are_ignored_unless_selective() -> None:
    e = entry(["sword"], "the blade", secondary_keys=["broken"])
    assert fired([e], ["She draws her sword."]) == ["the blade"]


def test_selective_entry_without_secondary_keys_behaves_like_a_plain_one() -> None:
    assert fired([entry(["sword"], "b", selective=True)], ["sword"]) == ["b"]


# --- regex keys ----------------------------------------------------------------------------------


def test_use_regex_keys_are_regular_expressions() -> None:
    e = entry([r"drag(on|oness)s?\b"], "regex lore", use_regex=True)
    assert fired([e], ["Two DRAGONS"]) == ["regex lore"]
    assert fired([e], ["a dragnet"]) == []


def test_use_regex_respects_case_sensitivity() -> None:
    e = entry([r"Rose\b"], "r", use_regex=True, case_sensitive=True)
    assert fired([e], ["a rose"]) == [] and fired([e], ["Rose"]) == ["r"]


def test_slash_keys_are_regex_with_their_own_flags() -> None:
    assert fired([entry(["/moon(light)?/i"], "m")], ["MOONLIGHT falls"]) == ["m"]
    assert fired([entry(["/Moon/"], "m")], ["moon"]) == []


def test_invalid_regex_is_no_match_not_an_error() -> None:
    assert fired([entry(["(unclosed"], "x", use_regex=True)], ["(unclosed"]) == []


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a+)+$",
        r"(a|aa)*b",
        r"(\w+\s?)*$",
        r"(a*)*b",
        r"(x+x+)+y",
        r"(.*a){12}",
        r"(a)\1",
        r"(?P<x>a)(?P=x)",
        "a" * 201,
    ],
)
def test_dangerous_regexes_are_refused(pattern: str) -> None:
    assert fired([entry([pattern], "bomb", use_regex=True)], ["a" * 5000 + "!"]) == []


@pytest.mark.parametrize("pattern", [r"a.*b.*c", r"\w+\s+\w+", r"a?a?a?b", r"x{0,3}y{0,3}"])
def test_patterns_with_too_many_ways_to_backtrack_are_refused(pattern: str) -> None:
    assert fired([entry([pattern], "x", use_regex=True)], ["a b c xxxyyy aaab"]) == []


def test_regex_time_budget_stops_regex_keys_but_not_plain_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lorebook, "REGEX_TIME_BUDGET", -1.0)
    assert fired([entry(["drag.n"], "r", use_regex=True), entry(["dragon"], "p")], ["dragon"]) == ["p"]


@pytest.mark.parametrize(
    "pattern",
    [r"(?i)\bqueen\b", r"(?:the )?castle", r"[a-z]+ moon", r"x{2,3}", r"(sun|moon)", r"[*+?{]x", r"\d{4,}?|sun"],
)
def test_ordinary_regexes_are_allowed(pattern: str) -> None:
    assert fired([entry([pattern], "ok", use_regex=True)], ["The Queen's castle, full moon xxx sun +x"]) == ["ok"]


def test_the_worst_allowed_regexes_stay_fast_on_hostile_text() -> None:
    worst = [r"a{0,3}a*b", r"a?a?.*b", r"[a-z]+ ?q", r"\w+z"]  # each at the limits of the screen
    entries = [entry([pattern], pattern, use_regex=True) for pattern in worst]
    assert fired(entries, ["aab", "ab q", "az"]) == worst  # they are accepted
    start = time.perf_counter()
    assert fired(entries, ["a" * 50_000] * 5) == []
    assert time.perf_counter() - start < 1.0


def test_regex_keys_search_all_of_a_long_text() -> None:
    start, middle = "dragon " + "." * 5_000, "." * 2_450 + " dragon " + "." * 2_450
    assert fired([entry(["drag.n"], "r", use_regex=True)], [start]) == ["r"]
    assert fired([entry(["drag.n"], "r", use_regex=True)], [middle]) == ["r"]


def test_regex_windows_overlap_so_matches_on_an_edge_are_found() -> None:
    for offset in range(0, 2 * REGEX_WINDOW_CHARS, 37):
        text = "." * offset + "dragon" + "." * (3 * REGEX_WINDOW_CHARS - offset)
        assert fired([entry(["drag.n"], "r", use_regex=True)], [text]) == ["r"], offset


# --- scan depth ----------------------------------------------------------------------------------


def test_scan_depth_limits_scanning_to_the_most_recent_texts() -> None:
    texts = ["a dragon appears", "small talk", "more small talk"]
    assert fired([entry()], texts, scan_depth=2) == []
    assert fired([entry()], texts, scan_depth=3) == ["lore about dragon"]
    assert fired([entry()], texts) == ["lore about dragon"]  # no depth: everything given


def test_scan_depth_zero_leaves_only_constant_entries() -> None:
    assert fired([entry(), entry(["k"], "c", constant=True)], ["dragon"], scan_depth=0) == ["c"]


def test_scan_depth_decorator_overrides_the_book() -> None:
    e = entry(["dragon"], "@@scan_depth 3\ndeep lore")
    assert fired([e], ["dragon", "b", "c"], scan_depth=1) == ["@@scan_depth 3\ndeep lore"]


# --- decorators ----------------------------------------------------------------------------------


def test_decorators_are_cut_from_the_text() -> None:
    e = entry(["k"], "@@depth 4\n@@@instruct_depth 4\n\nThe text.\n")
    assert lore_text(e) == "The text."


def test_activate_and_dont_activate_decorators() -> None:
    assert fired([entry(["k"], "@@activate\nyes")], ["nothing"]) == ["@@activate\nyes"]
    assert fired([entry(["k"], "@@dont_activate\nno")], ["k"]) == []


def test_fallback_decorator_is_used_when_the_first_is_unknown() -> None:
    content = "@@risu_magic 4\n@@@activate\nyes"
    assert fired([entry(["k"], content)], ["nothing"]) == [content]


# --- recursion -----------------------------------------------------------------------------------


def test_recursive_scanning_lets_fired_lore_trigger_other_entries() -> None:
    entries = [entry(["castle"], "The castle has a dragon."), entry(["dragon"], "Dragons breathe fire.")]
    assert fired(entries, ["We reach the castle."]) == ["The castle has a dragon."]
    assert len(fired(entries, ["We reach the castle."], recursive_scanning=True)) == 2


def test_recursive_scanning_terminates_on_cycles() -> None:
    entries = [entry(["a"], "mentions b"), entry(["b"], "mentions a")]
    assert len(fired(entries, ["a"], recursive_scanning=True)) == 2


# --- ordering and budget -------------------------------------------------------------------------


def test_result_is_in_insertion_order_lower_first() -> None:
    entries = [entry(["k"], "third", insertion_order=30), entry(["k"], "first", insertion_order=1)]
    entries.append(entry(["k"], "second", insertion_order=20))
    assert fired(entries, ["k"]) == ["first", "second", "third"]


def test_budget_drops_lowest_priority_first() -> None:
    entries = [entry(["k"], "low " * 10, priority=1), entry(["k"], "high " * 10, priority=50)]
    result = select_entries(Lorebook(entries=entries), ["k"], budget_tokens=12, estimate=lambda s: len(s.split()))
    assert [e.priority for e in result] == [50]


def test_constant_entries_are_kept_over_keyed_ones() -> None:
    entries = [entry(["k"], "keyed " * 10, priority=99), entry(["z"], "const " * 10, constant=True, priority=1)]
    result = select_entries(Lorebook(entries=entries), ["k"], budget_tokens=12, estimate=lambda s: len(s.split()))
    assert [e.constant for e in result] == [True]


def test_a_smaller_entry_still_fits_after_a_big_one_is_dropped() -> None:
    entries = [entry(["k"], "big " * 50, priority=9), entry(["k"], "small", priority=1)]
    result = select_entries(Lorebook(entries=entries), ["k"], budget_tokens=10, estimate=lambda s: len(s.split()))
    assert [lore_text(e) for e in result] == ["small"]


def test_equal_priority_keeps_the_higher_insertion_order() -> None:
    entries = [entry(["k"], "one two", insertion_order=1), entry(["k"], "three four", insertion_order=9)]
    result = select_entries(Lorebook(entries=entries), ["k"], budget_tokens=2, estimate=lambda s: len(s.split()))
    assert [e.insertion_order for e in result] == [9]


def test_book_token_budget_caps_the_callers_budget() -> None:
    entries = [entry(["k"], "a b c"), entry(["k"], "d e f")]
    count = lambda s: len(s.split())  # noqa: E731
    assert len(select_entries(Lorebook(entries=entries, token_budget=3), ["k"], budget_tokens=100, estimate=count)) == 1
    assert len(select_entries(Lorebook(entries=entries), ["k"], budget_tokens=100, estimate=count)) == 2


def test_zero_budget_selects_nothing() -> None:
    assert select_entries(Lorebook(entries=[entry(["k"], "c", constant=True)]), [], budget_tokens=0) == []


def test_default_estimate_is_used_without_one() -> None:
    result = select_entries(Lorebook(entries=[entry(["k"], "word " * 400)]), ["k"], budget_tokens=50)
    assert result == []


# --- formatting ----------------------------------------------------------------------------------


def test_format_lore_splits_by_position() -> None:
    entries = [entry(["k"], "A"), entry(["k"], "B", position="after_char"), entry(["k"], "@@activate\nC")]
    assert format_lore(entries) == ("A\nC", "B")


def test_format_lore_of_nothing_is_two_empty_strings() -> None:
    assert format_lore([]) == ("", "")
