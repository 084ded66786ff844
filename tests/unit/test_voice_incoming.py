"""Voice messages people send are checked and bounded before Venice transcribes them."""

from __future__ import annotations

import pytest

from bot.audio import VoiceLimits, VoiceRefused, check_declared, encode_voice_clip, probe_audio
from tests.fakes.venice_media import synthesize

LIMITS = VoiceLimits(max_bytes=2 * 1024 * 1024, max_secs=10.0, min_secs=0.3)


def _voice_message(chars: int) -> bytes:
    """What a Discord client uploads: OGG/Opus, 48 kHz mono (~1 s of speech per 15 characters)."""
    return encode_voice_clip([synthesize("word " * (chars // 5), "wav")]).data


def test_a_discord_voice_message_is_measured() -> None:
    info = probe_audio(_voice_message(60), limits=LIMITS)
    assert (info.container, info.codec, info.sample_rate, info.channels) == ("ogg", "opus", 48_000, 1)
    assert info.duration_secs == pytest.approx(4.0, abs=0.1)


@pytest.mark.parametrize("fmt", ["mp3", "wav", "flac", "aac"])
def test_other_audio_uploads_are_measured_too(fmt: str) -> None:
    assert probe_audio(synthesize("a short hello there", fmt), limits=LIMITS).duration_secs > 1


def test_a_message_longer_than_the_limit_is_refused_while_decoding() -> None:
    with pytest.raises(VoiceRefused) as refused:
        probe_audio(_voice_message(300), limits=LIMITS)  # 20 s
    assert refused.value.reason == "too_long"
    assert "10 seconds" in refused.value.user_message


def test_bytes_over_the_limit_are_refused_before_decoding() -> None:
    with pytest.raises(VoiceRefused) as refused:
        probe_audio(b"\0" * (LIMITS.max_bytes + 1), limits=LIMITS)
    assert refused.value.reason == "too_large"


def test_a_clip_too_short_to_hold_speech_is_refused() -> None:
    clip = encode_voice_clip([synthesize("x", "pcm")], formats=["pcm"])  # 0.3 s of which little is sound
    with pytest.raises(VoiceRefused) as refused:
        probe_audio(clip.data, limits=VoiceLimits(min_secs=1.0))
    assert refused.value.reason == "too_short"


def test_something_that_is_not_audio_is_unreadable() -> None:
    with pytest.raises(VoiceRefused) as refused:
        probe_audio(b"OggS" + b"\x00garbage" * 100, limits=LIMITS)
    assert refused.value.reason == "unreadable"


@pytest.mark.parametrize(
    ("size", "content_type", "duration", "reason"),
    [
        (5_000, "image/png", 3.0, "not_audio"),
        (LIMITS.max_bytes + 1, "audio/ogg", 3.0, "too_large"),
        (5_000, "audio/ogg", 11.0, "too_long"),
    ],
)
def test_metadata_alone_refuses_the_obvious(size: int, content_type: str, duration: float, reason: str) -> None:
    with pytest.raises(VoiceRefused) as refused:
        check_declared(size=size, content_type=content_type, duration_secs=duration, limits=LIMITS)
    assert refused.value.reason == reason


@pytest.mark.parametrize("content_type", ["audio/ogg", "audio/ogg; codecs=opus", "application/ogg", None])
def test_metadata_of_an_ordinary_voice_message_passes(content_type: str | None) -> None:
    check_declared(size=40_000, content_type=content_type, duration_secs=4.2, limits=LIMITS)
