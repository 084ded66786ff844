"""Limits that hold under concurrency: 20 requests at once never get past a limit.

Each test fires 20 acquisitions together (`asyncio.gather`) against a real database, half of
them through a second, fully separate service stack (its own engine and process row), which is
what two bot processes on one database look like. Exactly as many as the limit allows succeed.
Across real OS processes: `test_limits_processes.py`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, update

from bot.errors import LimitReached
from bot.limits import Limits, Ticket
from bot.services import Services, build_services
from bot.store.models import ProcessRow, Usage, utcnow
from bot.store.processes import Process
from tests.conftest import make_settings

pytestmark = pytest.mark.postgres

GUILD, CHANNEL, USER = 800, 801, 802
AT_ONCE = 20


@pytest.fixture
async def two(db_url: str) -> AsyncIterator[tuple[Services, Services]]:
    settings = make_settings(db_url)
    first, second = await build_services(settings), await build_services(settings)
    yield first, second
    await first.close()
    await second.close()


async def setting(services: Services, key: str, value: object) -> None:
    await services.settings.set(key, value, scope="guild", scope_id=GUILD, guild_id=GUILD, by=1)


async def burst(stacks: tuple[Services, Services], *, kind: str = "chat", users: list[int] | None = None,
                estimate_usd: float | None = None) -> list[tuple[Limits, Ticket]]:
    """AT_ONCE acquisitions at the same moment, alternating between the two stacks; the tickets won."""
    users = users or [USER] * AT_ONCE

    async def one(i: int) -> tuple[Limits, Ticket] | None:
        limits = stacks[i % 2].limits
        try:
            return limits, await limits.acquire(user_id=users[i], guild_id=GUILD, channel_id=CHANNEL, kind=kind,
                                                estimate_usd=estimate_usd)
        except LimitReached:
            return None

    results = await asyncio.gather(*(one(i) for i in range(len(users))))
    return [t for t in results if t is not None]


async def test_daily_message_quota_of_one_admits_exactly_one_of_twenty(two) -> None:
    await setting(two[0], "daily_messages", 1)
    assert len(await burst(two)) == 1


async def test_daily_image_quota_of_one_admits_exactly_one_of_twenty(two) -> None:
    await setting(two[0], "daily_images", 1)
    assert len(await burst(two, kind="image", estimate_usd=0.01)) == 1


async def test_concurrency_of_two_admits_exactly_two_of_twenty(two) -> None:
    assert len(await burst(two)) == 2  # CONCURRENCY["chat"] == 2, no quota set


async def test_cooldown_admits_exactly_one_of_twenty(two) -> None:
    await setting(two[0], "chat_cooldown", 60)
    assert len(await burst(two)) == 1


async def test_user_spending_cap_admits_what_fits_at_the_estimated_cost(two) -> None:
    await setting(two[0], "daily_usd", 0.05)
    # Images: concurrency 2 would stop the burst first, so every call is booked and released.
    booked = 0
    for _ in range(10):
        won = await burst(two, kind="image", estimate_usd=0.01)
        assert len(won) <= 2
        for limits, ticket in won:
            await limits.record(user_id=USER, guild_id=GUILD, kind="image", cost_usd=0.01, ticket=ticket)
            await limits.release(ticket)
        booked += len(won)
        if not won:
            break
    assert booked == 5  # 5 × $0.01 fits under $0.05, the sixth would not


async def test_server_spending_cap_across_twenty_users_admits_what_fits(two) -> None:
    await setting(two[0], "server_daily_usd", 0.05)
    won = await burst(two, kind="image", users=[USER + i for i in range(AT_ONCE)], estimate_usd=0.01)
    assert len(won) == 5


async def test_a_reservation_counts_before_venice_answers(two) -> None:
    first, second = two
    await setting(first, "daily_messages", 1)
    await first.limits.acquire(user_id=USER, guild_id=GUILD, channel_id=CHANNEL, kind="chat")  # not booked yet

    with pytest.raises(LimitReached, match="1 chat replies for today"):
        await second.limits.acquire(user_id=USER, guild_id=GUILD, channel_id=CHANNEL, kind="chat")


async def test_a_failed_call_gives_its_reservation_back_and_uses_up_nothing(two) -> None:
    first, second = two
    await setting(first, "daily_messages", 1)
    await setting(first, "chat_cooldown", 60)
    ticket = await first.limits.acquire(user_id=USER, guild_id=GUILD, channel_id=CHANNEL, kind="chat")
    await first.limits.release(ticket)  # Venice failed: nothing recorded

    again = await second.limits.acquire(user_id=USER, guild_id=GUILD, channel_id=CHANNEL, kind="chat")
    async with second.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Usage)) == 1
    await second.limits.release(again)


async def test_record_books_the_real_cost_onto_the_reservation(two) -> None:
    first, _ = two
    ticket = await first.limits.acquire(user_id=USER, guild_id=GUILD, channel_id=CHANNEL, kind="image",
                                        estimate_usd=0.04)
    await first.limits.record(user_id=USER, guild_id=GUILD, kind="image", cost_usd=0.01, prompt_tokens=3)
    await first.limits.release(ticket)

    async with first.sessions() as s:
        rows = (await s.execute(select(Usage.cost_usd, Usage.prompt_tokens, Usage.state))).all()
    assert rows == [(0.01, 3, "done")]  # one row: the reservation became the booked call


async def test_a_dead_processs_slots_free_when_its_lease_runs_out(two, db_url: str) -> None:
    first, second = two
    crashed = await Process.register(first.sessions, shard_ids=[0], ttl=timedelta(seconds=30))  # never beats
    limits = Limits(first.sessions, first.settings, owner=crashed)
    for _ in range(2):
        await limits.acquire(user_id=USER, guild_id=GUILD, channel_id=CHANNEL, kind="chat")
    with pytest.raises(LimitReached, match="in progress"):
        await second.limits.acquire(user_id=USER, guild_id=GUILD, channel_id=CHANNEL, kind="chat")

    async with first.sessions.begin() as s:  # 30 s later, without a heartbeat
        await s.execute(update(ProcessRow).where(ProcessRow.id == crashed.id)
                        .values(expires_at=utcnow() - timedelta(seconds=1)))

    await second.limits.acquire(user_id=USER, guild_id=GUILD, channel_id=CHANNEL, kind="chat")


async def test_a_live_processs_heartbeat_keeps_its_slots(two) -> None:
    first, second = two
    for _ in range(2):
        await first.limits.acquire(user_id=USER, guild_id=GUILD, channel_id=CHANNEL, kind="chat")
    await first.process.beat()
    with pytest.raises(LimitReached, match="in progress"):
        await second.limits.acquire(user_id=USER, guild_id=GUILD, channel_id=CHANNEL, kind="chat")


async def test_acquire_record_release_take_five_statements(two) -> None:
    first, _ = two
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(first.engine.sync_engine, "before_cursor_execute", count)
    try:
        ticket = await first.limits.acquire(user_id=USER, guild_id=GUILD, channel_id=CHANNEL, kind="chat")
        acquired = len(statements)
        await first.limits.record(user_id=USER, guild_id=GUILD, kind="chat", cost_usd=0.001)
        recorded = len(statements) - acquired
        await first.limits.release(ticket)
        released = len(statements) - acquired - recorded
    finally:
        event.remove(first.engine.sync_engine, "before_cursor_execute", count)
    # settings read, lock (BEGIN IMMEDIATE on SQLite), INSERT … SELECT; one UPDATE; one UPDATE.
    assert (acquired, recorded, released) == (3, 1, 1), statements


async def test_a_booking_at_release_ends_the_work_and_books_the_call_in_one_statement(two) -> None:
    first, _ = two
    ticket = await first.limits.acquire(user_id=USER, guild_id=GUILD, channel_id=CHANNEL, kind="chat")
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(first.engine.sync_engine, "before_cursor_execute", count)
    try:
        await first.limits.record(user_id=USER, guild_id=GUILD, kind="chat", cost_usd=0.003, prompt_tokens=7,
                                  at_release=True)
        recorded = len(statements)
        await first.limits.release(ticket)
    finally:
        event.remove(first.engine.sync_engine, "before_cursor_execute", count)
    assert (recorded, len(statements)) == (0, 1), statements
    async with first.sessions() as s:
        rows = (await s.execute(select(Usage.cost_usd, Usage.prompt_tokens, Usage.state))).all()
    assert rows == [(0.003, 7, "done")]  # the reservation became the booked call


async def test_a_booking_at_release_is_kept_when_the_reservation_is_gone(two) -> None:
    first, _ = two
    ticket = await first.limits.acquire(user_id=USER, guild_id=GUILD, channel_id=CHANNEL, kind="chat")
    await first.limits.record(user_id=USER, guild_id=GUILD, kind="chat", cost_usd=0.003, at_release=True)
    async with first.sessions.begin() as s:  # swept while the turn was finishing
        await s.execute(Usage.__table__.delete())
    await first.limits.release(ticket)
    async with first.sessions() as s:
        rows = (await s.execute(select(Usage.user_id, Usage.kind, Usage.cost_usd, Usage.state))).all()
    assert rows == [(USER, "chat", 0.003, "done")]


async def test_a_second_call_after_a_booking_at_release_is_booked_on_its_own(two) -> None:
    first, _ = two
    ticket = await first.limits.acquire(user_id=USER, guild_id=GUILD, channel_id=CHANNEL, kind="chat")
    await first.limits.record(user_id=USER, guild_id=GUILD, kind="chat", cost_usd=0.003, at_release=True)
    await first.limits.record(user_id=USER, guild_id=GUILD, kind="chat", cost_usd=0.001)  # a summary
    await first.limits.release(ticket)
    async with first.sessions() as s:
        rows = sorted((await s.execute(select(Usage.cost_usd, Usage.state))).all())
    assert rows == [(0.001, "done"), (0.003, "done")]
