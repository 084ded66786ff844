"""A separate OS process for the cross-process tests: `python -m tests.limits_worker URL MODE ...`.

- `burst KIND N [SETTING VALUE]`: print "ready", wait for a line on stdin, then make N acquisitions
  at once on the database at URL and print "won K"; then wait for another line and exit.
- `hold N TTL`: register a process whose lease lasts TTL seconds (renewed by its heartbeat), hold
  N chat slots, print "held", and keep running until killed.
- `claim NAME N`: print "ready", wait for a line, try N claims of job NAME at once, print "won K".
- `queue N HOLD DIR`: print "ready", wait for a line, push N image requests through the shared
  queue (global limit 2; each holds its slot HOLD seconds), marking each running request with a
  file in DIR; print "peak P", the most running requests (of every process) one of them saw.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

from bot.config import Env, Secret
from bot.errors import LimitReached
from bot.limits import Limits
from bot.services import build_services
from bot.settings import SettingsStore
from bot.store.engine import make_engine, make_sessionmaker

GUILD, CHANNEL, USER = 900, 901, 902


async def line() -> str:
    return await asyncio.to_thread(sys.stdin.readline)


def say(text: str) -> None:
    print(text, flush=True)


async def burst(url: str, kind: str, n: int) -> None:
    services = await build_services(Env(discord_token=None, venice_api_key=Secret("k"), database_url=url))
    say("ready")
    await line()

    async def one() -> bool:
        try:
            await services.limits.acquire(user_id=USER, guild_id=GUILD, channel_id=CHANNEL, kind=kind)
        except LimitReached:
            return False
        return True

    won = sum(await asyncio.gather(*(one() for _ in range(n))))
    say(f"won {won}")
    await line()
    await services.close()


async def hold(url: str, n: int, ttl: float) -> None:
    from bot.store.processes import Process

    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    process = await Process.register(sessions, shard_ids=[0], ttl=timedelta(seconds=ttl))
    process.start()
    limits = Limits(sessions, SettingsStore(sessions, Env(discord_token=None, venice_api_key=None)),
                    owner=process)
    for _ in range(n):
        await limits.acquire(user_id=USER, guild_id=GUILD, channel_id=CHANNEL, kind="chat")
    say(f"held {process.id}")
    await asyncio.Event().wait()  # until SIGKILL


async def claim(url: str, name: str, n: int) -> None:
    from bot.store.processes import Process

    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    process = await Process.register(sessions, shard_ids=())
    say("ready")
    await line()
    won = sum(await asyncio.gather(*(process.claim(name, timedelta(hours=1)) for _ in range(n))))
    say(f"won {won}")
    await process.retire()
    await engine.dispose()


async def queue(url: str, n: int, hold_for: float, marks: Path) -> None:
    from bot.images.shared_queue import SharedImageQueue
    from bot.store.processes import Process

    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    process = await Process.register(sessions, shard_ids=())
    process.start()
    shared = SharedImageQueue(sessions, owner=process, global_limit=2, per_guild=2, per_user=2,
                              min_update_interval=0, poll_interval=0.05)
    peak = 0
    say("ready")
    await line()

    async def one(i: int) -> None:
        nonlocal peak
        async with shared.slot(shared.submit(USER + i, None)):
            mark = marks / f"{process.id}-{i}"
            peak = max(peak, _mark_running(mark))
            await asyncio.sleep(hold_for)
            mark.unlink()

    await asyncio.gather(*(one(i) for i in range(n)))
    say(f"peak {peak}")
    await process.retire()
    await engine.dispose()


def _mark_running(mark: Path) -> int:
    """Mark one request as running (a file); how many of every process's are running now."""
    mark.touch()
    return len(list(mark.parent.iterdir()))


def main() -> None:
    url, mode, *args = sys.argv[1:]
    if mode == "burst":
        asyncio.run(burst(url, args[0], int(args[1])))
    elif mode == "hold":
        asyncio.run(hold(url, int(args[0]), float(args[1])))
    elif mode == "claim":
        asyncio.run(claim(url, args[0], int(args[1])))
    elif mode == "queue":
        asyncio.run(queue(url, int(args[0]), float(args[1]), Path(args[2])))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
