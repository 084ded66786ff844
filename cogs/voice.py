"""/voice: a person's own switch for spoken replies.

A channel can speak every reply (`/settings set voice_auto on`); whoever would rather not hear
them turns them off for themselves here. 🔊 Listen still works for them: it is asked for.
"""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import services_of
from bot.store import users

ON = "🔊 Spoken replies are on for you: where a channel speaks every reply, yours are spoken too."
OFF = "🔇 Spoken replies are off for you: your replies stay text. 🔊 Listen still reads one aloud when you ask."


class SpokenReplies(commands.Cog):
    """Spoken replies, per person."""

    voice = app_commands.Group(name="voice", description="Spoken replies (voice messages)", nsfw=True)

    def __init__(self, bot: commands.Bot, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.bot = bot
        self.sessions = sessions

    @voice.command(name="replies", description="Turn spoken replies on or off for yourself")
    @app_commands.describe(state="on: speak replies to you where the channel does; off: never unasked")
    async def replies(self, interaction: discord.Interaction, state: Literal["on", "off"]) -> None:
        await users.set_voice_off(self.sessions, interaction.user.id, state == "off")
        await interaction.response.send_message(OFF if state == "off" else ON, ephemeral=True)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(SpokenReplies(bot, services_of(bot).sessions))
