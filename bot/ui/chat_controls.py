"""What the buttons under a reply and the edit form do: each one asks the chat service.

The gate and admission have run before a handler is called. Each handler calls the same service
method every other entry point uses; the service checks that the reply is in this place and that
the presser is its owner or a moderator here (refusals are a private answer), then acknowledges
through the renderer (`cleared`: a deferral here) before it waits for the channel's turn.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.chat.rules import EDIT_MAX
from bot.chat.service import ChatService
from bot.images.service import ImageService
from bot.ui.chat_reply import DiscordReply
from bot.ui.chat_views import (
    BUTTON_PATTERN,
    BUTTON_PREFIX,
    EDIT_FIELD,
    FORM_PATTERN,
    FORM_PREFIX,
    SCENE_PATTERN,
    SCENE_PREFIX,
    EditReplyModal,
)
from bot.ui.image_surface import post_scene_image
from bot.ui.personas import PersonaPoster
from bot.ui.places import where_of_interaction
from bot.ui.router import NOT_IN_USE, ComponentRouter
from bot.ui.voice_controls import VoiceControls
from bot.where import Where

log = logging.getLogger(__name__)

DELETED = "Deleted: that exchange has left the story."

Handler = Callable[[discord.Interaction, Where, int], Awaitable[None]]


class ChatControls:
    """The reply buttons (`chat:<action>:<reply id>`) and the edit form (`chatedit:<reply id>`)."""

    def __init__(self, *, chat: ChatService, poster: PersonaPoster, images: ImageService,
                 edit_interval: Callable[[], float], voice: VoiceControls | None = None) -> None:
        self.chat = chat
        self.poster = poster
        self.images = images
        self.edit_interval = edit_interval
        self.voice = voice
        self.handlers: dict[str, Handler] = {
            "stop": self.stop, "prev": self.previous, "next": self.next, "regen": self.regenerate,
            "cont": self.continue_reply, "edit": self.edit, "del": self.delete, "pic": self.picture,
        }
        if voice is not None:
            self.handlers["listen"] = voice.listen

    def register(self, router: ComponentRouter) -> None:
        """The reply buttons and the edit form, as the router dispatches them."""
        router.button(BUTTON_PREFIX, BUTTON_PATTERN, self._on_button)
        router.form(FORM_PREFIX, FORM_PATTERN, self._on_form, fields={EDIT_FIELD: EDIT_MAX})
        router.button(SCENE_PREFIX, SCENE_PATTERN, self._on_scene)

    async def _on_scene(self, interaction: discord.Interaction, match: re.Match[str]) -> None:
        """⏭ Next, or the "who answers" select: another character speaks without new words."""
        ref = None
        if match["action"] == "pick":
            data: Any = interaction.data or {}
            values = data.get("values") or []
            if not values or not isinstance(values[0], str):
                await interaction.response.send_message(NOT_IN_USE, ephemeral=True)
                return
            ref = values[0]
        where = where_of_interaction(interaction, "chat")
        await self.chat.scene_next(
            where, int(match["id"]), self.reply(interaction, typing=True, fresh=True), ref=ref,
            renderers=lambda: DiscordReply(poster=self.poster, channel=interaction.channel,
                                           edit_interval=self.edit_interval()))

    async def _on_button(self, interaction: discord.Interaction, match: re.Match[str]) -> None:
        await self.press(interaction, match["action"], int(match["id"]))

    async def _on_form(self, interaction: discord.Interaction, match: re.Match[str], values: dict[str, str]) -> None:
        await self.submit_edit(interaction, int(match["id"]), values.get(EDIT_FIELD, ""))

    def reply(self, interaction: discord.Interaction, *, typing: bool = False, ephemeral: bool = False,
              thinking: bool = False, fresh: bool = False) -> DiscordReply:
        """A renderer over the reply whose button was pressed; it acknowledges with a deferral.
        `fresh`: the renderer writes a new reply (⏭ Next) rather than the pressed one."""

        async def acknowledge() -> None:
            await interaction.response.defer(ephemeral=ephemeral, thinking=thinking)

        return DiscordReply(poster=self.poster, channel=interaction.channel, edit_interval=self.edit_interval(),
                            acknowledge=acknowledge, pressed=None if fresh else interaction.message, typing=typing)

    async def press(self, interaction: discord.Interaction, action: str, reply_id: int) -> None:
        handler = self.handlers.get(action)
        if handler is None:
            await interaction.response.send_message(NOT_IN_USE, ephemeral=True)
            return
        await handler(interaction, where_of_interaction(interaction, "chat"), reply_id)

    # -- the buttons ----------------------------------------------------------------------------

    async def stop(self, interaction: discord.Interaction, where: Where, reply_id: int) -> None:
        await self.chat.stop(where, reply_id, self.reply(interaction))

    async def previous(self, interaction: discord.Interaction, where: Where, reply_id: int) -> None:
        await self.chat.swipe(where, reply_id, -1, self.reply(interaction))

    async def next(self, interaction: discord.Interaction, where: Where, reply_id: int) -> None:
        await self.chat.swipe(where, reply_id, +1, self.reply(interaction))

    async def regenerate(self, interaction: discord.Interaction, where: Where, reply_id: int) -> None:
        await self.chat.regenerate(where, reply_id, self.reply(interaction, typing=True))

    async def continue_reply(self, interaction: discord.Interaction, where: Where, reply_id: int) -> None:
        await self.chat.continue_reply(where, reply_id, self.reply(interaction, typing=True))

    async def edit(self, interaction: discord.Interaction, where: Where, reply_id: int) -> None:
        reply = await self.chat.reply_to_edit(where, reply_id)
        await interaction.response.send_modal(EditReplyModal(reply.id, reply.content))

    async def submit_edit(self, interaction: discord.Interaction, reply_id: int, text: str) -> None:
        """The edit form, on any bot process: checked again here, whatever its custom id says."""
        where = where_of_interaction(interaction, "chat edit")
        await self.chat.edit_reply(where, reply_id, text, self.reply(interaction))

    async def delete(self, interaction: discord.Interaction, where: Where, reply_id: int) -> None:
        """The reply and the message it answered leave the story, and the reply leaves Discord."""
        deleted = await self.chat.delete_reply(where, reply_id, self.reply(interaction, ephemeral=True, thinking=True))
        if deleted.asked_ids:
            await _delete_echo(interaction, deleted.asked_ids[0])
        await interaction.edit_original_response(content=DELETED)

    async def picture(self, interaction: discord.Interaction, where: Where, reply_id: int) -> None:
        """A scene image: Venice describes the scene from the last turns, the image service draws it."""
        scene = await self.chat.describe_scene(where, reply_id, lambda: interaction.response.defer(thinking=True))
        await post_scene_image(interaction, self.images, scene_prompt=scene.prompt, character=scene.character,
                               character_ref=scene.character_ref, cast=scene.cast)


async def _delete_echo(interaction: discord.Interaction, message_id: int) -> None:
    """A /chat acknowledgement (the bot's copy of what was said) goes too; a person's own message stays."""
    channel = interaction.channel
    me = interaction.client.user
    if me is None or not isinstance(channel, discord.abc.Messageable):
        return
    with contextlib.suppress(discord.HTTPException):
        message = await channel.fetch_message(message_id)
        if message.author.id == me.id:
            await message.delete()
