"""Matching lorebook keys against the scanned text, in time linear in the text.

SillyTavern tests each key with `WorldInfoBuffer.matchKeys` (world-info.js) against one string:
the scanned messages, newest first, each prefixed with `\\x01` and joined with `\\n`, then the
recursion buffer. Its rules, reproduced here:

- a key written `/pattern/flags` is a JavaScript regex tested on that string as it is (its own
  flags decide case; `^` never matches a message start, which is preceded by `\\x01`);
- any other key is literal text, lower-cased with the text unless the entry is case-sensitive;
- with "match whole words" (the default), a key of one word must be preceded by the start or a
  non-word character and followed by the end or a non-word character, where a word character is
  `[A-Za-z0-9_]` (JavaScript's `\\w`), so keys in other scripts match inside words (`龍` in
  `這是龍的巢穴`) while `cat` does not match `concatenate` and `C++` only matches `C++`;
  a key of several words is matched as a plain substring.

Instead of one search per key, literal keys are compiled into one Aho-Corasick automaton per
case mode (`pyahocorasick`) and each message is walked once, recording where each key was first
seen; regex keys run with RE2 (`bot.characters.jsregex`). `ScanWork` bounds the work of one
selection: the automaton's matches handled and the bytes regexes read. When a bound is reached,
the rest counts as "not found" and the result says so.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import ahocorasick

from bot.characters.jsregex import JsRegex, compile_js, parse_key_regex
from bot.characters.lore_settings import EntrySettings, LoreSettings, book_entries
from bot.characters.model import Lorebook

log = logging.getLogger(__name__)

MATCHER = "\x01"  # world-info.js WorldInfoBuffer.get: MATCHER and JOINER
JOINER = "\n" + MATCHER
MAX_KEY_CHARS = 1_000
"""Keys longer than this are skipped (with a warning), never a reason to refuse a card."""
MAX_BOOK_KEYS = 50_000
"""Keys indexed per book; a book with more (an 8 MB card can hold a great many) is cut here."""
MAX_AUTOMATON_MATCHES = 400_000
"""Automaton matches handled per selection: ordinary text makes a few per message."""
MAX_REGEX_BYTES = 16 << 20
"""Bytes RE2 may read per selection, summed over regex keys."""

Mode = str  # "word" (whole-word boundary) or "sub" (substring)


@dataclass(frozen=True, slots=True)
class KeyRef:
    """How one key of one entry is matched: a literal key id, a regex, or nothing (never matches)."""

    literal: int | None = None
    regex: JsRegex | None = None


@dataclass(slots=True)
class ScanWork:
    """The work one selection may do; when a bound is reached, `exhausted` says which."""

    matches_left: int = field(default_factory=lambda: MAX_AUTOMATON_MATCHES)
    regex_bytes_left: int = field(default_factory=lambda: MAX_REGEX_BYTES)
    exhausted: set[str] = field(default_factory=set)


class KeyIndex:
    """Every key of a book, compiled once: literal keys in automatons, regex keys with RE2."""

    def __init__(self, entries: Sequence[EntrySettings], settings: LoreSettings,
                 substitute: Callable[[str], str]) -> None:
        self._ids: dict[tuple[str, bool, Mode], int] = {}
        self._words: dict[tuple[str, bool], list[tuple[int, Mode]]] = {}
        self.refs: list[tuple[tuple[KeyRef, ...], tuple[KeyRef, ...]]] = []
        self.literal_entries: dict[int, list[int]] = {}  # key id -> entry positions using it
        self.regex_entries: set[int] = set()
        budget = MAX_BOOK_KEYS
        for position, entry in enumerate(entries):
            case = entry.case_sensitive if entry.case_sensitive is not None else settings.case_sensitive
            whole = entry.match_whole_words if entry.match_whole_words is not None else settings.match_whole_words
            primary = self._refs(entry.keys[: max(0, budget)], case, whole, substitute)
            budget -= len(entry.keys)
            secondary = self._refs(entry.secondary[: max(0, budget)], case, whole, substitute)
            budget -= len(entry.secondary)
            self.refs.append((primary, secondary))
            for ref in (*primary, *secondary):
                if ref.literal is not None:
                    self.literal_entries.setdefault(ref.literal, []).append(position)
                elif ref.regex is not None:
                    self.regex_entries.add(position)
        if budget < 0:
            log.warning("lorebook has more than %d keys; the rest are ignored", MAX_BOOK_KEYS)
        self._automata = {case: self._automaton(case) for case in (False, True)}

    def _refs(self, keys: Iterable[str], case: bool, whole: bool,
              substitute: Callable[[str], str]) -> tuple[KeyRef, ...]:
        refs = []
        for raw in keys:
            key = substitute(raw).strip() if "{{" in raw or "<" in raw else raw.strip()
            if not key or MATCHER in key:
                refs.append(KeyRef())
                continue
            if len(key) > MAX_KEY_CHARS:
                log.warning("lorebook key of %d characters skipped (at most %d)", len(key), MAX_KEY_CHARS)
                refs.append(KeyRef())
                continue
            as_regex = parse_key_regex(key) if key[0] == "/" else None
            if as_regex is not None:
                refs.append(KeyRef(regex=compile_js(*as_regex)))
                continue
            text = key if case else key.lower()
            mode: Mode = "word" if whole and len(text.split()) == 1 else "sub"
            spec = (text, case, mode)
            ident = self._ids.get(spec)
            if ident is None:
                ident = self._ids[spec] = len(self._ids)
                self._words.setdefault((text, case), []).append((ident, mode))
            refs.append(KeyRef(literal=ident))
        return tuple(refs)

    def _automaton(self, case: bool) -> ahocorasick.Automaton | None:
        words = [(text, ids) for (text, sensitive), ids in self._words.items() if sensitive is case]
        if not words:
            return None
        automaton = ahocorasick.Automaton()
        for text, ids in words:
            automaton.add_word(text, (len(text), tuple(ids)))
        automaton.make_automaton()
        return automaton

    @property
    def needs_lower(self) -> bool:
        return self._automata[False] is not None

    def find(self, text: str, lowered: str | None, work: ScanWork) -> set[int]:
        """The literal key ids found in one part of the scanned text (one message, one recursion step).

        A part is always preceded and followed by a non-word character in the joined string
        (`\\x01` before, `\\n` or the end after), so its own ends count as word boundaries.
        """
        found: set[int] = set()
        for case, haystack in ((True, text), (False, lowered)):
            automaton = self._automata[case]
            if automaton is None or haystack is None:
                continue
            for end, (length, ids) in automaton.iter(haystack):
                work.matches_left -= 1
                if work.matches_left < 0:
                    work.exhausted.add("keys")
                    return found
                for ident, mode in ids:
                    if ident in found:
                        continue
                    if mode == "sub" or _bounded(haystack, end - length + 1, end + 1):
                        found.add(ident)
        return found


def _bounded(haystack: str, start: int, stop: int) -> bool:
    """`(?:^|\\W)key(?:$|\\W)` with JavaScript's ASCII `\\w`."""
    return (start == 0 or not _is_word(haystack[start - 1])) and (stop >= len(haystack) or not _is_word(haystack[stop]))


def _is_word(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char == "_")


def regex_search(regex: JsRegex, haystack: bytes, work: ScanWork) -> bool:
    """Run one regex key over the joined text, within the selection's byte budget."""
    work.regex_bytes_left -= len(haystack)
    if work.regex_bytes_left < 0:
        work.exhausted.add("regex")
        return False
    return regex.search(haystack)


class CompiledBook(NamedTuple):
    """A book ready to scan: entries in scan order, their key index, and what the scan looks up."""

    entries: tuple[EntrySettings, ...]  # in SillyTavern's scan order
    index: KeyIndex
    always: tuple[int, ...]  # positions that can fire without a key: constant, decorated, keyless-but-sticky
    deepest: int  # the largest per-entry scan depth
    positions: dict[str, int]  # entry key -> position in `entries`


# --- compiling books ----------------------------------------------------------------------------

Tiers = Sequence[Sequence[Lorebook]]
"""Books scanned together, in SillyTavern's tiers, in scan order (`prompt_lore.LoreBooks.tiers`)."""


def compile_books(tiers: Tiers, settings: LoreSettings, substitute: Callable[[str], str] = str) -> CompiledBook:
    """Every entry of the books in scan order (`getSortedEntries`), with one key index.

    Within a tier each book's entries come in uid order (JavaScript orders integer keys first),
    one book after another, then the tier is sorted by `order`, highest first (a stable sort);
    tiers follow each other (chat lore, persona lore, then character and global lore as the
    insertion strategy orders them). `substitute` expands macros in keys.
    """
    entries: list[EntrySettings] = []
    worlds: set[str] = set()
    number = 0
    for tier in tiers:
        in_tier: list[EntrySettings] = []
        for book in tier:
            world = book.name or "card"
            while world in worlds:  # timed effects are keyed by world name: keep them apart
                world += "'"
            worlds.add(world)
            found = book_entries(book, number, world)
            found.sort(key=lambda e: (not e.uid.isdigit(), int(e.uid) if e.uid.isdigit() else 0, e.index))
            in_tier.extend(found)
            number += 1
        in_tier.sort(key=lambda e: -e.order)
        entries.extend(in_tier)
    always = tuple(p for p, e in enumerate(entries) if e.constant or e.decorators or e.sticky)
    deepest = max((e.scan_depth or 0 for e in entries), default=0)
    index = KeyIndex(entries, settings, substitute)
    return CompiledBook(tuple(entries), index, always, deepest, {e.key: p for p, e in enumerate(entries)})


def compile_book(book: Lorebook, settings: LoreSettings, substitute: Callable[[str], str] = str) -> CompiledBook:
    """One book on its own (a card's `character_book`)."""
    return compile_books([[book]], settings, substitute)


def has_macros(book: Lorebook) -> bool:
    return any("{{" in k or "<" in k for e in book.entries for k in (*e.keys, *e.secondary_keys))


def fingerprint(book: Lorebook) -> int:
    """A hash of everything in the book that compiling reads (kept on the book after the first time)."""
    cached = book.compiled
    if isinstance(cached, tuple) and len(cached) == 2 and cached[0] == "fingerprint":
        return int(cached[1])
    value = hash((book.name, tuple(
        (tuple(e.keys), tuple(e.secondary_keys), e.content, e.insertion_order, repr(e.id), e.constant, e.enabled,
         e.selective, e.position, e.case_sensitive, e.comment, e.name, repr(e.extensions), repr(e.extra))
        for e in book.entries
    )))
    book.compiled = ("fingerprint", value)
    return value


class LoreCompiler:
    """Compiled books, most recently used kept (a bounded LRU), owned by the service that scans.

    Compiling is what costs (a 5,000-entry book with 50,000 keys takes a few hundred milliseconds:
    its automaton), and the chat service re-reads a character every turn, so the compiled form is
    kept by what compiling depends on: the books' contents and tiers, the global case and
    whole-word settings, and, when keys hold macros, the names they expand to. `prepare` compiles
    in a worker thread, so the event loop never waits for a large book; `get` then finds it.
    """

    def __init__(self, max_books: int = 32) -> None:
        self.max_books = max_books
        self._compiled: OrderedDict[object, CompiledBook] = OrderedDict()
        self.compiles = 0  # how many times a book set was compiled (tests and the benchmark read it)

    def key(self, tiers: Tiers, settings: LoreSettings, names: tuple[str, str]) -> object:
        macros = any(has_macros(book) for tier in tiers for book in tier)
        shape = tuple(tuple(fingerprint(book) for book in tier) for tier in tiers)
        return (shape, settings.case_sensitive, settings.match_whole_words, names if macros else None)

    def cached(self, key: object) -> CompiledBook | None:
        found = self._compiled.get(key)
        if found is not None:
            self._compiled.move_to_end(key)
        return found

    def get(self, tiers: Tiers, settings: LoreSettings, substitute: Callable[[str], str] = str,
            names: tuple[str, str] = ("", "")) -> CompiledBook:
        """The compiled books, compiled here (on the caller's thread) when not kept yet."""
        key = self.key(tiers, settings, names)
        found = self.cached(key)
        if found is None:
            found = compile_books(tiers, settings, substitute)
            self._keep(key, found)
        return found

    async def prepare(self, tiers: Tiers, settings: LoreSettings, names: tuple[str, str],
                      run: Callable[..., Awaitable[CompiledBook]]) -> None:
        """Compile ahead with `run(fn, *args)` (e.g. `Offload.in_thread`) unless kept already. Books
        whose keys hold macros are left for `get`: their keys expand with the turn's macros."""
        if not any(book.entries for tier in tiers for book in tier):
            return
        if any(has_macros(book) for tier in tiers for book in tier):
            return
        key = self.key(tiers, settings, names)
        if self.cached(key) is None:
            self._keep(key, await run(compile_books, tiers, settings))

    def _keep(self, key: object, compiled: CompiledBook) -> None:
        self.compiles += 1
        self._compiled[key] = compiled
        self._compiled.move_to_end(key)
        while len(self._compiled) > self.max_books:
            self._compiled.popitem(last=False)
