"""Admission after the age gate (blocked users, DM unlocks), and who counts as a moderator.

`bot.ui.router.ComponentRouter.allowed` runs the gate and then `admit` for every command,
autocomplete, button and form. Destructive controls are also limited to the person whose request
it was, or a moderator of the channel (`is_moderator`, decided by the services' rules).
"""

from __future__ import annotations

import discord
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import gate
from bot.chat.rules import NOT_YOURS
from bot.store import users

__all__ = ["NOT_YOURS", "admit", "is_moderator"]


def is_moderator(interaction: discord.Interaction) -> bool:
    """Manage Messages in this channel counts as moderator; in a DM there is only the user."""
    perms = interaction.permissions
    return bool(perms.manage_messages or perms.administrator)


async def admit(interaction: discord.Interaction, sessions: async_sessionmaker[AsyncSession]) -> bool:
    """After the gate: refuse blocked users, and remember a DM unlock for plain DM chat."""
    until = await users.blocked_until(sessions, interaction.user.id)
    if until is not None and not _is_privacy_command(interaction):
        text = (
            "You're blocked from using this bot until "
            f"{discord.utils.format_dt(until, 'f')} after repeated attempts to request content "
            "involving minors."
        )
        if interaction.type is discord.InteractionType.autocomplete:
            await interaction.response.autocomplete([])
        else:
            await interaction.response.send_message(text, ephemeral=True)
        return False
    if interaction.type is discord.InteractionType.application_command and gate.is_bot_dm(interaction):
        await users.unlock_dm(sessions, interaction.user.id)
    return True


def _is_privacy_command(interaction: discord.Interaction) -> bool:
    """A blocked user keeps their data rights: /privacy export and delete still work."""
    data = interaction.data or {}
    if interaction.type is discord.InteractionType.application_command:
        return data.get("name") == "privacy"
    return interaction.type is discord.InteractionType.component and str(data.get("custom_id", "")).startswith(
        "privacy:")
