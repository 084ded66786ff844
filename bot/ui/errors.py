"""The one error reporter: commands, buttons, selects and forms all answer failures here.

Errors written for users (`UserError`, `VeniceError`: both carry `user_message`) and discord.py's
check failures get short, specific wording; anything else is logged with its traceback and the user
gets a kind generic line. The answer is always private.
"""

from __future__ import annotations

import contextlib
import logging

import discord
from discord import app_commands

from bot.errors import UserError
from bot.venice.errors import VeniceError

log = logging.getLogger(__name__)

GENERIC_ERROR = "Something went wrong on my side. It has been logged; please try again in a moment."


def user_message_for(error: BaseException) -> str | None:
    """Short, specific wording for errors users can understand; None means "unexpected"."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, UserError | VeniceError):
        return error.user_message
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.MissingPermissions | app_commands.BotMissingPermissions):
        perms = ", ".join(p.replace("_", " ") for p in error.missing_permissions)
        who = "You need" if isinstance(error, app_commands.MissingPermissions) else "I need"
        return f"{who} the {perms} permission for that."
    if isinstance(error, app_commands.TransformerError):
        return f"That value isn't valid for this option: {str(error.value)[:100]!r}."
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or "You can't use that here."
    return None


async def reply_ephemeral(interaction: discord.Interaction, text: str) -> None:
    """Answer an interaction privately, whether or not it was already acknowledged.

    A "thinking…" message left by a deferral is removed first, so it neither stays forever nor
    shows the channel what went wrong.
    """
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(text, ephemeral=True)
            return
        if interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
            with contextlib.suppress(discord.HTTPException):  # already gone
                await interaction.delete_original_response()
        await interaction.followup.send(text, ephemeral=True)
    except discord.HTTPException as exc:
        log.warning("could not send an error reply: %s", exc)


async def report(interaction: discord.Interaction, error: BaseException, what: str = "") -> None:
    """Tell the user what went wrong (privately); log what nobody expected."""
    text = user_message_for(error)
    if text is None:
        log.error("%s failed", what or _describe(interaction), exc_info=error)
        text = GENERIC_ERROR
    await reply_ephemeral(interaction, text)


def _describe(interaction: discord.Interaction) -> str:
    if interaction.command is not None:
        return f"command {interaction.command.qualified_name}"
    custom_id = (interaction.data or {}).get("custom_id", "?")
    return f"{interaction.type.name} {custom_id}"
