"""Turning an image job into exactly what is sent to Venice, and refusing what cannot be sent.

The order of checks is deliberate: local checks (empty prompt, seed range, aspect) first, then
stage 1 of the content screen on the user's own words (`precheck`, before an interaction is
deferred: a clear-cut refusal is a private answer at once), then settings, and only then the Venice
catalogue (models, styles), so a malformed request never reaches Venice at all. The composed prompt
(the user's words plus what the bot adds: exactly what would be drawn) then goes through both
stages, the judge included (`ContentPolicy.check(..., context="image")`), before any generate call:
an image cannot be unsent. The judge's verdict is cached by the text, so a reroll (which sends its
parent's composed prompt again) or a same-seed edit that keeps the words costs no judge call.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.characters.model import Character
from bot.errors import Refused, UserError
from bot.images.compose import (
    ADULT_ANCHOR,
    MIN_LIMIT,
    MINOR_NEGATIVE_TERMS,
    QUALITY_TAGS,
    clean,
    compose_prompt,
    selfie_prompt,
    split_clauses,
)
from bot.images.encode import probe
from bot.images.jobs import ImageJob, ImagePlan
from bot.images.seeds import SOURCE_GIVEN, character_seed, choose_seed, valid_seed
from bot.images.sizes import DEFAULT_ASPECT, MIN_SIDE, ImageConstraints, fit_upscale, resolve_aspect, size_for
from bot.policy import ContentPolicy, audit
from bot.settings import SettingsStore
from bot.store import channels
from bot.store import images as store
from bot.store.models import CharacterRow, ImageRecord
from bot.venice.client import VeniceClient
from bot.venice.errors import VeniceError
from bot.venice.types import ImageResult, ModelInfo
from bot.where import Where

log = logging.getLogger(__name__)

EMPTY_PROMPT = "Tell me what to draw: the prompt can't be empty."
SEED_RANGE = "That seed is out of range. Seeds are whole numbers between -999,999,999 and 999,999,999."
IMAGES_OFF = "Images are turned off in this channel."
NEGATIVE_ADULT = "The negative prompt can't steer images away from adults: everyone pictured here is an adult."
UPSCALE_MAX_INPUT_BYTES = 25 * 1024 * 1024  # Venice's upload limit for /image/upscale
SOURCE_CHARACTER = "character"
SOURCE_SAME = "same as before"

_MINOR_TERMS = {c.casefold() for c in split_clauses(MINOR_NEGATIVE_TERMS)}
# Asking the model to avoid adult features pushes it towards younger-looking people.
_ADULT_NEGATION = re.compile(r"\b(?:adults?|mature|grown[\s-]?ups?)\b", re.IGNORECASE)


async def precheck(policy: ContentPolicy, job: ImageJob) -> None:
    """The checks that need neither Venice nor settings, cheap enough to run before deferring.

    Raises UserError (empty prompt, seed out of range, unknown aspect) or Refused (stage 1 of the
    screen; the judge reads the composed prompt in `make_plan`).
    """
    if not clean(job.prompt):
        raise UserError(EMPTY_PROMPT)
    if job.seed is not None and not valid_seed(job.seed):
        raise UserError(SEED_RANGE)
    if job.size is None:
        try:
            resolve_aspect(job.aspect)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    await screen_inputs(policy, where_of(job), prompt=job.prompt, negative=job.negative, appearance=job.appearance)


def where_of(job: ImageJob) -> Where:
    return Where(job.user_id, job.guild_id, job.channel_id, entry=job.kind)


def strikes(job: ImageJob) -> bool:
    """Does a refusal of this job's composed prompt count against the person who asked? Not for a
    chat scene (Venice described it) nor a picture of a character (its author wrote the look)."""
    return job.kind not in ("scene", "selfie") and not job.appearance


async def make_plan(
    job: ImageJob, *, sessions: async_sessionmaker[AsyncSession], venice: VeniceClient, settings: SettingsStore,
    policy: ContentPolicy,
) -> ImagePlan:
    """Validate, screen and compose `job`; raises UserError (or Refused, CheckUnavailable) without
    a generate call."""
    await precheck(policy, job)
    text = clean(job.prompt)
    where = where_of(job)
    cfg = await settings.resolve_all(
        guild_id=job.guild_id, channel_id=job.channel_id, parent_id=job.parent_channel_id,
        keys=["images", "image_model", "image_style"],
    )
    if not cfg["images"].value:
        raise UserError(IMAGES_OFF)
    info = await find_model(venice, job.model, cfg["image_model"].value)
    constraints = ImageConstraints.from_model(info)
    style = await find_style(venice, job.style, cfg["image_style"].value)
    width, height = _size(job, info, constraints)
    seed, seed_source = await _seed(sessions, job)

    composed = compose_prompt(
        text, appearance=job.appearance, limit=max(MIN_LIMIT, constraints.prompt_char_limit),
        user_negative=job.negative, quality=QUALITY_TAGS if job.add_quality else "",
    )
    # Both stages over exactly what would be drawn; image prompts are always judged.
    await policy.check(composed.prompt, where, context="image", strike=strikes(job))
    description = job.description or (job.prompt if not job.appearance else ", ".join(
        part for kind, part in composed.parts if kind in ("user", "adult", "appearance")
    ))
    return ImagePlan(
        job=job, description=description, model=info.id, model_name=info.name or info.id,
        prompt=composed.prompt, negative=composed.negative, width=width, height=height,
        steps=constraints.steps_default if info.steps_max is not None else None,
        seed=seed, seed_source=seed_source, style=style, prompt_limit=constraints.prompt_char_limit,
        trimmed=sorted(set(composed.dropped) | set(composed.shortened)), cost_usd=generation_cost(info),
    )


async def screen_inputs(
    policy: ContentPolicy, where: Where, *, prompt: str, negative: str = "", appearance: str = "",
) -> None:
    """Stage 1 of the content screen over what a person wrote, before anything goes to Venice
    (the judge reads the composed prompt later, in `make_plan`).

    Minor-feature terms in the negative prompt are taken out first: the bot adds them to every
    negative prompt anyway, and a user asking to keep them out is not asking for them.
    """
    own = ", ".join(c for c in split_clauses(clean(negative)) if c.casefold() not in _MINOR_TERMS)
    if own and _ADULT_NEGATION.search(own):
        await audit(policy.sessions, where, kind="refusal", rule="negative_adult")
        raise Refused(NEGATIVE_ADULT, "negative_adult")
    # A scene prompt was written by Venice, and an appearance by the character's author: refused,
    # but no strike for the person who pressed the button.
    await policy.precheck([prompt, own], where, context="image", strike=where.entry != "scene")
    await policy.precheck([appearance], where, context="image", strike=False)


async def find_model(venice: VeniceClient, requested: str | None, default: str | None) -> ModelInfo:
    """The catalogue entry of the model to use; unknown or offline → UserError."""
    name = (requested or default or "").strip()
    models = await venice.list_models("image")
    info = next((m for m in models if m.id == name), None) or next(
        (m for m in models if m.id.casefold() == name.casefold()), None
    )
    shown = name[:60] or "(none)"
    if info is None:
        if requested:
            raise UserError(f"I don't know an image model called “{shown}”. Pick one from the list.")
        raise UserError(
            f"This channel's image model “{shown}” isn't offered by Venice any more. "
            "An admin can pick another one in /settings."
        )
    if info.offline:
        raise UserError(f"The image model “{info.id}” is offline on Venice right now. Try another one.")
    return info


async def find_style(venice: VeniceClient, requested: str | None, default: str | None) -> str | None:
    """Venice's exact spelling of the style, None for no style; an unknown requested style → UserError."""
    name = (requested if requested is not None else default or "").strip()
    if not name or name.casefold() == "none":
        return None
    styles = await venice.image_styles()
    match = next((s for s in styles if s == name), None) or next(
        (s for s in styles if s.casefold() == name.casefold()), None
    )
    if match is not None:
        return match
    if requested is not None:
        raise UserError(f"There's no style called “{name[:50]}”. Pick one from the list, or leave it empty.")
    # A stale server default should not stop every image in the server; it is dropped instead.
    log.warning("default image style %r is not offered by Venice; generating without a style", name)
    return None


def _size(job: ImageJob, info: ModelInfo, constraints: ImageConstraints) -> tuple[int | None, int | None]:
    if info.aspect_ratios or info.resolutions:
        return None, None  # sized by aspect ratio or resolution tier; pixel sizes are rejected
    if job.size is not None and min(job.size) > 0:
        # A parent's exact size (rerolls, edits); an upscale's is shrunk back, keeping its shape.
        divisor = constraints.divisor
        cap = constraints.max_side // divisor * divisor
        floor = -(-MIN_SIDE // divisor) * divisor
        shrink = min(1.0, cap / max(job.size))
        width, height = (max(floor, min(cap, int(side * shrink) // divisor * divisor)) for side in job.size)
        return width, height
    return size_for(job.aspect or DEFAULT_ASPECT, constraints)


async def _seed(sessions: async_sessionmaker[AsyncSession], job: ImageJob) -> tuple[int, str]:
    locked = None
    if job.seed is None and job.use_lock:
        view = await channels.load(sessions, job.channel_id, job.parent_channel_id)
        locked = view.seed if view.seed_locked else None
    seed, source = choose_seed(job.seed, locked)
    return seed, job.seed_source if source == SOURCE_GIVEN else source


def _price(pricing: Any, *path: str) -> float:
    node = pricing
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else 0.0


def generation_cost(info: ModelInfo) -> float:
    """USD per image from the catalogue; Venice sends no cost on image answers."""
    pricing = dict(info.pricing or {})
    cost = _price(pricing, "generation", "usd")
    if not cost and isinstance(pricing.get("resolutions"), dict):
        cost = min((_price(v, "usd") for v in pricing["resolutions"].values()), default=0.0)
    return cost


def new_record(plan: ImagePlan) -> store.NewImage:
    job = plan.job
    return store.NewImage(
        user_id=job.user_id, guild_id=job.guild_id, channel_id=job.channel_id, kind=job.kind,
        user_prompt=plan.description, prompt=plan.prompt, negative=plan.negative, model=plan.model, style=plan.style,
        seed=plan.seed, width=plan.width or 0, height=plan.height or 0, steps=plan.steps,
        character_ref=job.character_ref, parent_id=job.parent_image_id,
    )


def dimensions(data: bytes, result: ImageResult) -> tuple[int, int]:
    """The posted file's real size (it may have been scaled down to fit Discord)."""
    try:
        width, height, _ = probe(data)
    except ValueError:
        return result.width, result.height
    return width, height


# -- character images -----------------------------------------------------------------------


async def character_seed_for(
    sessions: async_sessionmaker[AsyncSession], character: Character, character_ref: str
) -> int:
    """The seed a character is always drawn with: its locked seed if it has one, else a stable hash."""
    if character.id is not None:
        async with sessions() as session:
            row = await session.get(CharacterRow, character.id)
        if row is not None and valid_seed(row.seed):
            return int(row.seed)  # type: ignore[arg-type]
    return character_seed(character_ref or f"name:{character.name}")


def character_job(
    *, kind: str, scene: str, character: Character, character_ref: str, seed: int, user_id: int,
    guild_id: int | None, channel_id: int, parent_channel_id: int | None,
) -> ImageJob:
    """A /selfie (portrait from the appearance) or a chat scene (the scene, then the appearance)."""
    common: dict[str, Any] = {
        "kind": kind, "user_id": user_id, "guild_id": guild_id, "channel_id": channel_id,
        "parent_channel_id": parent_channel_id, "seed": seed, "seed_source": SOURCE_CHARACTER,
        "use_lock": False, "character_ref": character_ref,
    }
    if kind == "selfie":
        # The name is left out on purpose: a character may be named after a real person.
        return ImageJob(prompt=selfie_prompt(character.name, character.appearance, scene), **common)
    return ImageJob(prompt=scene, appearance=clean(character.appearance) or ADULT_ANCHOR, **common)


# -- upscale --------------------------------------------------------------------------------


async def check_upscale(
    *, sessions: async_sessionmaker[AsyncSession], venice: VeniceClient, settings: SettingsStore, record_id: int,
    guild_id: int | None, channel_id: int, parent_channel_id: int | None, source_size: tuple[int, int] | None,
    scale: int,
) -> tuple[ImageRecord, float]:
    """The record to upscale and the upscale's price; UserError when it can't be upscaled."""
    record = await store.get(sessions, record_id)
    if record is None or record.status not in (store.DONE, store.DELETED):
        raise UserError("I can't find that image any more, so it can't be upscaled.")
    if record.status == store.DELETED:
        raise UserError("That image was deleted, so it can't be upscaled.")
    if record.kind == "upscale":
        raise UserError("That image is already upscaled.")
    enabled = await settings.get(
        "images", guild_id=guild_id, channel_id=channel_id, parent_id=parent_channel_id
    )
    if not enabled:
        raise UserError(IMAGES_OFF)
    width, height = source_size or (record.width, record.height)
    if not fit_upscale(width, height, scale):
        raise UserError(f"A {width}×{height} image can't be upscaled ×{scale} (Venice's size limits).")
    cost = 0.0
    try:
        info = next((m for m in await venice.list_models("image") if m.id == record.model), None)
        cost = _price(dict(info.pricing or {}), "upscale", f"{scale}x", "usd") if info else 0.0
    except VeniceError as exc:
        log.info("no upscale price for %s: %s", record.model, exc)
    return record, cost


def check_upscale_input(data: bytes, scale: int) -> None:
    """Refuse a source file Venice would reject, before sending it."""
    if len(data) > UPSCALE_MAX_INPUT_BYTES:
        raise UserError("That image is too large for Venice to upscale.")
    try:
        width, height, _ = probe(data)
    except ValueError:
        raise UserError("The original file isn't a readable image any more, so it can't be upscaled.") from None
    if not fit_upscale(width, height, scale):
        raise UserError(f"A {width}×{height} image can't be upscaled ×{scale} (Venice's size limits).")


def upscale_record(
    source: ImageRecord, job: ImageJob, source_size: tuple[int, int] | None, scale: int
) -> store.NewImage:
    width, height = source_size or (source.width, source.height)
    return store.NewImage(
        user_id=job.user_id, guild_id=job.guild_id, channel_id=job.channel_id, kind="upscale",
        user_prompt=source.user_prompt, prompt=source.prompt, negative=source.negative, model=source.model,
        style=source.style, seed=source.seed, width=width * scale, height=height * scale, steps=source.steps,
        character_ref=source.character_ref, parent_id=source.id,
    )


def upscale_plan(source: ImageRecord, job: ImageJob) -> ImagePlan:
    """What the upscale's embed shows: the original's parameters."""
    return ImagePlan(
        job=job, model=source.model, model_name=source.model, prompt=source.prompt, negative=source.negative,
        width=None, height=None, steps=source.steps, seed=source.seed or 0, seed_source=SOURCE_SAME,
        style=source.style, prompt_limit=len(source.prompt), description=source.user_prompt,
    )
