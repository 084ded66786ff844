"""Content screen figures: false-refusal and miss rates over the case table, and speed.

Run from the project root:  python bench/safety_rate.py

Prints three tables:
1. per case list: how many cases, how many were judged wrongly, the false-refusal rate (allowed
   text that was refused) and the miss rate (text that should be refused but was allowed);
2. robustness: the same table after character-level obfuscation that normalisation must undo
   (zero-width characters, look-alike letters, fullwidth forms, combining marks), which must not
   change a single verdict;
3. speed: cases per second over the table, and the time to screen texts of increasing length
   (screening is meant to be linear in the text, bounded by MAX_CHARS).

The table is `tests/unit/safety_cases.py`; what it does not contain, these numbers do not
measure. Real traffic has more variety than any table.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.safety import MAX_CHARS, screen
from tests.unit.safety_cases import (
    IMAGE_MUST_ALLOW,
    IMAGE_MUST_REFUSE,
    KNOWN_LIMITS,
    MUST_ALLOW,
    MUST_REFUSE,
    Case,
)

Mutation = Callable[[str], str]

_LOOKALIKES = str.maketrans("aeopcxyisjABEHKMOPCTX", "аеорсхуіѕјАВЕНКМОРСТХ")
MUTATIONS: dict[str, Mutation] = {
    "none": lambda s: s,
    "zero-width": lambda s: "\u200b".join(s),
    "look-alikes": lambda s: s.translate(_LOOKALIKES),
    "fullwidth": lambda s: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s),
    "combining": lambda s: "".join(c + "\u0336" if c.isalpha() else c for c in s),
    "upper": str.upper,
}


def _judge(cases: list[Case], *, for_image: bool, mutate: Mutation) -> tuple[int, int, int]:
    """Return (cases, wrong verdicts, wrong rule ids among correct refusals)."""
    wrong = wrong_rule = 0
    for text, rule, _ in cases:
        verdict = screen(mutate(text), for_image=for_image)
        if verdict.allowed != (rule is None):
            wrong += 1
        elif rule is not None and verdict.rule != rule:
            wrong_rule += 1
    return len(cases), wrong, wrong_rule


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))


def _table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print(_row(header, widths))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(_row(r, widths))


def rates() -> None:
    lists = [
        ("chat: must allow", MUST_ALLOW, False),
        ("chat: must refuse", MUST_REFUSE, False),
        ("image: must allow", IMAGE_MUST_ALLOW, True),
        ("image: must refuse", IMAGE_MUST_REFUSE, True),
    ]
    rows = []
    totals = {"allow": [0, 0], "refuse": [0, 0]}
    for name, cases, image in lists:
        n, wrong, wrong_rule = _judge(cases, for_image=image, mutate=MUTATIONS["none"])
        kind = "allow" if "allow" in name else "refuse"
        totals[kind][0] += n
        totals[kind][1] += wrong
        label = "false refusals" if kind == "allow" else "misses"
        rows.append([name, str(n), f"{wrong} {label}", f"{wrong / n:.2%}", str(wrong_rule)])
    fr_n, fr = totals["allow"]
    miss_n, miss = totals["refuse"]
    rows.append(["all: false-refusal rate", str(fr_n), f"{fr} refused", f"{fr / fr_n:.2%}", "-"])
    rows.append(["all: miss rate", str(miss_n), f"{miss} allowed", f"{miss / miss_n:.2%}", "-"])
    # Known limits are adult texts (they should be allowed) that the screen refuses today.
    known = sum(not screen(t).allowed for t, _, _ in KNOWN_LIMITS)
    with_known = fr + known, fr_n + len(KNOWN_LIMITS)
    rows.append(["known limits (adult, refused)", str(len(KNOWN_LIMITS)), f"{known} refused", "-", "-"])
    rows.append([
        "all + known limits: false-refusal rate", str(with_known[1]), f"{with_known[0]} refused",
        f"{with_known[0] / with_known[1]:.2%}", "-",
    ])
    _table("1. Case table", ["list", "cases", "wrong", "rate", "other rule id"], rows)


def robustness() -> None:
    rows = []
    for name, mutate in MUTATIONS.items():
        _, fr, _ = _judge(MUST_ALLOW, for_image=False, mutate=mutate)
        _, miss, _ = _judge(MUST_REFUSE, for_image=False, mutate=mutate)
        rows.append([name, f"{fr / len(MUST_ALLOW):.2%}", f"{miss / len(MUST_REFUSE):.2%}"])
    _table("2. Chat table after character-level obfuscation", ["mutation", "false refusals", "misses"], rows)


def speed() -> None:
    texts = [(t, False) for t, _, _ in MUST_ALLOW + MUST_REFUSE]
    texts += [(t, True) for t, _, _ in IMAGE_MUST_ALLOW + IMAGE_MUST_REFUSE]
    rounds = 20
    start = time.perf_counter()
    for _ in range(rounds):
        for text, image in texts:
            screen(text, for_image=image)
    elapsed = time.perf_counter() - start
    rows = [["case table", str(len(texts) * rounds), f"{len(texts) * rounds / elapsed:,.0f}/s",
             f"{elapsed / (len(texts) * rounds) * 1e6:,.0f} µs"]]
    # Ordinary adult prose with a benign mention of kids and numbers, repeated to length: allowed,
    # so every rule runs to the end, and every sexual word, minor word and number is looked at.
    paragraph = (
        "She pulls him onto the bed, laughing, and the kiss turns hungry; her dress slides off "
        "one shoulder. Her kids are at their grandma's. 'Fifteen minutes,' she whispers, 'and I "
        "want you naked.' "
    )
    # Leetspeak and look-alike letters everywhere: every normalised form differs, so every rule
    # runs on four forms; the slowest input the screen accepts.
    obfuscated = "s3xy t1me w1th my w1fe, sh3 is 25 and h0rny; Привет, красавица! "
    inputs = [(f"prose, {n:,} chars", paragraph, n) for n in (1_000, 4_000, MAX_CHARS)]
    inputs.append((f"leet + Cyrillic, {MAX_CHARS:,} chars", obfuscated, MAX_CHARS))
    for label, unit, size in inputs:
        text = (unit * (size // len(unit) + 1))[:size]
        reps = max(5, 200_000 // size)
        start = time.perf_counter()
        for _ in range(reps):
            screen(text)
        per = (time.perf_counter() - start) / reps
        rows.append([label, str(reps), f"{1 / per:,.0f}/s", f"{per * 1e6:,.0f} µs"])
    _table("3. Speed (this machine)", ["input", "screens", "rate", "per screen"], rows)


if __name__ == "__main__":
    rates()
    robustness()
    speed()
