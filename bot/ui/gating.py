"""The checks every button, select and modal runs before it does anything.

Components keep working on old messages after a channel's age restriction is turned off, and
Discord's own command gate does not cover them, so each one re-asks the gate. Destructive controls
are also limited to the person whose request it was, or a moderator of the channel.
"""

from __future__ import annotations

import discord
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import gate
from bot.chat.rules import NOT_YOURS
from bot.store import users

__all__ = ["NOT_YOURS", "admit", "component_allowed", "form_allowed", "is_moderator", "over_limit"]


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


async def component_allowed(interaction: discord.Interaction, *, owner_id: int | None = None) -> bool:
    """Gate, then the bot's admission rules, then (when `owner_id` is given) ownership.

    On refusal the interaction has been answered ephemerally and the caller must do nothing else.
    """
    if not await gate.enforce(interaction):
        return False
    services = getattr(interaction.client, "services", None)
    if services is not None and not await admit(interaction, services.sessions):
        return False
    if owner_id is not None and interaction.user.id != owner_id and not is_moderator(interaction):
        if not interaction.response.is_done():
            await interaction.response.send_message(NOT_YOURS, ephemeral=True)
        return False
    return True


def over_limit(modal: discord.ui.Modal) -> str | None:
    """What is wrong if a submitted form exceeds the limits it declared, else None.

    Discord enforces each text input's `max_length`, but the bot does not rely on the client alone.
    """
    for item in modal.children:
        limit = item.max_length if isinstance(item, discord.ui.TextInput) else None
        if limit is not None and len(item.value or "") > limit:
            return f"That's too long for this form: at most {limit:,} characters per field."
    return None


async def form_allowed(interaction: discord.Interaction, modal: discord.ui.Modal) -> bool:
    """A form submission's check: the gate first (nothing else happens outside age-gated places),
    then the limits the form declared."""
    if not await component_allowed(interaction):
        return False
    problem = over_limit(modal)
    if problem is not None:
        await interaction.response.send_message(problem, ephemeral=True)
        return False
    return True
