"""A reply read aloud: speakable text → TTS parts (Venice) → one OGG/Opus voice clip.

The TTS call is passed in (`synthesize(text) -> audio bytes`) so this stays below the services
and knows nothing of Venice's client or Discord; the caller binds model, voice and speed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from bot.offload import run_cpu

from .speech_text import TTS_INPUT_LIMIT, Mode, speakable, split_for_speech
from .voice_clip import VoiceClip, encode_voice_clip

__all__ = ["Synthesize", "preferred_tts_format", "speak"]

Synthesize = Callable[[str], Awaitable[bytes]]

# Smallest download first; every one of them decodes with PyAV. PCM last: it has no header.
_FORMAT_PREFERENCE = ("opus", "mp3", "aac", "flac", "wav", "pcm")


def preferred_tts_format(supported: Sequence[str], default: str | None = None) -> str | None:
    """The `response_format` to ask for: the most compact one the model lists, else its default.

    None means "send no `response_format`" (the model's own default), which is always accepted.
    """
    for fmt in _FORMAT_PREFERENCE:
        if fmt in supported:
            return fmt
    return default if default in _FORMAT_PREFERENCE else None


async def speak(
    text: str,
    synthesize: Synthesize,
    *,
    mode: Mode = "all",
    part_chars: int = TTS_INPUT_LIMIT,
    concurrency: int = 2,
    response_format: str | None = None,
) -> VoiceClip | None:
    """`text` as one voice clip, or None when nothing in it is meant to be spoken.

    Parts are synthesised at most `concurrency` at a time (one user's long reply must not take
    every Venice slot) and joined in order; the transcode runs off the event loop.
    """
    parts = split_for_speech(speakable(text, mode=mode), part_chars)
    if not parts:
        return None
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(part: str) -> bytes:
        async with gate:
            return await synthesize(part)

    audio = await asyncio.gather(*(one(part) for part in parts))
    return await run_cpu(encode_voice_clip, audio, formats=[response_format] * len(audio))
