"""A group scene with three characters, through the real `python -m bot run` process (issue #14's
"done when"): an addressed reply, natural order over ten messages, everyone mode, the cap on
characters answering each other, and a restart mid-scene.

Users act through the fake gateway; what each character said, and under which name, is read from
the fake Discord's messages and the database file.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

from bot.chat import scene_cast
from tests.e2e.conftest import E2E, custom_ids

EPHEMERAL = 1 << 6


async def poll(predicate: Callable[[], Any], timeout: float, what: str) -> None:  # noqa: ASYNC109
    """Wait until `predicate()` holds, reading the database the bot process writes (it signals
    nothing this process could await)."""
    try:
        async with asyncio.timeout(timeout):
            while not predicate():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None


class Stage:
    def __init__(self, e2e: E2E, people: dict[str, Any]) -> None:
        self.e2e = e2e
        self.alice = people["alice"]
        self.channel = people["nsfw"]
        adults = [c for c in e2e.venice.characters if c["adult"]][:3]
        self.slugs = [c["slug"] for c in adults]
        self.names = [c["name"] for c in adults]

    def spoken(self) -> list[str]:
        """Who spoke each finished reply, oldest first (greetings included)."""
        rows = self.e2e.rows("SELECT author_name FROM messages WHERE role = 'assistant' "
                             "AND status IN ('complete', 'cut') ORDER BY id")
        return [r[0] for r in rows]

    def busy(self) -> bool:
        return bool(self.e2e.rows("SELECT 1 FROM messages WHERE status IN ('streaming', 'pending')"))

    async def until_spoken(self, count: int, what: str) -> list[str]:
        await poll(lambda: len(self.spoken()) >= count and not self.busy(), 20, what=what)
        return self.spoken()

    async def say(self, text: str, *, expect: int) -> list[str]:
        """A message mentioning the bot; returns who answered it (`expect` replies)."""
        before = len(self.spoken())
        await self.e2e.fake.send_message(self.alice, self.channel, f"<@{self.e2e.fake.world.bot['id']}> {text}",
                                         mentions_bot=True)
        return (await self.until_spoken(before + expect, f"{expect} answers to {text!r}"))[before:]

    def webhook_names(self) -> list[str]:
        return [m["author"]["username"] for m in self.e2e.messages_in(self.channel["id"]) if m.get("webhook_id")]

    def latest_reply(self) -> dict[str, Any]:
        found = [m for m in self.e2e.messages_in(self.channel["id"])
                 if any(c.startswith("scene:next:") for c in custom_ids(m))]
        assert found, "no reply carries ⏭ Next"
        return found[-1]

    async def next(self) -> Any:
        reply = self.latest_reply()
        next_id = next(c for c in custom_ids(reply) if c.startswith("scene:next:"))
        return await self.e2e.fake.click(self.alice, self.channel, reply["id"], next_id)


async def test_three_characters_through_the_real_process(e2e: E2E, people: dict[str, Any]) -> None:
    stage = Stage(e2e, people)
    e2e.venice.reply_text = "A quiet line."
    proc = await e2e.start()
    await e2e.slash(stage.alice, stage.channel, "character set", {"character": f"venice:{stage.slugs[0]}"})
    ref = f"venice:{stage.slugs[0]}"
    await poll(  # the new character's conversation starts beside the command's answer
        lambda: e2e.rows(f"SELECT 1 FROM conversations WHERE character_ref = '{ref}' AND NOT archived"), 10,
        what="the new character's conversation")
    for slug in stage.slugs[1:]:
        await e2e.slash(stage.alice, stage.channel, "scene add", {"character": f"venice:{slug}"})
    await poll(lambda: len(e2e.rows("SELECT 1 FROM cast_members")) == 3, 10, what="the cast")

    # Addressed by first name: only that character answers, under its own name.
    luna = stage.names[1]
    assert await stage.say(f"{luna.split()[0]}, come sit with me.", expect=1) == [luna]
    assert stage.webhook_names()[-1] == luna

    # Natural order over ten messages: nobody silent throughout, nobody twice in a row.
    natural: list[str] = []
    for i in range(10):
        natural += await stage.say(f"The evening goes on, part {i}.", expect=1)
    assert set(natural) == set(stage.names)
    sequence = [luna, *natural]
    assert all(a != b for a, b in itertools.pairwise(sequence)), sequence

    # Everyone mode: each answers once, in cast order, the last speaker moved to the end.
    await e2e.slash(stage.alice, stage.channel, "scene mode", {"mode": "everyone"})
    everyone = await stage.say("A toast, all of you!", expect=3)
    assert sorted(everyone) == sorted(stage.names) and everyone[0] != natural[-1]
    assert stage.webhook_names()[-3:] == everyone

    # ⏭ Next: characters answer each other up to the cap, then a private refusal.
    for _ in range(3):
        before = len(stage.spoken())
        await stage.next()
        await stage.until_spoken(before + 1, "a character answering the scene")
    asked = len(e2e.venice.requests)
    refused = await stage.next()
    body = (await refused.response(timeout=10)).json
    assert body["type"] == 4 and body["data"]["flags"] & EPHEMERAL
    assert body["data"]["content"] == scene_cast.CHAIN_CAPPED
    assert [r.path for r in e2e.venice.requests[asked:]] == []  # Venice was not asked

    # A restart mid-scene keeps the cast, the mode and the order; the old buttons still work.
    await e2e.stop(proc)
    second = await e2e.start()
    after = await stage.say("Still here?", expect=3)
    assert sorted(after) == sorted(stage.names)
    assert [r[0] for r in e2e.rows("SELECT mode FROM casts")] == ["everyone"]
    before = len(stage.spoken())
    await stage.next()  # the chain count was reset by the words
    assert len(await stage.until_spoken(before + 1, "Next after the restart")) == before + 1
    await e2e.stop(second)
