"""A reply read aloud: parts synthesised with bounded concurrency, joined in order, failures whole."""

from __future__ import annotations

import asyncio
import io

import av
import pytest

from bot.audio import speak
from tests.fakes.venice_media import CHARS_PER_SECOND, synthesize

REPLY = " ".join(f"Line {i} of what she whispers to you." for i in range(12))


class Voice:
    """A stand-in TTS call: real audio, a record of what it was asked, and how many ran at once."""

    def __init__(self, *, fail_on: int | None = None) -> None:
        self.asked: list[str] = []
        self.running = 0
        self.most = 0
        self.fail_on = fail_on

    async def __call__(self, text: str) -> bytes:
        self.asked.append(text)
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(0.01 * (len(self.asked) % 3))  # parts finish out of order
            if self.fail_on is not None and len(self.asked) == self.fail_on:
                raise RuntimeError("Venice said no")
            return synthesize(text, "mp3", voice="af_sky")
        finally:
            self.running -= 1


async def test_parts_are_spoken_in_order_as_one_clip() -> None:
    voice = Voice()
    clip = await speak(REPLY, voice, part_chars=100, response_format="mp3")
    assert clip is not None
    assert " ".join(voice.asked) == REPLY and len(voice.asked) > 3
    expected = sum(max(0.3, len(t) / CHARS_PER_SECOND) for t in voice.asked) + 0.25 * (len(voice.asked) - 1)
    assert clip.duration_secs == pytest.approx(expected, abs=0.2)
    with av.open(io.BytesIO(clip.data)) as source:
        assert source.streams.audio[0].codec_context.name == "opus"


async def test_no_more_than_the_allowed_parts_are_synthesised_at_once() -> None:
    voice = Voice()
    await speak(REPLY, voice, part_chars=60, concurrency=2)
    assert voice.most == 2


async def test_a_failed_part_fails_the_clip_and_stops_the_rest() -> None:
    voice = Voice(fail_on=2)
    with pytest.raises(RuntimeError, match="Venice said no"):
        await speak(REPLY, voice, part_chars=60, concurrency=1)
    assert len(voice.asked) == 2  # the parts after it were never requested


async def test_only_dialogue_is_spoken_when_asked() -> None:
    voice = Voice()
    await speak('*She laughs.* "Come here." *She waits.*', voice, mode="dialogue")
    assert voice.asked == ["“Come here.”"]


async def test_a_reply_with_nothing_to_say_makes_no_call() -> None:
    voice = Voice()
    assert await speak("((OOC: be right back)) 🙏", voice) is None
    assert voice.asked == []
