"""One Aho-Corasick automaton for every word list: all words found in one linear pass.

Word lists (`bot.safety.lexicon`, `bot.safety.sexual`) are written in a small notation:

- `word` or `two words`: whole tokens, after the same folding as the text (accents, case);
- `stem*`: the last token only has to start with `stem` (`porn*` → porno, pornographic);
- an entry in Chinese or Japanese characters matches anywhere inside a run of them (those
  languages do not separate words with spaces); so does a Korean entry, except one written
  `=word`, which must be a whole Korean word, optionally followed by a particle (이, 는, 를…),
  for short words that sit inside longer ones (아이 "child" inside 아이스크림 "ice cream").

Stretched letters: the automaton runs over the text with repeated letters squeezed (`kiiid` →
`kid`), and every hit is then checked against the word as written, letter run by letter run,
so `teeeen` is `teen` but `ten` is not.

`pyahocorasick` walks the text once whatever the number of words; no pattern can backtrack.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, groupby
from operator import itemgetter

import ahocorasick

from bot.safety.normalize import _is_cjk, _plain, tokenize

__all__ = ["Hit", "Matcher", "squeeze"]

# Korean particles that may follow a whole-word (`=`) Korean entry.
KOREAN_PARTICLES = (
    "", "이", "가", "은", "는", "을", "를", "의", "에", "에게", "에서", "와", "과", "도", "만", "랑", "이랑",
    "한테", "야", "아", "이야", "예요", "이에요", "입니다", "들", "들이", "들을", "들은", "들의", "들과", "들도",
    "처럼", "같은", "로", "으로", "하고", "이랑은",
)


def squeeze(text: str) -> str:
    """Every run of one repeated character as one character ("kiiid" → "kid")."""
    return "".join(map(itemgetter(0), groupby(text)))


def _runs(token: str) -> list[int]:
    return [sum(1 for _ in group) for _, group in groupby(token)]


@dataclass(frozen=True, slots=True)
class _Entry:
    category: str
    text: str  # canonical (folded) form, tokens joined by spaces
    tokens: tuple[str, ...]
    prefix: bool
    substring: bool
    data: object = None


@dataclass(frozen=True, slots=True)
class Hit:
    """A word-list entry found in a token stream: tokens [start, end) of the stream."""

    category: str
    start: int
    end: int
    text: str
    data: object = None


@dataclass(slots=True)
class Matcher:
    """Word lists compiled into one automaton; `find(tokens)` returns every hit by category."""

    _patterns: dict[str, list[_Entry]] = field(default_factory=lambda: defaultdict(list))
    _automaton: ahocorasick.Automaton | None = None

    def add(self, category: str, entries: Iterable[str], data: object = None) -> None:
        """Add entries (in the notation of the module docstring) under `category`."""
        for raw in entries:
            raw = raw.strip()
            if not raw:
                continue
            korean_word = raw.startswith("=")
            prefix = raw.endswith("*")
            body = raw.lstrip("=").rstrip("*")
            tokens = tuple(p for t in tokenize(body) for p in _plain(t))
            if not tokens:
                continue
            text = " ".join(tokens)
            if korean_word:
                for particle in KOREAN_PARTICLES:
                    word = text + particle
                    self._patterns[f" {squeeze(word)} "].append(_Entry(category, word, (word,), False, False, data))
                continue
            substring = all(_is_cjk(ch) for ch in text.replace(" ", ""))
            key = squeeze(text) if substring else f" {squeeze(text)}" + ("" if prefix else " ")
            self._patterns[key].append(_Entry(category, text, tokens, prefix, substring, data))
        self._automaton = None

    def build(self) -> None:
        automaton = ahocorasick.Automaton()
        for key, entries in self._patterns.items():
            automaton.add_word(key, (len(key), tuple(entries)))
        automaton.make_automaton()
        self._automaton = automaton

    def find(self, tokens: Sequence[str]) -> dict[str, list[Hit]]:
        """Every hit in `tokens`, grouped by category, in text order."""
        if self._automaton is None:
            self.build()
        assert self._automaton is not None
        text = " " + " ".join(tokens) + " "
        squeezed = squeeze(text)
        parts = squeezed[1:-1].split(" ") if len(squeezed) > 2 else []
        starts = list(accumulate((len(p) + 1 for p in parts), initial=1))[:-1]
        hits: dict[str, list[Hit]] = defaultdict(list)
        for end, (length, entries) in self._automaton.iter(squeezed):
            begin = end - length + 1
            for entry in entries:
                if entry.substring:
                    k = bisect_right(starts, begin) - 1
                    span = (k, k + 1)
                else:
                    k = bisect_right(starts, begin + 1) - 1
                    span = (k, k + len(entry.tokens))
                    if not _same_letters(tokens[span[0] : span[1]], entry):
                        continue
                hits[entry.category].append(Hit(entry.category, span[0], span[1], entry.text, entry.data))
        return hits


def _same_letters(found: Sequence[str], entry: _Entry) -> bool:
    """Does the text (squeezed-equal to the entry) repeat every letter at least as often as the
    entry does? "kiiid" is "kid"; "ten" is not "teen"."""
    if len(found) != len(entry.tokens):
        return False
    for i, (got, want) in enumerate(zip(found, entry.tokens, strict=True)):
        if got == want:
            continue
        last = i == len(found) - 1
        if entry.prefix and last and got.startswith(want):
            continue
        got_runs, want_runs = _runs(got), _runs(want)
        if len(got_runs) < len(want_runs) or (len(got_runs) != len(want_runs) and not (entry.prefix and last)):
            return False
        if any(g < w for g, w in zip(got_runs, want_runs, strict=False)):
            return False
        # A letter doubled once is often another word ("pass" is not French "pas"); stretching
        # is a letter repeated at least twice more ("kiiid", "sexxx"), except in hard terms
        # ("lolli"), which have no ordinary neighbours.
        if entry.category != "hard" and max(g - w for g, w in zip(got_runs, want_runs, strict=False)) < 2:
            return False
    return True


class Phrases:
    """A short word list looked up at one position (`starting`/`ending`), not searched for.

    For the words around a number ("years old" after it, "Age:" or "she's" before it): a few
    dictionary lookups per number, so common words such as "and" or "she" cost nothing in text
    without numbers. Entries: whole tokens, or one token with a trailing `*` (a prefix), or a
    Chinese/Japanese/Korean entry found inside the token.
    """

    def __init__(self, entries: Iterable[str]) -> None:
        self.exact: dict[tuple[str, ...], str] = {}
        stems: list[str] = []
        cjk: list[str] = []
        for raw in entries:
            prefix = raw.endswith("*")
            tokens = tuple(p for t in tokenize(raw.rstrip("*")) for p in _plain(t))
            if not tokens:
                continue
            text = " ".join(tokens)
            if all(_is_cjk(ch) for ch in text.replace(" ", "")):
                cjk.append(text.replace(" ", ""))
            elif prefix:
                if len(tokens) != 1:
                    raise ValueError(f"a prefix entry must be one word: {raw!r}")
                stems.append(tokens[0])
            else:
                self.exact[tokens] = text
        self.longest = max((len(k) for k in self.exact), default=1)
        self.stems = tuple(stems)
        self.cjk = tuple(cjk)
        self._words = frozenset(t for k in self.exact for t in k)

    def possible(self, distinct: set[str]) -> bool:
        """Can any entry occur in a text made of the `distinct` tokens? (One check per text, so
        that lookups in text without any of these words cost nothing.)"""
        if not self._words.isdisjoint(distinct):
            return True
        if self.stems and any(t.startswith(self.stems) for t in distinct):
            return True
        return bool(self.cjk) and any(c in t for t in distinct if not t.isascii() for c in self.cjk)

    def starting(self, tokens: Sequence[str], j: int) -> tuple[int, int] | None:
        """The longest entry that starts at token j, as (start, end), or None."""
        n = len(tokens)
        if j >= n:
            return None
        for size in range(min(self.longest, n - j), 0, -1):
            if tuple(tokens[j : j + size]) in self.exact:
                return j, j + size
        tok = tokens[j]
        if (self.stems and tok.startswith(self.stems)) or (
            self.cjk and not tok.isascii() and any(c in tok for c in self.cjk)
        ):
            return j, j + 1
        return None

    def ending(self, tokens: Sequence[str], i: int) -> tuple[int, int] | None:
        """The longest entry whose last token is i - 1, as (start, end), or None."""
        if i <= 0:
            return None
        for size in range(min(self.longest, i), 0, -1):
            if tuple(tokens[i - size : i]) in self.exact:
                return i - size, i
        tok = tokens[i - 1]
        if (self.stems and tok.startswith(self.stems)) or (
            self.cjk and not tok.isascii() and any(c in tok for c in self.cjk)
        ):
            return i - 1, i
        return None
