"""/lorebook import | list | attach | detach | export | delete, and /character lore.

Thin: options in, `LorebookService` calls, short ephemeral replies out (attaching to a channel's
conversation or a server is also said in the channel). A book attached to "my persona" is the
person's persona lore: it joins every turn they speak, wherever they chat, and only they see it.
The tree's check runs the age gate for every command and autocomplete.
"""

from __future__ import annotations

import io

import discord
from discord import app_commands
from discord.ext import commands

from bot.characters import worlds
from bot.characters.service import parse_ref
from bot.errors import UserError
from bot.services import Services, services_of
from bot.store import characters as characters_repo
from bot.store import lorebooks as repo
from bot.ui.names import shown
from bot.ui.places import where_of_interaction

NO_MENTIONS = discord.AllowedMentions.none()
PLACES = [
    app_commands.Choice(name="this channel's conversation", value="conversation"),
    app_commands.Choice(name="the character playing here", value="character"),
    app_commands.Choice(name="this whole server (Manage Server)", value="server"),
    app_commands.Choice(name="my persona (wherever I chat)", value="persona"),
]
PLACE_WORDS = {"conversation": "this channel's conversation", "character": "the character playing here",
               "server": "this server", "persona": "your persona"}


def manages_server(interaction: discord.Interaction) -> bool:
    perms = interaction.permissions
    return interaction.guild_id is not None and bool(perms.manage_guild or perms.administrator)


class Lorebooks(commands.Cog):
    """Standalone lorebooks (SillyTavern's world info)."""

    lorebook = app_commands.Group(name="lorebook", description="Your lorebooks (SillyTavern world info)", nsfw=True)

    def __init__(self, bot: commands.Bot, services: Services) -> None:
        self.bot = bot
        self.services = services

    # -- where ------------------------------------------------------------------------------------

    async def _target(self, interaction: discord.Interaction, scope: str, *, attaching: bool) -> str:
        """The place `scope` names here, as stored; UserError when there is none or it is not yours."""
        if scope == "conversation":
            conv = await self.services.chat.conversations.active(interaction.channel_id or 0)
            if conv is None:
                raise UserError("There is no conversation in this channel yet: say something first.")
            return str(conv.id)
        if scope == "persona":  # SillyTavern's persona lore: the person's own, read on their turns
            return str(interaction.user.id)
        if scope == "server":
            if interaction.guild_id is None:
                raise UserError("Server lorebooks only work in a server.")
            if not manages_server(interaction):
                raise UserError("Only someone with Manage Server can change the server's lorebooks.")
            return str(interaction.guild_id)
        assert interaction.channel_id is not None
        character, ref, _source = await self.services.characters.for_channel(
            channel_id=interaction.channel_id, guild_id=interaction.guild_id,
            parent_id=getattr(interaction.channel, "parent_id", None) if isinstance(
                interaction.channel, discord.Thread) else None)
        parsed = parse_ref(ref)
        if parsed is None or parsed[0] != "custom":
            raise UserError(f"**{shown(character.name)}** is not a character of yours: lorebooks attach to "
                            "custom characters (`/character create` or `/character import`). "
                            "Attach it to this channel's conversation instead.")
        row = await characters_repo.get(self.services.sessions, int(parsed[1]))
        if row is None or not characters_repo.may_manage(
                row, user_id=interaction.user.id, guild_id=interaction.guild_id,
                server_admin=manages_server(interaction)):
            raise UserError("Only the character's creator can change its lorebooks.")
        return ref

    # -- autocomplete -----------------------------------------------------------------------------

    async def own_book(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        found = await self.services.lorebooks.mine(interaction.user.id, current.strip()[:100])
        return [app_commands.Choice(name=f"{b.name} ({b.entries} entries)"[:100], value=f"#{b.id}") for b in found]

    async def attached_book(self, interaction: discord.Interaction,
                            current: str) -> list[app_commands.Choice[str]]:
        places = await self._places(interaction)
        found = await self.services.lorebooks.attached(places)
        out, seen = [], set()
        for item in found:
            if item.id in seen or current.lower() not in item.name.lower():
                continue
            seen.add(item.id)
            out.append(app_commands.Choice(name=f"{item.name} · {PLACE_WORDS[item.scope]}"[:100], value=f"#{item.id}"))
        return out[:25]

    async def _places(self, interaction: discord.Interaction) -> list[tuple[str, str]]:
        places: list[tuple[str, str]] = []
        conv = await self.services.chat.conversations.active(interaction.channel_id or 0)
        if conv is not None:
            places.append(("conversation", str(conv.id)))
        if interaction.channel_id is not None:
            _character, ref, _ = await self.services.characters.for_channel(
                channel_id=interaction.channel_id, guild_id=interaction.guild_id,
                parent_id=interaction.channel.parent_id if isinstance(interaction.channel, discord.Thread) else None)
            places.append(("character", ref))
        if interaction.guild_id is not None:
            places.append(("server", str(interaction.guild_id)))
        places.append(("persona", str(interaction.user.id)))
        return places

    # -- commands ---------------------------------------------------------------------------------

    @lorebook.command(name="import", description="Import a lorebook (SillyTavern world JSON, KoboldAI, NovelAI, …)")
    @app_commands.describe(file="The lorebook file (.json; a character card's own book works too)",
                           name="What to call it (default: its own name or the file's); same name replaces")
    async def import_book(self, interaction: discord.Interaction, file: discord.Attachment,
                          name: app_commands.Range[str, 1, 100] | None = None) -> None:
        if file.size > worlds.MAX_CARD_BYTES:
            raise UserError(f"That file is {file.size / 2**20:.1f} MiB; lorebooks can be at most "
                            f"{worlds.MAX_CARD_BYTES >> 20} MiB.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        where = where_of_interaction(interaction, "lorebook import")
        await self.services.lorebooks.begin_import(where)
        data = await file.read()
        book, replaced = await self.services.lorebooks.import_file(data, file.filename, where=where, name=name)
        verb = "Replaced" if replaced else "Imported"
        await interaction.followup.send(
            f"📚 {verb} **{shown(book.name)}** ({book.entries} entries). `/lorebook attach` puts it to work "
            "in this channel's conversation, on a character of yours, on the server, or on your persona.",
            ephemeral=True)

    @lorebook.command(name="list", description="Your lorebooks, and the ones at work here")
    async def list_books(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        mine = await self.services.lorebooks.mine(interaction.user.id, limit=50)
        here = await self.services.lorebooks.attached(await self._places(interaction))
        embed = discord.Embed(title="Lorebooks")
        embed.add_field(name="Yours", inline=False, value="\n".join(
            f"• **{shown(b.name)}** — {b.entries} entries, {b.size / 1024:.0f} KiB" for b in mine)[:1024]
            or "None yet: `/lorebook import` a SillyTavern world JSON.")
        embed.add_field(name="At work here", inline=False, value="\n".join(
            f"• **{shown(a.name)}** — {PLACE_WORDS[a.scope]}" for a in here)[:1024] or "None.")
        await interaction.followup.send(embed=embed, ephemeral=True)

    @lorebook.command(name="attach", description="Put one of your lorebooks to work here")
    @app_commands.describe(book="One of your lorebooks", to="Where (default: this channel's conversation)")
    @app_commands.autocomplete(book=own_book)
    @app_commands.choices(to=PLACES)
    async def attach(self, interaction: discord.Interaction, book: app_commands.Range[str, 1, 100],
                     to: str = "conversation") -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        target = await self._target(interaction, to, attaching=True)
        found, added = await self.services.lorebooks.attach(interaction.user.id, book, to, target,
                                                            guild_id=interaction.guild_id)
        if not added:
            await interaction.edit_original_response(
                content=f"**{shown(found.name)}** was already attached to {PLACE_WORDS[to]}.")
            return
        await interaction.edit_original_response(
            content=f"📚 **{shown(found.name)}** now works in {PLACE_WORDS[to]}: its entries fire from the next turn.")
        if to in ("conversation", "server"):
            await interaction.followup.send(
                f"📚 {interaction.user.mention} attached the lorebook **{shown(found.name)}** to {PLACE_WORDS[to]}.",
                allowed_mentions=NO_MENTIONS)

    @lorebook.command(name="detach", description="Take a lorebook out of play here")
    @app_commands.describe(book="A lorebook at work here", place="Where it is attached (default: the conversation)")
    @app_commands.autocomplete(book=attached_book)
    @app_commands.choices(place=PLACES)
    async def detach(self, interaction: discord.Interaction, book: app_commands.Range[str, 1, 100],
                     place: str = "conversation") -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        places = dict(await self._places(interaction))
        target = places.get(place)
        found = [a for a in await self.services.lorebooks.attached([(place, target)] if target else [])
                 if f"#{a.id}" == book.strip() or a.name.lower() == book.strip().lower()]
        if not found:
            raise UserError(f"No lorebook by that name is attached to {PLACE_WORDS[place]}.")
        item = found[0]
        assert target is not None
        link = await repo.link(self.services.sessions, item.id, place, target)
        row = await repo.get(self.services.sessions, item.id)
        mine = (row is not None and row.owner_id == interaction.user.id) or (
            link is not None and link.added_by == interaction.user.id)
        if not mine:
            if place == "conversation":
                where = where_of_interaction(interaction, "lorebook detach")
                allowed = where.moderator
            elif place == "server":
                allowed = manages_server(interaction)
            elif place == "persona":
                allowed = True  # their own persona
            else:
                await self._target(interaction, "character", attaching=False)  # raises unless theirs
                allowed = True
            if not allowed:
                raise UserError("Only whoever attached it, its owner or a moderator can take it out.")
        await self.services.lorebooks.detach(item.id, place, target)
        await interaction.edit_original_response(
            content=f"📕 **{shown(item.name)}** is no longer attached to {PLACE_WORDS[place]}.")

    @lorebook.command(name="export", description="Download one of your lorebooks as SillyTavern world JSON")
    @app_commands.describe(book="One of your lorebooks")
    @app_commands.autocomplete(book=own_book)
    async def export(self, interaction: discord.Interaction, book: app_commands.Range[str, 1, 100]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        filename, data = await self.services.lorebooks.export(interaction.user.id, book)
        await interaction.followup.send("📤 SillyTavern imports this under World Info → Import.",
                                        file=discord.File(io.BytesIO(data), filename=filename), ephemeral=True)

    @lorebook.command(name="delete", description="Delete one of your lorebooks (everywhere it is attached)")
    @app_commands.describe(book="One of your lorebooks")
    @app_commands.autocomplete(book=own_book)
    async def delete(self, interaction: discord.Interaction, book: app_commands.Range[str, 1, 100]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        found = await self.services.lorebooks.delete(interaction.user.id, book)
        await interaction.edit_original_response(
            content=f"🗑️ Deleted **{shown(found.name)}**; it no longer works anywhere it was attached.")


async def setup(bot: commands.Bot) -> None:
    services = services_of(bot)
    await bot.add_cog(Lorebooks(bot, services))
