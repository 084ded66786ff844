"""Names shown in messages read as typed; names carrying links are refused."""

from __future__ import annotations

import pytest

from bot.characters.names import NO_LINKS, check_name, has_link
from bot.errors import UserError
from bot.ui.names import shown


@pytest.mark.parametrize("name", ["[x](https://e.example)", "[x] (javascript:1)", "see https://e.example",
                                  "www.example.com", "discord.gg/abc", "<https://e.example>"])
def test_link_syntax_is_refused(name: str) -> None:
    assert has_link(name)
    with pytest.raises(UserError, match=NO_LINKS):
        check_name(name)


@pytest.mark.parametrize("name", ["Mara", "Mara [the brave]", "Dr. Ivy (retired)", "Zoë d'Arc"])
def test_ordinary_names_pass(name: str) -> None:
    assert check_name(name) == name


def test_markdown_is_escaped_and_lines_are_folded() -> None:
    assert shown("**Ivy** _x_") == "\\*\\*Ivy\\*\\* \\_x\\_"
    assert shown("[a](https://e.example)") == "\\[a](https://e.example)"
    assert "\n" not in shown("Ivy\n# Huge") and shown("Ivy\n# Huge").startswith("Ivy ")


def test_mention_syntax_does_not_look_like_a_mention() -> None:
    assert "<@" not in shown("<@123>") and "<#" not in shown("<#456>")


def test_an_empty_name_still_reads_as_someone() -> None:
    assert shown("   ") == "Character"
