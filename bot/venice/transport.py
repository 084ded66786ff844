"""HTTP plumbing for the Venice client: one session, auth, timeouts, retries, header bookkeeping.

Retry policy (DESIGN §8): only 429, 5xx and timeouts/connection failures are retried, with
exponential backoff and full jitter, honouring `Retry-After`. A streamed response is never sent
again once its body has started to arrive.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp

from bot.config import Secret

from .errors import AuthError, ServerError, VeniceError, VeniceTimeout, error_from_response
from .types import Balance, RateLimitInfo

__all__ = ["Reply", "Timeouts", "Transport"]

log = logging.getLogger("bot.venice")

T = TypeVar("T")
NO_KEY_MESSAGE = "The bot has no Venice key set up — tell the bot's operator."
OnWait = Callable[[float], Awaitable[None]]
Sleep = Callable[[float], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds allowed per kind of call.

    `stream_read` is the longest silence tolerated between two chunks of a streamed reply; a
    stream has no total limit because a long story may legitimately take minutes.
    """

    connect: float = 15.0
    catalogue: float = 15.0
    chat: float = 120.0
    stream_read: float = 60.0
    image: float = 180.0
    upscale: float = 120.0
    audio: float = 120.0

    def total(self, seconds: float) -> aiohttp.ClientTimeout:
        """A whole-request timeout that also bounds connecting."""
        return aiohttp.ClientTimeout(total=seconds, sock_connect=min(self.connect, seconds))

    def stream(self) -> aiohttp.ClientTimeout:
        """A timeout for streams: bounded connect and per-read silence, unbounded total."""
        return aiohttp.ClientTimeout(total=None, sock_connect=self.connect, sock_read=self.stream_read)


@dataclass(frozen=True, slots=True)
class Reply:
    """A fully read HTTP response."""

    status: int
    headers: Mapping[str, str]  # case-insensitive (aiohttp's CIMultiDict)
    body: bytes


class Transport:
    """Sends requests to Venice; owns (or borrows) the aiohttp session and the retry loop."""

    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        session: aiohttp.ClientSession | None,
        max_retries: int,
        backoff_base: float,
        backoff_cap: float,
        sleep: Sleep,
        rng: random.Random | None = None,
    ) -> None:
        # An empty key is allowed at construction (services are built before settings are
        # complete in some commands); requests then fail with AuthError without leaving the host.
        self._key = Secret((api_key or "").strip())
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._own_session = session is None
        self.max_retries = max(0, max_retries)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.last_balance: Balance | None = None
        self.last_rate_limit: RateLimitInfo | None = None
        self._warned_deprecations: set[str] = set()

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r}, api_key=<hidden>)"

    async def session(self) -> aiohttp.ClientSession:
        """The session, created on first use so it belongs to the running event loop."""
        if not self._key.get():
            raise AuthError("no Venice API key configured", user_message=NO_KEY_MESSAGE)
        if self._session is None or (self._own_session and self._session.closed):
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        """Close the session if this transport created it."""
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()

    def url(self, path: str) -> str:
        """Absolute URL for an API path such as `/models`."""
        return self.base_url + path

    def headers(self, accept: str = "application/json") -> dict[str, str]:
        """Per-request headers; auth is set per request so a shared session carries no key."""
        return {
            "Authorization": f"Bearer {self._key.get()}",
            "Accept": accept,
            "User-Agent": "lustify-bot (discord.py; +venice)",
        }

    def backoff(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before retry number `attempt + 1`, or None to stop retrying.

        A `Retry-After` beyond the cap means Venice wants a longer pause than a Discord user will
        sit through, so the caller gets a RateLimitError that names the wait instead.
        """
        if retry_after is not None:
            return None if retry_after > self.backoff_cap else retry_after
        return self._rng.uniform(0.0, min(self.backoff_cap, self.backoff_base * (2**attempt)))

    async def run(self, attempt: Callable[[], Awaitable[T]], *, what: str, on_wait: OnWait | None = None) -> T:
        """Call `attempt` until it succeeds, retrying only errors marked retryable."""
        tries = 0
        while True:
            try:
                return await attempt()
            except VeniceError as err:
                if not err.retryable or tries >= self.max_retries:
                    raise
                wait = self.backoff(tries, err.retry_after)
                if wait is None:
                    raise
                tries += 1
                log.info("Venice %s: %s; retry %d/%d in %.1fs", what, err, tries, self.max_retries, wait)
                if on_wait is not None:
                    await on_wait(wait)
                await self._sleep(wait)

    def note_headers(self, headers: Mapping[str, str]) -> None:
        """Remember balance and rate-limit headers; warn once per deprecated model."""
        balance = Balance.from_headers(headers)
        if balance is not None:
            self.last_balance = balance
        limits = RateLimitInfo.from_headers(headers)
        if limits is not None:
            self.last_rate_limit = limits
        warning = headers.get("x-venice-model-deprecation-warning")
        if warning and warning not in self._warned_deprecations:
            self._warned_deprecations.add(warning)
            log.warning("Venice deprecation: %s (date %s)", warning, headers.get("x-venice-model-deprecation-date"))

    def fail(self, what: str, status: int, body: bytes, headers: Mapping[str, str], model: str | None) -> VeniceError:
        """Build (and log, with CF-RAY) the error for an HTTP error response."""
        key = self._key.get().encode()
        if key and key in body:
            # Some gateways echo the rejected key; it must not reach logs or Discord.
            body = body.replace(key, b"<redacted>")
        err = error_from_response(status, body, headers, model=model)
        log.warning("Venice %s failed: %s (cf-ray %s)", what, err, err.cf_ray or "-")
        return err

    async def fetch(
        self,
        method: str,
        path: str,
        *,
        client_timeout: aiohttp.ClientTimeout,
        json: Any = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        params: list[tuple[str, str]] | None = None,
        model: str | None = None,
        accept: str = "application/json",
        on_wait: OnWait | None = None,
    ) -> Reply:
        """Send a request with retries and return the fully read successful response.

        `form` builds a multipart body; it is a factory because aiohttp consumes a FormData
        once, and a retry needs a fresh one.
        """
        what = f"{method} {path}"

        async def attempt() -> Reply:
            session = await self.session()
            try:
                async with session.request(
                    method,
                    self.url(path),
                    json=json,
                    data=form() if form is not None else None,
                    params=params,
                    headers=self.headers(accept),
                    timeout=client_timeout,
                ) as resp:
                    body = await resp.read()
                    reply = Reply(resp.status, resp.headers.copy(), body)
            except TimeoutError:
                raise VeniceTimeout(f"{what} timed out", retryable=True) from None
            except aiohttp.ClientError as exc:
                raise unreachable(what, exc) from None
            self.note_headers(reply.headers)
            if reply.status >= 400:
                raise self.fail(what, reply.status, reply.body, reply.headers, model)
            return reply

        return await self.run(attempt, what=what, on_wait=on_wait)

    async def open_stream(
        self,
        path: str,
        *,
        json: Any,
        model: str | None,
        client_timeout: aiohttp.ClientTimeout,
        on_wait: OnWait | None = None,
    ) -> tuple[aiohttp.ClientResponse, bytes]:
        """POST and wait for the first body bytes, retrying only up to that point.

        Returns the open response and its first chunk; the caller must close the response.
        """
        what = f"POST {path} (stream)"

        async def attempt() -> tuple[aiohttp.ClientResponse, bytes]:
            session = await self.session()
            try:
                resp = await session.request(
                    "POST", self.url(path), json=json, headers=self.headers("text/event-stream"), timeout=client_timeout
                )
            except TimeoutError:
                raise VeniceTimeout(f"{what} timed out", retryable=True) from None
            except aiohttp.ClientError as exc:
                raise unreachable(what, exc) from None
            self.note_headers(resp.headers)
            try:
                if resp.status >= 400:
                    body = await resp.read()
                    raise self.fail(what, resp.status, body, resp.headers, model)
                first = await resp.content.readany()
            except TimeoutError:
                resp.close()
                raise VeniceTimeout(f"{what} timed out before the first byte", retryable=True) from None
            except aiohttp.ClientError as exc:
                resp.close()
                raise unreachable(what, exc) from None
            except BaseException:
                resp.close()
                raise
            if not first:
                resp.close()
                raise ServerError(f"{what}: empty response body", retryable=True)
            return resp, first

        return await self.run(attempt, what=what, on_wait=on_wait)


def unreachable(what: str, exc: BaseException) -> ServerError:
    """A retryable error for a failed connection; keeps only the exception's class name.

    aiohttp's response errors carry the request headers (with the key) in `request_info`, so the
    original exception is deliberately not chained.
    """
    return ServerError(
        f"{what}: connection failed ({type(exc).__name__})",
        user_message="Could not reach Venice — please try again in a moment.",
        retryable=True,
    )
