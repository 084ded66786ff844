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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.characters.lore_groups import filter_by_inclusion_groups
from bot.characters.lore_layout import DepthGroup, place
from bot.characters.lore_match import (
    JOINER,
    MATCHER,
    CompiledBook,
    KeyRef,
    LoreCompiler,
    ScanWork,
    Tiers,
    compile_books,
    regex_search,
)
from bot.characters.lore_settings import (
    MAX_SCAN_DEPTH,
    EntrySettings,
    Logic,
    LoreSettings,
    Position,
    character_allows,
    generation_allows,
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


@dataclass(slots=True)
class LoreResult:
    """What fired and where it goes. Lists are in prompt order."""

    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    an_top: list[str] = field(default_factory=list)
    an_bottom: list[str] = field(default_factory=list)
    examples: list[tuple[Position, str]] = field(default_factory=list)  # EM_TOP / EM_BOTTOM
    depth: list[DepthGroup] = field(default_factory=list)
    outlets: dict[str, str] = field(default_factory=dict)  # `{{outlet::name}}` -> the entries placed there
    activated: list[EntrySettings] = field(default_factory=list)  # activation order
    left_out: list[EntrySettings] = field(default_factory=list)  # over the budget
    state: LoreState = field(default_factory=LoreState)
    cut_short: set[str] = field(default_factory=set)  # "keys" / "regex" / "text" when a work bound hit
    reasons: dict[str, str] = field(default_factory=dict)  # entry key -> why it fired, in words
    books: list[Lorebook] = field(default_factory=list)  # the books scanned, as `EntrySettings.book` counts

    @property
    def names(self) -> list[str]:
        return [entry.name for entry in self.activated]

    def why(self) -> list[dict[str, str]]:
        """Each activated entry: its name, its book's name and why it fired (for `/character lore`)."""
        out = []
        for entry in self.activated:
            book = self.books[entry.book].name if entry.book < len(self.books) else ""
            out.append({"name": entry.name, "book": book, "why": self.reasons.get(entry.key, "")})
        return out


def select_lore(
    book: Lorebook | Tiers | None,
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
    compiler: LoreCompiler | None = None,
) -> LoreResult:
    """Run SillyTavern's world-info scan for one turn; returns the layout and the updated state.

    `state.chat_length` must already count this turn's messages (`lore_state.advance`).
    `substitute` expands macros in keys and in activated content (SillyTavern's
    `substituteParams`); `transform(content, depth)` applies the card's world-info regex scripts;
    `names` (character, user) only keys the compiled index cache when keys hold macros.

    `book` is one book, or several in SillyTavern's tiers (chat lore, character lore, global
    lore: `lore_match.Tiers`) sharing one budget. `compiler` keeps compiled books between turns
    (without one, the books are compiled afresh).
    """
    settings = settings or LoreSettings()
    new_state = state.copy()
    result = LoreResult(state=new_state)
    tiers: Tiers = [[book]] if isinstance(book, Lorebook) else (book or [])
    result.books = [b for tier in tiers for b in tier]
    if not any(b.entries for b in result.books) or budget_tokens <= 0:
        return result
    if compiler is not None:
        compiled = compiler.get(tiers, settings, substitute, names)
    else:
        compiled = compile_books(tiers, settings, substitute)
    scan = _Scan(compiled, text, settings, new_state, rng or random.Random(), estimate, substitute, budget_tokens)
    scan.run()
    scan.layout(result, transform)
    result.cut_short = set(scan.work.exhausted)
    result.reasons = {key: scan.reasons.get(key, "") for key in scan.activated}
    return result


# --- the scan ------------------------------------------------------------------------------------


class _Scan:
    """One run of `checkWorldInfo`; holds the buffer, the timed effects and what activated."""

    def __init__(self, book: CompiledBook, text: ScanText, settings: LoreSettings, state: LoreState,
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
        self.reasons: dict[str, str] = {}  # why each entry matched, in words
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
        self.skew = 0
        self.history_length = len(messages)
        if self.settings.min_activations > 0:
            most = self.settings.min_activations_depth_max
            depth_needed = max(depth_needed, most + self.book.deepest + 1 if most > 0 else len(messages))
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
        base = entry.scan_depth if entry.scan_depth is not None else self.settings.scan_depth
        return base + self.skew  # WorldInfoBuffer's skew: min-activations passes read deeper

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
        """The scan loop of `checkWorldInfo`: a first pass, recursion passes while new entries add
        text, the recursion-delay levels, and, with `min_activations`, further passes one message
        deeper each (`buffer.advanceScan`, scan state MIN_ACTIVATIONS: the recursion text is not
        read in them) until that many entries fired or the depth passes `min_activations_depth_max`
        or the history."""
        self._check_timed_effects()
        levels = sorted({e.delay_until_recursion for e in self.entries if e.delay_until_recursion})
        level = levels.pop(0) if levels else 0
        recursion = False
        steps = MAX_RECURSION_STEPS
        if self.settings.max_recursion_steps:
            steps = min(steps, self.settings.max_recursion_steps)
        candidates: Sequence[int] = self._first_candidates()
        overflowed = False
        min_pass = False
        while steps > 0:
            if not min_pass:
                steps -= 1
            now = []
            for p in candidates:
                why = self._activates(self.entries[p], recursion, level)
                if why:
                    now.append(p)
                    self.reasons.setdefault(self.entries[p].key, why)
            new = sorted(now, key=lambda p: (self.entries[p].key not in self.sticky, p))
            self._filter_groups(new)
            overflowed = self._admit(new) or overflowed
            successful = [p for p in new if self.entries[p].key not in self.failed]
            for_recursion = [p for p in successful if not self.entries[p].prevent_recursion]
            go_on = self.settings.recursive and not overflowed and bool(for_recursion)
            if self.settings.recursive and not overflowed and min_pass and self.recursion:
                go_on = True  # a MIN_ACTIVATIONS pass is always followed by a recursive one
            min_pass = False
            if not go_on and not overflowed and self._deeper():
                go_on = min_pass = True
            if not go_on and levels:
                level = levels.pop(0)
                go_on = True
            if not go_on:
                break
            recursion = not min_pass  # scan state RECURSION, or MIN_ACTIVATIONS
            joined = "\n".join(self.contents.get(self.entries[p].key, self.entries[p].content) for p in for_recursion)
            found: set[int] = set()
            if joined:
                found = self._add_recursion(joined)
                self.recursion_tokens += self.estimate(joined)
            candidates = self._first_candidates() if min_pass else self._next_candidates(found)
        self._set_timed_effects()

    def _deeper(self) -> bool:
        """The min-activations check: one message deeper when too few entries fired and the
        depth is not past `min_activations_depth_max` nor the history."""
        wanted = self.settings.min_activations
        if wanted <= 0 or len(self.activated) >= wanted:
            return False
        depth = self.settings.scan_depth + self.skew
        most = self.settings.min_activations_depth_max
        if (most > 0 and depth > most) or depth > self.history_length:
            return False
        self.skew += 1
        return True

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

    def _activates(self, entry: EntrySettings, recursion: bool, level: int) -> str:
        """One entry of the scan loop in `checkWorldInfo`, in SillyTavern's order of checks: why it
        fires, in words, or "" when it does not."""
        if entry.key in self.failed or entry.key in self.activated or entry.disabled:
            return ""
        if not generation_allows(entry, self.settings.generation):
            return ""
        if not character_allows(entry, self.settings.character_name, self.settings.character_tags):
            return ""
        sticky = entry.key in self.sticky
        if entry.key in self.delayed or (entry.key in self.cooldown and not sticky):
            return ""
        if entry.delay_until_recursion and not sticky and (not recursion or entry.delay_until_recursion > level):
            return ""
        if recursion and self.settings.recursive and entry.exclude_recursion and not sticky:
            return ""
        if "@@activate" in entry.decorators:
            return "@@activate"
        if "@@dont_activate" in entry.decorators:
            return ""
        if sticky:
            return "sticky (still on from an earlier turn)"
        if entry.constant:
            return "constant (always on)"
        if not entry.keys:
            return ""
        primary, secondary = self.book.index.refs[self.positions[entry.key]]
        depth, seen = self._depth(entry), self.first_seen
        hit = -1
        if depth > 0:
            hit = next((i for i, r in enumerate(primary)
                        if r.literal is not None and seen.get(r.literal, MAX_SCAN_DEPTH) < depth), -1)
        later = recursion and hit < 0
        if hit < 0:
            hit = next((i for i, ref in enumerate(primary) if self._matches(ref, entry, recursion)), -1)
        if hit < 0:
            return ""
        why = f"key “{entry.keys[hit]}”" + (" (found in the messages or in other entries' text)" if later else "")
        if not (entry.selective and entry.secondary):
            return why
        if not self._secondary(entry, secondary, recursion):
            return ""
        return f"{why}, secondary keys {entry.logic.name.replace('_', ' ')}"

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
        removed = filter_by_inclusion_groups(
            new, self.entries, sticky=self.sticky, off=self.cooldown | self.delayed,
            activated_groups={e.group for e in self.activated.values()},
            use_group_scoring=self.settings.use_group_scoring, rng=self.rng, score=self._score,
        )
        self.pending.update(p for p in removed if self.entries[p].key not in self.failed)

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
        activated = list(self.activated.values())
        result.activated = activated
        unique = {e.key: e for e in self.left_out}
        result.left_out = [e for key, e in unique.items() if key not in self.activated]
        placed = place(activated, self.contents, transform)
        result.before, result.after = placed.before, placed.after
        result.an_top, result.an_bottom = placed.an_top, placed.an_bottom
        result.examples, result.depth = placed.examples, placed.depth
        result.outlets = {name: "\n".join(texts) for name, texts in placed.outlets.items()}
