"""The store on a real database (SQLite file, or PostgreSQL with TEST_DATABASE_URL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bot.config import Env
from bot.errors import LimitReached
from bot.limits import Limits
from bot.settings import SettingsStore
from bot.store import channels, users
from bot.store.conversations import Conversations
from bot.store.engine import make_engine, make_sessionmaker
from bot.store.migrate import current_revision, migrate
from bot.store.models import CharacterRow, Conversation, ImageRecord, Message, Usage

pytestmark = pytest.mark.postgres  # the store itself: run on PostgreSQL too


@pytest.fixture
async def sessions(db_url: str):
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def test_migrations_up_down_up_keep_rows(empty_db_url: str) -> None:
    await migrate(empty_db_url)
    engine = make_engine(empty_db_url)
    sm = make_sessionmaker(engine)
    async with sm.begin() as s:
        conv = Conversation(channel_id=1, character_ref="builtin:scarlett", character_name="Scarlett")
        s.add(conv)
        await s.flush()
        s.add(Message(conversation_id=conv.id, role="user", content="hi"))
        s.add(CharacterRow(owner_id=5, name="Ava", card={"name": "Ava"}))
        s.add(ImageRecord(user_id=5, channel_id=1, kind="imagine", prompt="p", model="lustify-sdxl"))
    await engine.dispose()

    await migrate(empty_db_url, action="downgrade", target="base")
    assert (await current_revision(empty_db_url))[0] is None
    await migrate(empty_db_url)
    current, head = await current_revision(empty_db_url)
    assert current == head

    # Down to base and up again must never cascade-delete through table rebuilds: seed, then do a
    # no-op re-run of head and check every row is still there.
    engine = make_engine(empty_db_url)
    sm = make_sessionmaker(engine)
    async with sm.begin() as s:
        conv = Conversation(channel_id=2, character_ref="builtin:scarlett", character_name="Scarlett")
        s.add(conv)
        await s.flush()
        s.add_all([Message(conversation_id=conv.id, role="user", content=str(i)) for i in range(5)])
    await engine.dispose()
    await migrate(empty_db_url)
    engine = make_engine(empty_db_url)
    async with make_sessionmaker(engine)() as s:
        assert await s.scalar(select(func.count()).select_from(Message)) == 5
        if engine.dialect.name == "sqlite":
            assert (await s.execute(text("PRAGMA foreign_key_check"))).fetchall() == []
    await engine.dispose()


async def test_foreign_keys_are_enforced(sessions) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        async with sessions.begin() as s:
            s.add(Message(conversation_id=999_999, role="user", content="orphan"))


async def test_turn_lifecycle_and_history(sessions) -> None:
    repo = Conversations(sessions)
    conv, greeting = await repo.start(channel_id=10, guild_id=1, character_ref="builtin:scarlett",
                                      character_name="Scarlett", created_by=7, greetings=["Hello", "Hi there"])
    assert greeting is not None and greeting.swipes == ["Hello", "Hi there"]
    user, reply = await repo.begin_turn(conv.id, author_id=7, author_name="Kim", content="Pour me one",
                                        discord_message_id=555, channel_id=10, model="m")
    # While streaming, neither the pending question nor the reply is history.
    assert [t.id for t in await repo.window(conv)] == [greeting.id]
    await repo.finish(reply.id, content="Coming up.", status="complete", character_name="Scarlett",
                      discord_ids=[777], channel_id=10)
    window = await repo.window(conv)
    assert [(t.role, t.content) for t in window] == [("assistant", "Hello"), ("user", "Pour me one"),
                                                     ("assistant", "Coming up.")]
    assert (await repo.by_discord_id(777)).id == reply.id
    assert (await repo.by_discord_id(555)).id == user.id

    # Regenerate keeps the old swipe; browsing changes what history uses.
    await repo.begin_swipe(reply.id)
    await repo.finish(reply.id, content="Sure thing.", status="complete", character_name="Scarlett")
    row = await repo.turn(reply.id)
    assert row.swipes == ["Coming up.", "Sure thing."] and row.content == "Sure thing."
    await repo.set_swipe(reply.id, 0)
    assert (await repo.window(conv))[-1].content == "Coming up."

    # A failed regenerate drops its empty swipe instead of losing the shown one.
    await repo.begin_swipe(reply.id)
    await repo.finish(reply.id, content="", status="failed", character_name="Scarlett")
    row = await repo.turn(reply.id)
    assert row.status == "complete" and row.swipes == ["Coming up.", "Sure thing."]

    await repo.edit_content(reply.id, "Edited.")
    assert (await repo.window(conv))[-1].content == "Edited."
    await repo.delete_turn(reply.id)
    assert [t.id for t in await repo.window(conv)] == [greeting.id]


async def test_crash_mid_stream_leaves_nothing_half_written(sessions) -> None:
    repo = Conversations(sessions)
    conv, _ = await repo.start(channel_id=11, guild_id=None, character_ref="builtin:scarlett",
                               character_name="Scarlett", created_by=1)
    _, reply = await repo.begin_turn(conv.id, author_id=1, author_name="A", content="q", discord_message_id=None,
                                     channel_id=11, model="m")
    # The process dies here. On start-up:
    [settled] = await repo.recover_interrupted()
    assert settled.reply.id == reply.id and settled.channel_id == 11
    window = await repo.window(conv)
    assert [(t.role, t.content) for t in window] == [("user", "q")]
    assert (await repo.turn(reply.id)).status == "failed"


async def test_window_reads_only_what_it_needs(sessions) -> None:
    repo = Conversations(sessions)
    conv, _ = await repo.start(channel_id=12, guild_id=None, character_ref="x", character_name="X", created_by=1)
    async with sessions.begin() as s:
        s.add_all([Message(conversation_id=conv.id, role="user", content=f"m{i}", status="complete")
                   for i in range(1000)])
    window = await repo.window(conv, limit=50)
    assert len(window) == 50 and window[-1].content == "m999" and window[0].content == "m950"
    await repo.set_summary(conv.id, "so far", upto=window[10].id)
    conv = await repo.get(conv.id)
    assert (await repo.window(conv, limit=1000))[0].content == "m961"


async def test_settings_cascade(sessions) -> None:
    store = SettingsStore(sessions, Env(discord_token=None, venice_api_key=None))
    assert (await store.resolve_all(guild_id=1, channel_id=2))["images"].source == "default"
    await store.set("images", False, scope="guild", scope_id=1, guild_id=1, by=9)
    await store.set("images", True, scope="channel", scope_id=2, guild_id=1, by=9)
    got = await store.resolve_all(guild_id=1, channel_id=2)
    assert got["images"].value is True and got["images"].source == "channel"
    got = await store.resolve_all(guild_id=1, channel_id=3, parent_id=2)
    assert got["images"].source == "parent channel"
    got = await store.resolve_all(guild_id=1, channel_id=4)
    assert got["images"].value is False and got["images"].source == "server"
    await store.set("images", None, scope="guild", scope_id=1, guild_id=1, by=9)
    assert (await store.resolve_all(guild_id=1, channel_id=4))["images"].source == "default"


async def test_channel_state_inherits_from_parent(sessions) -> None:
    await channels.set_character(sessions, 100, 1, "venice:ava")
    await channels.set_seed(sessions, 100, 1, 1234, locked=True)
    view = await channels.load(sessions, 200, parent_id=100)
    assert (view.character_ref, view.character_source) == ("venice:ava", "parent channel")
    assert (view.seed, view.seed_locked) == (1234, True)


async def test_limits_quota_cooldown_and_concurrency(sessions) -> None:
    store = SettingsStore(sessions, Env(discord_token=None, venice_api_key=None))
    limits = Limits(sessions, store)
    await store.set("daily_images", 2, scope="guild", scope_id=1, guild_id=1, by=9)
    for _ in range(2):
        ticket = await limits.acquire(user_id=5, guild_id=1, channel_id=3, kind="image")
        await limits.release(ticket)
        await limits.record(user_id=5, guild_id=1, kind="image", cost_usd=0.01)
    with pytest.raises(LimitReached, match="2 images for today"):
        await limits.acquire(user_id=5, guild_id=1, channel_id=3, kind="image")

    held = [await limits.acquire(user_id=6, guild_id=1, channel_id=3, kind="chat") for _ in range(2)]
    with pytest.raises(LimitReached, match="in progress"):
        await limits.acquire(user_id=6, guild_id=1, channel_id=3, kind="chat")
    await limits.release(held[0])
    await limits.release(await limits.acquire(user_id=6, guild_id=1, channel_id=3, kind="chat"))

    await store.set("chat_cooldown", 60, scope="guild", scope_id=1, guild_id=1, by=9)
    await limits.record(user_id=8, guild_id=1, kind="chat")
    with pytest.raises(LimitReached, match="Cooldown"):
        await limits.acquire(user_id=8, guild_id=1, channel_id=3, kind="chat")

    await store.set("chat_cooldown", None, scope="guild", scope_id=1, guild_id=1, by=9)
    await store.set("daily_usd", 0.05, scope="guild", scope_id=1, guild_id=1, by=9)
    await limits.record(user_id=9, guild_id=1, kind="chat", cost_usd=0.06)
    with pytest.raises(LimitReached, match="spending limit"):
        await limits.acquire(user_id=9, guild_id=1, channel_id=3, kind="chat")
    async with sessions() as s:  # booked calls; the chat still held above is only a reservation
        assert await s.scalar(select(func.count()).select_from(Usage).where(Usage.state != "reserved")) == 4


async def test_strikes_block_after_threshold(sessions) -> None:
    for expected in (1, 2):
        count, until = await users.add_strike(sessions, 42, window=timedelta(hours=1), threshold=3,
                                              block_for=timedelta(hours=2))
        assert count == expected and until is None
    _, until = await users.add_strike(sessions, 42, window=timedelta(hours=1), threshold=3,
                                      block_for=timedelta(hours=2))
    assert until is not None and await users.blocked_until(sessions, 42) == until
    await users.unlock_dm(sessions, 42)
    assert await users.dm_unlocked(sessions, 42) and not await users.dm_unlocked(sessions, 43)


async def test_a_sqlite_connection_goes_back_to_the_pool_outside_any_transaction(tmp_path: Path) -> None:
    """The pool's reset rolls back only a connection SQLite says is still in a transaction (a commit
    is not followed by a needless ROLLBACK), and a returned connection never holds a write lock.
    SQLite's own pool reset, so always on a SQLite file (the PostgreSQL pass runs it there too)."""
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}"
    engine = make_engine(db_url)
    try:
        rollbacks: list[bool] = []
        driver = None
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            real = driver.rollback

            async def counted() -> None:
                rollbacks.append(True)
                await real()

            driver.rollback = counted  # the aiosqlite connection's own ROLLBACK
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE scratch (n INTEGER)"))
        assert rollbacks == []  # committed: nothing to roll back
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            assert raw.driver_connection is driver  # the same pooled connection
            await raw.driver_connection.execute("BEGIN IMMEDIATE")  # behind SQLAlchemy's back
            await raw.driver_connection.execute("INSERT INTO scratch VALUES (1)")
        assert rollbacks, "a connection returned inside a transaction was not rolled back"
        assert not driver.in_transaction
        async with engine.connect() as conn:
            assert (await conn.scalar(text("SELECT count(*) FROM scratch"))) == 0
    finally:
        await engine.dispose()


async def test_finishing_a_turn_saves_its_lore_state_unless_the_reply_was_deleted(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        store = Conversations(make_sessionmaker(engine))
        conv, _ = await store.start(channel_id=77, guild_id=1, character_ref="builtin:x", character_name="X",
                                    created_by=7)
        user, reply = await store.begin(conv.id, author_id=7, author_name="Kim", content="hi", model="m")
        done = await store.finish_turn(reply, content="hello", swipes=["hello"], swipe_index=0, status="complete",
                                       character_name="X", finish_reason="stop", tokens=2, discord_ids=[],
                                       channel_id=77, settle_user=True, lore_state={"v": 1, "chat_length": 2},
                                       lore_fired=["a"])
        assert done.status == "complete"
        assert await store.lore_state(conv.id) == {"v": 1, "chat_length": 2}
        assert (await store.turn(user.id)).status == "complete"  # type: ignore[union-attr]
        # A reply deleted while it streamed stays deleted, and its turn's lore state is not kept.
        _, gone = await store.begin(conv.id, author_id=7, author_name="Kim", content="again", model="m")
        await store.discard(gone.id)
        after = await store.finish_turn(gone, content="late", swipes=["late"], swipe_index=0, status="complete",
                                        character_name="X", finish_reason="stop", tokens=1, discord_ids=[],
                                        channel_id=77, settle_user=True, lore_state={"v": 1, "chat_length": 4})
        assert after.status == "deleted"
        assert await store.lore_state(conv.id) == {"v": 1, "chat_length": 2}
    finally:
        await engine.dispose()
