"""Which lorebook entries fire for the recent conversation, and where their text goes.

Rules follow the V2/V3 card specs (`character_book`): disabled entries never fire; constant entries
always do; a keyed entry fires when one of its keys appears in the scanned texts, and a selective
one also needs one of its secondary keys. Matching is case-insensitive unless the entry says
otherwise, and plain keys match whole words (so "cat" does not fire on "concatenate").

Regex keys (`use_regex`, or a key written `/pattern/flags`) come from strangers' cards and run on
every message, so they are screened before use: Python's `re` has no timeout, and one pattern with
nested quantifiers can stall the event loop for minutes. Patterns that are too long, use
backreferences, repeat a group that itself repeats or alternates, have more than one open-ended
quantifier, or whose bounded quantifiers multiply to more than `_MAX_BOUNDED_PRODUCT` ways of
matching are treated as invalid, which the V3 spec says means "no match". What is left is at
worst quadratic in the text's length, so regexes search overlapping windows of
`REGEX_WINDOW_CHARS` (worst case measured at tens of milliseconds a window, case-insensitive),
newest text first, and one call spends at most `REGEX_TIME_BUDGET` seconds on regex keys before
treating the rest as not matching.

V3 `@@decorators` at the start of an entry's content are understood in part (`@@activate`,
`@@dont_activate`, `@@scan_depth`, with `@@@` fallbacks) and are always cut from the text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from bot.characters.model import Lorebook, LoreEntry
from bot.chat.tokens import estimate as estimate_tokens

REGEX_WINDOW_CHARS = 1_000
"""Regex keys search texts in windows this long, overlapping by `_WINDOW_OVERLAP`."""
_WINDOW_OVERLAP = 100  # a key match longer than this could be missed across a window edge
REGEX_TIME_BUDGET = 0.2
"""Seconds one `select_entries` call may spend running regex keys."""
_MAX_PATTERN_CHARS = 200
_MAX_UNBOUNDED = 1
_MAX_BOUNDED_PRODUCT = 4  # e.g. two `?`, or one {2,3}: each multiplies the backtracking
_BIG_REPEAT = 10  # {m,n} with n above this is treated like `*`
_MAX_RECURSION = 3  # passes of recursive scanning, so entries that trigger each other terminate
_SLASH_REGEX = re.compile(r"^/(.+)/([a-zA-Z]*)$", re.DOTALL)
_SPACED_WORD_CHAR = re.compile(r"[^\W\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_QUANTIFIER = re.compile(r"\*|\+|\?|\{(\d*)(,?)(\d*)\}")


def select_entries(
    book: Lorebook | None,
    recent_texts: list[str],
    *,
    budget_tokens: int,
    estimate: Callable[[str], int] = estimate_tokens,
) -> list[LoreEntry]:
    """The entries to put in the prompt, in insertion order (lower `insertion_order` first).

    `recent_texts` is the conversation oldest first; the book's `scan_depth` (or an entry's
    `@@scan_depth`) limits scanning to the last N of them. If the entries cost more than
    `budget_tokens` (or the book's own `token_budget`, whichever is smaller), the lowest
    `priority` entries are left out first, constant entries before keyed ones are kept, and among
    equals the higher `insertion_order` is kept (the V3 spec drops the lowest order first).
    """
    if book is None or budget_tokens <= 0:
        return []
    candidates = [(index, entry, *_split_decorators(entry.content)) for index, entry in enumerate(book.entries)]
    candidates = [c for c in candidates if c[1].enabled and c[3].strip()]
    scanner = _Scanner(recent_texts, book.scan_depth, time.monotonic() + REGEX_TIME_BUDGET)
    fired: dict[int, LoreEntry] = {}
    for _ in range(_MAX_RECURSION if book.recursive_scanning else 1):
        new = {
            index: entry
            for index, entry, decorators, _body in candidates
            if index not in fired and _fires(entry, decorators, scanner)
        }
        if not new:
            break
        fired.update(new)
        # Recursive scanning: what just fired can mention keys of other entries (spec: any depth).
        scanner.extra.extend(lore_text(entry) for entry in new.values())
    limit = budget_tokens if not book.token_budget or book.token_budget <= 0 else min(budget_tokens, book.token_budget)
    kept = _within_budget(fired, limit, estimate)
    return [fired[index] for index in sorted(kept, key=lambda i: (fired[i].insertion_order, i))]


def format_lore(entries: Iterable[LoreEntry]) -> tuple[str, str]:
    """The entries' texts as (before the character definition, after it), by `position`."""
    before: list[str] = []
    after: list[str] = []
    for entry in entries:
        text = lore_text(entry)
        if text:
            (after if entry.position == "after_char" else before).append(text)
    return "\n".join(before), "\n".join(after)


def lore_text(entry: LoreEntry) -> str:
    """An entry's content as it goes into the prompt: decorators cut, surrounding newlines trimmed."""
    return _split_decorators(entry.content)[1]


# --- decorators --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Decorators:
    activate: bool = False
    dont_activate: bool = False
    scan_depth: int | None = None


_KNOWN_DECORATORS = frozenset({"activate", "dont_activate", "scan_depth"})


def _split_decorators(content: str) -> tuple[_Decorators, str]:
    if not content.startswith("@@"):
        return _Decorators(), content.strip("\r\n")
    lines = content.split("\n")
    values: dict[str, str] = {}
    chain_done = False  # whether the current decorator (or one of its fallbacks) was understood
    count = 0
    for line in lines:
        if not line.startswith("@@"):
            break
        count += 1
        fallback = line.startswith("@@@")
        if fallback and chain_done:
            continue
        name, _, value = line.lstrip("@").strip().partition(" ")
        chain_done = name in _KNOWN_DECORATORS
        if chain_done:
            values.setdefault(name, value.strip())  # the first of a name counts (spec)
    depth = values.get("scan_depth", "")
    decorators = _Decorators(
        activate="activate" in values,
        dont_activate="dont_activate" in values,
        scan_depth=int(depth) if depth.isdigit() else None,
    )
    return decorators, "\n".join(lines[count:]).strip("\r\n")


# --- matching ----------------------------------------------------------------------------------


class _Scanner:
    """The texts to scan, cut to a depth on demand (each cut built once per call)."""

    def __init__(self, texts: list[str], depth: int | None, regex_deadline: float) -> None:
        self.texts = texts
        self.depth = depth
        self.regex_deadline = regex_deadline
        self.extra: list[str] = []
        self._cuts: dict[int | None, list[str]] = {}

    def window(self, depth: int | None) -> list[str]:
        depth = self.depth if depth is None else depth
        if depth not in self._cuts:
            if depth is None or depth < 0:
                self._cuts[depth] = list(self.texts)
            else:
                self._cuts[depth] = self.texts[len(self.texts) - depth :] if depth else []
        return self._cuts[depth] + self.extra


def _fires(entry: LoreEntry, decorators: _Decorators, scanner: _Scanner) -> bool:
    if decorators.dont_activate and not decorators.activate:
        return False
    if entry.constant or decorators.activate:
        return True
    if not _any_key(entry.keys, entry, scanner, decorators.scan_depth):
        return False
    # V3: secondary keys are ignored for regex entries.
    if entry.selective and entry.secondary_keys and not entry.use_regex:
        return _any_key(entry.secondary_keys, entry, scanner, decorators.scan_depth)
    return True


def _any_key(keys: list[str], entry: LoreEntry, scanner: _Scanner, depth: int | None) -> bool:
    texts = scanner.window(depth)
    for key in keys:
        compiled = _compile_key(key, entry.case_sensitive, entry.use_regex)
        if compiled is None:
            continue
        pattern, is_regex = compiled
        if not is_regex:
            if any(pattern.search(text) for text in texts):
                return True
            continue
        for window in _windows(texts):
            if time.monotonic() > scanner.regex_deadline:
                return False  # out of time for regexes: treated as not matching
            if pattern.search(window):
                return True
    return False


def _windows(texts: list[str]) -> Iterator[str]:
    """Overlapping slices of the texts for regex search, the most recent text and end first."""
    step = REGEX_WINDOW_CHARS - _WINDOW_OVERLAP
    for text in reversed(texts):
        if len(text) <= REGEX_WINDOW_CHARS:
            yield text
            continue
        for end in range(len(text), _WINDOW_OVERLAP, -step):
            yield text[max(0, end - REGEX_WINDOW_CHARS) : end]


@lru_cache(maxsize=4096)
def _compile_key(key: str, case_sensitive: bool, use_regex: bool) -> tuple[re.Pattern[str], bool] | None:
    """A key as (compiled pattern, is a user regex), or None for a blank or refused key."""
    slash = _SLASH_REGEX.match(key.strip())
    if slash:
        # `/pattern/flags`: the flags decide case, as in JavaScript and SillyTavern.
        flags = re.IGNORECASE if "i" in slash.group(2) else 0
        flags |= (re.MULTILINE if "m" in slash.group(2) else 0) | (re.DOTALL if "s" in slash.group(2) else 0)
        return _safe_regex(slash.group(1), flags)
    case = 0 if case_sensitive else re.IGNORECASE
    if use_regex:
        return _safe_regex(key, case)
    word = key.strip()
    if not word:
        return None
    # Whole-word-ish: a boundary is required only where the key itself begins/ends with a word
    # character, so "Dr." or "#tag" still match next to punctuation; scripts written without
    # spaces (Chinese, Japanese, Korean) get no boundary at all, or their keys could never match.
    head = r"(?<!\w)" if _SPACED_WORD_CHAR.match(word[0]) else ""
    tail = r"(?!\w)" if _SPACED_WORD_CHAR.match(word[-1]) else ""
    return re.compile(head + re.escape(word) + tail, case), False


def _safe_regex(pattern: str, flags: int) -> tuple[re.Pattern[str], bool] | None:
    if not pattern or len(pattern) > _MAX_PATTERN_CHARS or _is_risky(pattern):
        return None
    try:
        return re.compile(pattern, flags), True
    except (re.error, RecursionError, OverflowError, ValueError):
        return None


def _is_risky(pattern: str) -> bool:
    """A cheap structural screen for patterns that can backtrack catastrophically.

    It tracks, for each open group, whether it contains a quantifier or an alternation; a group
    that does and is itself repeated (`(a+)+`, `(a|aa)*`) is refused, as are backreferences and
    more than `_MAX_UNBOUNDED` open-ended quantifiers and bounded ones allowing more than
    `_MAX_BOUNDED_PRODUCT` combinations. It errs on the side of refusing.
    """
    groups: list[list[bool]] = [[False, False]]  # per open group: [has quantifier, has alternation]
    unbounded, product = 0, 1
    i = 0
    while i < len(pattern):
        char = pattern[i]
        kind: str | None = None
        top = 0
        if char == "\\":
            if pattern[i + 1 : i + 2].isdigit() and pattern[i + 1] != "0":
                return True  # backreference
            i += 2
        elif char == "[":
            i = _skip_class(pattern, i)
        elif char == "(":
            if pattern.startswith("(?P=", i):
                return True  # named backreference
            groups.append([False, False])
            i = _skip_group_prefix(pattern, i + 1)
        elif char == "|":
            groups[-1][1] = True
            i += 1
        elif char == ")":
            inner = groups.pop() if len(groups) > 1 else [False, False]
            kind, top, i = _quantifier(pattern, i + 1)
            if kind in ("repeat", "unbounded") and (inner[0] or inner[1]):
                return True
            groups[-1][0] = groups[-1][0] or inner[0] or kind is not None
            groups[-1][1] = groups[-1][1] or inner[1]
        else:
            # Quantifiers after an escape or a class arrive here too, as the next character.
            kind, top, i = _quantifier(pattern, i)
            if kind is None:
                i += 1
            else:
                groups[-1][0] = True
        if kind == "unbounded":
            unbounded += 1
        elif kind is not None:
            product *= top + 1
        if unbounded > _MAX_UNBOUNDED or product > _MAX_BOUNDED_PRODUCT:
            return True
    return False


def _quantifier(pattern: str, i: int) -> tuple[str | None, int, int]:
    """The quantifier at `i`: its kind ("optional", "repeat" or "unbounded"), its maximum, its end."""
    match = _QUANTIFIER.match(pattern, i)
    if match is None:
        return None, 0, i
    text = match.group(0)
    if text in ("*", "+"):
        kind, top = "unbounded", 0
    elif text == "?":
        kind, top = "optional", 1
    else:
        low, comma, high = match.groups()
        if not low and not high:
            return None, 0, i  # a literal "{"
        limit = int(high) if high else (None if comma else int(low))
        if limit is None or limit > _BIG_REPEAT:
            kind, top = "unbounded", 0
        else:
            kind, top = ("repeat" if limit > 1 else "optional"), limit
    end = match.end()
    if pattern[end : end + 1] in ("?", "+"):
        end += 1  # lazy or possessive suffix
    return kind, top, end


def _skip_class(pattern: str, i: int) -> int:
    """Index just past a character class starting at `i` (quantifier characters inside are literal)."""
    j = i + 1
    if pattern[j : j + 1] == "^":
        j += 1
    if pattern[j : j + 1] == "]":
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j + 1


def _skip_group_prefix(pattern: str, i: int) -> int:
    """Index past `?:`, `?P<name>`, `?=`, inline flags… so their `?` is not read as a quantifier."""
    if pattern[i : i + 1] != "?":
        return i
    if pattern.startswith(("?:", "?=", "?!", "?>"), i):
        return i + 2
    if pattern.startswith(("?<=", "?<!"), i):
        return i + 3
    if pattern.startswith("?P<", i):
        close = pattern.find(">", i)
        return close + 1 if close != -1 else len(pattern)
    j = i + 1  # inline flags: (?i) or (?s-i:...)
    while j < len(pattern) and (pattern[j].isalpha() or pattern[j] == "-"):
        j += 1
    return j + 1 if pattern[j : j + 1] == ":" else j


def _within_budget(fired: dict[int, LoreEntry], limit: int, estimate: Callable[[str], int]) -> set[int]:
    """Indexes of the entries kept: constant first, then by priority, each only if it still fits."""
    order = sorted(fired, key=lambda i: (not fired[i].constant, -fired[i].priority, -fired[i].insertion_order, i))
    kept: set[int] = set()
    used = 0
    for index in order:
        cost = estimate(lore_text(fired[index]))
        if used + cost <= limit:
            kept.add(index)
            used += cost
    return kept
