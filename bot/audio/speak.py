"""A reply read aloud: speakable text → TTS parts (Venice) → one OGG/Opus voice clip.

The TTS call is passed in (`synthesize(text) -> audio bytes`) so this stays below the services
and knows nothing of Venice's client or Discord; the caller binds model, voice and speed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from bot.offload import run_cpu

from .speech_text import Mode, speakable, split_for_speech
from .voice_clip import VoiceClip, VoiceClipEncoder

__all__ = ["PART_CHARS", "Synthesize", "preferred_tts_format", "speak"]

Synthesize = Callable[[str], Awaitable[bytes]]
# Under Venice's 4,096-character input, and small enough that a long reply becomes a few parts
# synthesised two at a time while the first ones are already being transcoded.
PART_CHARS = 1500

# Smallest download first; every one of them decodes with PyAV. PCM last: it has no header.
_FORMAT_PREFERENCE = ("opus", "mp3", "aac", "flac", "wav", "pcm")


class _Skipped(Exception):
    """A part not requested because another part of the same clip had failed."""


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
    part_chars: int = PART_CHARS,
    concurrency: int = 2,
    response_format: str | None = None,
) -> VoiceClip | None:
    """`text` as one voice clip, or None when nothing in it is meant to be spoken.

    Parts are synthesised at most `concurrency` at a time (one user's long reply must not take
    every Venice slot); each is transcoded off the event loop as soon as it and the parts before
    it have arrived, so the transcode overlaps the synthesis of the rest. A failed part fails the
    whole clip (a voice message with a hole in it would be worse than none).
    """
    parts = split_for_speech(speakable(text, mode=mode), part_chars)
    if not parts:
        return None
    gate = asyncio.Semaphore(max(1, concurrency))
    failed = asyncio.Event()

    async def one(part: str) -> bytes:
        async with gate:
            if failed.is_set():  # another part failed: spend nothing more on this clip
                raise _Skipped
            try:
                return await synthesize(part)
            except BaseException:
                failed.set()
                raise

    tasks = [asyncio.ensure_future(one(part)) for part in parts]
    encoder = VoiceClipEncoder()
    try:
        for task in tasks:
            try:
                audio = await task
            except _Skipped:
                await asyncio.wait(tasks)  # then raise the part's own error, not the skip
                errors = [t.exception() for t in tasks]
                raise next(e for e in errors if e is not None and not isinstance(e, _Skipped)) from None
            await run_cpu(encoder.add, audio, response_format)
        return await run_cpu(encoder.finish)
    finally:
        for task in tasks:
            task.cancel()
        # Collect the cancelled (or failed) parts so none is left unobserved.
        await asyncio.gather(*tasks, return_exceptions=True)
