"""Limits an admin sets hold across bot processes: two service stacks on one database.

With TEST_DATABASE_URL pointing at PostgreSQL (as in CI) this is the multi-process deployment
DESIGN §11 describes; on SQLite it is two engines on one file, which must agree just the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.errors import LimitReached
from bot.limits import Ticket
from bot.services import Services, build_services
from bot.settings import CACHE_TTL
from tests.conftest import make_settings

pytestmark = pytest.mark.postgres  # the store itself: run on PostgreSQL too

GUILD, CHANNEL, USER = 700, 701, 702


@pytest.fixture
async def two(db_url: str) -> AsyncIterator[tuple[Services, Services]]:
    """Two independent service stacks (engine, settings store, limits) on the same database."""
    settings = make_settings(db_url)
    first, second = await build_services(settings), await build_services(settings)
    yield first, second
    await first.close()
    await second.close()


async def acquire(services: Services, kind: str = "image") -> Ticket:
    return await services.limits.acquire(user_id=USER, guild_id=GUILD, channel_id=CHANNEL, kind=kind)


async def release_now(services: Services, ticket: Ticket) -> None:
    await services.limits.release(ticket)


async def test_daily_image_quota_used_in_one_process_is_enforced_in_the_other(two) -> None:
    first, second = two
    await first.settings.set("daily_images", 2, scope="guild", scope_id=GUILD, guild_id=GUILD, by=1)
    for _ in range(2):
        ticket = await acquire(first)
        await first.limits.record(user_id=USER, guild_id=GUILD, kind="image", cost_usd=0.01)
        await first.limits.release(ticket)

    with pytest.raises(LimitReached, match="2 images for today"):
        await acquire(second)


async def test_quota_setting_changed_in_one_process_applies_in_the_other_within_the_cache_time(
    db_url: str,
) -> None:
    now = [1000.0]
    first = await build_services(make_settings(db_url))
    second = await build_services(make_settings(db_url), clock=lambda: now[0])
    try:
        await first.limits.record(user_id=USER, guild_id=GUILD, kind="image")
        await release_now(second, await acquire(second))  # the second process has read the settings

        await first.settings.set("daily_images", 1, scope="channel", scope_id=CHANNEL, guild_id=GUILD, by=1)
        now[0] += CACHE_TTL + 0.1  # the other process's copy expires

        with pytest.raises(LimitReached):
            await acquire(second)
    finally:
        await first.close()
        await second.close()


async def test_a_setting_changed_in_this_process_applies_at_once(two) -> None:
    first, _ = two
    await first.limits.record(user_id=USER, guild_id=GUILD, kind="image")
    await release_now(first, await acquire(first))
    await first.settings.set("daily_images", 1, scope="channel", scope_id=CHANNEL, guild_id=GUILD, by=1)
    with pytest.raises(LimitReached):
        await acquire(first)


async def test_concurrency_lease_held_in_one_process_blocks_the_other_until_released(two) -> None:
    first, second = two
    held = [await acquire(first), await acquire(first)]  # CONCURRENCY["image"] == 2

    with pytest.raises(LimitReached, match="in progress"):
        await acquire(second)

    await first.limits.release(held.pop())
    await release_now(second, await acquire(second))


async def test_server_spending_cap_counts_every_processs_usage(two) -> None:
    first, second = two
    await second.settings.set("server_daily_usd", 0.05, scope="guild", scope_id=GUILD, guild_id=GUILD, by=1)
    await first.limits.record(user_id=USER + 1, guild_id=GUILD, kind="chat", cost_usd=0.06)

    with pytest.raises(LimitReached, match="This server has reached"):
        await acquire(second, "chat")
