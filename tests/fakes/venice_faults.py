"""Scripted misbehaviour for the fake Venice: what can go wrong, and Venice's usual error bodies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = ["DEFAULT_BODIES", "FAULT_KEY", "Fault"]

DEFAULT_BODIES: dict[int, dict[str, Any]] = {
    400: {"error": "Invalid request parameters", "details": {"_errors": ["bad input"]}},
    401: {"error": "Authentication failed", "code": "AUTHENTICATION_FAILED"},
    402: {"error": "Insufficient USD or Diem balance to complete request", "code": "INSUFFICIENT_BALANCE"},
    403: {"error": "Access to this model is restricted", "code": "UNAUTHORIZED"},
    404: {"error": "The requested model could not be found", "code": "MODEL_NOT_FOUND"},
    410: {"error": "This model has been retired"},
    422: {"error": "Your prompt violates the content policy of Venice.ai or the model provider"},
    429: {"error": "Rate limit exceeded", "code": "RATE_LIMIT_EXCEEDED"},
    500: {"error": "Inference processing failed", "code": "INFERENCE_FAILED"},
    502: {"error": "Bad gateway"},
    503: {"error": "The model is at capacity. Please try again later.", "code": "MODEL_AT_CAPACITY"},
    504: {"error": "The request took too long to complete", "code": "REQUEST_TIMEOUT"},
}


@dataclass
class Fault:
    """One scripted misbehaviour; consumed once per matching request, `times` times.

    kinds:
    - "status": answer `status` with `body` (Venice's usual body by default) and `headers`;
      `retry_after` adds a Retry-After header;
    - "hang": sleep `seconds` (longer than the client's timeout) before answering;
    - "garbage": 200 with invalid JSON;
    - "midstream_error": `after` deltas, then an in-band error chunk with `code` and `retry_after`;
    - "drop": close the connection after `after` deltas (or part of a JSON body);
    - "content_violation" / "adult_violation" / "contains_minor": image safety headers set;
    - "content_filter": chat ends with finish_reason content_filter after `after` deltas.
    """

    kind: str = "status"
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    seconds: float = 30.0
    after: int = 2
    code: str = "model_overloaded"
    retry_after: float | None = None

    def __post_init__(self) -> None:
        if self.kind == "status" and self.retry_after is not None:
            self.headers.setdefault("Retry-After", f"{self.retry_after:g}")

    @classmethod
    def http(cls, status: int, body: Any = None, *, headers: dict[str, str] | None = None, times: int = 1) -> Fault:
        """An HTTP error answer; the body defaults to Venice's usual one for that status."""
        return cls("status", status=status, body=body, headers=dict(headers or {}), times=times)

    @classmethod
    def rate_limited(cls, retry_after: float | None = 1.0, *, times: int = 1) -> Fault:
        """429, with `Retry-After` in seconds when given."""
        return cls("status", status=429, retry_after=retry_after, times=times)

    @classmethod
    def hang(cls, seconds: float = 30.0, *, times: int = 1) -> Fault:
        """Wait longer than the client's timeout before answering."""
        return cls("hang", seconds=seconds, times=times)

    @classmethod
    def of(cls, kind: str, *, times: int = 1, **kwargs: Any) -> Fault:
        """Any other kind, e.g. `Fault.of("drop", after=3)`."""
        return cls(kind, times=times, **kwargs)


# The fake's middleware stores the fault it took for a request under this key.
FAULT_KEY = web.RequestKey("fault", Fault)
