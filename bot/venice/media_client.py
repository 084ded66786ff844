"""The media half of `VeniceClient`: text to speech, transcription, image edit, voices, vision models.

A mixin so `client.py` stays about chat, images and the catalogue; `VeniceClient` inherits it and
provides the transport, timeouts and the cached `/models` listing it relies on. Errors come from
the same mapping as every other call (429/5xx/timeouts retried with back-off; 422 is content
policy), with one exception: a 422 from transcription means "no audio in it", not a policy
refusal (swagger: "Validation error (e.g., zero-length audio)").
"""

from __future__ import annotations

from .errors import BadRequestError, ContentPolicyError, MalformedResponse
from .media import (
    DEFAULT_ASR_MODEL,
    DEFAULT_TTS_MODEL,
    SpeechResult,
    Transcription,
    asr_cost,
    edit_body,
    edit_cost,
    parse_transcription,
    pick_edit_model,
    speech_body,
    transcription_form,
    tts_cost,
    vision_models,
)
from .payloads import check_image_flags, decode_image
from .transport import OnWait, Timeouts, Transport
from .types import ImageResult, ModelInfo

__all__ = ["MediaMixin"]

_AUDIO_TYPES = ("audio/", "application/octet-stream")


class MediaMixin:
    """Media endpoints; mixed into `VeniceClient`, which sets these two and lists the models."""

    _http: Transport
    timeouts: Timeouts

    async def list_models(self, type: str = "text") -> list[ModelInfo]:  # pragma: no cover - VeniceClient's
        raise NotImplementedError

    async def _model_or_none(self, model_id: str, type: str) -> ModelInfo | None:
        return next((m for m in await self.list_models(type) if m.id == model_id), None)

    # -- catalogue -----------------------------------------------------------------------------

    async def tts_models(self) -> list[ModelInfo]:
        """`GET /models?type=tts` (cached): each entry's `voices` lists what `speech` accepts."""
        return await self.list_models("tts")

    async def tts_voices(self, model: str = DEFAULT_TTS_MODEL) -> tuple[str, ...]:
        """The voices of one TTS model (`model_spec.voices`); empty when the model is not listed."""
        info = await self._model_or_none(model, "tts")
        return info.voices if info is not None else ()

    async def vision_models(self) -> list[ModelInfo]:
        """Online text models with `supportsVision`, uncensored first."""
        return vision_models(await self.list_models("text"))

    async def edit_model(self, preferred: str | None = None) -> ModelInfo | None:
        """The `/image/edit` model to use (`/models?type=inpaint`): `preferred`, else uncensored."""
        return pick_edit_model(await self.list_models("inpaint"), preferred)

    # -- audio -----------------------------------------------------------------------------------

    async def speech(
        self,
        text: str,
        *,
        model: str = DEFAULT_TTS_MODEL,
        voice: str | None = None,
        response_format: str | None = None,
        speed: float | None = None,
        language: str | None = None,
        on_wait: OnWait | None = None,
    ) -> SpeechResult:
        """`POST /audio/speech` for at most 4,096 characters; the audio in `response_format`.

        The cost is the model's listed price per character (Venice's answer carries none).
        """
        body = speech_body(
            text, model=model, voice=voice, response_format=response_format, speed=speed, language=language
        )
        reply = await self._http.fetch(
            "POST",
            "/audio/speech",
            json=body,
            model=model,
            accept="audio/*",
            client_timeout=self.timeouts.total(self.timeouts.audio),
            on_wait=on_wait,
        )
        content_type = (reply.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if not reply.body or not content_type.startswith(_AUDIO_TYPES):
            got = content_type or "nothing"
            raise MalformedResponse(f"speech: expected audio, got {got} ({len(reply.body)} bytes)")
        info = await self._model_or_none(model, "tts")
        return SpeechResult(
            reply.body, content_type, response_format, model, voice, len(text), tts_cost(info, len(text))
        )

    async def transcribe(
        self,
        audio: bytes,
        *,
        model: str = DEFAULT_ASR_MODEL,
        filename: str = "voice-message.ogg",
        content_type: str = "audio/ogg",
        language: str | None = None,
        duration_secs: float | None = None,
        on_wait: OnWait | None = None,
    ) -> Transcription:
        """`POST /audio/transcriptions` (multipart; OGG/Opus voice messages go as they are).

        `duration_secs` (as measured before sending) prices the call when Venice's answer has no
        `duration`.
        """
        form = transcription_form(audio, model=model, filename=filename, content_type=content_type, language=language)
        try:
            reply = await self._http.fetch(
                "POST",
                "/audio/transcriptions",
                form=form,
                model=model,
                client_timeout=self.timeouts.total(self.timeouts.audio),
                on_wait=on_wait,
            )
        except ContentPolicyError as err:
            if err.status != 422:
                raise
            raise BadRequestError(
                str(err),
                user_message="Venice couldn't hear any speech in that voice message — try recording it again.",
                status=422,
                code=err.code,
                cf_ray=err.cf_ray,
            ) from None
        result = parse_transcription(reply.body, reply.headers.get("Content-Type") or "", model=model)
        seconds = result.duration_secs if result.duration_secs is not None else duration_secs
        info = await self._model_or_none(model, "asr")
        return Transcription(result.text, result.duration_secs, model, asr_cost(info, seconds))

    # -- image edit ------------------------------------------------------------------------------

    async def edit_image(
        self,
        image: bytes,
        prompt: str,
        *,
        model: str,
        aspect_ratio: str | None = None,
        output_format: str = "png",
        safe_mode: bool = False,
        on_wait: OnWait | None = None,
    ) -> ImageResult:
        """`POST /image/edit` with the picture as base64; the edited picture, flags checked.

        A flagged result (content violation, possible minor) raises ContentPolicyError and is never
        returned; a 422 is Venice refusing the prompt or picture under its policy.
        """
        info = await self._model_or_none(model, "inpaint")
        body = edit_body(
            image,
            prompt,
            model=model,
            aspect_ratio=aspect_ratio,
            output_format=output_format,
            safe_mode=safe_mode,
            prompt_limit=info.prompt_char_limit if info is not None else None,
        )
        reply = await self._http.fetch(
            "POST",
            "/image/edit",
            json=body,
            model=model,
            accept="image/*",
            client_timeout=self.timeouts.total(self.timeouts.image),
            on_wait=on_wait,
        )
        blurred = check_image_flags(reply.headers)
        content_type, width, height = decode_image(reply.body, "edit")
        return ImageResult(reply.body, content_type, None, width, height, model, None, blurred, edit_cost(info))
