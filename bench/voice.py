"""A reply read aloud: time from its last token to its voice message sent, and bytes per second.

    .venv/bin/python -m bench.voice [--repeat 5]

For replies of about 200, 1,000 and 4,000 characters, the real pipeline runs against the local
fakes in this process: `bot.audio.speak` (speakable text, split under Venice's 4,096-character
input, the real `VeniceClient.speech` against FakeVenice, PyAV transcode to OGG/Opus 48 kHz mono
off the event loop) and `bot.ui.voice_message.send_voice_message` through discord.py's own HTTP
client to FakeDiscord (which opens the upload with PyAV to check it).

Replies are cut into parts of at most 1,500 characters, synthesised two at a time; each part is
transcoded as soon as it and the ones before it have arrived, so transcoding overlaps synthesis.
Columns (ms): "TTS" is last token → last part's audio received; FakeVenice's audio for each text
is made once in a warm-up run and then served from memory, so this is the HTTP round trip and the
bot's request handling only — Venice's own synthesis time (model- and load-dependent, not
measurable here) comes on top, partly hidden by the overlap; "+encode" is what the transcode
adds after the last part arrived (decode, resample, Opus encode, waveform); "upload" is the raw
multipart send, including FakeDiscord's own PyAV check of the file; "total" is last token →
voice message accepted. Fakes and bot share this process's CPU.
Bytes per second is the OGG/Opus file size over its duration (32 kb/s target, voip tuning).
Run for the two TTS formats the bot meets: `opus` (what it asks Kokoro for) and `mp3` (the
default of most TTS models).

Needs ../shared (both fakes validate against the APIs' OpenAPI descriptions).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import discord

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.audio import speak
from bot.ui.voice_message import send_voice_message
from bot.venice import VeniceClient
from tests.fakes import venice_media
from tests.fakes.discord import FakeDiscord
from tests.fakes.venice import FakeVenice

KEY = "bench-venice-key"
TOKEN = "bench-discord-token"
SIZES = (200, 1000, 4000)
FORMATS = ("opus", "mp3")

_SENTENCES = (
    "*She tilts her head, a slow smile spreading across her lips.*",
    "\"You really came back, didn't you?\"",
    "The rain taps softly against the tavern window while the fire crackles low.",
    "**Careful,** she murmurs, tracing a finger along the rim of her glass.",
    "\"I've been waiting all evening, and I'm not a patient woman.\"",
    "She leans closer, her voice dropping to a whisper only you can hear.",
)


def reply_of(length: int) -> str:
    """A roleplay reply of about `length` characters, with the marks the speech text strips."""
    out: list[str] = []
    i = 0
    while sum(len(s) + 1 for s in out) < length:
        out.append(_SENTENCES[i % len(_SENTENCES)])
        i += 1
    return " ".join(out)[:length]


@dataclass
class Timing:
    tts: float  # last token → the last TTS part has arrived
    transcode: float  # → the clip is ready (what the transcode adds after the last part)
    upload: float
    total: float
    parts: int
    seconds: float
    size: int


async def one(venice: VeniceClient, http: discord.http.HTTPClient, channel_id: int, text: str, fmt: str) -> Timing:
    start = time.perf_counter()  # the reply's last token has arrived: `text` is complete
    heard: list[float] = []

    async def synthesize(part: str) -> bytes:
        audio = (await venice.speech(part, voice="af_sky", response_format=fmt)).audio
        heard.append(time.perf_counter())
        return audio

    clip = await speak(text, synthesize, response_format=fmt)
    assert clip is not None
    encoded = time.perf_counter()
    await send_voice_message(http, channel_id, clip)
    done = time.perf_counter()
    return Timing(max(heard) - start, encoded - max(heard), done - encoded, done - start, len(heard),
                  clip.duration_secs, clip.size)


def _row(cells: list[str]) -> str:
    return " | ".join(c.rjust(w) for c, w in zip(cells, (6, 6, 5, 7, 9, 6, 6, 7, 9, 6), strict=True))


async def main(repeat: int) -> None:
    logging.basicConfig(level=logging.ERROR)
    # The fake's audio is made once per text (in the warm-up run) so that its encoding does not
    # compete with the bot's transcode for this process's CPU in the measured runs.
    venice_media.synthesize = functools.cache(venice_media.synthesize)  # type: ignore[assignment]
    async with FakeVenice(api_key=KEY) as venice_fake, FakeDiscord() as discord_fake:
        discord.http.Route.BASE = discord_fake.api_base
        guild = discord_fake.add_guild()
        channel = discord_fake.add_channel(guild["id"], "text", nsfw=True)
        client = discord.Client(intents=discord.Intents.none())
        await client.login(TOKEN)
        try:
            async with VeniceClient(KEY, venice_fake.base_url) as venice:
                await venice.tts_models()  # warm the catalogue cache, as a running bot has it
                print("last token → voice message sent (ms, median of", repeat, "runs)")
                print(_row(["chars", "format", "parts", "TTS", "+encode", "upload", "total", "audio s", "bytes",
                            "B/s"]))
                print("-" * 92)
                for fmt in FORMATS:
                    for size in SIZES:
                        text = reply_of(size)
                        await one(venice, client.http, int(channel["id"]), text, fmt)  # warm-up
                        runs = [await one(venice, client.http, int(channel["id"]), text, fmt) for _ in range(repeat)]
                        med = {k: statistics.median(getattr(r, k) for r in runs)
                               for k in ("tts", "transcode", "upload", "total")}
                        last = runs[-1]
                        print(_row([f"{len(text):,}", fmt, str(last.parts), f"{med['tts'] * 1000:.0f}",
                                    f"{med['transcode'] * 1000:.0f}", f"{med['upload'] * 1000:.0f}",
                                    f"{med['total'] * 1000:.0f}", f"{last.seconds:.1f}", f"{last.size:,}",
                                    f"{last.size / last.seconds:,.0f}"]))
            if venice_fake.violations or discord_fake.violations:
                print("violations:", venice_fake.violations, discord_fake.violations)
        finally:
            await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    asyncio.run(main(parser.parse_args().repeat))
