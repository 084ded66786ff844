"""Types and small helpers shared by the fake Discord's REST handlers, gateway and drivers."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

API_PREFIX = "/api/v10"


@dataclass
class Recorded:
    """One REST request the fake served.

    ``path`` is relative to ``/api/v10`` and has no query string; ``json`` is the JSON body, or
    the ``payload_json`` part of a multipart body; ``files`` holds ``(field name, filename, bytes)``
    for every uploaded file, in the order they were sent.
    """

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[tuple[str, str, bytes]]
    headers: dict[str, str]
    route: str | None = None
    status: int = 0
    response: Any = None

    def __repr__(self) -> str:
        files = [(name, filename, len(data)) for name, filename, data in self.files]
        return f"<Recorded {self.method} {self.path} {self.query or ''} -> {self.status} files={files}>"


@dataclass
class Reply:
    """A handler's answer when it is not a plain ``200`` with a JSON body."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


NO_CONTENT = Reply(204)


class DiscordError(Exception):
    """Raised by handlers to answer with Discord's JSON error body (``{"message", "code"}``)."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message


def not_found(what: str, code: int) -> DiscordError:
    """Discord's 404 for an unknown object, e.g. ``not_found("Channel", 10003)``."""
    return DiscordError(404, code, f"Unknown {what}")


MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013
INVALID_FORM_BODY = 50035


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response with ``Content-Type`` exactly ``application/json``.

    discord.py only decodes JSON when the header is exactly that (``discord.http.json_or_text``);
    ``web.json_response`` appends ``; charset=utf-8`` and the library then crashes on a ``str``.
    """
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(body=json.dumps(body).encode(), status=status, headers=all_headers)


@dataclass
class Incoming:
    """A parsed REST request as handlers see it."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[tuple[str, str, bytes]]
    headers: dict[str, str]
    content_type: str
    file_types: dict[str, str] = field(default_factory=dict)  # multipart field name -> part Content-Type

    def body(self) -> dict[str, Any]:
        """The JSON object body, or ``{}`` when there was none (handlers read fields with ``.get``)."""
        return self.json if isinstance(self.json, dict) else {}


Handler = Callable[..., Awaitable[Any]]


class Router:
    """Maps ``(method, path)`` to a handler by path template, preferring literal segments.

    Templates look like OpenAPI paths (``/channels/{channel_id}/messages/{message_id}``); a
    template with more literal segments wins, so ``/messages/@original`` beats ``/messages/{id}``.
    """

    def __init__(self) -> None:
        self._routes: list[tuple[int, str, str, re.Pattern[str], Handler]] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        literal = sum(1 for seg in template.split("/") if seg and not seg.startswith("{"))
        self._routes.append((literal, method, template, template_regex(template), handler))
        self._routes.sort(key=lambda r: -r[0])

    def resolve(self, method: str, path: str) -> tuple[str, Handler, dict[str, str]] | None:
        for _, m, template, regex, handler in self._routes:
            match = regex.fullmatch(path)
            if match and m == method:
                return template, handler, match.groupdict()
        return None


def template_regex(template: str) -> re.Pattern[str]:
    """A regex with one named group per ``{param}`` of an OpenAPI path template."""
    parts = re.split(r"(\{[^}]+\})", template)
    pattern = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(pattern)


def route(method: str, template: str) -> Callable[[Handler], Handler]:
    """Decorator: mark an ``async def handler(fake, req, **path_params)`` for the default router."""

    def mark(handler: Handler) -> Handler:
        handler.__dict__.setdefault("_routes", []).append((method, template))
        return handler

    return mark


def collect_routes(router: Router, *modules: Any) -> None:
    """Add every handler marked with :func:`route` in ``modules`` to ``router``."""
    for module in modules:
        for obj in vars(module).values():
            for method, template in getattr(obj, "_routes", []):
                router.add(method, template, obj)

