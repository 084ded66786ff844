"""The real VeniceClient against the local fake Venice (127.0.0.1), success paths and faults.

Every request the client sends is validated against Venice's swagger.yaml by the fake; the `fake`
fixture fails any test whose requests Venice would have rejected.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.venice import (
    AuthError,
    BadRequestError,
    BalanceError,
    ContentPolicyError,
    MalformedResponse,
    ModelUnavailableError,
    NotFoundError,
    RateLimitError,
    ServerError,
    StreamDelta,
    StreamEnd,
    StreamError,
    Timeouts,
    VeniceClient,
    VeniceError,
    VeniceTimeout,
)
from tests.fakes.openapi_validate import VENICE_SWAGGER
from tests.fakes.venice import FakeVenice, Fault

pytestmark = pytest.mark.skipif(not VENICE_SWAGGER.exists(), reason=f"{VENICE_SWAGGER} missing (../shared)")

KEY = "vk-live-SECRET-4f9a2c1e0b7d"
TEXT = "venice-uncensored-1-2"
IMAGE = "lustify-sdxl"
CHAT_PATH = "/chat/completions"
USER = [{"role": "system", "content": "You are Aria, an adult bartender."}, {"role": "user", "content": "Hi there"}]
FAST = Timeouts(connect=2, catalogue=2, chat=2, stream_read=2, image=5, upscale=5)


class Sleeps:
    """Records back-off waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def fake() -> AsyncIterator[FakeVenice]:
    async with FakeVenice(api_key=KEY) as server:
        yield server
        # Every request the client sent in this test must be one Venice accepts.
        assert server.violations == []


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(fake: FakeVenice, sleeps: Sleeps, clock: Clock) -> AsyncIterator[VeniceClient]:
    venice = VeniceClient(KEY, fake.base_url, sleep=sleeps, clock=clock, timeouts=FAST, rng=random.Random(7))
    yield venice
    await venice.close()


def assert_no_key(err: BaseException, caplog: pytest.LogCaptureFixture | None = None) -> None:
    for text in (str(err), repr(err), getattr(err, "user_message", "")):
        assert KEY not in text
    if caplog is not None:
        assert KEY not in caplog.text


async def collect(
    stream: AsyncIterator[StreamDelta | StreamEnd],
) -> tuple[list[str], StreamEnd | None, Exception | None]:
    deltas: list[str] = []
    end: StreamEnd | None = None
    try:
        async for event in stream:
            if isinstance(event, StreamDelta):
                deltas.append(event.text)
            else:
                end = event
    except VeniceError as exc:
        return deltas, end, exc
    return deltas, end, None


# -- catalogue ---------------------------------------------------------------------------------


async def test_list_models_reads_the_catalogue_with_auth(client: VeniceClient, fake: FakeVenice) -> None:
    text = {m.id: m for m in await client.list_models("text")}
    image = {m.id: m for m in await client.list_models("image")}
    assert text[TEXT].context_tokens == 128000 and text[TEXT].uncensored
    lustify = image[IMAGE]
    assert (lustify.prompt_char_limit, lustify.steps_default, lustify.steps_max, lustify.width_height_divisor) == (
        1500,
        20,
        50,
        8,
    )
    sent = fake.requests_to("/models")
    assert [r.query for r in sent] == [[("type", "text")], [("type", "image")]]
    assert all(r.headers["Authorization"] == f"Bearer {KEY}" for r in sent)


async def test_models_are_cached_until_the_ttl_passes(client: VeniceClient, fake: FakeVenice, clock: Clock) -> None:
    await client.list_models("text")
    await client.list_models("text")
    assert await client.get_model(TEXT) is not None
    assert fake.count("/models") == 1
    clock.now += 301
    await client.list_models("text")
    assert fake.count("/models") == 2


async def test_a_tiny_context_override_reaches_the_client(client: VeniceClient, fake: FakeVenice) -> None:
    fake.context_tokens[TEXT] = 2048
    fake.offline.add("llama-3.3-70b")
    model = await client.get_model(TEXT)
    assert model is not None and model.context_tokens == 2048
    offline = await client.get_model("llama-3.3-70b")
    assert offline is not None and offline.offline
    assert await client.get_model("no-such-model") is None


async def test_image_styles_are_cached_and_a_bare_list_is_accepted(fake: FakeVenice, sleeps: Sleeps) -> None:
    async with VeniceClient(KEY, fake.base_url, sleep=sleeps) as venice:
        styles = await venice.image_styles()
        assert "Cinematic" in styles
        await venice.image_styles()
        assert fake.count("/image/styles") == 1
    fake.inject("/image/styles", Fault.http(200, ["Anime", "Gothic"]))
    async with VeniceClient(KEY, fake.base_url, sleep=sleeps) as venice:
        assert await venice.image_styles() == ["Anime", "Gothic"]


async def test_characters_page_filter_and_cache(client: VeniceClient, fake: FakeVenice) -> None:
    first = await client.list_characters(limit=20)
    second = await client.list_characters(limit=20, offset=20)
    third = await client.list_characters(limit=20, offset=40)
    assert len(first) == 20 and 0 < len(second) < 20 and third == []  # a short page is the last
    assert all(c.adult for c in first + second)
    assert {c.slug for c in first}.isdisjoint({c.slug for c in second})
    assert all(not c.adult for c in await client.list_characters(adult=False))
    found = await client.list_characters(search="vampire", tags=["romance", "fantasy"], sort_by="highestRating")
    assert found and all("vampire" in c.name.lower() for c in found)
    before = fake.count("/characters")
    await client.list_characters(limit=20)
    assert fake.count("/characters") == before
    assert ("isAdult", "true") in fake.requests_to("/characters")[0].query


async def test_get_character_and_unknown_slug(client: VeniceClient, fake: FakeVenice) -> None:
    slug = (await client.list_characters(limit=1))[0].slug
    character = await client.get_character(slug)
    assert character.slug == slug and character.adult and character.share_url
    with pytest.raises(NotFoundError) as caught:
        await client.get_character("nobody-here")
    assert "could not be found" in caught.value.user_message
    assert fake.count("/characters/nobody-here") == 1


# -- chat ----------------------------------------------------------------------------------------


async def test_chat_returns_text_usage_cost_and_sends_only_known_fields(client: VeniceClient, fake: FakeVenice) -> None:
    result = await client.chat(USER, model=TEXT, max_tokens=200, temperature=0.8, stop=["\nUser:"])
    assert result.text == "Reply to: Hi there"
    assert result.finish_reason == "stop" and result.model == TEXT
    assert result.usage is not None and result.usage.total_tokens > 0
    assert result.cost is not None and result.cost.usd is not None
    body = fake.requests_to(CHAT_PATH)[0].json
    assert body["max_completion_tokens"] == 200 and "max_tokens" not in body
    assert body["venice_parameters"]["include_venice_system_prompt"] is False
    assert "stream" not in body


async def test_chat_replies_follow_the_script_turn_by_turn(client: VeniceClient, fake: FakeVenice) -> None:
    fake.replies.extend(["first", "second"])
    assert (await client.chat(USER, model=TEXT)).text == "first"
    assert (await client.chat(USER, model=TEXT)).text == "second"
    fake.reply_text = "always"
    assert (await client.chat(USER, model=TEXT)).text == "always"


async def test_chat_with_character_slug(client: VeniceClient, fake: FakeVenice) -> None:
    slug = fake.characters[0]["slug"]
    await client.chat(USER, model=TEXT, character_slug=slug)
    assert fake.requests_to(CHAT_PATH)[0].json["venice_parameters"]["character_slug"] == slug
    with pytest.raises(NotFoundError):
        await client.chat(USER, model=TEXT, character_slug="missing-character")


async def test_length_cap_is_reported(client: VeniceClient, fake: FakeVenice) -> None:
    fake.reply_text = "word " * 100
    result = await client.chat(USER, model=TEXT, max_tokens=5)
    assert result.finish_reason == "length" and len(result.text) == 20


async def test_content_filter_finish_is_a_content_policy_error(client: VeniceClient, fake: FakeVenice) -> None:
    fake.inject(CHAT_PATH, Fault.of("content_filter"))
    with pytest.raises(ContentPolicyError) as caught:
        await client.chat(USER, model=TEXT)
    assert caught.value.rule == "finish_reason_content_filter"
    assert fake.count(CHAT_PATH) == 1


async def test_context_overflow_is_a_bad_request_with_advice(client: VeniceClient, fake: FakeVenice) -> None:
    fake.context_tokens[TEXT] = 20
    with pytest.raises(BadRequestError) as caught:
        await client.chat([{"role": "user", "content": "long " * 100}], model=TEXT)
    assert "too long for this model" in caught.value.user_message
    assert fake.count(CHAT_PATH) == 1


async def test_unknown_and_offline_models(client: VeniceClient, fake: FakeVenice, sleeps: Sleeps) -> None:
    with pytest.raises(ModelUnavailableError) as caught:
        await client.chat(USER, model="retired-model")
    assert caught.value.model == "retired-model" and "retired-model" in caught.value.user_message
    fake.offline.add(TEXT)
    with pytest.raises(ModelUnavailableError) as offline:
        await client.chat(USER, model=TEXT)
    assert "offline or at capacity" in offline.value.user_message
    assert fake.count(CHAT_PATH) == 1 + 4 and len(sleeps.waits) == 3  # 503 is retried, 404 is not


# -- streaming -----------------------------------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
async def test_stream_yields_deltas_then_usage(client: VeniceClient, fake: FakeVenice, newline: str) -> None:
    fake.sse_newline = newline
    fake.reasoning_text = "thinking that must not be shown"
    fake.reply_text = "Caf\u00e9 \u2728 by the fire, she pours two glasses and smiles."
    deltas, end, error = await collect(client.chat_stream(USER, model=TEXT, max_tokens=300))
    assert error is None and len(deltas) > 3
    assert "".join(deltas) == fake.reply_text
    assert end is not None and end.finish_reason == "stop"
    assert end.usage is not None and end.usage.completion_tokens > 0 and end.cost is not None
    body = fake.requests_to(CHAT_PATH)[0].json
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


async def test_stream_error_mid_way_keeps_earlier_deltas(client: VeniceClient, fake: FakeVenice) -> None:
    fake.reply_text = "One two three four five six seven eight nine ten."
    fake.inject(CHAT_PATH, Fault.of("midstream_error", after=3, code="model_overloaded", retry_after=30))
    deltas, end, error = await collect(client.chat_stream(USER, model=TEXT))
    assert isinstance(error, StreamError) and end is None
    assert "".join(deltas) == fake.reply_text[:21]
    assert (error.code, error.retry_after) == ("model_overloaded", 30.0)
    assert "30 seconds" in error.user_message
    assert fake.count(CHAT_PATH) == 1  # a half-delivered stream is never sent again
    assert_no_key(error)


async def test_stream_blocked_by_provider_is_content_policy(client: VeniceClient, fake: FakeVenice) -> None:
    fake.inject(CHAT_PATH, Fault.of("midstream_error", after=1, code="content_blocked_by_provider"))
    deltas, _, error = await collect(client.chat_stream(USER, model=TEXT))
    assert isinstance(error, ContentPolicyError) and error.rule == "content_blocked_by_provider"
    assert len(deltas) == 1


async def test_stream_content_filter_is_content_policy(client: VeniceClient, fake: FakeVenice) -> None:
    fake.inject(CHAT_PATH, Fault.of("content_filter", after=2))
    deltas, _, error = await collect(client.chat_stream(USER, model=TEXT))
    assert isinstance(error, ContentPolicyError) and len(deltas) == 2


async def test_stream_dropped_connection_is_a_stream_error(client: VeniceClient, fake: FakeVenice) -> None:
    fake.inject(CHAT_PATH, Fault.of("drop", after=2))
    deltas, _, error = await collect(client.chat_stream(USER, model=TEXT))
    assert isinstance(error, StreamError) and error.code == "connection_lost"
    assert len(deltas) == 2 and fake.count(CHAT_PATH) == 1


async def test_stream_stall_is_a_stream_error(fake: FakeVenice, sleeps: Sleeps) -> None:
    fake.chunk_delay = 1.0
    async with VeniceClient(KEY, fake.base_url, sleep=sleeps, timeouts=Timeouts(stream_read=0.25)) as venice:
        _, _, error = await collect(venice.chat_stream(USER, model=TEXT))
    assert isinstance(error, StreamError) and error.code == "timeout"
    assert fake.count(CHAT_PATH) == 1


async def test_stream_is_retried_before_the_first_byte(client: VeniceClient, fake: FakeVenice, sleeps: Sleeps) -> None:
    fake.inject(CHAT_PATH, Fault.rate_limited(retry_after=2))
    fake.inject(CHAT_PATH, Fault.http(503))
    deltas, end, error = await collect(client.chat_stream(USER, model=TEXT))
    assert error is None and end is not None and "".join(deltas) == "Reply to: Hi there"
    assert fake.count(CHAT_PATH) == 3
    assert sleeps.waits[0] == 2.0 and len(sleeps.waits) == 2


async def test_stream_that_hangs_before_answering_is_retried(fake: FakeVenice, sleeps: Sleeps) -> None:
    fake.inject(CHAT_PATH, Fault.hang(5))
    async with VeniceClient(KEY, fake.base_url, sleep=sleeps, timeouts=Timeouts(stream_read=0.4)) as venice:
        deltas, end, error = await collect(venice.chat_stream(USER, model=TEXT))
    assert error is None and end is not None and "".join(deltas) == "Reply to: Hi there"
    assert fake.count(CHAT_PATH) == 2 and len(sleeps.waits) == 1


async def test_stream_stopped_early_releases_the_connection(client: VeniceClient, fake: FakeVenice) -> None:
    fake.reply_text = "x" * 200
    stream = client.chat_stream(USER, model=TEXT)
    async for _ in stream:
        break
    await stream.aclose()
    assert (await client.chat(USER, model=TEXT)).text == "x" * 200


# -- images --------------------------------------------------------------------------------------


async def test_generate_image_returns_real_image_that_depends_on_the_seed(
    client: VeniceClient, fake: FakeVenice
) -> None:
    a = await client.generate_image(model=IMAGE, prompt="a red fox", width=256, height=320, seed=42)
    b = await client.generate_image(model=IMAGE, prompt="a red fox", width=256, height=320, seed=42)
    c = await client.generate_image(model=IMAGE, prompt="a red fox", width=256, height=320, seed=43)
    assert (a.content_type, a.width, a.height, a.seed, a.model) == ("image/webp", 256, 320, 42, IMAGE)
    assert a.data == b.data and a.data != c.data
    assert a.timing_ms is not None and not a.blurred
    body = fake.requests_to("/image/generate")[0].json
    assert body["return_binary"] is False and body["safe_mode"] is False and body["seed"] == 42


async def test_random_seed_is_left_out_and_read_back(client: VeniceClient, fake: FakeVenice) -> None:
    result = await client.generate_image(model=IMAGE, prompt="a lake", width=256, height=256, format="png")
    assert "seed" not in fake.requests_to("/image/generate")[0].json
    assert isinstance(result.seed, int) and result.content_type == "image/png"
    await client.generate_image(model=IMAGE, prompt="a lake", width=256, height=256, seed=0)
    assert fake.requests_to("/image/generate")[1].json["seed"] == 0


async def test_safe_mode_images_are_marked_blurred(client: VeniceClient) -> None:
    result = await client.generate_image(model=IMAGE, prompt="p", width=256, height=256, safe_mode=True)
    assert result.blurred


@pytest.mark.parametrize(
    ("kind", "header"),
    [
        ("content_violation", "x-venice-is-content-violation"),
        ("adult_violation", "x-venice-is-adult-model-content-violation"),
        ("contains_minor", "x-venice-contains-minor"),
    ],
)
async def test_safety_headers_stop_the_image(client: VeniceClient, fake: FakeVenice, kind: str, header: str) -> None:
    fake.inject("/image/generate", Fault.of(kind))
    with pytest.raises(ContentPolicyError) as caught:
        await client.generate_image(model=IMAGE, prompt="p", width=256, height=256)
    assert caught.value.rule == header and "not posted" in caught.value.user_message
    assert fake.count("/image/generate") == 1  # never retried with other settings


async def test_garbage_and_bad_base64_are_malformed(client: VeniceClient, fake: FakeVenice) -> None:
    fake.inject("/image/generate", Fault.of("garbage"))
    with pytest.raises(MalformedResponse):
        await client.generate_image(model=IMAGE, prompt="p", width=256, height=256)
    fake.inject("/image/generate", Fault.http(200, {"id": "x", "images": ["@@not base64@@"], "timing": {}}))
    with pytest.raises(MalformedResponse) as caught:
        await client.generate_image(model=IMAGE, prompt="p", width=256, height=256)
    assert "could not read" in caught.value.user_message
    assert fake.count("/image/generate") == 2


async def test_rejected_style_is_a_bad_request_naming_the_field(client: VeniceClient) -> None:
    with pytest.raises(BadRequestError) as caught:
        await client.generate_image(model=IMAGE, prompt="p", width=256, height=256, style_preset="Nope")
    assert "style_preset" in caught.value.user_message


async def test_upscale_returns_a_png_twice_the_size(client: VeniceClient, fake: FakeVenice) -> None:
    image = await client.generate_image(model=IMAGE, prompt="p", width=256, height=256, format="png")
    upscaled = await client.upscale(image.data, scale=2)
    from bot.venice.payloads import decode_image

    assert decode_image(upscaled, "t") == ("image/png", 512, 512)
    assert fake.requests_to("/image/upscale")[0].json["scale"] == 2


# -- retries and error mapping -----------------------------------------------------------------


async def test_429_honours_retry_after_and_tells_the_caller(
    client: VeniceClient, fake: FakeVenice, sleeps: Sleeps
) -> None:
    waits: list[float] = []

    async def on_wait(seconds: float) -> None:
        waits.append(seconds)

    fake.inject("/image/generate", Fault.rate_limited(retry_after=2))
    result = await client.generate_image(model=IMAGE, prompt="p", width=256, height=256, on_wait=on_wait)
    assert result.width == 256
    assert sleeps.waits == [2.0] and waits == [2.0]
    assert fake.count("/image/generate") == 2


async def test_429_beyond_the_cap_is_reported_with_the_wait(
    client: VeniceClient, fake: FakeVenice, sleeps: Sleeps
) -> None:
    fake.inject(CHAT_PATH, Fault.rate_limited(retry_after=45))
    with pytest.raises(RateLimitError) as caught:
        await client.chat(USER, model=TEXT)
    assert caught.value.retry_after == 45.0 and "about 45 seconds" in caught.value.user_message
    assert sleeps.waits == [] and fake.count(CHAT_PATH) == 1


async def test_429_until_retries_run_out(client: VeniceClient, fake: FakeVenice, sleeps: Sleeps) -> None:
    fake.inject(CHAT_PATH, Fault.rate_limited(retry_after=None, times=10))
    with pytest.raises(RateLimitError):
        await client.chat(USER, model=TEXT)
    assert fake.count(CHAT_PATH) == 4 and len(sleeps.waits) == 3
    assert all(0 <= w <= min(20.0, 0.5 * 2**i) for i, w in enumerate(sleeps.waits))  # full jitter


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_retried_then_succeeds(
    client: VeniceClient, fake: FakeVenice, sleeps: Sleeps, status: int
) -> None:
    fake.inject(CHAT_PATH, Fault.http(status, times=2))
    assert (await client.chat(USER, model=TEXT)).text == "Reply to: Hi there"
    assert fake.count(CHAT_PATH) == 3 and len(sleeps.waits) == 2


async def test_5xx_until_retries_run_out(client: VeniceClient, fake: FakeVenice) -> None:
    fake.inject("/models", Fault.http(500, times=10))
    with pytest.raises(ServerError) as caught:
        await client.list_models()
    assert fake.count("/models") == 4 and "problem on its side" in caught.value.user_message


@pytest.mark.parametrize(
    ("status", "kind", "wording"),
    [
        (400, BadRequestError, "could not accept"),
        (401, AuthError, "The bot's Venice key was refused — tell the bot's operator."),
        (402, BalanceError, "balance has run out"),
        (403, AuthError, "key was refused"),
        (404, ModelUnavailableError, "not available"),
        (410, ModelUnavailableError, "retired"),
        (422, ContentPolicyError, "content policy"),
    ],
)
async def test_client_errors_are_not_retried(
    client: VeniceClient,
    fake: FakeVenice,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
    status: int,
    kind: type[VeniceError],
    wording: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.inject(CHAT_PATH, Fault.http(status, headers={"CF-RAY": "8f00ba11-LHR"}))
    with pytest.raises(kind) as caught:
        await client.chat(USER, model=TEXT)
    assert wording in caught.value.user_message
    assert fake.count(CHAT_PATH) == 1 and sleeps.waits == []
    assert caught.value.cf_ray == "8f00ba11-LHR" and "8f00ba11-LHR" in caplog.text
    assert_no_key(caught.value, caplog)


async def test_a_wrong_key_is_an_auth_error_without_the_key(fake: FakeVenice, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "vk-wrong-TOPSECRET-999"
    async with VeniceClient(wrong, fake.base_url) as venice:
        with pytest.raises(AuthError) as caught:
            await venice.list_models()
        assert wrong not in repr(venice)
    for text in (str(caught.value), repr(caught.value), caught.value.user_message, caplog.text):
        assert wrong not in text
    assert fake.count("/models") == 1


async def test_a_key_echoed_in_an_error_body_is_redacted(
    client: VeniceClient, fake: FakeVenice, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.inject(CHAT_PATH, Fault.http(400, {"error": f"Invalid key {KEY} for this model"}))
    with pytest.raises(BadRequestError) as caught:
        await client.chat(USER, model=TEXT)
    assert "<redacted>" in str(caught.value)
    assert_no_key(caught.value, caplog)


async def test_an_empty_key_fails_without_a_request(fake: FakeVenice) -> None:
    async with VeniceClient("", fake.base_url) as venice:
        with pytest.raises(AuthError):
            await venice.chat(USER, model=TEXT)
    assert fake.requests == []


async def test_timeouts_are_retried_then_reported(fake: FakeVenice, sleeps: Sleeps) -> None:
    fast = Timeouts(chat=0.4, catalogue=0.4)
    async with VeniceClient(KEY, fake.base_url, sleep=sleeps, timeouts=fast, max_retries=1) as venice:
        fake.inject(CHAT_PATH, Fault.hang(5))
        assert (await venice.chat(USER, model=TEXT)).text == "Reply to: Hi there"
        fake.inject("/models", Fault.hang(5, times=2))
        with pytest.raises(VeniceTimeout) as caught:
            await venice.list_models()
    assert "took too long" in caught.value.user_message
    assert fake.count(CHAT_PATH) == 2 and fake.count("/models") == 2


async def test_a_dropped_connection_is_retried(client: VeniceClient, fake: FakeVenice) -> None:
    fake.inject("/characters", Fault.of("drop"))
    assert len(await client.list_characters(limit=5)) == 5
    assert fake.count("/characters") == 2


async def test_balance_and_rate_limit_headers_are_kept(client: VeniceClient) -> None:
    assert client.last_balance is None
    await client.chat(USER, model=TEXT)
    assert client.last_balance is not None and client.last_balance.usd == 25.0
    assert client.last_rate_limit is not None and client.last_rate_limit.limit_requests == 50


async def test_repr_hides_the_key_and_a_borrowed_session_stays_open(fake: FakeVenice) -> None:
    async with aiohttp.ClientSession() as session:
        venice = VeniceClient(KEY, fake.base_url, session=session)
        assert KEY not in repr(venice) and KEY not in repr(vars(venice))
        await venice.list_models()
        await venice.close()
        assert not session.closed


# -- the fake itself -----------------------------------------------------------------------------


async def test_fake_rejects_bodies_venice_would_reject() -> None:
    async with FakeVenice(api_key=KEY) as server, aiohttp.ClientSession() as session:
        auth = {"Authorization": f"Bearer {KEY}"}
        bad = {"model": TEXT, "messages": USER, "max_tokens_typo": 5, "temperature": "warm"}
        async with session.post(server.base_url + CHAT_PATH, json=bad, headers=auth) as resp:
            assert resp.status == 400
            answer = await resp.json()
        async with session.get(server.base_url + "/characters?isAdult=yes", headers=auth) as resp:
            assert resp.status == 400
    assert answer["error"] == "Invalid request parameters" and "temperature" in answer["details"]
    assert [v.path for v in server.violations] == [CHAT_PATH, "/characters"]
    assert any("max_tokens_typo" in e for e in server.violations[0].errors)


async def test_fake_answers_match_venice_response_schemas(fake: FakeVenice) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    calls = [
        ("GET", "/models?type=text", None),
        ("GET", "/models?type=image", None),
        ("GET", "/image/styles", None),
        ("GET", "/characters?isAdult=true&limit=5", None),
        ("GET", f"/characters/{fake.characters[0]['slug']}", None),
        ("POST", CHAT_PATH, {"model": TEXT, "messages": USER}),
        ("POST", "/image/generate", {"model": IMAGE, "prompt": "p", "width": 64, "height": 64}),
    ]
    async with aiohttp.ClientSession() as session:
        for method, path, body in calls:
            async with session.request(method, fake.base_url + path, json=body, headers=auth) as resp:
                assert resp.status == 200, path
                data = await resp.json()
            problems = fake.validator.validate_response(method, path.split("?")[0], 200, data)
            assert problems == [], (path, problems[:3])
