"""Plain character types shared by the card parser, the prompt builder and the store.

A `Character` is everything the chat engine needs to play someone: the SillyTavern card fields,
the lorebook, what the character looks like for images, and where it came from. Discord and the
database never appear here, so prompt assembly and card import are tested without either.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(slots=True)
class LoreEntry:
    """One lorebook (character_book) entry, as the V2/V3 card specs define it."""

    keys: list[str]
    content: str
    enabled: bool = True
    insertion_order: int = 100
    case_sensitive: bool = False
    selective: bool = False
    secondary_keys: list[str] = field(default_factory=list)
    constant: bool = False
    priority: int = 10
    position: str = "before_char"  # "before_char" | "after_char"; extensions["position"] says more
    name: str = ""
    comment: str = ""
    id: int | str | None = None
    use_regex: bool = False  # written by SillyTavern on every entry and ignored by it, so by us too
    extensions: dict[str, Any] = field(default_factory=dict)
    # Fields of a standalone lorebook format that no card field holds, kept for export.
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Lorebook:
    """A character_book or a standalone lorebook: entries plus the book-level settings the spec allows.

    `scan_depth`, `token_budget` and `recursive_scanning` are kept for export but, as in
    SillyTavern, do not steer the scan: the global lore settings do. `extra` holds top-level
    fields of a standalone lorebook file that no field here models.
    """

    entries: list[LoreEntry] = field(default_factory=list)
    name: str = ""
    description: str = ""
    scan_depth: int | None = None
    token_budget: int | None = None
    recursive_scanning: bool = False
    extensions: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    # The scanner's compiled form of this book (see `bot.characters.lorebook`); not part of the card.
    compiled: object = field(default=None, repr=False, compare=False)


@dataclass(slots=True)
class Character:
    """A playable character.

    `source` says where it came from: "builtin", "venice" (a catalogue character, played through
    `venice_slug`), or "custom" (created in Discord or imported from a card). `card_extra` keeps
    every card field this class does not model (V3 `assets`, `nickname`, unknown `extensions`, …)
    so that export writes back exactly what import read.
    """

    name: str
    description: str = ""
    personality: str = ""
    scenario: str = ""
    first_mes: str = ""
    mes_example: str = ""
    system_prompt: str = ""
    post_history_instructions: str = ""
    alternate_greetings: list[str] = field(default_factory=list)
    creator_notes: str = ""
    tags: list[str] = field(default_factory=list)
    creator: str = ""
    character_version: str = ""
    appearance: str = ""
    avatar_url: str | None = None
    lorebook: Lorebook | None = None
    extensions: dict[str, Any] = field(default_factory=dict)
    card_extra: dict[str, Any] = field(default_factory=dict)
    source: str = "custom"
    venice_slug: str | None = None
    id: int | None = None

    def copy(self) -> Character:
        """A copy whose own fields (`id`, `avatar_url`, …) can be set without touching this one.

        Nested values (the lorebook, lists, extensions) are shared, not copied: they are read-only
        once a character is built (a deep copy of a card with a big lorebook took ~100 ms of the
        event loop on every turn, and threw away the lorebook's compiled keys).
        """
        return replace(self)

    @property
    def greetings(self) -> list[str]:
        """The first message and the alternates, in order; the alternates are swipes on it."""
        return [g for g in [self.first_mes, *self.alternate_greetings] if g.strip()]


DEFAULT_CHARACTER = Character(
    name="Scarlett",
    description=(
        "{{char}} is a 29-year-old bartender at a late-night speakeasy: sharp-tongued, warm, "
        "flirtatious, and very good at reading people."
    ),
    personality="playful, confident, teasing, attentive, honest about what she wants",
    scenario="{{user}} walks into the speakeasy just before closing time. {{char}} is polishing glasses.",
    first_mes=(
        "*Scarlett looks up from the glass she's polishing and smiles.* Last call was ten minutes ago, "
        "but I could be persuaded to pour one more. What'll it be, {{user}}?"
    ),
    appearance="29-year-old woman, long auburn hair, green eyes, freckles, black vest over a white shirt",
    source="builtin",
    tags=["bartender", "flirty"],
)
