"""TTS output of any format becomes one OGG/Opus 48 kHz mono clip with Discord's voice metadata."""

from __future__ import annotations

import base64
import io

import av
import numpy as np
import pytest

from bot.audio import AudioDecodeError, encode_voice_clip, preferred_tts_format
from bot.audio.voice_clip import waveform
from tests.fakes.venice_media import CHARS_PER_SECOND, synthesize

SENTENCE = "She leans in and whispers something you can barely hear over the rain."


def _decoded(data: bytes) -> tuple[str, str, int, int, float]:
    with av.open(io.BytesIO(data)) as source:
        stream = source.streams.audio[0]
        samples = sum(frame.samples for frame in source.decode(stream))
        ctx = stream.codec_context
        return source.format.name, ctx.name, ctx.sample_rate, ctx.channels, samples / ctx.sample_rate


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_every_tts_format_becomes_ogg_opus_48k_mono(fmt: str) -> None:
    clip = encode_voice_clip([synthesize(SENTENCE, fmt)], formats=[fmt])
    container, codec, rate, channels, seconds = _decoded(clip.data)
    assert (container, codec, rate, channels) == ("ogg", "opus", 48_000, 1)
    assert clip.filename == "voice-message.ogg" and clip.content_type == "audio/ogg"
    assert seconds == pytest.approx(clip.duration_secs, abs=0.05)


def test_duration_follows_the_speech() -> None:
    clip = encode_voice_clip([synthesize(SENTENCE, "wav")])
    assert clip.duration_secs == pytest.approx(len(SENTENCE) / CHARS_PER_SECOND, abs=0.05)


def test_parts_are_joined_in_order_with_a_short_pause() -> None:
    one = synthesize("First part of the reply.", "mp3")
    two = synthesize("And the second, a little longer than the first.", "wav")
    first = encode_voice_clip([one]).duration_secs
    second = encode_voice_clip([two]).duration_secs
    joined = encode_voice_clip([one, two], gap_secs=0.25)
    assert joined.duration_secs == pytest.approx(first + second + 0.25, abs=0.01)
    assert _decoded(joined.data)[4] == pytest.approx(joined.duration_secs, abs=0.05)


def test_waveform_is_at_most_256_bytes_of_base64() -> None:
    clip = encode_voice_clip([synthesize(SENTENCE * 4, "opus")])
    samples = base64.b64decode(clip.waveform, validate=True)
    assert len(samples) == 256
    assert max(samples) == 255  # scaled to the loudest moment


def test_a_clip_shorter_than_256_windows_has_one_sample_per_10_ms() -> None:
    clip = encode_voice_clip([synthesize("Hi.", "wav")])  # 0.3 s
    assert len(base64.b64decode(clip.waveform)) == 30


def test_waveform_shows_pauses_as_quiet() -> None:
    loud, quiet = np.full(100, 8000.0), np.zeros(100)
    samples = base64.b64decode(waveform(np.concatenate([loud, quiet, loud]), samples=3))
    assert list(samples) == [255, 0, 255]


def test_silence_has_a_flat_waveform() -> None:
    assert base64.b64decode(waveform(np.zeros(1000))) == bytes(256)


def test_bytes_that_are_not_audio_are_refused() -> None:
    with pytest.raises(AudioDecodeError):
        encode_voice_clip([b"this is not audio at all" * 10])


def test_no_parts_is_a_caller_mistake() -> None:
    with pytest.raises(ValueError):
        encode_voice_clip([])


@pytest.mark.parametrize(
    ("supported", "default", "chosen"),
    [
        (["mp3", "opus", "wav"], "mp3", "opus"),
        (["wav", "mp3"], "wav", "mp3"),
        (["pcm"], "pcm", "pcm"),
        ([], "flac", "flac"),
        ([], None, None),
        ([], "ogg-vorbis", None),
    ],
)
def test_the_most_compact_supported_format_is_asked_for(
    supported: list[str], default: str | None, chosen: str | None
) -> None:
    assert preferred_tts_format(supported, default) == chosen
