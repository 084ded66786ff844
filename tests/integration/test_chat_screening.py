"""The screening seam of a turn (issue #9 §3): nothing unscreened is ever visible in Discord.

- Output: every write of model text passes the output check first, so no Discord request body of a
  turn ever carries text the screen refuses, wherever in the reply the refused sentence comes.
- Input: the check runs beside the generation (Venice is asked at once), nothing of the reply is
  shown until it clears, and a refusal stops the generation, shows nothing, and keeps nothing.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import safety
from bot.chat.screening import ChatScreen
from bot.chat.service import WITHHELD
from bot.errors import Refused
from bot.policy import ALLOWED, Background, Decision
from bot.store.models import Message
from bot.ui.stream import DEFAULT_MARKER
from bot.where import Where
from tests.integration.conftest_chat import ChatWorld, chat_fixture, text_of

__all__ = ["chat_fixture"]

# Clear-cut for stage 1 (an explicit word, then a stated minor age): refused without the judge.
BAD = "She undresses and says she is only 14 years old and blushes."
HARMLESS = "The tavern is warm and loud, and the rain taps on the windows. "


def shown_texts(chat: ChatWorld) -> list[str]:
    """Every piece of text the bot sent to Discord in a message body (content and embeds)."""
    texts = []
    for request in chat.discord.requests:
        body = request.json if isinstance(request.json, dict) else {}
        data = body.get("data", body) if "type" in body else body
        if not isinstance(data, dict):
            continue
        texts.append(str(data.get("content") or ""))
        texts.extend(str(e.get("description") or "") for e in data.get("embeds") or [])
    return [t for t in texts if t]


def model_text(shown: str) -> str:
    """A body's text without what the bot adds while streaming (the marker, the closing fence)."""
    return shown.replace(DEFAULT_MARKER, "").rstrip("`\n ")


@pytest.mark.parametrize("pace", [0.0, 0.01], ids=["at-once", "streamed"])
@pytest.mark.parametrize("before", [0, 600], ids=["at-the-start", "after-600-harmless-characters"])
async def test_no_discord_body_of_a_turn_ever_carries_refused_text(chat: ChatWorld, pace: float, before: int) -> None:
    where = chat.place()
    harmless = (HARMLESS * 20)[:before].rstrip()
    chat.venice.chunk_delay = pace
    chat.venice.reply_text = (harmless + " " if harmless else "") + BAD + " " + "She smiles. " * 40
    await chat.say(where, "Who are you?")

    [reply] = chat.replies_in(where)
    assert text_of(reply) == WITHHELD
    bodies = shown_texts(chat)
    assert not [b for b in bodies if "only 14" in b or "14 years" in b]
    # Stronger than the one sentence: no body's model text is refused by the output screen.
    assert [b for b in bodies if not safety.screen(model_text(b), context="output").allowed] == []
    if before and pace:
        assert any(harmless[:40] in b for b in bodies)  # the harmless start was streamed before it


class HeldScreen(ChatScreen):
    """An input check that answers only when the test says so, like a judge taking its time."""

    def __init__(self, base: ChatScreen, *, allow: bool) -> None:
        super().__init__(policy=base.policy)
        self.allow = allow
        self.asked = asyncio.Event()
        self.answer = asyncio.Event()

    def refuses_at_once(self, text: str) -> bool:
        return False  # everything waits for the (slow) second opinion

    async def check_input(self, text: str, where: Where, *, background: Background = None) -> Decision:
        self.asked.set()
        await self.answer.wait()
        if not self.allow:
            raise Refused("The judge refused this.", "judge")
        return ALLOWED


async def until(predicate: Any, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - the fakes signal nothing we could await here
            await asyncio.sleep(0.01)


def held(chat: ChatWorld, *, allow: bool) -> HeldScreen:
    service = chat.bot.services.chat  # type: ignore[union-attr]
    screen = HeldScreen(service.screen, allow=allow)
    service.screen = screen
    return screen


async def test_the_input_check_runs_beside_the_generation_and_nothing_shows_before_it_clears(
    chat: ChatWorld,
) -> None:
    where = chat.place()
    screen = held(chat, allow=True)
    chat.venice.reply_text = "Welcome in, stranger."
    talking = asyncio.create_task(chat.say(where, "Hello"))
    await until(lambda: chat.venice.count("/chat/completions") == 1)  # Venice was asked at once
    await asyncio.wait_for(screen.asked.wait(), 10)
    await asyncio.sleep(0.2)  # Venice has answered by now; the reply still waits for the check
    assert chat.replies_in(where) == [] and not talking.done()
    screen.answer.set()
    await talking
    [reply] = chat.replies_in(where)
    assert text_of(reply) == "Welcome in, stranger."


async def test_a_refused_input_stops_the_generation_shows_nothing_and_keeps_nothing(chat: ChatWorld) -> None:
    where = chat.place()
    screen = held(chat, allow=False)
    chat.venice.chunk_delay = 0.05
    chat.venice.reply_text = "word " * 5_000  # minutes of streaming, unless the turn stops it
    message = chat.message_payload(where, "Something the judge refuses")
    talking = asyncio.create_task(chat.say(where, "Something the judge refuses"))
    await until(lambda: chat.venice.count("/chat/completions") == 1)
    await asyncio.wait_for(screen.asked.wait(), 10)
    screen.answer.set()
    await talking  # the harness waits at most 30 s: the stream was stopped, not read to its end

    assert chat.replies_in(where) == []  # not one word of the reply
    answers = [m for m in chat.messages_in(where) if m.get("message_reference")]
    assert [re.sub(r"\s+", " ", m["content"]) for m in answers] == ["The judge refused this."]
    async with chat.bot.services.sessions() as session:  # type: ignore[union-attr]
        kept = await session.scalar(select(func.count()).select_from(Message))
    assert kept == 0  # the turn did not become history
    assert message["content"]  # (the person's own message stays theirs; the bot kept no copy)
