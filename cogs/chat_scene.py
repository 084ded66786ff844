"""/scene add | remove | list | mode: several characters in one channel's conversation.

Thin: a character is chosen and checked exactly as `/character set` chooses it
(`CharacterService.choose`, which screens what it resolves), then the chat service adds it to the
conversation's cast. The gate is the tree's check, as for every command and autocomplete.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.characters.service import CharacterService
from bot.chat import scene_cast, speakers
from bot.chat.service import ChatService
from bot.errors import UserError
from bot.store.cast import MAX_CAST, Added
from bot.ui.names import shown
from bot.ui.places import where_of_interaction

NO_MENTIONS = discord.AllowedMentions.none()
MODE_CHOICES = [
    app_commands.Choice(name="natural — the most talkative, never the same one forever", value="natural"),
    app_commands.Choice(name="round robin — one after another, in cast order", value="round_robin"),
    app_commands.Choice(name="everyone — each character answers once, in order", value="everyone"),
    app_commands.Choice(name="manual — only who you name, or pick under the latest reply", value="manual"),
]


class SceneCog(commands.Cog, name="Scenes"):
    scene = app_commands.Group(name="scene", description="Several characters in this channel's story", nsfw=True)

    def __init__(self, bot: commands.Bot, *, chat: ChatService, characters: CharacterService) -> None:
        self.bot = bot
        self.chat = chat
        self.characters = characters

    # -- autocomplete -----------------------------------------------------------------------------

    async def any_character(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        """The same suggestions as /character set."""
        cog: Any = self.bot.get_cog("Characters")
        if cog is None:
            return []
        return await cog.any_character(interaction, current)  # type: ignore[no-any-return]

    async def in_cast(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        view = await self.chat.scene_view(where_of_interaction(interaction, "scene"))
        members = view.members if view is not None else ()
        needle = current.strip().casefold()
        return [app_commands.Choice(name=m.name[:100] or "?", value=m.ref[:100])
                for m in members if needle in m.name.casefold()][:25]

    # -- commands ---------------------------------------------------------------------------------

    @scene.command(name="add", description=f"Bring a character into this channel's scene (up to {MAX_CAST})")
    @app_commands.describe(character="Start typing: your characters, the server's, and Venice's")
    @app_commands.autocomplete(character=any_character)
    async def add(self, interaction: discord.Interaction, character: app_commands.Range[str, 1, 100]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        where = where_of_interaction(interaction, "scene add")
        found, ref = await self.characters.choose(character, user_id=interaction.user.id,
                                                  guild_id=interaction.guild_id, where=where)
        added = await self.chat.scene_add(where, ref, found.name)
        name = shown(found.name)
        if added is Added.ALREADY:
            raise UserError(f"**{name}** is already in this scene.")
        if added is Added.FULL:
            raise UserError(f"This scene already has {MAX_CAST} characters. Remove one first with `/scene remove`.")
        view = await self.chat.scene_view(where)
        names = ", ".join(shown(m.name) for m in view.members) if view is not None else name
        await interaction.edit_original_response(content=f"✅ **{name}** joined the scene: {names}.")
        await interaction.followup.send(f"🎭 {interaction.user.mention} brought **{name}** into the scene.",
                                        allowed_mentions=NO_MENTIONS)

    @scene.command(name="remove", description="Send a character off stage (the conversation stays)")
    @app_commands.describe(character="Who leaves the scene")
    @app_commands.autocomplete(character=in_cast)
    async def remove(self, interaction: discord.Interaction, character: app_commands.Range[str, 1, 100]) -> None:
        where = where_of_interaction(interaction, "scene remove")
        view = await self.chat.scene_view(where)
        member = view.member(character) if view is not None else None
        if member is None and view is not None:  # a name typed by hand
            member = next((m for m in view.members if m.name.casefold() == character.strip().casefold()), None)
        if member is None:
            raise UserError("That character isn't in this scene (`/scene list` shows who is).")
        await interaction.response.defer(thinking=True)  # a reply being written holds the channel's turn
        if not await self.chat.scene_remove(where, member.ref):
            raise UserError("That character had already left the scene.")
        await interaction.edit_original_response(content=f"👋 **{shown(member.name)}** left the scene.",
                                                 allowed_mentions=NO_MENTIONS)

    @scene.command(name="list", description="Who is in this channel's scene, and who answers")
    async def list_(self, interaction: discord.Interaction) -> None:
        view = await self.chat.scene_view(where_of_interaction(interaction, "scene list"))
        text = scene_cast.describe(view, show=shown, limit=self.chat.chain_limit)
        embed = discord.Embed(title="The scene", description=text[:4000])
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @scene.command(name="mode", description="How the next speaker is chosen")
    @app_commands.describe(mode="Who answers when nobody is named")
    @app_commands.choices(mode=MODE_CHOICES)
    async def mode(self, interaction: discord.Interaction, mode: app_commands.Choice[str]) -> None:
        where = where_of_interaction(interaction, "scene mode")
        await interaction.response.defer(thinking=True)
        await self.chat.scene_mode(where, mode.value)
        label = speakers.MODE_LABELS.get(mode.value, mode.value)
        await interaction.edit_original_response(content=f"🎬 Who answers in this scene: **{label}**.")
