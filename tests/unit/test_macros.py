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
