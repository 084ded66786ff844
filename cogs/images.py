"""Images: /imagine, /selfie, /seed, and the buttons under every image.

A thin adapter: it turns interactions into `ImageJob`s for `bot.images.service` and results back
into messages (`bot.ui.image_surface`). The command tree's global check has run the age gate for
commands and autocomplete; the component router runs it for every button and the edit form.
Checks that need no I/O run before the interaction is deferred, so a refusal is a private answer.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.characters.model import Character
from bot.errors import UserError
from bot.images import planning
from bot.images.jobs import ImageJob
from bot.images.seeds import SEED_MAX, SEED_MIN, valid_seed
from bot.images.sizes import aspect_choices
from bot.services import Services, services_of
from bot.store import channels
from bot.store import images as store
from bot.ui.gating import NOT_YOURS, is_moderator
from bot.ui.image_surface import InteractionSurface, run_job, settle
from bot.ui.image_views import (
    ALTER_FIELD,
    ALTER_INPUT_MAX,
    ALTER_PATTERN,
    ALTER_PREFIX,
    BUTTON_PATTERN,
    BUTTON_PREFIX,
    FORM_PATTERN,
    FORM_PREFIX,
    PROMPT_FIELD,
    PROMPT_INPUT_MAX,
    AlterPictureModal,
    EditPromptModal,
)
from bot.ui.places import where_of_interaction
from bot.ui.router import ComponentRouter
from bot.venice.errors import VeniceError

log = logging.getLogger(__name__)

AUTOCOMPLETE_BUDGET = 2.0  # seconds; Discord drops autocomplete answers after 3
STALE_PENDING = timedelta(minutes=30)
GONE = "I can't find that image any more."
Seed = app_commands.Range[int, SEED_MIN, SEED_MAX]


def parent_of(channel: object) -> int | None:
    """A thread's parent channel: settings and the channel seed are inherited from it."""
    return channel.parent_id if isinstance(channel, discord.Thread) else None


class Images(commands.Cog):
    """Image generation commands and controls."""

    seed = app_commands.Group(name="seed", description="The image seed for this channel", nsfw=True)

    def __init__(self, bot: commands.Bot, services: Services) -> None:
        self.bot = bot
        self.services = services


    async def cog_load(self) -> None:
        # Requests a crashed process left pending can never be delivered (their tokens expired).
        try:
            expired = await store.expire_pending(self.services.sessions, STALE_PENDING)
        except Exception:
            log.warning("could not expire stale image requests", exc_info=True)
        else:
            if expired:
                log.info("marked %d stale image requests as failed", expired)

    def _job(self, interaction: discord.Interaction, **fields: Any) -> ImageJob:
        return ImageJob(
            user_id=interaction.user.id, guild_id=interaction.guild_id, channel_id=interaction.channel_id or 0,
            parent_channel_id=parent_of(interaction.channel), **fields,
        )

    # -- /imagine ----------------------------------------------------------------------------

    @app_commands.command(name="imagine", description="Make an image from a prompt", nsfw=True)
    @app_commands.describe(
        prompt="What to draw",
        negative="What to keep out of the image",
        style="A style preset from Venice (\"none\" for no style)",
        aspect="The shape of the image",
        seed="A seed to repeat an image (empty: the channel's locked seed, or a random one)",
        model="The image model (empty: this channel's default)",
    )
    @app_commands.choices(aspect=[app_commands.Choice(name=label, value=key) for label, key in aspect_choices()])
    async def imagine(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, 4000],
        negative: app_commands.Range[str, 0, 1500] | None = None,
        style: str | None = None,
        aspect: str | None = None,
        seed: Seed | None = None,
        model: str | None = None,
    ) -> None:
        job = self._job(
            interaction, kind="imagine", prompt=prompt, negative=negative or "", style=style, aspect=aspect,
            seed=seed, model=model,
        )
        await self.services.images.precheck(job)  # errors: the tree answers privately
        await interaction.response.defer(thinking=True)
        await run_job(interaction, self.services.images, job)

    @imagine.autocomplete("style")
    async def style_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        styles = await self._catalogue(self.services.venice.image_styles())
        needle = current.strip().casefold()
        names = ["none", *styles]
        return [app_commands.Choice(name=s, value=s) for s in names if needle in s.casefold()][:25]

    @imagine.autocomplete("model")
    async def model_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        models = await self._catalogue(self.services.venice.list_models("image"))
        needle = current.strip().casefold()
        return [
            app_commands.Choice(name=f"{m.name} ({m.id})"[:100], value=m.id)
            for m in models
            if not m.offline and (needle in m.id.casefold() or needle in m.name.casefold())
        ][:25]

    @staticmethod
    async def _catalogue(load: Any) -> list[Any]:
        """A cached Venice list, or nothing if it takes too long (the load goes on and fills the cache)."""
        try:
            return list(await asyncio.wait_for(asyncio.shield(load), AUTOCOMPLETE_BUDGET))
        except (TimeoutError, VeniceError):
            return []

    # -- /selfie -----------------------------------------------------------------------------

    async def cast_members(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        """The characters of this channel's scene (a group scene: several characters)."""
        view = await self.services.chat.scene_view(where_of_interaction(interaction, "selfie"))
        needle = current.strip().casefold()
        return [app_commands.Choice(name=m.name[:100] or "?", value=m.ref[:100])
                for m in (view.members if view is not None else ()) if needle in m.name.casefold()][:25]

    @app_commands.command(name="selfie", description="A picture of this channel's character", nsfw=True)
    @app_commands.describe(scene="Where they are or what they're doing (optional)",
                           character="In a scene with several characters: which one (default: who spoke last)")
    @app_commands.autocomplete(character=cast_members)
    async def selfie(
        self, interaction: discord.Interaction, scene: app_commands.Range[str, 0, 1000] | None = None,
        character: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        where = planning.where_of(self._job(interaction, kind="selfie", prompt=scene or ""))
        await self.services.images.screen(where, prompt=scene or "")  # before anything else
        await interaction.response.defer(thinking=True)
        surface = InteractionSurface(interaction)
        try:
            member, ref = await self._character(interaction, character)
            job = await self.services.images.character_job(
                kind="selfie", scene=scene or "", character=member, character_ref=ref,
                user_id=interaction.user.id, guild_id=interaction.guild_id, channel_id=interaction.channel_id or 0,
                parent_channel_id=parent_of(interaction.channel),
            )
        except Exception as exc:
            await settle(surface, exc)
            return
        await run_job(interaction, self.services.images, job)

    async def _character(self, interaction: discord.Interaction, wanted: str | None = None
                         ) -> tuple[Character, str]:
        """The channel's character and its reference (the reference keys its stable seed); in a group
        scene the member `wanted` names (default: who spoke last)."""
        member = await self.services.chat.cast_member(where_of_interaction(interaction, "selfie"), wanted)
        if member is not None:
            return member
        if wanted is not None:
            raise UserError("That character isn't in this channel's scene (`/scene list` shows who is).")
        character, ref, _source = await self.services.characters.for_channel(
            channel_id=interaction.channel_id, guild_id=interaction.guild_id, parent_id=parent_of(interaction.channel)
        )
        return character, ref

    # -- /seed -------------------------------------------------------------------------------

    @seed.command(name="show", description="Show this channel's image seed")
    async def seed_show(self, interaction: discord.Interaction) -> None:
        view = await channels.load(self.services.sessions, interaction.channel_id or 0, parent_of(interaction.channel))
        if view.seed_locked and view.seed is not None:
            where = " (inherited from the parent channel)" if view.seed_source == "parent channel" else ""
            text = (f"🔒 Seed `{view.seed}` is locked here{where}: every new image uses it unless the command "
                    "names a seed. `/seed random` unlocks it.")
        else:
            text = "🎲 Seeds are random in this channel."
            if view.seed is not None:
                text += f" The last locked seed was `{view.seed}`."
            text += " Lock one with `/seed set`, `/seed lock`, or 🔒 under an image."
        await interaction.response.send_message(text, ephemeral=True)

    @seed.command(name="set", description="Lock this channel to a seed")
    @app_commands.describe(seed="A whole number between -999,999,999 and 999,999,999")
    async def seed_set(self, interaction: discord.Interaction, seed: Seed) -> None:
        if not valid_seed(seed):
            raise UserError(planning.SEED_RANGE)
        await self._lock(interaction, seed)

    @seed.command(name="random", description="Unlock the seed: every image gets a new random one")
    async def seed_random(self, interaction: discord.Interaction) -> None:
        view = await channels.load(self.services.sessions, interaction.channel_id or 0, parent_of(interaction.channel))
        if not view.seed_locked:
            await interaction.response.send_message("🎲 Seeds are already random in this channel.", ephemeral=True)
            return
        # The seed is kept (unlocked) on this channel's own row, which also overrides a parent's lock.
        await channels.set_seed(
            self.services.sessions, interaction.channel_id or 0, interaction.guild_id, view.seed, locked=False
        )
        await interaction.response.send_message(
            f"🎲 {interaction.user.display_name} unlocked the seed: images here get random seeds again."
        )

    @seed.command(name="lock", description="Lock the seed of the latest image in this channel")
    async def seed_lock(self, interaction: discord.Interaction) -> None:
        latest = await store.latest_in_channel(self.services.sessions, [interaction.channel_id or 0])
        if latest is None or latest.seed is None:
            raise UserError("There's no image in this channel yet. Use `/seed set <seed>` to choose one.")
        await self._lock(interaction, latest.seed)

    async def _lock(self, interaction: discord.Interaction, seed: int) -> None:
        # Anyone who may make images here may lock the seed: it is shown on every image and
        # undone with one command, and it makes no content of its own.
        await channels.set_seed(self.services.sessions, interaction.channel_id or 0, interaction.guild_id, seed,
                                locked=True)
        await interaction.response.send_message(
            f"🔒 {interaction.user.display_name} locked seed `{seed}` for this channel: new images here use it "
            "until someone runs `/seed random`."
        )

    # -- buttons -----------------------------------------------------------------------------

    def register(self, router: ComponentRouter) -> None:
        """The image buttons and the edit form, as the router dispatches them (after the gate)."""
        router.button(BUTTON_PREFIX, BUTTON_PATTERN, self._on_button)
        router.form(FORM_PREFIX, FORM_PATTERN, self._on_form, fields={PROMPT_FIELD: PROMPT_INPUT_MAX})
        router.form(ALTER_PREFIX, ALTER_PATTERN, self._on_alter, fields={ALTER_FIELD: ALTER_INPUT_MAX})

    async def _on_button(self, interaction: discord.Interaction, match: re.Match[str]) -> None:
        await self.on_button(interaction, match["action"], int(match["id"]))

    async def _on_form(self, interaction: discord.Interaction, match: re.Match[str], values: dict[str, str]) -> None:
        await self.on_edit_submit(interaction, int(match["id"]), values.get(PROMPT_FIELD, ""))

    async def _on_alter(self, interaction: discord.Interaction, match: re.Match[str], values: dict[str, str]) -> None:
        await self.on_alter_submit(interaction, int(match["id"]), values.get(ALTER_FIELD, ""))

    async def on_button(self, interaction: discord.Interaction, action: str, record_id: int) -> None:
        """Every image button lands here, on any bot process: the record is read fresh each time."""
        if action == "cancel":
            await self._cancel(interaction, record_id)
            return
        record = await store.get(self.services.sessions, record_id)
        if action == "delete":
            await self._delete(interaction, record)
            return
        if record is None:
            await interaction.response.send_message(GONE, ephemeral=True)
            return
        if action == "lock":
            if record.seed is None:
                await interaction.response.send_message("That image has no seed to lock.", ephemeral=True)
                return
            await self._lock(interaction, record.seed)
        elif action == "edit":
            await interaction.response.send_modal(EditPromptModal(record.id, record.user_prompt))
        elif action == "alter":
            if record.status == store.DELETED:
                await interaction.response.send_message("That image was deleted, so it can't be edited.",
                                                        ephemeral=True)
                return
            await interaction.response.send_modal(AlterPictureModal(record.id))
        elif action == "reroll":
            await self._start(interaction, self._job(
                interaction, kind="reroll", prompt=record.prompt, description=record.user_prompt,
                negative=record.negative, style=record.style or "none", size=_size(record), model=record.model,
                use_lock=False, character_ref=record.character_ref, parent_image_id=record.id, add_quality=False,
            ))
        elif action == "upscale":
            await self._upscale(interaction, record)

    async def on_edit_submit(self, interaction: discord.Interaction, record_id: int, text: str) -> None:
        """The edit form: same seed and settings, the new prompt (screened like any other)."""
        record = await store.get(self.services.sessions, record_id)
        if record is None:
            await interaction.response.send_message(GONE, ephemeral=True)
            return
        await self._start(interaction, self._job(
            interaction, kind="edit", prompt=text, negative=record.negative, style=record.style or "none",
            size=_size(record), model=record.model, seed=record.seed, seed_source=planning.SOURCE_SAME,
            character_ref=record.character_ref, parent_image_id=record.id,
        ))

    async def on_alter_submit(self, interaction: discord.Interaction, record_id: int, text: str) -> None:
        """"Edit picture": Venice's /image/edit on the posted file, following the (screened) words."""
        attachment = _image_attachment(interaction.message)
        if attachment is None:
            await interaction.response.send_message("I can't find the image file on that message.", ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        surface = InteractionSurface(interaction)
        try:
            await self.services.images.alter(
                record_id=record_id, instruction=text, user_id=interaction.user.id, guild_id=interaction.guild_id,
                channel_id=interaction.channel_id or 0, parent_channel_id=parent_of(interaction.channel),
                fetch=lambda: _download(attachment), deliver=surface.deliver, progress=surface,
                filesize_limit=interaction.filesize_limit,
            )
        except Exception as exc:
            await settle(surface, exc)

    async def _start(self, interaction: discord.Interaction, job: ImageJob) -> None:
        try:
            await self.services.images.precheck(job)
        except UserError as err:
            await interaction.response.send_message(err.user_message, ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        await run_job(interaction, self.services.images, job)

    async def _cancel(self, interaction: discord.Interaction, record_id: int) -> None:
        result = self.services.images.cancel(record_id, interaction.user.id)
        if result is True:
            await interaction.response.defer()  # the waiting request edits its own message
        elif result is False:
            await interaction.response.send_message("Only the person who asked for this can cancel it.", ephemeral=True)
        else:
            await interaction.response.send_message("That request isn't waiting any more.", ephemeral=True)

    async def _delete(self, interaction: discord.Interaction, record: store.ImageRecord | None) -> None:
        owner = record.user_id if record is not None else None
        if interaction.user.id != owner and not is_moderator(interaction):
            await interaction.response.send_message(NOT_YOURS, ephemeral=True)
            return
        await interaction.response.defer()
        try:
            await interaction.delete_original_response()  # the message this button is on
        except discord.NotFound:
            pass  # already deleted; still mark the record
        except discord.HTTPException as exc:
            log.warning("could not delete image message: %s", exc)
            await interaction.followup.send("I couldn't delete that message; please try again.", ephemeral=True)
            return
        if record is not None:
            await store.mark_deleted(self.services.sessions, record.id)

    async def _upscale(self, interaction: discord.Interaction, record: store.ImageRecord) -> None:
        if record.status == store.DELETED:
            await interaction.response.send_message("That image was deleted, so it can't be upscaled.", ephemeral=True)
            return
        if record.kind == "upscale":
            await interaction.response.send_message("That image is already upscaled.", ephemeral=True)
            return
        attachment = _image_attachment(interaction.message)
        if attachment is None:
            await interaction.response.send_message("I can't find the image file on that message.", ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        surface = InteractionSurface(interaction)
        size = (attachment.width, attachment.height) if attachment.width and attachment.height else None
        try:
            await self.services.images.upscale(
                record_id=record.id, user_id=interaction.user.id, guild_id=interaction.guild_id,
                channel_id=interaction.channel_id or 0, parent_channel_id=parent_of(interaction.channel),
                fetch=lambda: _download(attachment), source_size=size, deliver=surface.deliver, progress=surface,
                filesize_limit=interaction.filesize_limit,
            )
        except Exception as exc:
            await settle(surface, exc)


def _size(record: store.ImageRecord) -> tuple[int, int] | None:
    return (record.width, record.height) if record.width and record.height else None


def _image_attachment(message: discord.Message | None) -> discord.Attachment | None:
    if message is None:
        return None
    return next((a for a in message.attachments if (a.content_type or "").startswith("image/")
                 or a.filename.rsplit(".", 1)[-1].lower() in ("webp", "png", "jpg", "jpeg")), None)


async def _download(attachment: discord.Attachment) -> bytes:
    """The posted file, read back from Discord when the upscale's turn comes."""
    if attachment.size > planning.UPSCALE_MAX_INPUT_BYTES:
        raise UserError("That image is too large for Venice to upscale.")
    try:
        return await attachment.read()
    except discord.HTTPException:
        raise UserError("I couldn't download the original image; it may have been deleted.") from None


async def setup(bot: commands.Bot) -> None:
    services = services_of(bot)
    cog = Images(bot, services)
    cog.register(services.router)
    await bot.add_cog(cog)
