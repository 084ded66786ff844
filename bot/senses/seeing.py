"""Pictures in: checked, made small and safe, judged, and the model that will look at them.

For each picture, cheapest first: the declared size and type (no download), the download, the
real format, pixel bounds (bomb guard) and downscale off the event loop (`bot.vision`), then the
screen's image judge (`ContentPolicy.check_image`: apparent minors or a sexualised real person
refuse it; a judge that cannot answer refuses it too — fail closed). Only then is a picture
given to the chat turn. Pictures are not stored: the turn keeps "[picture]" in its text.

Which model looks: the channel's chat model when Venice lists it with `supportsVision`; else the
place's `vision_model` setting (an admin's choice for this case) when that one can see; else the
person is told plainly that this channel's model can't see pictures, with models that can.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot.errors import UserError
from bot.offload import Offload
from bot.policy import ContentPolicy
from bot.settings import SettingsStore
from bot.venice.client import VeniceClient
from bot.venice.errors import VeniceError
from bot.vision import (
    ACCEPTED_TYPES,
    ImageLimits,
    ImageRefused,
    VisionImage,
    check_declared,
    image_limit,
    prepare_image,
)
from bot.where import Where

from .uploads import Upload

__all__ = ["MAX_PICTURES", "Seeing", "Sight", "is_picture", "picture_note"]

log = logging.getLogger(__name__)

MAX_PICTURES = 4  # per message: each one is judged, downscaled and sent
CANNOT_SEE = ("This channel's model (`{model}`) can't see pictures, so I can't look at yours. "
              "{options}")
VISION_OPTIONS = "Models that can: {models}. A server admin can set one with `/settings set vision_model`."
NO_VISION_MODELS = "Venice lists no model that can see pictures right now."
TOO_MANY = f"I can look at up to {MAX_PICTURES} pictures at once."
UNREADABLE_DOWNLOAD = "I couldn't download that picture from Discord — try sending it again."


@dataclass(frozen=True, slots=True)
class Sight:
    """The model that will look, and how many pictures it takes in one message."""

    model: str
    limit: int


def is_picture(upload: Upload) -> bool:
    """An attachment that claims to be a picture the bot reads (the bytes are checked later)."""
    kind = (upload.content_type or "").split(";")[0].strip().lower()
    return kind in ACCEPTED_TYPES


def picture_note(count: int) -> str:
    """What the stored turn keeps in place of the pictures (they are not stored)."""
    return "[picture]" if count == 1 else f"[{count} pictures]"


class Seeing:
    """Prepares the pictures people give a character, and picks the model that looks at them."""

    def __init__(self, *, venice: VeniceClient, policy: ContentPolicy, settings: SettingsStore, offload: Offload,
                 bounds: ImageLimits | None = None) -> None:
        self.venice = venice
        self.policy = policy
        self.settings = settings
        self.offload = offload
        self.bounds = bounds or ImageLimits()

    async def sight(self, where: Where) -> Sight:
        """The model that looks at pictures here (UserError: none can)."""
        cfg = await self.settings.resolve_all(guild_id=where.guild_id, channel_id=where.channel_id,
                                              parent_id=where.parent_id, keys=["text_model", "vision_model"])
        chat_model = str(cfg["text_model"].value)
        for model in (chat_model, cfg["vision_model"].value):
            if not model:
                continue
            try:
                info = await self.venice.get_model(str(model), "text")
            except VeniceError:
                info = None
            if info is not None and info.supports_vision:
                limit = image_limit(supports_vision=True, supports_multiple=info.supports_multiple_images,
                                    max_images=info.max_images)
                return Sight(info.id, limit)
        raise UserError(CANNOT_SEE.format(model=chat_model, options=await self._options()))

    async def _options(self) -> str:
        try:
            models = await self.venice.vision_models()
        except VeniceError:
            models = []
        if not models:
            return NO_VISION_MODELS
        return VISION_OPTIONS.format(models=", ".join(f"`{m.id}`" for m in models[:5]))

    async def look(self, where: Where, uploads: Sequence[Upload]) -> list[VisionImage]:
        """Every picture checked, downscaled and judged (Refused / UserError if any is not usable)."""
        if len(uploads) > MAX_PICTURES:
            raise UserError(TOO_MANY)
        for upload in uploads:  # all declared values first: nothing is downloaded for a doomed batch
            self._declared(upload)
        return [await self._one(where, upload) for upload in uploads]

    def _declared(self, upload: Upload) -> None:
        try:
            check_declared(size=upload.size, content_type=upload.content_type, limits=self.bounds)
        except ImageRefused as refused:
            raise UserError(refused.user_message) from None

    async def _one(self, where: Where, upload: Upload) -> VisionImage:
        try:
            data = await upload.read()
        except Exception as exc:
            log.info("picture from user %s could not be downloaded: %s", where.user_id, type(exc).__name__)
            raise UserError(UNREADABLE_DOWNLOAD) from None
        try:
            image = await self.offload.in_thread(prepare_image, data, limits=self.bounds, owner=where.user_id)
        except ImageRefused as refused:
            log.info("picture from user %s refused: %s", where.user_id, refused.reason)
            raise UserError(refused.user_message) from None
        # The judge sees what the model would see (the downscaled picture, metadata dropped).
        await self.policy.check_image(image.data, where.at("chat picture"))
        return image
