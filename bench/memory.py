"""Memory with 10,000 active channels: what the bot keeps per channel (DESIGN §10).

    .venv/bin/python bench/memory.py [--channels 10000] [--guilds 20] [--turn-channels 2000]

The production bot (`make_bot`, every cog, a migrated SQLite file) connects through the fake
gateway to FakeDiscord; both fakes run in a child process (bench/_fakes.py), so this process's
memory is the bot's alone.

Stage 1, resident memory (RSS after a full garbage collection):
1. connected, in no guild;
2. after GUILD_CREATE for `--guilds` guilds holding `--channels` age-restricted text channels
   between them (Discord allows 500 channels per guild, so 10,000 channels take 20 guilds): the
   discord.py cache;
3. after one chat turn in each of `--turn-channels` of those channels, in two equal blocks. A turn
   is the chat service's `take_turn` as the chat cog renders it (minus /chat's echo): the channel
   queue, scene, history, prompt, the Venice stream, the persona webhook (listed and created on a
   channel's first turn, so the webhook cache fills as in production), the stream renderer and
   storing the turn; 64 channels at a time. The reply is short (FakeVenice's default echo): what
   stays behind after a turn does not depend on its length.
   The first block also pays one-time growth (SQLite page caches, connection pools, allocator
   arenas, discord.py's message cache filling up to its 1,000 messages), so the second block's
   bytes per channel is the marginal cost, and with fewer turn channels than channels the table
   projects it onto all of them. A turn costs ~30 ms of CPU, so one in each of 10,000 channels
   takes ~6 minutes: `--turn-channels 10000` measures that directly instead of projecting.

Stage 2, what the bytes are: tracemalloc on 500 more channels (one more GUILD_CREATE) and one turn
in `--traced-turns` of them, grouped by the package and the line that allocated what stayed.
Objects allocated before tracing started are invisible to it, so discord.py's bounded message
cache shows up as growth here (a new message per turn) although it only turns over.

Runs in under two minutes with the defaults; needs ../shared.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._fakes import FakesProcess, connect, cpu_seconds, disconnect, production_bot
from bot.store.migrate import migrate
from bot.where import Where

ROOT = Path(__file__).resolve().parents[1]
CONCURRENCY = 64
PACKAGES = (  # (label, path fragment), first match wins
    ("bot + cogs", str(ROOT / "bot")),
    ("bot + cogs", str(ROOT / "cogs")),
    ("discord.py", "/discord/"),
    ("aiohttp/yarl/multidict", "/aiohttp/"),
    ("aiohttp/yarl/multidict", "/yarl/"),
    ("aiohttp/yarl/multidict", "/multidict/"),
    ("sqlalchemy/aiosqlite", "/sqlalchemy/"),
    ("sqlalchemy/aiosqlite", "/aiosqlite/"),
    ("asyncio", "/asyncio/"),
    ("json", "/json/"),
)


def rss() -> int:
    """Resident set size of this process now, in bytes (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def package_of(filename: str) -> str:
    for label, fragment in PACKAGES:
        if fragment in filename:
            return label
    return "other (stdlib, builtins)"


def settled_rss() -> int:
    gc.collect()
    return rss()


def snapshot() -> tracemalloc.Snapshot:
    gc.collect()
    return tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])


def traced(snap: tracemalloc.Snapshot) -> int:
    return sum(s.size for s in snap.statistics("filename"))


async def until(predicate: Any, what: str, timeout: float = 120.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not predicate():  # the bot signals nothing we could await
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def turns(bot: Any, channel_ids: list[int], user_ids: list[int]) -> tuple[int, float]:
    """One chat turn per channel through the chat service, rendered as the chat cog renders; returns
    (failures, seconds)."""
    cog = bot.get_cog("Chat")
    assert cog is not None
    failures = 0
    started = time.monotonic()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(channel_ids)):
        queue.put_nowait(i)

    async def worker() -> None:
        nonlocal failures
        while not queue.empty():
            i = queue.get_nowait()
            channel = bot.get_channel(channel_ids[i])
            user_id = user_ids[i % len(user_ids)]
            where = Where(user_id, channel.guild.id, channel.id, "chat", user_name=f"user{i % len(user_ids)}")
            try:
                await cog.chat.take_turn(where, "I sit down at the bar and order a drink.", cog.reply(channel))
            except Exception as exc:
                failures += 1
                if failures <= 3:
                    print(f"  turn in channel {channel.id} failed: {exc!r}", file=sys.stderr)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return failures, time.monotonic() - started


def mib(n: float) -> str:
    return f"{n / 1024 / 1024:,.1f}"


def by_package(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> dict[str, int]:
    totals: dict[str, int] = {}
    for stat in after.compare_to(before, "filename"):
        label = package_of(stat.traceback[0].filename)
        totals[label] = totals.get(label, 0) + stat.size_diff
    return totals


def top_lines(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, count: int = 8) -> list[tuple[str, int, int]]:
    out = []
    for stat in after.compare_to(before, "lineno")[:count]:
        frame = stat.traceback[0]
        name = frame.filename
        for marker in ("site-packages/", str(ROOT) + "/", "/lib/python3.11/"):
            if marker in name:
                name = name.split(marker, 1)[1]
                break
        out.append((f"{name}:{frame.lineno}", stat.size_diff, stat.count_diff))
    return out


async def cache_channels(fakes: FakesProcess, bot: Any, guilds: int, per_guild: int) -> tuple[list[int], float]:
    """GUILD_CREATE for new guilds full of channels; returns their channel ids once all are cached."""
    before = sum(len(g.channels) for g in bot.guilds)
    started = time.monotonic()
    world = await fakes.call("world", guilds=guilds, channels_per_guild=per_guild, users=0)
    await until(lambda: sum(len(g.channels) for g in bot.guilds) >= before + guilds * per_guild,
                f"{guilds * per_guild} more channels in the cache")
    return [int(c) for c in world["channels"]], time.monotonic() - started


async def main(channels: int, guilds: int, turn_channels: int, traced_turns: int) -> None:
    logging.basicConfig(level=logging.ERROR)
    for noisy in ("discord.client", "discord.gateway"):  # voice-library notices; heartbeat-ACK race with a local fake
        logging.getLogger(noisy).setLevel(logging.ERROR)
    began = time.monotonic()
    fakes = FakesProcess()
    half = turn_channels // 2
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await migrate(url)
        urls = await fakes.start(validate=False)  # validation only costs the child's time here
        try:
            users = [int(u) for u in (await fakes.call("world", guilds=0, channels_per_guild=0, users=200))["users"]]
            bot = production_bot(urls, url)
            task = await connect(bot)
            try:
                # Stage 1, RSS only (tracemalloc's own bookkeeping would inflate RSS).
                await asyncio.sleep(0.5)
                rss0 = settled_rss()
                ids, cache_seconds = await cache_channels(fakes, bot, guilds, channels // guilds)
                await asyncio.sleep(0.5)
                rss1 = settled_rss()
                halves = []
                for part in (ids[:half], ids[half:turn_channels]):
                    cpu = cpu_seconds()
                    failures, seconds = await turns(bot, part, users)
                    cpu = cpu_seconds() - cpu
                    await asyncio.sleep(0.5)
                    halves.append((len(part), settled_rss(), failures, seconds, cpu))

                # Stage 2, tracemalloc on fresh channels: what each allocation is.
                tracemalloc.start(1)
                t0 = snapshot()
                sample, _ = await cache_channels(fakes, bot, 1, 500)
                await asyncio.sleep(0.5)
                t1 = snapshot()
                traced_failures, _ = await turns(bot, sample[:traced_turns], users)
                await asyncio.sleep(0.5)
                t2 = snapshot()
                tracemalloc.stop()

                services = bot.services
                personas = services.personas
                counts = {
                    "chat queue locks": len(services.chat.queue._locks),
                    "streams running": len(services.chat._running),
                    "persona webhooks cached": len(personas._hooks),
                    "persona webhook locks": len(personas._locks),
                    "persona embed authors": len(personas._authors),
                    "discord.py rate-limit buckets": len(bot.http._buckets),
                    "discord.py cached messages": len(bot._connection._messages or []),
                    "discord.py views by message": len(bot._connection._view_store._synced_message_views),
                }
            finally:
                await disconnect(bot, task)
        finally:
            await fakes.close()

    (n1, rss2, f1, s1, c1), (n2, rss3, f2, s2, c2) = halves
    marginal = (rss3 - rss2) / n2 if n2 else float("nan")
    print(f"Bot memory with {channels:,} channels in {guilds} guilds (RSS after gc; fakes in a child process; "
          f"Python {sys.version.split()[0]})")
    header = (f"{'state':<46} | {'RSS MiB':>8} | {'Δ MiB':>7} | {'bytes/channel':>13} | {'turns/s':>7} | "
              f"{'CPU ms/turn':>11}")
    print(header)
    print("-" * len(header))
    print(f"{'connected, in no guild':<46} | {mib(rss0):>8} | {'':>7} | {'':>13} | {'':>7} | {'':>11}")
    print(f"{f'+ {channels:,} channels cached (GUILD_CREATE)':<46} | {mib(rss1):>8} | {mib(rss1 - rss0):>7} | "
          f"{(rss1 - rss0) / channels:>13,.0f} | {'':>7} | {'':>11}")
    rows = ((f"+ one chat turn in channels 1–{n1:,}", rss1, rss2, n1, s1, c1),
            (f"+ one chat turn in channels {n1 + 1:,}–{n1 + n2:,}", rss2, rss3, n2, s2, c2))
    for label, before, after, n, seconds, cpu in rows:
        print(f"{label:<46} | {mib(after):>8} | {mib(after - before):>7} | {(after - before) / n:>13,.0f} | "
              f"{n / seconds:>7.0f} | {cpu / n * 1000:>11.1f}")
    if turn_channels < channels:
        projected = rss1 + marginal * channels
        print(f"{f'projected: one turn in all {channels:,} channels':<46} | {mib(projected):>8} | "
              f"{mib(projected - rss1):>7} | {marginal:>13,.0f} | {'':>7} | {'':>11}")
        print(f"(projection: the second block's bytes per channel × {channels:,}; the first block also pays "
              "one-time growth: SQLite page caches, connection pools, allocator arenas)")
    print(f"GUILD_CREATE of {channels:,} channels cached in {cache_seconds:.1f} s; "
          f"{f1 + f2 + traced_failures} turns failed")
    print()
    print(f"Python allocations that stay (tracemalloc, on {500:,} more channels and one turn in {traced_turns:,} "
          f"of them), bytes per channel, by the package that allocated them")
    print(f"{'package':<26} | {'channel cached':>14} | {'after one turn':>14}")
    print("-" * 60)
    cache_pk, turn_pk = by_package(t0, t1), by_package(t1, t2)
    for label in sorted(set(cache_pk) | set(turn_pk), key=lambda k: -(cache_pk.get(k, 0) + turn_pk.get(k, 0))):
        print(f"{label:<26} | {cache_pk.get(label, 0) / 500:>14,.0f} | {turn_pk.get(label, 0) / traced_turns:>14,.0f}")
    print(f"{'total':<26} | {(traced(t1) - traced(t0)) / 500:>14,.0f} | "
          f"{(traced(t2) - traced(t1)) / traced_turns:>14,.0f}")
    print()
    print("largest growth after one turn, by allocating line (bytes and objects per channel)")
    for where, size, count in top_lines(t1, t2):
        print(f"  {where:<58} {size / traced_turns:>7,.0f} B {count / traced_turns:>6.2f}")
    print()
    print("the bot's structures at the end: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    print(f"wall time {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=10_000, help="age-restricted channels in the cache")
    parser.add_argument("--guilds", type=int, default=20, help="guilds they are spread over (≤ 500 channels each)")
    parser.add_argument("--turn-channels", type=int, default=2_000,
                        help="channels that get one chat turn (10000 for all: about 6 minutes)")
    parser.add_argument("--traced-turns", type=int, default=300, help="turns measured with tracemalloc")
    args = parser.parse_args()
    asyncio.run(main(args.channels, args.guilds, min(args.turn_channels, args.channels), min(args.traced_turns, 500)))
