"""Where activated lorebook entries go: `checkWorldInfo`'s "BUILDING PROMPT" step in world-info.js.

Entries are sorted by `insertion_order`, highest first, and each is put at the front of its
position's list (`unshift`), so every list ends up in ascending order, ties in reverse activation
order. Each content first goes through the card's world-info regex scripts (`transform`, with the
entry's depth for at-depth entries); an entry whose content ends up empty is not placed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from bot.characters.lore_settings import EntrySettings, Position, Role


class DepthGroup(NamedTuple):
    """Entries inserted at one depth with one role, joined by newlines (`WIDepthEntries`)."""

    depth: int
    role: Role
    contents: list[str]


@dataclass(slots=True)
class Placed:
    """Activated entries' texts by position, each list in prompt order."""

    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    an_top: list[str] = field(default_factory=list)
    an_bottom: list[str] = field(default_factory=list)
    examples: list[tuple[Position, str]] = field(default_factory=list)  # EM_TOP / EM_BOTTOM
    depth: list[DepthGroup] = field(default_factory=list)
    outlets: dict[str, list[str]] = field(default_factory=dict)  # outlet name -> texts (position 7)


def place(activated: Sequence[EntrySettings], contents: dict[str, str],
          transform: Callable[[str, int | None], str] | None) -> Placed:
    """Lay out `activated` (in activation order); `contents` holds their macro-expanded texts."""
    placed = Placed()
    depth_groups: dict[tuple[int, Role], list[str]] = {}
    lists = {Position.BEFORE: placed.before, Position.AFTER: placed.after,
             Position.AN_TOP: placed.an_top, Position.AN_BOTTOM: placed.an_bottom}
    for entry in sorted(activated, key=lambda e: -e.order):  # sortFn, stable
        content = contents.get(entry.key, entry.content)
        regex_depth = entry.depth if entry.position == Position.AT_DEPTH else None
        if transform is not None:
            content = transform(content, regex_depth)
        if not content:
            continue
        position = entry.position
        if position in lists:
            lists[Position(position)].insert(0, content)
        elif position in (Position.EM_TOP, Position.EM_BOTTOM):
            placed.examples.insert(0, (Position(position), content))
        elif position == Position.AT_DEPTH:
            depth_groups.setdefault((entry.depth, entry.role), []).insert(0, content)
        elif position == Position.OUTLET and entry.outlet:  # outletEntries[outletName].unshift(content)
            placed.outlets.setdefault(entry.outlet, []).insert(0, content)
    placed.depth = [DepthGroup(depth, role, texts) for (depth, role), texts in depth_groups.items()]
    return placed
