"""The real VeniceClient's speech, transcription and edit calls against the local fake Venice.

The fake validates every request against Venice's swagger.yaml (multipart forms included); the
`fake` fixture fails any test whose requests Venice would have rejected.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import aiohttp
import av
import pytest
from PIL import Image

from bot.audio import encode_voice_clip, preferred_tts_format, speak
from bot.venice import (
    BadRequestError,
    ContentPolicyError,
    ModelUnavailableError,
    RateLimitError,
    ServerError,
    Timeouts,
    VeniceClient,
    VeniceTimeout,
)
from tests.fakes.openapi_validate import VENICE_SWAGGER
from tests.fakes.venice import FakeVenice, Fault
from tests.fakes.venice_data import make_image
from tests.fakes.venice_media import CHARS_PER_SECOND, parse_form, synthesize

pytestmark = pytest.mark.skipif(not VENICE_SWAGGER.exists(), reason=f"{VENICE_SWAGGER} missing (../shared)")

KEY = "vk-media-SECRET-0b7d4f9a2c1e"
FAST = Timeouts(connect=5, catalogue=5, chat=5, stream_read=5, image=15, upscale=15, audio=30)
LINE = "Come closer, love. I have a secret for you."


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def fake() -> AsyncIterator[FakeVenice]:
    async with FakeVenice(api_key=KEY) as server:
        yield server
        assert server.violations == []


@pytest.fixture
async def client(fake: FakeVenice) -> AsyncIterator[VeniceClient]:
    async with VeniceClient(KEY, fake.base_url, timeouts=FAST, sleep=Sleeps(), max_retries=2) as c:
        yield c


def _seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data)) as source:
        stream = source.streams.audio[0]
        return sum(f.samples for f in source.decode(stream)) / stream.codec_context.sample_rate


# -- speech ---------------------------------------------------------------------------------------


async def test_speech_returns_audio_as_long_as_the_text(client: VeniceClient, fake: FakeVenice) -> None:
    result = await client.speech(LINE, voice="af_bella", response_format="mp3")
    assert result.content_type == "audio/mpeg"
    assert _seconds(result.audio) == pytest.approx(len(LINE) / CHARS_PER_SECOND, abs=0.15)
    sent = fake.requests_to("/audio/speech")[0].json
    assert sent == {"input": LINE, "model": "tts-kokoro", "voice": "af_bella", "response_format": "mp3"}


async def test_speech_cost_is_the_listed_price_per_character(client: VeniceClient) -> None:
    result = await client.speech(LINE)
    assert result.cost is not None and result.cost.usd == pytest.approx(3.5 * len(LINE) / 1_000_000)


async def test_speech_without_a_format_uses_the_model_default(client: VeniceClient, fake: FakeVenice) -> None:
    result = await client.speech(LINE, speed=1.5)
    assert "response_format" not in fake.requests_to("/audio/speech")[0].json
    assert result.content_type == "audio/mpeg"


async def test_speech_over_4096_characters_is_never_sent(client: VeniceClient, fake: FakeVenice) -> None:
    with pytest.raises(ValueError, match="4096"):
        await client.speech("a" * 4097)
    assert fake.count("/audio/speech") == 0


async def test_speech_retries_a_rate_limit_then_succeeds(client: VeniceClient, fake: FakeVenice) -> None:
    fake.inject("/audio/speech", Fault.rate_limited(retry_after=1))
    result = await client.speech(LINE)
    assert result.audio and fake.count("/audio/speech") == 2


async def test_speech_rate_limited_past_the_retries_says_when_to_try(client: VeniceClient, fake: FakeVenice) -> None:
    fake.inject("/audio/speech", Fault.rate_limited(retry_after=2, times=5))
    with pytest.raises(RateLimitError) as err:
        await client.speech(LINE)
    assert "2 seconds" in err.value.user_message


async def test_speech_server_errors_surface_after_retries(client: VeniceClient, fake: FakeVenice) -> None:
    fake.inject("/audio/speech", Fault.http(500, times=5))
    with pytest.raises(ServerError):
        await client.speech(LINE)
    assert fake.count("/audio/speech") == 3


async def test_speech_that_hangs_times_out(fake: FakeVenice) -> None:
    fake.inject("/audio/speech", Fault.hang(10))
    async with VeniceClient(KEY, fake.base_url, timeouts=Timeouts(audio=0.5), max_retries=0) as impatient:
        with pytest.raises(VeniceTimeout):
            await impatient.speech(LINE)


async def test_speech_refused_by_policy_is_not_retried(client: VeniceClient, fake: FakeVenice) -> None:
    fake.inject("/audio/speech", Fault.http(422))
    with pytest.raises(ContentPolicyError):
        await client.speech(LINE)
    assert fake.count("/audio/speech") == 1


async def test_speech_with_an_unknown_model_names_it(client: VeniceClient, fake: FakeVenice) -> None:
    fake.inject("/audio/speech", Fault.http(404))
    with pytest.raises(ModelUnavailableError) as err:
        await client.speech(LINE, model="tts-orpheus", voice="tara")
    assert "tts-orpheus" in err.value.user_message


async def test_voices_are_listed_per_tts_model(client: VeniceClient) -> None:
    voices = await client.tts_voices("tts-kokoro")
    assert "af_sky" in voices and "am_adam" in voices
    assert await client.tts_voices("no-such-model") == ()
    models = {m.id: m for m in await client.tts_models()}
    assert "opus" in models["tts-kokoro"].supported_formats
    assert models["tts-kokoro"].default_format == "mp3"


async def test_a_reply_becomes_one_voice_clip(client: VeniceClient, fake: FakeVenice) -> None:
    kokoro = next(m for m in await client.tts_models() if m.id == "tts-kokoro")
    fmt = preferred_tts_format(kokoro.supported_formats, kokoro.default_format)
    sentences = " ".join(f"Sentence {i} of a long reply, told softly." for i in range(30))

    async def synthesize_part(text: str) -> bytes:
        return (await client.speech(text, voice="af_sky", response_format=fmt)).audio

    clip = await speak(f"*She reads aloud.* {sentences} ((OOC: sorry, long one))", synthesize_part,
                       part_chars=1000, response_format=fmt)
    assert clip is not None
    sent = [r.json["input"] for r in fake.requests_to("/audio/speech")]
    assert len(sent) == 2 and all(len(s) <= 1000 for s in sent)
    assert "OOC" not in " ".join(sent) and "*" not in " ".join(sent)
    assert clip.duration_secs == pytest.approx(sum(len(s) for s in sent) / CHARS_PER_SECOND + 0.25, abs=0.3)


async def test_nothing_speakable_makes_no_call(client: VeniceClient, fake: FakeVenice) -> None:
    async def synthesize_part(text: str) -> bytes:
        return (await client.speech(text)).audio

    assert await speak("((OOC: brb))", synthesize_part) is None
    assert fake.count("/audio/speech") == 0


# -- transcription ----------------------------------------------------------------------------------


def _voice_message(text: str = LINE) -> bytes:
    return encode_voice_clip([synthesize(text, "wav")]).data


async def test_a_voice_message_is_sent_as_ogg_and_transcribed(client: VeniceClient, fake: FakeVenice) -> None:
    fake.media.transcripts.append("Tell me the secret.")
    ogg = _voice_message()
    result = await client.transcribe(ogg, language="en")
    assert result.text == "Tell me the secret."
    assert result.duration_secs == pytest.approx(len(LINE) / CHARS_PER_SECOND, abs=0.1)
    recorded = fake.requests_to("/audio/transcriptions")[0]
    form = parse_form(recorded.body, recorded.headers["Content-Type"])
    assert form is not None
    assert form["file"].value == ogg and form["file"].content_type == "audio/ogg"
    assert form["file"].filename == "voice-message.ogg"
    assert {k: form[k].value for k in ("model", "response_format", "language")} == {
        "model": b"openai/whisper-large-v3", "response_format": b"json", "language": b"en"}


async def test_transcription_cost_is_per_audio_second(client: VeniceClient) -> None:
    result = await client.transcribe(_voice_message())
    assert result.cost is not None and result.duration_secs is not None
    assert result.cost.usd == pytest.approx(0.0001 * result.duration_secs)


async def test_transcription_is_retried_with_a_fresh_form(client: VeniceClient, fake: FakeVenice) -> None:
    fake.inject("/audio/transcriptions", Fault.http(503))
    result = await client.transcribe(_voice_message())
    assert result.text.startswith("(voice message of")
    assert fake.count("/audio/transcriptions") == 2


async def test_audio_with_nothing_in_it_is_a_kind_bad_request(client: VeniceClient, fake: FakeVenice) -> None:
    fake.inject("/audio/transcriptions", Fault.http(422, {"error": "Audio file is empty"}))
    with pytest.raises(BadRequestError) as err:
        await client.transcribe(_voice_message())
    assert "couldn't hear any speech" in err.value.user_message


async def test_an_undecodable_file_is_refused_by_venice(client: VeniceClient) -> None:
    with pytest.raises(BadRequestError):
        await client.transcribe(b"OggS not really audio" * 20)


# -- image edit -------------------------------------------------------------------------------------


PICTURE = make_image(7, "a portrait", 512, 512, "png")


async def test_an_edit_returns_the_new_picture_and_its_price(client: VeniceClient, fake: FakeVenice) -> None:
    model = await client.edit_model()
    assert model is not None and model.id == "qwen-edit-uncensored"  # uncensored and private
    result = await client.edit_image(PICTURE, "make her hair red", model=model.id, output_format="webp")
    assert (result.content_type, result.width, result.height) == ("image/webp", 512, 512)
    assert result.data != PICTURE and not result.blurred
    assert result.cost is not None and result.cost.usd == pytest.approx(0.04)
    sent = fake.requests_to("/image/edit")[0].json
    assert sent["safe_mode"] is False and sent["model"] == "qwen-edit-uncensored"


async def test_a_flagged_edit_is_never_returned(client: VeniceClient, fake: FakeVenice) -> None:
    fake.inject("/image/edit", Fault.of("contains_minor"))
    with pytest.raises(ContentPolicyError) as err:
        await client.edit_image(PICTURE, "change the background", model="qwen-edit-uncensored")
    assert err.value.rule == "x-venice-contains-minor"


async def test_an_edit_refused_by_policy_is_not_retried(client: VeniceClient, fake: FakeVenice) -> None:
    fake.inject("/image/edit", Fault.http(422))
    with pytest.raises(ContentPolicyError):
        await client.edit_image(PICTURE, "change the background", model="qwen-edit-uncensored")
    assert fake.count("/image/edit") == 1


async def test_a_picture_venice_would_refuse_is_never_sent(client: VeniceClient, fake: FakeVenice) -> None:
    small = io.BytesIO()
    Image.new("RGB", (200, 200)).save(small, format="PNG")  # 40,000 px < 65,536
    with pytest.raises(ValueError, match="65,536"):
        await client.edit_image(small.getvalue(), "anything", model="qwen-edit-uncensored")
    assert fake.count("/image/edit") == 0


async def test_a_preferred_edit_model_is_used_while_online(client: VeniceClient, fake: FakeVenice) -> None:
    assert (await client.edit_model("seedream-v4-edit")).id == "seedream-v4-edit"  # type: ignore[union-attr]
    fake.offline.add("seedream-v4-edit")
    client.clear_cache()
    assert (await client.edit_model("seedream-v4-edit")).id == "qwen-edit-uncensored"  # type: ignore[union-attr]


# -- vision -----------------------------------------------------------------------------------------


async def test_vision_capability_is_read_from_the_catalogue(client: VeniceClient) -> None:
    models = {m.id: m for m in await client.list_models("text")}
    assert models["venice-uncensored-1-2"].supports_vision is True
    assert models["llama-3.3-70b"].supports_vision is False
    seeing = await client.vision_models()
    assert seeing and all(m.supports_vision for m in seeing)
    assert "llama-3.3-70b" not in {m.id for m in seeing}


# -- the fake checks multipart forms against swagger too --------------------------------------------


async def test_the_fake_refuses_a_form_venice_would_refuse(fake: FakeVenice) -> None:
    form = aiohttp.FormData()
    form.add_field("file", _voice_message(), filename="voice-message.ogg", content_type="audio/ogg")
    form.add_field("model", "openai/whisper-large-v3")
    form.add_field("prompt", "not a transcription field")
    async with aiohttp.ClientSession() as session, session.post(
        fake.base_url + "/audio/transcriptions", data=form, headers={"Authorization": f"Bearer {KEY}"}
    ) as resp:
        assert resp.status == 400
    assert [v.path for v in fake.violations] == ["/audio/transcriptions"]
    assert "prompt" in " ".join(fake.violations[0].errors)
    fake.violations.clear()
