"""Prompt assembly time with 100,000 stored messages compared with 10 (DESIGN §10).

Measures what a turn pays before calling Venice: the indexed window query on a real SQLite file
(or PostgreSQL with BENCH_DATABASE_URL), then `build_prompt` over the window. Prints a table.

    .venv/bin/python bench/prompt_assembly.py
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from bot.characters.model import DEFAULT_CHARACTER
from bot.chat.prompt import PromptInput, Turn, build_prompt
from bot.store.conversations import Conversations
from bot.store.engine import make_engine, make_sessionmaker
from bot.store.migrate import migrate
from bot.store.models import Message

SIZES = (10, 1_000, 10_000, 100_000)
RUNS = 30
LINE = "She leans across the bar and refills the glass, smiling at the familiar face. " * 2


async def seed(repo: Conversations, sessions, channel_id: int, count: int) -> object:
    conv, _ = await repo.start(channel_id=channel_id, guild_id=1, character_ref="builtin:scarlett",
                               character_name="Scarlett", created_by=1)
    batch = 5_000
    for start in range(0, count, batch):
        rows = [
            {"conversation_id": conv.id, "role": "user" if i % 2 == 0 else "assistant", "author_name": "Kim",
             "content": f"{i}: {LINE}", "swipes": [], "swipe_index": 0, "status": "complete",
             "tokens": 40, "discord_ids": []}
            for i in range(start, min(count, start + batch))
        ]
        async with sessions.begin() as s:
            await s.execute(insert(Message), rows)
    return conv


async def measure(repo: Conversations, conv: object) -> tuple[float, float]:
    query, build = [], []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        turns = await repo.window(conv)
        t1 = time.perf_counter()
        build_prompt(PromptInput(
            character=DEFAULT_CHARACTER, user_name="Kim",
            turns=[Turn(t.role, t.content, t.author_name, t.id, t.tokens) for t in turns],  # type: ignore[arg-type]
            context_tokens=128_000, reply_tokens=700, multi_user=True,
        ))
        t2 = time.perf_counter()
        query.append(t1 - t0)
        build.append(t2 - t1)
    return statistics.median(query) * 1000, statistics.median(build) * 1000


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{tmp}/bench.db"
        await migrate(url)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        repo = Conversations(sessions)
        results = []
        for n, size in enumerate(SIZES):
            conv = await seed(repo, sessions, 9000 + n, size)
            results.append((size, *await measure(repo, conv)))
        await engine.dispose()
    base = results[0][1] + results[0][2]
    print(f"prompt assembly, median of {RUNS} runs ({engine.dialect.name})")
    print(f"{'stored messages':>16} | {'window query ms':>15} | {'build ms':>8} | {'total ms':>8} | vs 10")
    print("-" * 66)
    for size, q, b in results:
        print(f"{size:>16,} | {q:>15.2f} | {b:>8.2f} | {q + b:>8.2f} | {(q + b) / base:>5.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
