"""Discord objects become a plain `Where` here, at the edge: who acts, where, through what."""

from __future__ import annotations

from typing import Any

import discord

from bot.ui.gating import is_moderator
from bot.where import Where


def parent_of(channel: Any) -> int | None:
    """A thread's channel (settings, characters and seeds are inherited from it)."""
    return channel.parent_id if isinstance(channel, discord.Thread) else None


def display_name(user: discord.abc.User) -> str:
    return getattr(user, "display_name", None) or user.name


def where_of_interaction(interaction: discord.Interaction, entry: str) -> Where:
    """Who pressed, typed or submitted, where; `moderator` from their permissions in that channel."""
    return Where(interaction.user.id, interaction.guild_id, interaction.channel_id, entry,
                 parent_id=parent_of(interaction.channel), user_name=display_name(interaction.user),
                 moderator=is_moderator(interaction))


def where_of_message(message: discord.Message, entry: str) -> Where:
    """Who wrote a plain message, where."""
    guild_id = message.guild.id if message.guild else getattr(message.channel, "guild_id", None)
    return Where(message.author.id, guild_id, message.channel.id, entry, parent_id=parent_of(message.channel),
                 user_name=display_name(message.author))


def where_of_channel(channel: Any, user: discord.abc.User, entry: str) -> Where:
    """Someone acting in a channel outside an interaction (an event the bot dispatched)."""
    guild = getattr(channel, "guild", None)
    return Where(user.id, guild.id if guild else None, channel.id, entry, parent_id=parent_of(channel),
                 user_name=display_name(user))
