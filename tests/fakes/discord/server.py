"""``FakeDiscord``: a local Discord (REST + gateway) on 127.0.0.1 for the real bot to talk to.

Point discord.py at it with ``discord.http.Route.BASE = await fake.start()`` (in production:
``DISCORD_API_BASE``). Every REST request is recorded, checked against Discord's OpenAPI
description, answered from the in-memory world, and - where Discord would - reported back over
the gateway that ``AutoShardedBot`` finds through ``GET /gateway/bot``.

The waiting methods take a ``timeout`` argument (hence the ASYNC109 noqa): on expiry they fail
with an AssertionError that lists the last requests, which a bare ``asyncio.timeout`` cannot.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.test_utils import TestServer

from . import rest_apps, rest_channels, rest_interactions
from .builders import WorldBuilders
from .common import API_PREFIX, DiscordError, Incoming, Recorded, Reply, Router, collect_routes, json_response
from .drivers import Drivers
from .gateway import Gateway
from .openapi import SPEC_PATH, Problem, checker_for
from .ratelimit import RateLimiter, Rule
from .state import World

log = logging.getLogger(__name__)

# Routes authenticated by the token in the URL, not by "Authorization: Bot ...".
_TOKEN_ROUTE = re.compile(r"/interactions/\d+/[^/]+/callback|/webhooks/\d+/[^/]+(/.*)?")


class FakeDiscord(WorldBuilders, Drivers):
    """A fake Discord server. Use ``async with FakeDiscord() as fake`` or ``start()``/``close()``.

    ``validate``: check requests against openapi.json (needs ``../shared/discord/openapi.json``).
    ``reject_invalid``: answer body/limit violations with 400 Invalid Form Body, like Discord
    (they are recorded in ``violations`` either way). ``token``: if set, only this bot token is
    accepted (REST 401, gateway close 4004). ``shards``: what ``GET /gateway/bot`` recommends.
    ``echo_messages``: send MESSAGE_CREATE/UPDATE for the bot's own messages, as Discord does.
    """

    def __init__(self, *, validate: bool = True, reject_invalid: bool = True, token: str | None = None,
                 shards: int = 1, heartbeat_interval: float = 41.25, echo_messages: bool = True,
                 spec_path: Path = SPEC_PATH) -> None:
        self.reject_invalid = reject_invalid
        self.token = token
        self.echo_messages = echo_messages
        self.world = World(lambda: self.base_url)
        self.gateway = Gateway(self, shard_count=shards, heartbeat_interval_ms=int(heartbeat_interval * 1000))
        self.rate_limits = RateLimiter()
        self.checker = checker_for(spec_path) if validate else None
        self.requests: list[Recorded] = []
        self.rate_limited: list[Recorded] = []
        self.unhandled: list[Recorded] = []
        self.violations: list[str] = []
        self._router = Router()
        collect_routes(self._router, rest_apps, rest_channels, rest_interactions)
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self._server: TestServer | None = None

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        """Start listening on 127.0.0.1 (a free port); returns the REST base ``.../api/v10``."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment)
        app.router.add_get("/cdn/{tail:.*}", self._cdn)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        return self.api_base

    async def close(self) -> None:
        """Close every gateway connection and stop the server."""
        await self.gateway.close()
        if self._server is not None:
            await self._server.close()
            self._server = None
        for _, future in self._waiters:
            future.cancel()

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeDiscord is not started")
        return f"http://127.0.0.1:{self._server.port}"

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` / ``DISCORD_API_BASE`` should be."""
        return self.base_url + API_PREFIX

    @property
    def cdn_base(self) -> str:
        """Where ``discord.asset.Asset.BASE`` can point (avatars, icons) so no test reaches Discord's CDN."""
        return self.base_url + "/cdn"

    @property
    def gateway_url(self) -> str:
        return self.base_url.replace("http://", "ws://") + "/gateway"

    # ------------------------------------------------------------ recording and waiting

    def violation(self, message: str) -> None:
        """Note something the bot did that real Discord would reject or that breaks the spec."""
        self.violations.append(message)

    def find(self, method: str | None, path_regex: str) -> list[Recorded]:
        """Recorded requests (method, or any when None) whose path fully matches ``path_regex``."""
        pattern = re.compile(path_regex)
        return [r for r in self.requests if (method is None or r.method == method) and pattern.fullmatch(r.path)]

    def clear(self) -> None:
        """Forget recorded requests, 429s and violations (the world stays)."""
        self.requests.clear()
        self.rate_limited.clear()
        self.unhandled.clear()
        self.violations.clear()

    async def wait_for(self, method: str | None, path_regex: str, count: int = 1,
                       timeout: float = 5.0) -> list[Recorded]:  # noqa: ASYNC109
        """Wait until at least ``count`` matching requests are recorded (counting earlier ones)."""
        await self.wait_until(lambda: len(self.find(method, path_regex)) >= count, timeout,
                              what=f"{count} x {method or '*'} {path_regex}")
        return self.find(method, path_regex)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:  # noqa: ASYNC109
        """Wait until ``predicate()`` holds; it is re-checked after every request and gateway change."""
        if predicate():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            seen = "\n  ".join(repr(r) for r in self.requests[-20:]) or "(nothing)"
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}; "
                                 f"last requests:\n  {seen}\nviolations: {self.violations}") from None

    def notify(self) -> None:
        """Re-check every waiter (called after each request and gateway change)."""
        for predicate, future in self._waiters:
            if future.done():
                continue
            try:
                if predicate():
                    future.set_result(None)
            except Exception as exc:  # a broken predicate should fail the waiting test, not the server
                future.set_exception(exc)
        self._waiters = [(pr, f) for pr, f in self._waiters if not f.done()]

    # ------------------------------------------------------------ gateway

    async def dispatch(self, event: str, data: dict[str, Any], *, guild_id: str | None = None) -> int:
        """Push a gateway event to every connected shard it belongs to; returns how many got it."""
        sent = self.gateway.dispatch(event, copy.deepcopy(data), guild_id)
        await self.gateway.flush()
        return sent

    async def wait_ready(self, shards: int = 1, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until ``shards`` sessions have identified and been sent READY and their GUILD_CREATEs."""
        await self.wait_until(lambda: len(self.gateway.ready_sessions) >= shards, timeout,
                              what=f"{shards} gateway session(s) to be ready")
        await self.gateway.flush()

    async def reconnect(self) -> None:
        """Ask every client to reconnect (op 7); discord.py comes back with RESUME."""
        await self.gateway.reconnect()

    # ------------------------------------------------------------ rate limits

    def enable_rate_limits(self, default: Rule | None = None,
                           overrides: list[tuple[str | None, str, Rule]] | None = None,
                           global_per_second: int | None = None) -> None:
        """Simulate Discord's buckets (see :mod:`.ratelimit`); ``served_429`` counts the 429s."""
        self.rate_limits.enable(default, overrides, global_per_second)

    @property
    def served_429(self) -> int:
        return self.rate_limits.served_429

    # ------------------------------------------------------------ HTTP

    async def _attachment(self, request: web.Request) -> web.Response:
        stored = self.world.attachments.get(request.match_info["attachment_id"])
        if stored is None or self.world.signed_expired(request.query):
            return web.Response(status=404, text="This content is no longer available.")
        _, data, content_type = stored
        return web.Response(body=data, content_type=content_type or "application/octet-stream")

    async def _cdn(self, request: web.Request) -> web.Response:
        return web.Response(body=TINY_PNG, content_type="image/png")

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        incoming = await _parse(request, request.path[len(API_PREFIX):] or "/")
        rec = Recorded(incoming.method, incoming.path, incoming.query, incoming.json, incoming.files,
                       incoming.headers)
        status, body, headers = await self._serve(incoming, rec)
        rec.status, rec.response = status, copy.deepcopy(body)
        (self.rate_limited if status == 429 else self.requests).append(rec)
        self.notify()
        if body is None:
            return web.Response(status=status, headers=headers)
        return json_response(body, status, headers)

    async def _serve(self, req: Incoming, rec: Recorded) -> tuple[int, Any, dict[str, str]]:
        resolved = self._router.resolve(req.method, req.path)
        token_route = bool(_TOKEN_ROUTE.fullmatch(req.path))
        if not token_route and not self._authorized(req.headers.get("Authorization", "")):
            return 401, {"message": "401: Unauthorized", "code": 0}, {}
        headers, limited = self.rate_limits.check(req.method, resolved[0] if resolved else req.path,
                                                  resolved[2] if resolved else {}, authenticated=not token_route)
        if limited is not None:
            return 429, limited, headers  # checked before the spec so a retried request is judged once
        problems: list[Problem] = []
        spec_template = None
        if self.checker is not None:
            spec_template, problems = self.checker.check(req.method, req.path, req.query, req.json,
                                                         req.content_type)
            for problem in problems:
                self.violation(problem.message)
        rec.route = resolved[0] if resolved else spec_template
        if resolved is None:
            if spec_template is not None:
                self.unhandled.append(rec)
            return 404, {"message": f"404: Not Found ({req.method} {req.path} is not faked)", "code": 0}, headers
        if self.reject_invalid and any(pr.kind in ("body", "path") for pr in problems):
            detail = "; ".join(pr.message for pr in problems if pr.kind in ("body", "path"))
            return 400, {"message": f"Invalid Form Body ({detail})", "code": 50035, "errors": {}}, headers
        _, handler, params = resolved
        try:
            result = await handler(self, req, **params)
        except DiscordError as exc:
            return exc.status, {"message": exc.message, "code": exc.code}, headers
        except Exception as exc:
            # A bug in the fake must not become a 500: discord.py would retry it with growing sleeps.
            log.exception("fake Discord failed on %s %s", req.method, req.path)
            self.violation(f"{req.method} {req.path}: the fake itself failed: {exc!r}")
            return 400, {"message": f"fake Discord failed: {exc!r}", "code": 0}, headers
        if isinstance(result, Reply):
            return result.status, result.body, headers | result.headers
        return 200, result, headers

    def _authorized(self, header: str) -> bool:
        if self.token is not None:
            return header == f"Bot {self.token}"
        return header.startswith("Bot ") and len(header) > 4


def _png_1x1() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)  # 1x1, 8-bit RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 5))
            + chunk(b"IEND", b""))


TINY_PNG = _png_1x1()  # what every CDN asset (avatar, icon) is in the fake


async def _parse(request: web.Request, path: str) -> Incoming:
    """Method, query, JSON body (or multipart ``payload_json``), uploaded files, headers."""
    body: Any = None
    files: list[tuple[str, str, bytes]] = []
    file_types: dict[str, str] = {}
    content_type = request.content_type
    if request.can_read_body and content_type.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue  # nested multipart: discord.py never sends it
            if part.filename is not None:
                files.append((part.name or "", part.filename, bytes(await part.read(decode=False))))
                file_types[part.name or ""] = part.headers.get("Content-Type", "")
            elif part.name == "payload_json":
                body = json.loads(await part.text())
        content_type = "multipart/form-data"
    elif request.can_read_body:
        raw = await request.read()
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
    return Incoming(request.method, path, dict(request.query), body, files, dict(request.headers), content_type,
                    file_types)
