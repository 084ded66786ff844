"""The screening seam of a chat turn: what checks a person's words and the model's output.

`ChatScreen` is built once (in `bot/services.py`) on the bot's `ContentPolicy` (both stages of the
content screen, DESIGN §5) and given to the chat service.

- `refuses_at_once(text)`: stage 1's decisive answer. Words it refuses never reach Venice (the turn
  awaits the refusal instead of generating); nothing that needs the judge is decided here.
- `check_input(text, where, background=...)`: stage 1, then the judge when stage 1 asks, with the
  text's context (the character, the speaker's persona, the last few turns). Raises `Refused`
  (audited, a strike where the rules say so) or `CheckUnavailable` (the judge failed: fail closed,
  "couldn't be checked right now", no strike). A turn starts it beside the Venice request and
  shows nothing of the reply until it has cleared.
- `check_output(text, where, background=...)`: may this model text (all of the reply that would be
  visible) be shown? The renderer awaits it before every write; when stage 1 hands the text to
  the judge, rendering waits for the answer. Refusals and judge failures are audited, never a
  strike. Returns the `Decision` (`allowed`, and `unavailable` for the notice's wording).

`background` is a `JudgeContext` or an async callable that builds one: it is only awaited when
the judge is asked, so a turn that stage 1 clears costs no extra query. `chat_background` builds
the context from what a turn has at hand.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot import safety
from bot.characters.model import Character
from bot.judge import JudgeContext, character_summary
from bot.judge.context import MAX_TURNS
from bot.policy import Background, ContentPolicy, Decision
from bot.store.conversations import TurnRow
from bot.where import Where

__all__ = ["JUDGE_TURNS", "ChatScreen", "chat_background"]

JUDGE_TURNS = MAX_TURNS  # the recent turns the judge is shown (its context keeps no more)


def chat_background(
    character: Character, *, persona: tuple[str, str] | None = None, turns: Iterable[TurnRow] = (),
    summary: str = "", user_name: str = "User",
) -> JudgeContext:
    """The judge's context in a conversation with `character`: a summary of its definition, the
    speaker's persona ("name: description"), and the story so far (the rolling summary, then the
    last `JUDGE_TURNS` turns as "Speaker: text"). `JudgeContext.bounded()` clips it later."""
    recent = [f"Story so far: {summary}"] if summary.strip() else []
    rows = [t for t in turns if t.content and t.content.strip()][-JUDGE_TURNS:]
    for row in rows:
        speaker = row.author_name or (character.name if row.role == "assistant" else user_name or "User")
        recent.append(f"{speaker}: {row.content}")
    return JudgeContext(
        character=character_summary(
            character.name, description=character.description, personality=character.personality,
            scenario=character.scenario, appearance=character.appearance, first_message=character.first_mes,
        ),
        persona=": ".join(part for part in persona if part and part.strip()) if persona else "",
        recent=tuple(recent),
    )


class ChatScreen:
    """Both stages of the content screen (`ContentPolicy`) for chat input and output."""

    def __init__(self, *, policy: ContentPolicy) -> None:
        self.policy = policy

    def refuses_at_once(self, text: str) -> bool:
        """Stage 1 alone refuses `text`: no generation starts (`check_input` then raises)."""
        return not safety.screen(text).allowed

    async def check_input(self, text: str, where: Where, *, background: Background = None) -> Decision:
        """Raise `Refused` (audited, with a strike where the rules say so) if `text` may not be
        used, `CheckUnavailable` if the judge could not answer.

        `where.entry` names the entry point ("chat", "chat edit", "terminal chat").
        """
        return await self.policy.check(text, where, context="chat", background=background)

    async def check_output(self, text: str, where: Where, *, background: Background = None) -> Decision:
        """May this model output (all of the reply that would be visible) be shown?"""
        return await self.policy.check_output(text, where, background=background)
