"""The image service: from a request to a posted image, with every check on the way.

`plan` validates a job against the channel's settings and the model's constraints, composes the
prompt and screens it; nothing reaches Venice before the user's own words have passed the content
screen, and no generate call is made for a job that fails a check. `run` then holds a quota lease,
stores a pending record, waits its turn in the fair queue, generates (waiting out Venice's rate
limits rather than failing), fits the file to Discord's upload limit and hands it to the caller's
`deliver` callable. Image bytes are never kept: they exist from Venice's answer until `deliver`
returns. Discord is not imported here; see `cogs/images.py` for the edge.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.characters.model import Character
from bot.errors import UserError
from bot.images import planning
from bot.images.cast import CastLook, picture_cast
from bot.images.encode import fit_to_limit
from bot.images.jobs import (
    Deliver,
    Delivery,
    ImageCancelled,
    ImageFailed,
    ImageJob,
    ImageOutcome,
    ImagePlan,
    Progress,
)
from bot.images.queue import Cancelled, ImageQueue, QueueEntry
from bot.limits import Limits
from bot.offload import Offload
from bot.policy import ContentPolicy, audit
from bot.settings import SettingsStore
from bot.store import images as store
from bot.venice.client import VeniceClient
from bot.venice.errors import ContentPolicyError, RateLimitError, VeniceError
from bot.venice.media import edit_cost
from bot.venice.types import ImageResult
from bot.where import Where

log = logging.getLogger(__name__)

DEFAULT_FILESIZE_LIMIT = 10 * 1024 * 1024
# How long a request may keep waiting out Venice 429s before it gives up (the interaction token
# lives 15 minutes, and the queue wait comes out of the same budget).
RATE_LIMIT_PATIENCE = 600.0
TOO_LARGE = "The image came out too large to upload here, even after compressing it."
NO_EDIT_MODEL = "Venice has no uncensored picture-editing model available right now; try again later."
ALTER_GONE = "I can't find that image any more, so it can't be edited."
ALTER_DELETED = "That image was deleted, so it can't be edited."

Sleep = Callable[[float], Awaitable[object]]
T = TypeVar("T")


class ImageService:
    """Plans, queues, generates and records images. One per process; the queue it is given is
    shared by every process on the database (`SharedImageQueue`) or, in tests, local."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        venice: VeniceClient,
        settings: SettingsStore,
        limits: Limits,
        policy: ContentPolicy,
        queue: ImageQueue | None = None,
        patience: float = RATE_LIMIT_PATIENCE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        offload: Offload | None = None,
    ) -> None:
        self.sessions = sessions
        # Re-encoding runs in its bounded thread pool (Pillow's codecs release the GIL).
        self.offload = offload or Offload(threads=1)
        self.venice = venice
        self.settings = settings
        self.limits = limits
        self.policy = policy  # both stages of the content screen: every prompt is judged before generation
        self.queue = queue or ImageQueue()
        self.patience = patience
        self._clock = clock
        self._sleep = sleep
        # record id → (queue ticket, requester), for the ❌ button while a request waits.
        self._waiting: dict[int, tuple[QueueEntry, int]] = {}

    # -- planning ------------------------------------------------------------------------------

    async def precheck(self, job: ImageJob) -> None:
        """The cheap checks (stage 1 of the screen included), before an interaction is deferred."""
        await planning.precheck(self.policy, job)

    async def screen(self, where: Where, *, prompt: str) -> None:
        """Stage 1 over a person's words that are not a whole job yet (a /selfie's scene)."""
        await planning.screen_inputs(self.policy, where, prompt=prompt)

    async def plan(self, job: ImageJob) -> ImagePlan:
        """Check, compose and judge a job; raises UserError (nothing generated) when it can't run."""
        return await planning.make_plan(job, sessions=self.sessions, venice=self.venice, settings=self.settings,
                                        policy=self.policy)

    # -- running -------------------------------------------------------------------------------

    async def run(
        self,
        plan: ImagePlan,
        *,
        deliver: Deliver,
        progress: Progress | None = None,
        filesize_limit: int = DEFAULT_FILESIZE_LIMIT,
    ) -> ImageOutcome:
        """Generate the planned image and deliver it.

        Raises LimitReached (nothing stored) when a quota or cooldown says no, ImageCancelled when
        the requester cancelled while queued, and ImageFailed (record marked failed) when Venice
        refused, failed or flagged it. Whatever `deliver` raises is raised again, after the record
        is marked failed.
        """
        job = plan.job
        progress = _Careful(progress or Progress())
        lease = await self.limits.acquire(
            user_id=job.user_id, guild_id=job.guild_id, channel_id=job.channel_id, kind="image",
            parent_id=job.parent_channel_id, estimate_usd=plan.cost_usd,
        )
        try:
            record_id = await store.create(self.sessions, planning.new_record(plan))
            return await self._guarded(
                record_id, job, lambda: self._generate(record_id, plan, deliver, progress, filesize_limit)
            )
        finally:
            await self.limits.release(lease)

    async def _generate(
        self, record_id: int, plan: ImagePlan, deliver: Deliver, progress: Progress, filesize_limit: int
    ) -> ImageOutcome:
        job = plan.job
        async with self._turn(record_id, job, progress):
            started = self._clock()
            result = await self._patiently(
                progress, self.venice.generate_image,
                model=plan.model, prompt=plan.prompt, negative_prompt=plan.negative or None,
                width=plan.width, height=plan.height, steps=plan.steps, seed=plan.seed,
                style_preset=plan.style, safe_mode=False, on_wait=progress.waiting,
            )
            seconds = self._clock() - started
        # Venice has billed the image whether or not Discord takes it.
        await self.limits.record(user_id=job.user_id, guild_id=job.guild_id, kind="image", cost_usd=plan.cost_usd)
        delivery = await self._package(record_id, plan, result, seconds, filesize_limit)
        del result  # the only other reference to the original bytes
        return await self._deliver(delivery, deliver)

    async def upscale(
        self,
        *,
        record_id: int,
        user_id: int,
        guild_id: int | None,
        channel_id: int,
        parent_channel_id: int | None,
        fetch: Callable[[], Awaitable[bytes]],
        source_size: tuple[int, int] | None,
        deliver: Deliver,
        progress: Progress | None = None,
        filesize_limit: int = DEFAULT_FILESIZE_LIMIT,
        scale: int = 2,
    ) -> ImageOutcome:
        """Upscale a posted image ×`scale` from its own file (read by `fetch` when its turn comes).

        The source is the attachment users saw, not a regeneration: it costs no generation, does
        not depend on Venice reproducing a seed exactly, and needs no rate-limited generate call.
        """
        progress = _Careful(progress or Progress())
        source, cost = await planning.check_upscale(
            sessions=self.sessions, venice=self.venice, settings=self.settings, record_id=record_id,
            guild_id=guild_id, channel_id=channel_id, parent_channel_id=parent_channel_id, source_size=source_size,
            scale=scale,
        )
        job = ImageJob(
            kind="upscale", user_id=user_id, guild_id=guild_id, channel_id=channel_id,
            parent_channel_id=parent_channel_id, prompt=source.user_prompt, model=source.model,
            parent_image_id=source.id,
        )
        lease = await self.limits.acquire(
            user_id=user_id, guild_id=guild_id, channel_id=channel_id, kind="upscale", parent_id=parent_channel_id,
            estimate_usd=cost,
        )
        try:
            new = planning.upscale_record(source, job, source_size, scale)
            new_id = await store.create(self.sessions, new)
            return await self._guarded(new_id, job, lambda: self._upscale(
                new_id, source, job, fetch, cost, deliver, progress, filesize_limit, scale
            ))
        finally:
            await self.limits.release(lease)

    async def _upscale(
        self, record_id: int, source: store.ImageRecord, job: ImageJob, fetch: Callable[[], Awaitable[bytes]],
        cost: float, deliver: Deliver, progress: Progress, filesize_limit: int, scale: int,
    ) -> ImageOutcome:
        async with self._turn(record_id, job, progress):
            # Read the original only now, so a long queue holds no image bytes.
            original = await fetch()
            planning.check_upscale_input(original, scale)
            started = self._clock()
            data = await self._patiently(
                progress, self.venice.upscale, original, scale=scale, on_wait=progress.waiting
            )
            del original
            seconds = self._clock() - started
        await self.limits.record(user_id=job.user_id, guild_id=job.guild_id, kind="upscale", cost_usd=cost)
        plan = planning.upscale_plan(source, job)
        result = ImageResult(data=data, content_type="image/png", seed=source.seed, width=0, height=0,
                             model=source.model)
        del data
        delivery = await self._package(record_id, plan, result, seconds, filesize_limit)
        del result
        return await self._deliver(delivery, deliver)

    async def alter(
        self,
        *,
        record_id: int,
        instruction: str,
        user_id: int,
        guild_id: int | None,
        channel_id: int,
        parent_channel_id: int | None,
        fetch: Callable[[], Awaitable[bytes]],
        deliver: Deliver,
        progress: Progress | None = None,
        filesize_limit: int = DEFAULT_FILESIZE_LIMIT,
    ) -> ImageOutcome:
        """✏️ Edit a picture the bot generated with Venice's `/image/edit`, following `instruction`.

        The instruction is screened like an image prompt (both stages, always judged) before
        anything else; the source is the posted file (read by `fetch` when the queue's turn comes);
        the result is a new image record whose `parent_id` is the edited one (lineage), kind
        "alter". Counted as an image (quota, USD at the edit model's price).
        """
        progress = _Careful(progress or Progress())
        source = await store.get(self.sessions, record_id)
        if source is None or source.status not in (store.DONE, store.DELETED):
            raise UserError(ALTER_GONE)
        if source.status == store.DELETED:
            raise UserError(ALTER_DELETED)
        if not await self.settings.get("images", guild_id=guild_id, channel_id=channel_id,
                                       parent_id=parent_channel_id):
            raise UserError(planning.IMAGES_OFF)
        instruction = instruction.strip()
        if not instruction:
            raise UserError("Say what to change in the picture.")
        where = Where(user_id, guild_id, channel_id, "image edit", parent_id=parent_channel_id)
        await self.policy.check(instruction, where, context="image")  # edit instructions are judged like prompts
        model = await self.venice.edit_model()
        if model is None:
            raise UserError(NO_EDIT_MODEL)
        price = edit_cost(model)
        cost = price.usd if price is not None and price.usd is not None else 0.0
        job = ImageJob(
            kind="alter", user_id=user_id, guild_id=guild_id, channel_id=channel_id,
            parent_channel_id=parent_channel_id, prompt=instruction, model=model.id, parent_image_id=source.id,
        )
        lease = await self.limits.acquire(
            user_id=user_id, guild_id=guild_id, channel_id=channel_id, kind="image", parent_id=parent_channel_id,
            estimate_usd=cost,
        )
        try:
            new = store.NewImage(
                user_id=user_id, guild_id=guild_id, channel_id=channel_id, kind="alter", user_prompt=instruction,
                prompt=instruction, negative="", model=model.id, style=None, seed=None, width=source.width,
                height=source.height, steps=None, character_ref=source.character_ref, parent_id=source.id,
            )
            new_id = await store.create(self.sessions, new)
            return await self._guarded(new_id, job, lambda: self._alter(
                new_id, source, job, fetch, cost, model.name or model.id, deliver, progress, filesize_limit
            ))
        finally:
            await self.limits.release(lease)

    async def _alter(
        self, record_id: int, source: store.ImageRecord, job: ImageJob, fetch: Callable[[], Awaitable[bytes]],
        cost: float, model_name: str, deliver: Deliver, progress: Progress, filesize_limit: int,
    ) -> ImageOutcome:
        async with self._turn(record_id, job, progress):
            original = await fetch()  # only now, so a long queue holds no image bytes
            started = self._clock()
            result = await self._patiently(
                progress, self.venice.edit_image, original, job.prompt, model=job.model, on_wait=progress.waiting
            )
            del original
            seconds = self._clock() - started
        booked = result.cost.usd if result.cost is not None and result.cost.usd is not None else cost
        await self.limits.record(user_id=job.user_id, guild_id=job.guild_id, kind="image", cost_usd=booked)
        plan = ImagePlan(
            job=job, model=job.model, model_name=model_name, prompt=job.prompt, negative="", width=None, height=None,
            steps=None, seed=0, seed_source=planning.SOURCE_SAME, style=None, prompt_limit=len(job.prompt),
            description=job.prompt,
        )
        delivery = await self._package(record_id, plan, result, seconds, filesize_limit)
        delivery.seed = None  # an edit has no seed of its own
        del result
        return await self._deliver(delivery, deliver)

    # -- shared steps --------------------------------------------------------------------------

    async def _guarded(
        self, record_id: int, job: ImageJob, work: Callable[[], Awaitable[ImageOutcome]]
    ) -> ImageOutcome:
        """Run `work`, turning every way it can end into a record status and a user message."""
        where = Where(job.user_id, job.guild_id, job.channel_id, entry=job.kind)
        try:
            return await work()
        except Cancelled:
            await self._settle(store.mark_cancelled, record_id)
            raise ImageCancelled(record_id) from None
        except ContentPolicyError as err:
            # A Venice safety flag is a hard stop: nothing is posted and nothing is retried.
            await self._settle(store.mark_failed, record_id)
            await audit(self.sessions, where, kind="venice_flag", rule=err.rule[:64])
            raise ImageFailed(err.user_message, record_id=record_id) from None
        except VeniceError as err:
            await self._settle(store.mark_failed, record_id)
            raise ImageFailed(err.user_message, record_id=record_id) from None
        except UserError as err:
            await self._settle(store.mark_failed, record_id)
            raise ImageFailed(err.user_message, record_id=record_id) from None
        except BaseException:
            await self._settle(store.mark_failed, record_id)
            raise

    async def _settle(self, mark: Callable[..., Awaitable[None]], record_id: int) -> None:
        """Record how a request ended; shielded so a cancelled task still leaves no pending row."""
        try:
            await asyncio.shield(mark(self.sessions, record_id))
        except Exception:
            log.exception("could not update image record %s", record_id)

    def _turn(self, record_id: int, job: ImageJob, progress: Progress) -> _Turn:
        return _Turn(self, record_id, job, progress)

    async def _patiently(
        self, progress: Progress, call: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any
    ) -> T:
        """Call Venice, waiting out rate limits (visibly) until `patience` runs out.

        The client already retries a few 429s; a busy period can outlast those, and a queued
        image is worth waiting for, so the wait goes on here with a growing pause.
        """
        deadline = self._clock() + self.patience
        pause = 2.0
        while True:
            try:
                return await call(*args, **kwargs)
            except RateLimitError as err:
                wait = err.retry_after if err.retry_after is not None else pause
                pause = min(pause * 2, 30.0)
                if self._clock() + wait > deadline:
                    raise
                await progress.waiting(wait)
                await self._sleep(wait)

    async def _package(
        self, record_id: int, plan: ImagePlan, result: ImageResult, seconds: float, limit: int
    ) -> Delivery:
        try:
            data, content_type, ext = await self.offload.in_thread(fit_to_limit, result.data, result.content_type,
                                                                   limit)
        except ValueError as exc:
            log.warning("image %s could not be fitted to %d bytes: %s", record_id, limit, exc)
            raise UserError(TOO_LARGE) from None
        width, height = planning.dimensions(data, result)
        return Delivery(
            record_id=record_id, kind=plan.job.kind, data=data, content_type=content_type,
            filename=f"lustify-{record_id}.{ext}", width=width, height=height, seconds=seconds,
            user_prompt=plan.description, prompt=plan.prompt, model=plan.model, model_name=plan.model_name,
            style=plan.style, seed=plan.seed, seed_source=plan.seed_source, parent_id=plan.job.parent_image_id,
            trimmed=list(plan.trimmed), reencoded=data is not result.data,
        )

    async def _deliver(self, delivery: Delivery, deliver: Deliver) -> ImageOutcome:
        size = len(delivery.data)
        message_id = await deliver(delivery)
        delivery.data = b""  # drop the bytes even if the caller keeps the Delivery
        await store.mark_done(
            self.sessions, delivery.record_id, message_id=message_id, width=delivery.width, height=delivery.height
        )
        return ImageOutcome(
            delivery.record_id, message_id, delivery.width, delivery.height, delivery.seed, delivery.seconds, size
        )

    # -- queue control -------------------------------------------------------------------------

    def cancel(self, record_id: int, user_id: int) -> bool | None:
        """Cancel a waiting request. True: cancelled; False: not the requester; None: not waiting."""
        entry = self._waiting.get(record_id)
        if entry is None:
            return None
        ticket, owner = entry
        if owner != user_id:
            return False
        return True if ticket.cancel() else None

    # -- character images ----------------------------------------------------------------------

    async def scene_image(
        self,
        *,
        scene_prompt: str,
        character: Character,
        character_ref: str,
        user_id: int,
        guild_id: int | None,
        channel_id: int,
        deliver: Deliver,
        parent_channel_id: int | None = None,
        progress: Progress | None = None,
        filesize_limit: int = DEFAULT_FILESIZE_LIMIT,
        cast: Sequence[tuple[Character, str]] = (),
    ) -> ImageOutcome:
        """A picture of what is happening in a chat scene, with the character as they look.

        `cast` (a group scene's members, (character, ref) in cast order): every member's appearance,
        each with its own stable seed, and the picture's seed derived from theirs (`images.cast`).

        Same path as /imagine (screen, compose, queue, record kind "scene", lineage-ready), with
        the character's appearance and its own stable seed so it looks the same every time.
        Raises UserError (before anything is stored), ImageCancelled or ImageFailed.
        """
        job = await self.character_job(
            kind="scene", scene=scene_prompt, character=character, character_ref=character_ref,
            user_id=user_id, guild_id=guild_id, channel_id=channel_id, parent_channel_id=parent_channel_id,
        )
        if len(cast) > 1:
            looks = [CastLook(ref, member.appearance, await planning.character_seed_for(self.sessions, member, ref))
                     for member, ref in cast]
            picture = picture_cast(looks)
            job = replace(job, appearance=picture.appearance, seed=picture.seed)
        plan = await self.plan(job)
        return await self.run(plan, deliver=deliver, progress=progress, filesize_limit=filesize_limit)

    async def character_job(
        self, *, kind: str, scene: str, character: Character, character_ref: str, user_id: int,
        guild_id: int | None, channel_id: int, parent_channel_id: int | None = None,
    ) -> ImageJob:
        """The job for a picture of `character` (a /selfie or a chat scene)."""
        seed = await planning.character_seed_for(self.sessions, character, character_ref)
        return planning.character_job(
            kind=kind, scene=scene, character=character, character_ref=character_ref, seed=seed,
            user_id=user_id, guild_id=guild_id, channel_id=channel_id, parent_channel_id=parent_channel_id,
        )


class _Careful(Progress):
    """Progress whose failures (a Discord edit that did not go through) never stop the image."""

    def __init__(self, inner: Progress) -> None:
        self.inner = inner

    async def queued(self, record_id: int, position: int) -> None:
        await self._quietly(self.inner.queued(record_id, position))

    async def waiting(self, seconds: float) -> None:
        await self._quietly(self.inner.waiting(seconds))

    async def started(self) -> None:
        await self._quietly(self.inner.started())

    @staticmethod
    async def _quietly(update: Awaitable[None]) -> None:
        try:
            await update
        except Exception:
            log.warning("image progress update failed", exc_info=True)


class _Turn:
    """`async with`: wait for a queue slot (reporting the position, cancellable), then hold it."""

    def __init__(self, service: ImageService, record_id: int, job: ImageJob, progress: Progress) -> None:
        self.service = service
        self.record_id = record_id
        self.progress = progress
        self.ticket = service.queue.submit(job.user_id, job.guild_id, self._position)
        service._waiting[record_id] = (self.ticket, job.user_id)
        self._slot = service.queue.slot(self.ticket)

    async def _position(self, position: int) -> None:
        await self.progress.queued(self.record_id, position)

    async def __aenter__(self) -> None:
        try:
            await self._slot.__aenter__()
        finally:
            self.service._waiting.pop(self.record_id, None)
        await self.progress.started()

    async def __aexit__(self, *exc: object) -> bool | None:
        return await self._slot.__aexit__(*exc)  # type: ignore[arg-type]
