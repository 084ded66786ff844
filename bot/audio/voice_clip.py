"""Turn TTS output (any container Venice sends) into one Discord voice message: OGG/Opus, 48 kHz mono.

PyAV carries its own FFmpeg build (libopus included), so nothing is needed on the host. Several
parts (one per TTS request) are decoded in order, resampled to 48 kHz mono, joined with a short
pause and encoded once, so the result is a single Opus stream with continuous timestamps.

While encoding, the loudness of every 10 ms is kept; at the end it is folded into the waveform
Discord shows on a voice message: at most 256 one-byte samples (0–255), base64 encoded, scaled so
the loudest part of the clip reaches 255 (as Discord's clients draw it, quiet speech still shows
its shape).

Everything here is synchronous and CPU-bound: call it through `bot.offload.run_cpu`.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np
from av.audio.frame import AudioFrame

__all__ = [
    "SAMPLE_RATE",
    "AudioDecodeError",
    "VoiceClip",
    "VoiceClipEncoder",
    "encode_voice_clip",
    "waveform",
]

SAMPLE_RATE = 48_000
FILENAME = "voice-message.ogg"
CONTENT_TYPE = "audio/ogg"
WAVEFORM_SAMPLES = 256
_WINDOW = SAMPLE_RATE // 100  # 10 ms of loudness per envelope value
_CHUNK = SAMPLE_RATE  # samples handed to the encoder at once (it cuts them into 20 ms Opus frames)
# Raw PCM from Venice has no header; OpenAI-compatible TTS sends 16-bit little-endian mono at 24 kHz.
_PCM_RATE = 24_000
_TIME_BASE = Fraction(1, SAMPLE_RATE)


class AudioDecodeError(ValueError):
    """The bytes are not audio PyAV can decode (or hold no audio stream)."""


@dataclass(frozen=True, slots=True)
class VoiceClip:
    """An OGG/Opus clip ready to send as a Discord voice message."""

    data: bytes = field(repr=False)
    duration_secs: float
    waveform: str
    filename: str = FILENAME
    content_type: str = CONTENT_TYPE

    @property
    def size(self) -> int:
        """Bytes of the OGG file."""
        return len(self.data)


class VoiceClipEncoder:
    """Builds one OGG/Opus clip from parts given one at a time, in order (not thread-safe).

    Feeding parts as their TTS audio arrives lets the transcode of the first part overlap the
    synthesis of the next ones; `finish()` closes the stream and returns the clip.
    """

    def __init__(self, *, bitrate: int = 32_000, gap_secs: float = 0.25) -> None:
        self._out = io.BytesIO()
        self._container = av.open(self._out, mode="w", format="ogg")
        # "voip" tunes Opus for intelligible speech at low bitrates; complexity 5 of 10 encodes
        # about a third faster than the default 10 with no audible loss for speech at 32 kb/s.
        self._stream = self._container.add_stream(
            "libopus", rate=SAMPLE_RATE, layout="mono", options={"application": "voip", "compression_level": "5"}
        )
        self._stream.bit_rate = bitrate
        self._gap = np.zeros(round(gap_secs * SAMPLE_RATE), dtype=np.int16)
        self._envelope = _Envelope()
        self._pending: list[np.ndarray] = []
        self._pending_size = 0
        self._written = 0
        self._parts = 0

    def add(self, data: bytes, fmt: str | None = None) -> None:
        """Decode one part and encode it after the previous ones (with a short pause between).

        `fmt` is the part's TTS `response_format` where known; only `pcm` needs it (raw samples
        have no header), every other container is recognised from its bytes.
        """
        if self._parts and self._gap.size:
            self._feed(self._gap)
        self._parts += 1
        for samples in _decode_mono(data, fmt):
            self._feed(samples)

    def finish(self) -> VoiceClip:
        """Flush the encoder and return the clip; AudioDecodeError when nothing was heard."""
        try:
            self._flush(np.concatenate(self._pending) if self._pending else np.zeros(0, dtype=np.int16))
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()
        if self._written == 0:
            raise AudioDecodeError("the audio holds no samples")
        loudness = self._envelope.loudness()
        return VoiceClip(self._out.getvalue(), round(self._written / SAMPLE_RATE, 3), waveform(loudness))

    def close(self) -> None:
        """Drop the clip (after a failed part); safe to call after `finish()`."""
        self._container.close()

    def _feed(self, samples: np.ndarray) -> None:
        # Decoders hand over 20–60 ms at a time; encoding a second at once saves per-call overhead.
        self._envelope.add(samples)
        self._pending.append(samples)
        self._pending_size += samples.size
        if self._pending_size >= _CHUNK:
            joined = np.concatenate(self._pending)
            whole = joined.size - joined.size % _CHUNK
            self._flush(joined[:whole])
            self._pending = [joined[whole:]]
            self._pending_size = joined.size - whole

    def _flush(self, samples: np.ndarray) -> None:
        for start in range(0, samples.size, _CHUNK):
            chunk = samples[start : start + _CHUNK]
            frame = AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            frame.pts = self._written
            frame.time_base = _TIME_BASE
            self._written += chunk.size
            for packet in self._stream.encode(frame):
                self._container.mux(packet)


def encode_voice_clip(
    parts: Sequence[bytes],
    *,
    formats: Sequence[str | None] | None = None,
    bitrate: int = 32_000,
    gap_secs: float = 0.25,
) -> VoiceClip:
    """Decode each part, join them with `gap_secs` of silence, encode one OGG/Opus clip."""
    if not parts:
        raise ValueError("no audio to encode")
    formats = list(formats) if formats is not None else [None] * len(parts)
    if len(formats) != len(parts):
        raise ValueError("one format per part")
    encoder = VoiceClipEncoder(bitrate=bitrate, gap_secs=gap_secs)
    try:
        for data, fmt in zip(parts, formats, strict=True):
            encoder.add(data, fmt)
        return encoder.finish()
    finally:
        encoder.close()


def _decode_mono(data: bytes, fmt: str | None) -> Iterator[np.ndarray]:
    """The audio in `data` as 16-bit mono 48 kHz sample arrays."""
    options: dict[str, str] = {}
    container_format = None
    if fmt == "pcm":
        container_format = "s16le"
        options = {"sample_rate": str(_PCM_RATE), "ch_layout": "mono"}
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    try:
        with av.open(io.BytesIO(data), mode="r", format=container_format, options=options) as source:
            if not source.streams.audio:
                raise AudioDecodeError("no audio stream")
            for frame in source.decode(source.streams.audio[0]):
                for converted in resampler.resample(frame):
                    yield converted.to_ndarray().reshape(-1)
        for converted in resampler.resample(None):
            yield converted.to_ndarray().reshape(-1)
    except av.FFmpegError as exc:
        raise AudioDecodeError(f"audio could not be decoded ({type(exc).__name__})") from None


class _Envelope:
    """Root-mean-square loudness of each 10 ms of the clip, fed in arrays of any length."""

    def __init__(self) -> None:
        self._values: list[np.ndarray] = []
        self._rest = np.zeros(0, dtype=np.float32)

    def add(self, samples: np.ndarray) -> None:
        values = np.concatenate([self._rest, samples.astype(np.float32)])
        whole = values.size - values.size % _WINDOW
        if whole:
            windows = values[:whole].reshape(-1, _WINDOW)
            self._values.append(np.sqrt(np.mean(windows * windows, axis=1)))
        self._rest = values[whole:]

    def loudness(self) -> np.ndarray:
        """Every window's loudness, the last (shorter) one included."""
        tail = [np.sqrt(np.mean(self._rest * self._rest, keepdims=True))] if self._rest.size else []
        return np.concatenate(self._values + tail) if self._values or tail else np.zeros(0)


def waveform(loudness: np.ndarray, samples: int = WAVEFORM_SAMPLES) -> str:
    """Base64 of at most `samples` bytes: the loudness envelope averaged into buckets, 0–255."""
    if loudness.size == 0:
        return base64.b64encode(b"\x00").decode("ascii")
    count = min(samples, loudness.size)
    edges = np.linspace(0, loudness.size, count + 1).astype(int)
    # count <= size, so the edges are strictly increasing and no bucket is empty.
    buckets = np.add.reduceat(loudness, edges[:-1]) / np.diff(edges)
    peak = float(buckets.max())
    scaled = np.zeros(count) if peak <= 0 else np.round(buckets / peak * 255)
    return base64.b64encode(scaled.astype(np.uint8).tobytes()).decode("ascii")
