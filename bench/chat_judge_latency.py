"""First visible reply text when the content judge reads a person's words (issue #9 §3).

    .venv/bin/python bench/chat_judge_latency.py [--runs 10]

The production bot on the fake gateway, fakes in a child process (bench/_fakes.py, as
bench/chat_latency.py). Each /chat says something stage 1 hands to the judge (a school setting
next to sexual words; the fake judge clears it), so the judge runs beside the Venice request; the
fake judge answers after 0 / 100 / 400 ms, Venice's first token comes 300 ms after the request.
A row with words stage 1 clears (no judge) is the baseline. Turns run one after another in one
channel (`--runs` per row); the reply is 300 characters streamed over 1 s.

Measured, all on the child's clock:
- token → text: Venice's first token → the first Discord request that shows reply text;
- ready → text: max(the judge's answer, Venice's first token) → first visible text
  (goal ≤ 50 ms: nothing waits longer than the later of the two);
- judge calls per turn (the words, and the reply's edits when stage 1 asks about them).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._fakes import Completions, FakesProcess, allow_long_replies, connect, disconnect, percentile, production_bot
from bot.store.migrate import migrate

FIRST_TOKEN_DELAY = 0.3
JUDGED = "She moans as I undress her, her old school uniform on the floor."
PLAIN = "I sit down at the bar and order a drink."
CASES = (("no judge (stage 1 clears the words)", PLAIN, 0.0), ("judge answers at once", JUDGED, 0.0),
         ("judge answers in 100 ms", JUDGED, 0.1), ("judge answers in 400 ms", JUDGED, 0.4))


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:,.0f}"


def row(label: str, xs: list[float]) -> str:
    if not xs:
        return f"{'':>9} | {'—':>7} | {'—':>7} | {'—':>7}"
    return f"{ms(statistics.median(xs)):>9} | {ms(percentile(xs, 95)):>7} | {ms(max(xs)):>7}"


async def main(runs: int) -> None:
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("discord").setLevel(logging.ERROR)
    fakes = FakesProcess()
    results: list[tuple[str, list[dict[str, Any]]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await migrate(url)
        urls = await fakes.start()
        try:
            world = await fakes.call("world", guilds=1, channels_per_guild=1, users=1)
            await fakes.call("chat_delay", seconds=FIRST_TOKEN_DELAY)
            bot = production_bot(urls, url)
            task = await connect(bot)
            done = Completions(bot)
            run_id = 0
            try:
                await allow_long_replies(bot)
                await bot.tree.sync()
                for label, message, delay in CASES:
                    await fakes.call("judge_delay", seconds=delay)
                    ids = []
                    for _ in range(runs + 1):  # the first of each case warms up, and is left out
                        run_id += 1
                        sent = await fakes.call("slash", run_id=run_id, user=world["users"][0],
                                                channel=world["channels"][0], message=message, chars=300,
                                                seconds=1.0)
                        await asyncio.wait_for(done.expect(int(sent["interaction_id"])), 60)
                        ids.append(run_id)
                    report = await fakes.call("report", run_ids=ids[1:])
                    results.append((label, report["runs"]))
            finally:
                await disconnect(bot, task)
        finally:
            await fakes.close()

    print(f"/chat with the content judge beside the generation; Venice's first token at {FIRST_TOKEN_DELAY * 1000:.0f} "
          f"ms; {runs} turns per row, one after another (ms)")
    header = (f"{'case':<38} | {'token → text':^29} | {'ready → text (goal ≤ 50)':^29} | {'judge calls':>11}")
    print(header)
    print(f"{'':<38} | {'median':>9} | {'p95':>7} | {'max':>7} | {'median':>9} | {'p95':>7} | {'max':>7} |")
    print("-" * len(header))
    for label, rows in results:
        token = [r["t_first_text"] - r["t_first_token"] for r in rows if r["t_first_text"] and r["t_first_token"]]
        ready = [r["t_first_text"] - max(r["t_first_token"], r["t_judged"] or 0.0) for r in rows
                 if r["t_first_text"] and r["t_first_token"]]
        calls = [r["judged"] for r in rows]
        print(f"{label:<38} | {row(label, token)} | {row(label, ready)} | {statistics.median(calls):>11g}")
    print("token → text: Venice's first token → first request showing reply text; ready → text: the later of the "
          "judge's answer and the first token → first visible text (negative: shown before the judge answered, "
          "which must not happen with the judge)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="turns per row")
    args = parser.parse_args()
    asyncio.run(main(args.runs))
