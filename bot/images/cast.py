"""Picturing a group scene: every present character's appearance, each with its own stable seed.

Pure: the chat service resolves the cast (appearance, and the seed a character's owner locked,
if any) and hands the result to the image service as a scene job (`appearance` and `seed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.images.compose import cast_appearance
from bot.images.seeds import character_seed, scene_seed, valid_seed


@dataclass(frozen=True, slots=True)
class CastLook:
    """One member as a picture needs it: its reference, its look, and a locked seed if it has one."""

    ref: str
    appearance: str
    locked_seed: int | None = None


@dataclass(frozen=True, slots=True)
class CastPicture:
    """What a scene picture adds to the model's scene description."""

    appearance: str  # for `compose_prompt(appearance=…)` (the image job's `appearance`)
    seed: int  # the picture's seed, derived from every member's
    seeds: dict[str, int]  # each member's own seed, as its /selfie uses


def member_seed(look: CastLook) -> int:
    """A member's seed: the one its owner locked, else the stable hash of its reference."""
    if look.locked_seed is not None and valid_seed(look.locked_seed):
        return look.locked_seed
    return character_seed(look.ref)


def picture_cast(members: Sequence[CastLook]) -> CastPicture:
    """The appearance clause and seed for a picture of `members` (cast order)."""
    if not members:
        raise ValueError("A scene picture needs at least one character.")
    seeds = {m.ref: member_seed(m) for m in members}
    return CastPicture(
        appearance=cast_appearance([m.appearance for m in members]),
        seed=scene_seed(list(seeds.values())),
        seeds=seeds,
    )
