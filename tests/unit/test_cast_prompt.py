"""The prompt for one speaker of a group scene (`bot.chat.cast_prompt`)."""

from __future__ import annotations

import pytest

from bot.characters.model import Character, Lorebook, LoreEntry
from bot.chat.cast_prompt import (
    GROUP_NUDGE,
    build_cast_prompt,
    group_greetings,
    merged_lorebook,
    scene_greetings,
    stop_sequences,
    strip_speaker_prefix,
)
from bot.chat.prompt import ADULT_RULE, PromptInput, Turn

MIRA = Character(
    name="Mira",
    description="{{char}} is a 31-year-old cargo pilot with a scar over one eyebrow.",
    personality="bold, dry humour, loyal",
    scenario="{{user}} meets the crew in the hangar at midnight.",
    mes_example="<START>\n{{char}}: Fly with me.",
)
JUN = Character(
    name="Jun",
    description="{{char}} is the ship's 40-year-old mechanic, quiet and precise.\n\nSecret: {{char}} owes money.",
    personality="calm",
)
ROSA = Character(name="Rosa", personality="a loud 25-year-old smuggler who teases {{user}}")

HISTORY = [
    Turn("assistant", "*Mira waves.* You made it.", author="Mira", id=1),
    Turn("user", "Hi everyone", author="Alex", id=2),
    Turn("assistant", "*Jun nods without looking up.*", author="Jun", id=3),
    Turn("user", "Rosa, got a light?", author="Alex", id=4),
]


def _input(speaker: Character = ROSA, **overrides: object) -> PromptInput:
    fields: dict[str, object] = {
        "character": speaker, "user_name": "Alex", "turns": list(HISTORY), "context_tokens": 8192,
        "reply_tokens": 512,
    }
    fields.update(overrides)
    return PromptInput(**fields)  # type: ignore[arg-type]


def _system(messages: list[dict[str, str]]) -> str:
    assert messages[0]["role"] == "system"
    return messages[0]["content"]


def test_the_history_says_who_spoke_each_message() -> None:
    out = build_cast_prompt(_input(), others=[MIRA, JUN])

    assert out.prompt.messages[1:5] == [
        {"role": "assistant", "content": "Mira: *Mira waves.* You made it."},
        {"role": "user", "content": "Alex: Hi everyone"},
        {"role": "assistant", "content": "Jun: *Jun nods without looking up.*"},
        {"role": "user", "content": "Alex: Rosa, got a light?"},
    ]


def test_the_speakers_full_card_is_in_the_system_message() -> None:
    system = _system(build_cast_prompt(_input(MIRA), others=[JUN, ROSA]).prompt.messages)

    assert "Mira is a 31-year-old cargo pilot" in system
    assert "Mira's personality: bold, dry humour, loyal" in system
    assert "Alex meets the crew in the hangar at midnight." in system
    assert "Fly with me." in system
    assert ADULT_RULE in system


def test_the_others_are_described_briefly_with_their_own_names() -> None:
    system = _system(build_cast_prompt(_input(MIRA), others=[JUN, ROSA]).prompt.messages)

    assert "This is a group scene with Mira, Jun, Rosa and Alex." in system
    assert "Jun: Jun is the ship's 40-year-old mechanic, quiet and precise." in system
    assert "owes money" not in system  # only the first paragraph of another member's description
    assert "Rosa: a loud 25-year-old smuggler who teases Alex" in system
    assert "Jun's personality" not in system


def test_a_long_description_of_another_member_is_clipped() -> None:
    wordy = Character(name="Wordy", description="very " * 2000 + "end")
    system = _system(build_cast_prompt(_input(MIRA), others=[wordy]).prompt.messages)

    assert "Wordy: very very" in system and " end" not in system
    assert len(system) < 4000


def test_the_group_nudge_comes_after_the_history() -> None:
    messages = build_cast_prompt(_input(), others=[MIRA, JUN]).prompt.messages

    assert messages[-1] == {"role": "system", "content": "[Write the next reply only as Rosa.]"}
    assert GROUP_NUDGE == "[Write the next reply only as {{char}}.]"


def test_the_nudge_follows_the_cards_own_post_history_instructions() -> None:
    strict = Character(name="Rosa", post_history_instructions="Keep {{char}}'s replies short.")

    messages = build_cast_prompt(_input(strict), others=[MIRA]).prompt.messages

    assert messages[-1]["content"] == "Keep Rosa's replies short.\n[Write the next reply only as Rosa.]"


def test_a_continued_reply_is_sent_as_it_is_after_the_nudge() -> None:
    partial = "*Rosa flicks her lighter*"
    turns = [*HISTORY, Turn("assistant", partial, author="Rosa", id=5)]

    messages = build_cast_prompt(_input(turns=turns, continue_text=partial), others=[MIRA, JUN]).prompt.messages

    assert messages[-1] == {"role": "assistant", "content": partial}
    assert any(m["content"].endswith("[Write the next reply only as Rosa.]") for m in messages[-4:-1])
    assert f"Rosa: {partial}" not in [m["content"] for m in messages]


def test_stop_sequences_are_the_other_members_names() -> None:
    out = build_cast_prompt(_input(), others=[MIRA, JUN])

    assert out.stop == ["\nMira:", "\nJun:", "\nAlex:"]


def test_stop_sequences_keep_to_venices_limit_of_four_others_first() -> None:
    assert stop_sequences("A", ["B", "C", "D", "E"], "Alex") == ["\nB:", "\nC:", "\nD:", "\nE:"]
    assert stop_sequences("A", ["a", "B"], "B") == ["\nB:"]


def test_the_prompt_keeps_to_the_budget_with_the_names_counted() -> None:
    turns = [Turn("user" if i % 2 else "assistant", "word " * 60, author="Jun" if i % 2 == 0 else "Alex", id=i,
                  tokens=None) for i in range(300)]

    out = build_cast_prompt(_input(turns=turns, context_tokens=4096, reply_tokens=512), others=[MIRA, JUN])

    assert out.prompt.estimated_tokens <= 4096 - 512
    assert 0 < out.prompt.used_turns < 300 and out.prompt.dropped_turns > 0


# -- lorebooks --------------------------------------------------------------------------------------


def _book(*entries: LoreEntry, depth: int | None = None) -> Lorebook:
    return Lorebook(entries=list(entries), scan_depth=depth)


def test_every_members_lorebook_can_fire() -> None:
    mira = Character(name="Mira", lorebook=_book(LoreEntry(keys=["hangar"], content="The hangar is cold.")))
    jun = Character(name="Jun", description="mechanic",
                    lorebook=_book(LoreEntry(keys=["light"], content="{{char}} hides a lighter.")))

    system = _system(build_cast_prompt(_input(mira), others=[jun, ROSA]).prompt.messages)

    assert "Jun hides a lighter." in system  # Jun's own {{char}}, not the speaker's


def test_a_merged_lorebook_puts_the_speakers_entries_first() -> None:
    mine = _book(LoreEntry(keys=["a"], content="mine"), depth=2)
    theirs = _book(LoreEntry(keys=["b"], content="{{char}}'s"), depth=6)

    book = merged_lorebook(Character(name="Me", lorebook=mine), [Character(name="You", lorebook=theirs)])

    assert book is not None
    assert [e.content for e in book.entries] == ["mine", "You's"]
    assert book.scan_depth == 6


def test_no_lorebooks_means_none() -> None:
    assert merged_lorebook(MIRA, [JUN]) is None


# -- replies and greetings -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Rosa: Sure.", "**Rosa:** Sure.", "  rosa:Sure.", "**Rosa**: Sure."])
def test_the_speakers_name_in_front_of_a_reply_is_taken_off(text: str) -> None:
    assert strip_speaker_prefix(text, "Rosa") == "Sure."


@pytest.mark.parametrize("text", ["*Rosa grins.* Sure.", "Rosanna: hi", "Sure. Rosa: no"])
def test_a_reply_that_does_not_start_with_the_name_is_kept(text: str) -> None:
    assert strip_speaker_prefix(text, "Rosa") == text


def test_group_greetings_come_first_when_the_card_has_them() -> None:
    card = Character(name="Rosa", first_mes="Hi, you.", card_extra={"group_only_greetings": ["Hi, all of you.", ""]})

    assert group_greetings(card) == ["Hi, all of you."]


def test_without_group_greetings_the_usual_ones_are_used() -> None:
    card = Character(name="Rosa", first_mes="Hi, you.", alternate_greetings=["Yo."])

    assert group_greetings(card) == ["Hi, you.", "Yo."]


def test_scene_greetings_expand_each_members_own_name_and_skip_the_silent() -> None:
    rosa = Character(name="Rosa", card_extra={"group_only_greetings": ["{{char}} waves at {{user}}."]})
    mute = Character(name="Mute")

    assert scene_greetings([("custom:1", rosa), ("custom:2", mute)], "Alex") == [
        ("custom:1", "Rosa", ["Rosa waves at Alex."]),
    ]


def test_members_entries_with_the_same_uid_both_fire() -> None:
    """Cards number their entries from 0: in SillyTavern each member's book is its own world, so
    `Alice's.0` and `Bruno's.0` are two entries; the merged book must not let one hide the other."""
    mira = Character(name="Mira", lorebook=_book(LoreEntry(keys=["hangar"], content="MIRA LORE", id=0)))
    jun = Character(name="Jun", description="mechanic",
                    lorebook=_book(LoreEntry(keys=["hangar"], content="JUN LORE", id=0)))

    system = _system(build_cast_prompt(_input(mira, turns=[Turn("user", "The hangar.", id=1)]),
                                       others=[jun]).prompt.messages)

    assert "MIRA LORE" in system and "JUN LORE" in system
