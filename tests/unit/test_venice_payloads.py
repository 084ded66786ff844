"""Request bodies (checked against swagger.yaml), response readers, typed results and the cache."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from PIL import Image

from bot.cache import TTLCache
from bot.venice.errors import ContentPolicyError, MalformedResponse, StreamError
from bot.venice.payloads import (
    chat_body,
    check_image_flags,
    decode_image,
    image_body,
    image_result,
    parse_chat_completion,
    parse_styles,
)
from bot.venice.sse import SSEEvent
from bot.venice.streaming import ChatStreamState
from bot.venice.types import Balance, ModelInfo, RateLimitInfo, StreamDelta, Usage, VeniceCharacter
from tests.fakes.openapi_validate import VENICE_SWAGGER, OpenAPIValidator
from tests.fakes.venice_data import STATIC_MODELS, build_characters, build_models

needs_shared = pytest.mark.skipif(not VENICE_SWAGGER.exists(), reason=f"{VENICE_SWAGGER} missing (../shared)")
MESSAGES = [{"role": "system", "content": "You are Aria."}, {"role": "user", "content": "Hi"}]


@pytest.fixture(scope="module")
def venice() -> OpenAPIValidator:
    return OpenAPIValidator.from_file(VENICE_SWAGGER)


@needs_shared
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"max_tokens": 300, "temperature": 0.8, "top_p": 0.9, "stop": ["\nUser:"]},
        {"character_slug": "alan-watts", "include_venice_system_prompt": True, "strip_thinking": False},
        {"stream": True},
    ],
)
def test_chat_bodies_pass_venice_schema(venice: OpenAPIValidator, kwargs: dict) -> None:
    body = chat_body(MESSAGES, model="venice-uncensored-1-2", **kwargs)
    assert venice.validate_request("POST", "/chat/completions", body) == []


def test_chat_body_uses_max_completion_tokens_and_turns_venice_prompt_off() -> None:
    body = chat_body(MESSAGES, model="m", max_tokens=50, stream=True)
    assert body["max_completion_tokens"] == 50 and "max_tokens" not in body
    assert body["venice_parameters"]["include_venice_system_prompt"] is False
    assert body["stream_options"] == {"include_usage": True}
    assert "character_slug" not in body["venice_parameters"]


@pytest.mark.parametrize(
    "kwargs",
    [{"max_tokens": 0}, {"temperature": 2.5}, {"top_p": -0.1}, {"stop": ["a", "b", "c", "d", "e"]}],
)
def test_chat_body_refuses_values_venice_would_reject(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        chat_body(MESSAGES, model="m", **kwargs)


def test_chat_body_needs_messages() -> None:
    with pytest.raises(ValueError):
        chat_body([], model="m")


@needs_shared
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"negative_prompt": "blurry", "width": 832, "height": 1216, "steps": 25, "cfg_scale": 5.5},
        {"seed": 123456789, "style_preset": "Cinematic", "format": "png", "safe_mode": True},
        {"seed": -999_999_999},
    ],
)
def test_image_bodies_pass_venice_schema(venice: OpenAPIValidator, kwargs: dict) -> None:
    body = image_body(model="lustify-sdxl", prompt="a portrait", **kwargs)
    assert venice.validate_request("POST", "/image/generate", body) == []


def test_image_seed_is_left_out_for_random_and_sent_when_zero_is_asked() -> None:
    assert "seed" not in image_body(model="m", prompt="p")
    assert image_body(model="m", prompt="p", seed=0)["seed"] == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"prompt": " "},
        {"width": 1281},
        {"height": 0},
        {"cfg_scale": 0},
        {"seed": 10**9},
        {"format": "gif"},
        {"steps": 0},
    ],
)
def test_image_body_refuses_values_venice_would_reject(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        image_body(**{"model": "m", "prompt": "p", **kwargs})


@needs_shared
def test_every_catalogue_entry_parses() -> None:
    models = [ModelInfo.from_api(m) for m in build_models(STATIC_MODELS)]
    by_id = {m.id: m for m in models}
    text, image = by_id["venice-uncensored-1-2"], by_id["lustify-sdxl"]
    assert (text.context_tokens, text.max_completion_tokens, text.uncensored) == (128000, 8192, True)
    assert "most_uncensored" in text.traits
    assert (image.prompt_char_limit, image.steps_default, image.steps_max, image.width_height_divisor) == (
        1500,
        20,
        50,
        8,
    )


def test_model_info_tolerates_a_sparse_entry() -> None:
    info = ModelInfo.from_api({"id": "x", "model_spec": {"availableContextTokens": "4096", "traits": [1, "a"]}})
    assert (info.name, info.context_tokens, info.traits, info.offline) == ("x", 4096, ("a",), False)


def test_character_parses_the_documented_example() -> None:
    raw = build_characters()[0]
    character = VeniceCharacter.from_api(raw)
    assert character.slug == raw["slug"] and character.adult
    assert character.rating == raw["stats"]["averageRating"]
    assert character.model_id == raw["modelId"]


def test_usage_and_headers_parse_defensively() -> None:
    assert Usage.from_api({"prompt_tokens": 3, "completion_tokens": 4}) == Usage(3, 4, 7)
    assert Usage.from_api(None) is None
    assert Balance.from_headers({"x-venice-balance-usd": "12.5"}) == Balance(12.5, None)
    assert Balance.from_headers({}) is None
    assert RateLimitInfo.from_headers({}) is None
    assert RateLimitInfo.from_headers({"x-ratelimit-remaining-requests": "9"}).remaining_requests == 9


def test_chat_completion_reader() -> None:
    data = {
        "model": "m2",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        "cost": {"usd": 0.001, "diem": 0},
    }
    result = parse_chat_completion(data, model="m")
    assert (result.text, result.finish_reason, result.model) == ("Hello", "stop", "m2")
    assert result.cost is not None and result.cost.usd == 0.001


@pytest.mark.parametrize("data", [[], {"choices": []}, {"choices": [{"message": "x"}]}, "text"])
def test_unexpected_completion_shapes_are_malformed(data: object) -> None:
    with pytest.raises(MalformedResponse):
        parse_chat_completion(data, model="m")


def test_in_band_error_in_plain_completion() -> None:
    with pytest.raises(ContentPolicyError):
        parse_chat_completion({"error": {"code": "content_blocked_by_provider", "message": "no"}}, model="m")


def test_styles_accept_both_shapes() -> None:
    assert parse_styles({"object": "list", "data": ["Anime"]}) == parse_styles(["Anime"]) == ["Anime"]
    with pytest.raises(MalformedResponse):
        parse_styles({"styles": []})


def _png(width: int = 8, height: int = 6) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (1, 2, 3)).save(buf, format="PNG")
    return buf.getvalue()


def test_decode_image_reports_type_and_size() -> None:
    assert decode_image(_png(), "t") == ("image/png", 8, 6)
    with pytest.raises(MalformedResponse):
        decode_image(b"not an image", "t")


@pytest.mark.parametrize(
    "header", ["x-venice-is-content-violation", "x-venice-is-adult-model-content-violation", "x-venice-contains-minor"]
)
def test_image_flags_are_hard_stops(header: str) -> None:
    with pytest.raises(ContentPolicyError) as caught:
        check_image_flags({header: "true", "x-venice-is-blurred": "false"})
    assert caught.value.rule == header


def test_image_result_prefers_the_seed_venice_echoes() -> None:
    import base64

    payload = {"images": [base64.b64encode(_png()).decode()], "request": {"data": {"seed": 42}}, "timing": {"total": 5}}
    result = image_result(json.dumps(payload).encode(), {"x-venice-is-blurred": "true"}, model="m", seed=None)
    assert (result.seed, result.width, result.blurred, result.timing_ms) == (42, 8, True, 5.0)


def _event(data: object) -> SSEEvent:
    return SSEEvent(json.dumps(data))


def test_stream_state_skips_reasoning_and_reads_usage_from_empty_choices_chunk() -> None:
    state = ChatStreamState("m")
    assert state.handle(_event({"choices": [{"index": 0, "delta": {"reasoning_content": "hmm"}}]})) == []
    assert state.handle(_event({"choices": [{"index": 0, "delta": {"content": "Hi"}}]})) == [StreamDelta("Hi")]
    state.handle(_event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    state.handle(_event({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1}, "cost": {"usd": 1}}))
    end = state.end()
    assert (end.finish_reason, end.usage, end.cost and end.cost.usd) == ("stop", Usage(5, 1, 6), 1.0)


def test_stream_state_in_band_errors() -> None:
    state = ChatStreamState("m")
    with pytest.raises(StreamError) as caught:
        state.handle(_event({"error": {"code": "model_overloaded", "retry_after": 30, "message": "busy"}}))
    assert (caught.value.code, caught.value.retry_after) == ("model_overloaded", 30.0)
    with pytest.raises(ContentPolicyError):
        state.handle(_event({"error": {"code": "content_blocked_by_provider"}}))
    with pytest.raises(ContentPolicyError):
        state.handle(_event({"choices": [{"index": 0, "delta": {}, "finish_reason": "content_filter"}]}))
    with pytest.raises(StreamError):
        state.handle(SSEEvent("{not json"))


async def test_cache_expires_by_the_injected_clock_and_shares_concurrent_loads() -> None:
    now = [0.0]
    cache = TTLCache(10.0, lambda: now[0])
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0)
        return loads

    assert await asyncio.gather(*(cache.get_or_load("k", load) for _ in range(5))) == [1] * 5
    now[0] = 9.9
    assert await cache.get_or_load("k", load) == 1
    now[0] = 10.1
    assert await cache.get_or_load("k", load) == 2
