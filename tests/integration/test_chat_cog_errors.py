"""When things go wrong, and when things happen at once: failures, stop, order, crashes, edits.

Every failure keeps what the user said and what arrived; nothing half-made reaches a later prompt.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.chat.service import WITHHELD
from cogs.chat import EDIT_REFUSED
from tests.fakes.venice import Fault
from tests.integration.conftest_chat import MARKER, ChatWorld, TimedList, button, chat_fixture, custom_ids, text_of
from tests.places import PlaceSetup

__all__ = ["chat_fixture"]

LONG = " ".join(f"word{i}" for i in range(120))


async def until(predicate: Any, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - the fakes signal nothing we could await here
            await asyncio.sleep(0.01)


def streaming_message(chat: ChatWorld, where: PlaceSetup) -> dict[str, Any] | None:
    """The character's message currently showing the stop button, if any."""
    for message in chat.replies_in(where):
        if any(c.startswith("chat:stop:") for c in custom_ids(message)):
            return message
    return None


async def stored(chat: ChatWorld, message: dict[str, Any]) -> Any:
    turn = await chat.bot.services.chat.conversations.by_discord_id(int(message["id"]))  # type: ignore[union-attr]
    assert turn is not None
    return turn


async def test_a_failure_mid_stream_keeps_what_arrived_and_offers_continue(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.reply_text = LONG
    chat.venice.inject("/chat/completions", Fault.of("midstream_error", after=3))
    await chat.slash(where, "chat", {"message": "Tell me a story"})
    [reply] = chat.replies_in(where)
    shown = text_of(reply)
    assert shown.startswith("word0 word1") and "cut off" in shown and MARKER not in shown
    assert {c.split(":")[1] for c in custom_ids(reply)} >= {"regen", "cont", "edit", "del"}
    turn = await stored(chat, reply)
    assert turn.status == "cut" and LONG.startswith(turn.content) and 0 < len(turn.content) < len(LONG)

    chat.venice.reply_text = " and the rest."
    await chat.click(where, reply, button(reply, "cont"))
    assert chat.last_prompt()[-1] == {"role": "assistant", "content": turn.content}
    assert text_of(chat.discord.world.messages[reply["id"]]) == turn.content + " and the rest."


@pytest.mark.parametrize(
    ("fault", "wording"),
    [
        (Fault.rate_limited(retry_after=30, times=10), "try again in about 30 seconds"),
        (Fault.http(402, {"error": "Insufficient balance", "code": "INSUFFICIENT_BALANCE"}), "balance has run out"),
        (Fault.http(422), "content policy"),
        (Fault.http(503, {"error": "Model offline", "code": "MODEL_OFFLINE"}, times=10), "offline"),
        (Fault.http(401, {"error": "Authentication failed"}), "key was refused"),
    ],
    ids=["rate_limited", "out_of_balance", "content_policy", "model_offline", "bad_key"],
)
async def test_each_venice_error_says_what_happened_and_loses_nothing(
    chat: ChatWorld, fault: Fault, wording: str
) -> None:
    where = chat.place()
    chat.venice.inject("/chat/completions", fault)
    await chat.say(where, "Are you there?")
    [reply] = chat.replies_in(where)
    assert wording in text_of(reply) and len(text_of(reply)) < 200
    assert button(reply, "regen")
    assert (await stored(chat, reply)).status == "failed"

    chat.venice._faults.clear()  # type: ignore[attr-defined]  # Venice is back
    await chat.say(where, "Hello?")
    # The user's first words are kept; the failed reply is not in the story.
    assert chat.history() == ["alice: Are you there?", "alice: Hello?"]


@pytest.mark.parametrize("pace", [0.0, 0.01], ids=["at-once", "streamed"])
async def test_output_that_breaks_the_policy_is_never_shown_and_left_out(chat: ChatWorld, pace: float) -> None:
    where = chat.place()
    chat.venice.chunk_delay = pace  # streamed: the reply is written to Discord while it arrives
    # Clear-cut for stage 1 (an explicit word, then a stated minor age): refused without the judge.
    chat.venice.reply_text = "She undresses and says she is only 14 years old and " + "blushes " * 80
    await chat.say(where, "Who are you?")
    [reply] = chat.replies_in(where)
    assert text_of(reply) == WITHHELD and button(reply, "regen")
    written = [str(body) for body in chat.all_bodies()]
    assert not [b for b in written if "only 14" in b or "14 ye" in b]  # not even for a moment
    await chat.say(where, "Hm")
    assert chat.history() == ["alice: Who are you?", "alice: Hm"]


async def test_a_message_sent_while_a_reply_streams_is_queued_and_answered_after(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.requests = TimedList()
    chat.discord.requests = TimedList()
    chat.venice.chunk_delay = 0.01
    chat.venice.replies.extend([LONG, "Second answer."])
    first = asyncio.create_task(chat.say(where, "first"))
    await until(lambda: streaming_message(chat, where) is not None)
    second = asyncio.create_task(chat.say(where, "second"))
    await asyncio.gather(first, second)

    one, two = chat.prompts()
    assert chat.history(one) == ["alice: first"]
    assert chat.history(two) == ["alice: first", LONG, "alice: second"]  # the second saw the first
    replies = chat.replies_in(where)
    assert [text_of(m) for m in replies] == [LONG, "Second answer."]
    # The second question reached Venice only after the first reply was finished in Discord.
    final_edit_at = max(t for r, t in zip(chat.discord.requests, chat.discord.requests.times, strict=True)
                        if r.method == "PATCH" and replies[0]["id"] in r.path)
    second_asked_at = [t for r, t in zip(chat.venice.requests, chat.venice.requests.times, strict=True)
                       if r.path == "/chat/completions" and r.json.get("stream")][1]  # not the judge
    assert second_asked_at > final_edit_at


async def test_channels_are_answered_at_the_same_time(chat: ChatWorld) -> None:
    a, b = chat.place(), chat.place()
    chat.venice.chunk_delay = 0.01
    chat.venice.reply_text = LONG
    first = asyncio.create_task(chat.say(a, "in a"))
    await until(lambda: streaming_message(chat, a) is not None)
    second = asyncio.create_task(chat.say(b, "in b"))
    await until(lambda: streaming_message(chat, b) is not None)
    assert streaming_message(chat, a) is not None  # both stream at once
    await asyncio.gather(first, second)
    assert [len(chat.replies_in(w)) for w in (a, b)] == [1, 1]


async def test_stop_cancels_a_streaming_reply_and_keeps_what_arrived(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.chunk_delay = 0.02
    chat.venice.reply_text = LONG
    talking = asyncio.create_task(chat.slash(where, "chat", {"message": "Go on and on"}))
    await until(lambda: streaming_message(chat, where) is not None)
    await asyncio.sleep(0.3)
    message = streaming_message(chat, where)
    assert message is not None
    handle = await chat.click(where, message, button(message, "stop"))
    assert (await handle.response()).json["type"] == 6
    await talking

    [reply] = chat.replies_in(where)
    shown = text_of(reply)
    assert shown.startswith("word0") and "cut off: stopped" in shown and MARKER not in shown
    assert not any(c.startswith("chat:stop:") for c in custom_ids(reply)) and button(reply, "cont")
    turn = await stored(chat, reply)
    assert turn.status == "cut" and 0 < len(turn.content) < len(LONG)
    await chat.say(where, "ok")
    assert chat.history() == ["alice: Go on and on", turn.content, "alice: ok"]


async def test_a_crash_mid_stream_leaves_no_half_turn_and_the_next_bot_carries_on(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.replies.append("A complete first answer.")
    await chat.say(where, "first")
    chat.venice.chunk_delay = 0.02
    chat.venice.replies.append(LONG)
    talking = asyncio.create_task(chat.say(where, "second"))
    await until(lambda: streaming_message(chat, where) is not None)
    await asyncio.sleep(0.2)  # its first message is linked to the stored reply
    for task in asyncio.all_tasks():  # the process dies mid-reply
        if task.get_name().startswith("discord.py: on_message"):
            task.cancel()
    await talking
    stuck = streaming_message(chat, where)
    assert stuck is not None and (await stored(chat, stuck)).status == "streaming"

    await chat.restart()
    chat.venice.chunk_delay = 0.0
    chat.venice.replies.append("Third answer.")
    await chat.say(where, "third")
    # The question stays; the half-written reply never reaches the model.
    assert chat.history() == ["alice: first", "A complete first answer.", "alice: second", "alice: third"]
    assert (await stored(chat, stuck)).status == "failed"
    # The restart rewrites the stuck message itself: cut off, with its real buttons instead of Stop.
    await until(lambda: MARKER not in text_of(chat.discord.world.messages[stuck["id"]]))
    repaired = chat.discord.world.messages[stuck["id"]]
    assert "cut off: the bot restarted" in text_of(repaired) and button(repaired, "regen")
    assert not any(c.startswith("chat:stop:") for c in custom_ids(repaired))


async def test_a_new_bot_instance_continues_the_conversation(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.replies.append("Remember me.")
    await chat.say(where, "My name is Alex")
    await chat.restart()
    await chat.say(where, "Do you remember?")
    assert chat.history() == ["alice: My name is Alex", "Remember me.", "alice: Do you remember?"]


async def test_an_edited_message_updates_the_story_after_screening(chat: ChatWorld) -> None:
    where = chat.place()
    message = await chat.say(where, "I order a gin")
    await chat.edit_message(message, f"<@{chat.discord.world.bot['id']}> I order a whisky")
    await chat.say(where, "Cheers")
    assert chat.history()[0] == "alice: I order a whisky"

    # Clear-cut (a stated minor age next to an explicit word): refused by stage 1 alone.
    await chat.edit_message(message, f"<@{chat.discord.world.bot['id']}> I am 15 years old and naked")
    notices = [m["content"] for m in chat.messages_in(where) if m.get("message_reference")
               and m["author"]["id"] == chat.discord.world.bot["id"]]
    assert len(notices) == 1 and notices[0].startswith(EDIT_REFUSED.split("{")[0])
    await chat.say(where, "Again")
    assert chat.history()[0] == "alice: I order a whisky"


async def test_a_deleted_message_leaves_the_story(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.replies.extend(["First answer.", "Second answer."])
    message = await chat.say(where, "Something I regret")
    await chat.say(where, "Something else")
    await chat.delete_message(message)
    await chat.say(where, "Now")
    assert chat.history() == ["First answer.", "alice: Something else", "Second answer.", "alice: Now"]


async def test_a_message_deleted_while_it_streams_stays_deleted_and_the_reply_is_kept(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.chunk_delay = 0.01
    chat.venice.reply_text = LONG
    talking = asyncio.create_task(chat.say(where, "Talk to me"))
    await until(lambda: streaming_message(chat, where) is not None)
    message = streaming_message(chat, where)
    assert message is not None
    chat.discord.delete_message(message)  # a moderator removes it mid-reply
    await talking
    assert chat.replies_in(where) == [] and message["id"] not in chat.discord.world.messages
    await chat.say(where, "Hm?")
    assert chat.history()[:2] == ["alice: Talk to me", LONG]  # the reply itself is in the story
    assert len(chat.replies_in(where)) == 1  # only the new answer was posted


async def test_regenerating_a_reply_whose_first_message_was_deleted_posts_it_again(chat: ChatWorld) -> None:
    where = chat.place()
    await chat.setting(where, "reply_tokens", 2000)
    chat.venice.reply_text = "\n\n".join(["First part. " * 150, "Second part. " * 100])
    await chat.say(where, "A long one please")
    first, last = chat.replies_in(where)
    chat.discord.delete_message(first)
    chat.venice.reply_text = "\n\n".join(["New first part. " * 120, "New second part. " * 80])
    await chat.click(where, last, button(last, "regen"))
    replies = chat.replies_in(where)
    texts = [text_of(m) for m in replies]
    # Posted again in reading order: the old second message could not stay above a new first one.
    assert len(texts) == 2 and texts[0].startswith("New first part.") and texts[1].startswith("New second part.")
    assert last["id"] not in chat.discord.world.messages and button(replies[1], "regen")
    stored = await chat.bot.services.chat.conversations.by_discord_id(int(replies[0]["id"]))  # type: ignore[union-attr]
    assert stored is not None and stored.discord_ids == [int(m["id"]) for m in replies]


async def test_a_quota_hit_on_chat_removes_the_echo_and_says_the_limit_privately(chat: ChatWorld) -> None:
    where = chat.place()
    await chat.setting(where, "daily_messages", 1)
    first = await chat.slash(where, "chat", {"message": "One drink, please"})
    assert first.requests and chat.venice.count("/chat/completions") == 1
    second = await chat.slash(where, "chat", {"message": "Another one"})
    assert any("for today" in text for text in chat.ephemeral_texts(second))
    assert any(r.method == "DELETE" and r.path.endswith("/messages/@original") for r in second.requests)
    assert chat.venice.count("/chat/completions") == 1
