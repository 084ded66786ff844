"""/privacy export | delete | info: a user's own data, as a file or gone.

The work is in `bot.privacy` (plain Python over the store); this cog turns it into Discord
replies. Every reply is ephemeral: nobody else needs to see that someone exported or deleted data.
"""

from __future__ import annotations

import io
import logging
from datetime import timedelta
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot import privacy
from bot.client import GENERIC_ERROR, LustifyBot, reply_ephemeral
from bot.ui.gating import component_allowed

log = logging.getLogger(__name__)

CONFIRM_TIMEOUT = 120.0
DAILY = timedelta(hours=23)  # a little under a day, so an hourly wake-up never skips a day
ONLY_YOURS = "Only the person who asked for this deletion can confirm it."
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


class ConfirmDelete(discord.ui.View):
    """Confirm / Cancel under the ephemeral question; only the asker may press, and only for a while."""

    def __init__(self, cog: Privacy, origin: discord.Interaction) -> None:
        super().__init__(timeout=CONFIRM_TIMEOUT)
        self.cog = cog
        self.origin = origin
        self.owner_id = origin.user.id
        self.done = False

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        # The gate and blocks first (a channel may have lost its age restriction since), then the
        # owner: unlike other buttons, a moderator may not press this one for someone else.
        if not await component_allowed(interaction, owner_id=self.owner_id):
            return False
        if interaction.user.id != self.owner_id:
            await reply_ephemeral(interaction, ONLY_YOURS)
            return False
        return True

    @discord.ui.button(label="Delete my data", style=discord.ButtonStyle.danger, custom_id="privacy:confirm")
    async def confirm(self, interaction: discord.Interaction, _button: discord.ui.Button[Any]) -> None:
        if self.done:
            return
        self.done = True
        self.stop()
        await interaction.response.defer()
        counts = await privacy.delete_user(
            self.cog.sessions, self.owner_id, guild_id=interaction.guild_id, channel_id=interaction.channel_id
        )
        log.info("privacy: deleted the data of user %s on request", self.owner_id)
        await interaction.edit_original_response(content=deletion_report(counts), view=None)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary, custom_id="privacy:cancel")
    async def cancel(self, interaction: discord.Interaction, _button: discord.ui.Button[Any]) -> None:
        self.done = True
        self.stop()
        await interaction.response.edit_message(content="Nothing was deleted.", view=None)

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any]) -> None:
        # The deletion is one transaction: when it fails, nothing was deleted, and the user is told.
        log.error("privacy: deletion for user %s failed", self.owner_id, exc_info=error)
        await reply_ephemeral(interaction, GENERIC_ERROR + " Nothing was deleted.")

    async def on_timeout(self) -> None:
        if self.done:
            return
        try:
            await self.origin.edit_original_response(
                content="The confirmation expired; nothing was deleted. Run `/privacy delete` again if you meant it.",
                view=None,
            )
        except discord.HTTPException as exc:
            log.debug("privacy: could not mark an expired confirmation: %s", exc)


class Privacy(commands.Cog):
    """What the bot knows about you."""

    privacy = app_commands.Group(name="privacy", description="Your data: see it, download it, delete it", nsfw=True)

    def __init__(self, bot: LustifyBot) -> None:
        self.bot = bot
        assert bot.services is not None
        self.sessions = bot.services.sessions

    async def cog_load(self) -> None:
        self.usage_purge.start()

    async def cog_unload(self) -> None:
        self.usage_purge.cancel()

    @tasks.loop(hours=1)
    async def usage_purge(self) -> None:
        # Usage rows kept for the rest of the day of a deletion (daily limits) go once it is over.
        # Every process wakes hourly; one of them (the claim) runs it, once a day.
        try:
            if not await self.bot.services.process.claim("privacy-usage-purge", DAILY):  # type: ignore[union-attr]
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
        await interaction.response.send_message(CONFIRM_TEXT, view=ConfirmDelete(self, interaction), ephemeral=True)


async def setup(bot: LustifyBot) -> None:
    await bot.add_cog(Privacy(bot))
