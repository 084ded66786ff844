"""What of a reply is spoken, and how long replies are cut for Venice's 4,096-character TTS input."""

from __future__ import annotations

import pytest

from bot.audio import TTS_INPUT_LIMIT, speakable, split_for_speech


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("*She smiles softly.* \"Hello, you.\"", "She smiles softly. \"Hello, you.\""),
        ("**Bold** and _quiet_ and ~~struck~~ and ||secret||", "Bold and quiet and struck and secret"),
        ("Come here. ((OOC: brb, dinner))", "Come here."),
        ("(OOC: can we skip ahead?) Sure.", "Sure."),
        ("[Status: HP 10/10 | Mood: playful] She winks.", "She winks."),
        ("{affection: +2} Thank you.", "Thank you."),
        ("Look at [this map](https://example.com/map.png) first.", "Look at this map first."),
        ("See https://example.com/x?y=1 now", "See now"),
        ("Hi <@123456789012345678>, meet <#987654321098765432>.", "Hi , meet ."),
        ("Nice <:wink:112233445566778899> one 😉🔥", "Nice one"),
        ("# Chapter One\n> a quote\n- first\n2. second", "Chapter One\na quote\nfirst\nsecond"),
        ("Before\n```python\nprint('x')\n```\nafter", "Before\n\nafter"),
        ("<think>plan the reply</think>Hello.", "plan the reply Hello."),
        ("“Curly quotes stay,” she said.", "“Curly quotes stay,” she said."),
    ],
)
def test_speakable_keeps_what_is_meant_to_be_heard(written: str, spoken: str) -> None:
    assert speakable(written) == spoken


def test_nothing_left_to_say_is_an_empty_string() -> None:
    assert speakable("((OOC: afk)) [note] 🎉 https://x.example") == ""


def test_dialogue_mode_speaks_only_quoted_words() -> None:
    text = '*She leans closer.* "You came back." *A pause.* “I missed you.” She turns away.'
    assert speakable(text, mode="dialogue") == "“You came back.”\n“I missed you.”"


def test_short_text_is_one_piece() -> None:
    assert split_for_speech("One. Two! Three?") == ["One. Two! Three?"]


def test_pieces_stay_under_the_limit_and_end_at_sentences() -> None:
    sentences = [f"This is sentence number {i}, told slowly." for i in range(300)]
    pieces = split_for_speech(" ".join(sentences))
    assert len(pieces) > 1
    assert all(len(p) <= TTS_INPUT_LIMIT for p in pieces)
    assert all(p.endswith(".") for p in pieces)
    assert " ".join(pieces) == " ".join(sentences)


def test_closing_quotes_stay_with_their_sentence() -> None:
    pieces = split_for_speech('"Stay." She sat. "Please!" he said.', limit=12)
    assert pieces == ['"Stay."', "She sat.", '"Please!"', "he said."]


def test_a_sentence_longer_than_the_limit_is_cut_at_clauses_then_words() -> None:
    sentence = "and then, " * 30 + "finally" + " word" * 40 + "."
    pieces = split_for_speech(sentence, limit=100)
    assert all(len(p) <= 100 for p in pieces)
    assert " ".join(pieces).split() == sentence.split()


def test_a_word_longer_than_the_limit_is_cut_by_force() -> None:
    pieces = split_for_speech("a" * 25, limit=10)
    assert pieces == ["a" * 10, "a" * 10, "a" * 5]


def test_empty_text_gives_no_pieces() -> None:
    assert split_for_speech("") == []
