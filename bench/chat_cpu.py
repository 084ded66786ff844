"""Bot CPU and SQL per chat turn, compared with a bare discord.py bot making the same Discord calls.

    .venv/bin/python bench/chat_cpu.py [--turns 10] [--channels 20] [--rounds 3] [--piece-chars 0] [--profile F]

Both fakes (FakeDiscord with OpenAPI validation and its rate limits on, FakeVenice streaming
token-sized pieces after 0.3 s) run in a child process (bench/_fakes.py), so the CPU of this
process (user + system, all threads: the event loop and aiosqlite's worker thread) is the bot's.

1. The production bot (`make_bot`, every cog, a migrated SQLite file) answers /chat in three phases:
   - cold start: the first turn in each of `--channels` new channels, all dispatched at once
     (conversations started, persona webhooks listed and created, caches empty);
   - one at a time: `--turns` turns one after another in one channel;
   - all at once: `--rounds` rounds of a turn in every channel at the same instant.
   Venice streams 1,500 characters over 5 s (300 over 1 s in the cold start). Every SQL statement
   the bot's engine sends is counted (SQLAlchemy `before_cursor_execute`).
2. A bare `commands.AutoShardedBot` with the same intents, run twice over the same turns:
   - "bare (fair)": what any minimal Venice chat bot (llmcord and the like) must do per turn. Its
     /chat handler sends the recorded interaction response, asks FakeVenice for the same reply
     with aiohttp (`stream: true`, the channel's history kept in memory, the same pacing),
     reads the SSE stream line by line and parses every chunk's JSON, and meanwhile makes
     exactly the Discord calls the production bot made for that turn, as FakeDiscord recorded
     them (typing, every webhook execute and edit with the same text and buttons, in order).
     No database, no prompt building, no content screen, no throttle timers.
   - "replay only" (the earlier comparison, kept for reference): the same Discord calls alone,
     no Venice request at all. It understates what a chat bot costs.

The ratio is production ÷ bare (fair): what the bot's own logic costs per turn on top of what any
chat bot must do (the database, prompt assembly, the content screen, the stream renderer and
throttle, the limits). Goal: ≤ 1.3× in both the one-at-a-time and all-at-once phases, and no
429s. Runs in about three minutes; needs ../shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands
from sqlalchemy import event

from bench._fakes import (
    TAG,
    VENICE_KEY,
    Completions,
    FakesProcess,
    allow_long_replies,
    connect,
    cpu_seconds,
    disconnect,
    production_bot,
)
from bot.client import intents
from bot.config import DEFAULT_TEXT_MODEL
from bot.store.migrate import migrate

COLD = (300, 1.0)  # reply characters, seconds of streaming
SIZE = (1_500, 5.0)
SAY = "I sit down at the bar and order a drink."
NO_MENTIONS = discord.AllowedMentions.none()
SETTLE = 0.5  # seconds for the gateway echoes of the last messages to arrive before CPU is read


# ====================================================================== turns


class Driver:
    """Sends /chat through the fakes and waits for the bot to finish each command."""

    def __init__(self, fakes: FakesProcess, bot: Any, channels: list[str], users: list[str], first_run: int) -> None:
        self.fakes = fakes
        self.done = Completions(bot)
        self.channels = channels
        self.users = users
        self.next_run = first_run

    async def turn(self, index: int, chars: int, seconds: float) -> int:
        self.next_run += 1
        run_id = self.next_run
        sent = await self.fakes.call("slash", run_id=run_id, user=self.users[index], channel=self.channels[index],
                                     message=SAY, chars=chars, seconds=seconds)
        await asyncio.wait_for(self.done.expect(int(sent["interaction_id"])), seconds + 60)
        return run_id

    async def turns(self, count: int, chars: int, seconds: float) -> list[int]:
        """`count` turns, one per channel at a time, all channels at once."""
        ids: list[int] = []
        width = len(self.channels)
        for start in range(0, count, width):
            batch = range(min(width, count - start))
            ids += await asyncio.gather(*(self.turn(i, chars, seconds) for i in batch))
        return ids


# ====================================================================== the bare bot


def view_of(components: list[dict[str, Any]] | None) -> discord.ui.View | None:
    """A plain view with the same buttons (style, label, emoji, custom_id) as a recorded message."""
    if not components:
        return None
    view = discord.ui.View(timeout=None)
    for row_number, row in enumerate(components):
        for c in row.get("components", []):
            if c.get("type") != 2:
                continue
            emoji = discord.PartialEmoji.from_dict(c["emoji"]) if c.get("emoji") else None
            view.add_item(discord.ui.Button(style=discord.ButtonStyle(c.get("style", 2)), label=c.get("label"),
                                            custom_id=c.get("custom_id"), url=c.get("url"), emoji=emoji,
                                            disabled=bool(c.get("disabled")), row=row_number))
    return view


class Replayer(commands.Cog):
    """/chat that replays a recorded production turn's Discord calls, tagged by run id in the message."""

    HISTORY = 40  # messages of the channel sent with each request

    def __init__(self, bot: commands.AutoShardedBot) -> None:
        self.bot = bot
        self.venice_url: str | None = None  # set: also stream the reply from Venice (the fair bare bot)
        self.http: aiohttp.ClientSession | None = None
        self.history: dict[int, list[dict[str, str]]] = {}
        self.streamed_chars = 0
        self.scripts: dict[int, list[dict[str, Any]]] = {}
        self.hooks: dict[int, discord.Webhook] = {}
        self.skipped: dict[str, int] = {}
        self.calls = 0

    @app_commands.command(name="chat", description="Say something to the channel's character", nsfw=True)
    async def chat(self, interaction: discord.Interaction, message: str) -> None:
        found = TAG.search(message)
        assert found is not None
        script = self.scripts[int(found.group(1))]
        if self.venice_url is None:
            await self.replay(interaction, script)
            return
        # Answer the interaction first (as the production bot does), then stream while showing.
        first = next((n + 1 for n, r in enumerate(script) if (r["route"] or "").startswith("/interactions/")), 0)
        await self.replay(interaction, script[:first])
        streamed = asyncio.create_task(self.stream(interaction.channel_id or 0, message))
        await self.replay(interaction, script[first:])
        await streamed

    async def stream(self, channel_id: int, message: str) -> None:
        """Ask Venice for the reply and read its SSE stream, as a minimal chat bot does."""
        assert self.venice_url is not None
        if self.http is None:
            self.http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {VENICE_KEY}"})
        history = self.history.setdefault(channel_id, [])
        history.append({"role": "user", "content": message})
        body = {"model": DEFAULT_TEXT_MODEL, "stream": True, "max_tokens": 4000,
                "messages": [{"role": "system", "content": "You are a roleplay partner."}, *history[-self.HISTORY:]]}
        parts: list[str] = []
        async with self.http.post(f"{self.venice_url}/chat/completions", json=body) as resp:
            resp.raise_for_status()
            async for raw in resp.content:
                line = raw.strip()
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    break
                chunk = json.loads(data)
                for choice in chunk.get("choices") or []:
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        parts.append(piece)
        reply = "".join(parts)
        self.streamed_chars += len(reply)
        history.append({"role": "assistant", "content": reply})
        del history[:-self.HISTORY]

    async def hook_for(self, channel: Any) -> discord.Webhook:
        hook = self.hooks.get(channel.id)
        if hook is None:
            me = self.bot.user
            hooks = await channel.webhooks()
            hook = next(h for h in hooks if h.user is not None and me is not None and h.user.id == me.id and h.token)
            self.hooks[channel.id] = hook
        return hook

    async def replay(self, interaction: discord.Interaction, script: list[dict[str, Any]]) -> None:
        channel: Any = interaction.channel
        ids: dict[str, int] = {}  # recorded message id -> the id of our message
        typing: Any = None
        for req in script:
            method, route, body = req["method"], req["route"] or "", req["json"] or {}
            self.calls += 1
            if route.startswith("/interactions/"):
                data = body.get("data") or {}
                embeds = [discord.Embed.from_dict(e) for e in data.get("embeds") or []]
                await interaction.response.send_message(data.get("content") or None, embeds=embeds,
                                                        allowed_mentions=NO_MENTIONS)
            elif route.endswith("/messages/@original") and method == "GET":
                await interaction.original_response()
            elif route.endswith("/typing"):
                if typing is None:
                    typing = channel.typing()
                    await typing.__aenter__()
                else:
                    await self.bot.http.send_typing(channel.id)
            elif route == "/webhooks/{webhook_id}/{webhook_token}" and method == "POST":
                hook = await self.hook_for(channel)
                view = view_of(body.get("components"))
                sent = await hook.send(body.get("content") or "…",
                                       username=body.get("username") or discord.utils.MISSING,
                                       avatar_url=body.get("avatar_url") or discord.utils.MISSING,
                                       allowed_mentions=NO_MENTIONS, wait=True,
                                       **({"view": view} if view is not None else {}))
                if req.get("response_id"):
                    ids[str(req["response_id"])] = sent.id
            elif route == "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}" and method == "PATCH":
                hook = await self.hook_for(channel)
                recorded = re.search(r"/messages/(\d+)$", req["path"])
                assert recorded is not None
                extra: dict[str, Any] = {}
                if "components" in body:
                    extra["view"] = view_of(body["components"])
                await hook.edit_message(ids[recorded.group(1)], content=body.get("content"),
                                        allowed_mentions=NO_MENTIONS, **extra)
            else:
                self.calls -= 1
                key = f"{method} {route}"
                self.skipped[key] = self.skipped.get(key, 0) + 1
        if typing is not None:
            await typing.__aexit__(None, None, None)


def bare_bot() -> tuple[commands.AutoShardedBot, Replayer]:
    bot = commands.AutoShardedBot(command_prefix=commands.when_mentioned, intents=intents(), help_command=None,
                                  allowed_mentions=NO_MENTIONS, max_messages=1000)
    replayer = Replayer(bot)

    async def setup_hook() -> None:
        await bot.add_cog(replayer)

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot, replayer


# ====================================================================== the benchmark


class SqlCounter:
    """Counts the SQL statements a bot's engine sends."""

    def __init__(self, bot: Any) -> None:
        self.count = 0
        self.kinds: dict[str, int] = {}  # statement (first words) -> times, for --statements
        event.listen(bot.services.engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.count += 1
        key = " ".join(statement.split()[:6])
        self.kinds[key] = self.kinds.get(key, 0) + 1


@dataclass
class Phase:
    """What one phase cost: CPU, statements and 429s, for its run ids."""

    name: str
    chars: int
    seconds: float
    ids: list[int] = field(default_factory=list)
    cpu: float = 0.0
    statements: int = 0
    served_429: int = 0
    bare_cpu: float = 0.0  # the fair bare bot: Discord calls + Venice's SSE stream + history
    replay_cpu: float = 0.0  # the Discord calls alone

    @property
    def turns(self) -> int:
        return max(1, len(self.ids))


async def run_phase(phase: Phase, fakes: FakesProcess, driver: Driver, work: Any, sql: SqlCounter | None,
                    bare: str = "bare_cpu") -> None:
    """Run `work()` (which returns run ids) and record what it cost (a bare bot's CPU in `bare`)."""
    before_429 = (await fakes.call("served"))["served_429"]
    before_sql = sql.count if sql is not None else 0
    cpu = cpu_seconds()
    ids = await work()
    await asyncio.sleep(SETTLE)
    if sql is None:
        setattr(phase, bare, cpu_seconds() - cpu)
        return
    phase.cpu = cpu_seconds() - cpu
    phase.ids = ids
    phase.statements = sql.count - before_sql
    phase.served_429 = (await fakes.call("served"))["served_429"] - before_429


async def idle_cpu(seconds: float = 3.0) -> float:
    """CPU per second of a connected bot doing nothing (heartbeats, timers)."""
    cpu = cpu_seconds()
    await asyncio.sleep(seconds)
    return (cpu_seconds() - cpu) / seconds


def phases_for(driver: Driver, channels: int, turns: int, rounds: int) -> list[tuple[Phase, Any]]:
    """The three phases and the work of each (a function returning the run ids)."""
    cold = Phase(f"cold start: first turn in {channels} channels at once", *COLD)
    one = Phase("one at a time, one channel", *SIZE)
    many = Phase(f"{channels} channels at once", *SIZE)

    async def first_turns() -> list[int]:
        return await driver.turns(channels, cold.chars, cold.seconds)

    async def one_at_a_time() -> list[int]:
        return [await driver.turn(0, one.chars, one.seconds) for _ in range(turns)]

    async def all_at_once() -> list[int]:
        return await driver.turns(channels * rounds, many.chars, many.seconds)

    return [(cold, first_turns), (one, one_at_a_time), (many, all_at_once)]


async def main(turns: int, channels: int, rounds: int, piece_chars: int, profile: str | None = None,
               show_statements: bool = False) -> None:
    logging.basicConfig(level=logging.ERROR)
    for noisy in ("discord.client", "discord.gateway"):  # voice-library notices; heartbeat-ACK race with a local fake
        logging.getLogger(noisy).setLevel(logging.ERROR)
    began = time.monotonic()
    fakes = FakesProcess()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await migrate(url)
        urls = await fakes.start()
        try:
            world = await fakes.call("world", guilds=1, channels_per_guild=channels, users=channels)
            await fakes.call("chat_delay", seconds=0.3)
            await fakes.call("pieces", chars=piece_chars)
            await fakes.call("rate_limits", on=True)

            bot = production_bot(urls, url)
            task = await connect(bot)
            try:
                await allow_long_replies(bot)
                await bot.tree.sync()
                sql = SqlCounter(bot)
                driver = Driver(fakes, bot, world["channels"], world["users"], first_run=0)
                phases = phases_for(driver, channels, turns, rounds)
                for phase, work in phases:
                    profiler = None
                    if profile and phase.name.startswith("one at a time"):
                        import cProfile

                        profiler = cProfile.Profile()
                        profiler.enable()
                    sql.kinds.clear()
                    await run_phase(phase, fakes, driver, work, sql)
                    if show_statements and phase.name.startswith("one at a time"):
                        for key, n in sorted(sql.kinds.items(), key=lambda kv: -kv[1]):
                            print(f"  {n / phase.turns:5.2f}/turn  {key}", file=sys.stderr)
                    if profiler is not None:
                        profiler.disable()
                        profiler.dump_stats(profile)
                prod_idle = await idle_cpu()
                last_run = driver.next_run
                failed = driver.done.failed
            finally:
                await disconnect(bot, task)
            all_ids = [r for phase, _ in phases for r in phase.ids]
            report = await fakes.call("report", run_ids=all_ids, include_requests=True)
            scripts = {row["run_id"]: row["requests"] for row in report["runs"]}
            calls = {row["run_id"]: sum(row["kinds"].values()) for row in report["runs"]}

            bare_idle = 0.0
            skipped: dict[str, int] = {}
            for fair in (False, True):
                simple, replayer = bare_bot()
                replayer.venice_url = urls["venice"] if fair else None
                task = await connect(simple)
                try:
                    await simple.tree.sync()
                    driver = Driver(fakes, simple, world["channels"], world["users"], first_run=last_run)
                    for phase, _ in phases:
                        replayed = list(phase.ids)
                        # The fair bot's Venice stream is paced as the production bot's was.
                        seconds = phase.seconds if fair else 0.0

                        async def replay(phase: Phase = phase, replayed: list[int] = replayed,
                                         seconds: float = seconds, driver: Driver = driver,
                                         replayer: Replayer = replayer) -> list[int]:
                            # Turn k of the production phase is replayed as turn k here (same channel, texts).
                            for k, run_id in enumerate(replayed):
                                replayer.scripts[driver.next_run + 1 + k] = scripts[run_id]
                            if phase.name.startswith("one at a time"):
                                return [await driver.turn(0, phase.chars, seconds) for _ in replayed]
                            return await driver.turns(len(replayed), phase.chars, seconds)

                        replayer.calls = 0
                        await run_phase(phase, fakes, driver, replay, None, "bare_cpu" if fair else "replay_cpu")
                        made = sum(calls[r] for r in phase.ids)
                        if replayer.calls != made:
                            print(f"  note: {phase.name}: the bare bot replayed {replayer.calls} of {made} calls",
                                  file=sys.stderr)
                    if fair:
                        bare_idle = await idle_cpu()
                        skipped = dict(replayer.skipped)
                        expected = sum(phase.chars * phase.turns for phase, _ in phases)
                        if replayer.streamed_chars != expected:
                            print(f"  note: the fair bare bot streamed {replayer.streamed_chars:,} of "
                                  f"{expected:,} characters", file=sys.stderr)
                    last_run = driver.next_run
                finally:
                    if replayer.http is not None:
                        await replayer.http.close()
                    await disconnect(simple, task)
            final = await fakes.call("report", run_ids=[])
        finally:
            await fakes.close()

    pieces = f"{piece_chars}-character pieces" if piece_chars else "token-sized pieces"
    print(f"Bot CPU and SQL per /chat turn (CPU: user+system of this process; fakes in a child process; "
          f"Discord rate limits on; Venice streaming {pieces})")
    header = (f"{'phase':<46} | {'turns':>5} | {'reply':>11} | {'SQL/turn':>8} | {'calls/turn':>10} | "
              f"{'bot ms/turn':>11} | {'bare ms/turn':>12} | {'ratio':>6} | {'replay-only ms':>14} | {'429s':>4}")
    print(header)
    print("-" * len(header))
    for phase, _ in phases:
        per_turn_calls = sum(calls[r] for r in phase.ids) / phase.turns
        p_ms, b_ms = phase.cpu / phase.turns * 1000, phase.bare_cpu / phase.turns * 1000
        r_ms = phase.replay_cpu / phase.turns * 1000
        reply = f"{phase.chars:,} / {phase.seconds:g} s"
        print(f"{phase.name:<46} | {len(phase.ids):>5} | {reply:>11} | {phase.statements / phase.turns:>8.1f} | "
              f"{per_turn_calls:>10.1f} | {p_ms:>11.1f} | {b_ms:>12.1f} | {p_ms / b_ms:>5.2f}× | {r_ms:>14.1f} | "
              f"{phase.served_429:>4}")
    print("bare: a minimal chat bot (same Discord calls + Venice's SSE stream read and parsed with aiohttp + "
          "history in memory); ratio = bot ÷ bare; replay-only: the same Discord calls alone, no Venice")
    print(f"idle CPU while connected: production {prod_idle * 1000:.1f} ms/s, bare {bare_idle * 1000:.1f} ms/s "
          f"(a production turn lasts its stream; its figure includes ~stream s × idle)")
    if skipped:
        print("calls not replayed: " + ", ".join(f"{n}× {k}" for k, n in skipped.items()))
    print(f"failed commands: {failed}; OpenAPI violations: Discord {len(final['violations'])}, "
          f"Venice {final['venice_violations']}; wall time {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=10, help="turns one after another in one channel")
    parser.add_argument("--channels", type=int, default=20, help="channels chatting at once")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of a turn in every channel at once")
    parser.add_argument("--piece-chars", type=int, default=0, help="stream slices of this many characters")
    parser.add_argument("--profile", metavar="FILE",
                        help="cProfile the production bot's one-at-a-time phase into FILE (pstats)")
    parser.add_argument("--statements", action="store_true",
                        help="print the SQL statements of the one-at-a-time phase per turn (stderr)")
    args = parser.parse_args()
    asyncio.run(main(args.turns, args.channels, args.rounds, args.piece_chars, args.profile, args.statements))
