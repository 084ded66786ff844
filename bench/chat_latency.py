"""What users feel when they /chat, and what a streamed reply costs in Discord calls (DESIGN §10).

    .venv/bin/python bench/chat_latency.py [--idle-runs 20] [--channels 20]

The production bot (`make_bot`, every cog, a migrated SQLite file) connects through the fake
gateway to FakeDiscord; FakeVenice streams each reply in token-sized pieces (≤ 6 characters, as a
tokenizer splits words) evenly over a scripted time, after 0.3 s to the first token. Both fakes run
in a child process (bench/_fakes.py), so this process's event loop and CPU are the bot's alone; all
timestamps are taken in the child, on one clock: when it dispatched INTERACTION_CREATE, when a
request reached FakeDiscord, when FakeVenice wrote the first token. FakeDiscord's rate limits are
on throughout (its defaults: 5 per 5 s per route bucket, 5 per 2 s per webhook for executes, 50/s
global), and it validates every request against Discord's OpenAPI description.

Measured:
(a) interaction dispatched → the bot's first Discord call for it (Discord's 3 s deadline is a cliff);
(b) Venice's first token → the first request that shows reply text in Discord (a webhook execute,
    message send or edit whose text starts the reply);
(c) Discord calls per streamed reply of 300 / 1,500 / 6,000 characters streamed over 3 / 5 / 8 s,
    with N channels chatting at once (all N /chat commands dispatched in the same instant), and the
    429s FakeDiscord served.

Phases: a first turn in every channel, all at once (a channel's first turn also starts its
conversation and finds or creates the persona webhook, which the bot does while Venice thinks;
reported apart), then `--idle-runs` turns one after another in one channel (later turns), then one
round per reply size in all channels at once. Runs in about a minute; needs ../shared.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._fakes import (
    Completions,
    FakesProcess,
    allow_long_replies,
    connect,
    disconnect,
    percentile,
    production_bot,
)
from bot.store.migrate import migrate

SIZES = ((300, 3.0), (1_500, 5.0), (6_000, 8.0))  # reply characters, seconds of streaming
FIRST_TOKEN_DELAY = 0.3
SAY = "I sit down at the bar and order a drink."


class Counter(logging.Filter):
    """Counts the 429s discord.py reports (a warning for each) and keeps those warnings off the table."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.name.startswith("discord.") and "rate limit" in text.lower():
            if "Global rate limit has been hit" not in text:  # the same 429 is also logged per request
                self.count += 1
            return False
        return True


class Bench:
    def __init__(self, fakes: FakesProcess, bot: Any, channels: list[str], users: list[str]) -> None:
        self.fakes = fakes
        self.bot = bot
        self.done = Completions(bot)
        self.channels = channels
        self.users = users
        self.next_run = 0

    async def turn(self, index: int, chars: int, seconds: float) -> int:
        """One /chat in channel `index` by user `index`; returns the run id once the command finished."""
        self.next_run += 1
        run_id = self.next_run
        sent = await self.fakes.call("slash", run_id=run_id, user=self.users[index], channel=self.channels[index],
                                     message=SAY, chars=chars, seconds=seconds)
        finished = self.done.expect(int(sent["interaction_id"]))
        try:
            await asyncio.wait_for(finished, seconds + 60)
        except TimeoutError:
            print(f"  run {run_id} did not finish in {seconds + 60:.0f} s", file=sys.stderr)
        return run_id

    async def round(self, count: int, chars: int, seconds: float) -> list[int]:
        return list(await asyncio.gather(*(self.turn(i, chars, seconds) for i in range(count))))


def ms(value: float | None) -> str:
    return "—" if value is None or value != value else f"{value * 1000:,.0f}"


def latency_row(label: str, values: list[float]) -> str:
    if not values:
        return f"{label:<44} | {0:>4} | {'—':>8} | {'—':>8} | {'—':>8}"
    return (f"{label:<44} | {len(values):>4} | {ms(statistics.median(values)):>8} | "
            f"{ms(percentile(values, 95)):>8} | {ms(max(values)):>8}")


def first_call(row: dict[str, Any]) -> float | None:
    return row["t_first_call"] - row["t_dispatch"] if row["t_first_call"] is not None else None


def first_text(row: dict[str, Any]) -> float | None:
    if row["t_first_text"] is None or row["t_first_token"] is None:
        return None
    return row["t_first_text"] - row["t_first_token"]


def values(rows: list[dict[str, Any]], fn: Any) -> list[float]:
    return [v for v in (fn(r) for r in rows) if v is not None]


async def main(idle_runs: int, channels: int) -> None:
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("discord.client").setLevel(logging.ERROR)  # "PyNaCl is not installed" and the like
    # discord.py's heartbeat thread records the send time after the loop may already have handled a
    # local fake's sub-millisecond ACK, then warns "websocket is 41.3s behind": a harness artifact.
    logging.getLogger("discord.gateway").setLevel(logging.ERROR)
    logging.getLogger("discord").setLevel(logging.WARNING)  # the 429 warnings, counted by the filter
    warnings = Counter()
    for handler in logging.getLogger().handlers:
        handler.addFilter(warnings)
    began = time.monotonic()
    fakes = FakesProcess()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await migrate(url)
        urls = await fakes.start()
        try:
            world = await fakes.call("world", guilds=1, channels_per_guild=channels, users=channels)
            await fakes.call("chat_delay", seconds=FIRST_TOKEN_DELAY)
            await fakes.call("rate_limits", on=True)
            bot = production_bot(urls, url)
            task = await connect(bot)
            try:
                await allow_long_replies(bot)
                await bot.tree.sync()  # the fake learns the command ids and option types, as Discord would
                bench = Bench(fakes, bot, world["channels"], world["users"])
                warm = await bench.round(channels, 300, 1.0)
                idle = [await bench.turn(0, 300, 1.0) for _ in range(idle_runs)]
                loaded: dict[int, list[int]] = {}
                served: dict[int, int] = {}
                for chars, seconds in SIZES:
                    before = (await fakes.call("served"))["served_429"]
                    loaded[chars] = await bench.round(channels, chars, seconds)
                    served[chars] = (await fakes.call("served"))["served_429"] - before
                    await asyncio.sleep(1.0)  # let the last edits' buckets refill between sizes
                failed = bench.done.failed
            finally:
                await disconnect(bot, task)
            all_ids = warm + idle + [r for ids in loaded.values() for r in ids]
            report = await fakes.call("report", run_ids=all_ids)
        finally:
            await fakes.close()
    rows = {r["run_id"]: r for r in report["runs"]}
    pick = lambda ids: [rows[i] for i in ids]  # noqa: E731
    loaded_rows = [r for ids in loaded.values() for r in pick(ids)]

    print(f"/chat latency, production bot on the fake gateway; fakes in a child process; "
          f"{channels} channels; Discord rate limits on")
    print()
    print("(a) INTERACTION_CREATE dispatched → bot's first Discord call for it (ms)")
    print(f"{'case':<44} | {'n':>4} | {'median':>8} | {'p95':>8} | {'max':>8}")
    print("-" * 84)
    print(latency_row("first turn in each channel, all at once", values(pick(warm), first_call)))
    print(latency_row("one channel, turns one after another", values(pick(idle), first_call)))
    for chars, ids in loaded.items():
        print(latency_row(f"{channels} channels at once, {chars:,}-char replies", values(pick(ids), first_call)))
    print(latency_row(f"{channels} channels at once, all sizes", values(loaded_rows, first_call)))
    firsts = {r["first_call"] for r in report["runs"] if r["first_call"]}
    print(f"first call: {', '.join(sorted(firsts))}")
    print()
    print("(b) Venice's first token → first reply text visible in Discord (ms; goal ≤ 50 for first and later turns)")
    print(f"{'case':<44} | {'n':>4} | {'median':>8} | {'p95':>8} | {'max':>8}")
    print("-" * 84)
    print(latency_row("a channel's first turn (all channels at once)", values(pick(warm), first_text)))
    print(latency_row("one channel, turns one after another", values(pick(idle), first_text)))
    for chars, ids in loaded.items():
        print(latency_row(f"{channels} channels at once, {chars:,}-char replies", values(pick(ids), first_text)))
    print(latency_row(f"{channels} channels at once, all sizes", values(loaded_rows, first_text)))
    print()
    print(f"(c) Discord calls per streamed reply, {channels} channels at once (median per reply; "
          f"min/max where they differ)")
    header = (f"{'reply chars':>11} | {'stream s':>8} | {'sends':>7} | {'edits':>10} | {'sends+edits':>11} | "
              f"{'all calls':>10} | {'min edit gap':>12} | {'max update gap':>14} | {'turn s':>6} | {'429s':>4}")
    print(header)
    print("-" * len(header))
    for chars, seconds in SIZES:
        rs = pick(loaded[chars])
        sends = [r["kinds"].get("send", 0) for r in rs]
        edits = [r["kinds"].get("edit", 0) for r in rs]
        both = [a + b for a, b in zip(sends, edits, strict=True)]
        total = [sum(r["kinds"].values()) for r in rs]
        gaps = [r["min_edit_gap"] for r in rs if r["min_edit_gap"] is not None]
        stalls = [r["max_update_gap"] for r in rs if r["max_update_gap"] is not None]
        turn = [r["t_last_call"] - r["t_dispatch"] for r in rs if r["t_last_call"] is not None]
        print(f"{chars:>11,} | {seconds:>8.0f} | {spread(sends):>7} | {spread(edits):>10} | {spread(both):>11} | "
              f"{spread(total):>10} | {ms(min(gaps) if gaps else None) + ' ms':>12} | "
              f"{ms(max(stalls) if stalls else None) + ' ms':>14} | {statistics.median(turn):>6.1f} | "
              f"{served[chars]:>4}")
    print("min edit gap: shortest time between two edits of one message; max update gap: longest wait between two "
          "visible updates while Venice was streaming; turn s: dispatch → last call (median)")
    kinds: dict[str, int] = {}
    for r in loaded_rows:
        for k, n in r["kinds"].items():
            kinds[k] = kinds.get(k, 0) + n
    print(f"calls by kind over the {len(loaded_rows)} loaded replies: "
          + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])))
    limited: dict[str, int] = {}
    for route in report["limited_routes"]:
        limited[route] = limited.get(route, 0) + 1
    print(f"429s served by FakeDiscord over the whole run: {report['served_429']}"
          + (" (" + ", ".join(f"{n}× {k}" for k, n in limited.items()) + ")" if limited else "")
          + f"; 429s discord.py logged: {warnings.count}")
    print(f"failed commands: {failed}; OpenAPI violations: Discord {len(report['violations'])}, "
          f"Venice {report['venice_violations']}; wall time {time.monotonic() - began:.0f} s")


def spread(xs: list[int]) -> str:
    if not xs:
        return "—"
    med = statistics.median(xs)
    text = f"{med:g}"
    return text if min(xs) == max(xs) else f"{text} ({min(xs)}–{max(xs)})"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--idle-runs", type=int, default=20, help="turns one after another in one channel")
    parser.add_argument("--channels", type=int, default=20, help="channels chatting at once")
    args = parser.parse_args()
    asyncio.run(main(args.idle_runs, args.channels))
