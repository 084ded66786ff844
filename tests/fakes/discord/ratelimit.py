"""Rate-limit simulation: per-route buckets with Discord's headers, so a bench can prove zero 429s.

Off by default. When on, every limited response carries ``X-RateLimit-Limit/Remaining/Reset/
Reset-After/Bucket``; discord.py reads them and waits before a bucket runs dry, so a well-behaved
bot never sees a 429. A request past the limit gets a real-looking 429: JSON
``{"message", "retry_after", "global"}`` plus a ``Via`` header (without ``Via`` discord.py takes a
429 for a Cloudflare ban and raises instead of waiting).

Buckets are keyed like Discord's: method + route template + the "major" parameters (channel,
guild, webhook id and token). Interaction callbacks are not limited (Discord exempts them).
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field

MAJOR_PARAMETERS = ("channel_id", "guild_id", "webhook_id", "webhook_token")


@dataclass(frozen=True)
class Rule:
    """At most ``limit`` requests per ``per`` seconds in one bucket."""

    limit: int
    per: float


# Discord does not publish per-route numbers; these are the commonly observed ones (see
# ../shared/reference/discord-platform.md §3-§4): ~5 per 5 s for messages, ~5 per 2 s per webhook.
DEFAULT_RULE = Rule(5, 5.0)
DEFAULT_OVERRIDES: list[tuple[str | None, str, Rule]] = [
    ("POST", r"/webhooks/\{webhook_id\}/\{webhook_token\}", Rule(5, 2.0)),
]


@dataclass
class _Window:
    started: float
    count: int = 0


@dataclass
class RateLimiter:
    """Counts requests per bucket and global; decides who gets a 429."""

    enabled: bool = False
    default: Rule = DEFAULT_RULE
    overrides: list[tuple[str | None, str, Rule]] = field(default_factory=lambda: list(DEFAULT_OVERRIDES))
    global_per_second: int = 50
    served_429: int = 0
    _windows: dict[tuple[str, ...], _Window] = field(default_factory=dict)
    _global: _Window = field(default_factory=lambda: _Window(0.0))

    def enable(self, default: Rule | None = None,
               overrides: list[tuple[str | None, str, Rule]] | None = None,
               global_per_second: int | None = None) -> None:
        """Turn limiting on; ``overrides`` are ``(method or None, template regex, Rule)``."""
        self.enabled = True
        if default is not None:
            self.default = default
        if overrides is not None:
            self.overrides = overrides
        if global_per_second is not None:
            self.global_per_second = global_per_second
        self._windows.clear()

    def disable(self) -> None:
        """Turn limiting off (and forget all buckets)."""
        self.enabled = False
        self._windows.clear()

    def rule_for(self, method: str, template: str) -> Rule:
        """The rule that applies to a route."""
        for m, pattern, rule in self.overrides:
            if (m is None or m == method) and re.fullmatch(pattern, template):
                return rule
        return self.default

    def check(self, method: str, template: str, params: dict[str, str],
              authenticated: bool) -> tuple[dict[str, str], dict[str, object] | None]:
        """Count one request: ``(headers, None)`` if it may pass, ``(headers, 429 body)`` if not."""
        if not self.enabled or template.startswith("/interactions/"):
            return {}, None
        now = time.monotonic()
        if authenticated and self.global_per_second:
            # Only bot-token requests count against the global limit (webhook tokens do not).
            if now - self._global.started >= 1.0:
                self._global = _Window(now)
            if self._global.count >= self.global_per_second:
                retry = round(1.0 - (now - self._global.started), 3)
                return self._too_many(retry, is_global=True, headers={"X-RateLimit-Global": "true",
                                                                      "X-RateLimit-Scope": "global"})
            self._global.count += 1
        rule = self.rule_for(method, template)
        key = (method, template, *(params.get(p, "") for p in MAJOR_PARAMETERS))
        window = self._windows.get(key)
        if window is None or now - window.started >= rule.per:
            window = self._windows[key] = _Window(now)
        reset_after = max(rule.per - (now - window.started), 0.001)
        headers = {
            "X-RateLimit-Limit": str(rule.limit),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": hashlib.sha1(f"{method} {template}".encode()).hexdigest()[:16],
        }
        if window.count >= rule.limit:
            if authenticated and self.global_per_second:
                self._global.count -= 1  # a rejected request did not use global capacity
            headers["X-RateLimit-Remaining"] = "0"
            headers["X-RateLimit-Scope"] = "user"
            return self._too_many(round(reset_after, 3), is_global=False, headers=headers)
        window.count += 1
        headers["X-RateLimit-Remaining"] = str(rule.limit - window.count)
        return headers, None

    def _too_many(self, retry_after: float, *, is_global: bool,
                  headers: dict[str, str]) -> tuple[dict[str, str], dict[str, object]]:
        self.served_429 += 1
        headers = headers | {"Retry-After": f"{max(retry_after, 0.001):.3f}", "Via": "1.1 google"}
        body = {"message": "You are being rate limited.", "retry_after": max(retry_after, 0.001),
                "global": is_global, "code": 0}
        return headers, body
