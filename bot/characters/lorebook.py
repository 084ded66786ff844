"""Which lorebook entries fire for this turn, and where their text goes: SillyTavern's world info.

`select_lore` is a port of `checkWorldInfo` in SillyTavern's `public/scripts/world-info.js`
(the function names below are SillyTavern's), with bounds added so that a hostile card cannot
stall the bot:

1. Timed effects are checked first (`WorldInfoTimedEffects.checkTimedEffects`): sticky entries
   stay on, entries on cooldown or delay stay off.
2. The scan loop: each pass looks at every entry not yet activated, in SillyTavern's order
   (`getSortedEntries`: higher `insertion_order` first). Disabled, delayed, cooled-down entries
   are skipped; `@@activate`, constant and sticky entries activate; the others need a primary key
   in the scanned text and their secondary keys to satisfy `selectiveLogic`. The scanned text is
   the last `scan_depth` messages ("Name: message") plus what earlier passes activated.
3. Each pass's new entries go through inclusion groups (`filterByInclusionGroups`), probability,
   and the token budget (SillyTavern's 25% of the context), in that order; the first entry that
   does not fit ends the scan and the rest are reported as left out.
4. Recursion: what a pass activated (unless `prevent_recursion`) is scanned by the next pass;
   `exclude_recursion` entries only fire on the messages, `delay_until_recursion` entries only on
   recursion (their level's pass). The number of passes is bounded (`MAX_RECURSION_STEPS`).
5. The activated entries are laid out by position (before/after the character, Author's Note
   top/bottom, example messages top/bottom, at a depth with a role), each list in ascending
   `insertion_order`, as SillyTavern builds them.

Keys are matched by `bot.characters.lore_match` (one automaton for literal keys, RE2 for regex
keys, a work budget per selection). Randomness (probability, group rolls) comes from the `rng`
passed in, so tests and replays are deterministic.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from bot.characters.lore_match import JOINER, MATCHER, KeyIndex, KeyRef, ScanWork, regex_search
from bot.characters.lore_settings import (
    MAX_SCAN_DEPTH,
    EntrySettings,
    Logic,
    LoreSettings,
    Position,
    Role,
    book_entries,
)
from bot.characters.lore_state import Effect, LoreState
from bot.characters.model import Lorebook
from bot.chat.tokens import estimate as estimate_tokens

MAX_RECURSION_STEPS = 25
"""Scan passes per selection, however the book's recursion and delay levels are set."""
MAX_MESSAGE_CHARS = 20_000
"""Each scanned message is cut to its last this-many characters."""
MAX_SCANNED_CHARS = 200_000
"""Messages, recursion and card text scanned per selection, in total."""
_GROUP_SPLIT = re.compile(r",\s*")  # filterByInclusionGroups: item.group.split(/,\s*/)


@dataclass(frozen=True, slots=True)
class ScanText:
    """What the scan reads: messages oldest first ("Name: message"), and the card texts entries may opt into."""

    messages: Sequence[str]
    persona: str = ""
    description: str = ""
    personality: str = ""
    depth_prompt: str = ""
    scenario: str = ""
    creator_notes: str = ""


class DepthGroup(NamedTuple):
    """Entries inserted at one depth with one role, joined by newlines (`WIDepthEntries`)."""

    depth: int
    role: Role
    contents: list[str]


@dataclass(slots=True)
class LoreResult:
    """What fired and where it goes. Lists are in prompt order."""

    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    an_top: list[str] = field(default_factory=list)
    an_bottom: list[str] = field(default_factory=list)
    examples: list[tuple[Position, str]] = field(default_factory=list)  # EM_TOP / EM_BOTTOM
    depth: list[DepthGroup] = field(default_factory=list)
    activated: list[EntrySettings] = field(default_factory=list)  # activation order
    left_out: list[EntrySettings] = field(default_factory=list)  # over the budget
    state: LoreState = field(default_factory=LoreState)
    cut_short: set[str] = field(default_factory=set)  # "keys" / "regex" / "text" when a work bound hit

    @property
    def names(self) -> list[str]:
        return [entry.name for entry in self.activated]


class _Book(NamedTuple):
    entries: tuple[EntrySettings, ...]  # in SillyTavern's scan order
    index: KeyIndex
    always: tuple[int, ...]  # positions that can fire without a key: constant, decorated, keyless-but-sticky
    deepest: int  # the largest per-entry scan depth
    positions: dict[str, int]  # entry key -> position in `entries`


def select_lore(
    book: Lorebook | None,
    text: ScanText,
    *,
    state: LoreState,
    budget_tokens: int,
    settings: LoreSettings | None = None,
    rng: random.Random | None = None,
    estimate: Callable[[str], int] = estimate_tokens,
    substitute: Callable[[str], str] = str,
    transform: Callable[[str, int | None], str] | None = None,
    names: tuple[str, str] = ("", ""),
) -> LoreResult:
    """Run SillyTavern's world-info scan for one turn; returns the layout and the updated state.

    `state.chat_length` must already count this turn's messages (`lore_state.advance`).
    `substitute` expands macros in keys and in activated content (SillyTavern's
    `substituteParams`); `transform(content, depth)` applies the card's world-info regex scripts;
    `names` (character, user) only keys the compiled index cache when keys hold macros.
    """
    settings = settings or LoreSettings()
    new_state = state.copy()
    result = LoreResult(state=new_state)
    if book is None or not book.entries or budget_tokens <= 0:
        return result
    compiled = _compile(book, settings, substitute, names)
    scan = _Scan(compiled, text, settings, new_state, rng or random.Random(), estimate, substitute, budget_tokens)
    scan.run()
    scan.layout(result, transform)
    result.cut_short = set(scan.work.exhausted)
    return result


# --- compiling a book ----------------------------------------------------------------------------


def _compile(book: Lorebook, settings: LoreSettings, substitute: Callable[[str], str],
             names: tuple[str, str]) -> _Book:
    """The book's entries in scan order with their key index, built once per book.

    The compiled form is kept on the `Lorebook` itself (`Lorebook.compiled`), and in a small
    cache keyed by the book's content, because the chat service may parse the card afresh every
    turn: building the automaton of a 50,000-key book costs far more than a turn's scan. Both are
    keyed by what compiling depends on: the global case and whole-word settings, and the names
    when keys hold macros.
    """
    cache = book.compiled if isinstance(book.compiled, dict) else {}
    fingerprint = cache.get("fingerprint")
    if not isinstance(fingerprint, int):
        has_macros = any("{{" in k or "<" in k for e in book.entries for k in (*e.keys, *e.secondary_keys))
        cache = {"fingerprint": _fingerprint(book), "has_macros": has_macros}
    has_macros = bool(cache["has_macros"])
    key = (cache["fingerprint"], settings.case_sensitive, settings.match_whole_words, names if has_macros else None)
    found = cache.get(key) or _COMPILED.get(key)
    if not isinstance(found, _Book):
        entries = book_entries(book)
        # getSortedEntries: entries in uid order (JavaScript orders integer keys first), then sortFn
        # (b.order - a.order), a stable sort.
        entries.sort(key=lambda e: (not e.uid.isdigit(), int(e.uid) if e.uid.isdigit() else 0, e.index))
        entries.sort(key=lambda e: -e.order)
        always = tuple(p for p, e in enumerate(entries) if e.constant or e.decorators or e.sticky)
        deepest = max((e.scan_depth or 0 for e in entries), default=0)
        index = KeyIndex(entries, settings, substitute if has_macros else str)
        found = _Book(tuple(entries), index, always, deepest, {e.key: p for p, e in enumerate(entries)})
        _COMPILED[key] = found
        while len(_COMPILED) > _COMPILED_BOOKS:
            _COMPILED.pop(next(iter(_COMPILED)))
    else:
        _COMPILED[key] = _COMPILED.pop(key, found)  # most recently used last
    book.compiled = {**cache, key: found}
    return found


def _fingerprint(book: Lorebook) -> int:
    """A hash of everything in the book that compiling reads."""
    return hash((book.name, tuple(
        (tuple(e.keys), tuple(e.secondary_keys), e.content, e.insertion_order, repr(e.id), e.constant, e.enabled,
         e.selective, e.position, e.case_sensitive, e.comment, e.name, repr(e.extensions))
        for e in book.entries
    )))


# Compiled books by content, most recently used last: a memo shared by every conversation (the
# compiled form is immutable), so that re-parsed copies of a card reuse it.
_COMPILED_BOOKS = 16
_COMPILED: dict[object, _Book] = {}


# --- the scan ------------------------------------------------------------------------------------


class _Scan:
    """One run of `checkWorldInfo`; holds the buffer, the timed effects and what activated."""

    def __init__(self, book: _Book, text: ScanText, settings: LoreSettings, state: LoreState,
                 rng: random.Random, estimate: Callable[[str], int], substitute: Callable[[str], str],
                 budget: int) -> None:
        self.book, self.settings, self.state, self.rng = book, settings, state, rng
        self.estimate, self.substitute, self.budget = estimate, substitute, budget
        self.entries = book.entries
        self.work = ScanWork()
        self.chat_length = state.chat_length
        self._read(text)
        self.sticky: set[str] = set()
        self.cooldown: set[str] = set()
        self.delayed: set[str] = set()
        self.activated: dict[str, EntrySettings] = {}
        self.contents: dict[str, str] = {}
        self.failed: set[str] = set()
        self.pending: set[int] = set()  # positions that matched but lost a group roll
        self.left_out: list[EntrySettings] = []
        self.recursion_tokens = 0
        self.positions = book.positions

    # -- the buffer (WorldInfoBuffer) ----------------------------------------------------------

    def _read(self, text: ScanText) -> None:
        """Scan each message once (newest first) and remember where each literal key first appears."""
        messages = [m.strip()[-MAX_MESSAGE_CHARS:] for m in reversed(text.messages)]  # depth 0 = newest
        depth_needed = max(self.settings.scan_depth, self.book.deepest)
        self.messages: list[str] = []
        total = 0
        for message in messages[:depth_needed]:
            total += len(message)
            if total > MAX_SCANNED_CHARS:
                self.work.exhausted.add("text")
                break
            self.messages.append(message)
        self.first_seen: dict[int, int] = {}
        for depth, message in enumerate(self.messages):
            for ident in self._find(message):
                self.first_seen.setdefault(ident, depth)
        self.extras = {
            "persona": text.persona.strip(), "description": text.description.strip(),
            "personality": text.personality.strip(), "depth_prompt": text.depth_prompt.strip(),
            "scenario": text.scenario.strip(), "creator_notes": text.creator_notes.strip(),
        }
        self.extra_found = {name: self._find(value) for name, value in self.extras.items() if value}
        self.recursion: list[str] = []
        self.recursion_found: set[int] = set()
        self.recursion_chars = 0
        self._haystacks: dict[tuple[int, tuple[str, ...], int], bytes] = {}
        self._regex_results: dict[tuple[int, tuple[int, tuple[str, ...], int]], bool] = {}

    def _find(self, text: str) -> set[int]:
        index = self.book.index
        return index.find(text, text.lower() if index.needs_lower else None, self.work)

    def _add_recursion(self, text: str) -> set[int]:
        if self.recursion_chars + len(text) > MAX_SCANNED_CHARS:
            self.work.exhausted.add("text")
            text = text[: max(0, MAX_SCANNED_CHARS - self.recursion_chars)]
        self.recursion_chars += len(text)
        self.recursion.append(text)
        found = self._find(text)
        self.recursion_found |= found
        return found

    def _depth(self, entry: EntrySettings) -> int:
        return entry.scan_depth if entry.scan_depth is not None else self.settings.scan_depth

    def _extras_of(self, entry: EntrySettings) -> tuple[str, ...]:
        wanted = (
            ("persona", entry.match_persona), ("description", entry.match_description),
            ("personality", entry.match_personality), ("depth_prompt", entry.match_depth_prompt),
            ("scenario", entry.match_scenario), ("creator_notes", entry.match_creator_notes),
        )
        return tuple(name for name, on in wanted if on and self.extras[name])

    def _matches(self, ref: KeyRef, entry: EntrySettings, with_recursion: bool) -> bool:
        depth = self._depth(entry)
        if depth <= 0:
            return False  # WorldInfoBuffer.get: nothing at all is scanned at depth 0
        if ref.literal is not None:
            seen = self.first_seen.get(ref.literal)
            if seen is not None and seen < depth:
                return True
            if self.extra_found and any(
                ref.literal in self.extra_found.get(name, ()) for name in self._extras_of(entry)
            ):
                return True
            return with_recursion and ref.literal in self.recursion_found
        if ref.regex is None:
            return False
        key = (min(depth, len(self.messages)), self._extras_of(entry), len(self.recursion) if with_recursion else 0)
        cache_key = (id(ref.regex), key)
        if cache_key not in self._regex_results:
            self._regex_results[cache_key] = regex_search(ref.regex, self._haystack(key), self.work)
        return self._regex_results[cache_key]

    def _haystack(self, key: tuple[int, tuple[str, ...], int]) -> bytes:
        if key not in self._haystacks:
            depth, extras, recursion = key
            text = MATCHER + JOINER.join(self.messages[:depth])
            for name in extras:
                text += JOINER + self.extras[name]
            if recursion:
                text += JOINER + JOINER.join(self.recursion[:recursion])
            self._haystacks[key] = text.encode("utf-8", "surrogatepass")
        return self._haystacks[key]

    # -- timed effects (WorldInfoTimedEffects) ---------------------------------------------------

    def _check_timed_effects(self) -> None:
        by_hash = {entry.hash: entry for entry in self.entries}
        for kind in ("sticky", "cooldown"):
            effects: dict[str, Effect] = getattr(self.state, kind)
            for key, effect in list(effects.items()):
                entry = by_hash.get(effect.hash)
                if self.chat_length <= effect.start and not effect.protected:
                    del effects[key]  # the chat did not advance: a regenerate decides afresh
                    continue
                if entry is None:
                    if self.chat_length >= effect.end:
                        del effects[key]
                    continue
                if not getattr(entry, kind):
                    del effects[key]
                    continue
                if self.chat_length >= effect.end:
                    del effects[key]
                    if kind == "sticky" and entry.cooldown:
                        # onEnded.sticky: the cooldown starts now, protected from the advance rule.
                        self.state.cooldown[entry.key] = Effect(
                            entry.hash, self.chat_length, self.chat_length + entry.cooldown, True
                        )
                        self.cooldown.add(entry.key)
                    continue
                (self.sticky if kind == "sticky" else self.cooldown).add(entry.key)
        self.delayed = {e.key for e in self.entries if e.delay and self.chat_length < e.delay}

    def _set_timed_effects(self) -> None:
        for entry in self.activated.values():
            for kind in ("sticky", "cooldown"):
                length = getattr(entry, kind)
                effects: dict[str, Effect] = getattr(self.state, kind)
                if length and entry.key not in effects:
                    effects[entry.key] = Effect(entry.hash, self.chat_length, self.chat_length + length)

    # -- the loop --------------------------------------------------------------------------------

    def run(self) -> None:
        self._check_timed_effects()
        levels = sorted({e.delay_until_recursion for e in self.entries if e.delay_until_recursion})
        level = levels.pop(0) if levels else 0
        recursion = False
        steps = MAX_RECURSION_STEPS
        if self.settings.max_recursion_steps:
            steps = min(steps, self.settings.max_recursion_steps)
        candidates: Sequence[int] = self._first_candidates()
        overflowed = False
        for _ in range(steps):
            now = [p for p in candidates if self._activates(self.entries[p], recursion, level)]
            new = sorted(now, key=lambda p: (self.entries[p].key not in self.sticky, p))
            self._filter_groups(new)
            overflowed = self._admit(new) or overflowed
            successful = [p for p in new if self.entries[p].key not in self.failed]
            for_recursion = [p for p in successful if not self.entries[p].prevent_recursion]
            go_on = self.settings.recursive and not overflowed and bool(for_recursion)
            if not go_on and levels:
                level = levels.pop(0)
                go_on = True
            if not go_on:
                break
            recursion = True
            joined = "\n".join(self.contents.get(self.entries[p].key, self.entries[p].content) for p in for_recursion)
            found: set[int] = set()
            if joined:
                found = self._add_recursion(joined)
                self.recursion_tokens += self.estimate(joined)
            candidates = self._next_candidates(found)
        self._set_timed_effects()

    def _first_candidates(self) -> list[int]:
        """Entries that can fire in the first pass: a keyed entry none of whose keys was seen cannot."""
        index = self.book.index
        positions = set(self.book.always) | index.regex_entries
        for ident in self.first_seen:
            positions.update(index.literal_entries.get(ident, ()))
        for found in self.extra_found.values():
            for ident in found:
                positions.update(index.literal_entries.get(ident, ()))
        positions.update(self.positions[key] for key in self.sticky if key in self.positions)
        return sorted(positions)

    def _next_candidates(self, found: set[int]) -> list[int]:
        """Entries whose outcome can change in the next pass: those touched by the new text, regex
        entries, entries waiting for a recursion level, and group losers. Everything else would be
        decided exactly as before, so it is not looked at again."""
        index = self.book.index
        positions = set(self.pending) | index.regex_entries
        for ident in found:
            positions.update(index.literal_entries.get(ident, ()))
        positions.update(p for p, e in enumerate(self.entries) if e.delay_until_recursion)
        return sorted(positions)

    def _activates(self, entry: EntrySettings, recursion: bool, level: int) -> bool:
        """One entry of the scan loop in `checkWorldInfo`, in SillyTavern's order of checks."""
        if entry.key in self.failed or entry.key in self.activated or entry.disabled:
            return False
        sticky = entry.key in self.sticky
        if entry.key in self.delayed or (entry.key in self.cooldown and not sticky):
            return False
        if entry.delay_until_recursion and not sticky and (not recursion or entry.delay_until_recursion > level):
            return False
        if recursion and self.settings.recursive and entry.exclude_recursion and not sticky:
            return False
        if "@@activate" in entry.decorators:
            return True
        if "@@dont_activate" in entry.decorators:
            return False
        if entry.constant or sticky:
            return True
        if not entry.keys:
            return False
        primary, secondary = self.book.index.refs[self.positions[entry.key]]
        depth, seen = self._depth(entry), self.first_seen
        quick = depth > 0 and any(
            r.literal is not None and seen.get(r.literal, MAX_SCAN_DEPTH) < depth for r in primary
        )
        if not quick and not any(self._matches(ref, entry, recursion) for ref in primary):
            return False
        if not (entry.selective and entry.secondary):
            return True
        return self._secondary(entry, secondary, recursion)

    def _secondary(self, entry: EntrySettings, refs: tuple[KeyRef, ...], recursion: bool) -> bool:
        """`matchSecondaryKeys`: AND ANY, NOT ALL, NOT ANY, AND ALL."""
        any_match, all_match = False, True
        for ref in refs:
            hit = self._matches(ref, entry, recursion)
            any_match = any_match or hit
            all_match = all_match and hit
            if entry.logic is Logic.AND_ANY and hit:
                return True
            if entry.logic is Logic.NOT_ALL and not hit:
                return True
        if entry.logic is Logic.NOT_ANY:
            return not any_match
        if entry.logic is Logic.AND_ALL:
            return all_match
        return False

    # -- inclusion groups (filterByInclusionGroups) -------------------------------------------------

    def _filter_groups(self, new: list[int]) -> None:
        groups: dict[str, list[int]] = {}
        for p in new:
            for name in _GROUP_SPLIT.split(self.entries[p].group):
                if name:
                    groups.setdefault(name, []).append(p)
        if not groups:
            return

        def remove(p: int) -> None:
            if p in new:
                new.remove(p)
                if self.entries[p].key not in self.failed:
                    self.pending.add(p)

        sticky_groups = self._groups_by_timed_effects(groups, remove)
        self._groups_by_scoring(groups, remove, sticky_groups)
        activated_groups = {e.group for e in self.activated.values()}
        for name, members in groups.items():
            if name in sticky_groups:
                continue
            if name in activated_groups:
                for p in members:
                    remove(p)
                continue
            if len(members) <= 1:
                continue
            overrides = sorted(
                (p for p in members if self.entries[p].group_override), key=lambda p: -self.entries[p].order
            )
            if overrides:
                winner: int | None = overrides[0]
            else:
                total = sum(self.entries[p].group_weight for p in members)
                roll = self.rng.random() * total
                winner, running = None, 0.0
                for p in members:
                    running += self.entries[p].group_weight
                    if roll <= running:
                        winner = p
                        break
                if winner is None:
                    continue
            for p in members:
                if p != winner:
                    remove(p)

    def _groups_by_timed_effects(self, groups: dict[str, list[int]], remove: Callable[[int], None]) -> set[str]:
        sticky_groups = set()
        for name, members in groups.items():
            stuck = [p for p in members if self.entries[p].key in self.sticky]
            if stuck:
                for p in members:
                    if p not in stuck:
                        remove(p)
                sticky_groups.add(name)
            for p in members:
                key = self.entries[p].key
                if key in self.cooldown or key in self.delayed:
                    remove(p)
        return sticky_groups

    def _groups_by_scoring(self, groups: dict[str, list[int]], remove: Callable[[int], None],
                           sticky_groups: set[str]) -> None:
        for name, members in groups.items():
            scored = [self.entries[p].use_group_scoring for p in members]
            if not self.settings.use_group_scoring and not any(scored):
                continue
            if name in sticky_groups:
                continue
            scores = {p: self._score(self.entries[p]) for p in members}
            best = max(scores.values())
            for p in list(members):
                on = self.entries[p].use_group_scoring
                if (on if on is not None else self.settings.use_group_scoring) and scores[p] < best:
                    remove(p)
                    members.remove(p)

    def _score(self, entry: EntrySettings) -> int:
        """`WorldInfoBuffer.getScore`: how many keys matched, secondary ones per the logic."""
        primary, secondary = self.book.index.refs[self.positions[entry.key]]
        if not primary:
            return 0
        recursion = bool(self.recursion)
        primary_score = sum(self._matches(ref, entry, recursion) for ref in primary)
        secondary_score = sum(self._matches(ref, entry, recursion) for ref in secondary)
        if secondary and entry.logic is Logic.AND_ANY:
            return primary_score + secondary_score
        if secondary and entry.logic is Logic.AND_ALL and secondary_score == len(secondary):
            return primary_score + secondary_score
        return primary_score

    # -- probability and budget --------------------------------------------------------------------

    def _admit(self, new: list[int]) -> bool:
        """Probability, then the budget; True once the budget overflowed."""
        tokens = 0
        overflowed = False
        ignoring = sum(1 for p in new if self.entries[p].ignore_budget)
        for at, p in enumerate(new):
            entry = self.entries[p]
            ignoring -= entry.ignore_budget
            if overflowed and not entry.ignore_budget:
                self.left_out.append(entry)
                if ignoring > 0:
                    continue
                self.left_out.extend(self.entries[q] for q in new[at + 1 :])
                break
            rolls = entry.use_probability and entry.probability != 100 and entry.key not in self.sticky
            if rolls and not self.rng.random() * 100 <= entry.probability:
                self.failed.add(entry.key)
                continue
            content = self.substitute(entry.content)
            self.contents[entry.key] = content
            cost = self.estimate(f"{content}\n")
            if self.recursion_tokens + tokens + cost >= self.budget and not entry.ignore_budget:
                overflowed = True
                self.left_out.append(entry)
                if ignoring > 0:
                    continue
                self.left_out.extend(self.entries[q] for q in new[at + 1 :])
                break
            tokens += cost
            self.pending.discard(p)
            self.activated[entry.key] = entry
        return overflowed

    # -- building the prompt parts -----------------------------------------------------------------

    def layout(self, result: LoreResult, transform: Callable[[str, int | None], str] | None) -> None:
        """`checkWorldInfo`'s "BUILDING PROMPT": by position, each in ascending insertion order."""
        activated = list(self.activated.values())
        result.activated = activated
        unique = {e.key: e for e in self.left_out}
        result.left_out = [e for key, e in unique.items() if key not in self.activated]
        ordered = sorted(activated, key=lambda e: -e.order)  # sortFn, stable; then unshift = reversed
        depth_groups: dict[tuple[int, Role], list[str]] = {}
        for entry in ordered:
            content = self.contents.get(entry.key, entry.content)
            regex_depth = entry.depth if entry.position == Position.AT_DEPTH else None
            if transform is not None:
                content = transform(content, regex_depth)
            if not content:
                continue
            position = entry.position
            if position == Position.BEFORE:
                result.before.insert(0, content)
            elif position == Position.AFTER:
                result.after.insert(0, content)
            elif position == Position.AN_TOP:
                result.an_top.insert(0, content)
            elif position == Position.AN_BOTTOM:
                result.an_bottom.insert(0, content)
            elif position in (Position.EM_TOP, Position.EM_BOTTOM):
                result.examples.insert(0, (Position(position), content))
            elif position == Position.AT_DEPTH:
                depth_groups.setdefault((entry.depth, entry.role), []).insert(0, content)
        result.depth = [DepthGroup(depth, role, contents) for (depth, role), contents in depth_groups.items()]
