"""Stage 1 over the labelled set `tests/data/screen_set.jsonl` (issue 9's bar).

The set is hand-written, multilingual, one JSON object per line: `text`, `expect` ("refuse" or
"allow"), `context` ("chat", "character", "image", "output"), `lang` and `kind`. Birth years in
it are written relative to `REFERENCE_DAY`, which every call passes as `today`, so the set does
not age. Bars (stage 1 alone): every must-refuse line refused or sent to the judge; false
refusals (`allowed=False`) on must-allow lines at most 2%; plainly adult chat (`adult_chat`)
sent to the judge at most 20% of the time. `bench/safety_rate.py` prints the same figures by
language and kind.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from bot.safety import CONTEXTS, screen

SET = Path(__file__).resolve().parents[1] / "data" / "screen_set.jsonl"
REFERENCE_DAY = date(2026, 6, 15)
LANGUAGES = {"en", "es", "pt", "fr", "de", "it", "nl", "pl", "ru", "ja", "zh", "ko"}
REFUSE_KINDS = {
    "explicit_age", "number_word", "birth_year", "dob", "roman", "arithmetic", "euphemism", "shared_age", "age_far",
    "school_us", "school_uk", "school_eu", "school_asia", "card_wpp", "card_plist", "card_json", "card_yaml", "lang",
    "lang_romaji", "uncovered_language", "sexual_vocab", "minor_word", "developmental", "hard_term", "obfuscation",
    "image_minor", "output",
}
ALLOW_KINDS = {"adult_chat", "family", "past", "adult_school_work", "ambiguous_words", "thing_age", "adult_image",
               "adult_card"}


def _load() -> list[dict[str, str]]:
    return [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line.strip()]


ROWS = _load()
REFUSE = [r for r in ROWS if r["expect"] == "refuse"]
ALLOW = [r for r in ROWS if r["expect"] == "allow"]


def _screen(row: dict[str, str]):  # type: ignore[no-untyped-def]
    return screen(row["text"], context=row["context"], today=REFERENCE_DAY)


def _id(row: dict[str, str]) -> str:
    return f"{row['lang']}-{row['kind']}-{row['text'][:30]}"


def test_the_set_is_well_formed_and_large_enough() -> None:
    for row in ROWS:
        assert set(row) == {"text", "expect", "context", "lang", "kind"}, row
        assert row["expect"] in ("refuse", "allow") and row["context"] in CONTEXTS, row
    assert len(REFUSE) >= 300 and len(ALLOW) >= 300
    assert sum(r["kind"] == "adult_chat" for r in ALLOW) >= 100
    texts = [r["text"] for r in ROWS]
    assert len(texts) == len(set(texts)), "duplicate lines"


def test_the_set_covers_every_kind_and_language() -> None:
    assert {r["kind"] for r in REFUSE} >= REFUSE_KINDS
    assert {r["kind"] for r in ALLOW} >= ALLOW_KINDS
    assert {r["lang"] for r in REFUSE} >= LANGUAGES
    assert {r["lang"] for r in ALLOW if r["kind"] == "adult_chat"} >= LANGUAGES
    for lang in LANGUAGES - {"en"}:  # each language has its own school years or sexual vocabulary lines
        assert any(r["lang"] == lang and r["kind"] in ("school_eu", "school_asia", "sexual_vocab") for r in REFUSE)


@pytest.mark.parametrize("row", REFUSE, ids=_id)
def test_must_refuse_is_refused_or_judged(row: dict[str, str]) -> None:
    verdict = _screen(row)
    assert not verdict.allowed or verdict.judge, row["text"]


def test_false_refusals_at_most_two_percent(capsys: pytest.CaptureFixture[str]) -> None:
    refused = [(r["text"], _screen(r).rule) for r in ALLOW if not _screen(r).allowed]
    with capsys.disabled():
        print(f"\nscreen set: false refusals {len(refused)}/{len(ALLOW)}")
    assert len(refused) <= 0.02 * len(ALLOW), refused


def test_plainly_adult_chat_rarely_goes_to_the_judge(capsys: pytest.CaptureFixture[str]) -> None:
    adult = [r for r in ALLOW if r["kind"] == "adult_chat"]
    judged = [r["text"] for r in adult if _screen(r).judge]
    with capsys.disabled():
        print(f"\nscreen set: adult chat judged {len(judged)}/{len(adult)}")
    assert len(judged) <= 0.20 * len(adult), judged


def test_character_and_image_lines_always_go_to_the_judge_unless_refused() -> None:
    for row in ROWS:
        if row["context"] in ("character", "image"):
            verdict = _screen(row)
            assert not verdict.allowed or verdict.judge, row["text"]
