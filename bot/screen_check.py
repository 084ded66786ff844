"""`python -m bot check --screen FILE.jsonl`: measure both stages of the content screen on a labelled set.

Each line of the file is a JSON object: `{"text": "...", "expect": "refuse" | "allow", "context":
"chat" | "character" | "persona" | "image" | "output"}` (context defaults to "chat"; other keys such
as "lang" or "kind" are ignored). Every text goes through `ContentPolicy.assess` — stage 1, then the
judge on the configured Venice — with at most `concurrency` texts in flight, and the command prints:

- recall: the share of must-refuse texts refused;
- false refusals: the share of must-allow texts refused;
- judge rate: the share of texts stage 1 handed to the judge (or that are always judged);
- cost per 1,000 texts, from the cost Venice reported for each judge call;
- judge failures (timeouts, errors: refused in production, fail closed) apart, not counted above;
- the line numbers of misses and false refusals (never the texts: they are the content).

The judge's cache lives in a temporary database for the run, so nothing is written to the bot's
database and a repeated text is judged once, as it would be in production.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.check import safety_model_lines
from bot.config import Env
from bot.policy import CONTEXTS, ContentPolicy, Decision
from bot.store.engine import make_engine, make_sessionmaker
from bot.store.models import Base
from bot.venice.client import VeniceClient
from bot.venice.errors import AuthError, VeniceError

__all__ = ["Case", "ScreenFileError", "read_cases", "run_screen", "summarise"]

EXPECTS = ("refuse", "allow")
SCREEN_CONTEXTS = (*CONTEXTS, "output")
MAX_LISTED = 25


class ScreenFileError(Exception):
    """The labelled file cannot be used; the message names the line and says what is wrong."""


@dataclass(frozen=True, slots=True)
class Case:
    """One labelled text."""

    line: int
    text: str
    expect: str
    context: str


@dataclass(frozen=True, slots=True)
class Outcome:
    case: Case
    decision: Decision


def read_cases(path: Path) -> list[Case]:
    """Read and validate the labelled set; raise `ScreenFileError` on the first bad line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ScreenFileError(f"cannot read {path} ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise ScreenFileError(f"{path} is not UTF-8 text") from None
    cases = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except ValueError:
            raise ScreenFileError(f"{path}:{number} is not a JSON object") from None
        if not isinstance(item, dict):
            raise ScreenFileError(f"{path}:{number} is not a JSON object")
        text, expect, context = item.get("text"), item.get("expect"), item.get("context", "chat")
        if not isinstance(text, str) or not text.strip():
            raise ScreenFileError(f"{path}:{number} needs a non-empty \"text\"")
        if expect not in EXPECTS:
            raise ScreenFileError(f"{path}:{number} needs \"expect\": \"refuse\" or \"allow\"")
        if context not in SCREEN_CONTEXTS:
            raise ScreenFileError(f"{path}:{number} has an unknown \"context\" (use {', '.join(SCREEN_CONTEXTS)})")
        cases.append(Case(number, text, expect, context))
    if not cases:
        raise ScreenFileError(f"{path} has no labelled texts")
    return cases


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%} ({part}/{whole})" if whole else "n/a (none)"


def _lines(outcomes: list[Outcome]) -> str:
    numbers = [str(o.case.line) for o in outcomes]
    more = f" and {len(numbers) - MAX_LISTED} more" if len(numbers) > MAX_LISTED else ""
    return ", ".join(numbers[:MAX_LISTED]) + more


def summarise(outcomes: list[Outcome], out: Callable[[str], None]) -> None:
    """Print the figures for `outcomes` (see the module docstring)."""
    failed = [o for o in outcomes if o.decision.unavailable]
    counted = [o for o in outcomes if not o.decision.unavailable]
    must_refuse = [o for o in counted if o.case.expect == "refuse"]
    must_allow = [o for o in counted if o.case.expect == "allow"]
    missed = [o for o in must_refuse if o.decision.allowed]
    false = [o for o in must_allow if not o.decision.allowed]
    judged = sum(o.decision.judged for o in outcomes)
    calls = sum(o.decision.judge_calls for o in outcomes)
    cost = sum(o.decision.cost_usd for o in outcomes)
    total = len(outcomes)
    out(f"texts: {total} ({len(must_refuse)} must refuse, {len(must_allow)} must allow)")
    out(f"recall: {_share(len(must_refuse) - len(missed), len(must_refuse))}")
    out(f"false refusals: {_share(len(false), len(must_allow))}")
    out(f"judge rate: {_share(judged, total)}; {calls} judge calls (the rest came from the cache)")
    out(f"cost per 1,000 texts: ${cost / total * 1000:.4f} (Venice reported ${cost:.6f} for {total} texts)")
    by_stage = Counter("stage 1" if not o.decision.judged else "judge" for o in counted if not o.decision.allowed)
    out(f"refused by: stage 1 {by_stage['stage 1']}, judge {by_stage['judge']}")
    if failed:
        out(f"judge failures: {len(failed)} (refused in production, fail closed; not counted above): "
            f"lines {_lines(failed)}")
    for context in SCREEN_CONTEXTS:
        rows = [o for o in counted if o.case.context == context]
        if rows and len(rows) != len(counted):
            refuse = [o for o in rows if o.case.expect == "refuse"]
            allow = [o for o in rows if o.case.expect == "allow"]
            out(f"  {context}: recall {_share(sum(not o.decision.allowed for o in refuse), len(refuse))}, "
                f"false refusals {_share(sum(not o.decision.allowed for o in allow), len(allow))}, "
                f"judge rate {_share(sum(o.decision.judged for o in rows), len(rows))}")
    if missed:
        out(f"missed (must refuse, allowed): lines {_lines(missed)}")
    if false:
        out(f"false refusals: lines {_lines(false)}")


async def run_screen(
    env: Env, path: Path, out: Callable[[str], None], *, concurrency: int = 4
) -> bool:
    """Run the labelled set at `path` through both stages and print the figures; False when the
    judge's model is unusable (nothing is screened then).

    Raises `ScreenFileError` for an unusable file (before any Venice call)."""
    cases = read_cases(path)
    assert env.venice_api_key is not None
    venice = VeniceClient(env.venice_api_key.get(), env.venice_base_url)
    try:
        models = await venice.list_models("text")
    except AuthError:
        await venice.close()
        out("✗ VENICE_API_KEY was refused by Venice: create a new key at venice.ai/settings/api")
        return False
    except VeniceError as exc:
        await venice.close()
        out(f"✗ Venice at {env.venice_base_url}: {exc.user_message}")
        return False
    if not safety_model_lines(env, models, out):
        await venice.close()
        return False
    limit = asyncio.Semaphore(concurrency)
    with tempfile.TemporaryDirectory(prefix="lustify-screen-") as folder:
        engine = make_engine(f"sqlite+aiosqlite:///{Path(folder) / 'judge-cache.db'}")
        try:
            # A throwaway database: the tables as the models define them, without migration noise.
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            policy = ContentPolicy(make_sessionmaker(engine), venice, env)

            async def one(case: Case) -> Outcome:
                async with limit:
                    return Outcome(case, await policy.assess(case.text, context=case.context))

            out(f"screening {len(cases)} texts from {path.name} with judge {env.safety_model} "
                f"({concurrency} at a time)")
            outcomes = await asyncio.gather(*(one(case) for case in cases))
        finally:
            await engine.dispose()
            await venice.close()
    summarise(list(outcomes), out)
    return True
