"""Limits under concurrency: overshoot of each limit with 20 requests at once, and cost per acquire.

    .venv/bin/python -m bench.limits [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test]

For each database (a fresh SQLite file; PostgreSQL in a new scratch database when `--postgres`
answers), two service stacks (two engines and process rows, as two bot processes) fire 20
acquisitions at the same moment against one limit at a time, and every admitted call is booked at
its estimated cost. "Overshoot" is admitted minus allowed (goal 0). Then 200 acquire → record →
release cycles one after another: SQL statements per step (counted with SQLAlchemy's
`before_cursor_execute`, which does not see BEGIN/COMMIT) and wall time per acquire (median, p95),
and the same under 20 at once (time from the request to the answer, admitted or refused).
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
import uuid
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event
from sqlalchemy.engine import make_url

from bot.config import Env, Secret
from bot.errors import LimitReached
from bot.limits import Limits, Ticket
from bot.services import Services, build_services
from bot.store.migrate import migrate

GUILD, CHANNEL, USER = 1, 2, 3
AT_ONCE = 20


@dataclass(frozen=True)
class Case:
    name: str
    kind: str
    settings: dict[str, object]
    allowed: int
    many_users: bool = False
    hold: bool = False  # keep admitted calls running (concurrency); else book, end, and burst again


CASES = [
    Case("daily_messages = 1", "chat", {"daily_messages": 1}, 1),
    Case("daily_images = 1", "image", {"daily_images": 1}, 1),
    Case("concurrency (chat, 2 at a time)", "chat", {}, 2, hold=True),
    Case("chat_cooldown = 60 s", "chat", {"chat_cooldown": 60}, 1),
    Case("daily_usd = $0.05 (calls $0.01)", "image", {"daily_usd": 0.05}, 5),
    Case("server_daily_usd = $0.05, 20 users", "image", {"server_daily_usd": 0.05}, 5, many_users=True),
]


async def stacks(url: str) -> tuple[Services, Services]:
    settings = Env(discord_token=None, venice_api_key=Secret("bench"), database_url=url)
    return await build_services(settings), await build_services(settings)


async def overshoot(url: str, case: Case) -> tuple[int, int]:
    await migrate(url)
    pair = await stacks(url)
    try:
        for key, value in case.settings.items():
            await pair[0].settings.set(key, value, scope="guild", scope_id=GUILD, guild_id=GUILD, by=0)

        async def one(i: int) -> tuple[Limits, Ticket] | None:
            limits = pair[i % 2].limits
            try:
                user = USER + i if case.many_users else USER
                ticket = await limits.acquire(user_id=user, guild_id=GUILD, channel_id=CHANNEL, kind=case.kind,
                                              estimate_usd=0.01 if case.kind == "image" else None)
            except LimitReached:
                return None
            return limits, ticket

        total = 0
        while True:  # bursts of AT_ONCE until one admits nothing (a single burst for `hold`)
            admitted = [r for r in await asyncio.gather(*(one(i) for i in range(AT_ONCE))) if r is not None]
            total += len(admitted)
            if case.hold or not admitted:
                return total, total - case.allowed
            for limits, ticket in admitted:
                await limits.record(user_id=ticket.user_id, guild_id=GUILD, kind=case.kind, cost_usd=0.01,
                                    ticket=ticket)
                await limits.release(ticket)
    finally:
        for services in pair:
            await services.close()


async def costs(url: str, rounds: int = 200) -> dict[str, float]:
    await migrate(url)
    first, second = await stacks(url)
    counts = {"acquire": 0, "record": 0, "release": 0}
    step = ["acquire"]

    def count(*_: object) -> None:
        counts[step[0]] += 1

    event.listen(first.engine.sync_engine, "before_cursor_execute", count)
    times = []
    try:
        for i in range(rounds):
            step[0] = "acquire"
            started = time.perf_counter()
            ticket = await first.limits.acquire(user_id=USER + i, guild_id=GUILD, channel_id=CHANNEL, kind="chat")
            times.append(time.perf_counter() - started)
            step[0] = "record"
            await first.limits.record(user_id=USER + i, guild_id=GUILD, kind="chat", cost_usd=0.001)
            step[0] = "release"
            await first.limits.release(ticket)
        event.remove(first.engine.sync_engine, "before_cursor_execute", count)

        burst: list[float] = []

        async def timed(i: int) -> None:
            started = time.perf_counter()
            with contextlib.suppress(LimitReached):
                await (first if i % 2 else second).limits.acquire(user_id=USER, guild_id=GUILD, channel_id=CHANNEL,
                                                                  kind="chat")
            burst.append(time.perf_counter() - started)

        await asyncio.gather(*(timed(i) for i in range(AT_ONCE)))
    finally:
        await first.close()
        await second.close()
    return {
        **{k: v / rounds for k, v in counts.items()},
        "median_ms": statistics.median(times) * 1000, "p95_ms": statistics.quantiles(times, n=20)[18] * 1000,
        "burst_median_ms": statistics.median(burst) * 1000, "burst_max_ms": max(burst) * 1000,
    }


async def postgres_scratch(base: str) -> tuple[str, str] | None:
    import asyncpg

    url = make_url(base)
    name = f"lustify_bench_{uuid.uuid4().hex[:8]}"
    try:
        conn = await asyncpg.connect(host=url.host, port=url.port or 5432, user=url.username,
                                     password=url.password, database=url.database, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"PostgreSQL not reachable ({exc}); SQLite only")
        return None
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return url.set(database=name).render_as_string(hide_password=False), name


async def drop(base: str, name: str) -> None:
    import asyncpg

    url = make_url(base)
    conn = await asyncpg.connect(host=url.host, port=url.port or 5432, user=url.username, password=url.password,
                                 database=url.database)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def run(databases: list[tuple[str, object]]) -> None:
    print(f"{AT_ONCE} simultaneous requests, two processes' service stacks on one database\n")
    print(f"{'database':<10} | {'limit':<36} | {'admitted':>8} | {'allowed':>7} | {'overshoot':>9}")
    print("-" * 82)
    for label, make in databases:
        for case in CASES:
            url = await make()  # type: ignore[operator]
            admitted, over = await overshoot(url, case)
            print(f"{label:<10} | {case.name:<36} | {admitted:>8} | {case.allowed:>7} | {over:>9}")
    print()
    print(f"{'database':<10} | {'statements: acquire':>19} | {'record':>6} | {'release':>7} | "
          f"{'acquire ms p50':>14} | {'p95':>6} | {'20 at once p50':>14} | {'max':>6}")
    print("-" * 104)
    for label, make in databases:
        c = await costs(await make())  # type: ignore[operator]
        print(f"{label:<10} | {c['acquire']:>19.1f} | {c['record']:>6.1f} | {c['release']:>7.1f} | "
              f"{c['median_ms']:>14.1f} | {c['p95_ms']:>6.1f} | {c['burst_median_ms']:>14.1f} | "
              f"{c['burst_max_ms']:>6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    async def main_async() -> None:
        scratch: list[str] = []
        with tempfile.TemporaryDirectory() as tmp:
            files = iter(range(1000))

            async def sqlite() -> str:
                return f"sqlite+aiosqlite:///{Path(tmp) / f'bench{next(files)}.db'}"

            databases: list[tuple[str, object]] = [("SQLite", sqlite)]
            probe = await postgres_scratch(args.postgres)
            if probe is not None:
                await drop(args.postgres, probe[1])

                async def postgres() -> str:
                    url, name = await postgres_scratch(args.postgres)  # type: ignore[misc]
                    scratch.append(name)
                    return url

                databases.append(("PostgreSQL", postgres))
            try:
                await run(databases)
            finally:
                for name in scratch:
                    await drop(args.postgres, name)

    asyncio.run(main_async())


if __name__ == "__main__":
    main()
