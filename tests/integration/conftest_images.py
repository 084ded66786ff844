"""Fixtures for the image tests: the production bot with the images cog, on the local fakes.

Imported by the `test_images*.py` modules (pytest only collects fixtures from `conftest.py`, and
the shared one belongs to everyone); each fixture is registered under its `name=`, so a test
module imports `world_fixture` and its tests ask for `world`. `ImageWorld` can start a second bot over the same database
and the same fake Discord, which is what a restart looks like to the buttons.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from aiohttp import web

from bot.client import LustifyBot, make_bot
from bot.images.shared_queue import SharedImageQueue
from bot.store import images as store
from bot.store.engine import make_engine, make_sessionmaker
from bot.store.models import AuditEvent, ImageRecord
from tests import payloads as p
from tests.conftest import DISCORD_TOKEN, VENICE_KEY, make_settings
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.drivers import InteractionHandle
from tests.fakes.venice import FakeVenice
from tests.harness import invoke, prime_place

GENERATE = "/image/generate"
UPSCALE = "/image/upscale"


class ImageWorld:
    """One fake Discord, one fake Venice, one database, and the bots started on them."""

    def __init__(self, db_url: str, venice: FakeVenice, discord_fake: FakeDiscord) -> None:
        self.db_url = db_url
        self.venice = venice
        self.discord = discord_fake
        self.bots: list[LustifyBot] = []
        self.places: list[p.PlaceSetup] = []
        self.engine = make_engine(db_url)
        self.sessions = make_sessionmaker(self.engine)

    @property
    def bot(self) -> LustifyBot:
        return self.bots[-1]

    async def start_bot(self, *, update_interval: float = 0.05) -> LustifyBot:
        """A new bot process (as after a restart): logged in, the images cog loaded, places cached."""
        settings = make_settings(
            self.db_url, venice_base_url=self.venice.base_url, discord_api_base=self.discord.api_base
        )
        bot = make_bot(settings, extensions=("cogs.images",))
        await bot.login(DISCORD_TOKEN)
        assert bot.services is not None
        # Positions are shown at most once a second in production, and other processes' changes to
        # the shared line are looked up once a second; tests need not wait that long.
        bot.services.images.queue = SharedImageQueue(bot.services.sessions, owner=bot.services.process,
                                                     min_update_interval=update_interval, poll_interval=0.05)
        if not self.bots:
            # Tests press several buttons in a row; the 5 s default cooldown has its own test.
            await bot.services.settings.set("image_cooldown", 0, scope="global", scope_id=0, guild_id=None, by=0)
        for setup in self.places:
            prime_place(bot, setup)
        self.bots.append(bot)
        return bot

    async def restart(self) -> LustifyBot:
        """Close the current bot and start a fresh one over the same database."""
        await self.bot.close()
        return await self.start_bot()

    def place(self, key: str = "nsfw_text") -> p.PlaceSetup:
        setup = self.discord.add_place(key)
        self.places.append(setup)
        for bot in self.bots:
            prime_place(bot, setup)
        return setup

    def user(self, name: str = "bob") -> dict[str, Any]:
        return self.discord.world.user(p.user(username=name))

    async def slash(self, where: p.PlaceSetup, name: str, options: Any = None, *, user: Any = None,
                    bot: discord.Client | None = None) -> InteractionHandle:
        payload = self.discord.slash_payload(user or where.user, where, name, options)
        await invoke(bot or self.bot, payload, timeout=30)
        return self.discord.handle(payload)

    async def click(self, where: p.PlaceSetup, message: dict[str, Any], custom_id: str, *, user: Any = None,
                    permissions: str | None = None) -> InteractionHandle:
        payload = self.discord.click_payload(user or where.user, where, message["id"], custom_id)
        if permissions is not None and "member" in payload:
            payload["member"]["permissions"] = permissions
        await invoke(self.bot, payload, timeout=30)
        return self.discord.handle(payload)

    async def submit(self, where: p.PlaceSetup, custom_id: str, values: dict[str, str], *,
                     user: Any = None) -> InteractionHandle:
        payload = self.discord.modal_payload(user or where.user, where, custom_id, values)
        await invoke(self.bot, payload, timeout=30)
        return self.discord.handle(payload)

    async def records(self) -> list[ImageRecord]:
        from sqlalchemy import select

        async with self.sessions() as session:
            return list((await session.scalars(select(ImageRecord).order_by(ImageRecord.id))).all())

    async def audits(self, kind: str | None = None) -> list[AuditEvent]:
        from sqlalchemy import select

        query = select(AuditEvent).order_by(AuditEvent.id)
        if kind is not None:
            query = query.where(AuditEvent.kind == kind)
        async with self.sessions() as session:
            return list((await session.scalars(query)).all())

    async def table_counts(self) -> dict[str, int]:
        """Rows per table the image paths could write to, to prove that nothing was written."""
        from sqlalchemy import func, select

        from bot.store.models import ChannelState, ImageSlot, Usage, UserFlag

        counts = {}
        async with self.sessions() as session:
            for model in (ImageRecord, Usage, ImageSlot, AuditEvent, ChannelState, UserFlag):
                counts[model.__tablename__] = int(await session.scalar(select(func.count()).select_from(model)) or 0)
        return counts

    async def turn_off_age_restriction(self, where: p.PlaceSetup) -> None:
        """A moderator unticks "age-restricted": the world changes and the bot hears CHANNEL_UPDATE."""
        from tests.harness import dispatch_event

        channel = self.discord.world.channels[where.channel_id]
        channel["nsfw"] = False
        for bot in self.bots:
            if not bot.is_closed():
                await dispatch_event(bot, "CHANNEL_UPDATE", channel)

    async def record(self, record_id: int) -> ImageRecord:
        found = await store.get(self.sessions, record_id)
        assert found is not None
        return found

    def generated(self) -> list[dict[str, Any]]:
        """The JSON bodies of every generate call Venice received."""
        return [r.json for r in self.venice.requests_to(GENERATE, "POST")]

    async def close(self) -> None:
        for bot in self.bots:
            if not bot.is_closed():
                await bot.close()
        await self.engine.dispose()
        await asyncio.sleep(0)


@pytest.fixture(name="world")
async def world_fixture(db_url: str, fake_venice: FakeVenice, fake_discord: FakeDiscord) -> AsyncIterator[ImageWorld]:
    w = ImageWorld(db_url, fake_venice, fake_discord)
    await w.start_bot()
    yield w
    await w.close()


@pytest.fixture(name="busy_venice")
async def busy_venice_fixture() -> AsyncIterator[FakeVenice]:
    """A fake Venice that takes a while per image and answers every third generate with a 429."""
    fake = FakeVenice(api_key=VENICE_KEY)
    original = fake.images.generate
    counter = itertools.count(1)

    async def slow_and_busy(request: web.Request) -> web.StreamResponse:
        n = next(counter)
        await asyncio.sleep(0.15)
        if n % 3 == 0:
            body = {"error": "Rate limit exceeded", "code": "RATE_LIMIT_EXCEEDED"}
            return web.json_response(body, status=429, headers={"Retry-After": "0.05"})
        return await original(request)

    fake.images.generate = slow_and_busy  # type: ignore[method-assign]
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture(name="busy_world")
async def busy_world_fixture(
    db_url: str, busy_venice: FakeVenice, fake_discord: FakeDiscord
) -> AsyncIterator[ImageWorld]:
    w = ImageWorld(db_url, busy_venice, fake_discord)
    await w.start_bot()
    yield w
    await w.close()


def custom_ids(message: dict[str, Any]) -> list[str]:
    """Every component custom_id on a message, in order."""
    return [c["custom_id"] for row in message.get("components", []) for c in row.get("components", [])
            if "custom_id" in c]


def image_message(handle: InteractionHandle) -> dict[str, Any]:
    """The posted image message of an interaction (its original response, with an attachment)."""
    message = handle.original
    assert message is not None, "the interaction has no original response"
    assert message["attachments"], f"no image was posted: {message.get('content')!r}"
    return message


def ephemeral_texts(handle: InteractionHandle) -> list[str]:
    """Texts the bot answered privately: callback type 4 with flag 64, or ephemeral follow-ups."""
    texts = []
    for r in handle.requests:
        body = r.json if isinstance(r.json, dict) else {}
        data = body.get("data", body) if "type" in body else body
        if isinstance(data, dict) and int(data.get("flags") or 0) & 64 and data.get("content"):
            texts.append(data["content"])
    return texts
