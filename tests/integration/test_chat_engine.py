"""The chat engine against the fake Venice and a real database, without Discord.

A recording renderer stands in for Discord: it keeps what would have been sent and edited.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from bot.characters.lore_state import LoreState
from bot.characters.model import Character
from bot.chat.render import Controls, Look, OutputCheck
from bot.services import Services, build_services
from bot.ui.stream import StreamRenderer
from bot.where import Where
from tests.conftest import make_settings
from tests.fakes.venice import Fault

pytestmark = pytest.mark.postgres  # the store itself: run on PostgreSQL too

_MESSAGE_IDS = itertools.count(1001)


class Recorder:
    """send/edit callables for StreamRenderer that remember every call."""

    def __init__(self) -> None:
        self.messages: dict[int, str] = {}
        self.calls: list[tuple[str, int, str]] = []

    async def send(self, text: str) -> Any:
        message_id = next(_MESSAGE_IDS)  # unique across recorders, as Discord's ids are
        self.messages[message_id] = text
        self.calls.append(("send", message_id, text))
        return _Handle(message_id)

    async def edit(self, handle: Any, text: str) -> None:
        self.messages[handle.message_id] = text
        self.calls.append(("edit", handle.message_id, text))


class _Handle:
    def __init__(self, message_id: int) -> None:
        self.message_id = message_id


class RecordingReply:
    """A `Renderer` that streams through the real StreamRenderer into a `Recorder`."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.stream: StreamRenderer | None = None

    async def prepare(self, look: Look, existing: list[int]) -> None:
        return

    async def cleared(self) -> int | None:
        return None

    async def begin(self, controls: Controls, check: OutputCheck, existing: str = "") -> None:
        self.stream = StreamRenderer(self.recorder.send, self.recorder.edit, min_interval=0.0, check=check)
        if existing:
            await self.stream.feed(existing)

    async def feed(self, delta: str) -> None:
        assert self.stream is not None
        await self.stream.feed(delta)

    def message_ids(self) -> list[int]:
        return [h.message_id for h in self.stream.handles] if self.stream is not None else []

    async def finish(self, footer: str | None, controls: Controls) -> list[int]:
        assert self.stream is not None
        return [h.message_id for h in await self.stream.finish(footer)]

    async def fail(self, note: str, controls: Controls) -> list[int]:
        assert self.stream is not None
        return [h.message_id for h in await self.stream.fail(note)]

    async def show(self, content: str, controls: Controls | None) -> list[int]:
        handle = await self.recorder.send(content)
        return [handle.message_id]

    async def remove(self) -> None:
        return

    async def close(self) -> None:
        return


@pytest.fixture
async def services(db_url: str, fake_venice: Any) -> Services:
    s = await build_services(make_settings(db_url, venice_base_url=fake_venice.base_url))
    yield s
    await s.close()


WHERE = Where(7, 1, 500, "chat", user_name="Kim")


async def say(services: Services, text: str, where: Where = WHERE) -> tuple[Any, Recorder]:
    recorder = Recorder()
    outcome = await services.chat.take_turn(where, text, RecordingReply(recorder))
    return outcome, recorder


def last_chat_body(fake_venice: Any) -> dict[str, Any]:
    """The last streamed (reply) request; summaries are plain requests."""
    return [r for r in fake_venice.requests_to("/chat/completions", "POST") if r.json.get("stream")][-1].json


async def test_a_turn_streams_stores_and_feeds_the_next_prompt(services: Services, fake_venice: Any) -> None:
    fake_venice.replies.extend(["*She smiles.* Welcome in.", "Gin it is."])
    first, rec = await say(services, "Hello there")
    assert first.status == "complete" and first.text == "*She smiles.* Welcome in."
    assert "Welcome in." in next(iter(rec.messages.values()))
    second, _ = await say(services, "A gin, please")
    body = last_chat_body(fake_venice)
    contents = [m["content"] for m in body["messages"]]
    assert any("Hello there" in c for c in contents) and any("Welcome in." in c for c in contents)
    assert "A gin, please" in contents[-1]
    assert body["messages"][0]["role"] == "system" and "adult" in body["messages"][0]["content"].lower()
    assert body["stream"] is True and body["venice_parameters"]["include_venice_system_prompt"] is False
    assert second.reply.status == "complete"
    assert fake_venice.violations == []


async def test_mid_stream_failure_keeps_what_arrived_and_marks_it_cut(services: Services, fake_venice: Any) -> None:
    fake_venice.reply_text = "one two three four five six seven eight nine ten eleven twelve"
    fake_venice.inject("/chat/completions", Fault.of("midstream_error", after=2))
    outcome, rec = await say(services, "Tell me a story")
    assert outcome.status == "cut" and outcome.text
    shown = "\n".join(rec.messages.values())
    assert outcome.text.split()[0] in shown and "cut off" in shown
    assert (await services.chat.conversations.turn(outcome.reply.id)).status == "cut"


@pytest.mark.parametrize(
    ("fault", "wording"),
    [
        (Fault.http(402, {"error": "Insufficient balance", "code": "INSUFFICIENT_BALANCE"}), "balance"),
        (Fault.http(401, {"error": "Authentication failed"}), "key"),
        (Fault.rate_limited(retry_after=30, times=10), "try again"),
        (Fault.http(503, {"error": "Model offline", "code": "MODEL_OFFLINE"}, times=10), ""),
    ],
)
async def test_venice_errors_say_what_happened_and_lose_nothing(
    services: Services, fake_venice: Any, fault: Fault, wording: str
) -> None:
    services.venice._http.sleep = _no_sleep  # type: ignore[attr-defined]
    fake_venice.inject("/chat/completions", fault)
    outcome, rec = await say(services, "Are you there?")
    assert outcome.status == "failed" and outcome.note
    assert wording.lower() in outcome.note.lower()
    shown = "\n".join(rec.messages.values())
    assert outcome.note in shown
    # The user's words are kept in history, and the failed reply is not.
    conv = await services.chat.conversations.active(WHERE.channel_id)
    window = await services.chat.conversations.window(conv)
    assert [t.content for t in window] == ["Are you there?"]


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


async def test_stop_keeps_what_arrived(services: Services, fake_venice: Any) -> None:
    fake_venice.reply_text = " ".join(f"word{i}" for i in range(200))
    fake_venice.chunk_delay = 0.02
    task = asyncio.create_task(say(services, "Go on"))
    for _ in range(200):
        await asyncio.sleep(0.02)
        if services.chat.generator._running:
            break
    await asyncio.sleep(0.6)  # the fake's first piece takes ~0.1 s; its whole reply ~12 s
    reply_id = next(iter(services.chat.generator._running))
    assert services.chat.generator.stop(reply_id)
    outcome, _ = await task
    assert outcome.status == "cut" and outcome.note == "stopped", (outcome.status, outcome.note, outcome.text[:50])
    assert 0 < len(outcome.text) < len(fake_venice.reply_text)


async def test_output_that_breaks_the_policy_is_withheld(services: Services, fake_venice: Any) -> None:
    # Clear-cut for stage 1 (an explicit word, then a stated minor age): refused without the judge.
    fake_venice.reply_text = "She undresses and says she is only 14 years old and " + "blushes " * 80
    outcome, _ = await say(services, "Who are you?")
    assert outcome.withheld and outcome.status == "failed" and outcome.text == ""
    stored = await services.chat.conversations.turn(outcome.reply.id)
    assert stored.status == "failed" and stored.content == ""


async def test_long_conversations_fold_into_a_summary(services: Services, fake_venice: Any) -> None:
    fake_venice.context_tokens["venice-uncensored-1-2"] = 1500
    for i in range(12):
        fake_venice.replies.append(f"Reply number {i}. " + "Lorem ipsum dolor sit amet. " * 12)
        await say(services, f"Message number {i}. " + "Tell me more about the tavern. " * 8)
    conv = await services.chat.conversations.active(WHERE.channel_id)
    assert conv.summary and conv.summary_upto is not None
    body = last_chat_body(fake_venice)
    assert any("Story so far" in m["content"] for m in body["messages"] if m["role"] == "system")


async def test_channels_are_independent_and_a_channel_answers_in_order(services: Services, fake_venice: Any) -> None:
    fake_venice.chunk_delay = 0.01
    other = Where(8, 1, 501, "chat", user_name="Lee")
    results = await asyncio.gather(say(services, "first"), say(services, "second"), say(services, "hello", other))
    assert all(r[0].status == "complete" for r in results)
    conv = await services.chat.conversations.active(WHERE.channel_id)
    window = await services.chat.conversations.window(conv)
    assert [t.content for t in window if t.role == "user"] == ["first", "second"]
    # The second reply's prompt saw the first exchange.
    assert any("first" in r.json["messages"][-2]["content"] for r in fake_venice.requests_to("/chat/completions")
               if "second" in r.json["messages"][-1]["content"])


async def test_a_backlog_older_than_the_window_is_folded_from_its_oldest_turn(
    services: Services, fake_venice: Any
) -> None:
    from sqlalchemy import insert

    from bot.store.models import Message

    scene = await services.chat.scenes.of(WHERE)
    rows = [{"conversation_id": scene.conversation.id, "role": "user" if i % 2 == 0 else "assistant",
             "author_name": "Kim", "content": f"old line {i}", "swipes": [], "swipe_index": 0,
             "status": "complete", "tokens": 5, "discord_ids": []} for i in range(500)]
    async with services.sessions.begin() as s:
        await s.execute(insert(Message), rows)
    await say(services, "And now?")
    conv = await services.chat.conversations.active(WHERE.channel_id)
    everything = await services.chat.conversations.all_turns(conv.id)
    # The first fold covers the 40 oldest turns, not turns from the middle of the story.
    assert conv.summary_upto == everything[39].id
    summary_request = [r for r in fake_venice.requests_to("/chat/completions") if not r.json.get("stream")][-1]
    text = summary_request.json["messages"][-1]["content"]
    assert "old line 0" in text and "old line 39" in text and "old line 40" not in text


async def test_each_turn_stores_the_conversations_lore_state_with_the_reply(
    services: Services, fake_venice: Any
) -> None:
    fake_venice.replies.extend(["Hi.", "Sure."])
    await say(services, "Hello")
    conversation = await services.chat.conversations.active(WHERE.channel_id)
    assert conversation is not None
    state = LoreState.from_json(conversation.lore_state)
    assert (state.seed, state.chat_length) == (conversation.id, 1)  # `{{pick}}` is seeded by the conversation
    await say(services, "Again")
    stored = await services.chat.conversations.lore_state(conversation.id)
    assert LoreState.from_json(stored).chat_length == 3  # the user's message, the reply, the next message


async def test_lore_state_helpers_read_back_what_they_wrote(services: Services) -> None:
    conversations = services.chat.conversations
    conversation, _ = await conversations.start(channel_id=900, guild_id=1, character_ref="builtin:scarlett",
                                                character_name="Scarlett", created_by=7)
    assert await conversations.lore_state(conversation.id) is None
    state = LoreState(seed=4, variables={"hp": "10"})
    await conversations.set_lore_state(conversation.id, state.to_json(), ["Castle"])
    assert LoreState.from_json(await conversations.lore_state(conversation.id)) == state
    assert (await conversations.get(conversation.id)).lore_fired == ["Castle"]  # type: ignore[union-attr]


async def test_chat_variables_carry_from_turn_to_turn_while_the_scene_is_cached(
    services: Services, fake_venice: Any
) -> None:
    # The channel's conversation is cached between turns: each turn must play on from the state the
    # previous one stored, not from the state the cached copy was loaded with.
    counter = await services.characters.create(
        Character(name="Counter", description="Visits so far: {{incvar::visits}}."), where=WHERE, shared=False)
    await services.characters.set_for_channel(channel_id=WHERE.channel_id, guild_id=WHERE.guild_id,
                                              ref=f"custom:{counter.id}")
    fake_venice.replies.extend(["One.", "Two.", "Three."])
    seen = []
    for text in ("Hello", "Again", "Once more"):
        await say(services, text)
        system = last_chat_body(fake_venice)["messages"][0]["content"]
        seen.append(system.split("Visits so far: ", 1)[1].split(".", 1)[0])
    assert seen == ["1", "2", "3"]
