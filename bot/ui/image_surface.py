"""Running an image request on a deferred interaction: progress, delivery, and what went wrong.

The interaction has been deferred (the user sees "thinking…"). While the request waits, that
message shows its queue position with a ❌ button, or that Venice asked us to wait; the finished
image replaces it. A request refused before anything was stored is answered privately (the
public placeholder is removed); a request that failed after it was accepted edits the placeholder
to say what happened, since it was already public.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import time
from collections.abc import Sequence

import discord

from bot.characters.model import Character
from bot.errors import UserError
from bot.images.jobs import Delivery, ImageCancelled, ImageFailed, ImageJob, ImageOutcome, Progress
from bot.images.service import ImageService
from bot.ui.image_views import cancel_view, image_embed, image_view
from bot.venice.errors import VeniceError

log = logging.getLogger(__name__)

GENERIC = "Something went wrong while making the image. It has been logged; please try again."
CANCELLED = "❌ Cancelled: nothing was generated."
STATUS_INTERVAL = 1.0  # seconds between "Venice is busy" edits (positions are paced by the queue)


class InteractionSurface(Progress):
    """Progress and delivery through one deferred interaction's original response."""

    def __init__(self, interaction: discord.Interaction) -> None:
        self.interaction = interaction
        self.requester = interaction.user.display_name
        self._status_shown = False
        self._last_status = -math.inf

    async def queued(self, record_id: int, position: int) -> None:
        ahead = "you're next" if position == 1 else f"{position - 1} ahead of you"
        await self._status(f"⏳ Waiting in the image queue: **#{position}** ({ahead}).", cancel_view(record_id))

    async def waiting(self, seconds: float) -> None:
        if time.monotonic() - self._last_status < STATUS_INTERVAL:
            return  # short back-offs can come fast; one message edit a second is plenty
        await self._status(f"⏳ Venice is busy; waiting about {math.ceil(seconds)} s, then trying again…", None)

    async def started(self) -> None:
        if self._status_shown:  # otherwise "thinking…" is still showing and says the same
            await self._status("🎨 Generating…", None)

    async def _status(self, text: str, view: discord.ui.View | None) -> None:
        self._status_shown = True
        self._last_status = time.monotonic()
        await self.interaction.edit_original_response(content=text, view=view)

    async def deliver(self, delivery: Delivery) -> int | None:
        """Replace the placeholder with the image; past the token's 15 minutes, post in the channel."""
        embed = image_embed(delivery, requester=self.requester)
        view = image_view(delivery.record_id, kind=delivery.kind)
        try:
            message = await self.interaction.edit_original_response(
                content=None, embed=embed, attachments=[_file(delivery)], view=view
            )
        except (discord.NotFound, discord.Forbidden) as exc:
            channel = self.interaction.channel
            if not isinstance(channel, discord.abc.Messageable):
                raise
            log.info("original response gone (%s); posting image %s in the channel", exc, delivery.record_id)
            message = await channel.send(embed=embed, file=_file(delivery), view=view)
        return message.id

    async def failed(self, text: str) -> None:
        """After the request was accepted: the public placeholder says what happened."""
        try:
            await self.interaction.edit_original_response(content=f"⚠️ {text}", embed=None, attachments=[], view=None)
        except discord.HTTPException as exc:
            log.warning("could not show an image failure: %s", exc)

    async def refused(self, text: str) -> None:
        """Before anything was stored: a private answer, and the public "thinking…" removed."""
        with contextlib.suppress(discord.HTTPException):  # already gone, or never shown
            await self.interaction.delete_original_response()
        try:
            await self.interaction.followup.send(text, ephemeral=True)
        except discord.HTTPException as exc:
            log.warning("could not send an image refusal: %s", exc)

    async def cancelled(self) -> None:
        try:
            await self.interaction.edit_original_response(content=CANCELLED, view=None)
        except discord.HTTPException as exc:
            log.info("could not show a cancellation: %s", exc)


def _file(delivery: Delivery) -> discord.File:
    # A File is one-shot (its buffer is read once), so every send builds a new one.
    return discord.File(io.BytesIO(delivery.data), filename=delivery.filename, description="Generated image")


async def run_job(interaction: discord.Interaction, service: ImageService, job: ImageJob) -> ImageOutcome | None:
    """Plan and run `job` on an interaction that has been deferred; never raises to the caller."""
    surface = InteractionSurface(interaction)
    try:
        plan = await service.plan(job)
        return await service.run(
            plan, deliver=surface.deliver, progress=surface, filesize_limit=interaction.filesize_limit
        )
    except Exception as exc:
        await settle(surface, exc)
        return None


async def settle(surface: InteractionSurface, exc: Exception) -> None:
    """Show how a request ended, by when it ended (before or after it was accepted)."""
    if isinstance(exc, ImageCancelled):
        await surface.cancelled()
    elif isinstance(exc, ImageFailed):
        await surface.failed(exc.user_message)
    elif isinstance(exc, UserError | VeniceError):
        await surface.refused(exc.user_message)
    else:
        log.error("image request failed", exc_info=exc)
        await surface.failed(GENERIC)


async def post_scene_image(
    interaction: discord.Interaction, service: ImageService, *, scene_prompt: str, character: Character,
    character_ref: str, cast: Sequence[tuple[Character, str]] = (),
) -> ImageOutcome | None:
    """The chat "picture this" button: a scene image of `character`, posted with image buttons.

    Call it from a component callback after the gate check; it defers the interaction (a new
    message with "thinking…") when that has not been done, and answers every failure itself.
    """
    if not interaction.response.is_done():
        await interaction.response.defer(thinking=True)
    surface = InteractionSurface(interaction)
    channel = interaction.channel
    parent_id = channel.parent_id if isinstance(channel, discord.Thread) else None
    try:
        return await service.scene_image(
            scene_prompt=scene_prompt, character=character, character_ref=character_ref, cast=cast,
            user_id=interaction.user.id, guild_id=interaction.guild_id, channel_id=interaction.channel_id or 0,
            parent_channel_id=parent_id, deliver=surface.deliver, progress=surface,
            filesize_limit=interaction.filesize_limit,
        )
    except Exception as exc:
        await settle(surface, exc)
        return None
