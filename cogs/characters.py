"""/character browse | set | info | clear | create | edit | delete | import | export, and /persona.

Thin: options in, `CharacterService` calls, embeds out. The tree's check runs the age gate for
every command and autocomplete; the component router runs it for buttons and forms. Replies
that only concern the user are ephemeral; choosing a character for a channel is announced there.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import secrets
import time
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.cache import TTLCache
from bot.characters import avatars
from bot.characters.cards import MAX_CARD_BYTES
from bot.characters.lore_state import LoreState
from bot.characters.names import check_name
from bot.characters.service import BUILTINS, parse_ref
from bot.errors import UserError
from bot.senses.speaking import Voice
from bot.services import Services, services_of
from bot.store import characters as repo
from bot.store import personas
from bot.ui.character_views import (
    BROWSE_PATTERN,
    BROWSE_PREFIX,
    DELETE_PATTERN,
    DELETE_PREFIX,
    FORM_LIMITS,
    FORM_PATTERN,
    FORM_PREFIX,
    SEARCH_LIMIT,
    TAG_LIMIT,
    USE_PATTERN,
    USE_PREFIX,
    CharacterModal,
    apply_form,
    browse_message,
    browse_query,
    character_embed,
    delete_view,
    form_id,
    kept_fields,
    trim,
)
from bot.ui.names import shown
from bot.ui.places import where_of_interaction
from bot.ui.router import ComponentRouter
from bot.ui.voice_controls import preview_view
from bot.where import Where

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
AVATAR_KEPT = 15 * 60.0  # seconds: as long as Discord keeps a form open
AUTOCOMPLETE_WAIT = 1.5  # seconds Venice gets inside an autocomplete (Discord allows 3 in all)
NOT_YOURS = "Only its creator (or, for this server's characters, someone with Manage Server) can do that."


def where_of(interaction: discord.Interaction, entry: str) -> Where:
    return Where(interaction.user.id, interaction.guild_id, interaction.channel_id, entry)


def parent_of(interaction: discord.Interaction) -> int | None:
    channel = interaction.channel
    return channel.parent_id if isinstance(channel, discord.Thread) else None


def server_admin(interaction: discord.Interaction) -> bool:
    perms = interaction.permissions
    return interaction.guild_id is not None and bool(perms.manage_guild or perms.administrator)


async def announce(interaction: discord.Interaction, private: str, embed: discord.Embed, public: str) -> None:
    """After an ephemeral defer: settle the private reply, then tell the channel."""
    await interaction.edit_original_response(content=private)
    await interaction.followup.send(public, embed=embed, allowed_mentions=NO_MENTIONS)


async def apply_choice(services: Services, interaction: discord.Interaction, text: str) -> None:
    """Make `text` (a reference or a typed name) this channel's character, and say so."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    where = where_of(interaction, "character set")
    character, ref = await services.characters.choose(
        text, user_id=interaction.user.id, guild_id=interaction.guild_id, where=where)
    assert interaction.channel_id is not None
    await services.characters.set_for_channel(channel_id=interaction.channel_id, guild_id=interaction.guild_id,
                                              ref=ref)
    place = "thread" if isinstance(interaction.channel, discord.Thread) else "channel"
    embed = character_embed(character, source=f"set for this {place}")
    await announce(interaction, f"✅ **{shown(character.name)}** now plays in this {place}.", embed,
                   f"🎭 {interaction.user.mention} chose **{shown(character.name)}** for this {place}.")
    # The chat cog starts a fresh conversation with the new character's greeting.
    interaction.client.dispatch("character_changed", interaction.channel, interaction.user)


async def delete_character(services: Services, interaction: discord.Interaction, character_id: int) -> None:
    """The confirm button's work: check rights again (they may have changed), then delete."""
    row = await repo.get(services.sessions, character_id)
    if row is None:
        await interaction.response.edit_message(content="That character was already deleted.", view=None)
        return
    if not repo.may_manage(row, user_id=interaction.user.id, guild_id=interaction.guild_id,
                           server_admin=server_admin(interaction)):
        raise UserError(NOT_YOURS)
    await services.characters.delete(character_id)
    await interaction.response.edit_message(
        content=f"🗑️ Deleted **{shown(row.name)}**. Conversations with it stay readable; channels that used it "
                "go back to their default character.", view=None)


async def load_avatar(bot: Any, services: Services, attachment: discord.Attachment | None,
                      url: str | None, where: Where) -> tuple[str | None, bytes | None] | None:
    """(public URL, PNG bytes) from the avatar options, or None when neither was given; the
    picture has passed the vision judge (or `Refused` / `CheckUnavailable` was raised)."""
    if attachment is not None:
        return await services.characters.avatar_from_upload(attachment, where=where)
    if url:
        return await services.characters.avatar_from_link(url, where=where)
    return None


def precheck_avatar(attachment: discord.Attachment | None, url: str | None) -> None:
    """What can be refused before the form opens (the download waits until after it)."""
    if attachment is not None and url:
        raise UserError("Give the avatar as an attachment or as a link, not both.")
    if attachment is not None and attachment.size > avatars.AVATAR_MAX_BYTES:
        raise UserError(f"That image is too large; avatars can be at most {avatars.AVATAR_MAX_BYTES // 2**20} MiB.")
    if url:
        avatars.check_url(url)


def choice(label: str, value: str) -> app_commands.Choice[str]:
    return app_commands.Choice(name=trim(label, 100), value=value[:100])


async def character_lore(services: Services, interaction: discord.Interaction) -> None:
    """`/character lore`: which entries fired on the channel's last turn and why (ephemeral)."""
    conv = await services.chat.conversations.active(interaction.channel_id or 0)
    if conv is None:
        raise UserError("There is no conversation in this channel yet.")
    state = LoreState.from_json(conv.lore_state)
    embed = discord.Embed(title=f"Lore on the last turn with {shown(conv.character_name)}")
    lines = lore_lines(state.fired)
    text = "\n".join(lines)
    if len(text) > 4000:
        text = text[:3990].rsplit("\n", 1)[0] + "\n…"
    embed.description = text or "No lorebook entry fired on the last turn."
    ref = conv.character_ref
    here = await services.lorebooks.attached([("conversation", str(conv.id)), ("character", ref)]
                                             + ([("server", str(conv.guild_id))] if conv.guild_id else [])
                                             + [("persona", str(interaction.user.id))])
    if here:
        embed.add_field(name="Lorebooks attached", inline=False, value="\n".join(
            f"• {shown(a.name)} — {LORE_PLACES[a.scope]}" for a in here)[:1024])
    if state.sticky:
        embed.set_footer(text=f"{len(state.sticky)} entr{'y' if len(state.sticky) == 1 else 'ies'} stay on (sticky); "
                              f"{len(state.cooldown)} cooling down.")
    await interaction.response.send_message(embed=embed, ephemeral=True)


LORE_PLACES = {"conversation": "this conversation", "character": "the character", "server": "this server",
               "persona": "your persona"}


def lore_lines(fired: list[dict[str, str]]) -> list[str]:
    """`/character lore`'s lines: each entry, its book, and why it fired (or was left out)."""
    lines = []
    for item in fired:
        book = f" · {shown(item['book'])}" if item.get("book") else ""
        lines.append(f"• **{shown(item.get('name', '?'))}**{book} — {shown(item.get('why', ''))}")
    return lines


class Characters(commands.Cog):
    """Who the bot plays, and who you are."""

    character = app_commands.Group(name="character", description="Choose, create and share characters", nsfw=True)
    persona = app_commands.Group(name="persona", description="Who you are in the story ({{user}})", nsfw=True)

    def __init__(self, bot: commands.Bot, services: Services) -> None:
        self.bot = bot
        self.services = services
        self._avatars = TTLCache(AVATAR_KEPT, time.monotonic)  # form token -> the command's avatar

    def register(self, router: ComponentRouter) -> None:
        """Catalogue paging, "use this character", the delete confirmation and the form."""
        router.button(BROWSE_PREFIX, BROWSE_PATTERN, self.on_browse)
        router.button(USE_PREFIX, USE_PATTERN, self.on_use)
        router.button(DELETE_PREFIX, DELETE_PATTERN, self.on_delete)
        router.form(FORM_PREFIX, FORM_PATTERN, self.on_form, fields=FORM_LIMITS)

    async def on_browse(self, interaction: discord.Interaction, match: re.Match[str]) -> None:
        index, search, tag = browse_query(match)
        page = await self.services.characters.catalogue.page(search=search, tag=tag, index=index)
        embed, view = browse_message(page, search, tag)
        await interaction.response.edit_message(embed=embed, view=view)

    async def on_use(self, interaction: discord.Interaction, match: re.Match[str]) -> None:
        await apply_choice(self.services, interaction, f"venice:{match['slug']}")

    async def on_delete(self, interaction: discord.Interaction, match: re.Match[str]) -> None:
        await delete_character(self.services, interaction, int(match["id"]))

    # -- autocomplete -----------------------------------------------------------------------------

    async def _custom_choices(self, interaction: discord.Interaction, current: str,
                              *, manage: bool = False) -> list[app_commands.Choice[str]]:
        if manage:
            found = await repo.manageable(self.services.sessions, user_id=interaction.user.id,
                                          guild_id=interaction.guild_id, server_admin=server_admin(interaction),
                                          search=current, limit=25)
        else:
            found = await repo.usable(self.services.sessions, user_id=interaction.user.id,
                                      guild_id=interaction.guild_id, search=current, limit=15)
        out = []
        for summary in found:
            whose = "yours" if summary.owner_id == interaction.user.id else "server"
            out.append(choice(f"{summary.name} · {whose}{' · shared' if summary.shared else ''}", summary.ref))
        return out

    def _builtin_choices(self, current: str) -> list[app_commands.Choice[str]]:
        needle = current.strip().lower()
        return [choice(f"{c.name} · built in", f"builtin:{key}") for key, c in BUILTINS.items()
                if needle in c.name.lower()]

    async def any_character(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        """Custom characters this user may use, the built-ins, then Venice's catalogue."""
        custom, venice = await asyncio.gather(
            self._custom_choices(interaction, current),
            self.services.characters.catalogue.suggestions(current, wait=AUTOCOMPLETE_WAIT),
            return_exceptions=True,
        )
        out = [] if isinstance(custom, BaseException) else list(custom)
        out += self._builtin_choices(current)
        if not isinstance(venice, BaseException):
            for found in venice:
                rating = f" · ★{found.rating:.1f}" if found.rating is not None else ""
                out.append(choice(f"{found.name} · Venice{rating}", f"venice:{found.slug}"))
        return out[:25]

    async def own_character(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await self._custom_choices(interaction, current, manage=True)

    async def exportable(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return ((await self._custom_choices(interaction, current)) + self._builtin_choices(current))[:25]

    # -- choosing ---------------------------------------------------------------------------------

    @character.command(name="browse", description="Look through Venice's adult characters")
    @app_commands.describe(search="Words in the name or description", tag="Only characters with this tag")
    async def browse(self, interaction: discord.Interaction,
                     search: app_commands.Range[str, 1, SEARCH_LIMIT] | None = None,
                     tag: app_commands.Range[str, 1, TAG_LIMIT] | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        page = await self.services.characters.catalogue.page(search=search or "", tag=tag or "", index=0)
        embed, view = browse_message(page, search or "", tag or "")
        await interaction.followup.send(embed=embed, view=view, ephemeral=True)

    @character.command(name="set", description="Choose who plays in this channel (threads follow their channel)")
    @app_commands.describe(character="Start typing: your characters, the server's, and Venice's")
    @app_commands.autocomplete(character=any_character)
    async def set_character(self, interaction: discord.Interaction,
                            character: app_commands.Range[str, 1, 100]) -> None:
        await apply_choice(self.services, interaction, character)

    @character.command(name="info", description="Who plays here, and where that choice comes from")
    async def info(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.channel_id is not None
        character, ref, source = await self.services.characters.for_channel(
            channel_id=interaction.channel_id, guild_id=interaction.guild_id, parent_id=parent_of(interaction))
        owner_id, shared = None, None
        parsed = parse_ref(ref)
        if parsed is not None and parsed[0] == "custom":
            row = await repo.get(self.services.sessions, int(parsed[1]))
            if row is not None:
                owner_id, shared = row.owner_id, row.shared
        embed = character_embed(character, source=source, owner_id=owner_id, shared=shared)
        await interaction.followup.send(embed=embed, ephemeral=True)

    @character.command(name="lore", description="Which lorebook entries fired on the last turn here, and why")
    async def lore(self, interaction: discord.Interaction) -> None:
        await character_lore(self.services, interaction)

    @character.command(name="clear", description="Go back to the server's default character here")
    async def clear(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.channel_id is not None
        await self.services.characters.set_for_channel(
            channel_id=interaction.channel_id, guild_id=interaction.guild_id, ref=None)
        character, _ref, source = await self.services.characters.for_channel(
            channel_id=interaction.channel_id, guild_id=interaction.guild_id, parent_id=parent_of(interaction))
        await announce(interaction, f"✅ Back to **{shown(character.name)}** ({source}).",
                       character_embed(character, source=source),
                       f"🎭 {interaction.user.mention} went back to **{shown(character.name)}** here ({source}).")
        interaction.client.dispatch("character_changed", interaction.channel, interaction.user)

    # -- custom characters ------------------------------------------------------------------------

    @character.command(name="create", description="Make your own character (a form opens)")
    @app_commands.describe(avatar="A picture of the character", avatar_url="Or a link to one",
                           shared="Let everyone in this server use it (default: only you)")
    async def create(self, interaction: discord.Interaction, avatar: discord.Attachment | None = None,
                     avatar_url: str | None = None, shared: bool = False) -> None:
        precheck_avatar(avatar, avatar_url)
        await self.services.characters.check_room(interaction.user.id)
        custom_id = form_id(character_id=None, shared=shared, token=self._stash(avatar, avatar_url))
        await interaction.response.send_modal(CharacterModal(title="New character", base=None, custom_id=custom_id))

    @character.command(name="edit", description="Change one of your characters (a form opens)")
    @app_commands.describe(character="Which one", avatar="A new picture", avatar_url="Or a link to one",
                           shared="Share it with this server, or make it personal again")
    @app_commands.autocomplete(character=own_character)
    async def edit(self, interaction: discord.Interaction, character: str, avatar: discord.Attachment | None = None,
                   avatar_url: str | None = None, shared: bool | None = None) -> None:
        row = await self._manageable_row(interaction, character, editing=True)
        precheck_avatar(avatar, avatar_url)
        base = repo.character_of(row)
        custom_id = form_id(character_id=row.id, shared=shared, token=self._stash(avatar, avatar_url))
        await interaction.response.send_modal(CharacterModal(title=f"Edit {base.name}", base=base, custom_id=custom_id))

    def _stash(self, attachment: discord.Attachment | None, url: str | None) -> str:
        """Keep the command's avatar for its form's submission (in this process only: after a
        restart the form still saves, without the new picture, and says so)."""
        if attachment is None and not url:
            return ""
        token = secrets.token_hex(8)
        self._avatars.put(token, (attachment, url))
        return token

    async def on_form(self, interaction: discord.Interaction, match: re.Match[str], values: dict[str, str]) -> None:
        """A create or edit form, on any bot process: rights and caps are checked again here."""
        stashed = self._avatars.pop(match["token"]) if match["token"] else None
        lost = " Your new picture wasn't kept over a restart: add it with `/character edit`." if (
            match["token"] and stashed is None) else ""
        attachment, url = stashed or (None, None)
        shared = None if match["shared"] == "n" else match["shared"] == "1"
        if match["mode"] == "new":
            await self.services.characters.check_room(interaction.user.id)
            character = apply_form(None, values)
            if not character.name.strip():
                raise UserError("Your character needs a name.")
            await interaction.response.defer(ephemeral=True, thinking=True)
            picture = await load_avatar(self.bot, self.services, attachment, url,
                                        where_of(interaction, "character create avatar"))
            avatar_url, png = picture if picture is not None else (None, None)
            created = await self.services.characters.create(
                character, where=where_of(interaction, "character create"), shared=bool(shared),
                avatar_url=avatar_url, avatar_png=png)
            await interaction.followup.send(
                f"✨ Created **{shown(created.name)}**. Use `/character set` to play it here.{lost}",
                embed=character_embed(created, owner_id=interaction.user.id,
                                      shared=bool(shared) and interaction.guild_id is not None),
                ephemeral=True)
            return
        row = await self._manageable_row(interaction, f"custom:{match['id']}", editing=True)
        base = repo.character_of(row)
        changed, kept = apply_form(base, values), kept_fields(base)
        if not changed.name.strip():
            raise UserError("Your character needs a name.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        picture = await load_avatar(self.bot, self.services, attachment, url,
                                    where_of(interaction, "character edit avatar"))
        await self.services.characters.update(
            row.id, changed, where=where_of(interaction, "character edit"),
            shared=None if shared is None or interaction.guild_id is None else shared, avatar=picture)
        note = f" ({', '.join(kept)} kept as it was: too long for a Discord form)" if kept else ""
        await interaction.followup.send(f"✅ Saved **{shown(changed.name)}**{note}.{lost}", ephemeral=True)

    async def _manageable_row(self, interaction: discord.Interaction, ref: str, *, editing: bool = False) -> Any:
        """The character row, if this user may change it: the owner, or a server admin (for edits,
        only characters shared with the server; deleting covers every character made there)."""
        parsed = parse_ref(ref)
        if parsed is None or parsed[0] != "custom":
            raise UserError("Only custom characters can be changed. Pick one of yours from the list.")
        row = await repo.get(self.services.sessions, int(parsed[1]))
        if row is None:
            raise UserError("That character no longer exists.")
        admin = server_admin(interaction) and (row.shared or not editing)
        if not repo.may_manage(row, user_id=interaction.user.id, guild_id=interaction.guild_id, server_admin=admin):
            raise UserError(NOT_YOURS)
        return row

    @character.command(name="delete", description="Delete one of your characters")
    @app_commands.describe(character="Which one")
    @app_commands.autocomplete(character=own_character)
    async def delete(self, interaction: discord.Interaction, character: str) -> None:
        row = await self._manageable_row(interaction, character)
        await interaction.response.send_message(
            f"Delete **{shown(row.name)}** for good? Conversations with it stay readable.",
            view=delete_view(row.id), ephemeral=True)

    # -- voice ------------------------------------------------------------------------------------

    async def _tts_model(self, interaction: discord.Interaction) -> str:
        typed = str(getattr(interaction.namespace, "model", "") or "").strip()
        if typed:
            return typed
        return (await self.services.speaking.default_voice(where_of_interaction(interaction, "character voice"))).model

    async def voice_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        """The chosen (or the server's) TTS model's voices matching what is typed, and "default"."""
        try:
            voices = await asyncio.wait_for(self.services.speaking.voices(await self._tts_model(interaction)),
                                            AUTOCOMPLETE_WAIT)
        except Exception:  # Venice slow or down: the person can still type a voice's name
            voices = ()
        needle = current.strip().lower()
        out = [choice("default · this server's voice", "default")] if needle in "default" else []
        out += [choice(v, v) for v in voices if needle in v.lower()]
        return out[:25]

    async def tts_model_choices(self, interaction: discord.Interaction,
                                current: str) -> list[app_commands.Choice[str]]:
        try:
            models = await asyncio.wait_for(self.services.venice.tts_models(), AUTOCOMPLETE_WAIT)
        except Exception:
            return []
        needle = current.strip().lower()
        return [choice(f"{m.name or m.id} · {len(m.voices)} voices", m.id) for m in models
                if needle in m.id.lower() or needle in (m.name or "").lower()][:25]

    @character.command(name="voice", description="Choose how one of your characters sounds (🔊 Listen)")
    @app_commands.describe(character="Which one", voice="A Venice voice (start typing), or 'default'",
                           model="The text-to-speech model (default: this server's)")
    @app_commands.autocomplete(character=own_character, voice=voice_choices, model=tts_model_choices)
    async def voice(self, interaction: discord.Interaction, character: str, voice: app_commands.Range[str, 1, 64],
                    model: app_commands.Range[str, 1, 64] | None = None) -> None:
        row = await self._manageable_row(interaction, character, editing=True)
        speaking = self.services.speaking
        where = where_of_interaction(interaction, "character voice")
        if voice.strip().lower() == "default":
            await repo.set_voice(self.services.sessions, row.id, model=None, voice=None)
            chosen = await speaking.default_voice(where)
            text = f"🔊 **{shown(row.name)}** speaks with this server's voice (`{chosen.voice}`) again."
        else:
            chosen = Voice((model or await self._tts_model(interaction)).strip(), voice.strip())
            await speaking.checked_voice(chosen)
            await repo.set_voice(self.services.sessions, row.id, model=chosen.model, voice=chosen.voice)
            text = f"🔊 **{shown(row.name)}** now speaks with `{chosen.voice}` (`{chosen.model}`)."
        await interaction.response.send_message(f"{text} Press ▶ Preview to hear it.", view=preview_view(row.id),
                                                ephemeral=True)

    # -- cards ------------------------------------------------------------------------------------

    @character.command(name="import", description="Import a character card (PNG, JSON or .charx)")
    @app_commands.describe(file="The card file (SillyTavern V2/V3, Chub, …)",
                           shared="Let everyone in this server use it (default: only you)")
    async def import_card(self, interaction: discord.Interaction, file: discord.Attachment,
                          shared: bool = False) -> None:
        if file.size > MAX_CARD_BYTES:
            raise UserError(f"That file is {file.size / 2**20:.1f} MiB; character cards can be at most "
                            f"{MAX_CARD_BYTES // 2**20} MiB.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        where = where_of(interaction, "character import")
        await self.services.characters.begin_import(where)  # caps and cooldown, before downloading
        data = await file.read()
        created = await self.services.characters.import_card(
            data, file.filename, where=where, shared=shared, file_url=file.url)
        lore = len(created.lorebook.entries) if created.lorebook else 0
        await interaction.followup.send(
            f"📥 Imported **{shown(created.name)}** ({len(created.greetings)} greetings, {lore} lore entries). "
            "Use `/character set` to play it here.",
            embed=character_embed(created, owner_id=interaction.user.id,
                                  shared=shared and interaction.guild_id is not None),
            ephemeral=True)

    @character.command(name="export", description="Download a character as a card (PNG and JSON)")
    @app_commands.describe(character="Which one (default: the one playing here)")
    @app_commands.autocomplete(character=exportable)
    async def export(self, interaction: discord.Interaction, character: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        if character is None:
            assert interaction.channel_id is not None
            _c, character, _s = await self.services.characters.for_channel(
                channel_id=interaction.channel_id, guild_id=interaction.guild_id, parent_id=parent_of(interaction))
        parsed = parse_ref(character)
        if parsed is not None and parsed[0] == "custom":
            row = await repo.get(self.services.sessions, int(parsed[1]))
            if row is not None and not repo.may_use(row, user_id=interaction.user.id, guild_id=interaction.guild_id):
                raise UserError("That character is private to its creator.")
        elif parsed is None:
            raise UserError("Pick a character from the list.")
        stem, png, raw = await self.services.characters.export(character)
        files = [discord.File(io.BytesIO(png), filename=f"{stem}.png"),
                 discord.File(io.BytesIO(raw), filename=f"{stem}.json")]
        await interaction.followup.send("Here's the card: the PNG carries the picture, both import anywhere.",
                                        files=files, ephemeral=True)

    # -- personas ---------------------------------------------------------------------------------

    @persona.command(name="set", description="Who you are in the story (used as {{user}})")
    @app_commands.describe(name="Your character's name", description="A few lines about them")
    async def persona_set(self, interaction: discord.Interaction,
                          name: app_commands.Range[str, 1, personas.NAME_LIMIT],
                          description: app_commands.Range[str, 1, personas.DESCRIPTION_LIMIT] | None = None) -> None:
        text = description or ""
        check_name(name.strip())
        # Both stages (the judge always reads a persona) before it is stored; the judge may take
        # a few seconds, so the answer is deferred first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.services.policy.check({"Name": name, "Description": text}, where_of(interaction, "persona"),
                                         context="persona")
        await self.services.chat.set_persona(interaction.user.id, check_name(name.strip()), text.strip())
        await interaction.followup.send(f"🪪 In stories you're now **{shown(name)}**.", ephemeral=True)

    @persona.command(name="show", description="Show your persona")
    async def persona_show(self, interaction: discord.Interaction) -> None:
        row = await personas.get(self.services.sessions, interaction.user.id)
        if row is None:
            await interaction.response.send_message(
                "You have no persona: characters call you by your display name. `/persona set` changes that.",
                ephemeral=True)
            return
        embed = discord.Embed(title=shown(row.name), description=row.description or "*No description.*")
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @persona.command(name="clear", description="Forget your persona (back to your display name)")
    async def persona_clear(self, interaction: discord.Interaction) -> None:
        had = await self.services.chat.clear_persona(interaction.user.id)
        text = "Persona cleared: characters call you by your display name again." if had else "You had no persona."
        await interaction.response.send_message(text, ephemeral=True)


async def setup(bot: commands.Bot) -> None:
    services = services_of(bot)
    cog = Characters(bot, services)
    cog.register(services.router)
    await bot.add_cog(cog)
