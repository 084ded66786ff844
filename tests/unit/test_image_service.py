"""ImageService without Discord: planning, running, waiting out Venice, failures and cancel.

The service runs on a real migrated database and the real Venice client talking to the local
fake Venice; `deliver` and `Progress` are plain callables, as a cog or the chat engine gives them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from bot.characters.model import DEFAULT_CHARACTER, Character
from bot.config import Env
from bot.errors import LimitReached, UserError
from bot.images.compose import ADULT_ANCHOR, MINOR_NEGATIVE_TERMS, QUALITY_TAGS
from bot.images.jobs import Delivery, ImageCancelled, ImageFailed, ImageJob, Progress
from bot.images.queue import ImageQueue
from bot.images.seeds import character_seed
from bot.images.service import ImageService
from bot.limits import Limits
from bot.policy import ContentPolicy
from bot.settings import SettingsStore
from bot.store import images as store
from bot.store.engine import make_engine, make_sessionmaker
from bot.store.models import AuditEvent, CharacterRow, Usage
from bot.venice.client import VeniceClient
from tests.conftest import VENICE_KEY, make_settings
from tests.fakes.venice import FakeVenice, Fault

GENERATE = "/image/generate"


class Recorder(Progress):
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self.was_queued = asyncio.Event()

    async def queued(self, record_id: int, position: int) -> None:
        self.events.append(("queued", position))
        self.was_queued.set()

    async def waiting(self, seconds: float) -> None:
        self.events.append(("waiting", seconds))

    async def started(self) -> None:
        self.events.append(("started", None))


class Inbox:
    """A deliver callable that keeps what it was given (sizes only, as a real one would post)."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.sizes: list[int] = []

    async def __call__(self, delivery: Delivery) -> int:
        self.deliveries.append(delivery)
        self.sizes.append(len(delivery.data))
        return 1000 + len(self.deliveries)


@pytest.fixture
async def service(db_url: str, fake_venice: FakeVenice) -> AsyncIterator[ImageService]:
    settings: Env = make_settings(db_url, venice_base_url=fake_venice.base_url)
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    config = SettingsStore(sessions, settings)
    await config.set("image_cooldown", 0, scope="global", scope_id=0, guild_id=None, by=0)
    venice = VeniceClient(VENICE_KEY, fake_venice.base_url, backoff_base=0.01)
    svc = ImageService(sessions=sessions, venice=venice, settings=config, limits=Limits(sessions, config),
                       policy=ContentPolicy(sessions, venice, settings), queue=ImageQueue(min_update_interval=0))
    yield svc
    await venice.close()
    await engine.dispose()


def job(**fields: object) -> ImageJob:
    values: dict[str, object] = {"kind": "imagine", "user_id": 1, "guild_id": 10, "channel_id": 100,
                                 "prompt": "a woman on a rooftop at night"}
    values.update(fields)
    return ImageJob(**values)  # type: ignore[arg-type]


async def count(service: ImageService, model: type) -> int:
    async with service.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


# -- planning ------------------------------------------------------------------------------


async def test_plan_composes_user_words_first_and_uses_the_models_defaults(service: ImageService) -> None:
    plan = await service.plan(job(aspect="portrait"))
    assert plan.prompt == f"a woman on a rooftop at night, {QUALITY_TAGS}"
    assert plan.negative.startswith(MINOR_NEGATIVE_TERMS)
    assert (plan.model, plan.steps, plan.prompt_limit) == ("lustify-sdxl", 20, 1500)
    assert plan.width is not None and plan.height is not None and plan.height > plan.width
    assert plan.width % 8 == 0 and plan.height % 8 == 0 and max(plan.width, plan.height) <= 1280
    assert plan.cost_usd == pytest.approx(0.01)
    assert plan.seed_source == "random" and plan.description == "a woman on a rooftop at night"


async def test_models_sized_by_aspect_ratio_get_no_pixel_size(service: ImageService) -> None:
    plan = await service.plan(job(model="flux-2-pro"))
    assert (plan.width, plan.height) == (None, None)
    assert plan.cost_usd == pytest.approx(0.03)


async def test_a_stale_default_style_is_dropped_but_an_unknown_requested_style_is_refused(
    service: ImageService,
) -> None:
    await service.settings.set("image_style", "Retired Style", scope="guild", scope_id=10, guild_id=10, by=1)
    assert (await service.plan(job())).style is None
    with pytest.raises(UserError, match="no style called"):
        await service.plan(job(style="Retired Style"))
    assert (await service.plan(job(style="pixel art"))).style == "Pixel Art"
    assert (await service.plan(job(style="none"))).style is None


async def test_a_scene_puts_the_scene_first_then_the_adult_appearance(service: ImageService) -> None:
    character = Character(name="Vera", appearance="silver hair, grey eyes")
    scene_job = await service.character_job(
        kind="scene", scene="dancing in the rain", character=character, character_ref="custom:7",
        user_id=1, guild_id=10, channel_id=100,
    )
    plan = await service.plan(scene_job)
    assert plan.prompt.startswith(f"dancing in the rain, {ADULT_ANCHOR}, silver hair, grey eyes")
    assert plan.description == f"dancing in the rain, {ADULT_ANCHOR}, silver hair, grey eyes"
    assert (plan.seed, plan.seed_source) == (character_seed("custom:7"), "character")
    assert "Vera" not in plan.prompt


async def test_a_custom_characters_locked_seed_wins_over_its_hashed_seed(service: ImageService) -> None:
    async with service.sessions.begin() as session:
        row = CharacterRow(owner_id=1, guild_id=10, name="Vera", card={}, seed=777)
        session.add(row)
        await session.flush()
        character_id = row.id
    character = Character(name="Vera", appearance="silver hair", id=character_id, source="custom")
    selfie = await service.character_job(kind="selfie", scene="", character=character,
                                         character_ref=f"custom:{character_id}", user_id=1, guild_id=10,
                                         channel_id=100)
    assert selfie.seed == 777 and selfie.prompt.startswith("portrait selfie of")


async def test_rerolls_of_an_upscale_shrink_back_keeping_the_shape(service: ImageService) -> None:
    plan = await service.plan(job(size=(1664, 2432)))
    assert plan.height == 1280 and plan.width is not None and abs(plan.width / plan.height - 1664 / 2432) < 0.02


async def test_images_turned_off_refuse_before_any_venice_call(service: ImageService, fake_venice: FakeVenice) -> None:
    await service.settings.set("images", False, scope="guild", scope_id=10, guild_id=10, by=1)
    with pytest.raises(UserError, match="turned off"):
        await service.plan(job())
    assert fake_venice.requests == []


async def test_minor_terms_in_the_users_negative_pass_but_steering_from_adults_is_refused(
    service: ImageService,
) -> None:
    await service.plan(job(negative="child, loli, blurry"))
    with pytest.raises(UserError, match="adults"):
        await service.plan(job(negative="grown-up, wrinkles"))
    async with service.sessions() as session:
        rules = list(await session.scalars(select(AuditEvent.rule)))
    assert rules == ["negative_adult"]


# -- running -------------------------------------------------------------------------------


async def test_run_delivers_once_records_everything_and_keeps_no_bytes(service: ImageService) -> None:
    inbox = Inbox()
    outcome = await service.run(await service.plan(job()), deliver=inbox)
    [delivery] = inbox.deliveries
    assert inbox.sizes[0] > 0 and delivery.data == b""  # emptied once posted
    assert delivery.filename == f"lustify-{outcome.record_id}.webp"
    record = await store.get(service.sessions, outcome.record_id)
    assert record is not None and (record.status, record.discord_message_id) == ("done", 1001)
    async with service.sessions() as session:
        cost = await session.scalar(select(Usage.cost_usd))
    assert cost == pytest.approx(0.01)
    async with service.sessions() as session:  # booked, and no concurrency slot left held
        assert (await session.scalars(select(Usage.state))).all() == ["done"]


async def test_rate_limits_beyond_the_clients_retries_are_waited_out(
    service: ImageService, fake_venice: FakeVenice
) -> None:
    fake_venice.inject(GENERATE, Fault.rate_limited(0.01, times=6))
    progress = Recorder()
    outcome = await service.run(await service.plan(job()), deliver=Inbox(), progress=progress)
    assert outcome.message_id == 1001
    assert sum(1 for kind, _ in progress.events if kind == "waiting") >= 6
    assert fake_venice.count(GENERATE) == 7


async def test_when_patience_runs_out_the_request_fails_with_the_rate_limit_wording(
    service: ImageService, fake_venice: FakeVenice
) -> None:
    service.patience = 0.0
    fake_venice.inject(GENERATE, Fault.rate_limited(0.01, times=10))
    with pytest.raises(ImageFailed, match="busy") as caught:
        await service.run(await service.plan(job()), deliver=Inbox())
    record = await store.get(service.sessions, caught.value.record_id or 0)
    assert record is not None and record.status == "failed"


async def test_a_venice_flag_is_audited_not_retried_and_nothing_is_delivered(
    service: ImageService, fake_venice: FakeVenice
) -> None:
    fake_venice.inject(GENERATE, Fault.of("contains_minor"))
    inbox = Inbox()
    with pytest.raises(ImageFailed, match="minor"):
        await service.run(await service.plan(job()), deliver=inbox)
    assert inbox.deliveries == [] and fake_venice.count(GENERATE) == 1
    async with service.sessions() as session:
        audit = await session.scalar(select(AuditEvent))
    assert audit is not None and (audit.kind, audit.rule) == ("venice_flag", "x-venice-contains-minor")
    assert await count(service, Usage) == 0  # nothing booked, no reservation left


async def test_a_failed_delivery_marks_the_record_failed_and_raises(service: ImageService) -> None:
    async def broken(delivery: Delivery) -> int:
        raise RuntimeError("Discord is down")

    with pytest.raises(RuntimeError):
        await service.run(await service.plan(job()), deliver=broken)
    assert (await store.count_by_status(service.sessions)) == {"failed": 1}


async def test_a_daily_quota_refuses_before_anything_is_stored(service: ImageService) -> None:
    await service.settings.set("daily_images", 1, scope="guild", scope_id=10, guild_id=10, by=1)
    await service.run(await service.plan(job()), deliver=Inbox())
    with pytest.raises(LimitReached, match="for today"):
        await service.run(await service.plan(job()), deliver=Inbox())
    assert (await store.count_by_status(service.sessions)) == {"done": 1}


async def test_a_waiting_request_is_cancelled_only_by_its_requester(
    service: ImageService, fake_venice: FakeVenice
) -> None:
    service.queue = ImageQueue(global_limit=1, min_update_interval=0)
    blocker = service.queue.submit(99, None)
    release = asyncio.Event()

    async def hold() -> None:
        async with service.queue.slot(blocker):
            await release.wait()

    holding = asyncio.create_task(hold())
    progress = Recorder()
    waiting = asyncio.create_task(service.run(await service.plan(job()), deliver=Inbox(), progress=progress))
    await asyncio.wait_for(progress.was_queued.wait(), 5)
    assert progress.events[0] == ("queued", 1)
    [record_id] = list(service._waiting)
    assert service.cancel(record_id, user_id=2) is False
    assert service.cancel(record_id, user_id=1) is True
    with pytest.raises(ImageCancelled):
        await waiting
    release.set()
    await holding
    assert service.cancel(record_id, user_id=1) is None
    assert (await store.count_by_status(service.sessions)) == {"cancelled": 1}
    assert fake_venice.count(GENERATE) == 0 and await count(service, Usage) == 0


async def test_scene_image_runs_like_imagine_with_the_character(service: ImageService) -> None:
    inbox = Inbox()
    outcome = await service.scene_image(
        scene_prompt="sharing a cocktail at the bar", character=DEFAULT_CHARACTER, character_ref="builtin:scarlett",
        user_id=1, guild_id=10, channel_id=100, deliver=inbox,
    )
    record = await store.get(service.sessions, outcome.record_id)
    assert record is not None and (record.kind, record.character_ref) == ("scene", "builtin:scarlett")
    assert record.seed == character_seed("builtin:scarlett")
    assert record.prompt.startswith("sharing a cocktail at the bar, ")
    assert "auburn hair" in record.user_prompt
