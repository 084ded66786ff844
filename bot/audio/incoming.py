"""Voice messages people send: checked and bounded before they go to Venice for transcription.

A Discord voice message is OGG/Opus; Venice's `/audio/transcriptions` accepts OGG as it is, so
the bytes are sent unchanged. Before that, two checks, cheapest first:

1. `check_declared` — from the attachment's declared size, content type and duration, without
   downloading anything: refuse what is obviously too large or not audio.
2. `probe_audio` — on the downloaded bytes: decode them all (Opus decodes at hundreds of times
   real time) to learn the true duration, stopping as soon as the limit is passed, so a file that
   lies about its length costs no more than the limit.

Both raise `VoiceRefused` with a `reason` code (for logs and audits) and wording for the user.
`probe_audio` is synchronous and CPU-bound: call it through `bot.offload.run_cpu`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av

__all__ = ["AudioInfo", "VoiceLimits", "VoiceRefused", "check_declared", "probe_audio"]

_AUDIO_TYPES = ("audio/",)
_ALSO_ACCEPTED = {"application/ogg", "video/ogg", "video/webm", "video/mp4"}


@dataclass(frozen=True, slots=True)
class VoiceLimits:
    """Bounds on a voice message before it is transcribed.

    Venice accepts files under 25 MB; a minute of Discord voice message is about 0.2–0.5 MB, so
    the defaults (5 minutes, 8 MiB) refuse nothing a person records and bound what one user can
    make the bot pay for (transcription is billed per audio second).
    """

    max_bytes: int = 8 * 1024 * 1024
    max_secs: float = 300.0
    min_secs: float = 0.3


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """What decoding a voice message found."""

    duration_secs: float
    codec: str
    container: str
    sample_rate: int
    channels: int


class VoiceRefused(ValueError):
    """A voice message the bot will not transcribe; `user_message` says why, kindly."""

    def __init__(self, reason: str, user_message: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.user_message = user_message


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} minutes" if seconds >= 60 else f"{seconds:g} seconds"


def check_declared(
    *, size: int, content_type: str | None, duration_secs: float | None, limits: VoiceLimits = VoiceLimits()
) -> None:
    """Refuse from the attachment's metadata alone (no download): size, type, declared length."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind and not kind.startswith(_AUDIO_TYPES) and kind not in _ALSO_ACCEPTED:
        raise VoiceRefused("not_audio", "That attachment isn't audio, so there was nothing to listen to.")
    if size > limits.max_bytes:
        raise VoiceRefused(
            "too_large", f"That voice message is too large to transcribe — keep it under {_minutes(limits.max_secs)}."
        )
    if duration_secs is not None and duration_secs > limits.max_secs:
        raise VoiceRefused(
            "too_long", f"That voice message is too long to transcribe — keep it under {_minutes(limits.max_secs)}."
        )


def probe_audio(data: bytes, *, limits: VoiceLimits = VoiceLimits()) -> AudioInfo:
    """Decode `data` to check it is audio and measure it; refuse past the limits."""
    if len(data) > limits.max_bytes:
        raise VoiceRefused(
            "too_large", f"That voice message is too large to transcribe — keep it under {_minutes(limits.max_secs)}."
        )
    unreadable = VoiceRefused("unreadable", "That voice message couldn't be played back — try recording it again.")
    try:
        with av.open(io.BytesIO(data), mode="r") as source:
            if not source.streams.audio:
                raise unreadable
            stream = source.streams.audio[0]
            rate = stream.codec_context.sample_rate or 0
            channels = stream.codec_context.channels or 0
            samples = 0
            for frame in source.decode(stream):
                samples += frame.samples
                rate = frame.sample_rate or rate
                if rate and samples / rate > limits.max_secs:
                    raise VoiceRefused(
                        "too_long",
                        f"That voice message is too long to transcribe — keep it under {_minutes(limits.max_secs)}.",
                    )
            info = AudioInfo(
                duration_secs=round(samples / rate, 3) if rate else 0.0,
                codec=stream.codec_context.name,
                container=source.format.name,
                sample_rate=rate,
                channels=channels,
            )
    except av.FFmpegError:
        raise unreadable from None
    if info.duration_secs < limits.min_secs:
        raise VoiceRefused("too_short", "That voice message is too short to hear anything — try again.")
    return info
