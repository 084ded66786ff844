"""The OpenAPI validator used by the fake Venice really rejects what Venice would reject."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.openapi_validate import VENICE_SWAGGER, OpenAPIValidator, convert_schema, load_yaml

pytestmark = pytest.mark.skipif(
    not VENICE_SWAGGER.exists(), reason=f"Venice's swagger.yaml is not at {VENICE_SWAGGER} (../shared missing)"
)

CHAT = {"model": "venice-uncensored-1-2", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def venice() -> OpenAPIValidator:
    return OpenAPIValidator.from_file(VENICE_SWAGGER)


def test_a_valid_chat_body_passes(venice: OpenAPIValidator) -> None:
    body = {
        **CHAT,
        "max_completion_tokens": 100,
        "stream": True,
        "stream_options": {"include_usage": True},
        "stop": ["\nUser:"],
        "venice_parameters": {"include_venice_system_prompt": False, "character_slug": "alan-watts"},
    }
    assert venice.validate_request("POST", "/chat/completions", body) == []


def test_unknown_top_level_chat_field_is_rejected(venice: OpenAPIValidator) -> None:
    errors = venice.validate_request("POST", "/chat/completions", {**CHAT, "anon_user_id": "u1"})
    assert len(errors) == 1
    assert "anon_user_id" in errors[0] and "Additional properties" in errors[0]


def test_wrong_type_is_rejected(venice: OpenAPIValidator) -> None:
    errors = venice.validate_request("POST", "/chat/completions", {**CHAT, "temperature": "hot"})
    assert errors == ["temperature: 'hot' is not of type 'number'"]


def test_missing_required_field_is_rejected(venice: OpenAPIValidator) -> None:
    errors = venice.validate_request("POST", "/chat/completions", {"model": "x"})
    assert any("'messages' is a required property" in e for e in errors)


def test_range_limits_from_boolean_exclusive_minimum(venice: OpenAPIValidator) -> None:
    # OpenAPI 3.0 writes `minimum: 0, exclusiveMinimum: true`; 0 must fail, 1 must pass.
    assert venice.validate_request("POST", "/image/generate", {"model": "m", "prompt": "p", "width": 0})
    assert venice.validate_request("POST", "/image/generate", {"model": "m", "prompt": "p", "width": 1}) == []


def test_unknown_image_field_is_rejected(venice: OpenAPIValidator) -> None:
    errors = venice.validate_request("POST", "/image/generate", {"model": "m", "prompt": "p", "aspect": "1:1"})
    assert errors and "aspect" in errors[0]


def test_venice_parameters_is_not_strict(venice: OpenAPIValidator) -> None:
    # Venice drops unknown keys inside venice_parameters instead of failing (venice-api.md §1).
    body = {**CHAT, "venice_parameters": {"not_a_key": True}}
    assert venice.validate_request("POST", "/chat/completions", body) == []


def test_nullable_branch_allows_null_but_not_other_types(venice: OpenAPIValidator) -> None:
    assert venice.validate_request("POST", "/chat/completions", {**CHAT, "stop": None}) == []
    assert venice.validate_request("POST", "/chat/completions", {**CHAT, "stop": 5})


def test_yaml_is_read_with_yaml_1_2_scalars(venice: OpenAPIValidator) -> None:
    # `- off` is the string "off" in YAML 1.2 (PyYAML's default 1.1 rules would make it False).
    schema = venice.document["components"]["schemas"]["ChatCompletionRequest"]
    assert schema["properties"]["venice_parameters"]["properties"]["enable_web_search"]["enum"] == ["auto", "off", "on"]


def test_yaml_dates_and_ratios_stay_strings(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: 2025-03-01\nb: 16:9\nc: on\nd: 1.5\ne: 3\nf: true\n")
    assert load_yaml(path) == {"a": "2025-03-01", "b": "16:9", "c": "on", "d": 1.5, "e": 3, "f": True}


@pytest.mark.parametrize(
    ("schema", "converted"),
    [
        ({"type": "string", "nullable": True}, {"type": ["string", "null"]}),
        ({"type": "string", "enum": ["a"], "nullable": True}, {"type": ["string", "null"], "enum": ["a", None]}),
        ({"anyOf": [{"type": "string"}, {"nullable": True}]}, {"anyOf": [{"type": "string"}, {"type": "null"}]}),
        ({"items": {"nullable": True}}, {"items": {}}),
        ({"$ref": "#/x", "nullable": True}, {"anyOf": [{"$ref": "#/x"}, {"type": "null"}]}),
        ({"minimum": 0, "exclusiveMinimum": True}, {"exclusiveMinimum": 0}),
        ({"maximum": 9, "exclusiveMaximum": False}, {"maximum": 9}),
        ({"properties": {"nullable": {"type": "boolean"}}}, {"properties": {"nullable": {"type": "boolean"}}}),
    ],
)
def test_convert_schema(schema: dict, converted: dict) -> None:
    assert convert_schema(schema) == converted


def test_query_parameters_are_checked(venice: OpenAPIValidator) -> None:
    ok = [("isAdult", "true"), ("limit", "50"), ("offset", "0"), ("tags", "a"), ("tags", "b,c"), ("sortBy", "imports")]
    assert venice.validate_query("GET", "/characters", ok) == []
    bad = venice.validate_query("GET", "/characters", [("isAdult", "True"), ("limit", "500"), ("page", "1")])
    assert len(bad) == 3
    assert any("page" in e for e in bad)


def test_templated_paths_match(venice: OpenAPIValidator) -> None:
    assert venice.match("GET", "/characters/alan-watts") == "/characters/{slug}"
    assert venice.match("GET", "/characters/alan-watts/reviews") == "/characters/{slug}/reviews"
    assert venice.match("DELETE", "/characters/alan-watts") is None


def test_unknown_operation_is_reported(venice: OpenAPIValidator) -> None:
    assert venice.validate_request("POST", "/nope", {}) == ["POST /nope is not in the OpenAPI description"]


def test_response_bodies_can_be_checked(venice: OpenAPIValidator) -> None:
    assert venice.validate_response("GET", "/image/styles", 200, {"object": "list", "data": ["Anime"]}) == []
    assert venice.validate_response("GET", "/image/styles", 200, {"data": "Anime"})
