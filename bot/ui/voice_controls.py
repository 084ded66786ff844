"""Voice in Discord: 🔊 Listen under a reply, ▶ Preview of a character's voice, spoken replies.

Every clip goes out as a real Discord voice message (`bot.ui.voice_message`) from the bot account
as a reply to the character's message: webhooks cannot send voice messages. Listen and Preview are
router buttons (the gate and admission run first, and they work after a restart: the custom id
carries the reply's or the character's id). The press is acknowledged privately at once ("thinking"),
since speech takes a few seconds; refusals (voice off, not your reply, limits) come back privately
through the router's error reporter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

import discord

from bot.audio import VoiceClip
from bot.errors import UserError
from bot.senses import Speaking
from bot.senses.speaking import Voice
from bot.store import characters as character_rows
from bot.ui.places import where_of_interaction
from bot.ui.router import ComponentRouter, view
from bot.ui.voice_message import MAX_VOICE_BYTES, send_voice_message
from bot.where import Where

__all__ = ["PREVIEW_KEPT", "PREVIEW_PATTERN", "PREVIEW_PREFIX", "VoiceControls", "preview_view", "send_clip"]

log = logging.getLogger(__name__)

PREVIEW_PREFIX = "voicepv"
PREVIEW_PATTERN = r"(?P<id>[0-9]+)"  # after "voicepv:": the custom character's id
PREVIEW_KEPT = 120.0  # seconds a preview stays in the channel before the bot removes it
SENT = "🔊 Sent as a voice message."
PREVIEW_SENT = "▶ Preview sent; it removes itself in two minutes."
TOO_BIG = "That reply is too long to send as one voice message here."
NO_CHANNEL = "I can't post a voice message here."


async def send_clip(client: discord.Client, channel_id: int, clip: VoiceClip, *, reply_to: int | None,
                    max_bytes: int = MAX_VOICE_BYTES) -> dict[str, Any]:
    """Post `clip` as a voice message (UserError when it is over the place's upload limit)."""
    try:
        return await send_voice_message(client.http, channel_id, clip, reply_to=reply_to, max_bytes=max_bytes)
    except ValueError:
        raise UserError(TOO_BIG) from None


def preview_view(character_id: int) -> discord.ui.View:
    button: discord.ui.Button[Any] = discord.ui.Button(
        custom_id=f"{PREVIEW_PREFIX}:{character_id}", emoji="▶", label="Preview", style=discord.ButtonStyle.secondary)
    return view(button)


def _upload_limit(interaction: discord.Interaction) -> int:
    limit = getattr(interaction, "filesize_limit", None)
    return min(int(limit), MAX_VOICE_BYTES) if isinstance(limit, int) and limit > 0 else MAX_VOICE_BYTES


class VoiceControls:
    """What 🔊 Listen and ▶ Preview do, and speaking a finished reply unasked."""

    def __init__(self, *, speaking: Speaking) -> None:
        self.speaking = speaking
        self._background: set[asyncio.Task[None]] = set()

    def register(self, router: ComponentRouter) -> None:
        router.button(PREVIEW_PREFIX, PREVIEW_PATTERN, self._on_preview)

    async def listen(self, interaction: discord.Interaction, where: Where, reply_id: int) -> None:
        """🔊 Listen: the reply read aloud, posted as a voice message answering the pressed message."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        clip = await self.speaking.read_aloud(where, reply_id)
        if interaction.channel_id is None:
            raise UserError(NO_CHANNEL)
        reply_to = interaction.message.id if interaction.message is not None else None
        await send_clip(interaction.client, interaction.channel_id, clip, reply_to=reply_to,
                        max_bytes=_upload_limit(interaction))
        await interaction.edit_original_response(content=SENT)

    async def _on_preview(self, interaction: discord.Interaction, match: re.Match[str]) -> None:
        await self.preview(interaction, int(match["id"]))

    async def preview(self, interaction: discord.Interaction, character_id: int) -> None:
        """▶ Preview: a short line in the character's voice, removed from the channel after a while."""
        row = await character_rows.get(self.speaking.sessions, character_id)
        if row is None or not character_rows.may_use(row, user_id=interaction.user.id,
                                                     guild_id=interaction.guild_id):
            raise UserError("That character no longer exists.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        where = where_of_interaction(interaction, "voice preview")
        voice = (Voice(row.tts_model or "tts-kokoro", row.tts_voice) if row.tts_voice
                 else await self.speaking.default_voice(where))
        clip = await self.speaking.preview(where, voice)
        if interaction.channel_id is None:
            raise UserError(NO_CHANNEL)
        sent = await send_clip(interaction.client, interaction.channel_id, clip, reply_to=None,
                               max_bytes=_upload_limit(interaction))
        await interaction.edit_original_response(content=PREVIEW_SENT)
        self._later(self._remove(interaction.client, interaction.channel_id, int(sent["id"])), "voice-preview-remove")

    def speak_reply(self, client: discord.Client, where: Where, channel_id: int, reply_id: int,
                          reply_to: int | None) -> None:
        """"Speak every reply": in the background, so the next turn is not held up; a failure is a
        short note under the reply (never an error on the reply itself)."""

        async def run() -> None:
            try:
                clip = await self.speaking.read_aloud(where, reply_id)
                await send_clip(client, channel_id, clip, reply_to=reply_to)
            except UserError as refused:
                await self._note(client, channel_id, reply_to, f"-# 🔇 Not spoken: {refused.user_message}")
            except Exception as exc:  # Venice or Discord failed: the reply stands as text
                log.warning("speaking reply %s failed: %s", reply_id, type(exc).__name__)
                note = getattr(exc, "user_message", None) or "the voice could not be made right now."
                await self._note(client, channel_id, reply_to, f"-# 🔇 Not spoken: {note}")

        self._later(run(), f"voice-speak-{reply_id}")

    async def drain(self) -> None:
        """Wait for the background work (tests, shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    def cancel(self) -> None:
        for task in list(self._background):
            task.cancel()

    def _later(self, work: Any, name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @staticmethod
    async def _remove(client: discord.Client, channel_id: int, message_id: int) -> None:
        await asyncio.sleep(PREVIEW_KEPT)
        with contextlib.suppress(discord.HTTPException):
            await client.http.delete_message(channel_id, message_id)

    @staticmethod
    async def _note(client: discord.Client, channel_id: int, reply_to: int | None, text: str) -> None:
        channel = client.get_partial_messageable(channel_id)
        reference = (discord.MessageReference(message_id=reply_to, channel_id=channel_id, fail_if_not_exists=False)
                     if reply_to is not None else None)
        with contextlib.suppress(discord.HTTPException):
            await channel.send(text[:2000], reference=reference, allowed_mentions=discord.AllowedMentions.none(),
                               silent=True)
