"""`bot.store.cast` on a real database (SQLite file, or PostgreSQL with TEST_DATABASE_URL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store import cast
from bot.store.cast import MAX_CAST, Added
from bot.store.conversations import Conversations
from bot.store.engine import make_engine, make_sessionmaker
from bot.store.models import CastMember, CharacterRow, Conversation

pytestmark = pytest.mark.postgres  # the store itself: run on PostgreSQL too

Sessions = async_sessionmaker[AsyncSession]
ALICE = ("custom:1", "Alice")
BOB = ("venice:bob", "Bob")
CAROL = ("builtin:carol", "Carol")


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[Sessions]:
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def _conversation(sessions: Sessions, channel_id: int = 10) -> Conversation:
    conv, _ = await Conversations(sessions).start(
        channel_id=channel_id, guild_id=1, character_ref=ALICE[0], character_name=ALICE[1], created_by=7,
    )
    return conv


async def _scene(sessions: Sessions, *members: tuple[str, str]) -> int:
    conv = await _conversation(sessions)
    for ref, name in members:
        assert await cast.add(sessions, conv.id, ref=ref, name=name, added_by=7) is Added.ADDED
    return conv.id


def _refs(view: cast.CastView | None) -> list[str]:
    assert view is not None
    return [m.ref for m in view.members]


# -- the cast ---------------------------------------------------------------------------------------


async def test_a_conversation_without_a_cast_has_none(sessions: Sessions) -> None:
    conv = await _conversation(sessions)

    assert await cast.load(sessions, conv.id) is None


async def test_the_first_add_brings_the_conversations_character_in_first(sessions: Sessions) -> None:
    conv = await _conversation(sessions)

    result = await cast.add(sessions, conv.id, ref=BOB[0], name=BOB[1], added_by=7, founder=ALICE)

    view = await cast.load(sessions, conv.id)
    assert result is Added.ADDED
    assert _refs(view) == [ALICE[0], BOB[0]]
    assert view is not None and view.mode == "natural" and view.chained == 0
    assert [m.added_by for m in view.members] == [None, 7]


async def test_the_founder_is_not_added_twice_later(sessions: Sessions) -> None:
    conv = await _conversation(sessions)
    await cast.add(sessions, conv.id, ref=BOB[0], name=BOB[1], added_by=7, founder=ALICE)
    await cast.remove(sessions, conv.id, ALICE[0])

    await cast.add(sessions, conv.id, ref=CAROL[0], name=CAROL[1], added_by=7, founder=ALICE)

    assert _refs(await cast.load(sessions, conv.id)) == [BOB[0], CAROL[0]]


async def test_adding_a_member_again_changes_nothing(sessions: Sessions) -> None:
    conv_id = await _scene(sessions, ALICE, BOB)

    assert await cast.add(sessions, conv_id, ref=BOB[0], name=BOB[1], added_by=8) is Added.ALREADY

    assert _refs(await cast.load(sessions, conv_id)) == [ALICE[0], BOB[0]]


async def test_the_cast_holds_at_most_five(sessions: Sessions) -> None:
    conv_id = await _scene(sessions, *[(f"custom:{i}", f"C{i}") for i in range(MAX_CAST)])

    assert await cast.add(sessions, conv_id, ref="custom:99", name="Late", added_by=7) is Added.FULL

    assert len(_refs(await cast.load(sessions, conv_id))) == MAX_CAST


async def test_simultaneous_adds_never_pass_the_cap_or_fail(sessions: Sessions) -> None:
    conv = await _conversation(sessions)

    results = await asyncio.gather(*[
        cast.add(sessions, conv.id, ref=f"custom:{i}", name=f"C{i}", added_by=7) for i in range(12)
    ])

    view = await cast.load(sessions, conv.id)
    assert view is not None and len(view.members) == MAX_CAST
    assert results.count(Added.ADDED) == MAX_CAST and results.count(Added.FULL) == 12 - MAX_CAST
    assert len({m.position for m in view.members}) == MAX_CAST


async def test_simultaneous_adds_of_one_character_add_it_once(sessions: Sessions) -> None:
    conv = await _conversation(sessions)

    results = await asyncio.gather(*[
        cast.add(sessions, conv.id, ref=BOB[0], name=BOB[1], added_by=7, founder=ALICE) for _ in range(8)
    ])

    assert _refs(await cast.load(sessions, conv.id)) == [ALICE[0], BOB[0]]
    assert results.count(Added.ADDED) == 1 and results.count(Added.ALREADY) == 7


async def test_removing_keeps_the_order_and_a_newcomer_joins_at_the_end(sessions: Sessions) -> None:
    conv_id = await _scene(sessions, ALICE, BOB, CAROL)

    assert await cast.remove(sessions, conv_id, BOB[0]) is True
    assert await cast.remove(sessions, conv_id, BOB[0]) is False
    await cast.add(sessions, conv_id, ref="custom:4", name="Dana", added_by=7)

    assert _refs(await cast.load(sessions, conv_id)) == [ALICE[0], CAROL[0], "custom:4"]


async def test_the_mode_is_kept(sessions: Sessions) -> None:
    conv_id = await _scene(sessions, ALICE, BOB)

    await cast.set_mode(sessions, conv_id, "round_robin")

    view = await cast.load(sessions, conv_id)
    assert view is not None and view.mode == "round_robin"


async def test_an_unknown_mode_is_refused(sessions: Sessions) -> None:
    conv_id = await _scene(sessions, ALICE)

    with pytest.raises(ValueError):
        await cast.set_mode(sessions, conv_id, "chaos")


# -- speaking state ---------------------------------------------------------------------------------


async def _reply(sessions: Sessions, conv_id: int) -> int:
    _user, reply = await Conversations(sessions).begin_turn(
        conv_id, author_id=7, author_name="Sam", content="hi", discord_message_id=None, channel_id=10, model="m",
    )
    return reply.id


async def test_a_reply_makes_its_speaker_the_last_one_and_ends_its_silence(sessions: Sessions) -> None:
    conv_id = await _scene(sessions, ALICE, BOB, CAROL)
    first, second = await _reply(sessions, conv_id), await _reply(sessions, conv_id)

    await cast.record_reply(sessions, conv_id, reply_id=first, ref=BOB[0], answers_user=True)
    await cast.record_reply(sessions, conv_id, reply_id=second, ref=CAROL[0], answers_user=True)

    view = await cast.load(sessions, conv_id)
    assert view is not None
    assert view.last_speaker == CAROL[0] and view.last_position == 2 and view.replies == 2
    assert {m.ref: m.silence for m in view.members} == {ALICE[0]: 2, BOB[0]: 1, CAROL[0]: 0}
    assert await cast.speaker_of(sessions, first) == BOB[0]


async def test_chained_replies_are_capped_even_when_claimed_at_once(sessions: Sessions) -> None:
    conv_id = await _scene(sessions, ALICE, BOB)

    claims = await asyncio.gather(*[cast.claim_chain(sessions, conv_id, 3) for _ in range(7)])

    view = await cast.load(sessions, conv_id)
    assert claims.count(True) == 3 and view is not None and view.chained == 3


async def test_a_failed_chained_reply_gives_its_claim_back(sessions: Sessions) -> None:
    conv_id = await _scene(sessions, ALICE, BOB)
    assert await cast.claim_chain(sessions, conv_id, 1)
    assert not await cast.claim_chain(sessions, conv_id, 1)

    await cast.release_chain(sessions, conv_id)

    assert await cast.claim_chain(sessions, conv_id, 1)


async def test_a_reply_to_the_user_resets_the_chain(sessions: Sessions) -> None:
    conv_id = await _scene(sessions, ALICE, BOB)
    await cast.claim_chain(sessions, conv_id, 3)
    await cast.claim_chain(sessions, conv_id, 3)

    await cast.record_reply(sessions, conv_id, reply_id=await _reply(sessions, conv_id), ref=ALICE[0],
                            answers_user=True)

    view = await cast.load(sessions, conv_id)
    assert view is not None and view.chained == 0


async def test_a_chained_reply_keeps_the_count(sessions: Sessions) -> None:
    conv_id = await _scene(sessions, ALICE, BOB)
    await cast.claim_chain(sessions, conv_id, 3)

    await cast.record_reply(sessions, conv_id, reply_id=await _reply(sessions, conv_id), ref=BOB[0],
                            answers_user=False)

    view = await cast.load(sessions, conv_id)
    assert view is not None and view.chained == 1


async def test_the_scene_survives_a_restart(db_url: str) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    conv_id = await _scene(sessions, ALICE, BOB, CAROL)
    await cast.set_mode(sessions, conv_id, "everyone")
    await cast.claim_chain(sessions, conv_id, 3)
    await cast.record_reply(sessions, conv_id, reply_id=await _reply(sessions, conv_id), ref=BOB[0],
                            answers_user=False)
    before = await cast.load(sessions, conv_id)
    await engine.dispose()

    engine = make_engine(db_url)
    after = await cast.load(make_sessionmaker(engine), conv_id)
    await engine.dispose()

    assert after == before and after is not None and after.last_speaker == BOB[0] and after.chained == 1


# -- conversations and characters -------------------------------------------------------------------


async def test_deleting_the_conversation_deletes_its_cast(sessions: Sessions) -> None:
    conv_id = await _scene(sessions, ALICE, BOB)

    await Conversations(sessions).delete(conv_id)

    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(CastMember)) == 0


async def test_a_reset_can_keep_the_cast_and_mode(sessions: Sessions) -> None:
    old = await _scene(sessions, ALICE, BOB, CAROL)
    await cast.set_mode(sessions, old, "round_robin")
    await cast.record_reply(sessions, old, reply_id=await _reply(sessions, old), ref=BOB[0], answers_user=True)
    new = await _conversation(sessions)

    assert await cast.copy(sessions, old, new.id) == 3

    view = await cast.load(sessions, new.id)
    assert _refs(view) == [ALICE[0], BOB[0], CAROL[0]]
    assert view is not None and view.mode == "round_robin" and view.last_speaker is None


async def test_greetings_join_the_history_under_each_speakers_name(sessions: Sessions) -> None:
    conv_id = await _scene(sessions, ALICE, BOB)
    repo = Conversations(sessions)

    rows = await cast.add_greetings(sessions, conv_id, [
        (ALICE[0], "Alice", ["Hi all.", "Hey."]), (BOB[0], "Bob", ["", "  "]), (CAROL[0], "Carol", ["Yo."]),
    ])

    conv = await repo.get(conv_id)
    assert conv is not None
    window = await repo.window(conv)
    assert [(t.author_name, t.content) for t in window] == [("Alice", "Hi all."), ("Carol", "Yo.")]
    assert rows[0].swipes == ["Hi all.", "Hey."]
    assert await cast.speaker_of(sessions, rows[1].id) == CAROL[0]


async def test_the_transcript_has_dates_and_speakers(sessions: Sessions) -> None:
    conv_id = await _scene(sessions, ALICE, BOB)
    await cast.add_greetings(sessions, conv_id, [(BOB[0], "Bob", ["Evening."])])

    turns = await cast.transcript(sessions, conv_id)

    assert [(t.author_name, t.speaker_ref) for t in turns] == [("Bob", BOB[0])]
    assert turns[0].created_at.tzinfo is not None


async def test_a_deleted_character_leaves_every_cast(sessions: Sessions) -> None:
    one = await _scene(sessions, ALICE, BOB)
    two = await _conversation(sessions, channel_id=11)
    await cast.add(sessions, two.id, ref=BOB[0], name="Bob", added_by=7)

    assert await cast.remove_everywhere(sessions, BOB[0]) == 2

    assert _refs(await cast.load(sessions, one)) == [ALICE[0]]
    assert _refs(await cast.load(sessions, two.id)) == []


async def test_privacy_sees_and_forgets_what_a_user_put_in_casts(sessions: Sessions) -> None:
    async with sessions.begin() as s:
        own = CharacterRow(owner_id=7, name="Mine", card={"name": "Mine"})
        s.add(own)
        await s.flush()
        own_ref = f"custom:{own.id}"
    conv_id = await _scene(sessions, BOB, (own_ref, "Mine"))
    await cast.add(sessions, conv_id, ref=CAROL[0], name="Carol", added_by=8)

    async with sessions() as s:
        exported = await cast.export_for_user(s, 7)
    async with sessions.begin() as s:
        removed = await cast.forget_user(s, 7)

    assert [e["character_ref"] for e in exported] == [BOB[0], own_ref]
    assert removed == 1
    view = await cast.load(sessions, conv_id)
    assert view is not None
    assert [(m.ref, m.added_by) for m in view.members] == [(BOB[0], None), (CAROL[0], 8)]


async def test_a_reply_without_its_own_user_message_is_stored_and_settled_like_any(sessions: Sessions) -> None:
    conv_id = await _scene(sessions, ALICE, BOB)
    repo = Conversations(sessions)
    user, first = await repo.begin_turn(conv_id, author_id=7, author_name="Sam", content="hello all",
                                        discord_message_id=None, channel_id=10, model="m")
    await cast.record_reply(sessions, conv_id, reply_id=first.id, ref=ALICE[0], answers_user=True)
    await repo.finish(first.id, content="Hi Sam.", status="complete", character_name="Alice")

    second = await cast.begin_reply(sessions, conv_id, ref=BOB[0], name="Bob", reply_to=user.id, model="m",
                                    answers_user=True)
    await repo.finish(second.id, content="Hey.", status="complete", character_name="Bob")

    conv = await repo.get(conv_id)
    assert conv is not None
    assert [(t.role, t.author_name, t.content) for t in await repo.window(conv)] == [
        ("user", "Sam", "hello all"), ("assistant", "Alice", "Hi Sam."), ("assistant", "Bob", "Hey."),
    ]
    view = await cast.load(sessions, conv_id)
    assert view is not None and view.last_speaker == BOB[0] and view.replies == 2
    assert await cast.speaker_of(sessions, second.id) == BOB[0]


async def test_deleting_one_reply_keeps_words_another_reply_still_answers(sessions: Sessions) -> None:
    conv_id = await _scene(sessions, ("custom:1", "Alice"), ("custom:2", "Bob"))
    conversations = Conversations(sessions)
    user, first = await conversations.begin(conv_id, author_id=7, author_name="kim", content="Hi both", model="m")
    second = await cast.begin_reply(sessions, conv_id, ref="custom:2", name="Bob", reply_to=user.id, model="m",
                                    answers_user=True)
    for reply in (first, second):
        await conversations.finish(reply.id, content="Hello.", status="complete", character_name="X")

    await conversations.delete_turn(first.id)
    words = await conversations.turn(user.id)
    assert words is not None and words.status == "complete"  # Bob's reply still answers them
    await conversations.delete_turn(second.id)
    words = await conversations.turn(user.id)
    assert words is not None and words.status == "deleted"  # the last answer gone: the words go too


async def test_words_nobody_answered_join_the_story(sessions: Sessions) -> None:
    conv_id = await _scene(sessions, ("custom:1", "Alice"))
    conversations = Conversations(sessions)
    user, reply = await conversations.begin(conv_id, author_id=7, author_name="kim", content="I sit.", model="m")
    await conversations.discard(reply.id)
    await cast.settle_words(sessions, user.id)
    words = await conversations.turn(user.id)
    assert words is not None and words.status == "complete"
    assert await conversations.latest_user_id(conv_id) == user.id
    assert await conversations.latest_reply_id(conv_id) is None


async def test_manual_mode_is_stored(sessions: Sessions) -> None:
    conv_id = await _scene(sessions, ("custom:1", "Alice"))
    await cast.set_mode(sessions, conv_id, "manual")
    view = await cast.load(sessions, conv_id)
    assert view is not None and view.mode == "manual"
