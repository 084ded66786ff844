"""The plain values that travel through the image service: requests, plans, deliveries, outcomes.

Nothing here knows Discord. A cog turns an interaction into an `ImageJob`, the service turns the
job into an `ImagePlan` (validated, composed, screened) and then into a `Delivery` handed to a
callable the cog supplies, which posts it and returns the Discord message id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.errors import UserError


@dataclass(frozen=True, slots=True)
class ImageJob:
    """One request for an image, as the user (or a button) asked for it.

    `prompt` is what gets composed: the user's words for /imagine, a portrait description that
    already carries the appearance for /selfie, or a chat scene with `appearance` beside it.
    The record keeps an editable description that includes the appearance, so "edit prompt" can
    offer all of it. `style` None means the channel's default style; "none" means no style at all.
    `size` (exact pixels) wins over `aspect`; rerolls and edits keep their parent's size.
    `seed` is explicit (a typed seed, a character's seed, the parent's seed for edits) and wins
    over the channel's locked seed; `use_lock=False` (rerolls) ignores the lock.
    `description` is what the record keeps as the user's prompt when `prompt` is not it (a
    reroll sends its parent's composed prompt again but keeps the parent's description).
    """

    kind: str  # imagine | reroll | edit | upscale | selfie | scene | alter (the record's kind)
    user_id: int
    guild_id: int | None
    channel_id: int
    prompt: str
    parent_channel_id: int | None = None
    negative: str = ""
    style: str | None = None
    aspect: str | None = None
    size: tuple[int, int] | None = None
    seed: int | None = None
    seed_source: str = "given"
    use_lock: bool = True
    model: str | None = None
    appearance: str = ""
    character_ref: str | None = None
    parent_image_id: int | None = None
    add_quality: bool = True
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ImagePlan:
    """A job that passed every check: exactly what will be sent to Venice."""

    job: ImageJob
    model: str
    model_name: str
    prompt: str
    negative: str
    width: int | None
    height: int | None
    steps: int | None
    seed: int
    seed_source: str
    style: str | None
    prompt_limit: int
    description: str = ""
    trimmed: list[str] = field(default_factory=list)
    cost_usd: float = 0.0


@dataclass(slots=True)
class Delivery:
    """A finished image ready to post. The bytes live only until the deliver callable returns."""

    record_id: int
    kind: str
    data: bytes = field(repr=False)
    content_type: str
    filename: str
    width: int
    height: int
    seconds: float
    user_prompt: str
    prompt: str
    model: str
    model_name: str
    style: str | None
    seed: int | None
    seed_source: str
    parent_id: int | None = None
    trimmed: list[str] = field(default_factory=list)
    reencoded: bool = False


@dataclass(frozen=True, slots=True)
class ImageOutcome:
    """What happened, for callers that want to follow up (the bytes are already gone)."""

    record_id: int
    message_id: int | None
    width: int
    height: int
    seed: int | None
    seconds: float
    size_bytes: int


Deliver = Callable[[Delivery], Awaitable[int | None]]


class Progress:
    """How a request tells the person waiting what is going on. Subclass and override."""

    async def queued(self, record_id: int, position: int) -> None:
        """Waiting behind others: `position` 1 is next. Called at most about once a second."""

    async def waiting(self, seconds: float) -> None:
        """Venice asked us to slow down; the request is waiting `seconds` before trying again."""

    async def started(self) -> None:
        """The request left the queue and is being generated."""


class ImageFailed(UserError):
    """The request was accepted (a record exists) but produced no image; the message says why."""

    def __init__(self, message: str, *, record_id: int | None = None) -> None:
        super().__init__(message)
        self.record_id = record_id


class ImageCancelled(Exception):
    """The requester cancelled while waiting in the queue; nothing was generated."""

    def __init__(self, record_id: int) -> None:
        super().__init__(f"image {record_id} cancelled")
        self.record_id = record_id
