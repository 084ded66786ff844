"""Rows created on demand never race: many first interactions at once all get their answer.

A new user often fires several commands at once in their DM with the bot; each one creates the
user's flags row (the DM unlock). Every store function that creates a row on demand is an upsert,
so 20 simultaneous first writes for one key all succeed and leave one row.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.client import LustifyBot
from bot.config import Env
from bot.settings import SettingsStore
from bot.store import channels, personas, users
from bot.store.conversations import Conversations
from bot.store.engine import make_engine, make_sessionmaker
from bot.store.models import ChannelState, MessageLink, Persona, Setting, UserFlag
from tests.fakes.discord import FakeDiscord
from tests.harness import invoke_together

pytestmark = pytest.mark.postgres
AT_ONCE = 20
USER, CHANNEL, GUILD = 4242, 4343, 4444


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[object]:
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def rows(sessions, model: type, **where: object) -> int:  # type: ignore[no-untyped-def]
    query = select(func.count()).select_from(model)
    for column, value in where.items():
        query = query.where(getattr(model, column) == value)
    async with sessions() as s:
        return int(await s.scalar(query) or 0)


async def at_once(make) -> None:  # type: ignore[no-untyped-def]
    await asyncio.gather(*(make(i) for i in range(AT_ONCE)))


async def test_twenty_first_dm_unlocks_make_one_row(sessions) -> None:
    await at_once(lambda _: users.unlock_dm(sessions, USER))
    assert await rows(sessions, UserFlag, user_id=USER) == 1
    assert await users.dm_unlocked(sessions, USER)


async def test_twenty_first_strikes_are_all_counted(sessions) -> None:
    await at_once(lambda _: users.add_strike(sessions, USER, window=timedelta(hours=1), threshold=1000,
                                             block_for=timedelta(hours=1)))
    async with sessions() as s:
        assert await s.scalar(select(UserFlag.strikes).where(UserFlag.user_id == USER)) == AT_ONCE


async def test_twenty_first_channel_choices_make_one_row(sessions) -> None:
    await at_once(lambda i: channels.set_character(sessions, CHANNEL, GUILD, f"venice:c{i}")
                  if i % 2 else channels.set_seed(sessions, CHANNEL, GUILD, i, locked=True))
    assert await rows(sessions, ChannelState, channel_id=CHANNEL) == 1
    view = await channels.load(sessions, CHANNEL)
    assert view.character_ref is not None and view.seed is not None and view.seed_locked


async def test_twenty_first_personas_make_one_row(sessions) -> None:
    await at_once(lambda i: personas.put(sessions, USER, f"Name {i}", "a description"))
    assert await rows(sessions, Persona, user_id=USER) == 1


async def test_twenty_first_settings_of_one_key_make_one_row(sessions) -> None:
    store = SettingsStore(sessions, Env(discord_token=None, venice_api_key=None))
    await at_once(lambda i: store.set("daily_images", i + 1, scope="guild", scope_id=GUILD, guild_id=GUILD, by=1))
    assert await rows(sessions, Setting, scope_id=GUILD, key="daily_images") == 1


async def test_twenty_links_of_one_discord_message_make_one_row(sessions) -> None:
    repo = Conversations(sessions)
    conv, _ = await repo.start(channel_id=CHANNEL, guild_id=GUILD, character_ref="builtin:scarlett",
                               character_name="Scarlett", created_by=USER)
    _, reply = await repo.begin_turn(conv.id, author_id=USER, author_name="A", content="hi", discord_message_id=None,
                                     channel_id=CHANNEL, model="m")
    await at_once(lambda _: repo.link_discord(reply.id, CHANNEL, [777]))
    assert await rows(sessions, MessageLink, discord_message_id=777) == 1


# -- through the real bot --------------------------------------------------------------------------


async def test_a_new_users_twenty_simultaneous_dm_commands_are_all_answered(
    settings: Env, fake_discord: FakeDiscord,
) -> None:
    from bot.client import make_bot
    from tests.conftest import DISCORD_TOKEN

    bot: LustifyBot = make_bot(settings)
    await bot.login(DISCORD_TOKEN)
    try:
        await bot.tree.sync()
        dm = fake_discord.add_place("bot_dm")
        commands = ["privacy info", "conversation list"]
        payloads = [fake_discord.slash_payload(None, dm, commands[i % 2]) for i in range(AT_ONCE)]

        assert await invoke_together(bot, payloads) == []  # delivered together, as in one gateway burst
        for payload in payloads:
            answer = await fake_discord.handle(payload).response(timeout=5)
            assert answer.json["type"] == 4  # a message, not silence
        assert await rows(bot.services.sessions, UserFlag, user_id=int(dm.user["id"])) == 1
    finally:
        await bot.close()
