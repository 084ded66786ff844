"""A local fake of the Venice API (aiohttp on 127.0.0.1) for tests.

Every request is recorded, checked for `Authorization: Bearer <key>`, and validated against
Venice's own OpenAPI description (../shared/venice/swagger.yaml): an invalid body or query gets
Venice's 400 validation shape and is kept in `fake.violations`, so a suite can assert that the
client never sent anything Venice would reject.

Scripting: `fake.reply_text`, `fake.replies` (one per chat call), `fake.reasoning_text`,
`fake.chat_delay`, `fake.chunk_delay`, `fake.context_tokens[model] = n`, `fake.offline.add(model)`,
and `fake.inject(path_prefix, Fault...)` for one-shot (or `times`-shot) faults.

The content judge's requests (a JSON-schema `response_format` named by `bot.judge.prompt`) are
answered by `fake.judge` from documented rules, recorded in `fake.judge.calls`, and take their own
faults (`fake.judge.inject(...)`): see `tests/fakes/venice_judge.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.fakes.openapi_validate import VENICE_SWAGGER, OpenAPIValidator
from tests.fakes.venice_chat import ChatHandler
from tests.fakes.venice_data import STATIC_MODELS, STYLES, build_characters, build_models
from tests.fakes.venice_faults import DEFAULT_BODIES, FAULT_KEY, Fault
from tests.fakes.venice_images import ImageHandler
from tests.fakes.venice_judge import JudgeHandler
from tests.fakes.venice_media import MediaHandler, form_fields

__all__ = ["API_PREFIX", "FAULT_KEY", "FakeVenice", "Fault", "RecordedRequest", "Violation"]

API_PREFIX = "/api/v1"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class RecordedRequest:
    """What the client sent (path is relative to /api/v1)."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    json: Any
    body: bytes


@dataclass(frozen=True)
class Violation:
    """A request the OpenAPI description rejects."""

    method: str
    path: str
    errors: list[str]


class FakeVenice:
    """The fake server. `await start()` returns the base URL ending in /api/v1."""

    def __init__(self, api_key: str = "test-venice-key", *, swagger: Path = VENICE_SWAGGER) -> None:
        for needed in (swagger, STATIC_MODELS):
            if not needed.exists():
                pytest.skip(f"{needed} is not beside this checkout (../shared is provided on project machines)")
        self.api_key = api_key
        self.validator = OpenAPIValidator.from_file(swagger)
        self.models: list[dict[str, Any]] = build_models()
        self.styles: list[str] = list(STYLES)
        self.characters: list[dict[str, Any]] = build_characters()
        self.context_tokens: dict[str, int] = {}
        self.offline: set[str] = set()
        self.reply_text: str | None = None
        self.replies: deque[str] = deque()
        self.reasoning_text: str | None = None
        self.chat_delay = 0.0
        self.chunk_delay = 0.0
        self.sse_newline = "\n"
        self.balance_usd = 25.0
        self.requests: list[RecordedRequest] = []
        self.violations: list[Violation] = []
        self._faults: list[tuple[str, Fault]] = []
        self._stopping = asyncio.Event()
        self._server: TestServer | None = None
        self.chat = ChatHandler(self)
        self.images = ImageHandler(self)
        self.judge = JudgeHandler(self)
        self.media = MediaHandler(self)  # speech, transcription, image edit (venice_media.py)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> str:
        """Start listening on 127.0.0.1 (a free port); return the API base URL."""
        app = web.Application(middlewares=[self._middleware], client_max_size=40 * 1024 * 1024)
        app.on_response_prepare.append(self._add_headers)
        routes = [
            ("GET", "/models", self._models),
            ("GET", "/image/styles", self._styles),
            ("POST", "/chat/completions", self.chat.handle),
            ("POST", "/image/generate", self.images.generate),
            ("POST", "/image/upscale", self.images.upscale),
            ("GET", "/characters", self._characters),
            ("GET", "/characters/{slug}", self._character),
            *self.media.routes,
        ]
        for method, path, handler in routes:
            app.router.add_route(method, API_PREFIX + path, handler)
        self._server = TestServer(app, host="127.0.0.1", port=0, handler_cancellation=True)
        await self._server.start_server()
        return self.base_url

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>/api/v1`."""
        assert self._server is not None, "call start() first"
        return str(self._server.make_url(API_PREFIX))

    async def close(self) -> None:
        """Stop the server; hanging handlers are released first so shutdown is quick."""
        self._stopping.set()
        if self._server is not None:
            await self._server.close()

    async def __aenter__(self) -> FakeVenice:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- scripting and inspection ------------------------------------------------------------

    def inject(self, path_prefix: str, fault: Fault) -> None:
        """Queue a fault for requests whose path (relative to /api/v1) starts with `path_prefix`."""
        self._faults.append((path_prefix, fault))

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests for exactly `path` (and `method`, if given)."""
        return [r for r in self.requests if r.path == path and (method is None or r.method == method)]

    def count(self, path: str, method: str | None = None) -> int:
        """How many requests reached `path`."""
        return len(self.requests_to(path, method))

    def model(self, model_id: str) -> dict[str, Any] | None:
        """A catalogue entry (text or image) by id or trait name."""
        for m in self.models:
            if m["id"] == model_id or model_id in m.get("model_spec", {}).get("traits", []):
                return m
        return None

    async def pause(self, seconds: float) -> None:
        """Sleep, but wake at once when the server is closing."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    # -- plumbing ----------------------------------------------------------------------------

    def _take_fault(self, path: str) -> Fault | None:
        for i, (prefix, fault) in enumerate(self._faults):
            if path.startswith(prefix):
                fault.times -= 1
                if fault.times <= 0:
                    del self._faults[i]
                return fault
        return None

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path.removeprefix(API_PREFIX)
        raw = await request.read()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                # Multipart forms are validated as the JSON their schema describes (files as strings).
                body = form_fields(raw, request.headers.get("Content-Type", ""))
        self.requests.append(
            RecordedRequest(request.method, path, list(request.query.items()), dict(request.headers), body, raw)
        )
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"error": "Authentication failed"}, status=401)
        errors = self._validate(request, path, raw, body)
        if errors:
            self.violations.append(Violation(request.method, path, errors))
            return web.json_response(_validation_body(errors), status=400)
        fault = self._take_fault(path)
        if fault is not None:
            request[FAULT_KEY] = fault
            answer = await self._apply_fault(request, fault, body)
            if answer is not None:
                return answer
        return await handler(request)

    def _validate(self, request: web.Request, path: str, raw: bytes, body: Any) -> list[str]:
        if request.method in {"POST", "PUT", "PATCH"}:
            if raw and body is None:
                return ["body is not valid JSON"]
            content_type = request.headers.get("Content-Type", "application/json")
            return self.validator.validate_request(request.method, path, body, content_type=content_type)
        return self.validator.validate_query(request.method, path, list(request.query.items()))

    async def _apply_fault(self, request: web.Request, fault: Fault, body: Any) -> web.StreamResponse | None:
        if fault.kind == "status":
            body = fault.body if fault.body is not None else DEFAULT_BODIES.get(fault.status, {"error": "Error"})
            text = body if isinstance(body, str) else json.dumps(body)
            return web.Response(text=text, status=fault.status, headers=fault.headers, content_type="application/json")
        if fault.kind == "hang":
            await self.pause(fault.seconds)
            return None
        if fault.kind == "garbage":
            return web.Response(text='{"choices": [ this is not json', content_type="application/json")
        streaming = isinstance(body, dict) and body.get("stream") is True
        if fault.kind == "drop" and not streaming:
            resp = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": "4096"})
            await resp.prepare(request)
            await resp.write(b'{"data": [')
            assert request.transport is not None
            request.transport.close()
            return resp
        return None  # kinds the endpoint handlers act on

    async def _add_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        # Headers the live API sends on every answer (venice-api.md §6.3, §6.4).
        response.headers.setdefault("CF-RAY", secrets.token_hex(8) + "-LHR")
        response.headers.setdefault("x-venice-balance-usd", f"{self.balance_usd:.4f}")
        response.headers.setdefault("x-venice-balance-diem", "0.0000")
        response.headers.setdefault("x-ratelimit-limit-requests", "50")
        response.headers.setdefault("x-ratelimit-remaining-requests", str(max(0, 50 - len(self.requests))))
        response.headers.setdefault("x-ratelimit-reset-requests", "1767225600")
        response.headers.setdefault("x-ratelimit-type", "api_key")

    # -- catalogue endpoints ----------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.Response:
        kind = request.query.get("type", "text")
        data = []
        for model in self.models:
            spec = model.get("model_spec", {})
            wanted = kind == "all" or model["type"] == kind
            if kind == "code":
                wanted = model["type"] == "text" and spec.get("capabilities", {}).get("optimizedForCode") is True
            if not wanted:
                continue
            entry = json.loads(json.dumps(model))
            if model["id"] in self.context_tokens:
                entry["model_spec"]["availableContextTokens"] = self.context_tokens[model["id"]]
                entry["context_length"] = self.context_tokens[model["id"]]
            entry["model_spec"]["offline"] = model["id"] in self.offline
            data.append(entry)
        return web.json_response({"object": "list", "type": kind, "data": data})

    async def _styles(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": self.styles})

    async def _characters(self, request: web.Request) -> web.Response:
        q = request.query
        adult = q.get("isAdult") == "true"  # exclusive filter, as at Venice
        items = [c for c in self.characters if c["adult"] == adult]
        search = (q.get("search") or "").strip().lower()
        if search.startswith("#"):
            items = [c for c in items if any(t.lower() == search[1:] for t in c["tags"])]
        elif search:
            items = [c for c in items if search in f"{c['name']} {c['description']} {' '.join(c['tags'])}".lower()]
        tags = {t.strip().lower() for v in q.getall("tags", []) for t in v.split(",") if t.strip()}
        if tags:
            items = [c for c in items if tags & {t.lower() for t in c["tags"]}]
        items = _sorted_characters(items, q.get("sortBy"), q.get("sortOrder", "desc"))
        offset, limit = int(q.get("offset", "0")), int(q.get("limit", "50"))
        return web.json_response({"object": "list", "data": items[offset : offset + limit]})

    async def _character(self, request: web.Request) -> web.Response:
        slug = request.match_info["slug"]
        for c in self.characters:
            if slug in (c["slug"], c["id"]):
                return web.json_response({"object": "character", "data": c})
        return web.json_response({"error": "Character not found"}, status=404)


def _sorted_characters(items: list[dict[str, Any]], sort_by: str | None, order: str) -> list[dict[str, Any]]:
    keys: dict[str, Callable[[dict[str, Any]], Any]] = {
        "highestRating": lambda c: c["stats"]["averageRating"],
        "highlyRated": lambda c: c["stats"]["averageRating"],
        "imports": lambda c: c["stats"]["imports"],
        "ratingCount": lambda c: c["stats"]["ratingCount"],
        "mostRecent": lambda c: c["createdAt"],
        "featured": lambda c: (c["featured"], c["stats"]["imports"]),
    }
    key = keys.get(sort_by or "featured", keys["featured"])
    return sorted(items, key=key, reverse=order != "asc")


def _validation_body(errors: list[str]) -> dict[str, Any]:
    """Venice's 400 shape: zod-style `details` plus a flat `issues` list."""
    details: dict[str, Any] = {"_errors": []}
    for error in errors:
        where, _, message = error.partition(": ")
        if where in {"<root>", ""} or not message:
            details["_errors"].append(message or error)
        else:
            details.setdefault(where.replace("/", "."), {"_errors": []})["_errors"].append(message)
    issues = [{"message": e} for e in errors]
    return {"error": "Invalid request parameters", "details": details, "issues": issues}
