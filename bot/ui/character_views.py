"""Discord rendering for characters: catalogue pages, info cards, the create/edit form, buttons.

Buttons carry everything they need in their custom id (listing position and query, Venice slug,
character id), and the form carries what it edits, so they keep working after a restart and in
every process. `cogs/characters.py` registers what they do with the component router, which asks
the age gate first (Discord's own gate does not cover components on old messages).
"""

from __future__ import annotations

import copy
import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.characters.catalogue import MAX_INDEX, Page
from bot.characters.model import Character
from bot.ui.names import shown
from bot.ui.router import RoutedModal, view

if TYPE_CHECKING:
    from bot.venice.types import VeniceCharacter

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
SEARCH_LIMIT = 50  # search and tag ride in the paging buttons' custom ids (100 chars at most)
TAG_LIMIT = 30
PERSONALITY_MARK = "\n\nPersonality: "
VENICE_COLOUR = discord.Colour(0xC2185B)


def trim(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# -- embeds -----------------------------------------------------------------------------------------


def venice_embed(character: VeniceCharacter, page: Page | None = None) -> discord.Embed:
    """One catalogue character: photo, trimmed description, tags and rating."""
    embed = discord.Embed(title=shown(character.name, 256), url=character.share_url or None,
                          description=trim(character.description or "*No description.*", 700),
                          colour=VENICE_COLOUR)
    if character.photo_url:
        embed.set_image(url=character.photo_url)
    if character.tags:
        embed.add_field(name="Tags", value=trim(", ".join(character.tags[:15]), 1024), inline=False)
    if character.rating is not None:
        stars = f"★ {character.rating:.1f} ({character.rating_count} rating{'s' * (character.rating_count != 1)})"
        embed.add_field(name="Rating", value=stars, inline=True)
    if character.imports:
        embed.add_field(name="Used", value=f"{character.imports:,} times", inline=True)
    if page is not None:
        more = "+" if page.more else ""
        embed.set_footer(text=f"{page.index + 1} / {page.known}{more} · Venice catalogue")
    return embed


def character_embed(character: Character, *, source: str = "", owner_id: int | None = None,
                    shared: bool | None = None) -> discord.Embed:
    """What `/character info` and confirmations show about a playable character."""
    embed = discord.Embed(title=shown(character.name, 256),
                          description=trim(character.description or "*No description.*", 1000))
    if character.avatar_url and character.avatar_url.startswith(("http://", "https://")):
        embed.set_thumbnail(url=character.avatar_url)
    if character.source == "venice":
        kind = "Venice catalogue"
    elif character.source == "builtin":
        kind = "built in"
    else:
        kind = f"custom #{character.id}"
        if owner_id is not None:
            kind += f", by <@{owner_id}>"
        if shared is not None:
            kind += ", shared with the server" if shared else ", personal"
    embed.add_field(name="Kind", value=kind, inline=True)
    if source:
        embed.add_field(name="Chosen", value=trim(source, 1024), inline=True)
    if character.source != "venice":
        lore = len(character.lorebook.entries) if character.lorebook else 0
        embed.add_field(name="Greetings", value=str(len(character.greetings)), inline=True)
        embed.add_field(name="Lore entries", value=str(lore), inline=True)
    if character.scenario:
        embed.add_field(name="Scenario", value=trim(character.scenario, 500), inline=False)
    if character.tags:
        embed.add_field(name="Tags", value=trim(", ".join(character.tags[:15]), 1024), inline=False)
    return embed


# -- catalogue browsing --------------------------------------------------------------------------


def _query_id(action: str, index: int, search: str, tag: str) -> str:
    # The tag's length comes first so neither text needs escaping.
    tag, search = tag[:TAG_LIMIT], search[:SEARCH_LIMIT]
    return f"lcb:{action}:{index}:{len(tag)}:{tag}{search}"


BROWSE_PREFIX = "lcb"
BROWSE_PATTERN = r"(?P<action>[pn]):(?P<index>\d{1,4}):(?P<taglen>\d{1,2}):(?P<rest>.*)"  # after "lcb:"
USE_PREFIX = "lcu"
USE_PATTERN = r"(?P<slug>[^\s]{1,95})"  # after "lcu:"
DELETE_PREFIX = "lcdel"
DELETE_PATTERN = r"(?P<id>\d{1,20})"  # after "lcdel:"


def browse_query(match: re.Match[str]) -> tuple[int, str, str]:
    """(index, search, tag) from a paging button's custom id."""
    taglen = int(match["taglen"])
    rest = match["rest"]
    return int(match["index"]), rest[taglen:], rest[:taglen]


def browse_button(action: str, index: int, search: str, tag: str, *, disabled: bool = False) -> discord.ui.Button[Any]:
    """◀ / ▶ through a catalogue listing; the target index and query live in the custom id."""
    return discord.ui.Button(emoji="◀️" if action == "p" else "▶️", label="Previous" if action == "p" else "Next",
                             style=discord.ButtonStyle.secondary, custom_id=_query_id(action, index, search, tag),
                             disabled=disabled)


def use_button(slug: str) -> discord.ui.Button[Any]:
    """"Use this character": make the shown Venice character this channel's character."""
    return discord.ui.Button(emoji="🎭", label="Use this character", style=discord.ButtonStyle.success,
                             custom_id=f"{USE_PREFIX}:{slug}")


def browse_message(page: Page, search: str, tag: str) -> tuple[discord.Embed, discord.ui.View]:
    """The embed and buttons for one catalogue page."""
    if page.character is None:
        what = " matching that" if search or tag else ""
        embed = discord.Embed(description=f"I found no adult characters{what} on Venice. "
                                          "Try another search or tag.", colour=VENICE_COLOUR)
        return embed, view()
    items: list[discord.ui.Item[Any]] = [
        browse_button("p", max(page.index - 1, 0), search, tag, disabled=not page.has_prev),
        browse_button("n", min(page.index + 1, MAX_INDEX), search, tag, disabled=not page.has_next),
    ]
    slug = page.character.slug
    if len(slug) <= 95:
        items.append(use_button(slug))
    if page.character.share_url and page.character.share_url.startswith("https://"):
        items.append(discord.ui.Button(emoji="🔗", label="On Venice", style=discord.ButtonStyle.link,
                                       url=page.character.share_url))
    return venice_embed(page.character, page), view(*items)


# -- deleting ---------------------------------------------------------------------------------------


def delete_view(character_id: int) -> discord.ui.View:
    """The confirm button under `/character delete`; permissions are checked again on click."""
    return view(discord.ui.Button(emoji="🗑️", label="Delete for good", style=discord.ButtonStyle.danger,
                                  custom_id=f"{DELETE_PREFIX}:{character_id}"))


# -- the create / edit form ------------------------------------------------------------------------


def join_description(character: Character) -> str:
    """Description and personality in one box (Discord forms hold at most five fields)."""
    if character.personality.strip():
        return f"{character.description}{PERSONALITY_MARK}{character.personality}"
    return character.description


def split_description(text: str) -> tuple[str, str]:
    """Undo `join_description`: (description, personality)."""
    head, mark, tail = text.rpartition(PERSONALITY_MARK.strip("\n"))
    if mark and head.endswith("\n"):
        return head.rstrip(), tail.strip()
    return text.strip(), ""


FORM_PREFIX = "lcform"
# after "lcform:": new|edit, the character's id (0 when new), shared (n: unchanged, 0, 1), and a token
# naming the avatar the command was given (kept in this process only).
FORM_PATTERN = r"(?P<mode>new|edit):(?P<id>\d{1,20}):(?P<shared>[n01]):(?P<token>[0-9a-f]{0,16})"
FORM_LIMITS = {"name": 100, "description": 4000, "scenario": 4000, "greeting": 4000, "appearance": 1000}
_FORM_SPECS = {
    "name": ("Name", discord.TextStyle.short, True, "Who is this?"),
    "description": ("Description and personality", discord.TextStyle.long, True,
                    "Who they are, what they're like. Add 'Personality: …' for a separate personality."),
    "scenario": ("Scenario", discord.TextStyle.long, False, "Where and how the story starts"),
    "greeting": ("Greeting (first message)", discord.TextStyle.long, False, "{{char}} and {{user}} work"),
    "appearance": ("Appearance (for pictures)", discord.TextStyle.long, False,
                   "adult woman, long red hair, green eyes, …"),
}


def form_id(*, character_id: int | None, shared: bool | None, token: str) -> str:
    mode = "edit" if character_id is not None else "new"
    flag = "n" if shared is None else str(int(shared))
    return f"{FORM_PREFIX}:{mode}:{character_id or 0}:{flag}:{token}"


def _form_values(character: Character) -> dict[str, str]:
    return {"name": character.name, "description": join_description(character), "scenario": character.scenario,
            "greeting": character.first_mes, "appearance": character.appearance}


def kept_fields(base: Character) -> list[str]:
    """The fields too long for a Discord form: left out of it, and kept as they are."""
    return [_FORM_SPECS[key][0].lower() for key, value in _form_values(base).items() if len(value) > FORM_LIMITS[key]]


class CharacterModal(RoutedModal):
    """Name, description + personality, scenario, greeting and appearance of a custom character.

    Editing starts from the stored character, so fields the form doesn't show (lorebook, example
    messages, alternate greetings, card extras) are kept; so is a field too long for a form
    (`kept_fields`). The custom id (`form_id`) says what is edited; `apply_form` reads the answer.
    """

    def __init__(self, *, title: str, base: Character | None, custom_id: str) -> None:
        super().__init__(title=title[:45], timeout=900, custom_id=custom_id)
        base = base if base is not None else Character(name="")
        for key, value in _form_values(base).items():
            if len(value) > FORM_LIMITS[key]:
                continue
            label, style, required, placeholder = _FORM_SPECS[key]
            self.add_item(discord.ui.TextInput(
                label=label, style=style, required=required, max_length=FORM_LIMITS[key], custom_id=key,
                default=value or None, placeholder=placeholder[:100],
            ))


def apply_form(base: Character | None, values: dict[str, str]) -> Character:
    """The base character (a new one when None) with a submitted form's values applied."""
    result = copy.deepcopy(base) if base is not None else Character(name="")
    if "name" in values:
        result.name = values["name"].strip()
    if "description" in values:
        result.description, result.personality = split_description(values["description"])
    if "scenario" in values:
        result.scenario = values["scenario"].strip()
    if "greeting" in values:
        result.first_mes = values["greeting"].strip()
    if "appearance" in values:
        result.appearance = values["appearance"].strip()
    return result
