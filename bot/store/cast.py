"""A conversation's cast (group scenes): its members in order, the speaking mode, and the state
the speaking order needs (who spoke last, how long each member has been silent, how many
character replies came since the last user message).

Everything a restart must keep is here, so a scene resumes mid-way with the same cast and order.
Rows are created with upserts (`INSERT … ON CONFLICT DO NOTHING`), never get-then-insert, and
counters move with `UPDATE … SET n = n + 1`, so two commands at once can neither fail on a
unique constraint nor lose a count. Deleting a conversation deletes its cast (ON DELETE CASCADE).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import BigInteger, Insert, Integer, String, Table, delete, func, literal, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.conversations import IN_HISTORY, TurnRow
from bot.store.models import Cast, CastMember, CharacterRow, Message, utcnow
from bot.store.types import UTCDateTime

MODES = ("natural", "round_robin", "everyone", "manual")
MAX_CAST = 5
# A lost race for a position is retried. Each loss means another add took a slot, so after
# MAX_CAST losses the cast is full and the loop always ends with the true answer.
_ADD_ATTEMPTS = MAX_CAST + 1

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True, slots=True)
class Member:
    """One cast member as stored. `silence` is how many cast replies came since it last spoke."""

    ref: str
    name: str
    position: int
    silence: int
    added_by: int | None


@dataclass(frozen=True, slots=True)
class CastView:
    """A conversation's cast and speaking state, as plain values."""

    conversation_id: int
    mode: str
    members: tuple[Member, ...]
    last_speaker: str | None
    last_position: int | None
    replies: int
    chained: int

    def member(self, ref: str) -> Member | None:
        return next((m for m in self.members if m.ref == ref), None)


class Added(Enum):
    ADDED = "added"
    ALREADY = "already"  # it was in the cast before: nothing changed
    FULL = "full"  # MAX_CAST members already


@dataclass(frozen=True, slots=True)
class TranscriptTurn:
    """A stored turn with what an export needs beyond `TurnRow`: when it was said, and by whom."""

    id: int
    role: str
    author_name: str
    content: str
    swipes: list[str]
    swipe_index: int
    status: str
    speaker_ref: str | None
    created_at: datetime


def _insert(session: AsyncSession, table: Table | type[Any]) -> Insert:
    """The dialect's INSERT, which knows ON CONFLICT (SQLite and PostgreSQL both do)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for {dialect}")


async def _ensure_cast(session: AsyncSession, conversation_id: int) -> None:
    stmt = _insert(session, Cast).values(
        conversation_id=conversation_id, mode="natural", replies=0, chained=0, updated_at=utcnow()
    )
    await session.execute(stmt.on_conflict_do_nothing())  # type: ignore[attr-defined]


async def _try_add(session: AsyncSession, conversation_id: int, ref: str, name: str, added_by: int | None) -> bool:
    """Insert `ref` after the last member if there is room; False if nothing was inserted."""
    in_cast = CastMember.conversation_id == conversation_id
    position = select(func.coalesce(func.max(CastMember.position) + 1, 0)).where(in_cast).scalar_subquery()
    size = select(func.count()).select_from(CastMember).where(in_cast).scalar_subquery()
    replies = select(Cast.replies).where(Cast.conversation_id == conversation_id).scalar_subquery()
    # INSERT … SELECT … WHERE size < MAX_CAST: the cap and the position are read and written in one
    # statement; the unique (conversation, position) constraint settles two adds racing for a slot.
    rows = select(
        literal(conversation_id, BigInteger()), position, literal(ref, String()), literal(name, String()),
        literal(added_by, BigInteger()), func.coalesce(replies, 0), literal(utcnow(), UTCDateTime()),
    ).where(size < MAX_CAST)
    stmt = _insert(session, CastMember).from_select(
        ["conversation_id", "position", "character_ref", "character_name", "added_by", "spoke_at", "added_at"], rows
    )
    result = await session.execute(stmt.on_conflict_do_nothing())  # type: ignore[attr-defined]
    return bool(result.rowcount)


async def add(
    sessions: Sessions, conversation_id: int, *, ref: str, name: str, added_by: int | None,
    founder: tuple[str, str] | None = None,
) -> Added:
    """Add a character at the end of the cast (at most MAX_CAST).

    `founder` (ref, name) is the character the conversation had before it became a scene: it joins
    first, in the same transaction, when the cast is still empty, so adding Bob to a chat with
    Alice gives the cast [Alice, Bob].
    """
    for _ in range(_ADD_ATTEMPTS):
        async with sessions.begin() as session:
            await _ensure_cast(session, conversation_id)
            if founder is not None and founder[0] != ref:
                empty = not await session.scalar(
                    select(func.count()).select_from(CastMember).where(CastMember.conversation_id == conversation_id)
                )
                if empty:
                    await _try_add(session, conversation_id, founder[0], founder[1], None)
            if await _try_add(session, conversation_id, ref, name, added_by):
                return Added.ADDED
        async with sessions() as session:
            refs = list((await session.scalars(
                select(CastMember.character_ref).where(CastMember.conversation_id == conversation_id)
            )).all())
        if ref in refs:
            return Added.ALREADY
        if len(refs) >= MAX_CAST:
            return Added.FULL
        # Another add took the position between our read and our write: try again.
    return Added.FULL


async def remove(sessions: Sessions, conversation_id: int, ref: str) -> bool:
    """Take a character out of the cast; False if it was not in it. Positions keep their gaps."""
    async with sessions.begin() as session:
        result = await session.execute(
            delete(CastMember).where(CastMember.conversation_id == conversation_id, CastMember.character_ref == ref)
        )
        return bool(result.rowcount)


async def set_mode(sessions: Sessions, conversation_id: int, mode: str) -> None:
    """Choose how the next speaker is picked: natural, round_robin, everyone or manual."""
    if mode not in MODES:
        raise ValueError(f"unknown speaking mode {mode!r}")
    async with sessions.begin() as session:
        await _ensure_cast(session, conversation_id)
        await session.execute(update(Cast).where(Cast.conversation_id == conversation_id).values(mode=mode))


async def load(sessions: Sessions, conversation_id: int) -> CastView | None:
    """The cast and its state in one query; None when the conversation has no cast."""
    query = (
        select(Cast.mode, Cast.last_speaker, Cast.last_position, Cast.replies, Cast.chained,
               CastMember.character_ref, CastMember.character_name, CastMember.position, CastMember.spoke_at,
               CastMember.added_by)
        .select_from(Cast)
        .outerjoin(CastMember, CastMember.conversation_id == Cast.conversation_id)
        .where(Cast.conversation_id == conversation_id)
        .order_by(CastMember.position)
    )
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    if not rows:
        return None
    mode, last_speaker, last_position, replies, chained = rows[0][:5]
    members = tuple(
        Member(ref=r[5], name=r[6], position=r[7], silence=max(0, replies - r[8]), added_by=r[9])
        for r in rows if r[5] is not None
    )
    return CastView(conversation_id, mode, members, last_speaker, last_position, replies, chained)


async def claim_chain(sessions: Sessions, conversation_id: int, limit: int) -> bool:
    """Count one more character reply without a user message, if fewer than `limit` came so far.

    Atomic (`UPDATE … WHERE chained < limit`), so a double-pressed ⏭ cannot pass the cap.
    """
    async with sessions.begin() as session:
        result = await session.execute(
            update(Cast).where(Cast.conversation_id == conversation_id, Cast.chained < limit)
            .values(chained=Cast.chained + 1)
        )
        return bool(result.rowcount)


async def release_chain(sessions: Sessions, conversation_id: int) -> None:
    """Give back a claim whose reply never came (Venice failed, the screen refused)."""
    async with sessions.begin() as session:
        await session.execute(
            update(Cast).where(Cast.conversation_id == conversation_id, Cast.chained > 0)
            .values(chained=Cast.chained - 1)
        )


async def record_reply(
    sessions: Sessions, conversation_id: int, *, reply_id: int, ref: str, answers_user: bool,
) -> None:
    """`ref` speaks `reply_id`: it becomes the last speaker, its silence ends, the reply names it.

    A reply to a user message (`answers_user`) also resets the count of chained replies.
    """
    async with sessions.begin() as session:
        await _record(session, conversation_id, reply_id=reply_id, ref=ref, answers_user=answers_user)


async def _record(session: AsyncSession, conversation_id: int, *, reply_id: int, ref: str, answers_user: bool) -> None:
    where = Cast.conversation_id == conversation_id
    position = select(CastMember.position).where(
        CastMember.conversation_id == conversation_id, CastMember.character_ref == ref
    ).scalar_subquery()
    await session.execute(update(Cast).where(where).values(
        replies=Cast.replies + 1, last_speaker=ref, last_position=func.coalesce(position, Cast.last_position),
        chained=0 if answers_user else Cast.chained,
    ))
    replies = select(Cast.replies).where(where).scalar_subquery()
    await session.execute(
        update(CastMember)
        .where(CastMember.conversation_id == conversation_id, CastMember.character_ref == ref)
        .values(spoke_at=replies)
    )
    await session.execute(update(Message).where(Message.id == reply_id).values(speaker_ref=ref))


async def begin_reply(
    sessions: Sessions, conversation_id: int, *, ref: str, name: str, reply_to: int | None, model: str,
    answers_user: bool,
) -> TurnRow:
    """Start a reply that comes without a user message of its own (the next character in *everyone*
    mode, "⏭ Next", the "who answers" select), and record `ref` as its speaker, in one transaction.

    `reply_to` is the user turn it answers (everyone mode), or None for a character answering
    the scene. The row is `streaming` until `Conversations.finish` settles it, like any reply.
    """
    async with sessions.begin() as session:
        row = Message(
            conversation_id=conversation_id, role="assistant", author_name=name, content="", swipes=[""],
            swipe_index=0, status="streaming", reply_to=reply_to, discord_ids=[], model=model, speaker_ref=ref,
        )
        session.add(row)
        await session.flush()
        await _record(session, conversation_id, reply_id=row.id, ref=ref, answers_user=answers_user)
        return TurnRow.of(row)


async def name_speaker(sessions: Sessions, reply_id: int, ref: str) -> None:
    """Which member speaks a reply being written (the speaking order moves once it is kept:
    `record_reply`), so a reply a crash cut off is still regenerated as its speaker."""
    async with sessions.begin() as session:
        await session.execute(update(Message).where(Message.id == reply_id).values(speaker_ref=ref))


async def settle_words(sessions: Sessions, message_id: int) -> None:
    """A person's message that no character answers yet (manual mode): it joins the story as said."""
    async with sessions.begin() as session:
        await session.execute(
            update(Message).where(Message.id == message_id, Message.status == "pending").values(status="complete")
        )


async def speaker_of(sessions: Sessions, reply_id: int) -> str | None:
    """The cast member who spoke a reply (None outside scenes)."""
    async with sessions() as session:
        return await session.scalar(select(Message.speaker_ref).where(Message.id == reply_id))


async def copy(sessions: Sessions, from_id: int, to_id: int) -> int:
    """Give conversation `to_id` the cast and mode of `from_id` (a reset keeps the scene); members copied."""
    async with sessions.begin() as session:
        mode = await session.scalar(select(Cast.mode).where(Cast.conversation_id == from_id))
        if mode is None:
            return 0
        await _ensure_cast(session, to_id)
        await session.execute(update(Cast).where(Cast.conversation_id == to_id).values(mode=mode))
        rows = select(
            literal(to_id, BigInteger()), CastMember.position, CastMember.character_ref, CastMember.character_name,
            CastMember.added_by, literal(0, Integer()), literal(utcnow(), UTCDateTime()),
        ).where(CastMember.conversation_id == from_id)
        stmt = _insert(session, CastMember).from_select(
            ["conversation_id", "position", "character_ref", "character_name", "added_by", "spoke_at", "added_at"],
            rows,
        )
        result = await session.execute(stmt.on_conflict_do_nothing())  # type: ignore[attr-defined]
        return int(result.rowcount or 0)


async def add_greetings(
    sessions: Sessions, conversation_id: int, greetings: Sequence[tuple[str, str, Sequence[str]]],
) -> list[TurnRow]:
    """Store each member's greeting as a finished reply, in order: (ref, name, texts) per member.

    The first text is shown; the others are its swipes, as for a single character's greeting.
    """
    out: list[TurnRow] = []
    async with sessions.begin() as session:
        for ref, name, texts in greetings:
            texts = [t for t in texts if t.strip()]
            if not texts:
                continue
            row = Message(
                conversation_id=conversation_id, role="assistant", author_name=name, content=texts[0],
                swipes=list(texts), swipe_index=0, status="complete", discord_ids=[], speaker_ref=ref,
            )
            session.add(row)
            await session.flush()
            out.append(TurnRow.of(row))
    return out


async def transcript(sessions: Sessions, conversation_id: int) -> list[TranscriptTurn]:
    """Every turn that is part of the story (oldest first), with dates and speakers, for export."""
    query = (
        select(Message.id, Message.role, Message.author_name, Message.content, Message.swipes, Message.swipe_index,
               Message.status, Message.speaker_ref, Message.created_at)
        .where(Message.conversation_id == conversation_id, Message.status.in_(IN_HISTORY))
        .order_by(Message.id)
    )
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    return [
        TranscriptTurn(id=r[0], role=r[1], author_name=r[2], content=r[3], swipes=list(r[4] or []),
                       swipe_index=r[5], status=r[6], speaker_ref=r[7], created_at=r[8])
        for r in rows
    ]


async def remove_everywhere(sessions: Sessions, ref: str) -> int:
    """A character was deleted: it leaves every cast it was in."""
    async with sessions.begin() as session:
        result = await session.execute(delete(CastMember).where(CastMember.character_ref == ref))
        return int(result.rowcount or 0)


# -- privacy: called inside bot.privacy's own session and transaction ---------------------------


async def export_for_user(session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
    """The cast entries this user made (who they added to which conversation's scene)."""
    rows = await session.execute(
        select(CastMember.conversation_id, CastMember.character_ref, CastMember.character_name,
               CastMember.position, CastMember.added_at)
        .where(CastMember.added_by == user_id)
        .order_by(CastMember.id)
    )
    return [
        {"conversation_id": r[0], "character_ref": r[1], "character": r[2], "position": r[3],
         "added_at": r[4].isoformat() if r[4] is not None else None}
        for r in rows.all()
    ]


async def forget_user(session: AsyncSession, user_id: int) -> int:
    """Before the user's characters are deleted: take those characters out of every cast, and
    stop naming the user as who added the others. Returns the entries removed."""
    owned = select(literal("custom:") + sql_cast(CharacterRow.id, String)).where(CharacterRow.owner_id == user_id)
    result = await session.execute(
        delete(CastMember).where(CastMember.character_ref.in_(owned)).execution_options(synchronize_session=False)
    )
    await session.execute(
        update(CastMember).where(CastMember.added_by == user_id).values(added_by=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)
