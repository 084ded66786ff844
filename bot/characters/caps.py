"""How much one person may store: characters, their bytes, and how often cards may be imported.

Every path that creates a character (`/character create`, `/character import`, anything later)
goes through `CharacterService.create`, which asks `room_for`; edits ask it too, for the bytes.
A card can be 8 MiB and an avatar 8 MiB more, so the count alone would let one person store
gigabytes: the total of their cards, lorebooks (inside the cards) and avatars is capped as well.
Imports also have a cooldown: reading and screening a card is the most expensive thing a user
can ask for, and a failed import costs as much as a good one, so attempts are what count.
"""

from __future__ import annotations

import json
from datetime import datetime

from bot.characters.model import Character
from bot.errors import LimitReached
from bot.store.characters import Storage, card_of

MAX_CHARACTERS = 200
MAX_STORED_BYTES = 64 * 2**20
IMPORT_COOLDOWN = 30.0  # seconds between two card imports by one person

__all__ = ["IMPORT_COOLDOWN", "MAX_CHARACTERS", "MAX_STORED_BYTES", "Storage", "import_wait", "room_for",
           "stored_size"]


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def stored_size(character: Character, avatar_png: bytes | None) -> int:
    """Bytes a character takes in the store: its card as stored JSON, plus its avatar."""
    return len(json.dumps(card_of(character))) + len(avatar_png or b"")


def room_for(storage: Storage, *, adding: int = 0, replacing: int = 0, new: bool = True) -> None:
    """Raise LimitReached unless a character of `adding` bytes fits (in place of one of
    `replacing` bytes, when editing; `new=False` then, as the count does not change).

    A change that does not grow is always allowed, so someone over the limit can still shrink.
    """
    if new and storage.characters >= MAX_CHARACTERS:
        raise LimitReached(f"You have {MAX_CHARACTERS} characters already, the most one person can keep. "
                           "Delete one with `/character delete` before making another.")
    after = storage.bytes - replacing + adding
    if adding > replacing and after > MAX_STORED_BYTES:
        raise LimitReached(
            f"That would bring your characters to {_mib(after)}, over the {_mib(MAX_STORED_BYTES)} one person "
            f"can store (cards, lorebooks and avatars; yours take {_mib(storage.bytes)} now). Delete a "
            "character you no longer use, or use a smaller card or picture.")


def import_wait(last: datetime | None, now: datetime, *, cooldown: float = IMPORT_COOLDOWN) -> float:
    """Seconds until the next card import is allowed after one at `last` (0: now)."""
    if last is None:
        return 0.0
    return max(0.0, cooldown - (now - last).total_seconds())
