"""The chat cog through the real command tree: streaming into Discord, and the ways to talk.

The production bot (every cog) runs on the local fake Discord and fake Venice; see
`conftest_chat.py`. Assertions read what the fakes recorded: the requests the bot sent to Discord
(in order, with the time each arrived) and the chat requests Venice received.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.ui.split import split_message
from tests import payloads as p
from tests.integration.conftest_chat import (
    MARKER,
    ChatWorld,
    TimedList,
    chat_fixture,
    custom_ids,
    text_of,
)

__all__ = ["chat_fixture"]

EXECUTE = r"/webhooks/\d+/whtoken-\d+"
EDIT = EXECUTE + r"/messages/\d+"


def _words(n: int) -> str:
    return " ".join(f"word{i}" for i in range(n))


async def test_a_streamed_reply_shows_at_once_then_edits_at_most_once_a_second(chat: ChatWorld) -> None:
    chat.set_edit_interval(1.0)  # the production pace
    where = chat.place()
    chat.discord.requests = TimedList()
    chat.venice.requests = TimedList()
    chat.venice.reply_text = _words(50)  # ~340 characters in 7-character pieces
    chat.venice.chat_delay = 0.4  # Venice thinks before the first token
    chat.venice.chunk_delay = 0.03  # then ~0.06 s a piece: about three seconds of streaming
    handle = await chat.slash(where, "chat", {"message": "Tell me everything"})

    requests, times = chat.discord.requests, chat.discord.requests.times
    [venice_at] = [t for r, t in zip(chat.venice.requests, chat.venice.requests.times, strict=True)
                   if r.path == "/chat/completions"]
    # 1. The acknowledgement: the interaction is answered first, with what was said.
    ack = requests[0]
    assert ack.path == f"/interactions/{handle.id}/{handle.token}/callback" and ack.json["type"] == 4
    assert ack.json["data"]["embeds"][0]["description"] == "Tell me everything"
    assert times[0] < venice_at
    # 2. The first text appears right after the first token, with the marker and the stop button.
    writes = [(r, t) for r, t in zip(requests, times, strict=True) if re.fullmatch(EXECUTE + "|" + EDIT, r.path)]
    (first, first_at), *edits = writes
    # While Venice thinks, the channel shows "typing…" (the character's first text ends it).
    typing = [t for r, t in zip(requests, times, strict=True) if r.path.endswith("/typing")]
    assert typing and times[0] <= typing[0] < first_at
    assert first.method == "POST" and first.json["content"].startswith("word0") and MARKER in first.json["content"]
    [stop] = ids_in(first.json)
    assert re.fullmatch(r"chat:stop:\d+", stop)
    assert chat.venice.chat_delay <= first_at - venice_at < chat.venice.chat_delay + 0.5
    # 3. Then at most one edit a second, each still marked as being written.
    *streaming, (final, _) = edits
    assert len(streaming) >= 2
    gaps = [b - a for (_, a), (_, b) in zip([(first, first_at), *streaming], streaming, strict=False)]
    assert all(gap >= 0.95 for gap in gaps), gaps
    assert all(MARKER in r.json["content"] for r, _ in streaming)
    # 4. The final edit removes the marker and adds the buttons, in one request.
    assert final.json["content"] == chat.venice.reply_text and MARKER not in final.json["content"]
    ids = ids_in(final.json)
    assert any(i.startswith("chat:regen:") for i in ids) and not any(i.startswith("chat:stop:") for i in ids)
    assert final.json["allowed_mentions"] == {"parse": []}


def ids_in(body: dict[str, Any]) -> list[str]:
    """The custom_ids of the buttons in a create or edit body."""
    return [c["custom_id"] for row in body.get("components") or [] for c in row["components"] if "custom_id" in c]


def _paragraphs(count: int, size: int) -> list[str]:
    """`count` paragraphs of sentences, each just under `size` characters."""
    sentence = "She leans closer and whispers a secret about the old lighthouse."
    out = []
    for i in range(count):
        text = f"Part {i}."
        while len(text) + len(sentence) + 1 <= size:
            text += " " + sentence
        out.append(text)
    return out


async def test_a_6000_character_reply_arrives_as_three_well_split_messages(chat: ChatWorld) -> None:
    where = chat.place()
    await chat.setting(where, "reply_tokens", 2000)  # room for a 6,000-character reply
    paragraphs = _paragraphs(6, 995)
    chat.venice.reply_text = "\n\n".join(paragraphs)
    assert 5800 <= len(chat.venice.reply_text) <= 6000
    await chat.slash(where, "chat", {"message": "Tell me a long story"})

    messages = chat.replies_in(where)
    assert len(messages) == 3
    texts = [text_of(m) for m in messages]
    assert all(len(t) <= 2000 for t in texts)
    # Each message ends at a paragraph boundary, and together they are the whole reply.
    assert all(t.endswith("lighthouse.") and t.startswith("Part ") for t in texts)
    assert "\n\n".join(texts) == chat.venice.reply_text
    assert texts == split_message(chat.venice.reply_text)
    assert [bool(custom_ids(m)) for m in messages] == [False, False, True]
    assert not any(MARKER in t for t in texts)
    # The stored reply knows all three messages (a reply to any of them continues the story).
    reply = await chat.bot.services.chat.conversations.by_discord_id(int(messages[1]["id"]))
    assert reply is not None and reply.content == chat.venice.reply_text
    assert reply.discord_ids == [int(m["id"]) for m in messages]


async def test_a_long_code_block_is_never_cut_inside_a_fence(chat: ChatWorld) -> None:
    where = chat.place()
    await chat.setting(where, "reply_tokens", 2000)
    code = "\n".join(f"print('line {i} of the spell')" for i in range(120))
    chat.venice.reply_text = f"Here is the incantation:\n\n```python\n{code}\n```\n\nRead it aloud."
    await chat.say(where, "Show me the spell as code")
    texts = [text_of(m) for m in chat.replies_in(where)]
    assert len(texts) >= 2
    for text in texts:
        fences = re.findall(r"^```", text, flags=re.MULTILINE)
        assert len(fences) % 2 == 0, text[-80:]  # every message's code blocks are closed
    assert texts[1].startswith("```python\n")  # the block reopens, with its language


async def test_mentions_in_the_users_text_or_the_models_output_never_ping(chat: ChatWorld) -> None:
    where = chat.place()
    victim = chat.user("victim", where=where)
    chat.venice.reply_text = f"@everyone and @here, look! <@{victim['id']}> <@&{where.guild_id}>"
    await chat.slash(where, "chat", {"message": "@everyone wake up"})
    await chat.say(where, f"@here <@{victim['id']}> hello")
    dm = chat.place("bot_dm")
    await chat.slash(dm, "chat", {"message": "@everyone in a DM"})

    bodies = chat.all_bodies()
    assert len(bodies) >= 6
    for body in bodies:
        data = body["data"] if "data" in body and "type" in body else body
        if "content" in data or "embeds" in data:
            assert data.get("allowed_mentions") == {"parse": []}, body
    executes = [r for r in chat.discord.requests if re.fullmatch(EXECUTE, r.path)]
    assert executes and all(r.json["allowed_mentions"] == {"parse": []} for r in executes)
    for message in chat.discord.world.messages.values():
        if message["author"]["id"] in (p.BOT_ID,) or message.get("webhook_id"):
            assert message["mention_everyone"] is False and message["mentions"] == []


@pytest.mark.parametrize("text", ["😀🔥💋", "**bold** _soft_ `code`\n> quoted\n```\nblock\n```", "<:wink:123456> hi"])
async def test_emoji_and_markdown_reach_the_model_as_written(chat: ChatWorld, text: str) -> None:
    where = chat.place()
    await chat.say(where, text)
    said = chat.history()[-1]
    expected = text.replace("<:wink:123456>", ":wink:")
    assert said.endswith(expected)
    assert chat.replies_in(where), "no reply"
