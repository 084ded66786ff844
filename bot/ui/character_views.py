"""Discord rendering for characters: catalogue pages, info cards, the create/edit form, buttons.

Buttons are `DynamicItem`s whose custom id carries everything they need (listing position and
query, Venice slug, character id), so they keep working after a restart and in every process.
Each one re-asks the age gate first (`component_allowed`), as Discord's own gate does not cover
components on old messages.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.characters.catalogue import MAX_INDEX, Page
from bot.characters.model import Character
from bot.ui.errors import GENERIC_ERROR, reply_ephemeral, user_message_for
from bot.ui.gating import component_allowed, form_allowed

if TYPE_CHECKING:
    from bot.services import Services
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


def services_of(interaction: discord.Interaction) -> Services:
    services = getattr(interaction.client, "services", None)
    if services is None:
        raise RuntimeError("the bot has no services yet")
    return services


async def answer_error(interaction: discord.Interaction, error: BaseException) -> None:
    """Components and modals have no tree error handler: answer with the same kind wording."""
    text = user_message_for(error)
    if text is None:
        log.error("character component failed", exc_info=error)
        text = GENERIC_ERROR
    await reply_ephemeral(interaction, text)


# -- embeds -----------------------------------------------------------------------------------------


def venice_embed(character: VeniceCharacter, page: Page | None = None) -> discord.Embed:
    """One catalogue character: photo, trimmed description, tags and rating."""
    embed = discord.Embed(title=trim(character.name, 256), url=character.share_url or None,
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
    embed = discord.Embed(title=trim(character.name, 256),
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


class BrowseButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                   template=r"lcb:(?P<action>[pn]):(?P<index>\d{1,4}):(?P<taglen>\d{1,2}):(?P<rest>.*)"):
    """◀ / ▶ through a catalogue listing; the target index and query live in the custom id."""

    def __init__(self, action: str, index: int, search: str, tag: str, *, disabled: bool = False) -> None:
        self.action, self.index, self.search, self.tag = action, index, search, tag
        super().__init__(discord.ui.Button(
            emoji="◀️" if action == "p" else "▶️", style=discord.ButtonStyle.secondary,
            custom_id=_query_id(action, index, search, tag), disabled=disabled,
        ))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button[Any],
                             match: re.Match[str]) -> BrowseButton:
        taglen = int(match["taglen"])
        rest = match["rest"]
        return cls(match["action"], int(match["index"]), rest[taglen:], rest[:taglen])

    async def callback(self, interaction: discord.Interaction) -> None:
        if not await component_allowed(interaction):
            return
        try:
            page = await services_of(interaction).characters.catalogue.page(
                search=self.search, tag=self.tag, index=self.index)
            embed, view = browse_message(page, self.search, self.tag)
            await interaction.response.edit_message(embed=embed, view=view)
        except Exception as exc:  # components have no tree handler; answer kindly instead
            await answer_error(interaction, exc)


class UseButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"lcu:(?P<slug>[^\s]{1,95})"):
    """"Use this character": make the shown Venice character this channel's character."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        super().__init__(discord.ui.Button(label="Use this character", style=discord.ButtonStyle.success,
                                           custom_id=f"lcu:{slug}"))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button[Any],
                             match: re.Match[str]) -> UseButton:
        return cls(match["slug"])

    async def callback(self, interaction: discord.Interaction) -> None:
        if not await component_allowed(interaction):
            return
        try:
            from cogs.characters import apply_choice

            await apply_choice(interaction, f"venice:{self.slug}")
        except Exception as exc:
            await answer_error(interaction, exc)


def browse_message(page: Page, search: str, tag: str) -> tuple[discord.Embed, discord.ui.View]:
    """The embed and buttons for one catalogue page."""
    view = discord.ui.View(timeout=None)
    if page.character is None:
        what = " matching that" if search or tag else ""
        embed = discord.Embed(description=f"I found no adult characters{what} on Venice. "
                                          "Try another search or tag.", colour=VENICE_COLOUR)
        return embed, view
    view.add_item(BrowseButton("p", max(page.index - 1, 0), search, tag, disabled=not page.has_prev))
    view.add_item(BrowseButton("n", min(page.index + 1, MAX_INDEX), search, tag, disabled=not page.has_next))
    slug = page.character.slug
    if len(slug) <= 95:
        view.add_item(UseButton(slug))
    if page.character.share_url and page.character.share_url.startswith("https://"):
        view.add_item(discord.ui.Button(label="On Venice", style=discord.ButtonStyle.link,
                                        url=page.character.share_url))
    return venice_embed(page.character, page), view


# -- deleting ---------------------------------------------------------------------------------------


class DeleteButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"lcdel:(?P<id>\d{1,20})"):
    """The confirm button under `/character delete`; permissions are checked again on click."""

    def __init__(self, character_id: int) -> None:
        self.character_id = character_id
        super().__init__(discord.ui.Button(label="Delete for good", style=discord.ButtonStyle.danger,
                                           custom_id=f"lcdel:{character_id}"))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button[Any],
                             match: re.Match[str]) -> DeleteButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        if not await component_allowed(interaction):
            return
        try:
            from cogs.characters import delete_character

            await delete_character(interaction, self.character_id)
        except Exception as exc:
            await answer_error(interaction, exc)


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


Save = Callable[[discord.Interaction, Character, list[str]], Awaitable[None]]


class CharacterModal(discord.ui.Modal):
    """Name, description + personality, scenario, greeting and appearance of a custom character.

    Editing starts from the stored character, so fields the form doesn't show (lorebook, example
    messages, alternate greetings, card extras) are kept. A field too long for a Discord form is
    left out and kept as it is; `save` is told which ones.
    """

    LIMITS = {"name": 100, "description": 4000, "scenario": 4000, "greeting": 4000, "appearance": 1000}

    def __init__(self, *, title: str, base: Character | None, save: Save) -> None:
        super().__init__(title=title[:45], timeout=900)
        self.base = copy.deepcopy(base) if base is not None else Character(name="")
        self.save = save
        self.kept: list[str] = []
        values = {"name": self.base.name, "description": join_description(self.base),
                  "scenario": self.base.scenario, "greeting": self.base.first_mes,
                  "appearance": self.base.appearance}
        specs = {
            "name": ("Name", discord.TextStyle.short, True, "Who is this?"),
            "description": ("Description and personality", discord.TextStyle.long, True,
                            "Who they are, what they're like. Add 'Personality: …' for a separate personality."),
            "scenario": ("Scenario", discord.TextStyle.long, False, "Where and how the story starts"),
            "greeting": ("Greeting (first message)", discord.TextStyle.long, False, "{{char}} and {{user}} work"),
            "appearance": ("Appearance (for pictures)", discord.TextStyle.long, False,
                           "adult woman, long red hair, green eyes, …"),
        }
        self.inputs: dict[str, discord.ui.TextInput[CharacterModal]] = {}
        for key, (label, style, required, placeholder) in specs.items():
            value = values[key]
            if len(value) > self.LIMITS[key]:
                self.kept.append(label.lower())
                continue
            box: discord.ui.TextInput[CharacterModal] = discord.ui.TextInput(
                label=label, style=style, required=required, max_length=self.LIMITS[key],
                default=value or None, placeholder=placeholder[:100],
            )
            self.inputs[key] = box
            self.add_item(box)

    def character(self) -> Character:
        """The base character with the form's values applied."""
        result = copy.deepcopy(self.base)
        if "name" in self.inputs:
            result.name = self.inputs["name"].value.strip()
        if "description" in self.inputs:
            result.description, result.personality = split_description(self.inputs["description"].value)
        if "scenario" in self.inputs:
            result.scenario = self.inputs["scenario"].value.strip()
        if "greeting" in self.inputs:
            result.first_mes = self.inputs["greeting"].value.strip()
        if "appearance" in self.inputs:
            result.appearance = self.inputs["appearance"].value.strip()
        return result

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await form_allowed(interaction, self)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.save(interaction, self.character(), self.kept)

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        await answer_error(interaction, error)


DYNAMIC_ITEMS = (BrowseButton, UseButton, DeleteButton)
