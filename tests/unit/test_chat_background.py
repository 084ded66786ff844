"""What the judge is shown beside a chat text: `bot.chat.screening.chat_background`."""

from __future__ import annotations

from bot.characters.model import Character
from bot.chat.screening import JUDGE_TURNS, chat_background
from bot.store.conversations import TurnRow


def turn(i: int, role: str, content: str, author: str = "") -> TurnRow:
    return TurnRow(id=i, role=role, author_id=None, author_name=author, content=content, swipes=[content],
                   swipe_index=0, status="complete", discord_ids=[], reply_to=None, conversation_id=1)


def test_the_context_has_the_character_the_persona_the_summary_and_the_last_turns() -> None:
    mara = Character(name="Mara", description="A 31-year-old ship's captain.", personality="bold")
    turns = [turn(i, "user" if i % 2 else "assistant", f"line {i}", "Tom" if i % 2 else "") for i in range(1, 12)]
    context = chat_background(mara, persona=("Tom", "a sailor"), turns=turns, summary="They met in port.",
                              user_name="Tom")
    assert context.character.startswith("Name: Mara\nDescription: A 31-year-old ship's captain.")
    assert "Personality: bold" in context.character
    assert context.persona == "Tom: a sailor"
    assert context.recent[0] == "Story so far: They met in port."
    assert list(context.recent[1:]) == [f"{'Tom' if i % 2 else 'Mara'}: line {i}" for i in range(12 - JUDGE_TURNS, 12)]


def test_empty_parts_are_left_out() -> None:
    context = chat_background(Character(name="Mara"), turns=[turn(1, "user", "  ")], user_name="")
    assert context.character == "Name: Mara" and context.persona == "" and context.recent == ()
    assert chat_background(Character(name="Mara"), turns=[turn(1, "user", "hi")]).recent == ("User: hi",)
