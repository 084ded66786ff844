"""`/audio/speech`, `/audio/transcriptions` and `/image/edit` of the fake Venice, with real media.

- Speech is real audio encoded with PyAV in the requested `response_format` (the model's
  `default_format` when none is asked for): a hum whose pitch depends on the voice, broken into
  one burst per word, lasting about one second per 15 characters divided by `speed` — so longer
  text gives longer audio, as from a real TTS model. `pcm` is raw 16-bit mono at 24 kHz.
- Transcription decodes the uploaded file with PyAV (an undecodable file gets 400, one without
  samples 422 as the swagger describes) and answers the next scripted `transcripts` entry, or
  "(voice message of N.N seconds)", with the measured `duration`.
- Edits decode the base64 picture, enforce Venice's pixel bounds, and return the picture with a
  band of colour that depends on the prompt, as PNG/JPEG/WebP binary; `safe_mode` (default true)
  blurs it and sets `x-venice-is-blurred`, and the image safety faults set their headers.

Faults work as on the other endpoints: `fake.inject("/audio/speech", Fault.rate_limited())`,
`Fault.http(422)` for a content-policy refusal, `Fault.hang()`, `Fault.http(500)`.
The `/models` catalogue's TTS entries gain `supported_formats`/`default_format` here (the static
catalogue leaves them out; the live API sends them).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.parser
import email.policy
import hashlib
import io
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import av
import numpy as np
from aiohttp import web
from PIL import Image, ImageDraw, ImageFilter, UnidentifiedImageError

from tests.fakes.venice_faults import FAULT_KEY
from tests.fakes.venice_images import FLAG_HEADERS

if TYPE_CHECKING:
    from tests.fakes.venice import FakeVenice

__all__ = ["FormPart", "MediaHandler", "form_fields", "parse_form", "synthesize"]

SPEECH_TYPES = {"mp3": "audio/mpeg", "opus": "audio/opus", "aac": "audio/aac", "flac": "audio/flac",
                "wav": "audio/wav", "pcm": "audio/pcm"}  # fmt: skip
# format -> (container, encoder, sample rate)
_ENCODERS = {"mp3": ("mp3", "libmp3lame", 24_000), "opus": ("ogg", "libopus", 48_000), "aac": ("adts", "aac", 24_000),
             "flac": ("flac", "flac", 24_000), "wav": ("wav", "pcm_s16le", 24_000)}  # fmt: skip
_ALL_FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"]
CHARS_PER_SECOND = 15.0
PCM_RATE = 24_000


@dataclass(frozen=True)
class FormPart:
    """One multipart field as the fake received it."""

    value: bytes
    filename: str | None
    content_type: str


def parse_form(raw: bytes, content_type: str) -> dict[str, FormPart] | None:
    """A multipart/form-data body as {field name: part}; None for any other body."""
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    parts: dict[str, FormPart] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            parts[name] = FormPart(payload if isinstance(payload, bytes) else b"", part.get_filename(),
                                   part.get_content_type())
    return parts


def form_fields(raw: bytes, content_type: str) -> dict[str, Any] | None:
    """The form as the JSON the OpenAPI schema describes: files as strings, booleans as booleans."""
    parts = parse_form(raw, content_type)
    if parts is None:
        return None
    fields: dict[str, Any] = {}
    for name, part in parts.items():
        if part.filename is not None:
            fields[name] = f"<file {part.filename} ({len(part.value)} bytes, {part.content_type})>"
            continue
        text = part.value.decode("utf-8", "replace")
        fields[name] = {"true": True, "false": False}.get(text, text)
    return fields


def _word_envelope(text: str, samples: int, rate: int) -> np.ndarray:
    """1 while a word is "spoken", 0 in the short pauses between words, smoothed at the edges."""
    words = text.split() or ["…"]
    weights = np.array([len(w) + 2 for w in words], dtype=np.float64)
    ends = np.round(np.cumsum(weights) / weights.sum() * samples).astype(int)
    envelope = np.zeros(samples, dtype=np.float32)
    start, pause = 0, int(0.06 * rate)
    for end in ends:
        envelope[start : max(start, end - pause)] = 1.0
        start = end
    ramp = max(1, int(0.01 * rate))
    return np.convolve(envelope, np.ones(ramp, dtype=np.float32) / ramp, mode="same")


def synthesize(text: str, fmt: str, *, voice: str = "", speed: float = 1.0) -> bytes:
    """Deterministic speech-like audio for `text` in `fmt` (one of `SPEECH_TYPES`)."""
    seconds = max(0.3, len(text) / CHARS_PER_SECOND / speed)
    rate = _ENCODERS[fmt][2] if fmt in _ENCODERS else PCM_RATE
    samples = int(seconds * rate)
    pitch = 110 + hashlib.sha256(voice.encode()).digest()[0]  # 110–365 Hz: a voice's own hum
    t = np.arange(samples, dtype=np.float64) / rate
    wave = np.sin(2 * np.pi * pitch * t) + 0.4 * np.sin(2 * np.pi * 2 * pitch * t)
    signal = (0.25 * 32767 * wave * _word_envelope(text, samples, rate)).astype(np.int16)
    if fmt == "pcm":
        return signal.tobytes()
    container_format, codec, _ = _ENCODERS[fmt]
    out = io.BytesIO()
    with av.open(out, mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        size = 1024
        for pts in range(0, samples, size):
            frame = av.AudioFrame.from_ndarray(signal[pts : pts + size].reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def _audio_seconds(data: bytes) -> float:
    """Seconds of audio in `data`; ValueError when PyAV cannot decode it."""
    try:
        with av.open(io.BytesIO(data), mode="r") as source:
            if not source.streams.audio:
                raise ValueError("no audio stream")
            samples, rate = 0, 0
            for frame in source.decode(source.streams.audio[0]):
                samples += frame.samples
                rate = frame.sample_rate
    except av.FFmpegError as exc:
        raise ValueError(str(exc)) from None
    return samples / rate if rate else 0.0


def _invalid(field: str, message: str, status: int = 400) -> web.Response:
    body = {"error": "Invalid request parameters", "details": {"_errors": [], field: {"_errors": [message]}},
            "issues": [{"path": [field], "message": message}]}  # fmt: skip
    return web.json_response(body, status=status)


def _not_found(model: str) -> web.Response:
    return web.json_response({"error": f"Model {model} not found", "code": "MODEL_NOT_FOUND"}, status=404)


class MediaHandler:
    """Speech, transcription and edit endpoints; `transcripts` scripts what the fake "hears"."""

    def __init__(self, fake: FakeVenice) -> None:
        self.fake = fake
        self.transcripts: deque[str] = deque()
        for model in fake.models:
            if model["type"] == "tts":
                spec = model["model_spec"]
                spec.setdefault("supported_formats", list(_ALL_FORMATS if model["id"] == "tts-kokoro"
                                                          else ["mp3", "wav", "pcm"]))
                spec.setdefault("default_format", "mp3")

    @property
    def routes(self) -> list[tuple[str, str, Any]]:
        """(method, path, handler) for the fake's router."""
        return [("POST", "/audio/speech", self.speech), ("POST", "/audio/transcriptions", self.transcribe),
                ("POST", "/image/edit", self.edit)]  # fmt: skip

    async def speech(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        model_id = body.get("model", "tts-kokoro")
        model = self.fake.model(model_id)
        if model is None or model["type"] != "tts":
            return _not_found(model_id)
        spec = model["model_spec"]
        voice = body.get("voice", "af_sky")
        if voice not in spec.get("voices", []) and not voice.startswith("vv_"):
            return _invalid("voice", f"Voice {voice} is not available for model {model_id}")
        fmt = body.get("response_format") or spec["default_format"]
        if fmt not in spec["supported_formats"]:
            return _invalid("response_format", f"Format {fmt} is not supported by {model_id}")
        text = body["input"]
        audio = await asyncio.to_thread(synthesize, text, fmt, voice=voice, speed=body.get("speed", 1.0))
        self.fake.balance_usd -= len(text) * spec.get("pricing", {}).get("input", {}).get("usd", 0) / 1e6
        return web.Response(body=audio, content_type=SPEECH_TYPES[fmt])

    async def transcribe(self, request: web.Request) -> web.Response:
        form = parse_form(await request.read(), request.headers.get("Content-Type", "")) or {}
        model_id = form["model"].value.decode() if "model" in form else "nvidia/parakeet-tdt-0.6b-v3"
        model = self.fake.model(model_id)
        if model is None or model["type"] != "asr":
            return _not_found(model_id)
        upload = form.get("file")
        if upload is None or upload.filename is None:
            return _invalid("file", "An audio file is required")
        try:
            seconds = await asyncio.to_thread(_audio_seconds, upload.value)
        except ValueError:
            return _invalid("file", "Invalid audio file")
        if seconds <= 0:
            return web.json_response({"error": "Audio file is empty"}, status=422)
        text = self.transcripts.popleft() if self.transcripts else f"(voice message of {seconds:.1f} seconds)"
        if "response_format" in form and form["response_format"].value == b"text":
            return web.Response(text=text, content_type="text/plain")
        return web.json_response({"text": text, "duration": round(seconds, 3)})

    async def edit(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        model_id = body.get("model") or body.get("modelId") or "firered-image-edit"
        model = self.fake.model(model_id)
        if model is None or model["type"] != "inpaint":
            return _not_found(model_id)
        image = body["image"]
        if image.startswith(("http://", "https://")):
            return _invalid("image", "The fake Venice does not fetch image URLs")
        try:
            data = base64.b64decode(image.partition(",")[2] if image.startswith("data:") else image, validate=True)
            with Image.open(io.BytesIO(data)) as src:
                picture = src.convert("RGB")
        except (binascii.Error, ValueError, UnidentifiedImageError):
            return _invalid("image", "Invalid image")
        pixels = picture.width * picture.height
        if not 65_536 <= pixels <= 33_177_600:
            return _invalid("image", "Image dimensions must be between 65536 and 33177600 pixels")
        fault = request.get(FAULT_KEY)
        flag = FLAG_HEADERS.get(fault.kind) if fault is not None else None
        blurred = body.get("safe_mode", True) is not False and flag is None
        headers = {"x-venice-is-blurred": str(blurred).lower(), "x-venice-is-content-violation": "false",
                   "x-venice-model-id": model_id}  # fmt: skip
        if flag is not None:
            headers[flag] = "true"
        fmt = body.get("output_format", "png")
        out = await asyncio.to_thread(_edited, picture, body["prompt"], fmt, blurred=blurred, black=flag is not None)
        self.fake.balance_usd -= model["model_spec"].get("pricing", {}).get("inpaint", {}).get("usd", 0)
        return web.Response(body=out, content_type=f"image/{fmt}", headers=headers)


def _edited(picture: Image.Image, prompt: str, fmt: str, *, blurred: bool, black: bool) -> bytes:
    """The picture with a band whose colour and place depend on the prompt (or black, if flagged)."""
    if black:
        picture = Image.new("RGB", picture.size, (0, 0, 0))
    else:
        digest = hashlib.sha256(prompt.encode()).digest()
        draw = ImageDraw.Draw(picture)
        top = digest[3] * picture.height // 512
        draw.rectangle((0, top, picture.width, top + picture.height // 4), fill=tuple(digest[:3]))
        if blurred:
            picture = picture.filter(ImageFilter.GaussianBlur(8))
    buf = io.BytesIO()
    picture.save(buf, format={"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[fmt])
    return buf.getvalue()
