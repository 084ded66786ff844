"""Where adult content may appear: one decision, used by every entry point.

Adult content is allowed only where Discord itself has age-gated the place:
- a guild text, voice, stage, forum or media channel flagged age-restricted (`nsfw`);
- a thread or forum post whose parent channel is flagged (threads have no flag of their own);
- the DM between a user and this bot.

Everything else is refused: group DMs, DMs between other people (user-installed context), unknown
channels, categories, and any channel whose flag has been turned off since. `decide` is a plain
function over a plain `Place`; the async helpers below only turn Discord objects into a `Place`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

import discord

log = logging.getLogger(__name__)

REFUSAL = (
    "🔞 I only work in age-restricted channels and in DMs with me. "
    "Ask a moderator to mark this channel age-restricted, or talk to me in a DM."
)
USER_INSTALL_REFUSAL = (
    "🔞 I only work where I'm installed in the server, in age-restricted channels, or in DMs with me."
)

# Channel types Discord lets a moderator mark age-restricted (categories are not among them).
_FLAGGABLE = (discord.TextChannel, discord.VoiceChannel, discord.StageChannel, discord.ForumChannel)


class PlaceKind(StrEnum):
    GUILD_CHANNEL = "guild_channel"
    THREAD = "thread"
    BOT_DM = "bot_dm"
    PRIVATE_CHANNEL = "private_channel"  # a DM between users, reached through a user install
    GROUP_DM = "group_dm"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Place:
    kind: PlaceKind
    nsfw: bool | None = None  # the channel's flag (the parent's for threads); None when unknown
    guild_id: int | None = None
    channel_id: int | None = None
    user_install_only: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""


ALLOWED = Decision(True)


def decide(place: Place) -> Decision:
    """Is adult content allowed in `place`? Unknown means no."""
    if place.user_install_only:
        return Decision(False, USER_INSTALL_REFUSAL)
    if place.kind is PlaceKind.BOT_DM:
        return ALLOWED
    if place.kind in (PlaceKind.GUILD_CHANNEL, PlaceKind.THREAD) and place.nsfw is True:
        return ALLOWED
    return Decision(False, REFUSAL)


async def _fetch_channel(client: discord.Client, channel_id: int) -> object | None:
    """A channel from REST; None when Discord says it is gone or not ours to see."""
    try:
        return await client.fetch_channel(channel_id)
    except (discord.Forbidden, discord.NotFound, discord.HTTPException) as exc:
        log.info("gate: channel %s not reachable (%s)", channel_id, exc)
        return None


async def _parent_nsfw(client: discord.Client, thread: discord.Thread) -> bool | None:
    """The thread's parent flag: from the cache, else fetched. A parent we cannot see counts as no."""
    parent = thread.parent or client.get_channel(thread.parent_id) or await _fetch_channel(client, thread.parent_id)
    if isinstance(parent, _FLAGGABLE):
        return parent.is_nsfw()
    return None


async def place_of_channel(
    client: discord.Client, channel: object, *, guild_id: int | None, bot_dm: bool
) -> Place:
    """Classify a channel object as Discord gave it to us."""
    channel_id = getattr(channel, "id", None)
    if bot_dm:
        return Place(PlaceKind.BOT_DM, channel_id=channel_id)
    if isinstance(channel, discord.GroupChannel):
        return Place(PlaceKind.GROUP_DM, channel_id=channel_id)
    if isinstance(channel, discord.DMChannel):
        return Place(PlaceKind.PRIVATE_CHANNEL, channel_id=channel_id)
    if guild_id is None:
        return Place(PlaceKind.UNKNOWN, channel_id=channel_id)
    if isinstance(channel, discord.Thread):
        nsfw = await _parent_nsfw(client, channel)
        return Place(PlaceKind.THREAD, nsfw=nsfw, guild_id=guild_id, channel_id=channel_id)
    if isinstance(channel, _FLAGGABLE):
        return Place(PlaceKind.GUILD_CHANNEL, nsfw=channel.is_nsfw(), guild_id=guild_id, channel_id=channel_id)
    return Place(PlaceKind.UNKNOWN, guild_id=guild_id, channel_id=channel_id)


def is_bot_dm(interaction: discord.Interaction) -> bool:
    """Is this interaction from the DM between its user and this bot?"""
    ctx = interaction.context
    if ctx.dm_channel or ctx.guild or ctx.private_channel:
        return bool(ctx.dm_channel)
    # No context in the payload: only a DMChannel outside any guild can be ours, and a
    # private-channel DM would carry its context, so this fallback cannot widen the gate.
    return interaction.guild_id is None and isinstance(interaction.channel, discord.DMChannel)


def _user_install_only(interaction: discord.Interaction) -> bool:
    owners = interaction._integration_owners
    return bool(owners) and 0 not in owners


async def place_of_interaction(interaction: discord.Interaction) -> Place:
    """The place an interaction (command, autocomplete, button, select, modal) came from."""
    place = await place_of_channel(
        interaction.client,
        interaction.channel,
        guild_id=interaction.guild_id,
        bot_dm=is_bot_dm(interaction),
    )
    if _user_install_only(interaction):
        return Place(place.kind, place.nsfw, place.guild_id, place.channel_id, user_install_only=True)
    return place


async def place_of_message(client: discord.Client, message: discord.Message) -> Place:
    """The place a plain message came from. A bot only receives DMs that are its own."""
    channel: object = message.channel
    guild_id = message.guild.id if message.guild else getattr(channel, "guild_id", None)
    if isinstance(channel, discord.PartialMessageable) and guild_id is not None:
        # A guild channel missing from the cache (typically a thread we were never told about):
        # ask Discord what it is, as for a thread's uncached parent; unreachable stays unknown.
        channel = await _fetch_channel(client, channel.id) or channel
    return await place_of_channel(
        client, channel, guild_id=guild_id, bot_dm=isinstance(channel, discord.DMChannel) and guild_id is None
    )


async def place_of_channel_id(client: discord.Client, channel_id: int, *, guild_id: int | None) -> Place:
    """The place behind a channel id from a raw event (an edit or a deletion): cached, else fetched."""
    channel = client.get_channel(channel_id) or await _fetch_channel(client, channel_id)
    if channel is None:
        return Place(PlaceKind.UNKNOWN, guild_id=guild_id, channel_id=channel_id)
    return await place_of_channel(client, channel, guild_id=guild_id,
                                  bot_dm=isinstance(channel, discord.DMChannel) and guild_id is None)


async def check_interaction(interaction: discord.Interaction) -> Decision:
    return decide(await place_of_interaction(interaction))


async def enforce(interaction: discord.Interaction) -> bool:
    """Decide, and when refused answer the interaction ephemerally so nothing else happens."""
    decision = await check_interaction(interaction)
    if decision.allowed:
        return True
    log.info(
        "gate: refused %s from user %s in channel %s",
        interaction.type.name, interaction.user.id, interaction.channel_id,
    )
    if not interaction.response.is_done():
        if interaction.type is discord.InteractionType.autocomplete:
            await interaction.response.autocomplete([])
        else:
            await interaction.response.send_message(decision.reason, ephemeral=True)
    return False
