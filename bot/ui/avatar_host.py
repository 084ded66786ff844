"""The storage channel for avatar pictures (`bot.characters.avatar_urls.AvatarHost`) on Discord.

Each picture is posted once as an attachment in the channel the operator names
(`AVATAR_CHANNEL_ID`, a private channel only the bot writes to); fetching that message again
gives a freshly signed URL whenever the old one expires.
"""

from __future__ import annotations

import io
import logging

import discord

log = logging.getLogger(__name__)


class DiscordAvatarHost:
    """Avatar copies as messages in one channel."""

    def __init__(self, client: discord.Client, channel_id: int) -> None:
        self.client = client
        self.channel_id = channel_id

    async def _channel(self) -> discord.abc.Messageable:
        channel = self.client.get_channel(self.channel_id) or await self.client.fetch_channel(self.channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            raise RuntimeError(f"AVATAR_CHANNEL_ID {self.channel_id} is not a channel messages can be sent to")
        return channel

    async def upload(self, png: bytes, filename: str) -> tuple[int, int, str]:
        channel = await self._channel()
        message = await channel.send(file=discord.File(io.BytesIO(png), filename=filename),
                                     allowed_mentions=discord.AllowedMentions.none())
        return message.channel.id, message.id, message.attachments[0].url

    async def refresh(self, channel_id: int, message_id: int) -> str | None:
        try:
            channel = self.client.get_channel(channel_id) or await self.client.fetch_channel(channel_id)
            if not isinstance(channel, discord.abc.Messageable):
                return None
            message = await channel.fetch_message(message_id)
        except discord.NotFound:
            return None
        return message.attachments[0].url if message.attachments else None

    async def remove(self, channel_id: int, message_id: int) -> None:
        try:
            channel = self.client.get_channel(channel_id) or await self.client.fetch_channel(channel_id)
            if isinstance(channel, discord.abc.Messageable):
                await channel.get_partial_message(message_id).delete()  # type: ignore[attr-defined]
        except discord.NotFound:
            pass
