"""The screening seam of a chat turn: what checks a person's words and the model's output.

`ChatScreen` is built once (in `bot/services.py`) and given to the chat service. The turn starts
`check_input` beside the Venice request and shows nothing of the reply until it has cleared; it
hands `check_output` to the renderer, which awaits it before every write. Both are awaitables so a
slower second stage (the judge) can answer later. `refuses_at_once` is stage 1's decisive answer:
words it refuses never reach Venice at all (the turn awaits the refusal instead of generating).

Wiring the judge in means replacing these three methods (or building `ChatService` with another
`ChatScreen`), nothing else.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import policy, safety
from bot.where import Where


class ChatScreen:
    """Stage 1 (`bot.safety.screen` through `bot.policy`) for chat input and output."""

    def __init__(self, *, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    def refuses_at_once(self, text: str) -> bool:
        """Stage 1 alone refuses `text`: no generation starts (`check_input` then raises)."""
        return not safety.screen(text).allowed

    async def check_input(self, text: str, where: Where) -> None:
        """Raise `Refused` (audited, with a strike where the rules say so) if `text` may not be used.

        `where.entry` names the entry point ("chat", "chat edit", "terminal chat").
        """
        await policy.check_text(self.sessions, text, where)

    async def check_output(self, text: str, where: Where) -> bool:
        """May this model output (all of the reply that would be visible) be shown?"""
        return policy.output_verdict(text).allowed
