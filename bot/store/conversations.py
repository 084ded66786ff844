"""Conversations and their turns.

Statuses keep the history honest: a user turn is `pending` until its reply ends; a reply is
`streaming` until it is `complete`, `cut` (stopped or failed mid-way, partial text kept) or `failed`
(nothing usable). Only `complete` and `cut` turns (and answered user turns) reach the model, so a crash
at any moment leaves nothing half-written in the next prompt. Writes that belong together are one
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, delete, exists, func, insert, literal, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.chat.tokens import estimate
from bot.store.locks import insert_for
from bot.store.models import Conversation, Message, MessageLink, ProcessRow, utcnow
from bot.store.processes import Process, overlaps

IN_HISTORY = ("complete", "cut")
WINDOW_ROWS = 400  # newest turns loaded per prompt; the prompt builder takes what fits


@dataclass(frozen=True, slots=True)
class TurnRow:
    """A plain copy of a stored turn, safe to use outside the session."""

    id: int
    role: str
    author_id: int | None
    author_name: str
    content: str
    swipes: list[str]
    swipe_index: int
    status: str
    discord_ids: list[int]
    reply_to: int | None
    conversation_id: int
    tokens: int = 0

    COLUMNS = (
        Message.id, Message.role, Message.author_id, Message.author_name, Message.content, Message.swipes,
        Message.swipe_index, Message.status, Message.discord_ids, Message.reply_to, Message.conversation_id,
        Message.tokens,
    )

    @classmethod
    def of_row(cls, r: Any) -> TurnRow:
        """From a row of `COLUMNS`: no ORM objects on the hot path of every turn."""
        return cls(
            id=r[0], role=r[1], author_id=r[2], author_name=r[3], content=r[4], swipes=list(r[5] or []),
            swipe_index=r[6], status=r[7], discord_ids=[int(i) for i in (r[8] or [])], reply_to=r[9],
            conversation_id=r[10], tokens=r[11] or 0,
        )

    @classmethod
    def of(cls, m: Message) -> TurnRow:
        return cls(
            id=m.id, role=m.role, author_id=m.author_id, author_name=m.author_name, content=m.content,
            swipes=list(m.swipes or []), swipe_index=m.swipe_index, status=m.status,
            discord_ids=[int(i) for i in (m.discord_ids or [])], reply_to=m.reply_to,
            conversation_id=m.conversation_id, tokens=m.tokens or 0,
        )


@dataclass(frozen=True, slots=True)
class Settled:
    """A reply that start-up recovery settled: what Discord still shows needs rewriting."""

    reply: TurnRow  # as stored now: `cut` (partial text kept), `complete` (a regenerate's previous
    # swipe shown again) or `failed` (no text)
    channel_id: int
    guild_id: int | None
    character_name: str
    archived: bool


def title_for(created: datetime) -> str:
    """A conversation's title: its date. Never anyone's words (they would outlive their deletion)."""
    created = (created if created.tzinfo else created.replace(tzinfo=UTC)).astimezone(UTC)
    return f"Conversation of {created.day} {created:%b %Y, %H:%M} UTC"


async def _link(s: AsyncSession, discord_message_id: int, message_id: int, channel_id: int) -> None:
    """Point a Discord message at a turn: one upsert, so two writers of one link never collide."""
    stmt = insert_for(s, MessageLink).values(
        discord_message_id=discord_message_id, message_id=message_id, channel_id=channel_id)
    await s.execute(stmt.on_conflict_do_update(
        index_elements=["discord_message_id"], set_={"message_id": message_id, "channel_id": channel_id}))


class Conversations:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, owner: Process | None = None) -> None:
        self.sessions = sessions
        self.owner = owner  # stamped on turns in flight, so recovery knows whose they are

    @property
    def _owner_id(self) -> int | None:
        return self.owner.id if self.owner is not None else None

    # -- conversations --------------------------------------------------------------------------

    async def active(self, channel_id: int) -> Conversation | None:
        async with self.sessions() as s:
            return await s.scalar(
                select(Conversation)
                .where(Conversation.channel_id == channel_id, Conversation.archived.is_(False))
                .order_by(Conversation.id.desc())
                .limit(1)
            )

    async def get(self, conversation_id: int) -> Conversation | None:
        async with self.sessions() as s:
            return await s.get(Conversation, conversation_id)

    async def start(
        self, *, channel_id: int, guild_id: int | None, character_ref: str, character_name: str,
        created_by: int | None, greetings: Sequence[str] = (),
    ) -> tuple[Conversation, TurnRow | None]:
        """Archive the channel's current conversation and open a new one, greeting first."""
        async with self.sessions.begin() as s:
            await s.execute(
                update(Conversation)
                .where(Conversation.channel_id == channel_id, Conversation.archived.is_(False))
                .values(archived=True)
            )
            now = utcnow()
            conv = Conversation(
                channel_id=channel_id, guild_id=guild_id, character_ref=character_ref,
                character_name=character_name, created_by=created_by, title=title_for(now), summary="",
                lore_fired=[], created_at=now,
            )
            s.add(conv)
            await s.flush()
            greeting = None
            if greetings:
                row = Message(
                    conversation_id=conv.id, role="assistant", author_name=character_name,
                    content=greetings[0], swipes=list(greetings), swipe_index=0, status="complete",
                    discord_ids=[],
                )
                s.add(row)
                await s.flush()
                greeting = TurnRow.of(row)
            return conv, greeting

    async def list_for_channel(self, channel_id: int, limit: int = 25) -> list[tuple[Conversation, int]]:
        async with self.sessions() as s:
            counts = (
                select(Message.conversation_id, func.count().label("n"))
                .where(Message.status.in_(IN_HISTORY))
                .group_by(Message.conversation_id)
                .subquery()
            )
            rows = await s.execute(
                select(Conversation, func.coalesce(counts.c.n, 0))
                .outerjoin(counts, counts.c.conversation_id == Conversation.id)
                .where(Conversation.channel_id == channel_id)
                .order_by(Conversation.id.desc())
                .limit(limit)
            )
            return [(c, int(n)) for c, n in rows.all()]

    async def resume(self, channel_id: int, conversation_id: int) -> Conversation | None:
        async with self.sessions.begin() as s:
            conv = await s.get(Conversation, conversation_id)
            if conv is None or conv.channel_id != channel_id:
                return None
            await s.execute(
                update(Conversation)
                .where(Conversation.channel_id == channel_id, Conversation.id != conversation_id)
                .values(archived=True)
            )
            conv.archived = False
            return conv

    async def delete(self, conversation_id: int) -> None:
        async with self.sessions.begin() as s:
            conv = await s.get(Conversation, conversation_id)
            if conv is not None:
                await s.delete(conv)

    async def set_summary(self, conversation_id: int, summary: str, upto: int) -> None:
        async with self.sessions.begin() as s:
            await s.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(summary=summary, summary_upto=upto)
            )

    async def set_lore_fired(self, conversation_id: int, names: list[str]) -> None:
        async with self.sessions.begin() as s:
            await s.execute(update(Conversation).where(Conversation.id == conversation_id).values(lore_fired=names))

    async def set_author_note(self, conversation_id: int, note: dict[str, Any] | None) -> None:
        """Store (None: clear) the conversation's Author's Note."""
        async with self.sessions.begin() as s:
            await s.execute(update(Conversation).where(Conversation.id == conversation_id).values(author_note=note))

    async def lore_state(self, conversation_id: int) -> dict[str, Any] | None:
        """The conversation's stored lorebook/macro state (a `LoreState.to_json()` dict), if any."""
        async with self.sessions() as s:
            value = await s.scalar(select(Conversation.lore_state).where(Conversation.id == conversation_id))
        return value if isinstance(value, dict) else None

    async def set_lore_state(self, conversation_id: int, state: dict[str, Any], fired: list[str] | None = None) -> None:
        """Store the lorebook/macro state (and which entries fired) on its own, outside a turn."""
        async with self.sessions.begin() as s:
            await s.execute(_lore_update(conversation_id, state, fired))

    # -- turns ----------------------------------------------------------------------------------

    async def window(self, conversation: Conversation, *, before_id: int | None = None,
                     limit: int = WINDOW_ROWS) -> list[TurnRow]:
        """The newest turns in history (oldest first), after the summary point: one indexed query."""
        query = select(*TurnRow.COLUMNS).where(
            Message.conversation_id == conversation.id, Message.status.in_(IN_HISTORY)
        )
        if conversation.summary_upto is not None:
            query = query.where(Message.id > conversation.summary_upto)
        if before_id is not None:
            query = query.where(Message.id < before_id)
        async with self.sessions() as s:
            rows = (await s.execute(query.order_by(Message.id.desc()).limit(limit))).all()
        return [TurnRow.of_row(r) for r in reversed(rows)]

    async def unsummarised(self, conversation: Conversation, *, before_id: int | None, limit: int) -> list[TurnRow]:
        """The oldest history turns not yet in the summary, older than `before_id` (oldest first)."""
        query = select(Message).where(Message.conversation_id == conversation.id, Message.status.in_(IN_HISTORY))
        if conversation.summary_upto is not None:
            query = query.where(Message.id > conversation.summary_upto)
        if before_id is not None:
            query = query.where(Message.id < before_id)
        async with self.sessions() as s:
            rows = (await s.scalars(query.order_by(Message.id).limit(limit))).all()
        return [TurnRow.of(m) for m in rows]

    async def all_turns(self, conversation_id: int) -> list[TurnRow]:
        async with self.sessions() as s:
            rows = (await s.scalars(
                select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
            )).all()
        return [TurnRow.of(m) for m in rows]

    async def turn(self, message_id: int) -> TurnRow | None:
        async with self.sessions() as s:
            m = await s.get(Message, message_id)
            return TurnRow.of(m) if m else None

    async def latest_reply_id(self, conversation_id: int) -> int | None:
        async with self.sessions() as s:
            return await s.scalar(
                select(func.max(Message.id)).where(
                    Message.conversation_id == conversation_id, Message.role == "assistant",
                    Message.status.in_((*IN_HISTORY, "streaming", "failed")),
                )
            )

    async def begin_turn(
        self, conversation_id: int, *, author_id: int, author_name: str, content: str,
        discord_message_id: int | None, channel_id: int, model: str,
    ) -> tuple[TurnRow, TurnRow]:
        """Store the user's message (pending) and the reply's placeholder (streaming) together."""
        async with self.sessions.begin() as s:
            user = Message(
                conversation_id=conversation_id, role="user", author_id=author_id, author_name=author_name,
                content=content, swipes=[], status="pending", tokens=estimate(content),
                discord_ids=[discord_message_id] if discord_message_id else [], owner_id=self._owner_id,
            )
            s.add(user)
            await s.flush()
            if discord_message_id:
                await _link(s, discord_message_id, user.id, channel_id)
            reply = Message(
                conversation_id=conversation_id, role="assistant", author_name="", content="", swipes=[""],
                swipe_index=0, status="streaming", reply_to=user.id, discord_ids=[], model=model,
                owner_id=self._owner_id,
            )
            s.add(reply)
            await s.flush()
            return TurnRow.of(user), TurnRow.of(reply)

    async def begin(
        self, conversation_id: int, *, author_id: int | None, author_name: str, content: str, model: str,
        origin: int | None = None,
    ) -> tuple[TurnRow, TurnRow]:
        """Store the user's words (pending) and the reply's placeholder (streaming): one transaction,
        two INSERTs. Both carry this process as their owner, for start-up recovery.

        `origin` is the Discord message showing the words, when already known; its link is written
        with the reply's first message (`link`), which is the next write of the turn anyway.
        """
        origin_ids = [origin] if origin else []
        async with self.sessions.begin() as s:
            user_id = await s.scalar(insert(Message).values(
                conversation_id=conversation_id, role="user", author_id=author_id, author_name=author_name,
                content=content, swipes=[], swipe_index=0, status="pending", tokens=estimate(content),
                discord_ids=origin_ids, owner_id=self._owner_id,
            ).returning(Message.id))
            reply_id = await s.scalar(insert(Message).values(
                conversation_id=conversation_id, role="assistant", author_name="", content="", swipes=[""],
                swipe_index=0, status="streaming", reply_to=user_id, discord_ids=[], model=model, tokens=0,
                owner_id=self._owner_id,
            ).returning(Message.id))
        assert user_id is not None and reply_id is not None
        user = TurnRow(user_id, "user", author_id, author_name, content, [], 0, "pending", origin_ids, None,
                       conversation_id, estimate(content))
        reply = TurnRow(reply_id, "assistant", None, "", "", [""], 0, "streaming", [], user_id, conversation_id)
        return user, reply

    async def link(self, channel_id: int, links: Sequence[tuple[int, int]]) -> None:
        """Remember which stored turn each Discord message shows: one upsert of (discord id, turn id)."""
        if not links:
            return
        rows = [{"discord_message_id": d, "message_id": t, "channel_id": channel_id} for d, t in links]
        async with self.sessions.begin() as s:
            await s.execute(_upsert_links(s.get_bind().dialect.name), rows)

    async def finish_turn(
        self, reply: TurnRow, *, content: str, swipes: list[str], swipe_index: int, status: str,
        character_name: str, finish_reason: str | None, tokens: int, discord_ids: list[int], channel_id: int,
        new_links: Sequence[tuple[int, int]] = (), origin: int | None = None, settle_user: bool = False,
        lore_state: dict[str, Any] | None = None, lore_fired: list[str] | None = None,
    ) -> TurnRow:
        """End a reply (settled by the chat service) and, for a new turn (`settle_user`), the user turn
        it answers, in one transaction: one UPDATE of both rows, and one upsert for messages not
        linked yet. A reply deleted while it streamed stays deleted.

        `lore_state` (and `lore_fired`), when given, are saved on the conversation in the same
        transaction, so a turn's timed lore effects and chat variables land with it: on PostgreSQL in
        the same statement (a data-modifying CTE, applied only if the reply still exists), on SQLite
        (whose CTEs cannot write) as one more UPDATE after it.
        """
        asked = reply.reply_to if settle_user else None
        values: dict[str, Any] = {
            "content": content, "swipes": swipes, "swipe_index": swipe_index, "status": status,
            "author_name": character_name, "finish_reason": finish_reason, "tokens": tokens,
            "discord_ids": discord_ids,
        }
        async with self.sessions.begin() as s:
            dialect = s.get_bind().dialect.name
            if asked is None:
                stmt = update(Message).where(Message.id == reply.id).values(**values)
            else:
                stmt = update(Message).where(Message.id.in_((reply.id, asked))).values(
                    **_reply_row_only(reply.id, values, asked_status="complete",
                                      asked_ids=[origin] if origin is not None else None))
            lore_apart = lore_state is not None and dialect != "postgresql"
            if lore_state is not None and not lore_apart:
                # The snapshot is the statement's: EXISTS sees the reply as it was before this UPDATE.
                lore = _lore_update(reply.conversation_id, lore_state, lore_fired).where(
                    select(Message.id).where(Message.id == reply.id).exists())
                stmt = stmt.add_cte(lore.returning(Conversation.id).cte("lore"))
            updated = set((await s.execute(stmt.returning(Message.id))).scalars())
            if reply.id not in updated:  # /privacy delete or /conversation delete while it streamed
                return TurnRow(reply.id, "assistant", None, character_name, content, [content], 0, "deleted",
                               list(discord_ids), None, reply.conversation_id)
            if new_links:
                rows = [{"discord_message_id": d, "message_id": t, "channel_id": channel_id} for d, t in new_links]
                await s.execute(_upsert_links(dialect), rows)
            if lore_apart:
                assert lore_state is not None
                await s.execute(_lore_update(reply.conversation_id, lore_state, lore_fired))
        return TurnRow(reply.id, "assistant", reply.author_id, character_name, content, list(swipes), swipe_index,
                       status, list(discord_ids), reply.reply_to, reply.conversation_id, tokens)

    async def discard(self, *turn_ids: int) -> None:
        """Remove turns that must not become history (words refused while their reply started)."""
        async with self.sessions.begin() as s:
            await s.execute(delete(Message).where(Message.id.in_(turn_ids)))

    async def begin_swipe(self, reply_id: int) -> TurnRow:
        """Start a new swipe on an existing reply (regenerate): old swipes are kept."""
        async with self.sessions.begin() as s:
            m = await s.get(Message, reply_id)
            assert m is not None
            # An empty swipe (a reply that failed before any text) is replaced, not kept.
            swipes = [*[w for w in (m.swipes or [m.content]) if w.strip()], ""]
            m.swipes = swipes
            m.swipe_index = len(swipes) - 1
            m.content = ""
            m.status = "streaming"
            m.owner_id = self._owner_id
            return TurnRow.of(m)

    async def mark_streaming(self, reply_id: int) -> None:
        async with self.sessions.begin() as s:
            await s.execute(update(Message).where(Message.id == reply_id)
                            .values(status="streaming", owner_id=self._owner_id))

    async def link_discord(self, reply_id: int, channel_id: int, discord_ids: list[int]) -> None:
        """Remember which Discord messages show this turn (first one as soon as it exists)."""
        async with self.sessions.begin() as s:
            m = await s.get(Message, reply_id)
            if m is None:
                return
            old = {int(i) for i in (m.discord_ids or [])}
            m.discord_ids = list(discord_ids)
            for did in discord_ids:
                if did not in old:
                    await _link(s, did, reply_id, channel_id)

    async def finish(
        self, reply_id: int, *, content: str, status: str, character_name: str,
        finish_reason: str | None = None, tokens: int = 0, discord_ids: list[int] | None = None,
        channel_id: int | None = None, lore_state: dict[str, Any] | None = None, lore_fired: list[str] | None = None,
    ) -> TurnRow:
        """End a reply and settle the user turn it answers, in one transaction.

        `lore_state` (and `lore_fired`), when given, are saved on the conversation in the same
        transaction, so a turn's timed lore effects and chat variables land with the turn.
        """
        async with self.sessions.begin() as s:
            m = await s.get(Message, reply_id)
            if m is None:
                # Deleted while it streamed (/privacy delete, /conversation delete): nothing to keep.
                return TurnRow(reply_id, "assistant", None, character_name, content, [content], 0, "deleted",
                               list(discord_ids or []), None, 0)
            swipes = list(m.swipes or [""])
            index = min(m.swipe_index, len(swipes) - 1)
            if status == "failed" and len(swipes) > 1 and not content:
                # A failed regenerate drops its empty swipe and shows the previous one again.
                swipes.pop(index)
                index = len(swipes) - 1
                m.content = swipes[index]
                m.status = "complete"
                tokens = estimate(m.content)
            else:
                swipes[index] = content
                m.content = content
                m.status = status
            m.swipes = swipes
            m.swipe_index = index
            m.author_name = character_name
            m.finish_reason = finish_reason
            m.tokens = tokens
            if discord_ids is not None:
                m.discord_ids = discord_ids
                for did in discord_ids:
                    await _link(s, did, reply_id, channel_id or 0)
            if m.reply_to is not None:
                await s.execute(
                    update(Message)
                    .where(Message.id == m.reply_to, Message.status == "pending")
                    .values(status="complete")
                )
            if lore_state is not None:
                await s.execute(_lore_update(m.conversation_id, lore_state, lore_fired))
            return TurnRow.of(m)

    async def set_swipe(self, reply_id: int, index: int) -> TurnRow | None:
        async with self.sessions.begin() as s:
            m = await s.get(Message, reply_id)
            if m is None or not m.swipes:
                return None
            index = max(0, min(index, len(m.swipes) - 1))
            m.swipe_index = index
            m.content = m.swipes[index]
            m.tokens = estimate(m.content)  # the prompt budget counts the swipe history now uses
            return TurnRow.of(m)

    async def edit_content(self, message_id: int, content: str) -> TurnRow | None:
        """Replace the shown text of a turn; for replies, the current swipe becomes the edit."""
        async with self.sessions.begin() as s:
            m = await s.get(Message, message_id)
            if m is None or m.status == "deleted":
                return None
            m.content = content
            m.tokens = estimate(content)
            if m.role == "assistant":
                swipes = list(m.swipes or [""])
                swipes[min(m.swipe_index, len(swipes) - 1)] = content
                m.swipes = swipes
                if m.status == "failed":
                    m.status = "complete"
            return TurnRow.of(m)

    async def delete_turn(self, reply_id: int) -> TurnRow | None:
        """Remove a reply and the user message it answered from history (rows kept as `deleted`).

        In a group scene several replies answer one message (*everyone* mode, several named):
        the message stays while another reply that is not deleted still answers it.
        """
        async with self.sessions.begin() as s:
            m = await s.get(Message, reply_id)
            if m is None:
                return None
            m.status = "deleted"
            await s.flush()
            if m.reply_to is not None:
                other = aliased(Message)
                still_answered = exists().where(other.reply_to == m.reply_to, other.id != m.id,
                                                other.role == "assistant", other.status != "deleted")
                await s.execute(update(Message).where(Message.id == m.reply_to, ~still_answered)
                                .values(status="deleted"))
            return TurnRow.of(m)

    async def latest_user_id(self, conversation_id: int) -> int | None:
        """The newest message a person wrote that is part of the story (or on its way to be)."""
        async with self.sessions() as s:
            return await s.scalar(
                select(func.max(Message.id)).where(
                    Message.conversation_id == conversation_id, Message.role == "user",
                    Message.status.in_((*IN_HISTORY, "pending")),
                )
            )

    async def by_discord_id(self, discord_message_id: int) -> TurnRow | None:
        async with self.sessions() as s:
            link = await s.get(MessageLink, discord_message_id)
            if link is None:
                return None
            m = await s.get(Message, link.message_id)
            return TurnRow.of(m) if m else None

    async def recover_interrupted(self) -> list[Settled]:
        """At start-up: settle the turns left in flight by a previous run of this process's shards,
        or by any process that stopped renewing its lease. Returns the settled replies.

        Turns another live process is writing (other shards) are left alone. A reply left
        `streaming` goes back to what it was before: a regenerate falls back to its previous swipe
        and a continue to the text it continued (stored text is only ever a finished reply), so a
        crash loses no earlier reply; a reply with text keeps it as `cut`; a new reply with none
        becomes `failed`. `pending` user turns stay in history.
        """
        now = utcnow()
        async with self.sessions.begin() as s:
            mine = self.owner.shard_ids if self.owner is not None else ()
            others = (await s.execute(select(ProcessRow.id, ProcessRow.shard_ids).where(
                ProcessRow.expires_at > now, ProcessRow.id != (self._owner_id or 0)))).all()
            live = [pid for pid, shards in others if not overlaps(mine, shards)]
            ours = or_(Message.owner_id.is_(None), Message.owner_id.not_in(live)) if live else true()
            rows = (await s.execute(
                select(Message, Conversation.channel_id, Conversation.guild_id, Conversation.character_name,
                       Conversation.archived)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(Message.status == "streaming", ours)
            )).all()
            # A new reply's messages are linked as they appear (`link`) and only copied onto the
            # reply when it ends: read them back, so the rewrite finds what the crash left on screen.
            linked: dict[int, list[int]] = {}
            unlinked = [m.id for m, *_ in rows if not m.discord_ids]
            if unlinked:
                for discord_id, message_id in (await s.execute(
                    select(MessageLink.discord_message_id, MessageLink.message_id)
                    .where(MessageLink.message_id.in_(unlinked)).order_by(MessageLink.discord_message_id)
                )).all():
                    linked.setdefault(message_id, []).append(discord_id)
            settled = []
            for m, channel_id, guild_id, character_name, archived in rows:
                if m.id in linked:
                    m.discord_ids = linked[m.id]
                swipes = [w for w in (m.swipes or []) if w.strip()]
                if m.content.strip():
                    m.status = "cut"
                elif swipes:
                    m.swipes, m.swipe_index, m.content, m.status = swipes, len(swipes) - 1, swipes[-1], "complete"
                else:
                    m.status = "failed"
                m.tokens = estimate(m.content)
                m.owner_id = None
                settled.append(Settled(TurnRow.of(m), channel_id, guild_id, character_name, bool(archived)))
            await s.execute(update(Message).where(Message.status == "pending", ours)
                            .values(status="complete", owner_id=None).execution_options(synchronize_session=False))
            return settled

    async def forget_discord_message(self, discord_message_id: int) -> TurnRow | None:
        """A message was deleted in Discord: a user's message leaves history; a reply only loses the link.

        Replies stay in history because the bot deletes and replaces its own messages too
        (shorter rewrites, reposts); a reply leaves history through its delete button.
        """
        async with self.sessions.begin() as s:
            link = await s.get(MessageLink, discord_message_id)
            if link is None:
                return None
            m = await s.get(Message, link.message_id)
            await s.delete(link)
            if m is None:
                return None
            if m.role == "user":
                m.status = "deleted"
            else:
                m.discord_ids = [i for i in (m.discord_ids or []) if int(i) != discord_message_id]
            return TurnRow.of(m)

    async def touch(self, conversation_id: int) -> None:
        async with self.sessions.begin() as s:
            await s.execute(update(Conversation).where(Conversation.id == conversation_id).values(updated_at=utcnow()))


def _reply_row_only(reply_id: int, values: dict[str, Any], *, asked_status: str,
                    asked_ids: list[int] | None) -> dict[str, Any]:
    """SET clauses for one UPDATE of a reply and the user turn it answers: the reply's new values on
    its own row; on the user turn only its status (when still pending) and the message showing it."""
    columns = Message.__table__.c
    out: dict[str, Any] = {}
    for key, value in values.items():
        column = columns[key]
        mine = literal(value, column.type)
        if key == "status":
            out[key] = case((Message.id == reply_id, mine), (column == "pending", literal(asked_status, column.type)),
                            else_=column)
        elif key == "discord_ids" and asked_ids is not None:
            out[key] = case((Message.id == reply_id, mine), else_=literal(asked_ids, column.type))
        else:
            out[key] = case((Message.id == reply_id, mine), else_=column)
    return out


def _upsert_links(dialect: str) -> Any:
    """INSERT … ON CONFLICT DO UPDATE for message links (a message shown again keeps one row), to
    execute with the rows as parameters: unlike a multi-row `.values(rows)`, it has a cache key, so
    SQLAlchemy compiles it once rather than on every turn."""
    stmt = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(MessageLink)
    return stmt.on_conflict_do_update(
        index_elements=[MessageLink.discord_message_id],
        set_={"message_id": stmt.excluded.message_id, "channel_id": stmt.excluded.channel_id},
    )


def _lore_update(conversation_id: int, state: dict[str, Any], fired: list[str] | None) -> Any:
    values: dict[str, Any] = {"lore_state": state}
    if fired is not None:
        values["lore_fired"] = list(fired)
    return update(Conversation).where(Conversation.id == conversation_id).values(**values)


def export_rows(conv: Conversation, turns: list[TurnRow]) -> dict[str, Any]:
    """A plain dict of a conversation for export and privacy files."""
    return {
        "id": conv.id, "channel_id": conv.channel_id, "character": conv.character_name, "title": conv.title,
        "summary": conv.summary, "created_at": conv.created_at.isoformat(),
        "messages": [
            {"id": t.id, "role": t.role, "author": t.author_name, "content": t.content, "swipes": t.swipes,
             "status": t.status}
            for t in turns
        ],
    }
