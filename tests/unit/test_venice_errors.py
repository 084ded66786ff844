"""Error bodies in every shape Venice uses map to the right exception and user wording."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bot.venice.errors import (
    AuthError,
    BadRequestError,
    BalanceError,
    ContentPolicyError,
    ModelUnavailableError,
    NotFoundError,
    RateLimitError,
    ServerError,
    VeniceError,
    error_from_response,
    parse_error_body,
    parse_retry_after,
)


def body(data: object) -> bytes:
    return json.dumps(data).encode()


class TestParseErrorBody:
    def test_error_as_string(self) -> None:
        info = parse_error_body(body({"error": "Authentication failed"}))
        assert (info.message, info.code) == ("Authentication failed", None)

    def test_error_string_with_code(self) -> None:
        info = parse_error_body(body({"error": "Out of credit", "code": "INSUFFICIENT_BALANCE"}))
        assert info.code == "INSUFFICIENT_BALANCE"

    def test_validation_details_as_tree(self) -> None:
        info = parse_error_body(
            body(
                {
                    "error": "Invalid request parameters",
                    "details": {
                        "_errors": [],
                        "prompt": {"_errors": ["String must contain at most 1500 character(s)"]},
                    },
                    "issues": [],
                }
            )
        )
        assert info.details == "prompt: String must contain at most 1500 character(s)"

    def test_details_as_plain_string(self) -> None:
        info = parse_error_body(body({"error": "Invalid", "details": "seed is out of range"}))
        assert info.details == "seed is out of range"

    def test_error_as_openai_object(self) -> None:
        info = parse_error_body(
            body(
                {
                    "error": {
                        "message": "too long",
                        "type": "invalid_request_error",
                        "param": "messages",
                        "code": "context_length_exceeded",
                    }
                }
            )
        )
        assert (info.message, info.code, info.type, info.param) == (
            "too long",
            "context_length_exceeded",
            "invalid_request_error",
            "messages",
        )

    def test_upstream_rejection_with_request_id(self) -> None:
        info = parse_error_body(body({"error": "provider said no", "request_id": "r-1"}))
        assert info.message == "provider said no"

    @pytest.mark.parametrize("raw", [b"<html>502 Bad Gateway</html>", b"", b"[1, 2]", b"null", b'"just text"'])
    def test_unexpected_bodies_do_not_raise(self, raw: bytes) -> None:
        info = parse_error_body(raw)
        assert isinstance(info.message, str)

    def test_very_long_messages_are_cut(self) -> None:
        assert len(parse_error_body(body({"error": "x" * 5000})).message) <= 300


@pytest.mark.parametrize(
    ("status", "data", "kind", "wording"),
    [
        (401, {"error": "Authentication failed"}, AuthError, "Venice key was refused"),
        (403, {"error": "nope", "code": "UNAUTHORIZED"}, AuthError, "Venice key was refused"),
        (401, {"error": "Pro only", "code": "PRO_ONLY_MODEL"}, AuthError, "Venice Pro"),
        (402, {"error": "x", "code": "INSUFFICIENT_BALANCE"}, BalanceError, "balance has run out"),
        (402, {"error": "x", "code": "API_KEY_USD_SPEND_LIMIT_EXCEEDED"}, BalanceError, "spending limit"),
        (404, {"error": "no such model", "code": "MODEL_NOT_FOUND"}, ModelUnavailableError, "not available"),
        (404, {"error": "x", "code": "CHARACTER_NOT_FOUND"}, NotFoundError, "character could not be found"),
        (410, {"error": "retired"}, ModelUnavailableError, "retired"),
        (422, {"error": "Your prompt violates the content policy"}, ContentPolicyError, "content policy"),
        (422, {"error": "too big", "code": "IMAGE_TOO_LARGE"}, BadRequestError, "too large"),
        (503, {"error": "x", "code": "MODEL_OFFLINE"}, ModelUnavailableError, "offline or at capacity"),
        (500, {"error": "Inference processing failed"}, ServerError, "problem on its side"),
        (
            400,
            {"error": {"message": "m", "type": "invalid_request_error", "code": "context_length_exceeded"}},
            BadRequestError,
            "too long for this model",
        ),
        (400, {"error": "Invalid request parameters", "details": "seed bad"}, BadRequestError, "seed bad"),
        (413, {"error": "too large", "code": "PAYLOAD_TOO_LARGE"}, BadRequestError, "too large"),
    ],
)
def test_status_and_code_map_to_exception(status: int, data: dict, kind: type[VeniceError], wording: str) -> None:
    err = error_from_response(status, body(data), {"CF-RAY": "abc-LHR"}, model="some-model")
    assert type(err) is kind
    assert wording in err.user_message
    assert err.status == status
    assert err.cf_ray == "abc-LHR"


def test_404_without_code_names_the_model_on_model_calls() -> None:
    err = error_from_response(404, body({"error": "not found"}), {}, model="gone-model")
    assert isinstance(err, ModelUnavailableError)
    assert err.model == "gone-model"
    assert "gone-model" in err.user_message


def test_404_without_code_on_other_calls_is_not_found() -> None:
    assert isinstance(error_from_response(404, body({"error": "not found"}), {}), NotFoundError)


def test_content_policy_rule_names_the_status() -> None:
    err = error_from_response(422, body({"error": "violates"}), {})
    assert isinstance(err, ContentPolicyError)
    assert err.rule == "venice_422"


@pytest.mark.parametrize(
    ("status", "retryable"), [(429, True), (500, True), (502, True), (503, True), (504, True), (501, False)]
)
def test_only_429_and_5xx_are_retryable(status: int, retryable: bool) -> None:
    assert error_from_response(status, b"{}", {}).retryable is retryable


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 410, 413, 415, 422])
def test_client_errors_are_never_retryable(status: int) -> None:
    assert not error_from_response(status, b'{"error": "x"}', {}).retryable


def test_rate_limit_reads_retry_after_and_says_when() -> None:
    err = error_from_response(429, body({"error": "Rate limit exceeded"}), {"Retry-After": "30"})
    assert isinstance(err, RateLimitError)
    assert err.retry_after == 30.0
    assert "about 30 seconds" in err.user_message


def test_rate_limit_without_retry_after_still_says_when() -> None:
    err = error_from_response(429, b"{}", {})
    assert err.retry_after is None
    assert "try again in a minute" in err.user_message


def test_rate_limit_falls_back_to_retry_after_in_body() -> None:
    err = error_from_response(429, body({"error": {"message": "overloaded", "retry_after": 12}}), {})
    assert err.retry_after == 12.0


def test_str_and_repr_carry_status_code_and_message_for_logs() -> None:
    err = error_from_response(402, body({"error": "Out of credit", "code": "INSUFFICIENT_BALANCE"}), {})
    assert "402" in str(err) and "INSUFFICIENT_BALANCE" in str(err) and "Out of credit" in str(err)
    assert repr(err).startswith("BalanceError(status=402")


class TestRetryAfter:
    def test_seconds(self) -> None:
        assert parse_retry_after("7") == 7.0
        assert parse_retry_after("1.5") == 1.5

    def test_http_date(self) -> None:
        when = datetime.now(UTC) + timedelta(seconds=60)
        seconds = parse_retry_after(format_datetime(when, usegmt=True))
        assert seconds is not None and 55 <= seconds <= 61

    @pytest.mark.parametrize("value", [None, "", "soon", "-5"])
    def test_garbage_or_negative(self, value: str | None) -> None:
        result = parse_retry_after(value)
        assert result is None or result == 0.0
