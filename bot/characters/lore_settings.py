"""What each lorebook entry asks for, read the way SillyTavern reads a card's `character_book`.

`LoreEntry` keeps the card's entry as written (spec fields plus `extensions`, so export is
exact); `entry_settings` turns it into typed settings following `convertCharacterBook` in
SillyTavern's `world-info.js`: most settings live in `extensions` (`position`, `depth`, `role`,
`selectiveLogic`, `exclude_recursion`, `probability`, `group`, `sticky`, …), missing ones take
SillyTavern's defaults, and `use_regex` is ignored (SillyTavern's exporter writes `true` on every
entry; a key is a regex only when written `/pattern/flags`). `LoreSettings` holds the global
world-info settings with SillyTavern's shipped defaults (`default/content/settings.json`).

Deliberate difference: the V2 spec's own `case_sensitive` is honoured when the SillyTavern
extension does not say (SillyTavern ignores it; its exporter never writes it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from bot.characters.model import Lorebook, LoreEntry

DEFAULT_DEPTH = 4  # world-info.js DEFAULT_DEPTH: at-depth entries without a depth
DEFAULT_WEIGHT = 100  # DEFAULT_WEIGHT: inclusion group weight
MAX_SCAN_DEPTH = 1000  # MAX_SCAN_DEPTH
MAX_INJECTION_DEPTH = 1000
KNOWN_DECORATORS = ("@@activate", "@@dont_activate")


class Position(IntEnum):
    """`world_info_position`."""

    BEFORE = 0
    AFTER = 1
    AN_TOP = 2
    AN_BOTTOM = 3
    AT_DEPTH = 4
    EM_TOP = 5
    EM_BOTTOM = 6
    OUTLET = 7  # kept aside, placed where `{{outlet::name}}` is written


class Role(IntEnum):
    """`extension_prompt_roles`."""

    SYSTEM = 0
    USER = 1
    ASSISTANT = 2


class Strategy(IntEnum):
    """`world_info_insertion_strategy`: how character and global lore are ordered (`getSortedEntries`)."""

    EVENLY = 0
    CHARACTER_FIRST = 1
    GLOBAL_FIRST = 2


STRATEGY_NAMES = {"evenly": Strategy.EVENLY, "character_first": Strategy.CHARACTER_FIRST,
                  "global_first": Strategy.GLOBAL_FIRST}


def strategy_of(value: object) -> Strategy:
    """The `lore_strategy` setting as SillyTavern's strategy (character first when unknown)."""
    return STRATEGY_NAMES.get(str(value).strip().lower(), Strategy.CHARACTER_FIRST)


class Logic(IntEnum):
    """`world_info_logic` for secondary keys."""

    AND_ANY = 0
    NOT_ALL = 1
    NOT_ANY = 2
    AND_ALL = 3


@dataclass(frozen=True, slots=True)
class LoreSettings:
    """Global world-info settings; the defaults are SillyTavern's shipped ones.

    `max_recursion_steps` bounds the scan loop (SillyTavern's 0 means "until nothing new"; here it
    is always bounded, and `MAX_RECURSION_STEPS` caps it).
    """

    scan_depth: int = 2
    budget_percent: float = 25.0
    budget_cap: int = 0
    include_names: bool = True
    recursive: bool = True
    case_sensitive: bool = False
    match_whole_words: bool = True
    use_group_scoring: bool = False
    max_recursion_steps: int = 0
    # This turn, not global settings (compiling never reads them, so they are not in the cache key):
    # the kinds of generation (`globalScanData.trigger`; the 🔄 button is both a regenerate and a
    # swipe), and the speaking character's name and tags for entries' `characterFilter`.
    generation: tuple[str, ...] = ("normal",)
    character_name: str = ""
    character_tags: tuple[str, ...] = ()
    # `world_info_min_activations` and `world_info_min_activations_depth_max` (0: off / no limit).
    min_activations: int = 0
    min_activations_depth_max: int = 0


@dataclass(frozen=True, slots=True)
class EntrySettings:
    """One entry as the scanner sees it (`WIScanEntry`)."""

    index: int
    uid: str
    key: str  # `${world}.${uid}`: the timed-effect key
    hash: str
    keys: tuple[str, ...]
    secondary: tuple[str, ...]
    content: str
    decorators: tuple[str, ...]
    disabled: bool
    constant: bool
    selective: bool
    logic: Logic
    order: int
    position: int
    depth: int
    role: Role
    exclude_recursion: bool
    prevent_recursion: bool
    delay_until_recursion: int
    probability: float
    use_probability: bool
    group: str
    group_override: bool
    group_weight: float
    use_group_scoring: bool | None
    scan_depth: int | None
    case_sensitive: bool | None
    match_whole_words: bool | None
    sticky: int
    cooldown: int
    delay: int
    ignore_budget: bool
    match_persona: bool
    match_description: bool
    match_personality: bool
    match_depth_prompt: bool
    match_scenario: bool
    match_creator_notes: bool
    name: str
    triggers: tuple[str, ...] = ()  # generation kinds the entry fires for (none: all)
    filter_names: tuple[str, ...] = ()  # characterFilter.names
    filter_tags: tuple[str, ...] = ()  # characterFilter.tags
    filter_exclude: bool = False  # characterFilter.isExclude
    outlet: str = ""  # outletName (position 7)
    book: int = 0  # which of the scanned books (in `select_lore`'s order) the entry comes from


def book_entries(book: Lorebook, number: int = 0, world: str | None = None) -> list[EntrySettings]:
    """Every entry of a book as scanner settings, in the book's order; `number` is the book's place
    among the books scanned together, `world` its name there (timed effects are keyed by it)."""
    world = world or book.name or "card"
    return [entry_settings(entry, index, world, number) for index, entry in enumerate(book.entries)]


def entry_settings(entry: LoreEntry, index: int, world: str = "card", book: int = 0) -> EntrySettings:
    """Typed settings for one entry (`convertCharacterBook`), defaults as SillyTavern's."""
    ext = entry.extensions if isinstance(entry.extensions, dict) else {}
    uid = str(entry.id if entry.id is not None else index)
    decorators, content = parse_decorators(entry.content)
    position = ext.get("position")
    if not _is_int(position):
        position = Position.BEFORE if entry.position == "before_char" else Position.AFTER
    case = ext.get("case_sensitive")
    filt = _first_dict(ext.get("characterFilter"), entry.extra.get("characterFilter"))
    outlet = ext.get("outlet_name", entry.extra.get("outletName"))
    return EntrySettings(
        index=index,
        uid=uid,
        key=f"{world}.{uid}",
        hash=_hash(entry),
        keys=tuple(entry.keys),
        secondary=tuple(entry.secondary_keys),
        content=content,
        decorators=tuple(decorators),
        disabled=not entry.enabled,
        constant=entry.constant,
        selective=entry.selective,
        logic=_logic(ext.get("selectiveLogic")),
        order=entry.insertion_order,
        position=int(position),
        depth=_bounded(ext.get("depth"), DEFAULT_DEPTH, MAX_INJECTION_DEPTH),
        role=_role(ext.get("role")),
        exclude_recursion=ext.get("exclude_recursion") is True,
        prevent_recursion=ext.get("prevent_recursion") is True,
        delay_until_recursion=_delay_level(ext.get("delay_until_recursion")),
        probability=_number(ext.get("probability"), 100.0),
        use_probability=True if ext.get("useProbability") is None else bool(ext.get("useProbability")),
        group=ext.get("group") if isinstance(ext.get("group"), str) else "",
        group_override=ext.get("group_override") is True,
        group_weight=_number(ext.get("group_weight"), float(DEFAULT_WEIGHT)),
        use_group_scoring=_bool_or_none(ext.get("use_group_scoring")),
        scan_depth=_int_or_none(ext.get("scan_depth")),
        case_sensitive=case if isinstance(case, bool) else (True if entry.case_sensitive else None),
        match_whole_words=_bool_or_none(ext.get("match_whole_words")),
        sticky=_bounded(ext.get("sticky"), 0, 1_000_000),
        cooldown=_bounded(ext.get("cooldown"), 0, 1_000_000),
        delay=_bounded(ext.get("delay"), 0, 1_000_000),
        ignore_budget=ext.get("ignore_budget") is True,
        match_persona=ext.get("match_persona_description") is True,
        match_description=ext.get("match_character_description") is True,
        match_personality=ext.get("match_character_personality") is True,
        match_depth_prompt=ext.get("match_character_depth_prompt") is True,
        match_scenario=ext.get("match_scenario") is True,
        match_creator_notes=ext.get("match_creator_notes") is True,
        name=entry.comment or entry.name or (entry.keys[0] if entry.keys else f"entry {uid}"),
        triggers=_strings(ext.get("triggers", entry.extra.get("triggers"))),
        filter_names=_strings(filt.get("names")),
        filter_tags=_strings(filt.get("tags")),
        filter_exclude=filt.get("isExclude") is True,
        outlet=outlet.strip() if isinstance(outlet, str) else "",
        book=book,
    )


def _first_dict(*values: Any) -> dict[str, Any]:
    return next((v for v in values if isinstance(v, dict)), {})


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str) and v) if isinstance(value, list) else ()


def generation_allows(entry: EntrySettings, generation: tuple[str, ...]) -> bool:
    """`checkWorldInfo`'s `getEligibleScanEntry`: an entry with `triggers` fires only for those
    kinds of generation (normal, continue, impersonate, swipe, regenerate, quiet)."""
    return not entry.triggers or any(kind in entry.triggers for kind in generation)


def character_allows(entry: EntrySettings, name: str, tags: tuple[str, ...]) -> bool:
    """`getEligibleScanEntry`'s `characterFilter`: with names, the speaking character must be one
    of them (or, `isExclude`, none of them); likewise with tags, any of the character's tags.
    SillyTavern names a character by its card's file name; here by its name (case-insensitive),
    and tags by name too."""
    if entry.filter_names:
        included = bool(name) and name.casefold() in {n.casefold() for n in entry.filter_names}
        if included == entry.filter_exclude:
            return False
    if entry.filter_tags:
        wanted = {t.casefold() for t in entry.filter_tags}
        included = any(t.casefold() in wanted for t in tags)
        if included == entry.filter_exclude:
            return False
    return True


def parse_decorators(content: str) -> tuple[list[str], str]:
    """`parseDecorators`: leading `@@` lines, the known ones kept, cut from the content.

    An unknown decorator lets the `@@@` fallback lines after it be tried; the content starts at
    the first line not starting with `@@`.
    """
    if not content.startswith("@@"):
        return [], content
    decorators: list[str] = []
    fallback = False
    lines = content.split("\n")
    for i, line in enumerate(lines):
        if not line.startswith("@@"):
            return decorators, "\n".join(lines[i:])
        if line.startswith("@@@") and not fallback:
            continue
        candidate = line[1:] if line.startswith("@@@") else line
        if candidate.startswith(KNOWN_DECORATORS):
            decorators.append(candidate)
            fallback = False
        else:
            fallback = True
    return decorators, content  # every line was a decorator: SillyTavern keeps the content as is


def _hash(entry: LoreEntry) -> str:
    text = "\0".join([*entry.keys, "\x01", *entry.secondary_keys, "\x01", entry.content, str(entry.id)])
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def _is_int(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())


def _int_or_none(value: Any) -> int | None:
    if _is_int(value):
        return max(0, min(int(value), MAX_SCAN_DEPTH))
    if isinstance(value, str) and value.strip().isdigit():
        return min(int(value.strip()), MAX_SCAN_DEPTH)
    return None


def _bounded(value: Any, default: int, top: int) -> int:
    number = _int_or_none(value) if not _is_int(value) else int(value)
    if number is None:
        return default
    return max(0, min(number, top))


def _number(value: Any, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value)


def _bool_or_none(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _logic(value: Any) -> Logic:
    return Logic(int(value)) if _is_int(value) and 0 <= int(value) <= 3 else Logic.AND_ANY


def _role(value: Any) -> Role:
    if _is_int(value) and 0 <= int(value) <= 2:
        return Role(int(value))
    if isinstance(value, str) and value.lower() in ("system", "user", "assistant"):
        return Role[value.upper()]
    return Role.SYSTEM


def _delay_level(value: Any) -> int:
    if value is True:
        return 1
    if _is_int(value) and int(value) > 0:
        return min(int(value), 1000)
    return 0
