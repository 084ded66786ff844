"""Errors raised by the Venice client, each with wording a Discord user can be shown.

`str(error)` is for logs (status, Venice code, Venice's own message); `error.user_message` is short,
kind and says what the user can do. Neither ever contains the API key: errors are built from the
response body and status only, never from the request headers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from bot.venice.types import as_float

__all__ = [
    "AuthError",
    "BadRequestError",
    "BalanceError",
    "ContentPolicyError",
    "ErrorBody",
    "MalformedResponse",
    "ModelUnavailableError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "StreamError",
    "VeniceError",
    "VeniceTimeout",
    "error_from_response",
    "parse_error_body",
    "parse_retry_after",
    "rate_limit_message",
    "stream_error_message",
]

# Venice's messages can be long (validation dumps); logs and users only need the start.
_DETAIL_LIMIT = 300


class VeniceError(Exception):
    """Base class: something went wrong talking to Venice.

    `status` is the HTTP status (None when there was no response), `code` is Venice's error code
    when it sent one, `retryable` tells the client's retry loop whether another attempt may help.
    """

    default_user_message = "Something went wrong talking to Venice — please try again."

    def __init__(
        self,
        message: str = "",
        *,
        user_message: str | None = None,
        status: int | None = None,
        code: str | None = None,
        cf_ray: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message or self.default_user_message)
        self.user_message = user_message or self.default_user_message
        self.status = status
        self.code = code
        self.cf_ray = cf_ray
        self.retryable = retryable
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, message={str(self)!r})"


class AuthError(VeniceError):
    """401/403: the key is wrong, inactive, or not allowed to use this model."""

    default_user_message = "The bot's Venice key was refused — tell the bot's operator."


class BalanceError(VeniceError):
    """402: the Venice account is out of credit or the key hit its spend limit."""

    default_user_message = "The bot's Venice balance has run out — tell the bot's operator."


class RateLimitError(VeniceError):
    """429 after the client's retries ran out (or Venice asked for a wait longer than we allow)."""

    default_user_message = "Venice is busy right now — please try again in a minute."


class ContentPolicyError(VeniceError):
    """Venice refused or flagged the content. `rule` names the signal that fired."""

    default_user_message = "Venice refused this under its content policy, so nothing was posted."

    def __init__(self, message: str = "", *, rule: str, **kwargs: Any) -> None:
        super().__init__(message or f"content policy: {rule}", **kwargs)
        self.rule = rule


class ModelUnavailableError(VeniceError):
    """The model is unknown, retired (404/410) or offline/at capacity (503)."""

    default_user_message = "That model is not available on Venice right now — an admin can pick another."

    def __init__(self, message: str = "", *, model: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.model = model


class NotFoundError(VeniceError):
    """404 for something other than a model, e.g. an unknown character slug."""

    default_user_message = "Venice could not find that."


class BadRequestError(VeniceError):
    """400 (and 413/415): Venice would not accept the request as sent."""

    default_user_message = "Venice could not accept that request."


class VeniceTimeout(VeniceError):
    """Venice did not answer in time, even after retries."""

    default_user_message = "Venice took too long to answer — please try again."


class ServerError(VeniceError):
    """5xx after retries, or Venice could not be reached at all."""

    default_user_message = "Venice had a problem on its side — please try again in a moment."


class MalformedResponse(VeniceError):
    """Venice answered 200 with something the client cannot read."""

    default_user_message = "Venice sent an answer the bot could not read — please try again."


class StreamError(VeniceError):
    """A streamed reply failed after it started (in-band error chunk, dropped connection, stall)."""

    default_user_message = "Venice stopped partway through the reply — please try again."


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """The useful parts of a Venice error body, whatever shape it came in."""

    message: str = ""
    code: str | None = None
    type: str | None = None
    param: str | None = None
    details: str = ""
    retry_after: float | None = None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _summarise_details(details: Any) -> str:
    """Flatten a zod-style `details` tree ({"_errors": [...], field: {"_errors": [...]}})."""
    if isinstance(details, str):
        return details
    if not isinstance(details, Mapping):
        return ""
    parts: list[str] = []

    def walk(node: Mapping[str, Any], path: str) -> None:
        for msg in node.get("_errors") or []:
            if isinstance(msg, str):
                parts.append(f"{path}: {msg}" if path else msg)
        for key, child in node.items():
            if key != "_errors" and isinstance(child, Mapping):
                walk(child, f"{path}.{key}" if path else str(key))

    walk(details, "")
    return "; ".join(parts)


def parse_error_body(raw: bytes | str | Mapping[str, Any] | None) -> ErrorBody:
    """Read an error body defensively: `error` as string or object, `details` as string or dict."""
    data: Any = raw
    if isinstance(raw, bytes | str):
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            return ErrorBody(message=text.strip()[:_DETAIL_LIMIT])
    if not isinstance(data, Mapping):
        return ErrorBody()
    err = data.get("error")
    message, code, etype, param, retry_after = "", None, None, None, None
    if isinstance(err, Mapping):
        message = _text(err.get("message"))
        code = err.get("code") if isinstance(err.get("code"), str) else None
        etype = _text(err.get("type")) or None
        param = _text(err.get("param")) or None
        retry_after = as_float(err.get("retry_after"))
    else:
        message = _text(err) or _text(data.get("message"))
    if code is None and isinstance(data.get("code"), str):
        code = data["code"]
    return ErrorBody(
        message=message[:_DETAIL_LIMIT],
        code=code,
        type=etype,
        param=param,
        details=_summarise_details(data.get("details"))[:_DETAIL_LIMIT],
        retry_after=retry_after,
    )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """`Retry-After` as seconds; accepts delta-seconds and (for robustness) an HTTP date."""
    if not value:
        return None
    seconds = as_float(value.strip())
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _seconds_phrase(seconds: float | None) -> str:
    if seconds is None:
        return "in a minute"
    if seconds < 1.5:
        return "in a moment"
    if seconds < 90:
        return f"in about {round(seconds)} seconds"
    return f"in about {round(seconds / 60)} minutes"


def rate_limit_message(retry_after: float | None) -> str:
    """User wording for a rate limit, naming when to try again."""
    return f"Venice is busy right now — please try again {_seconds_phrase(retry_after)}."


def stream_error_message(code: str | None, retry_after: float | None) -> str:
    """User wording for a stream that failed partway."""
    if code in {"model_overloaded", "rate_limit_exceeded"}:
        return f"Venice got overloaded partway through the reply — try again {_seconds_phrase(retry_after)}."
    return "Venice stopped partway through the reply — please try again."


def _model_message(model: str | None, status: int) -> str:
    name = f"“{model}”" if model else "That model"
    if status == 503:
        return f"{name} is offline or at capacity on Venice — try again shortly or pick another model."
    if status == 410:
        return f"{name} has been retired by Venice — an admin can pick another model in /settings."
    return f"{name} is not available on Venice — an admin can pick another model in /settings."


def error_from_response(
    status: int,
    body: bytes | str | Mapping[str, Any] | None,
    headers: Mapping[str, str] | None = None,
    *,
    model: str | None = None,
) -> VeniceError:
    """Map an HTTP error response to the matching `VeniceError` (with `retryable` set)."""
    headers = headers or {}
    info = parse_error_body(body)
    cf_ray = headers.get("CF-RAY") or headers.get("cf-ray")
    code = info.code
    detail = info.message or info.details
    log_text = f"Venice HTTP {status}" + (f" {code}" if code else "") + (f": {detail}" if detail else "")
    if info.details and info.message and info.details not in info.message:
        log_text += f" ({info.details})"
    common: dict[str, Any] = {"status": status, "code": code, "cf_ray": cf_ray}
    upper = (code or "").upper()

    if status == 400 or status in {413, 415}:
        return _bad_request(log_text, info, common)
    if status in {401, 403}:
        if upper == "PRO_ONLY_MODEL":
            msg = "That model needs a Venice Pro account — tell the bot's operator."
            return AuthError(log_text, user_message=msg, **common)
        return AuthError(log_text, **common)
    if status == 402:
        if "SPEND_LIMIT" in upper:
            msg = "The bot's Venice key reached its spending limit — tell the bot's operator."
            return BalanceError(log_text, user_message=msg, **common)
        return BalanceError(log_text, **common)
    if status == 404:
        text = (detail or "").lower()
        if upper == "CHARACTER_NOT_FOUND" or (upper != "MODEL_NOT_FOUND" and "character" in text):
            msg = "That Venice character could not be found — it may have been removed."
            return NotFoundError(log_text, user_message=msg, **common)
        if upper == "MODEL_NOT_FOUND" or model is not None:
            msg = _model_message(model, 404)
            return ModelUnavailableError(log_text, model=model, user_message=msg, **common)
        return NotFoundError(log_text, **common)
    if status == 410:
        return ModelUnavailableError(log_text, model=model, user_message=_model_message(model, 410), **common)
    if status == 422:
        if upper == "IMAGE_TOO_LARGE":
            return BadRequestError(log_text, user_message="That image is too large for Venice.", **common)
        return ContentPolicyError(log_text, rule="venice_422", **common)
    if status == 429:
        wait = parse_retry_after(headers.get("Retry-After") or headers.get("retry-after"))
        wait = wait if wait is not None else info.retry_after
        return RateLimitError(
            log_text, user_message=rate_limit_message(wait), retryable=True, retry_after=wait, **common
        )
    if status == 503 and upper in {"MODEL_OFFLINE", "MODEL_AT_CAPACITY"}:
        wait = parse_retry_after(headers.get("Retry-After") or headers.get("retry-after"))
        return ModelUnavailableError(
            log_text,
            model=model,
            user_message=_model_message(model, 503),
            retryable=True,
            retry_after=wait,
            **common,
        )
    if status >= 500:
        wait = parse_retry_after(headers.get("Retry-After") or headers.get("retry-after"))
        return ServerError(log_text, retryable=status in {500, 502, 503, 504}, retry_after=wait, **common)
    return VeniceError(log_text, **common)


def _bad_request(log_text: str, info: ErrorBody, common: dict[str, Any]) -> BadRequestError:
    code = (info.code or "").lower()
    if code in {"context_length_exceeded", "too_many_tokens"}:
        msg = (
            "The conversation is too long for this model — start fresh with /reset "
            "or ask an admin for a model with a bigger context."
        )
        return BadRequestError(log_text, user_message=msg, **common)
    if common["status"] == 413:
        return BadRequestError(log_text, user_message="That is too large for Venice to accept.", **common)
    detail = info.details or info.message
    msg = "Venice could not accept that request"
    msg += f": {detail[:150]}" if detail and detail != "Invalid request parameters" else "."
    return BadRequestError(log_text, user_message=msg, **common)
