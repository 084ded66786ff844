"""Voice messages in the fake Discord: checked on upload the way Discord checks them.

A message with flag IS_VOICE_MESSAGE (1 << 13) must carry exactly one audio attachment and
nothing else (Discord: 50159 "Voice messages do not support additional content", 50160 "Voice
messages must have a single audio attachment", 50161 "Voice messages must have supporting
metadata"); it cannot be edited (50162); and webhooks may not set the flag at all (execute-webhook
accepts only SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS and IS_COMPONENTS_V2).

Beyond Discord's own checks, the fake opens the file with PyAV so a test learns when the bot
would post a voice message nobody can play: it must be OGG with an Opus stream, its declared
`duration_secs` must match the audio (within 0.5 s or 5 %), and the waveform must be base64 of at
most 256 bytes. A clip that is not 48 kHz mono is recorded as a violation (Discord plays it, but
its own clients record 48 kHz mono).
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import TYPE_CHECKING, Any

import av

from .common import INVALID_FORM_BODY, DiscordError, Incoming

if TYPE_CHECKING:
    from .server import FakeDiscord

__all__ = ["IS_VOICE_MESSAGE", "check_voice_message", "mark_voice_attachment", "refuse_voice_edit",
           "refuse_voice_flag"]  # fmt: skip

IS_VOICE_MESSAGE = 1 << 13
MAX_WAVEFORM_BYTES = 256


def _is_voice(body: dict[str, Any]) -> bool:
    return bool(int(body.get("flags") or 0) & IS_VOICE_MESSAGE)


def _refuse(fake: FakeDiscord, code: int, message: str) -> None:
    fake.violation(f"voice message refused ({code}): {message}")
    raise DiscordError(400, code, message)


def check_voice_message(fake: FakeDiscord, req: Incoming, body: dict[str, Any]) -> None:
    """Refuse a voice-message create that Discord (or a listener's client) would not accept."""
    if not _is_voice(body):
        return
    if body.get("content") or body.get("embeds") or body.get("components") or body.get("sticker_ids") \
            or body.get("poll"):
        _refuse(fake, 50159, "Voice messages do not support additional content.")
    attachments = body.get("attachments") or []
    if len(req.files) != 1 or len(attachments) != 1:
        _refuse(fake, 50160, "Voice messages must have a single audio attachment.")
    field_name, _, data = req.files[0]
    if field_name != f"files[{attachments[0].get('id')}]":
        _refuse(fake, 50160, "Voice messages must have a single audio attachment.")
    if not req.file_types.get(field_name, "").startswith("audio/"):
        _refuse(fake, 50160, "Voice messages must have a single audio attachment.")
    duration, waveform = attachments[0].get("duration_secs"), attachments[0].get("waveform")
    if not isinstance(duration, int | float) or isinstance(duration, bool) or duration <= 0 \
            or not isinstance(waveform, str):
        _refuse(fake, 50161, "Voice messages must have supporting metadata.")
    try:
        samples = base64.b64decode(waveform, validate=True)
    except (binascii.Error, ValueError):
        samples = b""
    if not 0 < len(samples) <= MAX_WAVEFORM_BYTES:
        _refuse(fake, 50161, "Voice messages must have supporting metadata.")
    _check_playable(fake, data, float(duration))


def _check_playable(fake: FakeDiscord, data: bytes, declared: float) -> None:
    try:
        with av.open(io.BytesIO(data), mode="r") as source:
            stream = source.streams.audio[0] if source.streams.audio else None
            if source.format.name != "ogg" or stream is None or stream.codec_context.name != "opus":
                _refuse(fake, 50160, "Voice messages must have a single audio attachment.")
                return
            samples = sum(frame.samples for frame in source.decode(stream))
            rate, channels = stream.codec_context.sample_rate, stream.codec_context.channels
    except av.FFmpegError:
        _refuse(fake, 50160, "Voice messages must have a single audio attachment.")
        return
    actual = samples / rate if rate else 0.0
    if abs(actual - declared) > max(0.5, 0.05 * actual):
        _refuse(fake, 50161, f"duration_secs {declared} does not match the audio ({actual:.2f} s).")
    if rate != 48_000 or channels != 1:
        fake.violation(f"voice message audio is {rate} Hz, {channels} channel(s); clients record 48 kHz mono")


def mark_voice_attachment(msg: dict[str, Any], body: dict[str, Any]) -> None:
    """Give the stored attachment the fields Discord returns on a voice message."""
    if not _is_voice(body) or not msg.get("attachments"):
        return
    sent = (body.get("attachments") or [{}])[0]
    msg["attachments"][0].update(content_type="audio/ogg", duration_secs=sent.get("duration_secs"),
                                 waveform=sent.get("waveform"))


def refuse_voice_flag(fake: FakeDiscord, body: dict[str, Any]) -> None:
    """Webhooks (and interaction follow-ups, which are webhooks) cannot send voice messages."""
    if _is_voice(body):
        fake.violation("webhook execution with the IS_VOICE_MESSAGE flag (webhooks cannot send voice messages)")
        raise DiscordError(400, INVALID_FORM_BODY, "Invalid Form Body (flags: webhooks cannot send voice messages)")


def refuse_voice_edit(msg: dict[str, Any]) -> None:
    """A voice message cannot be edited."""
    if int(msg.get("flags") or 0) & IS_VOICE_MESSAGE:
        raise DiscordError(400, 50162, "Voice messages cannot be edited.")
