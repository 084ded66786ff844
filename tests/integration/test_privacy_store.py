"""`bot.privacy` and `bot.audit_log` on a real database (SQLite, or PostgreSQL with TEST_DATABASE_URL).

Two users share a server: Alice (the one exporting or deleting) and Bob (whose data must not
move). Alice has a solo DM conversation, and both talk in one shared conversation she started.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import audit_log, policy, privacy
from bot.store import cast, users
from bot.store.conversations import Conversations
from bot.store.engine import make_engine, make_sessionmaker
from bot.store.models import (
    AuditEvent,
    CharacterRow,
    Conversation,
    ImageRecord,
    Message,
    MessageLink,
    Persona,
    Setting,
    Usage,
    UserFlag,
    utcnow,
)

pytestmark = pytest.mark.postgres  # the store itself: run on PostgreSQL too

ALICE, BOB = 1001, 1002
GUILD, SHARED_CHANNEL, DM_CHANNEL, BOB_CHANNEL = 500, 10, 20, 30
ALICE_WORDS = "Alice whispers the secret password swordfish"
BOB_WORDS = "Bob orders a whisky at the bar"

Sessions = async_sessionmaker[AsyncSession]


@dataclass
class World:
    sessions: Sessions
    repo: Conversations
    shared: Conversation
    solo: Conversation
    bobs: Conversation
    alice_image: int
    bob_reroll: int


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[Sessions]:
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def _turn(repo: Conversations, conv: Conversation, author: int, name: str, text: str, discord_id: int) -> None:
    """A user turn and its finished reply, as the chat engine writes them."""
    _user, reply = await repo.begin_turn(conv.id, author_id=author, author_name=name, content=text,
                                         discord_message_id=discord_id, channel_id=conv.channel_id, model="m")
    await repo.finish(reply.id, content=f"(reply to {name})", status="complete", character_name="Scarlett",
                      discord_ids=[discord_id + 1], channel_id=conv.channel_id)


@pytest.fixture
async def world(sessions: Sessions) -> World:
    repo = Conversations(sessions)
    shared, _ = await repo.start(channel_id=SHARED_CHANNEL, guild_id=GUILD, character_ref="builtin:scarlett",
                                 character_name="Scarlett", created_by=ALICE, greetings=["Welcome in."])
    await _turn(repo, shared, ALICE, "Alice", ALICE_WORDS, 9001)
    await _turn(repo, shared, BOB, "Bob", BOB_WORDS, 9003)
    solo, _ = await repo.start(channel_id=DM_CHANNEL, guild_id=None, character_ref="builtin:scarlett",
                               character_name="Scarlett", created_by=ALICE, greetings=["Hi you."])
    await _turn(repo, solo, ALICE, "Alice", "just between us", 9005)
    bobs, _ = await repo.start(channel_id=BOB_CHANNEL, guild_id=GUILD, character_ref="custom:1",
                               character_name="Bob's muse", created_by=BOB)
    await _turn(repo, bobs, BOB, "Bob", "hello muse", 9007)

    yesterday = utcnow() - timedelta(days=1, hours=1)
    async with sessions.begin() as s:
        s.add_all([
            CharacterRow(owner_id=ALICE, guild_id=GUILD, shared=True, name="Alice's rogue", card={"name": "Rogue"},
                         avatar_png=b"\x89PNG fake"),
            CharacterRow(owner_id=BOB, guild_id=GUILD, name="Bob's muse", card={"name": "Muse"}),
            Persona(user_id=ALICE, name="Ally", description="a tall redhead"),
            Persona(user_id=BOB, name="Bobby", description="a sailor"),
            Usage(user_id=ALICE, guild_id=GUILD, kind="chat", cost_usd=0.01, created_at=yesterday),
            Usage(user_id=ALICE, guild_id=GUILD, kind="image", cost_usd=0.02),
            Usage(user_id=BOB, guild_id=GUILD, kind="chat", cost_usd=0.03),
            Setting(scope="guild", scope_id=GUILD, guild_id=GUILD, key="daily_images", value=5, updated_by=ALICE),
        ])
        alice_image = ImageRecord(user_id=ALICE, guild_id=GUILD, channel_id=SHARED_CHANNEL, kind="imagine",
                                  user_prompt="a castle", prompt="a castle, masterpiece", model="lustify-sdxl", seed=7)
        s.add(alice_image)
        await s.flush()
        bob_reroll = ImageRecord(user_id=BOB, guild_id=GUILD, channel_id=SHARED_CHANNEL, kind="reroll",
                                 parent_id=alice_image.id, prompt="a castle, masterpiece", model="lustify-sdxl")
        s.add(bob_reroll)
        await s.flush()
        image_ids = (alice_image.id, bob_reroll.id)
    for who in (ALICE, BOB):
        await users.unlock_dm(sessions, who)
        await policy.audit(sessions, policy.Where(who, GUILD, SHARED_CHANNEL, "chat"), kind="refusal",
                           rule="minor_age")
    return World(sessions, repo, shared, solo, bobs, *image_ids)


def _without_clock(export: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in export.items() if k != "exported_at"}


# -- export ---------------------------------------------------------------------------------------


async def test_export_holds_every_kind_of_row_about_the_user(world: World) -> None:
    data = await privacy.export_user(world.sessions, ALICE)

    assert data["format"] == privacy.FORMAT and data["user_id"] == str(ALICE)
    assert [m["content"] for m in data["messages"]] == [ALICE_WORDS, "just between us"]
    assert {m["conversation_id"] for m in data["messages"]} == {world.shared.id, world.solo.id}
    assert data["messages"][0]["channel_id"] == str(SHARED_CHANNEL)
    assert data["messages"][0]["character"] == "Scarlett"
    assert data["messages"][0]["discord_message_ids"] == ["9001"]
    assert {c["id"] for c in data["conversations_started"]} == {world.shared.id, world.solo.id}
    assert [c["name"] for c in data["characters"]] == ["Alice's rogue"]
    assert data["characters"][0]["avatar_png_base64"]
    assert data["persona"]["name"] == "Ally"
    assert [i["user_prompt"] for i in data["images"]] == ["a castle"]
    assert len(data["usage"]) == 2
    assert data["user_flags"]["dm_unlocked_at"] is not None
    assert [s["key"] for s in data["settings_changed"]] == ["daily_images"]
    assert data["audit_events"] == [{"kind": "refusal", "rule": "minor_age", "at": data["audit_events"][0]["at"]}]


async def test_export_holds_nothing_of_other_users(world: World) -> None:
    text = privacy.encode_export(await privacy.export_user(world.sessions, ALICE), limit=10**9).data.decode()

    for foreign in (BOB_WORDS, "hello muse", "Bob's muse", "Bobby", "a sailor", "(reply to Bob)"):
        assert foreign not in text


async def test_export_of_an_unknown_user_is_empty_not_an_error(world: World) -> None:
    data = await privacy.export_user(world.sessions, 4242)

    assert data["messages"] == [] and data["persona"] is None and data["user_flags"] is None


# -- delete ---------------------------------------------------------------------------------------


async def test_delete_removes_the_users_data(world: World) -> None:
    counts = await privacy.delete_user(world.sessions, ALICE, guild_id=GUILD, channel_id=SHARED_CHANNEL)

    assert counts["conversations"] == 1  # the DM one, replies and all
    assert counts["messages_blanked"] == 1  # her turn in the shared conversation
    assert counts["characters"] == 1 and counts["persona"] == 1 and counts["images"] == 1
    assert counts["usage"] == 1 and counts["usage_kept_today"] == 1
    after = await privacy.export_user(world.sessions, ALICE)
    assert after["messages"] == [] and after["conversations_started"] == []
    assert after["characters"] == [] and after["persona"] is None and after["images"] == []
    assert after["user_flags"] is None and after["settings_changed"] == []
    assert [e["kind"] for e in after["audit_events"]] == ["refusal", "privacy"]
    async with world.sessions() as s:
        assert await s.get(Conversation, world.solo.id) is None
        assert await s.scalar(select(func.count()).where(MessageLink.discord_message_id == 9001)) == 0
        assert await s.scalar(select(func.count()).where(Message.content.contains("swordfish"))) == 0


async def test_delete_leaves_other_users_data_alone(world: World) -> None:
    before = await privacy.export_user(world.sessions, BOB)

    await privacy.delete_user(world.sessions, ALICE)

    after = await privacy.export_user(world.sessions, BOB)
    # The only change: Bob's reroll no longer points at Alice's (deleted) image, and loses the
    # prompt it copied from her (her words), so it is marked deleted.
    assert [(i["parent_id"], i["prompt"], i["status"]) for i in after["images"]] == [(None, "", "deleted")]
    for image in before["images"]:
        image.update(parent_id=None, prompt="", user_prompt="", negative="", status="deleted")
    assert _without_clock(after) == _without_clock(before)
    async with world.sessions() as s:
        assert await s.get(Conversation, world.bobs.id) is not None


async def test_shared_conversation_stays_coherent_without_the_users_turns(world: World) -> None:
    await privacy.delete_user(world.sessions, ALICE)

    conv = await world.repo.get(world.shared.id)
    assert conv is not None and conv.created_by is None and conv.title.startswith("Conversation of ")
    window = await world.repo.window(conv)
    assert [(t.role, t.content) for t in window] == [
        ("assistant", "Welcome in."), ("assistant", "(reply to Alice)"),
        ("user", BOB_WORDS), ("assistant", "(reply to Bob)"),
    ]
    marker = next(t for t in await world.repo.all_turns(conv.id) if t.status == "deleted")
    assert (marker.content, marker.author_id, marker.author_name, marker.discord_ids) == ("", None, "", [])


async def test_summary_that_folded_in_the_users_words_is_rebuilt(world: World) -> None:
    turns = await world.repo.all_turns(world.shared.id)
    await world.repo.set_summary(world.shared.id, "Alice said swordfish.", upto=turns[2].id)

    await privacy.delete_user(world.sessions, ALICE)

    conv = await world.repo.get(world.shared.id)
    assert conv is not None and conv.summary == "" and conv.summary_upto is None


async def test_summary_from_before_the_user_spoke_is_kept(world: World) -> None:
    greeting = (await world.repo.all_turns(world.shared.id))[0]
    await world.repo.set_summary(world.shared.id, "The tavern opened.", upto=greeting.id)

    await privacy.delete_user(world.sessions, ALICE)

    conv = await world.repo.get(world.shared.id)
    assert conv is not None and conv.summary == "The tavern opened."


async def test_an_active_block_survives_deletion(world: World) -> None:
    for _ in range(policy.STRIKE_THRESHOLD):
        await users.add_strike(world.sessions, ALICE, window=policy.STRIKE_WINDOW,
                               threshold=policy.STRIKE_THRESHOLD, block_for=policy.BLOCK_FOR)
    assert await users.blocked_until(world.sessions, ALICE) is not None

    counts = await privacy.delete_user(world.sessions, ALICE)

    assert counts["block_kept"] == 1
    assert await users.blocked_until(world.sessions, ALICE) is not None
    assert not await users.dm_unlocked(world.sessions, ALICE)


async def test_strikes_in_the_current_window_survive_deletion(world: World) -> None:
    await users.add_strike(world.sessions, ALICE, window=policy.STRIKE_WINDOW,
                           threshold=policy.STRIKE_THRESHOLD, block_for=policy.BLOCK_FOR)

    await privacy.delete_user(world.sessions, ALICE)

    async with world.sessions() as s:
        row = await s.get(UserFlag, ALICE)
    assert row is not None and row.strikes == 1 and row.dm_unlocked_at is None


async def test_an_expired_block_is_deleted_with_the_rest(world: World) -> None:
    async with world.sessions.begin() as s:
        row = await s.get(UserFlag, ALICE)
        assert row is not None
        row.blocked_until = utcnow() - timedelta(hours=1)

    await privacy.delete_user(world.sessions, ALICE)

    async with world.sessions() as s:
        assert await s.get(UserFlag, ALICE) is None


async def test_usage_kept_for_todays_limits_is_purged_the_next_day(world: World) -> None:
    await privacy.delete_user(world.sessions, ALICE)

    assert await privacy.purge_deleted_usage(world.sessions) == 0  # still today
    removed = await privacy.purge_deleted_usage(world.sessions, now=utcnow() + timedelta(days=1))

    assert removed == 1
    async with world.sessions() as s:
        left = (await s.scalars(select(Usage.user_id))).all()
    assert left == [BOB]


# -- audit log ------------------------------------------------------------------------------------


async def test_recent_lists_one_servers_events_newest_first_with_filters(world: World) -> None:
    await policy.audit(world.sessions, policy.Where(BOB, GUILD, None, "settings"), kind="admin", rule="images")
    await policy.audit(world.sessions, policy.Where(BOB, 999, None, "chat"), kind="refusal", rule="real_person")

    entries = await audit_log.recent(world.sessions, guild_id=GUILD)
    assert [(e.kind, e.user_id) for e in entries] == [("admin", BOB), ("refusal", BOB), ("refusal", ALICE)]
    assert [e.user_id for e in await audit_log.recent(world.sessions, guild_id=GUILD, user_id=ALICE)] == [ALICE]
    assert [e.rule for e in await audit_log.recent(world.sessions, guild_id=GUILD, kind="admin")] == ["images"]


async def test_events_older_than_the_retention_are_purged(world: World) -> None:
    async with world.sessions.begin() as s:
        s.add(AuditEvent(guild_id=GUILD, user_id=BOB, kind="refusal", rule="minor_term",
                         created_at=utcnow() - audit_log.RETENTION - timedelta(minutes=1)))

    assert await audit_log.purge_expired(world.sessions) == 1

    async with world.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(AuditEvent)) == 2


# -- group scenes ---------------------------------------------------------------------------------


async def _alices_character_in_bobs_scene(world: World) -> str:
    """Alice adds her own character and a catalogue one to the scene in Bob's conversation."""
    async with world.sessions() as s:
        rogue = await s.scalar(select(CharacterRow.id).where(CharacterRow.owner_id == ALICE))
        muse = await s.scalar(select(CharacterRow.id).where(CharacterRow.owner_id == BOB))
    ref = f"custom:{rogue}"
    await cast.add(world.sessions, world.bobs.id, ref=ref, name="Alice's rogue", added_by=ALICE,
                   founder=(f"custom:{muse}", "Bob's muse"))
    await cast.add(world.sessions, world.bobs.id, ref="venice:luna", name="Luna", added_by=ALICE)
    return ref


async def test_export_holds_the_cast_entries_the_user_made(world: World) -> None:
    ref = await _alices_character_in_bobs_scene(world)

    data = await privacy.export_user(world.sessions, ALICE)

    assert [(e["conversation_id"], e["character_ref"]) for e in data["scene_casts"]] == [
        (world.bobs.id, ref), (world.bobs.id, "venice:luna"),
    ]
    assert (await privacy.export_user(world.sessions, BOB))["scene_casts"] == []


async def test_delete_takes_the_users_characters_out_of_other_peoples_scenes(world: World) -> None:
    await _alices_character_in_bobs_scene(world)

    founder = (await cast.load(world.sessions, world.bobs.id)).members[0].ref  # type: ignore[union-attr]

    counts = await privacy.delete_user(world.sessions, ALICE)

    view = await cast.load(world.sessions, world.bobs.id)
    assert counts["cast_entries"] == 1
    assert view is not None
    assert [(m.ref, m.added_by) for m in view.members] == [(founder, None), ("venice:luna", None)]
    assert (await privacy.export_user(world.sessions, ALICE))["scene_casts"] == []
