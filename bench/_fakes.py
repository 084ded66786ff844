"""The fakes for the chat benchmarks (FakeDiscord + a paced FakeVenice), in a process of their own.

Run as a child of a benchmark (`FakesProcess`), so that the benchmark process's CPU and event
loop are the bot's alone, as in production where Discord and Venice are elsewhere. The child
talks JSON lines over stdin/stdout: each command `{"id", "op", ...}` gets `{"id", "ok", ...}`.

Timestamps are `time.monotonic()` in the child; every latency is computed here from the child's
own clock (when it dispatched an interaction, when Venice wrote the first token, when a Discord
request arrived), so no clock has to be shared between the processes.

Not a benchmark by itself: `python bench/_fakes.py` only serves the commands below.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import json
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

VENICE_KEY = "bench-venice-key-0123456789"
DISCORD_TOKEN = "MTAwMDAw" + "MDAwMDAwMDAwMDAw.GbenchX.bench-token-0123456789abcdef"  # fake; split for scanners
TAG = re.compile(r"#r(\d+)\b")
MARKER_START = "\n-# "  # where the streaming marker (and any footer) begins in a shown message

_SENTENCES = (
    "She leans across the bar and refills your glass, smiling at the familiar face.",
    "The music drops to something slow, and the lights above the dance floor turn amber.",
    "\"You came back,\" she says, resting her chin on one hand and studying you for a long moment.",
    "Outside the rain keeps drumming on the windows, and nobody seems in a hurry to leave.",
    "She traces a slow circle on the polished wood, her eyes never leaving yours.",
    "Somewhere behind you a glass clinks, a laugh rises and fades, and the room feels smaller.",
    "\"Tell me what kind of night you are looking for,\" she murmurs, tilting her head.",
    "The candle between you flickers as she moves closer, close enough to feel her warmth.",
)


def reply_text(length: int, seed: int = 0) -> str:
    """Roleplay-like prose of exactly `length` characters: sentences in paragraphs of ~4."""
    parts: list[str] = []
    total, n = 0, seed
    while total < length + 200:
        sentence = _SENTENCES[n % len(_SENTENCES)]
        sep = "\n\n" if n % 4 == 3 else " "
        parts.append(sentence + sep)
        total += len(sentence) + len(sep)
        n += 1
    text = "".join(parts)[:length]
    return text[:-1] + "." if text.endswith(" ") else text


def token_pieces(text: str, size: int = 0) -> list[str]:
    """Split like a tokenizer's stream: word pieces of at most 6 characters with their spacing.

    With `size`, plain slices of that many characters instead (to see what each piece costs).
    """
    if size:
        return [text[i : i + size] for i in range(0, len(text), size)]
    return re.findall(r"\S{1,6}\s*|\s+", text)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.4999)))
    return ordered[rank - 1]


# ====================================================================== the parent side


@dataclass
class FakesProcess:
    """The child process and a tiny RPC to it."""

    proc: asyncio.subprocess.Process | None = None
    urls: dict[str, str] = field(default_factory=dict)
    _next: int = 0
    _pending: dict[int, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _reader: asyncio.Task[None] | None = None
    _stderr: Any = None

    async def start(self, *, validate: bool = True) -> dict[str, str]:
        import tempfile

        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - kept open for the child's lifetime
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, str(HERE), "--child", *([] if validate else ["--no-validate"]),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=self._stderr,
            cwd=str(ROOT), env=env, limit=256 * 1024 * 1024,
        )
        assert self.proc.stdout is not None
        first = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        if not first:
            raise RuntimeError("the fakes process did not start:\n" + self.stderr_tail())
        self.urls = json.loads(first)
        self._reader = asyncio.create_task(self._read())
        return self.urls

    def stderr_tail(self, chars: int = 4000) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-chars:]

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            msg = json.loads(line)
            future = self._pending.pop(msg.pop("id"), None)
            if future is not None and not future.done():
                future.set_result(msg)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(RuntimeError("the fakes process exited:\n" + self.stderr_tail()))

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        self._next += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._next] = future
        self.proc.stdin.write(json.dumps({"id": self._next, "op": op, **args}).encode() + b"\n")
        await self.proc.stdin.drain()
        reply = await asyncio.wait_for(future, 300)
        if not reply.get("ok"):
            raise RuntimeError(f"fakes: {op} failed: {reply.get('error')}")
        return reply

    async def close(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.call("quit"), 10)
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            self._reader.cancel()
        if self._stderr is not None:
            self._stderr.close()


def production_bot(urls: dict[str, str], db_url: str) -> Any:
    """The production bot (`make_bot`, every cog) pointed at the fakes, as DISCORD_API_BASE does."""
    import discord

    from bot.client import make_bot
    from bot.config import Env, Secret

    discord.asset.Asset.BASE = urls["cdn"]  # nothing may reach Discord's CDN
    settings = Env(discord_token=Secret(DISCORD_TOKEN), venice_api_key=Secret(VENICE_KEY),
                        database_url=db_url, venice_base_url=urls["venice"], discord_api_base=urls["discord_api"])
    return make_bot(settings, freeze_heap=True)  # as `python -m bot run` does


async def allow_long_replies(bot: Any) -> None:
    """reply_tokens at its maximum (4,000), so a 6,000-character reply is not cut at the default 700."""
    await bot.services.settings.set("reply_tokens", 4000, scope="global", scope_id=0, guild_id=None, by=0)


async def connect(bot: Any, *, timeout: float = 60.0) -> asyncio.Task[None]:  # noqa: ASYNC109
    """Log a bot in to the fake Discord and open its gateway; returns once it is ready.

    `guild_ready_timeout` (2 s of quiet after the last GUILD_CREATE before on_ready) is lowered,
    as `tests.harness.connected_bot` does, so start-up costs milliseconds.
    """
    bot._connection.guild_ready_timeout = 0.05
    await bot.login(DISCORD_TOKEN)
    task = asyncio.create_task(bot.connect(), name="bench-bot-connect")
    ready = asyncio.create_task(bot.wait_until_ready())
    done, _ = await asyncio.wait({ready, task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        if task.done() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
        raise RuntimeError("the bot did not get ready on the fake gateway")
    return task


async def disconnect(bot: Any, task: asyncio.Task[None]) -> None:
    await bot.close()
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await asyncio.wait_for(task, 10)


class Completions:
    """Futures for app commands by interaction id, resolved when discord.py reports them done or failed."""

    def __init__(self, bot: Any) -> None:
        self.waiting: dict[int, asyncio.Future[bool]] = {}
        self.failed = 0
        bot.add_listener(self._completed, "on_app_command_completion")
        tree, original = bot.tree, bot.tree.on_error

        async def on_error(interaction: Any, error: Exception) -> None:
            self.failed += 1
            try:
                await original(interaction, error)  # the error's answer is part of the command's time
            finally:
                self._settle(interaction.id, False)

        tree.on_error = on_error

    def expect(self, interaction_id: int) -> asyncio.Future[bool]:
        return self.waiting.setdefault(interaction_id, asyncio.get_running_loop().create_future())

    def _settle(self, interaction_id: int, ok: bool) -> None:
        future = self.expect(interaction_id)
        if not future.done():
            future.set_result(ok)

    async def _completed(self, interaction: Any, command: Any) -> None:
        self._settle(interaction.id, True)


def cpu_seconds() -> float:
    """User + system CPU of this process, all threads (the bot's event loop and aiosqlite's thread)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ====================================================================== the child side


def _child_main(validate: bool) -> None:
    import logging

    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    asyncio.run(_Child(validate).serve())


@dataclass
class Run:
    run_id: int
    channel_id: str
    token: str
    interaction_id: str
    text: str
    seconds: float
    t_dispatch: float
    t_first_token: float | None = None
    t_last_token: float | None = None
    t_judged: float | None = None  # when the content judge first answered about this run (its words)
    judged: int = 0  # judge requests about this run (its words and its reply)


class _Child:
    def __init__(self, validate: bool) -> None:
        from tests import payloads as p
        from tests.fakes.discord import FakeDiscord
        from tests.fakes.venice import FakeVenice
        from tests.fakes.venice_chat import ChatHandler, last_user_text

        self.p = p
        arrived: contextvars.ContextVar[float] = contextvars.ContextVar("arrived", default=0.0)
        child = self

        class StampedDiscord(FakeDiscord):
            """Stamps every recorded request with the moment it reached the server."""

            async def _rest(self, request: web.Request) -> web.StreamResponse:
                arrived.set(time.monotonic())
                return await super()._rest(request)

            async def _serve(self, req: Any, rec: Any) -> Any:
                rec.arrived = arrived.get() or time.monotonic()
                return await super()._serve(req, rec)

        class PacedChat(ChatHandler):
            """Streams each run's scripted text in token-sized pieces over its scripted time."""

            def _reply_for(self, messages: list[dict[str, Any]]) -> str:
                run = child.run_of(last_user_text(messages))
                return run.text if run is not None else super()._reply_for(messages)

            async def _stream(self, request: web.Request, reply: dict[str, Any], text: str, finish: str,
                              usage: dict[str, int], cost: dict[str, float], fault: Any) -> web.StreamResponse:
                body = await request.json()
                run = child.run_of(last_user_text(body["messages"]))
                seconds = run.seconds if run is not None else 0.0
                child.streaming += 1
                child.peak_streaming = max(child.peak_streaming, child.streaming)
                try:
                    return await self._paced(request, reply, text, finish, usage, cost, run, seconds)
                finally:
                    child.streaming -= 1

            async def _paced(self, request: web.Request, reply: dict[str, Any], text: str, finish: str,
                             usage: dict[str, int], cost: dict[str, float], run: Run | None,
                             seconds: float) -> web.StreamResponse:
                resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
                await resp.prepare(request)

                async def event(payload: dict[str, Any]) -> None:
                    data = {**reply, "object": "chat.completion.chunk", **payload}
                    await resp.write(f"data: {json.dumps(data)}\n\n".encode())

                def choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
                    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}

                await resp.write(b": ping\n\n")
                await event(choice({"role": "assistant", "content": ""}))
                pieces = token_pieces(text, child.piece_chars)
                interval = seconds / max(1, len(pieces))
                start = time.monotonic()
                for n, piece in enumerate(pieces):
                    wait = start + n * interval - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    await event(choice({"content": piece}))
                    if n == 0 and run is not None:
                        run.t_first_token = time.monotonic()
                if run is not None:
                    run.t_last_token = time.monotonic()
                await event(choice({}, finish))
                await event({"choices": [], "usage": usage, "cost": cost})
                await resp.write(b"data: [DONE]\n\n")
                await resp.write_eof()
                return resp

        self.discord = StampedDiscord(validate=validate)
        self.venice = FakeVenice(api_key=VENICE_KEY)
        self.venice.chat = PacedChat(self.venice)
        judge_handle = self.venice.judge.handle

        async def stamped_judge(request: web.Request, body: dict[str, Any], model: dict[str, Any]) -> Any:
            """The fake judge, stamping when it answered about a run (its words carry the run's tag)."""
            response = await judge_handle(request, body, model)
            run = child.run_of(json.dumps(body.get("messages", [])))
            if run is not None:
                run.t_judged = run.t_judged or time.monotonic()
                run.judged += 1
            return response

        self.venice.judge.handle = stamped_judge  # type: ignore[method-assign]
        self.piece_chars = 0
        self.streaming = 0
        self.peak_streaming = 0
        self.commands: dict[str, dict[str, Any]] = {}
        self.runs: dict[int, Run] = {}
        self.by_token: dict[str, Run] = {}
        self.stop = asyncio.Event()

    def run_of(self, user_text: str) -> Run | None:
        found = TAG.search(user_text)
        return self.runs.get(int(found.group(1))) if found else None

    # -- serving --------------------------------------------------------------------------------

    async def serve(self) -> None:
        await self.discord.start()
        await self.venice.start()
        out = sys.stdout
        out.write(json.dumps({"discord_api": self.discord.api_base, "cdn": self.discord.cdn_base,
                              "venice": self.venice.base_url}) + "\n")
        out.flush()
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        tasks: set[asyncio.Task[None]] = set()
        stopping = asyncio.create_task(self.stop.wait())
        while not self.stop.is_set():
            reading = asyncio.create_task(reader.readline())
            done, _ = await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if reading not in done:
                reading.cancel()
                break
            line = reading.result()
            if not line:
                break
            task = asyncio.create_task(self.answer(json.loads(line)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await self.venice.close()
        await self.discord.close()

    async def answer(self, cmd: dict[str, Any]) -> None:
        handler: Callable[..., Awaitable[dict[str, Any]]] = getattr(self, "op_" + cmd.pop("op"))
        ident = cmd.pop("id")
        try:
            result = {"ok": True, **await handler(**cmd)}
        except Exception as exc:
            result = {"ok": False, "error": repr(exc)}
        sys.stdout.write(json.dumps({"id": ident, **result}) + "\n")
        sys.stdout.flush()

    # -- commands -------------------------------------------------------------------------------

    async def op_quit(self) -> dict[str, Any]:
        self.stop.set()
        return {}

    async def op_world(self, guilds: int, channels_per_guild: int, users: int) -> dict[str, Any]:
        """Guilds full of age-restricted text channels, built quietly, then one GUILD_CREATE each."""
        p, world = self.p, self.discord.world
        channels: list[str] = []
        for _ in range(guilds):
            gid = p.new_id()
            roles = [p.role(id=gid, name="@everyone", permissions=p.MEMBER_PERMISSIONS),
                     p.role(id=p.new_id(), name="lustify", permissions=p.BOT_PERMISSIONS, position=1, managed=True)]
            owner = self.discord.add_user("owner")
            data = p.guild(id=gid, name="Bench guild", owner_id=owner["id"], roles=roles, nsfw_level=0)
            for key in ("channels", "threads", "members"):
                data.pop(key)
            world.guilds[gid] = data
            world.members[gid] = {p.BOT_ID: p.member(world.bot, roles=[roles[1]["id"]])}
            self.discord.add_member(gid, owner)
            for i in range(channels_per_guild):
                ch = p.text_channel(guild_id=gid, nsfw=True, name=f"adult-{i}")
                world.channels[ch["id"]] = ch
                channels.append(ch["id"])
            self.discord.gateway.dispatch("GUILD_CREATE", world.guild_create(gid), gid)
        await self.discord.gateway.flush()
        people = [self.discord.add_user(f"user{i}")["id"] for i in range(users)]
        return {"channels": channels, "users": people, "guilds": list(world.guilds)}

    async def op_wait_ready(self, timeout: float = 30.0) -> dict[str, Any]:  # noqa: ASYNC109
        await self.discord.wait_ready(shards=self.discord.gateway.shard_count, timeout=timeout)
        return {}

    async def op_rate_limits(self, on: bool) -> dict[str, Any]:
        if on:
            self.discord.enable_rate_limits()
        else:
            self.discord.rate_limits.disable()
        return {}

    async def op_pieces(self, chars: int) -> dict[str, Any]:
        self.piece_chars = chars
        return {}

    async def op_served(self) -> dict[str, Any]:
        return {"served_429": self.discord.served_429}

    async def op_chat_delay(self, seconds: float) -> dict[str, Any]:
        self.venice.chat_delay = seconds
        return {}

    async def op_judge_delay(self, seconds: float) -> dict[str, Any]:
        """How long the fake content judge takes to answer each request."""
        self.venice.judge.delay = seconds
        return {}

    async def op_slash(self, run_id: int, user: str, channel: str, message: str, chars: int,
                       seconds: float) -> dict[str, Any]:
        """Dispatch INTERACTION_CREATE for `/chat message` (tagged with the run) as `user` in `channel`."""
        text = reply_text(chars, seed=run_id)
        payload = self.discord.slash_payload(user, channel, "chat", {"message": f"#r{run_id} {message}"})
        run = Run(run_id, channel, payload["token"], payload["id"], text, seconds, time.monotonic())
        self.runs[run_id] = run
        self.by_token[run.token] = run
        self.discord.gateway.dispatch("INTERACTION_CREATE", payload, payload.get("guild_id"))
        await self.discord.gateway.flush()
        return {"interaction_id": run.interaction_id}

    async def op_command(self, user: str, channel: str, name: str, options: dict[str, Any] | None = None,
                         attachment: dict[str, Any] | None = None) -> dict[str, Any]:
        """Dispatch any slash command. `attachment` {"option", "filename", "maker", "args"} adds a
        file built here by `tests.hostile.<maker>(**args)` (so megabytes never cross the pipe)."""
        from tests import hostile

        values: dict[str, Any] = dict(options or {})
        if attachment is not None:
            data = getattr(hostile, attachment["maker"])(**attachment.get("args", {}))
            values[attachment["option"]] = (attachment["filename"], data)
        payload = self.discord.slash_payload(user, channel, name, values or None)
        self.commands[payload["id"]] = payload
        self.discord.gateway.dispatch("INTERACTION_CREATE", payload, payload.get("guild_id"))
        await self.discord.gateway.flush()
        return {"interaction_id": payload["id"]}

    async def op_said(self, interaction_id: str) -> dict[str, Any]:
        """What the bot answered a command sent with `op_command` (responses, edits, follow-ups)."""
        texts = []
        for rec in self.discord.handle(self.commands[interaction_id]).requests:
            body = rec.json if isinstance(rec.json, dict) else {}
            data = body.get("data") or body
            texts.append(str(data.get("content") or ""))
            for embed in data.get("embeds") or []:  # answers given as an embed
                texts.append(" ".join(str(embed.get(k) or "") for k in ("title", "description")).strip())
        joined = "\n".join(t for t in texts if t)
        return {"text": joined}

    async def op_hostile_text(self, maker: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        from tests import hostile

        return {"text": getattr(hostile, maker)(**(args or {}))}

    async def op_venice_counts(self, reset_peak: bool = False) -> dict[str, Any]:
        """Venice calls served so far by kind, and the most chat streams open at once."""
        counts: dict[str, int] = {}
        for rec in self.venice.requests:
            counts[rec.path] = counts.get(rec.path, 0) + 1
        peak = self.peak_streaming
        if reset_peak:
            self.peak_streaming = self.streaming
        return {"chat": counts.get("/chat/completions", 0), "image": counts.get("/image/generate", 0),
                "peak_streams": peak}

    async def op_report(self, run_ids: list[int], include_requests: bool = False) -> dict[str, Any]:
        """Per-run timings and Discord call counts, computed from the recorded requests."""
        per_channel: dict[str, list[Any]] = {}
        for rec in self.discord.requests:
            cid = self._channel_of(rec)
            if cid is not None:
                per_channel.setdefault(cid, []).append(rec)
        rows = []
        for rid in run_ids:
            run = self.runs[rid]
            later = [r for r in self.runs.values() if r.channel_id == run.channel_id and r.t_dispatch > run.t_dispatch]
            until = min((r.t_dispatch for r in later), default=float("inf"))
            recs = sorted((r for r in per_channel.get(run.channel_id, [])
                           if run.t_dispatch <= r.arrived < until), key=lambda r: r.arrived)
            rows.append(self._run_row(run, recs, include_requests))
        limited = [f"{r.method} {self._template(r)}" for r in self.discord.rate_limited]
        return {"runs": rows, "served_429": self.discord.served_429, "limited_routes": limited,
                "violations": list(self.discord.violations), "venice_violations": len(self.venice.violations)}

    def _run_row(self, run: Run, recs: list[Any], include_requests: bool) -> dict[str, Any]:
        kinds: dict[str, int] = {}
        first_text = None
        edits_by_message: dict[str, list[float]] = {}
        for rec in recs:
            kind = _kind(rec, self.p.APP_ID)
            kinds[kind] = kinds.get(kind, 0) + 1
            if first_text is None and kind in ("send", "edit") and run.t_first_token is not None \
                    and rec.arrived >= run.t_first_token and _shows_reply(rec.json, run.text):
                first_text = rec.arrived
            if kind == "edit":
                edits_by_message.setdefault(rec.path, []).append(rec.arrived)
        gaps = [b - a for times in edits_by_message.values() for a, b in itertools.pairwise(times)]
        # The longest wait between two visible updates while Venice was still streaming.
        shown = sorted(r.arrived for r in recs if _kind(r, self.p.APP_ID) in ("send", "edit"))
        last = run.t_last_token or 0.0
        stalls = [b - a for a, b in itertools.pairwise(shown) if a < last]
        row: dict[str, Any] = {
            "run_id": run.run_id, "channel": run.channel_id, "chars": len(run.text), "seconds": run.seconds,
            "t_dispatch": run.t_dispatch, "t_first_call": recs[0].arrived if recs else None,
            "first_call": f"{recs[0].method} {recs[0].route}" if recs else None,
            "t_first_token": run.t_first_token, "t_last_token": run.t_last_token, "t_first_text": first_text,
            "t_judged": run.t_judged, "judged": run.judged,
            "t_last_call": recs[-1].arrived if recs else None, "kinds": kinds,
            "min_edit_gap": min(gaps) if gaps else None, "max_update_gap": max(stalls) if stalls else None,
        }
        if include_requests:
            row["requests"] = [{"method": r.method, "path": r.path, "route": r.route, "json": r.json,
                                "query": r.query, "arrived": r.arrived, "response_id": (r.response or {}).get("id")
                                if isinstance(r.response, dict) else None} for r in recs]
        return row

    def _template(self, rec: Any) -> str:
        resolved = self.discord._router.resolve(rec.method, rec.path)
        return resolved[0] if resolved else rec.path

    def _channel_of(self, rec: Any) -> str | None:
        world, path = self.discord.world, rec.path
        if path.startswith("/channels/"):
            return path.split("/")[2]
        if path.startswith("/interactions/"):
            run = self.by_token.get(path.split("/")[3])
            return run.channel_id if run else None
        if path.startswith("/webhooks/"):
            parts = path.split("/")
            if parts[2] == self.p.APP_ID:
                run = self.by_token.get(parts[3])
                return run.channel_id if run else None
            hook = world.webhooks.get(parts[2])
            return hook["channel_id"] if hook else None
        return None


def _kind(rec: Any, app_id: str) -> str:
    """What a request is, for counting: callback, original, typing, send, edit, webhooks, other."""
    method, path = rec.method, rec.path
    parts = path.split("/")
    if path.startswith("/interactions/"):
        return "callback"
    if path.startswith("/webhooks/") and parts[2] == app_id:
        if method == "GET":
            return "original"
        return "followup" if method == "POST" else "original edit"
    if path.startswith("/webhooks/"):
        return {"POST": "send", "PATCH": "edit", "DELETE": "delete"}.get(method, "webhook other")
    if path.endswith("/typing"):
        return "typing"
    if path.endswith("/webhooks"):
        return "list webhooks" if method == "GET" else "create webhook"
    if re.fullmatch(r"/channels/\d+/messages", path) and method == "POST":
        return "send"
    if re.fullmatch(r"/channels/\d+/messages/\d+", path):
        return {"PATCH": "edit", "DELETE": "delete"}.get(method, "other")
    return "other"


def _shows_reply(body: Any, text: str) -> bool:
    """Whether a send/edit body shows the start of the reply (content, or a persona embed)."""
    if not isinstance(body, dict):
        return False
    shown = [body.get("content") or ""] + [e.get("description") or "" for e in body.get("embeds") or []]
    for s in shown:
        head = s.split(MARKER_START, 1)[0].strip()
        if head and text.startswith(head[:40]):
            return True
    return False


if __name__ == "__main__":
    if "--child" in sys.argv:
        _child_main(validate="--no-validate" not in sys.argv)
    else:
        print(__doc__)
