"""Voice messages in: a voice message replying to a character is heard, screened and answered.

Through the production bot (every cog) on the fake Discord and the fake Venice (real OGG/Opus
audio, transcription validated against the swagger). The transcript is shown in small type under
the voice message only once it passed the screen, never pings, and goes into the turn as the
person's words; refusals (not audio, too long, nothing heard, Venice failing, voice off) say why
privately-ish (a short reply) and never reach the chat model.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.audio import encode_voice_clip
from bot.store.models import Usage
from tests import payloads as p
from tests.fakes.discord import SPEC_PATH
from tests.fakes.discord.server import TINY_PNG
from tests.fakes.venice_faults import Fault
from tests.fakes.venice_media import parse_form, synthesize
from tests.harness import dispatch_message
from tests.integration.conftest_chat import ChatWorld, chat_fixture, text_of
from tests.places import PlaceSetup

pytestmark = pytest.mark.skipif(not SPEC_PATH.exists(), reason=f"Discord's OpenAPI file is not at {SPEC_PATH}")
__all__ = ["chat_fixture"]

HEARD = "I brought you a glass of wine and a smile."


def voice_bytes(text: str = "I brought you a glass of wine") -> tuple[bytes, float, str]:
    clip = encode_voice_clip([synthesize(text, "mp3")])
    return clip.data, clip.duration_secs, clip.waveform


async def send_voice(chat: ChatWorld, where: PlaceSetup, reply_to: dict[str, Any] | None, *,
                     data: bytes | None = None, duration: float | None = None, filename: str = "voice-message.ogg",
                     content_type: str | None = None) -> dict[str, Any]:
    """A voice message (flag 8192, one OGG attachment with duration and waveform), as Discord sends it."""
    audio, measured, waveform = voice_bytes()
    data = audio if data is None else data
    att = chat.discord.world.add_attachment(where.channel_id, filename, data)
    att.update(duration_secs=measured if duration is None else duration, waveform=waveform)
    if content_type is not None:
        att["content_type"] = content_type
    author = chat.discord.world.user(where.user)
    msg = p.message_create(channel_id=where.channel_id, author=author, content="", guild_id=where.guild_id,
                           reply_to=reply_to, attachments=[att], flags=1 << 13)
    chat.discord.world.messages[msg["id"]] = msg
    await dispatch_message(chat.bot, msg, timeout=30)
    return msg


def bot_texts(chat: ChatWorld, where: PlaceSetup) -> list[str]:
    return [m["content"] for m in chat.messages_in(where) if m["author"]["id"] == p.BOT_ID and m["content"]]


def transcriptions(chat: ChatWorld) -> list[Any]:
    return chat.venice.requests_to("/audio/transcriptions", "POST")


async def first_reply(chat: ChatWorld, where: PlaceSetup) -> dict[str, Any]:
    await chat.say(where, "Hello there.")
    return chat.latest_with(where, "regen")


async def test_a_voice_message_is_heard_shown_small_and_answered(chat: ChatWorld) -> None:
    where = chat.place()
    reply = await first_reply(chat, where)
    chat.venice.media.transcripts.append(HEARD)
    chat.venice.replies.append("She takes the glass and laughs.")
    voice = await send_voice(chat, where, reply)

    [sent] = transcriptions(chat)
    form = parse_form(sent.body, sent.headers.get("Content-Type", "")) or {}
    uploaded = chat.discord.world.attachments[voice["attachments"][0]["id"]][1]
    assert form["file"].value == uploaded  # the voice message went to Venice unchanged
    # The transcript is what the character answered: it is the newest user message of the prompt.
    assert chat.history()[-1].endswith(HEARD)
    [shown] = [m for m in chat.messages_in(where) if m["content"].startswith("-# 🎙️")]
    assert shown["content"] == f"-# 🎙️ {HEARD}"
    assert shown["message_reference"]["message_id"] == voice["id"]
    body = next(r.json for r in chat.discord.requests if isinstance(r.json, dict)
                and str(r.json.get("content", "")).startswith("-# 🎙️"))
    assert body["allowed_mentions"]["parse"] == []
    assert "She takes the glass and laughs." in text_of(chat.latest_with(where, "regen"))
    async with chat.bot.services.sessions() as session:  # type: ignore[union-attr]
        from sqlalchemy import select
        kinds = (await session.execute(select(Usage.kind, Usage.state, Usage.cost_usd))).all()
    asr = [k for k in kinds if k.kind == "asr"]
    assert len(asr) == 1 and asr[0].state == "done" and asr[0].cost_usd > 0  # booked at Whisper's price


async def test_a_transcript_that_breaks_the_policy_is_never_shown_nor_answered(chat: ChatWorld) -> None:
    where = chat.place()
    reply = await first_reply(chat, where)
    asked = len(chat.prompts())
    chat.venice.media.transcripts.append("I'm 14 years old and I want sex with you")
    await send_voice(chat, where, reply)
    assert len(chat.prompts()) == asked  # never reached the chat model
    texts = bot_texts(chat, where)
    assert not any("🎙️" in t for t in texts), texts
    assert not any("14 years old" in t for t in texts)
    assert any("under 18" in t for t in texts), texts


@pytest.mark.parametrize("transcript", ["", "   ", "...", "♪ ♪"])
async def test_nothing_heard_is_said_plainly(chat: ChatWorld, transcript: str) -> None:
    where = chat.place()
    reply = await first_reply(chat, where)
    asked = len(chat.prompts())
    chat.venice.media.transcripts.append(transcript)
    await send_voice(chat, where, reply)
    assert len(chat.prompts()) == asked
    assert any("couldn't make out any words" in t for t in bot_texts(chat, where))


async def test_refusals_before_venice(chat: ChatWorld) -> None:
    where = chat.place()
    reply = await first_reply(chat, where)
    # Too long by its declared duration (no download, no Venice).
    await send_voice(chat, where, reply, duration=3600.0)
    # A picture pretending to be a voice message: refused when decoded, before Venice.
    png = TINY_PNG
    await send_voice(chat, where, reply, data=png)
    # Not audio by its declared type.
    await send_voice(chat, where, reply, content_type="application/pdf")
    # Oversize by its declared size.
    big = b"OggS" + b"\0" * (9 * 1024 * 1024)
    await send_voice(chat, where, reply, data=big)
    assert transcriptions(chat) == []
    texts = bot_texts(chat, where)
    assert any("too long to transcribe" in t for t in texts), texts
    assert any("couldn't be played back" in t for t in texts), texts
    assert any("isn't audio" in t for t in texts), texts
    assert any("too large to transcribe" in t for t in texts), texts


@pytest.mark.parametrize("fault", [Fault.http(500, times=10), Fault.of("garbage", times=10)],
                         ids=["500", "garbage"])
async def test_venice_failing_to_transcribe_uses_nothing_up(chat: ChatWorld, fault: Fault) -> None:
    where = chat.place()
    reply = await first_reply(chat, where)
    asked = len(chat.prompts())
    chat.venice.inject("/audio/transcriptions", fault)
    await send_voice(chat, where, reply)
    assert len(chat.prompts()) == asked
    assert bot_texts(chat, where)[-1]  # a short answer saying it failed
    async with chat.bot.services.sessions() as session:  # type: ignore[union-attr]
        from sqlalchemy import select
        kinds = (await session.execute(select(Usage.kind))).scalars().all()
    assert "asr" not in kinds  # the reservation was taken back


async def test_voice_off_in_a_channel_is_said_and_nothing_is_transcribed(chat: ChatWorld) -> None:
    where = chat.place()
    reply = await first_reply(chat, where)
    await chat.setting(where, "voice", False)
    await send_voice(chat, where, reply)
    assert transcriptions(chat) == []
    assert any("Voice is turned off here" in t for t in bot_texts(chat, where))


async def test_the_daily_voice_quota_holds(chat: ChatWorld) -> None:
    where = chat.place()
    reply = await first_reply(chat, where)
    await chat.setting(where, "daily_voice", 1)
    chat.venice.media.transcripts.extend([HEARD, HEARD])
    await send_voice(chat, where, reply)
    await send_voice(chat, where, reply)
    assert len(transcriptions(chat)) == 1
    assert any("voice messages for today" in t for t in bot_texts(chat, where))
