"""Characters that speak: 🔊 Listen, `/character voice` with ▶ Preview, "speak every reply" and a
person's own off switch — each a real Discord voice message through the fake Discord, which checks
it the way Discord does (flag 8192, one OGG/Opus attachment with `duration_secs` and a waveform,
no text, never from a webhook) and opens the audio with PyAV.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from sqlalchemy import select

from bot.characters.model import Character
from bot.store import characters as character_rows
from bot.store.models import Usage
from bot.ui.voice_message import IS_VOICE_MESSAGE
from tests import payloads as p
from tests.fakes.discord import SPEC_PATH
from tests.fakes.venice_faults import Fault
from tests.harness import invoke, invoke_together
from tests.integration.conftest_chat import ChatWorld, button, chat_fixture
from tests.places import PlaceSetup

pytestmark = pytest.mark.skipif(not SPEC_PATH.exists(), reason=f"Discord's OpenAPI file is not at {SPEC_PATH}")
__all__ = ["chat_fixture"]

LINE = "She raises her glass. \"To us, and to a long night.\""


def voice_posts(chat: ChatWorld, where: PlaceSetup) -> list[Any]:
    return [r for r in chat.discord.requests
            if r.method == "POST" and r.path == f"/channels/{where.channel_id}/messages"
            and isinstance(r.json, dict) and int(r.json.get("flags") or 0) & IS_VOICE_MESSAGE]


def speech_calls(chat: ChatWorld) -> list[Any]:
    return chat.venice.requests_to("/audio/speech", "POST")


async def usage_kinds(chat: ChatWorld) -> list[tuple[str, str, float]]:
    async with chat.bot.services.sessions() as session:  # type: ignore[union-attr]
        rows = (await session.execute(select(Usage.kind, Usage.state, Usage.cost_usd))).all()
    return [(r.kind, r.state, r.cost_usd) for r in rows]


async def reply_in(chat: ChatWorld, where: PlaceSetup, text: str = LINE, user: Any = None) -> dict[str, Any]:
    chat.venice.replies.append(text)
    await chat.say(where, "Pour me one too.", user=user)
    return chat.latest_with(where, "listen")


def check_voice_message(post: Any, reply_to: str | None) -> None:
    body = post.json
    assert body["flags"] == IS_VOICE_MESSAGE
    assert "content" not in body and "embeds" not in body and "components" not in body
    assert body["allowed_mentions"] == {"parse": []}
    [attachment] = body["attachments"]
    assert attachment["filename"] == "voice-message.ogg" and attachment["duration_secs"] > 0
    assert 0 < len(base64.b64decode(attachment["waveform"])) <= 256
    [(field, filename, data)] = post.files
    assert field == "files[0]" and filename == "voice-message.ogg" and data[:4] == b"OggS"
    if reply_to is None:
        assert "message_reference" not in body
    else:
        assert body["message_reference"]["message_id"] == reply_to


async def test_listen_sends_the_reply_as_a_voice_message(chat: ChatWorld) -> None:
    where = chat.place()
    reply = await reply_in(chat, where)
    handle = await chat.click(where, reply, button(reply, "listen"))
    [post] = voice_posts(chat, where)
    check_voice_message(post, reply["id"])
    [call] = speech_calls(chat)
    assert call.json["voice"] == "af_heart" and call.json["model"] == "tts-kokoro"
    assert "To us, and to a long night." in call.json["input"]
    assert any("Sent as a voice message" in t for t in chat.ephemeral_texts(handle))
    assert [k for k in await usage_kinds(chat) if k[0] == "tts"] == [("tts", "done", pytest.approx(
        len(call.json["input"]) * 3.5 / 1e6))]
    # Pressed again: the same clip, no second synthesis.
    await chat.click(where, reply, button(reply, "listen"))
    assert len(voice_posts(chat, where)) == 2 and len(speech_calls(chat)) == 1


async def test_listen_works_after_a_restart_and_is_refused_to_others(chat: ChatWorld) -> None:
    where = chat.place()
    reply = await reply_in(chat, where)
    await chat.restart()
    stranger = chat.user("mallory", where=where)
    handle = await chat.click(where, reply, button(reply, "listen"), user=stranger)
    assert speech_calls(chat) == [] and voice_posts(chat, where) == []
    assert chat.ephemeral_texts(handle), "the stranger is told why, privately"
    await chat.click(where, reply, button(reply, "listen"))
    assert len(voice_posts(chat, where)) == 1


async def test_voice_off_here_refuses_listen_without_venice(chat: ChatWorld) -> None:
    where = chat.place()
    reply = await reply_in(chat, where)
    await chat.setting(where, "voice", False)
    handle = await chat.click(where, reply, button(reply, "listen"))
    assert speech_calls(chat) == [] and voice_posts(chat, where) == []
    assert any("Voice is turned off here" in t for t in chat.ephemeral_texts(handle))


async def test_tts_failing_is_said_and_uses_nothing_up(chat: ChatWorld) -> None:
    where = chat.place()
    reply = await reply_in(chat, where)
    chat.venice.inject("/audio/speech", Fault.http(500, times=10))
    handle = await chat.click(where, reply, button(reply, "listen"))
    assert voice_posts(chat, where) == []
    assert chat.ephemeral_texts(handle)
    assert [k for k in await usage_kinds(chat) if k[0] == "tts"] == []


async def test_a_burst_of_listen_presses_keeps_to_the_daily_quota(chat: ChatWorld) -> None:
    where = chat.place()
    await chat.setting(where, "daily_voice", 2)
    replies = []
    for n in range(6):
        replies.append(await reply_in(chat, where, f"Line number {n}: she smiles at you."))
    payloads = [chat.discord.click_payload(where.user, where, r["id"], button(r, "listen")) for r in replies]
    for _ in range(2):  # two bursts: the second finds the quota used up
        await invoke_together(chat.bot, payloads, timeout=60)
    tts = [k for k in await usage_kinds(chat) if k[0] == "tts"]
    assert 1 <= len(tts) <= 2
    assert len(speech_calls(chat)) == len(tts) and len(voice_posts(chat, where)) >= len(tts)


async def test_character_voice_preview_and_listen_in_that_voice(chat: ChatWorld) -> None:
    where = chat.place()
    owner = chat.discord.world.user(where.user)
    character_id = await character_rows.create(
        chat.bot.services.sessions, Character(name="Aria", description="A confident adult woman of 30."),  # type: ignore[union-attr]
        owner_id=int(owner["id"]), guild_id=int(where.guild_id or 0), shared=False)
    typed = chat.discord.autocomplete_payload(where.user, where, "character voice", "voice", "am_")
    await invoke(chat.bot, typed)
    choices = await chat.discord.handle(typed).choices()
    assert choices and all(c["value"].startswith("am_") for c in choices)
    handle = await chat.slash(where, "character voice", {"character": f"custom:{character_id}", "voice": "am_onyx"})
    response = (await handle.response()).json
    assert response["data"]["flags"] & 64 and "am_onyx" in response["data"]["content"]
    [[preview]] = [[c["custom_id"] for c in row["components"]] for row in response["data"]["components"]]
    assert preview == f"voicepv:{character_id}"
    # ▶ Preview: a short real voice message in the channel, not a reply to anything.
    message = chat.discord.add_message(where.channel_id, "", components=response["data"]["components"])
    await chat.click(where, message, preview)
    [post] = voice_posts(chat, where)
    check_voice_message(post, None)
    assert speech_calls(chat)[-1].json["voice"] == "am_onyx"
    # A voice that model doesn't have is refused, and nothing is saved.
    bad = await chat.slash(where, "character voice", {"character": f"custom:{character_id}", "voice": "Vicky"})
    assert "isn't one of the voices" in (await bad.response()).json["data"]["content"]
    assert await character_rows.voice_of(chat.bot.services.sessions, character_id) == ("tts-kokoro", "am_onyx")  # type: ignore[union-attr]
    # The character now playing here speaks with its own voice.
    await chat.slash(where, "character set", {"character": f"custom:{character_id}"})
    reply = await reply_in(chat, where)
    await chat.click(where, reply, button(reply, "listen"))
    assert speech_calls(chat)[-1].json["voice"] == "am_onyx"


async def test_character_voice_is_for_its_owner(chat: ChatWorld) -> None:
    where = chat.place()
    stranger = chat.user("mallory", where=where)
    owner = chat.discord.world.user(where.user)
    character_id = await character_rows.create(
        chat.bot.services.sessions, Character(name="Aria", description="An adult."),  # type: ignore[union-attr]
        owner_id=int(owner["id"]), guild_id=int(where.guild_id or 0), shared=False)
    handle = await chat.slash(where, "character voice", {"character": f"custom:{character_id}", "voice": "am_onyx"},
                              user=stranger)
    assert "Only its creator" in (await handle.response()).json["data"]["content"]
    assert await character_rows.voice_of(chat.bot.services.sessions, character_id) is None  # type: ignore[union-attr]


async def test_speak_every_reply_and_the_personal_off_switch(chat: ChatWorld) -> None:
    where = chat.place()
    await chat.setting(where, "voice_auto", True)
    reply = await reply_in(chat, where)
    await chat.bot.get_cog("Chat").voice.drain()  # type: ignore[union-attr]
    [post] = voice_posts(chat, where)
    check_voice_message(post, reply["id"])
    # The person turns spoken replies off for themselves: their next reply stays text.
    handle = await chat.slash(where, "voice replies", {"state": "off"})
    assert "off for you" in (await handle.response()).json["data"]["content"]
    await reply_in(chat, where, "Another line, unspoken.")
    await chat.bot.get_cog("Chat").voice.drain()  # type: ignore[union-attr]
    assert len(voice_posts(chat, where)) == 1
    # Someone else in the channel still hears theirs.
    other = chat.user("bob", where=where)
    await reply_in(chat, where, "A line for Bob.", user=other)
    await chat.bot.get_cog("Chat").voice.drain()  # type: ignore[union-attr]
    assert len(voice_posts(chat, where)) == 2


async def test_speak_every_reply_failing_leaves_a_short_note(chat: ChatWorld) -> None:
    where = chat.place()
    await chat.setting(where, "voice_auto", True)
    chat.venice.inject("/audio/speech", Fault.http(500, times=10))
    reply = await reply_in(chat, where)
    await chat.bot.get_cog("Chat").voice.drain()  # type: ignore[union-attr]
    assert voice_posts(chat, where) == []
    notes = [m for m in chat.messages_in(where) if m["content"].startswith("-# 🔇 Not spoken")]
    assert len(notes) == 1 and notes[0]["message_reference"]["message_id"] == reply["id"]
    body = next(r.json for r in chat.discord.requests if isinstance(r.json, dict)
                and str(r.json.get("content", "")).startswith("-# 🔇"))
    assert body["allowed_mentions"]["parse"] == [] and json.dumps(body)
    assert p.BOT_ID  # the note comes from the bot account
