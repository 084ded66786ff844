"""Inclusion groups: of the entries of one group that fire together, one wins.

A port of `filterByInclusionGroups`, `filterGroupsByTimedEffects` and `filterGroupsByScoring` in
SillyTavern's world-info.js. An entry may belong to several groups (`group` is a comma-separated
list). In each group: sticky entries win outright; entries on cooldown or delay drop out; with
group scoring, only the entries with the most matching keys stay; a group that already has an
activated entry (same `group` text) lets no other in; otherwise a `group_override` entry with the
highest order wins, else a weighted roll by `group_weight`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence

from bot.characters.lore_settings import EntrySettings

_GROUP_SPLIT = re.compile(r",\s*")  # item.group.split(/,\s*/)


def filter_by_inclusion_groups(
    new: list[int],
    entries: Sequence[EntrySettings],
    *,
    sticky: set[str],
    off: set[str],
    activated_groups: set[str],
    use_group_scoring: bool,
    rng: random.Random,
    score: Callable[[EntrySettings], int],
) -> set[int]:
    """Remove the group losers from `new` (positions into `entries`), in place; returns them."""
    groups: dict[str, list[int]] = {}
    for p in new:
        for name in _GROUP_SPLIT.split(entries[p].group):
            if name:
                groups.setdefault(name, []).append(p)
    removed: set[int] = set()
    if not groups:
        return removed

    def remove(p: int) -> None:
        if p in new:
            new.remove(p)
            removed.add(p)

    sticky_groups = _by_timed_effects(groups, entries, sticky, off, remove)
    _by_scoring(groups, entries, sticky_groups, use_group_scoring, score, remove)
    for name, members in groups.items():
        if name in sticky_groups:
            continue
        if name in activated_groups:
            for p in members:
                remove(p)
            continue
        if len(members) <= 1:
            continue
        winner = _winner(members, entries, rng)
        if winner is None:
            continue
        for p in members:
            if p != winner:
                remove(p)
    return removed


def _winner(members: list[int], entries: Sequence[EntrySettings], rng: random.Random) -> int | None:
    overrides = sorted((p for p in members if entries[p].group_override), key=lambda p: -entries[p].order)
    if overrides:
        return overrides[0]
    total = sum(entries[p].group_weight for p in members)
    roll = rng.random() * total
    running = 0.0
    for p in members:
        running += entries[p].group_weight
        if roll <= running:
            return p
    return None


def _by_timed_effects(groups: dict[str, list[int]], entries: Sequence[EntrySettings], sticky: set[str],
                      off: set[str], remove: Callable[[int], None]) -> set[str]:
    sticky_groups = set()
    for name, members in groups.items():
        stuck = [p for p in members if entries[p].key in sticky]
        if stuck:
            for p in members:
                if p not in stuck:
                    remove(p)
            sticky_groups.add(name)
        for p in members:
            if entries[p].key in off:
                remove(p)
    return sticky_groups


def _by_scoring(groups: dict[str, list[int]], entries: Sequence[EntrySettings], sticky_groups: set[str],
                use_group_scoring: bool, score: Callable[[EntrySettings], int],
                remove: Callable[[int], None]) -> None:
    for name, members in groups.items():
        if not use_group_scoring and not any(entries[p].use_group_scoring for p in members):
            continue
        if name in sticky_groups:
            continue
        scores = {p: score(entries[p]) for p in members}
        best = max(scores.values())
        for p in list(members):
            on = entries[p].use_group_scoring
            if (on if on is not None else use_group_scoring) and scores[p] < best:
                remove(p)
                members.remove(p)
