"""Macros in card text: names, the original prompt, legacy tags, and what is left alone."""

from __future__ import annotations

import pytest

from bot.chat.macros import expand


def test_char_and_user_are_replaced() -> None:
    assert expand("{{char}} greets {{user}}.", char="Mira", user="Sam") == "Mira greets Sam."


@pytest.mark.parametrize("text", ["{{CHAR}}", "{{Char}}", "{{ char }}", "<BOT>", "<bot>", "<CHAR>", "<char>"])
def test_character_macros_in_any_case_and_legacy_form(text: str) -> None:
    assert expand(text, char="Mira", user="Sam") == "Mira"


@pytest.mark.parametrize("text", ["{{USER}}", "{{User}}", "{{ user }}", "<USER>", "<user>"])
def test_user_macros_in_any_case_and_legacy_form(text: str) -> None:
    assert expand(text, char="Mira", user="Sam") == "Sam"


def test_original_is_the_prompt_the_card_replaces() -> None:
    text = "{{original}} Always write as {{char}}."
    assert expand(text, char="Mira", user="Sam", original="Be vivid.") == "Be vivid. Always write as Mira."


def test_original_defaults_to_nothing() -> None:
    assert expand("{{original}}", char="Mira", user="Sam") == ""


def test_newline_macro() -> None:
    assert expand("a{{newline}}b", char="", user="") == "a\nb"


def test_trim_removes_itself_and_the_newlines_around_it() -> None:
    assert expand("first\n\n{{trim}}\nsecond", char="", user="") == "firstsecond"


def test_comments_and_noop_are_removed() -> None:
    assert expand("a{{// note to self}}b{{comment: shown in UI}}c{{noop}}d", char="", user="") == "abcd"


def test_unknown_macros_are_left_as_they_are() -> None:
    text = "{{random:a,b}} {{roll:d6}} {{persona}} <b>bold</b> {{}}"
    assert expand(text, char="Mira", user="Sam") == text


def test_values_are_never_expanded_again() -> None:
    assert expand("Hi {{user}}", char="Mira", user="{{char}} <BOT>") == "Hi {{char}} <BOT>"


def test_text_without_macros_is_returned_unchanged() -> None:
    text = "Plain text, with a < sign and {braces}."
    assert expand(text, char="Mira", user="Sam") == text


def test_names_with_regex_specials_are_inserted_literally() -> None:
    assert expand("{{char}}", char=r"A\1 $& \g<0>", user="") == r"A\1 $& \g<0>"


# --- SillyTavern's macros.js: chance, time, chat, variables ------------------------------------------

import random  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

from bot.chat.macros import MAX_OUTPUT_CHARS, MacroContext, humanize, render  # noqa: E402

NOON = datetime(2024, 9, 28, 15, 5, tzinfo=UTC)


def ctx(**fields: object) -> MacroContext:
    base: dict[str, object] = {"char": "Mira", "user": "Sam", "rng": random.Random(1), "now": NOON, "seed": 7}
    base.update(fields)
    return MacroContext(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["{{random::a::b::c}}", "{{random:a,b,c}}", "{{random: a , b , c }}"])
def test_random_picks_one_of_the_options(text: str) -> None:
    assert {render(text, ctx(rng=random.Random(s))) for s in range(30)} == {"a", "b", "c"}


def test_random_with_commas_keeps_escaped_commas() -> None:
    assert {render("{{random:x\\, y,z}}", ctx(rng=random.Random(s))) for s in range(30)} == {"x, y", "z"}


def test_pick_is_stable_for_a_conversation_and_a_place_in_the_text() -> None:
    text = "{{pick::red::green::blue::gold}}"
    picks = {render(text, ctx(rng=random.Random(s))) for s in range(10)}
    assert len(picks) == 1
    assert len({render(text, ctx(seed=s)) for s in range(30)}) > 1  # another conversation may pick another


@pytest.mark.parametrize(
    ("formula", "low", "high"), [("d20", 1, 20), ("2d6+1", 3, 13), ("20", 1, 20), ("3d4-2", 1, 10)]
)
def test_roll_follows_the_dice_formula(formula: str, low: int, high: int) -> None:
    values = {int(render(f"{{{{roll:{formula}}}}}", ctx(rng=random.Random(s)))) for s in range(200)}
    assert min(values) == low and max(values) == high


def test_an_invalid_roll_gives_an_empty_string_as_in_sillytavern() -> None:
    assert render("[{{roll:banana}}][{{roll:0d5}}]", ctx()) == "[][]"


def test_a_huge_roll_is_refused_rather_than_run() -> None:
    assert render("{{roll:100000000d6}}", ctx()) == ""


def test_time_and_date_macros_use_the_given_clock_in_moment_js_formats() -> None:
    text = "{{time}}|{{date}}|{{weekday}}|{{isotime}}|{{isodate}}|{{time_UTC+2}}"
    assert render(text, ctx()) == "3:05 PM|September 28, 2024|Saturday|15:05|2024-09-28|5:05 PM"


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(10, "a few seconds"), (80, "a minute"), (600, "10 minutes"), (3600, "an hour"), (5 * 3600, "5 hours"),
     (30 * 3600, "a day"), (3 * 86400, "3 days"), (40 * 86400, "a month"), (100 * 86400, "3 months"),
     (400 * 86400, "a year")],
)
def test_idle_duration_reads_like_moment_humanize(seconds: int, words: str) -> None:
    assert humanize(seconds) == words
    assert render("{{idle_duration}}", ctx(idle_since=NOON - timedelta(seconds=seconds))) == words


def test_idle_duration_without_an_earlier_message_is_just_now() -> None:
    assert render("{{idle_duration}}", ctx()) == "just now"


def test_card_fields_and_last_messages() -> None:
    c = ctx(persona="a pilot", description="tall", personality="calm", scenario="a bar", mes_examples="ex",
            last_message="last", last_user_message="u", last_char_message="c")
    text = "{{persona}}|{{description}}|{{personality}}|{{scenario}}|{{mesExamples}}|{{lastMessage}}|" \
           "{{lastUserMessage}}|{{lastCharMessage}}"
    assert render(text, c) == "a pilot|tall|calm|a bar|ex|last|u|c"


def test_variables_are_kept_in_the_context() -> None:
    c = ctx(variables={})
    assert render("{{setvar::hp::10}}{{getvar::hp}}", c) == "10"
    assert render("{{addvar::hp::5}}{{getvar::hp}}|{{incvar::hp}}|{{decvar::hp}}", c) == "15|16|15"
    assert render("{{addvar::note::abc}}{{getvar::note}}|{{getvar::missing}}|", c) == "abc||"
    assert c.variables == {"hp": "15", "note": "abc"}


def test_comments_may_contain_braces_and_macros() -> None:
    assert render('a{{// keep {"x": {{char}}} quiet }}b', ctx()) == "ab"
    assert render("a{{// just {one} brace}}b", ctx()) == "ab"


def test_unknown_macros_stay_as_typed_with_the_full_engine() -> None:
    assert render("{{getglobalvar::x}} {{banana}}", ctx()) == "{{getglobalvar::x}} {{banana}}"


def test_expansion_is_linear_and_bounded_on_hostile_text() -> None:
    assert render("{{" * 100_000, ctx()) == "{{" * 100_000
    huge = render("{{description}}" * 1_000, ctx(description="x" * 10_000))
    assert len(huge) <= MAX_OUTPUT_CHARS + len("{{description}}" * 1_000)
