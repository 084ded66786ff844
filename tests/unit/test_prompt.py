"""Prompt assembly: what goes in, in which order, and what is left out when the context is full."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from bot.characters.model import Character, Lorebook, LoreEntry
from bot.chat.prompt import (
    ADULT_RULE,
    DEFAULT_POST_HISTORY,
    MULTI_USER_NOTE,
    PromptInput,
    Turn,
    build_prompt,
    build_scene_prompt_request,
    build_summary_request,
    safety_margin,
)
from bot.chat.tokens import TokenCalibrator, estimate, estimate_messages

MIRA = Character(
    name="Mira",
    description="{{char}} is a 31-year-old cargo pilot with a scar over one eyebrow.",
    personality="bold, dry humour, loyal",
    scenario="{{user}} meets {{char}} in the hangar at midnight.",
    first_mes="*Mira wipes her hands on a rag.* You're late, {{user}}.",
    mes_example="<START>\n{{user}}: Hi\n{{char}}: *waves* Hello!\n<START>\n{{char}}: Fly with me.",
)


def _turns(n: int, words: int = 40) -> list[Turn]:
    filler = " ".join(["engine"] * words)
    return [Turn("user" if i % 2 else "assistant", f"message {i}: {filler}", author="Alex", id=i) for i in range(n)]


def _input(**overrides: object) -> PromptInput:
    fields: dict[str, object] = {
        "character": MIRA,
        "user_name": "Alex",
        "turns": _turns(6),
        "context_tokens": 8192,
        "reply_tokens": 512,
    }
    fields.update(overrides)
    return PromptInput(**fields)  # type: ignore[arg-type]


def _system(prompt_messages: list[dict[str, str]]) -> str:
    assert prompt_messages[0]["role"] == "system"
    return prompt_messages[0]["content"]


@pytest.mark.parametrize(("n_turns", "context", "reply"), [(300, 4096, 512), (300, 2048, 300), (50, 32_768, 2048)])
def test_budget_is_respected(n_turns: int, context: int, reply: int) -> None:
    prompt = build_prompt(_input(turns=_turns(n_turns), context_tokens=context, reply_tokens=reply))
    assert prompt.estimated_tokens <= context - reply
    assert estimate_messages(prompt.messages) <= context - reply - safety_margin(context)


def test_newest_turns_are_kept_without_gaps_and_dropped_are_counted() -> None:
    turns = _turns(300)
    prompt = build_prompt(_input(turns=turns, context_tokens=4096))
    kept = prompt.used_turns
    assert 0 < kept < 300
    assert prompt.used_turn_ids == list(range(300 - kept, 300))
    assert prompt.dropped_turns == 300 - kept
    history = [m["content"] for m in prompt.messages[1:]]
    assert history == [t.content for t in turns[-kept:]]
    assert prompt.notice == f"Only the last {kept} messages fit; older ones are summarised."


def test_the_walk_stops_at_the_first_turn_that_does_not_fit() -> None:
    # A huge old turn must end the history even though smaller, older turns would still fit.
    turns = _turns(10, words=5)
    turns[4] = Turn("user", "huge " * 3000, id=4)
    prompt = build_prompt(_input(turns=turns, context_tokens=4096))
    assert prompt.used_turn_ids == [5, 6, 7, 8, 9]
    assert prompt.dropped_turns == 5


def test_everything_fits_without_a_notice() -> None:
    prompt = build_prompt(_input())
    assert prompt.used_turns == 6
    assert prompt.dropped_turns == 0
    assert prompt.notice is None


def test_greeting_is_a_normal_assistant_turn() -> None:
    greeting = Turn("assistant", MIRA.first_mes, id=1)
    prompt = build_prompt(_input(turns=[greeting, Turn("user", "Sorry!", id=2)]))
    assert prompt.messages[1] == {"role": "assistant", "content": "*Mira wipes her hands on a rag.* You're late, Alex."}
    assert prompt.messages[2] == {"role": "user", "content": "Sorry!"}


def test_macros_are_expanded_everywhere() -> None:
    card = replace(MIRA, post_history_instructions="Remember {{user}} owes {{char}} money.")
    turns = [Turn("assistant", "Hi {{user}}"), Turn("user", "Hi {{char}}")]
    prompt = build_prompt(_input(character=card, turns=turns, persona="{{user}} is {{char}}'s mechanic"))
    assert all("{{" not in m["content"] for m in prompt.messages)
    system = _system(prompt.messages)
    assert "You are Mira" in system
    assert "Alex meets Mira in the hangar" in system
    assert prompt.messages[-1]["content"] == "Remember Alex owes Mira money."


def test_default_system_prompt_sets_the_rules() -> None:
    system = _system(build_prompt(_input()).messages)
    assert ADULT_RULE in system
    assert "never write Alex's" in system
    assert MULTI_USER_NOTE not in system


@pytest.mark.parametrize(
    ("card_prompt", "starts_with", "has_default"),
    [
        ("Stay grim. {{original}}", "Stay grim. You are Mira", True),
        ("{{original}}\nNo emojis.", "You are Mira", True),
        ("You are {{char}}, a pirate.", "You are Mira, a pirate.", False),
    ],
)
def test_card_system_prompt_replaces_the_default_with_original(
    card_prompt: str, starts_with: str, has_default: bool
) -> None:
    system = _system(build_prompt(_input(character=replace(MIRA, system_prompt=card_prompt))).messages)
    assert system.startswith(starts_with)
    assert ("uncensored, fictional adult roleplay" in system) is has_default
    assert ADULT_RULE in system  # a card cannot remove the adults-only rule


def test_definition_persona_examples_and_summary_are_in_order() -> None:
    prompt = build_prompt(_input(persona="a tired detective", summary="They crashed on a moon."))
    system = _system(prompt.messages)
    order = [
        system.index("You are Mira"),
        system.index("Mira's description:\nMira is a 31-year-old cargo pilot"),
        system.index("Mira's personality: bold"),
        system.index("Scenario: Alex meets Mira"),
        system.index("Alex is: a tired detective"),
        system.index("Example dialogue:"),
        system.index("Story so far: They crashed on a moon."),
    ]
    assert order == sorted(order)


def test_example_dialogue_start_markers_become_separators() -> None:
    system = _system(build_prompt(_input()).messages)
    assert "<START>" not in system
    assert "Example dialogue:\nAlex: Hi\nMira: *waves* Hello!\n---\nMira: Fly with me." in system


@pytest.mark.parametrize(("ratio", "included"), [(0.15, True), (0.001, False)])
def test_example_dialogue_only_when_it_fits_its_budget(ratio: float, included: bool) -> None:
    card = replace(MIRA, mes_example="<START>\n" + "{{char}}: *hums* " * 200)
    prompt = build_prompt(_input(character=card, example_budget_ratio=ratio))
    assert ("Example dialogue:" in _system(prompt.messages)) is included


def test_example_dialogue_gives_way_on_a_small_context() -> None:
    card = replace(MIRA, mes_example="<START>\n" + "{{char}}: *hums a long tune* " * 150)
    small = build_prompt(_input(character=card, context_tokens=1024, reply_tokens=256, example_budget_ratio=1.0))
    large = build_prompt(_input(character=card, context_tokens=8192, example_budget_ratio=1.0))
    assert "Example dialogue:" not in _system(small.messages)
    assert "Example dialogue:" in _system(large.messages)


def test_no_persona_and_no_summary_leave_no_empty_sections() -> None:
    system = _system(build_prompt(_input(character=replace(MIRA, mes_example=""))).messages)
    assert "is: " not in system
    assert "Story so far" not in system
    assert "\n\n\n" not in system


def _book(*entries: LoreEntry) -> Lorebook:
    return Lorebook(entries=list(entries))


DRAGON = LoreEntry(keys=["dragon"], content="Dragons were hunted to extinction in 1820.", id=1)
MOON = LoreEntry(keys=["moon"], content="The moon Kessa has a prison colony.", id=2, position="after_char")


def test_lore_is_included_when_its_keys_appear_in_recent_turns() -> None:
    card = replace(MIRA, lorebook=_book(DRAGON, MOON))
    turns = [*_turns(4), Turn("user", "Is that a DRAGON skull?", id=99)]
    prompt = build_prompt(_input(character=card, turns=turns))
    system = _system(prompt.messages)
    assert "Dragons were hunted" in system
    assert "Kessa" not in system
    assert prompt.lore == [DRAGON]
    # before_char lore sits before the character definition
    assert system.index("Dragons were hunted") < system.index("Mira's description")


def test_after_char_lore_follows_the_definition() -> None:
    card = replace(MIRA, lorebook=_book(DRAGON, MOON))
    prompt = build_prompt(_input(character=card, turns=[Turn("user", "Look at the moon.")], persona="a smuggler"))
    system = _system(prompt.messages)
    assert system.index("Scenario:") < system.index("The moon Kessa") < system.index("Alex is: a smuggler")
    assert prompt.lore == [MOON]


def test_lore_keys_in_old_turns_do_not_fire() -> None:
    card = replace(MIRA, lorebook=_book(DRAGON))
    turns = [Turn("user", "A dragon!"), *_turns(10)]
    assert build_prompt(_input(character=card, turns=turns)).lore == []


def test_lore_stays_within_its_budget() -> None:
    entries = [LoreEntry(keys=["ship"], content=f"Ship fact {i}: " + "rivets " * 200, id=i) for i in range(20)]
    card = replace(MIRA, lorebook=_book(*entries))
    prompt = build_prompt(_input(character=card, turns=[Turn("user", "Nice ship.")], lore_budget_ratio=0.15))
    assert 0 < len(prompt.lore) < 20
    assert sum(estimate(e.content) for e in prompt.lore) <= 0.15 * 8192


def test_post_history_instructions_come_last_with_original() -> None:
    card = replace(MIRA, post_history_instructions="{{original}} Keep it under 200 words.")
    prompt = build_prompt(_input(character=card))
    expected = DEFAULT_POST_HISTORY.replace("{{char}}", "Mira") + " Keep it under 200 words."
    assert prompt.messages[-1] == {"role": "system", "content": expected}


def test_no_post_history_message_without_instructions() -> None:
    prompt = build_prompt(_input())
    assert prompt.messages[-1]["role"] != "system"


def test_multi_user_turns_carry_names() -> None:
    turns = [
        Turn("assistant", "Who's first?"),
        Turn("user", "Me!", author="Bob"),
        Turn("user", "No, me.", author="Cleo"),
    ]
    prompt = build_prompt(_input(turns=turns, multi_user=True))
    assert MULTI_USER_NOTE in _system(prompt.messages)
    assert [m["content"] for m in prompt.messages[1:]] == ["Who's first?", "Bob: Me!", "Cleo: No, me."]


def test_single_user_turns_have_no_name_prefix() -> None:
    prompt = build_prompt(_input(turns=[Turn("user", "Hi", author="Bob")]))
    assert prompt.messages[1]["content"] == "Hi"


def test_continue_mode_ends_with_the_partial_reply() -> None:
    partial = '*Mira grins and leans in,* "Well, if you'
    turns = [*_turns(4), Turn("assistant", partial, id=50)]
    card = replace(MIRA, post_history_instructions="Be brief.")
    prompt = build_prompt(_input(character=card, turns=turns, continue_text=partial))
    assert prompt.messages[-1] == {"role": "assistant", "content": partial}
    assert prompt.messages[-2] == {
        "role": "system",
        "content": "Continue Mira's last reply from where it stopped, without repeating it.",
    }
    assert prompt.messages[-3] == {"role": "system", "content": "Be brief."}
    assert sum(m["content"] == partial for m in prompt.messages) == 1  # not duplicated
    assert 50 in prompt.used_turn_ids


def test_calibrator_shrinks_the_history_for_hungrier_tokenizers() -> None:
    turns = _turns(300)
    plain = build_prompt(_input(turns=turns, context_tokens=4096))
    hungry = build_prompt(_input(turns=turns, context_tokens=4096, calibrator=TokenCalibrator(ratio=2.0)))
    assert hungry.used_turns < plain.used_turns
    assert hungry.estimated_tokens <= 4096 - 512
    assert hungry.estimated_tokens >= 2 * estimate_messages(hungry.messages) - 50


def test_cached_turn_tokens_are_used() -> None:
    turns = [replace(t, tokens=1000) for t in _turns(20, words=2)]
    prompt = build_prompt(_input(turns=turns, context_tokens=4096))
    assert prompt.used_turns == 3


def test_oversized_card_is_clipped_to_leave_room_for_history() -> None:
    card = replace(MIRA, description="She talks about engines. " * 2000)
    prompt = build_prompt(_input(character=card, turns=_turns(40), context_tokens=4096))
    assert prompt.estimated_tokens <= 4096 - 512
    assert prompt.used_turns > 0
    assert prompt.notice is not None and "shortened" in prompt.notice


def test_cost_depends_on_turns_used_not_turns_loaded() -> None:
    turns = _turns(100_000)
    start = time.perf_counter()
    prompt = build_prompt(_input(turns=turns, context_tokens=4096))
    assert time.perf_counter() - start < 0.5
    assert prompt.dropped_turns == 100_000 - prompt.used_turns


def test_summary_request_keeps_names_and_limits_words() -> None:
    turns = [Turn("user", "I found the map.", author="Alex"), Turn("assistant", "*Mira gasps.* Show me, {{user}}!")]
    messages = build_summary_request("They met at the hangar.", turns, "Mira", "Alex", max_words=120)
    system, user = messages[0]["content"], messages[1]["content"]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "between Mira and Alex" in system
    assert "120 words" in system
    assert "adult (18 or older)" in system
    assert "They met at the hangar." in user
    assert "Alex: I found the map.\nMira: *Mira gasps.* Show me, Alex!" in user


def test_summary_request_without_a_previous_summary() -> None:
    messages = build_summary_request("", [Turn("user", "Hi")], "Mira", "Alex")
    assert "(none yet)" in messages[1]["content"]
    assert "250 words" in messages[0]["content"]


def test_scene_prompt_request_uses_appearance_and_recent_turns() -> None:
    card = replace(MIRA, appearance="woman in her thirties, short black hair, flight jacket")
    turns = [Turn("user", f"old turn {i}") for i in range(20)] + [Turn("user", "Let's sit on the wing.")]
    messages = build_scene_prompt_request(card, turns, "Alex")
    system, user = messages[0]["content"], messages[1]["content"]
    assert "60 words" in system
    assert "comma-separated" in system
    assert "adult" in system
    assert "short black hair" in user
    assert "Let's sit on the wing." in user
    assert "old turn 0" not in user


def test_scene_prompt_request_falls_back_to_the_description() -> None:
    messages = build_scene_prompt_request(MIRA, [Turn("user", "Hi")], "Alex")
    assert "scar over one eyebrow" in messages[1]["content"]


# --- SillyTavern's layout: depth injections, notes, example blocks, the lore budget -------------------

import random  # noqa: E402

from bot.characters.lore_state import LoreState  # noqa: E402
from bot.chat.prompt_lore import AuthorNote, inject  # noqa: E402


def _at(keys: list[str], content: str, **ext: object) -> LoreEntry:
    return LoreEntry(keys=keys, content=content, use_regex=True, extensions=dict(ext))


def _chat(n: int) -> list[Turn]:
    return [Turn("user" if i % 2 else "assistant", f"m{i}", id=i + 1) for i in range(n)]


def _contents(prompt_messages: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in prompt_messages[1:]]


def test_an_at_depth_entry_goes_that_many_messages_from_the_end_with_its_role() -> None:
    card = replace(MIRA, lorebook=_book(_at(["m5"], "RULE", position=4, depth=2, role=1)))
    prompt = build_prompt(_input(character=card, turns=_chat(6)))
    assert _contents(prompt.messages)[-4:] == [("user", "m3"), ("user", "RULE"), ("assistant", "m4"), ("user", "m5")]


def test_depth_zero_goes_after_the_last_message_and_before_post_history() -> None:
    card = replace(MIRA, post_history_instructions="Be brief.",
                   lorebook=_book(_at(["m5"], "NOW", position=4, depth=0, role=0)))
    prompt = build_prompt(_input(character=card, turns=_chat(6)))
    assert _contents(prompt.messages)[-3:] == [("user", "m5"), ("system", "NOW"), ("system", "Be brief.")]


def test_a_depth_past_the_history_goes_before_the_oldest_message() -> None:
    card = replace(MIRA, lorebook=_book(_at(["m1"], "OLD", position=4, depth=50)))
    assert _contents(build_prompt(_input(character=card, turns=_chat(2))).messages)[0] == ("system", "OLD")


def test_one_depth_holds_assistant_then_user_then_system_messages() -> None:
    entries = [_at(["m1"], "S", position=4, depth=1, role=0), _at(["m1"], "U", position=4, depth=1, role=1),
               _at(["m1"], "A", position=4, depth=1, role=2)]
    prompt = build_prompt(_input(character=replace(MIRA, lorebook=_book(*entries)), turns=_chat(2)))
    assert _contents(prompt.messages) == [("assistant", "m0"), ("assistant", "A"), ("user", "U"), ("system", "S"),
                                          ("user", "m1")]


def test_the_characters_note_goes_at_its_depth_and_role_before_lore_there() -> None:
    card = replace(MIRA, extensions={"depth_prompt": {"prompt": "{{char}} limps.", "depth": 1, "role": "system"}},
                   lorebook=_book(_at(["m3"], "LORE", position=4, depth=1, role=0)))
    prompt = build_prompt(_input(character=card, turns=_chat(4)))
    assert _contents(prompt.messages)[-2:] == [("system", "Mira limps.\nLORE"), ("user", "m3")]


def test_authors_note_entries_wrap_the_note_at_depth_four() -> None:
    entries = [_at(["m5"], "TOP", position=2), _at(["m5"], "BOTTOM", position=3)]
    prompt = build_prompt(_input(character=replace(MIRA, lorebook=_book(*entries)), turns=_chat(6),
                                 author_note=AuthorNote("Keep it tense.")))
    assert _contents(prompt.messages)[1:3] == [("user", "m1"), ("system", "TOP\nKeep it tense.\nBOTTOM")]


def test_example_message_entries_become_blocks_around_the_cards_examples() -> None:
    entries = [_at(["m1"], "{{char}}: top", position=5), _at(["m1"], "{{char}}: bottom", position=6)]
    system = _system(build_prompt(_input(character=replace(MIRA, lorebook=_book(*entries)), turns=_chat(2))).messages)
    blocks = ["Mira: top", "Alex: Hi\nMira: *waves* Hello!", "Mira: Fly with me.", "Mira: bottom"]
    assert "Example dialogue:\n" + "\n---\n".join(blocks) in system


def test_lore_left_out_by_the_budget_is_named_in_the_notice() -> None:
    entries = [LoreEntry(keys=["m1"], content="fact " * 400, comment=f"Fact {i}", id=i) for i in range(4)]
    prompt = build_prompt(_input(character=replace(MIRA, lorebook=_book(*entries)), turns=_chat(2)))
    assert prompt.notice is not None and "left out" in prompt.notice and "Fact" in prompt.notice


def test_the_lore_budget_is_sillytaverns_25_percent_of_the_context() -> None:
    entries = [LoreEntry(keys=["m1"], content=f"Fact {i}: " + "rivets " * 200, id=i) for i in range(20)]
    prompt = build_prompt(_input(character=replace(MIRA, lorebook=_book(*entries)), turns=_chat(2)))
    used = sum(estimate(e.content + "\n") for e in prompt.lore)
    assert 0.2 * (8192 - 512) < used <= 0.25 * (8192 - 512)


def test_speaker_names_are_scanned() -> None:
    card = replace(MIRA, lorebook=_book(_at(["Bob"], "Bob is a mechanic.")))
    turns = [Turn("assistant", "Hello"), Turn("user", "hi", author="Bob")]
    assert "Bob is a mechanic." in _system(build_prompt(_input(character=card, turns=turns, multi_user=True)).messages)


def test_the_lore_state_comes_back_with_timed_effects_and_variables() -> None:
    card = replace(MIRA, scenario="{{setvar::visits::1}}A bar.", lorebook=_book(_at(["m1"], "x", sticky=3)))
    prompt = build_prompt(_input(character=card, turns=_chat(2), lore_state=LoreState(seed=5)))
    assert prompt.lore_state.variables == {"visits": "1"}
    assert list(prompt.lore_state.sticky) == [f"{card.lorebook.name or 'card'}.0"]  # type: ignore[union-attr]
    assert prompt.lore_state.chat_length == 2 and prompt.lore_names == ["m1"]


def test_card_macros_are_reproducible_given_the_generator() -> None:
    card = replace(MIRA, description="Mood: {{random::calm::angry::sly::sad}}.")
    first = _system(build_prompt(_input(character=card, rng=random.Random(3))).messages)
    assert first == _system(build_prompt(_input(character=card, rng=random.Random(3))).messages)


def test_prompt_only_regex_scripts_shape_the_history_the_model_sees() -> None:
    scripts = [{"scriptName": "n", "findRegex": "/secret/g", "replaceString": "[hidden]", "placement": [2],
                "promptOnly": True}]
    card = replace(MIRA, extensions={"regex_scripts": scripts})
    prompt = build_prompt(_input(character=card, turns=[Turn("assistant", "a secret"), Turn("user", "ok")]))
    assert prompt.messages[1]["content"] == "a [hidden]"


def test_inject_counts_depth_from_the_newest_message() -> None:
    history = [{"role": "user", "content": str(i)} for i in range(3)]
    out = inject(history, {1: [{"role": "system", "content": "X"}]})
    assert [m["content"] for m in out] == ["0", "1", "X", "2"]
