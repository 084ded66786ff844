"""Start-up recovery settles only what its own shards (or dead processes) left in flight.

Two processes on one database, as `SHARD_COUNT=2` with `SHARD_IDS=0` and `1`: each stamps the
turns it writes with its process row. When shard 0 restarts, it settles the turns of its previous
run and of processes whose lease ran out, and leaves shard 1's live work alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.store.conversations import Conversations, TurnRow
from bot.store.engine import make_engine, make_sessionmaker
from bot.store.models import ProcessRow, utcnow
from bot.store.processes import Process

pytestmark = pytest.mark.postgres


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[object]:
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def shard(sessions, *ids: int) -> Conversations:  # type: ignore[no-untyped-def]
    process = await Process.register(sessions, shard_ids=ids, shard_count=2)
    return Conversations(sessions, owner=process)


async def in_flight(repo: Conversations, channel_id: int) -> TurnRow:
    conv, _ = await repo.start(channel_id=channel_id, guild_id=None, character_ref="builtin:scarlett",
                               character_name="Scarlett", created_by=1)
    _, reply = await repo.begin_turn(conv.id, author_id=1, author_name="A", content="hello", discord_message_id=None,
                                     channel_id=channel_id, model="m")
    return reply


async def test_a_restart_settles_its_own_shards_work_and_not_another_live_shards(sessions) -> None:
    shard0, shard1 = await shard(sessions, 0), await shard(sessions, 1)
    crashed = await in_flight(shard0, 10)
    live = await in_flight(shard1, 20)

    restarted = await shard(sessions, 0)  # shard 0 again, a new process: its predecessor was killed
    settled = await restarted.recover_interrupted()

    assert [s.reply.id for s in settled] == [crashed.id]
    assert (await restarted.turn(crashed.id)).status == "failed"
    assert (await restarted.turn(live.id)).status == "streaming"
    assert (await restarted.turn(live.reply_to)).status == "pending"  # its user turn too


async def test_a_regenerate_in_flight_on_another_shard_keeps_its_earlier_swipe(sessions) -> None:
    shard1 = await shard(sessions, 1)
    reply = await in_flight(shard1, 20)
    await shard1.finish(reply.id, content="The first answer.", status="complete", character_name="Scarlett")
    swiping = await shard1.begin_swipe(reply.id)  # 🔄 pressed: streaming the second swipe

    await (await shard(sessions, 0)).recover_interrupted()  # shard 0 restarts meanwhile

    done = await shard1.finish(swiping.id, content="The second answer.", status="complete", character_name="S")
    assert done.swipes == ["The first answer.", "The second answer."] and done.swipe_index == 1


async def test_work_of_a_process_whose_lease_ran_out_is_settled_by_anyone(sessions) -> None:
    other = await shard(sessions, 1)
    reply = await in_flight(other, 20)
    async with sessions.begin() as s:  # it died: no heartbeat for longer than its lease
        await s.execute(update(ProcessRow).where(ProcessRow.id == other.owner.id)
                        .values(expires_at=utcnow() - timedelta(seconds=1)))

    settled = await (await shard(sessions, 0)).recover_interrupted()

    assert [s.reply.id for s in settled] == [reply.id]


async def test_work_with_no_owner_from_before_the_upgrade_is_settled(sessions) -> None:
    reply = await in_flight(Conversations(sessions), 30)

    settled = await (await shard(sessions, 0)).recover_interrupted()

    assert [(s.reply.id, s.channel_id) for s in settled] == [(reply.id, 30)]


async def test_the_terminal_chat_owns_no_shard_and_settles_no_live_bots_work(sessions) -> None:
    bot = await shard(sessions, 0)
    reply = await in_flight(bot, 10)
    terminal = Conversations(sessions, owner=await Process.register(sessions, shard_ids=()))

    assert await terminal.recover_interrupted() == []
    assert (await bot.turn(reply.id)).status == "streaming"
