"""One hostile user against everyone else: event-loop stalls, acknowledgement times, limit overshoot.

    .venv/bin/python bench/hostile.py [--skip-limits] [--only NAME]

The production bot (`make_bot`, every cog, a migrated SQLite file) on the fake gateway, with
FakeDiscord and a paced FakeVenice in a child process (bench/_fakes.py), as in chat_latency.py.

(a) For each hostile input — a card with the biggest lorebook allowed, a `1 1 1 …` card, a PNG of
    650,000 empty chunks, a .charx zip listing 90,000 files, the longest chat message of `1 1 1 …`,
    and a chat turn with the huge-lorebook character — one user sends it in one channel while other
    users `/chat` in other channels (one every 0.4 s until the hostile request is answered). Printed:
    the longest event-loop stall while it ran (a probe task in the bot's process sleeps 5 ms at a
    time and measures how late it wakes), the other channels' acknowledgement times (interaction
    dispatched → the bot's first Discord call, taken on the fakes' clock), and how long the hostile
    request took and what it was told. Goal: stall ≤ 100 ms, acknowledgements well under 1 s.
(b) The overshoot of each limit under 20 simultaneous requests by one user (goal 0): daily
    messages, chat cooldown, chat concurrency, daily USD, daily images (Venice calls made beyond
    the limit), the card-import cooldown (imports accepted beyond one) and the character cap
    (characters stored beyond it, 20 creations at once through the characters service).

Takes about two minutes; needs ../shared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._fakes import Completions, FakesProcess, connect, disconnect, production_bot
from bot.store.migrate import migrate

OTHERS = 5  # bystanders, each in their own channel
CHAT_EVERY = 0.4  # seconds between two bystander /chat commands while a hostile request runs
SAY = "I sit down at the bar and order a drink."


@dataclass
class Case:
    name: str
    command: str
    options: dict[str, Any] = field(default_factory=dict)
    attachment: dict[str, Any] | None = None
    message_maker: str | None = None  # /chat with a hostile message built in the child


CASES = (
    # The biggest lorebook a card may bring: 500 entries × 50 keys, just under the 3,000,000
    # characters the screen reads (bot.policy.MAX_DOCUMENT_CHARS); a bigger one is refused unread.
    Case("huge lorebook card (500 × 50 keys, 2.7 M chars)", "character import",
         attachment={"option": "file", "filename": "lore.json", "maker": "lore_card", "args": {"chars": 5_000}}),
    Case("`1 1 1 …` card (5 × 50,000 chars)", "character import",
         attachment={"option": "file", "filename": "ones.json", "maker": "ones_card", "args": {}}),
    Case("chunk-bomb PNG (650,000 chunks)", "character import",
         attachment={"option": "file", "filename": "bomb.png", "maker": "chunk_bomb_png", "args": {}}),
    Case("zip of 90,000 entries (.charx)", "character import",
         attachment={"option": "file", "filename": "many.charx", "maker": "many_entries_zip", "args": {}}),
    Case("longest message, `1 1 1 …` (3,990 chars)", "chat", message_maker="ones_message"),
    Case("chat turn with the huge-lorebook character", "chat", options={"message": "Tell me about key3_1."}),
)


class StallProbe:
    """The event loop's lateness, measured from inside: sleep 5 ms, see how late the wake-up is."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="bench-stall-probe")

    def reset(self) -> None:
        self.worst = 0.0

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            self.worst = max(self.worst, time.perf_counter() - before - 0.005)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class Quiet(logging.Filter):
    """Counts the loop watch's warnings (the bot's own view of stalls) and keeps them off the table,
    unless asked to show them (`--culprits`: what held the loop, for whoever fixes it)."""

    def __init__(self, show: bool) -> None:
        super().__init__()
        self.show = show
        self.stalls = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "bot.loopwatch":
            self.stalls += record.getMessage().startswith("event loop was blocked")
            return self.show
        return True


class Bench:
    def __init__(self, fakes: FakesProcess, bot: Any, world: dict[str, Any]) -> None:
        self.fakes, self.bot = fakes, bot
        self.done = Completions(bot)
        self.channels: list[str] = world["channels"]
        self.users: list[str] = world["users"]
        self.next_run = 0
        self.last_command = ""

    async def bystander_chat(self, index: int) -> int:
        self.next_run += 1
        run_id = self.next_run
        await self.fakes.call("slash", run_id=run_id, user=self.users[index], channel=self.channels[index],
                              message=SAY, chars=300, seconds=1.0)
        return run_id

    async def command(self, user: int, channel: int, name: str, options: dict[str, Any] | None = None,
                      attachment: dict[str, Any] | None = None) -> asyncio.Future[bool]:
        sent = await self.fakes.call("command", user=self.users[user], channel=self.channels[channel], name=name,
                                     options=options or {}, attachment=attachment)
        self.last_command = sent["interaction_id"]
        return self.done.expect(int(sent["interaction_id"]))


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:,.0f}"


async def run_case(bench: Bench, probe: StallProbe, case: Case, hostile_user: int) -> dict[str, Any]:
    options = dict(case.options)
    if case.message_maker:
        options["message"] = (await bench.fakes.call("hostile_text", maker=case.message_maker,
                                                     args={"chars": 3_990}))["text"]
    await asyncio.sleep(0.5)  # let the previous case's tail settle
    probe.reset()
    began = time.perf_counter()
    finished = await bench.command(hostile_user, hostile_user, case.command, options, case.attachment)
    runs: list[int] = []
    index = 0
    while not finished.done() and len(runs) < 40:
        runs.append(await bench.bystander_chat(index % OTHERS))
        index += 1
        await asyncio.wait([finished], timeout=CHAT_EVERY)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(finished), 120)
    took = time.perf_counter() - began
    stall = probe.worst
    answer = (await bench.fakes.call("said", interaction_id=bench.last_command))["text"]
    await asyncio.sleep(1.5)  # the bystanders' replies finish
    return {"case": case.name, "stall": stall, "took": took, "runs": runs, "answer": answer}


async def limits(bench: Bench, hostile_user: int) -> list[tuple[str, int, int]]:
    """(limit, allowed, overshoot) for 20 simultaneous requests by one user, in 20 fresh channels."""
    first = hostile_user  # channels from here on were used by nobody yet
    config = bench.bot.services.settings
    rows: list[tuple[str, int, int]] = []
    user = hostile_user

    async def chat_burst(chars: int = 300, seconds: float = 0.5) -> int:
        before = (await bench.fakes.call("venice_counts", reset_peak=True))["chat"]
        futures = await asyncio.gather(*(bench.command(user, first + i, "chat", {"message": f"{SAY} ({i})"})
                                         for i in range(20)))
        await asyncio.wait(futures, timeout=60)
        await asyncio.sleep(0.5)
        return int((await bench.fakes.call("venice_counts"))["chat"] - before)

    async def setting(key: str, value: Any) -> None:
        await config.set(key, value, scope="global", scope_id=0, guild_id=None, by=0)

    for key, value, label in (("daily_messages", 1, "daily_messages = 1"), ("chat_cooldown", 3600,
                                                                             "chat_cooldown = 1 h")):
        await setting(key, value)
        made = await chat_burst()
        rows.append((label, 1, max(0, made - 1)))
        await setting(key, 0)
        user += 1
    await bench.fakes.call("chat_delay", seconds=1.0)  # long enough calls to overlap
    await bench.fakes.call("venice_counts", reset_peak=True)
    await chat_burst()
    peak = (await bench.fakes.call("venice_counts"))["peak_streams"]
    rows.append(("chat concurrency = 2", 2, max(0, peak - 2)))
    await bench.fakes.call("chat_delay", seconds=0.3)
    user += 1
    await setting("daily_usd", 0.000001)
    made = await chat_burst()
    rows.append(("daily_usd = $0.000001", 1, max(0, made - 1)))
    await setting("daily_usd", 0)
    user += 1
    await setting("daily_images", 1)
    await setting("image_cooldown", 0)
    before = (await bench.fakes.call("venice_counts"))["image"]
    futures = await asyncio.gather(*(bench.command(user, first + i, "imagine",
                                                   {"prompt": f"a lighthouse at dusk {i}"}) for i in range(20)))
    await asyncio.wait(futures, timeout=120)
    made = (await bench.fakes.call("venice_counts"))["image"] - before
    rows.append(("daily_images = 1", 1, max(0, made - 1)))
    user += 1
    rows.append(await import_cooldown(bench, user, first))
    rows.append(await character_cap(bench, user + 1))
    return rows


async def import_cooldown(bench: Bench, user: int, first: int) -> tuple[str, int, int]:
    from sqlalchemy import func, select

    from bot.store.models import CharacterRow

    card = {"option": "file", "filename": "small.json", "maker": "ones_card", "args": {"chars": 50, "fields": 1}}
    futures = await asyncio.gather(*(bench.command(user, first + i, "character import", {}, card)
                                     for i in range(20)))
    await asyncio.wait(futures, timeout=120)
    owner = int(bench.users[user])
    async with bench.bot.services.sessions() as session:
        stored = int(await session.scalar(select(func.count()).where(CharacterRow.owner_id == owner)) or 0)
    return "card import cooldown (30 s)", 1, max(0, stored - 1)


async def character_cap(bench: Bench, user: int) -> tuple[str, int, int]:
    from sqlalchemy import func, select

    from bot.characters.model import Character
    from bot.policy import Where
    from bot.store.models import CharacterRow

    try:
        from bot.characters.caps import MAX_CHARACTERS
    except ImportError:  # before the caps module: /character create's own check said 200
        MAX_CHARACTERS = 200
    owner = int(bench.users[user])
    services = bench.bot.services
    async with services.sessions.begin() as session:
        session.add_all(CharacterRow(owner_id=owner, guild_id=None, shared=False, name=f"c{i}", card={})
                        for i in range(MAX_CHARACTERS - 1))
    where = Where(owner, None, None, "bench")
    await asyncio.gather(*(services.characters.create(Character(name=f"Rush {i}"), where=where, shared=False)
                           for i in range(20)), return_exceptions=True)
    async with services.sessions() as session:
        stored = int(await session.scalar(select(func.count()).where(CharacterRow.owner_id == owner)) or 0)
    return f"character cap ({MAX_CHARACTERS})", MAX_CHARACTERS, max(0, stored - MAX_CHARACTERS)


async def lore_character(bench: Bench, user: int) -> str | None:
    from sqlalchemy import select

    from bot.store.models import CharacterRow

    async with bench.bot.services.sessions() as session:
        found = await session.scalar(select(CharacterRow.id).where(CharacterRow.name == "Loremaster"))
    return f"custom:{found}" if found is not None else None


async def main(skip_limits: bool, only: str | None, culprits: float | None) -> None:
    logging.basicConfig(level=logging.WARNING)
    for name in ("discord", "discord.client", "discord.gateway", "bot.offload"):
        logging.getLogger(name).setLevel(logging.ERROR)
    quiet = Quiet(show=culprits is not None)
    for handler in logging.getLogger().handlers:
        handler.addFilter(quiet)
    began = time.monotonic()
    fakes = FakesProcess()
    cases = [c for c in CASES if only is None or only.lower() in c.name.lower()]
    hostile_users = len(cases) + 1
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await migrate(url)
        urls = await fakes.start()
        try:
            world = await fakes.call("world", guilds=1, channels_per_guild=OTHERS + hostile_users + 30,
                                     users=OTHERS + hostile_users + 30)
            await fakes.call("chat_delay", seconds=0.3)
            bot = production_bot(urls, url)
            watch = getattr(bot, "loop_watch", None)  # absent before the loop watch existed
            if culprits is not None and watch is not None:
                watch.threshold = culprits / 1000
            task = await connect(bot)
            probe = StallProbe()
            try:
                await bot.tree.sync()
                await bot.services.settings.set("reply_tokens", 4000, scope="global", scope_id=0, guild_id=None, by=0)
                bench = Bench(fakes, bot, world)
                # Users 0..OTHERS-1 are bystanders in channels 0..OTHERS-1; hostile users follow.
                warm = [await bench.bystander_chat(i) for i in range(OTHERS)]
                await asyncio.sleep(2)
                probe.start()
                results = []
                for n, case in enumerate(cases):
                    if case.name.startswith("chat turn with"):
                        ref = await lore_character(bench, OTHERS + n)
                        if ref is None:
                            results.append({"case": case.name, "skipped": "no huge-lorebook character stored"})
                            continue
                        await bot.services.characters.set_for_channel(
                            channel_id=int(bench.channels[OTHERS + n]), guild_id=int(world["guilds"][0]), ref=ref)
                    results.append(await run_case(bench, probe, case, OTHERS + n))
                watch_worst = watch.worst if watch is not None else None
                limit_rows = [] if skip_limits else await limits(bench, OTHERS + hostile_users)
            finally:
                await probe.stop()
                await disconnect(bot, task)
            all_runs = warm + [r for res in results for r in res.get("runs", [])]
            report = await fakes.call("report", run_ids=all_runs)
        finally:
            await fakes.close()
    by_run = {r["run_id"]: r for r in report["runs"]}
    print("(a) one user's hostile input vs everyone else's /chat (production bot, fakes in a child process)")
    header = (f"{'hostile input':<46} | {'longest stall ms':>16} | {'others ack ms: n':>15} | {'median':>6} | "
              f"{'max':>6} | {'input took s':>12} | answer")
    print(header)
    print("-" * len(header))
    for res in results:
        if "skipped" in res:
            print(f"{res['case']:<46} | skipped: {res['skipped']}")
            continue
        acks = [by_run[r]["t_first_call"] - by_run[r]["t_dispatch"] for r in res["runs"]
                if by_run.get(r, {}).get("t_first_call") is not None]
        print(f"{res['case']:<46} | {ms(res['stall']):>16} | {len(acks):>15} | "
              f"{ms(statistics.median(acks)) if acks else '—':>6} | {ms(max(acks)) if acks else '—':>6} | "
              f"{res['took']:>12.1f} | {' '.join(res['answer'].split())[:40]}")
    if watch is not None:
        print(f"loop watch: longest stall seen by the bot itself {ms(watch_worst)} ms; "
              f"stalls it warned about (over {watch.threshold * 1000:.0f} ms): {quiet.stalls}")
    if limit_rows:
        print()
        print("(b) limits under 20 simultaneous requests by one user (overshoot: beyond the limit; goal 0)")
        print(f"{'limit':<32} | {'allowed':>7} | {'overshoot':>9}")
        print("-" * 54)
        for label, allowed, over in limit_rows:
            print(f"{label:<32} | {allowed:>7} | {over:>9}")
    print(f"wall time {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-limits", action="store_true", help="only the stall table")
    parser.add_argument("--only", help="only the hostile inputs whose name contains this")
    parser.add_argument("--culprits", type=float, metavar="MS",
                        help="log the loop watch's warnings for stalls over MS milliseconds (what held the loop)")
    args = parser.parse_args()
    asyncio.run(main(args.skip_limits, args.only, args.culprits))
