"""Lorebook selection time per turn: a normal book and hostile ones (issue: one card stalled the loop).

Scenarios:
- normal: SillyTavern's Seraphina book (4 entries) grown to 60 entries of ordinary keys;
- many keys: 5,000 entries x 10 keys (50,000 keys) and 4 KB of chat;
- constant recursion: 300 long constant entries (4,000 characters, full of other entries' keys)
  feeding recursion into 2,000 keyed entries x 20 keys;
- 8 MB card: a card JSON of about 8 MB (5,000 entries) parsed, then scanned.

For each: the first turn (the book compiled: automaton, regexes), the median of later turns with
the chat service's `LoreCompiler` (compiled books kept by content, a bounded LRU the service
owns), and on a fresh copy each turn, as when the chat service parses the card again (the
compiled form is found by the book's content). Then the compile alone, and the longest the event
loop went without running while `LoreCompiler.prepare` compiled the book in a worker thread (as
the chat service does before every turn; a 1 ms ticker measures the gaps).
`--legacy PATH` runs the same scenarios with another checkout's `select_entries` (e.g. the main
branch before this change) for comparison.

    .venv/bin/python bench/lorebook.py
    .venv/bin/python bench/lorebook.py --legacy /work/main
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TURNS = 7
BUDGET = 8_000  # SillyTavern's 25% of a 32k context
WORDS = [f"word{i}" for i in range(3_000)]


def _entry(keys: list[str], content: str, **extra: Any) -> dict[str, Any]:
    return {"keys": keys, "content": content, "enabled": True, "insertion_order": 100, "use_regex": True,
            "position": "before_char", "extensions": {}, **extra}


def _chat(rng: random.Random, chars: int) -> list[str]:
    text = " ".join(rng.choice(WORDS) for _ in range(chars // 8))
    return [f"Sam: {text[: len(text) // 2]}", f"Mira: {text[len(text) // 2 :]}"]


def scenarios() -> dict[str, tuple[dict[str, Any], list[str]]]:
    rng = random.Random(7)
    normal = [_entry([f"place{i}", f"name{i}", f"thing {i}"], f"Lore {i}. " * 30) for i in range(60)]
    normal_chat = ["Sam: we walk to place3 and meet name7", "Mira: the thing 12 glows"]
    many = [_entry([rng.choice(WORDS) + f"x{j}" for j in range(9)] + [WORDS[i % len(WORDS)]],
                   f"Entry {i}: " + " ".join(rng.choice(WORDS) for _ in range(30))) for i in range(5_000)]
    constant = [_entry([f"c{i}"], " ".join(rng.choice(WORDS) for _ in range(500)), constant=True) for i in range(300)]
    keyed = [_entry([rng.choice(WORDS) for _ in range(20)], f"Keyed {i} mentions " + rng.choice(WORDS))
             for i in range(2_000)]
    big = [_entry([rng.choice(WORDS) for _ in range(10)], " ".join(rng.choice(WORDS) for _ in range(180)))
           for _ in range(5_000)]
    return {
        "normal (60 entries)": (_card(normal), normal_chat),
        "many keys (5,000 x 10)": (_card(many), _chat(rng, 4_000)),
        "constant recursion (300 long + 2,000 x 20)": (_card(constant + keyed, recursive=True), _chat(rng, 2_000)),
        "8 MB card (5,000 entries)": (_card(big), _chat(rng, 4_000)),
    }


def _card(entries: list[dict[str, Any]], *, recursive: bool = False) -> dict[str, Any]:
    book = {"name": "bench", "entries": entries, "extensions": {}, "recursive_scanning": recursive}
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "Mira", "character_book": book}}


def _book(card: dict[str, Any]) -> Any:
    from bot.characters.model import Lorebook, LoreEntry

    raw = card["data"]["character_book"]
    entries = [LoreEntry(keys=e["keys"], content=e["content"], constant=e.get("constant", False),
                         use_regex=False) for e in raw["entries"]]
    return Lorebook(entries=entries, name="bench", recursive_scanning=raw["recursive_scanning"])


def run(legacy: bool) -> list[tuple[str, int, float, float, float, float]]:
    rows = []
    for name, (card, chat) in scenarios().items():
        size = len(json.dumps(card).encode())
        parse_ms = 0.0
        if name.startswith("8 MB") and not legacy:
            from bot.characters.cards_json import card_from_object

            start = time.perf_counter()
            book = card_from_object(json.loads(json.dumps(card))).lorebook
            parse_ms = (time.perf_counter() - start) * 1000
        else:
            book = _book(card)
        compiler = None if legacy else _compiler()
        times = [_turn(book, chat, legacy, compiler) for _ in range(TURNS)]
        fresh = [_turn(_book(card), chat, legacy, compiler) for _ in range(TURNS if not legacy else 1)]
        compile_ms, stall_ms = (0.0, 0.0) if legacy else _compile_off_loop(_book(card))
        rows.append((name, size, parse_ms, times[0], statistics.median(times[1:]), statistics.median(fresh),
                     compile_ms, stall_ms))
    return rows


def _compiler() -> Any:
    from bot.characters.lore_match import LoreCompiler

    return LoreCompiler()


def _compile_off_loop(book: Any) -> tuple[float, float]:
    """(compile ms, longest loop gap ms) for one compile in a worker thread."""
    import asyncio

    from bot.characters.lore_match import LoreCompiler
    from bot.characters.lore_settings import LoreSettings

    async def measure() -> tuple[float, float]:
        gaps: list[float] = []
        done = asyncio.Event()

        async def tick() -> None:
            last = time.perf_counter()
            while not done.is_set():
                await asyncio.sleep(0.001)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0.01)
        start = time.perf_counter()
        await LoreCompiler().prepare([[book]], LoreSettings(), ("Mira", "Sam"),
                                     lambda fn, *args: asyncio.to_thread(fn, *args))
        took = time.perf_counter() - start
        done.set()
        await ticker
        return took * 1000, max(gaps) * 1000

    return asyncio.run(measure())


def _turn(book: Any, chat: list[str], legacy: bool, compiler: Any = None) -> float:
    start = time.perf_counter()
    if legacy:
        from bot.characters.lorebook import select_entries  # type: ignore[attr-defined]

        select_entries(book, chat, budget_tokens=BUDGET)
    else:
        from bot.characters.lore_state import LoreState
        from bot.characters.lorebook import ScanText, select_lore

        select_lore(book, ScanText(chat), state=LoreState(chat_length=len(chat)), budget_tokens=BUDGET,
                    rng=random.Random(1), compiler=compiler)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--legacy", metavar="PATH", help="also run another checkout's select_entries")
    parser.add_argument("--impl", choices=["new", "legacy"], default="new", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.impl == "legacy":
        print(json.dumps(run(legacy=True)))
        return
    sys.path.insert(0, str(ROOT))
    tables = [("this branch", run(legacy=False))]
    if args.legacy:
        env = {**os.environ, "PYTHONPATH": str(Path(args.legacy).resolve())}
        out = subprocess.run([sys.executable, __file__, "--impl", "legacy"], env=env, capture_output=True,
                             text=True, check=True, cwd=args.legacy)
        tables.append((f"legacy ({args.legacy})", [tuple(r) for r in json.loads(out.stdout)]))
    for label, rows in tables:
        print(f"\n{label}")
        print(f"{'scenario':44} {'card MB':>8} {'parse ms':>9} {'first turn ms':>14} {'later turns ms':>15} "
              f"{'re-parsed ms':>13} {'compile ms':>11} {'loop gap ms':>12}")
        for name, size, parse_ms, first, later, fresh, *off in rows:
            compile_ms, stall_ms = off if off else (0.0, 0.0)
            print(f"{name:44} {size / 2**20:8.1f} {parse_ms:9.1f} {first:14.1f} {later:15.2f} {fresh:13.2f} "
                  f"{compile_ms:11.1f} {stall_ms:12.1f}")


if __name__ == "__main__":
    main()
