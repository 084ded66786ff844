"""Image seeds: Venice's range, random seeds, parsing user input, and where a seed comes from.

Venice accepts seeds from −999,999,999 to 999,999,999. Leaving the seed out gets a random one on
Venice's side, but then we could not show it or offer "same seed" buttons, so the bot always sends
a seed it chose itself. Seed 0 is taken literally by Venice (it is not "random"), so random seeds
are drawn from 1..SEED_MAX; a user may still type 0 on purpose.
"""

from __future__ import annotations

import hashlib
import random
import re
import secrets
from collections.abc import Sequence

SEED_MIN = -999_999_999
SEED_MAX = 999_999_999

# Where `choose_seed` found the seed; shown to the user next to the image.
SOURCE_GIVEN = "given"
SOURCE_LOCK = "channel lock"
SOURCE_RANDOM = "random"

_RANGE_TEXT = f"between {SEED_MIN:,} and {SEED_MAX:,}"
# People paste seeds as "1,234,567", "1 234 567" or "1_234_567"; the separators carry no meaning.
_SEPARATORS = re.compile(r"[\s,_']")
_INTEGER = re.compile(r"[+-]?\d+")

# A fixed salt keeps character seeds stable across releases and distinct from any other
# hash of the same key the bot might take.
_CHARACTER_SALT = b"lustify.bot/character-seed/v1\x00"
_SCENE_SALT = b"lustify.bot/scene-seed/v1\x00"


def valid_seed(n: object) -> bool:
    """True when `n` is an int Venice accepts as a seed (bools are not seeds)."""
    return isinstance(n, int) and not isinstance(n, bool) and SEED_MIN <= n <= SEED_MAX


def random_seed(rng: random.Random | None = None) -> int:
    """A fresh seed in 1..SEED_MAX; never 0, because Venice treats 0 as a fixed seed.

    `rng` makes tests repeatable; by default the OS's randomness is used so seeds cannot be
    predicted from earlier ones.
    """
    if rng is None:
        return secrets.randbelow(SEED_MAX) + 1
    return rng.randint(1, SEED_MAX)


def parse_seed(text: str) -> int:
    """Read a seed typed by a user, or raise ValueError with a message fit to show them."""
    cleaned = _SEPARATORS.sub("", text or "")
    if not cleaned:
        raise ValueError(f"Please give a seed: a whole number {_RANGE_TEXT}.")
    if not _INTEGER.fullmatch(cleaned):
        raise ValueError(f"“{_preview(text)}” is not a seed. A seed is a whole number {_RANGE_TEXT}.")
    # The digit count is checked before int() so a 100,000-digit paste cannot cost real CPU.
    if len(cleaned.lstrip("+-").lstrip("0")) > len(str(SEED_MAX)):
        raise ValueError(f"That seed is out of range. Seeds are {_RANGE_TEXT}.")
    value = int(cleaned)
    if not valid_seed(value):
        raise ValueError(f"That seed is out of range. Seeds are {_RANGE_TEXT}.")
    return value


def choose_seed(explicit: int | None, locked: int | None, rng: random.Random | None = None) -> tuple[int, str]:
    """Pick the seed for one request and say where it came from.

    A seed the user typed wins over the channel's locked seed, which wins over a random one.
    An out-of-range explicit seed is a ValueError (the user's mistake, worth telling them);
    an out-of-range locked seed is ignored, since it can only come from stale stored data and
    the user should still get an image.
    """
    if explicit is not None:
        if not valid_seed(explicit):
            raise ValueError(f"That seed is out of range. Seeds are {_RANGE_TEXT}.")
        return explicit, SOURCE_GIVEN
    if locked is not None and valid_seed(locked):
        return locked, SOURCE_LOCK
    return random_seed(rng), SOURCE_RANDOM


def character_seed(character_key: str) -> int:
    """A stable seed for one character, so it looks the same every time before anyone locks one.

    `character_key` should name the character's identity, not its display name: for example
    "custom:42" or "venice:<slug>", so two characters both called "Luna" do not share a face.
    The result is in 1..SEED_MAX and identical across processes and releases (hashlib, not
    Python's per-process `hash`).
    """
    key = (character_key or "").strip()
    if not key:
        raise ValueError("A character key is needed to derive its seed.")
    digest = hashlib.sha256(_CHARACTER_SALT + key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % SEED_MAX + 1


def scene_seed(seeds: Sequence[int]) -> int:
    """One seed for a picture of several characters, from each one's own seed.

    An image has a single seed, so a scene's seed is derived from its members' seeds: the same
    cast gives the same seed (in any order), a different cast a different one, and a scene of one
    is drawn with that character's own seed, exactly as its /selfie is.
    """
    if not seeds:
        raise ValueError("A scene needs at least one character's seed.")
    if len(set(seeds)) == 1:
        return seeds[0]
    key = ",".join(str(s) for s in sorted(set(seeds))).encode("ascii")
    digest = hashlib.sha256(_SCENE_SALT + key).digest()
    return int.from_bytes(digest[:8], "big") % SEED_MAX + 1


def _preview(text: str, limit: int = 20) -> str:
    """A short, single-line echo of what the user typed, for error messages."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
