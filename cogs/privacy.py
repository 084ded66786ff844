"""/privacy export | delete | info: a user's own data, as a file or gone.

The work is in `bot.privacy` (plain Python over the store); this cog turns it into Discord
replies. Every reply is ephemeral: nobody else needs to see that someone exported or deleted data.
"""

from __future__ import annotations

import io
import logging
import re
from datetime import datetime, timedelta

import discord
from discord import app_commands
from discord.ext import commands, tasks
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import privacy
from bot.chat.service import ChatService
from bot.services import services_of
from bot.store.processes import Process
from bot.ui.errors import GENERIC_ERROR, reply_ephemeral
from bot.ui.router import ComponentRouter, view

log = logging.getLogger(__name__)

CONFIRM_TIMEOUT = 120.0
DAILY = timedelta(hours=23)  # a little under a day, so an hourly wake-up never skips a day
ONLY_YOURS = "Only the person who asked for this deletion can confirm it."
EXPIRED = "The confirmation expired; nothing was deleted. Run `/privacy delete` again if you meant it."
CONFIRM_TEXT = (
    "⚠️ **Delete everything I store about you?**\n"
    "This erases your conversations (in conversations shared with others, your messages are blanked and "
    "the rest stays), your characters, your persona, your image records, your usage history and your DM "
    "unlock. It can't be undone. `/privacy export` first if you want a copy.\n"
    "A safety block, today's usage counts and the safety log stay until they expire (`/privacy info`)."
)


def deletion_report(counts: dict[str, int]) -> str:
    """Say what went, in words, and what was kept on purpose."""
    gone = [
        f"{counts.get('conversations', 0)} conversations ({counts.get('conversation_messages', 0)} messages)",
        f"{counts.get('messages_blanked', 0)} of your messages in shared conversations",
        f"{counts.get('characters', 0)} characters",
        f"{counts.get('images', 0)} image records",
        f"{counts.get('usage', 0)} usage records",
    ]
    if counts.get("persona"):
        gone.append("your persona")
    if counts.get("flags") and not counts.get("block_kept"):
        gone.append("your account flags")
    text = "🗑️ Done. Deleted: " + ", ".join(gone) + "."
    kept = []
    if counts.get("block_kept"):
        kept.append("your active safety block")
    if counts.get("usage_kept_today"):
        kept.append(f"today's {counts['usage_kept_today']} usage counts (until the day ends, for daily limits)")
    if kept:
        text += " Kept: " + ", ".join(kept) + "."
    return text


def confirm_view() -> discord.ui.View:
    """Confirm / Cancel under the private question. Only the asker sees (and so can press) them;
    the router checks the gate and who pressed, and a confirmation expires after a while."""
    return view(
        discord.ui.Button(emoji="🗑️", label="Delete my data", style=discord.ButtonStyle.danger,
                          custom_id="privacy:confirm"),
        discord.ui.Button(emoji="✖️", label="Cancel", style=discord.ButtonStyle.secondary, custom_id="privacy:cancel"),
    )


def asked_by(message: discord.Message | None) -> int | None:
    """Who ran the `/privacy delete` a confirmation message answers."""
    metadata = message.interaction_metadata if message is not None else None
    return metadata.user.id if metadata is not None else None


def expired(message: discord.Message | None, now: datetime) -> bool:
    """A confirmation older than CONFIRM_TIMEOUT no longer deletes anything."""
    if message is None:
        return True
    return (now - discord.utils.snowflake_time(message.id)).total_seconds() > CONFIRM_TIMEOUT


class Privacy(commands.Cog):
    """What the bot knows about you."""

    privacy = app_commands.Group(name="privacy", description="Your data: see it, download it, delete it", nsfw=True)

    def __init__(self, bot: commands.Bot, sessions: async_sessionmaker[AsyncSession], chat: ChatService,
                 process: Process) -> None:
        self.bot = bot
        self.sessions = sessions
        self.chat = chat
        self.process = process  # claims the daily purge, so one process runs it

    def register(self, router: ComponentRouter) -> None:
        router.button("privacy", r"(?P<action>confirm|cancel)", self.on_button)

    async def on_button(self, interaction: discord.Interaction, match: re.Match[str]) -> None:
        """The confirmation's buttons: a moderator may not press them for someone else."""
        if asked_by(interaction.message) != interaction.user.id:
            await interaction.response.send_message(ONLY_YOURS, ephemeral=True)
            return
        if match["action"] == "cancel":
            await interaction.response.edit_message(content="Nothing was deleted.", view=None)
            return
        if expired(interaction.message, discord.utils.utcnow()):
            await interaction.response.edit_message(content=EXPIRED, view=None)
            return
        await interaction.response.defer()
        characters = self.chat.scenes.characters
        kept_avatars = await characters.avatar_copies_of(interaction.user.id)
        try:
            counts = await privacy.delete_user(
                self.sessions, interaction.user.id, guild_id=interaction.guild_id, channel_id=interaction.channel_id)
        except Exception:
            # The deletion is one transaction: when it fails, nothing was deleted, and the user is told.
            log.exception("privacy: deletion for user %s failed", interaction.user.id)
            await reply_ephemeral(interaction, GENERIC_ERROR + " Nothing was deleted.")
            return
        self.chat.forget_user(interaction.user.id)  # no cached copy of their persona or conversations
        await characters.remove_avatar_copies(kept_avatars)  # their pictures in the avatar storage channel
        characters.forget()
        log.info("privacy: deleted the data of user %s on request", interaction.user.id)
        await interaction.edit_original_response(content=deletion_report(counts), view=None)

    async def cog_load(self) -> None:
        self.usage_purge.start()

    async def cog_unload(self) -> None:
        self.usage_purge.cancel()

    @tasks.loop(hours=1)
    async def usage_purge(self) -> None:
        # Usage rows kept for the rest of the day of a deletion (daily limits) go once it is over.
        # Every process wakes hourly; one of them (the claim) runs it, once a day.
        try:
            if not await self.process.claim("privacy-usage-purge", DAILY):
                return
            removed = await privacy.purge_deleted_usage(self.sessions)
        except Exception:
            log.exception("privacy: purging usage of deleted users failed; will retry tomorrow")
            return
        if removed:
            log.info("privacy: purged %d usage rows of users who deleted their data", removed)

    @privacy.command(name="info", description="What I store about you, and for how long")
    async def info(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(privacy.INFO, ephemeral=True)

    @privacy.command(name="export", description="Download everything I store about you, as a file")
    async def export(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await privacy.export_user(self.sessions, interaction.user.id)
        stem = f"lustify-data-{interaction.user.id}"
        packed = privacy.encode_export(data, limit=interaction.filesize_limit, stem=stem)
        note = " (gzipped to fit Discord's upload limit)" if packed.compressed else ""
        await interaction.followup.send(
            privacy.summary_line(data) + note,
            file=discord.File(io.BytesIO(packed.data), filename=packed.filename),
            ephemeral=True,
        )

    @privacy.command(name="delete", description="Delete everything I store about you (asks first)")
    async def delete(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(CONFIRM_TEXT, view=confirm_view(), ephemeral=True)


async def setup(bot: commands.Bot) -> None:
    services = services_of(bot)
    cog = Privacy(bot, services.sessions, services.chat, services.process)
    cog.register(services.router)
    await bot.add_cog(cog)
