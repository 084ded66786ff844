"""Content screen, stage 1: recall, false refusals and judge rate over the labelled set; speed.

Run from the project root:  python bench/safety_rate.py [--quick]

Prints four tables:
1. the labelled set `tests/data/screen_set.jsonl` by language: must-refuse lines refused or sent to
   the judge (goal 100%), of them refused outright, false refusals on must-allow lines (goal
   <= 2%), plainly adult chat sent to the judge (goal <= 20%: the judge costs a call);
2. the same by kind;
3. the older English case table `tests/unit/safety_cases.py` (decisive refusals kept decisive);
4. speed in microseconds per KB: ordinary prose, adversarial shapes (`1 1 1 …`, `l0l1 ` repeated,
   runs of digits, spaces and emoji, keycaps, Cyrillic, CJK) at 20 KB (the screen's limit,
   through `screen`), 100 KB and 1 MB (through the same decision, without the size limit).
   Linear time shows as a flat column; `--quick` skips the 1 MB column.

Birth years in the set are relative to `REFERENCE_DAY`, passed as `today`.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot import safety
from bot.safety import MAX_CHARS, screen
from tests.unit.safety_cases import IMAGE_MUST_ALLOW, IMAGE_MUST_REFUSE, JUDGE, MUST_ALLOW, MUST_REFUSE

SET = Path(__file__).resolve().parents[1] / "tests" / "data" / "screen_set.jsonl"
REFERENCE_DAY = date(2026, 6, 15)


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))


def _table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print(_row(header, widths))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(_row(r, widths))


def _pct(part: int, whole: int) -> str:
    return f"{part}/{whole} {part / whole:.0%}" if whole else "-"


def labelled_set() -> None:
    rows = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    stats: dict[str, dict[str, dict[str, int]]] = {"lang": defaultdict(lambda: defaultdict(int)),
                                                   "kind": defaultdict(lambda: defaultdict(int))}
    for row in rows:
        verdict = screen(row["text"], context=row["context"], today=REFERENCE_DAY)
        for axis in ("lang", "kind"):
            for key in (row[axis], "ALL"):
                s = stats[axis][key]
                if row["expect"] == "refuse":
                    s["refuse"] += 1
                    s["caught"] += (not verdict.allowed) or verdict.judge
                    s["decisive"] += not verdict.allowed
                else:
                    s["allow"] += 1
                    s["false"] += not verdict.allowed
                    if row["kind"] == "adult_chat":
                        s["adult"] += 1
                        s["adult_judged"] += verdict.judge
    for number, axis in ((1, "lang"), (2, "kind")):
        out = []
        for key in sorted(stats[axis], key=lambda k: (k == "ALL", k)):
            s = stats[axis][key]
            out.append([key, _pct(s["caught"], s["refuse"]), _pct(s["decisive"], s["refuse"]),
                        _pct(s["false"], s["allow"]), _pct(s["adult_judged"], s["adult"])])
        _table(
            f"{number}. Labelled set by {axis} ({SET.name}, today={REFERENCE_DAY})",
            [axis, "refused or judged (goal 100%)", "of them refused", "false refusals (goal <=2%)",
             "adult chat judged (goal <=20%)"],
            out,
        )


def case_table() -> None:
    rows = []
    refuse_lists = (("chat: must refuse", MUST_REFUSE, False), ("image: must refuse", IMAGE_MUST_REFUSE, True))
    for name, cases, image in refuse_lists:
        verdicts = [(screen(t, for_image=image), rule) for t, rule, _ in cases]
        caught = sum((not v.allowed) or v.judge for v, _ in verdicts)
        decisive_kept = sum(not v.allowed and v.rule == r for v, r in verdicts if r != JUDGE)
        decisive = sum(r != JUDGE for _, r in verdicts)
        rows.append([name, str(len(cases)), _pct(caught, len(cases)), _pct(decisive_kept, decisive), "-"])
    for name, cases, image in (("chat: must allow", MUST_ALLOW, False), ("image: must allow", IMAGE_MUST_ALLOW, True)):
        verdicts = [screen(t, for_image=image) for t, _, _ in cases]
        refused = sum(not v.allowed for v in verdicts)
        judged = sum(v.judge for v in verdicts)
        rows.append([name, str(len(cases)), f"refused {_pct(refused, len(cases))}", "-", _pct(judged, len(cases))])
    _table("3. English case table (tests/unit/safety_cases.py)",
           ["list", "cases", "refused or judged", "clear-cut kept decisive", "judged"], rows)


def _decide(text: str) -> None:
    # The decision `screen` makes for text within MAX_CHARS, without the size limit, so that the
    # cost per KB can be shown for longer inputs.
    safety._decide(text, image=False, context="chat", today=REFERENCE_DAY)


INPUTS = {
    "ordinary prose": (
        "She pulls him onto the bed, laughing, and the kiss turns hungry; her dress slides off one shoulder. "
        "Her kids are at their grandma's. 'Fifteen minutes,' she whispers, 'and I want you naked.' "
    ),
    "1 1 1 …": "1 ",
    "l0l1 repeated": "l0l1 ",
    "digits": "1234567890",
    "spaces": " ",
    "emoji": "😀🍆💦",
    "keycap digits": "1️⃣5️⃣ ",
    "l.o.l.i dots": "l.",
    "leet + Cyrillic": "s3xy t1me w1th my w1fe, sh3 is 25 and h0rny; Привет, красавица! ",
    "Japanese": "彼女は情熱的にキスをして、あなたをベッドに引き寄せる。",
}


def speed(quick: bool) -> None:
    screen("warm up: load the language model once")
    sizes = [MAX_CHARS, 100_000] + ([] if quick else [1_000_000])
    rows = []
    for label, unit in INPUTS.items():
        cells = [label]
        for size in sizes:
            text = (unit * (size // len(unit) + 1))[:size]
            reps = max(1, 200_000 // size)
            start = time.perf_counter()
            for _ in range(reps):
                if size <= MAX_CHARS:
                    screen(text)
                else:
                    _decide(text)
            per = (time.perf_counter() - start) / reps
            cells.append(f"{per * 1e6 / (size / 1000):,.0f}")
        rows.append(cells)
    header = ["input (µs per KB)"] + [f"{s // 1000:,} KB" for s in sizes]
    _table("4. Speed, µs per KB (this machine; flat rows = linear time)", header, rows)


if __name__ == "__main__":
    labelled_set()
    case_table()
    speed(quick="--quick" in sys.argv)
