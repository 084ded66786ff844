"""Bot CPU per chat turn, compared with a bare discord.py bot that makes the same Discord calls (DESIGN §10).

    .venv/bin/python bench/chat_cpu.py [--turns 20] [--channels 10] [--piece-chars 0]

Both fakes (FakeDiscord with OpenAPI validation, FakeVenice streaming token-sized pieces) run in a
child process (bench/_fakes.py), so the CPU of this process (user + system, all threads: the event
loop and aiosqlite's worker threads) is the bot's own.

1. The production bot (`make_bot`, every cog, a migrated SQLite file) answers `--turns` /chat
   commands per reply size, `--channels` channels at a time, after a warm-up turn in every channel
   (which creates the persona webhooks and fills the caches). Venice streams 300 / 1,500 / 6,000
   characters over 3 / 5 / 8 s.
2. A bare `commands.AutoShardedBot` with the same intents, whose /chat handler replays exactly the
   Discord calls the production bot made for the same turn, as FakeDiscord recorded them: the
   interaction response with the echo embed (and the original-response fetch, if the bot made one),
   typing, every webhook execute and edit with the same text and buttons, in the same order. No
   database, no Venice, no prompt, no stream parsing, no throttle timers.

The difference is what the bot's own logic costs per turn: the database (gate, admission, limits,
history, storing the turn), prompt assembly, Venice's SSE stream and the content screen, the
stream renderer. Both bots receive the same gateway echoes of their messages. FakeDiscord's rate
limits are off (they would only add waiting). `--piece-chars 60` streams 60-character slices
instead of token-sized pieces, to see what each streamed piece costs. Runs in about 50 s; needs
../shared.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import discord
from discord import app_commands
from discord.ext import commands

from bench._fakes import (
    TAG,
    Completions,
    FakesProcess,
    allow_long_replies,
    connect,
    cpu_seconds,
    disconnect,
    production_bot,
)
from bot.client import intents
from bot.store.migrate import migrate

SIZES = ((300, 3.0), (1_500, 5.0), (6_000, 8.0))
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

    def __init__(self, bot: commands.AutoShardedBot) -> None:
        self.bot = bot
        self.scripts: dict[int, list[dict[str, Any]]] = {}
        self.hooks: dict[int, discord.Webhook] = {}
        self.skipped: dict[str, int] = {}
        self.calls = 0

    @app_commands.command(name="chat", description="Say something to the channel's character", nsfw=True)
    async def chat(self, interaction: discord.Interaction, message: str) -> None:
        found = TAG.search(message)
        assert found is not None
        await self.replay(interaction, self.scripts[int(found.group(1))])

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


async def measure(driver: Driver, count: int, chars: int, seconds: float) -> tuple[float, list[int], float]:
    """(CPU seconds, run ids, wall seconds) for `count` turns."""
    wall, cpu = time.monotonic(), cpu_seconds()
    ids = await driver.turns(count, chars, seconds)
    await asyncio.sleep(SETTLE)
    return cpu_seconds() - cpu, ids, time.monotonic() - wall


async def idle_cpu(seconds: float = 3.0) -> float:
    """CPU per second of a connected bot doing nothing (heartbeats, timers)."""
    cpu = cpu_seconds()
    await asyncio.sleep(seconds)
    return (cpu_seconds() - cpu) / seconds


async def main(turns: int, channels: int, piece_chars: int) -> None:
    logging.basicConfig(level=logging.ERROR)
    for noisy in ("discord.client", "discord.gateway"):  # voice-library notices; heartbeat-ACK race with a local fake
        logging.getLogger(noisy).setLevel(logging.ERROR)
    began = time.monotonic()
    fakes = FakesProcess()
    prod: dict[int, tuple[float, list[int], float]] = {}
    bare: dict[int, tuple[float, list[int], float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await migrate(url)
        urls = await fakes.start()
        try:
            world = await fakes.call("world", guilds=1, channels_per_guild=channels, users=channels)
            await fakes.call("chat_delay", seconds=0.3)
            await fakes.call("pieces", chars=piece_chars)

            bot = production_bot(urls, url)
            task = await connect(bot)
            try:
                await allow_long_replies(bot)
                await bot.tree.sync()
                driver = Driver(fakes, bot, world["channels"], world["users"], first_run=0)
                await driver.turns(channels, 300, 1.0)  # warm-up: webhooks, caches, connection pools
                prod_idle = await idle_cpu()
                for chars, seconds in SIZES:
                    prod[chars] = await measure(driver, turns, chars, seconds)
                last_run = driver.next_run
            finally:
                await disconnect(bot, task)
            report = await fakes.call("report", run_ids=[r for v in prod.values() for r in v[1]],
                                      include_requests=True)
            scripts = {row["run_id"]: row["requests"] for row in report["runs"]}
            calls = {row["run_id"]: sum(row["kinds"].values()) for row in report["runs"]}

            simple, replayer = bare_bot()
            task = await connect(simple)
            try:
                await simple.tree.sync()
                driver = Driver(fakes, simple, world["channels"], world["users"], first_run=last_run)
                # Warm-up: one replayed turn per channel (finds the webhooks, warms discord.py).
                for i, run_id in enumerate(prod[SIZES[0][0]][1][:channels]):
                    replayer.scripts[driver.next_run + 1 + i] = scripts[run_id]
                await driver.turns(channels, 300, 0.0)
                bare_idle = await idle_cpu()
                for chars, _ in SIZES:
                    # Replay turn k of the production bot as turn k of the bare bot (same channel, same texts).
                    for k, run_id in enumerate(prod[chars][1]):
                        replayer.scripts[driver.next_run + 1 + k] = scripts[run_id]
                    replayer.calls = 0
                    bare[chars] = await measure(driver, turns, chars, 0.0)
                    bare_calls = replayer.calls
                    prod_calls = sum(calls[r] for r in prod[chars][1])
                    if bare_calls != prod_calls:
                        print(f"  note: {chars:,}-char turns: bare bot replayed {bare_calls} of {prod_calls} calls",
                              file=sys.stderr)
                skipped = dict(replayer.skipped)
            finally:
                await disconnect(simple, task)
            final = await fakes.call("report", run_ids=[])
        finally:
            await fakes.close()

    pieces = f"{piece_chars}-character pieces" if piece_chars else "token-sized pieces"
    print(f"Bot CPU per /chat turn (user+system, this process only; fakes in a child process); "
          f"{turns} turns per size, {channels} channels at a time, Venice streaming {pieces}")
    header = (f"{'reply chars':>11} | {'stream s':>8} | {'Discord calls/turn':>18} | {'production ms/turn':>18} | "
              f"{'bare ms/turn':>12} | {'ratio':>6} | {'extra ms/turn':>13}")
    print(header)
    print("-" * len(header))
    for chars, seconds in SIZES:
        p_cpu, p_ids, _ = prod[chars]
        b_cpu, _, _ = bare[chars]
        per_turn_calls = sum(calls[r] for r in p_ids) / len(p_ids)
        p_ms, b_ms = p_cpu / len(p_ids) * 1000, b_cpu / len(p_ids) * 1000
        print(f"{chars:>11,} | {seconds:>8.0f} | {per_turn_calls:>18.1f} | {p_ms:>18.1f} | {b_ms:>12.1f} | "
              f"{p_ms / b_ms:>5.1f}× | {p_ms - b_ms:>13.1f}")
    print(f"idle CPU while connected: production {prod_idle * 1000:.1f} ms/s, bare {bare_idle * 1000:.1f} ms/s "
          f"(production turns take the stream's wall time, so their figure includes ~stream s × idle)")
    if skipped:
        print("calls not replayed: " + ", ".join(f"{n}× {k}" for k, n in skipped.items()))
    print(f"OpenAPI violations: Discord {len(final['violations'])}, Venice {final['venice_violations']}; "
          f"wall time {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=20, help="turns per reply size")
    parser.add_argument("--channels", type=int, default=10, help="channels chatting at once")
    parser.add_argument("--piece-chars", type=int, default=0, help="stream slices of this many characters")
    args = parser.parse_args()
    asyncio.run(main(args.turns, args.channels, args.piece_chars))
