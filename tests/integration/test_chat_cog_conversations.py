"""Several conversations per channel: /conversation list, resume, export and delete."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from bot.store.models import Message, MessageLink
from tests.integration.conftest_chat import MODERATOR, ChatWorld, button, chat_fixture
from tests.places import PlaceSetup

__all__ = ["chat_fixture"]


async def two_conversations(chat: ChatWorld) -> tuple[PlaceSetup, int, int]:
    """A channel with an archived conversation (one exchange) and the current one (another)."""
    where = chat.place()
    chat.venice.replies.extend(["Old answer.", "New answer."])
    await chat.say(where, "Old question")
    await chat.slash(where, "reset")
    await chat.say(where, "New question")
    rows = await chat.bot.services.chat.conversations.list_for_channel(int(where.channel_id or 0))  # type: ignore[union-attr]
    (current, _), (archived, _) = rows
    return where, archived.id, current.id


def files_of(response: Any) -> dict[str, bytes]:
    return {name: data for _, name, data in response.files}


async def test_list_shows_every_conversation_of_the_channel(chat: ChatWorld) -> None:
    where, archived, current = await two_conversations(chat)
    handle = await chat.slash(where, "conversation list")
    data = (await handle.response()).json["data"]
    assert data["flags"] & 64
    lines = data["embeds"][0]["description"].splitlines()
    # Titled by their date: a title never carries anyone's words (privacy).
    assert f"`#{current}`" in lines[0] and "**Conversation of " in lines[0] and "▶️" in lines[0]
    assert f"`#{archived}`" in lines[1] and "**Conversation of " in lines[1]
    assert "question" not in data["embeds"][0]["description"]
    choices = await _autocomplete(chat, where, f"#{archived} ")
    assert [c["value"] for c in choices] == [archived]


async def _autocomplete(chat: ChatWorld, where: PlaceSetup, typed: str) -> list[dict[str, Any]]:
    from tests.harness import invoke

    payload = chat.discord.autocomplete_payload(where.user, where, "conversation resume", "conversation", typed)
    await invoke(chat.bot, payload)
    return await chat.discord.handle(payload).choices()


async def test_resume_switches_back_and_the_story_continues_there(chat: ChatWorld) -> None:
    where, archived, _ = await two_conversations(chat)
    handle = await chat.slash(where, "conversation resume", {"conversation": archived})
    assert f"Resumed `#{archived}`" in (handle.original or {})["content"]
    await chat.say(where, "Where were we?")
    assert chat.history() == ["alice: Old question", "Old answer.", "alice: Where were we?"]


async def test_export_gives_readable_text_and_sillytavern_jsonl(chat: ChatWorld) -> None:
    where, archived, current = await two_conversations(chat)
    reply = chat.latest_with(where, "regen")
    chat.venice.replies.append("Newer answer.")
    await chat.click(where, reply, button(reply, "regen"))
    handle = await chat.slash(where, "conversation export")
    assert (await handle.response()).json["data"]["flags"] & 64  # deferred: the summary is checked first
    [response] = await handle.followups()
    assert response.json["flags"] & 64
    files = files_of(response)
    text = files[f"conversation-{current}.txt"].decode()
    assert "alice:\nNew question" in text and "Scarlett:\nNewer answer." in text and "Old question" not in text
    lines = [json.loads(line) for line in files[f"conversation-{current}.jsonl"].decode().splitlines()]
    header, *messages = lines
    assert header["character_name"] == "Scarlett" and header["user_name"] == "alice"
    greeting, question, answer = messages
    assert greeting["is_user"] is False and greeting["mes"].startswith("*Scarlett looks up")
    assert question == {"name": "alice", "is_user": True, "is_system": False, "mes": "New question",
                        "send_date": question["send_date"]}
    assert answer["mes"] == "Newer answer." and answer["swipes"] == ["New answer.", "Newer answer."]
    assert answer["swipe_id"] == 1

    older = await chat.slash(where, "conversation export", {"conversation": archived})
    assert "Old question" in files_of((await older.followups())[0])[f"conversation-{archived}.txt"].decode()


async def test_delete_removes_a_conversation_for_good(chat: ChatWorld) -> None:
    where, archived, current = await two_conversations(chat)
    stranger = chat.user("mallory", where=where)
    refused = await chat.slash(where, "conversation delete", {"conversation": archived}, user=stranger)
    assert "Only the person who started" in chat.ephemeral_texts(refused)[0]
    await chat.slash(where, "conversation delete", {"conversation": archived}, user=stranger, permissions=MODERATOR)
    rows = await chat.bot.services.chat.conversations.list_for_channel(int(where.channel_id or 0))  # type: ignore[union-attr]
    assert [c.id for c, _ in rows] == [current]
    async with chat.bot.services.sessions() as session:  # type: ignore[union-attr]
        left = await session.scalar(
            select(func.count()).select_from(Message).where(Message.conversation_id == archived))
        links = await session.scalar(select(func.count()).select_from(MessageLink))
    assert left == 0 and links is not None and links >= 1  # the current conversation's links remain


async def test_a_conversation_of_another_channel_is_not_found(chat: ChatWorld) -> None:
    _, archived, _ = await two_conversations(chat)
    elsewhere = chat.place()
    handle = await chat.slash(elsewhere, "conversation resume", {"conversation": archived})
    assert chat.ephemeral_texts(handle) == ["There is no conversation with that number in this channel."]


async def test_choosing_another_character_starts_a_fresh_story(chat: ChatWorld) -> None:
    import asyncio

    where = chat.place()
    chat.venice.replies.extend(["First answer.", "Second answer."])
    await chat.say(where, "Old question")
    venice_character = next(c for c in chat.venice.characters if c["adult"])
    await chat.slash(where, "character set", {"character": f"venice:{venice_character['slug']}"})
    conversations = chat.bot.services.chat.conversations  # type: ignore[union-attr]
    for _ in range(100):  # the new conversation is started by a listener, right after the command
        if len(await conversations.list_for_channel(int(where.channel_id or 0))) == 2:
            break
        await asyncio.sleep(0.02)
    rows = await conversations.list_for_channel(int(where.channel_id or 0))
    assert [c.character_name for c, _ in rows] == [venice_character["name"], "Scarlett"]
    await chat.say(where, "Who are you?")
    history = chat.history()
    assert not any("Old question" in line for line in history)
    assert venice_character["name"] in chat.last_prompt()[0]["content"]
