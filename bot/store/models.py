"""Database tables (SQLAlchemy 2 declarative). Discord ids are 64-bit integers.

Relationships are `lazy="raise"`: async code must load what it needs explicitly, so no query
happens by accident inside a hot path.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.store.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


Snowflake = BigInteger
# SQLite only makes INTEGER PRIMARY KEY an auto-increment rowid, so BigInteger keys use Integer there.
IdKey = BigInteger().with_variant(Integer(), "sqlite")
When = UTCDateTime()


class Setting(Base):
    """One server- or channel-level setting value; absent means "inherit"."""

    __tablename__ = "settings"
    __table_args__ = (UniqueConstraint("scope", "scope_id", "key", name="uq_settings_scope_key"),)

    id: Mapped[int] = mapped_column(IdKey, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))  # "guild" | "channel"
    scope_id: Mapped[int] = mapped_column(Snowflake)
    guild_id: Mapped[int | None] = mapped_column(Snowflake, index=True)
    key: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSON)
    updated_by: Mapped[int | None] = mapped_column(Snowflake)
    updated_at: Mapped[datetime] = mapped_column(When, default=utcnow, onupdate=utcnow)


class ChannelState(Base):
    """What users chose for a channel or thread: its character and its image seed."""

    __tablename__ = "channel_state"

    channel_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    guild_id: Mapped[int | None] = mapped_column(Snowflake, index=True)
    character_ref: Mapped[str | None] = mapped_column(String(120))
    seed: Mapped[int | None] = mapped_column(BigInteger)
    seed_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(When, default=utcnow, onupdate=utcnow)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_channel_active", "channel_id", "archived"),)

    id: Mapped[int] = mapped_column(IdKey, primary_key=True)
    channel_id: Mapped[int] = mapped_column(Snowflake)
    guild_id: Mapped[int | None] = mapped_column(Snowflake, index=True)
    character_ref: Mapped[str] = mapped_column(String(120))
    character_name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    summary_upto: Mapped[int | None] = mapped_column(BigInteger)  # last message id folded into summary
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int | None] = mapped_column(Snowflake)
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(When, default=utcnow, onupdate=utcnow)
    lore_fired: Mapped[Any] = mapped_column(JSON, default=list)
    # Lorebook timed effects, chat variables and the like (bot.characters.lore_state.LoreState).
    lore_state: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    # The Author's Note (`/conversation authorsnote`): {"text", "depth", "every"}; None: no note.
    author_note: Mapped[Any | None] = mapped_column(JSON, nullable=True)


class Message(Base):
    """One turn. Assistant turns keep every swipe; `content` is the swipe history uses."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        # Start-up recovery looks for the few turns still `pending` or `streaming`.
        Index("ix_messages_status", "status"),
    )

    id: Mapped[int] = mapped_column(IdKey, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))  # "user" | "assistant"
    author_id: Mapped[int | None] = mapped_column(Snowflake, index=True)
    author_name: Mapped[str] = mapped_column(String(200), default="")
    content: Mapped[str] = mapped_column(Text, default="")
    swipes: Mapped[Any] = mapped_column(JSON, default=list)
    swipe_index: Mapped[int] = mapped_column(Integer, default=0)
    # pending (user turn awaiting its reply) | streaming | complete | cut | failed | deleted
    status: Mapped[str] = mapped_column(String(16), default="complete")
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    discord_ids: Mapped[Any] = mapped_column(JSON, default=list)
    reply_to: Mapped[int | None] = mapped_column(BigInteger)  # the user turn this reply answers
    # In a group scene, the cast member who spoke this reply (`custom:12`, `venice:slug`…): swipes,
    # regenerate and continue ask the same character again even after a rename.
    speaker_ref: Mapped[str | None] = mapped_column(String(120))
    model: Mapped[str | None] = mapped_column(String(100))
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)
    # The process (`processes.id`) writing this turn while it is `pending`/`streaming`: start-up
    # recovery settles only its own process's work, or work whose owner stopped renewing its lease.
    owner_id: Mapped[int | None] = mapped_column(BigInteger)


class MessageLink(Base):
    """Discord message id → stored turn, so replies, edits and deletes in Discord find their turn."""

    __tablename__ = "message_links"

    discord_message_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int] = mapped_column(Snowflake)


class Cast(Base):
    """A conversation's group scene: how the next speaker is chosen and what that choice needs.

    `replies` counts the cast's replies (members' `spoke_at` refer to it, so "silent for how long"
    is a subtraction); `chained` counts character replies since the last user message (the cap).
    """

    __tablename__ = "casts"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    mode: Mapped[str] = mapped_column(String(16), default="natural")  # natural | round_robin | everyone
    last_speaker: Mapped[str | None] = mapped_column(String(120))
    last_position: Mapped[int | None] = mapped_column(Integer)
    replies: Mapped[int] = mapped_column(Integer, default=0)
    chained: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(When, default=utcnow, onupdate=utcnow)


class CastMember(Base):
    """One character in a conversation's cast, in cast order (`position`; gaps are fine)."""

    __tablename__ = "cast_members"
    __table_args__ = (
        UniqueConstraint("conversation_id", "character_ref", name="uq_cast_members_conversation_ref"),
        UniqueConstraint("conversation_id", "position", name="uq_cast_members_conversation_position"),
    )

    id: Mapped[int] = mapped_column(IdKey, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("casts.conversation_id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    character_ref: Mapped[str] = mapped_column(String(120))
    character_name: Mapped[str] = mapped_column(String(200))
    added_by: Mapped[int | None] = mapped_column(Snowflake, index=True)
    spoke_at: Mapped[int] = mapped_column(Integer, default=0)  # the cast's `replies` when it last spoke
    added_at: Mapped[datetime] = mapped_column(When, default=utcnow)


class CharacterRow(Base):
    """A custom character: the full card as JSON plus what Discord needs to show it."""

    __tablename__ = "characters"
    __table_args__ = (Index("ix_characters_guild_name", "guild_id", "name"),)

    id: Mapped[int] = mapped_column(IdKey, primary_key=True)
    owner_id: Mapped[int] = mapped_column(Snowflake, index=True)
    guild_id: Mapped[int | None] = mapped_column(Snowflake)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(200))
    card: Mapped[Any] = mapped_column(JSON)
    avatar_url: Mapped[str | None] = mapped_column(String(1000))
    avatar_png: Mapped[bytes | None] = mapped_column(LargeBinary)
    seed: Mapped[int | None] = mapped_column(BigInteger)
    # The character's voice (`/character voice`): a Venice TTS model and one of its voices.
    tts_model: Mapped[str | None] = mapped_column(String(64))
    tts_voice: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(When, default=utcnow, onupdate=utcnow)


class AvatarCopy(Base):
    """Where the bot keeps a custom character's picture so its Discord URL can be renewed: a
    message in the operator's storage channel, and the URL Discord gave for it last."""

    __tablename__ = "avatar_copies"

    character_id: Mapped[int] = mapped_column(ForeignKey("characters.id", ondelete="CASCADE"), primary_key=True,
                                              autoincrement=False)
    channel_id: Mapped[int] = mapped_column(Snowflake)
    message_id: Mapped[int] = mapped_column(Snowflake)
    url: Mapped[str] = mapped_column(String(2000))
    updated_at: Mapped[datetime] = mapped_column(When, default=utcnow, onupdate=utcnow)


class LorebookRow(Base):
    """A standalone lorebook (SillyTavern's world info) someone imported: the book as a
    `character_book` object, its owner and what it takes to store."""

    __tablename__ = "lorebooks"
    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_lorebooks_owner_name"),)

    id: Mapped[int] = mapped_column(IdKey, primary_key=True)
    owner_id: Mapped[int] = mapped_column(Snowflake)
    guild_id: Mapped[int | None] = mapped_column(Snowflake)  # where it was imported
    name: Mapped[str] = mapped_column(String(200))
    book: Mapped[Any] = mapped_column(JSON)
    entries: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[int] = mapped_column(Integer, default=0)  # bytes of the stored JSON
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(When, default=utcnow, onupdate=utcnow)


class LorebookLink(Base):
    """A lorebook attached to a conversation, a character, a server or a person's persona
    (SillyTavern's chat, character, global and persona lore). `target` is the conversation id,
    the character reference (`custom:12`), the server id or the person's user id, as text."""

    __tablename__ = "lorebook_links"
    __table_args__ = (
        UniqueConstraint("lorebook_id", "scope", "target", name="uq_lorebook_links_book_scope_target"),
        Index("ix_lorebook_links_scope_target", "scope", "target"),
    )

    id: Mapped[int] = mapped_column(IdKey, primary_key=True)
    lorebook_id: Mapped[int] = mapped_column(ForeignKey("lorebooks.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(16))  # "conversation" | "character" | "server" | "persona"
    target: Mapped[str] = mapped_column(String(120))
    guild_id: Mapped[int | None] = mapped_column(Snowflake)
    added_by: Mapped[int | None] = mapped_column(Snowflake)
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)


class Persona(Base):
    __tablename__ = "personas"

    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(When, default=utcnow, onupdate=utcnow)


class ImageRecord(Base):
    """Everything needed to redo an image: every button works from this row after a restart."""

    __tablename__ = "images"

    id: Mapped[int] = mapped_column(IdKey, primary_key=True)
    user_id: Mapped[int] = mapped_column(Snowflake, index=True)
    guild_id: Mapped[int | None] = mapped_column(Snowflake, index=True)
    channel_id: Mapped[int] = mapped_column(Snowflake)
    discord_message_id: Mapped[int | None] = mapped_column(Snowflake)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("images.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))  # imagine | reroll | edit | upscale | selfie | scene | alter
    user_prompt: Mapped[str] = mapped_column(Text, default="")
    prompt: Mapped[str] = mapped_column(Text)  # as sent to Venice
    negative: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str] = mapped_column(String(100))
    style: Mapped[str | None] = mapped_column(String(100))
    seed: Mapped[int | None] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer, default=1024)
    height: Mapped[int] = mapped_column(Integer, default=1024)
    steps: Mapped[int | None] = mapped_column(Integer)
    character_ref: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | failed | deleted
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)


class Usage(Base):
    """One billed Venice call, attributed to a user and server, for quotas and privacy export.

    A row is written when the call is admitted (`bot.limits`), as a reservation: `reserved` (cost
    is an estimate) until Venice reports what it cost, then `running` until the work is over
    (it holds one of the user's concurrency slots while its owner process is alive), then `done`.
    A call that fails before Venice answers takes its reservation back, so it uses up nothing.
    """

    __tablename__ = "usage"
    __table_args__ = (
        Index("ix_usage_user_created", "user_id", "created_at"),
        Index("ix_usage_guild_created", "guild_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(IdKey, primary_key=True)
    user_id: Mapped[int] = mapped_column(Snowflake)
    guild_id: Mapped[int | None] = mapped_column(Snowflake)
    kind: Mapped[str] = mapped_column(String(16))  # chat | image | upscale | summary | scene
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default="done", server_default="done")
    owner_id: Mapped[int | None] = mapped_column(BigInteger)  # the process that holds the reservation


class AuditEvent(Base):
    """Refusals and admin actions: who, where, when, which rule. Never the refused text."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_guild_created", "guild_id", "created_at"),)

    id: Mapped[int] = mapped_column(IdKey, primary_key=True)
    guild_id: Mapped[int | None] = mapped_column(Snowflake)
    channel_id: Mapped[int | None] = mapped_column(Snowflake)
    user_id: Mapped[int | None] = mapped_column(Snowflake, index=True)
    kind: Mapped[str] = mapped_column(String(32))  # refusal | admin | block | venice_flag
    rule: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)


class UserFlag(Base):
    """Per-user state kept across processes: DM unlock, safety strikes and blocks."""

    __tablename__ = "user_flags"

    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    dm_unlocked_at: Mapped[datetime | None] = mapped_column(When)
    strikes: Mapped[int] = mapped_column(Integer, default=0)
    strikes_since: Mapped[datetime | None] = mapped_column(When)
    blocked_until: Mapped[datetime | None] = mapped_column(When)
    # The person turned spoken replies off for themselves (`/voice replies off`).
    voice_off: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ProcessRow(Base):
    """A running bot process: its shards, and a lease on being alive that its heartbeat renews.

    Work in flight (streaming replies, usage reservations, image queue slots) names its process,
    so other processes can tell live work from what a crashed one left behind.
    """

    __tablename__ = "processes"

    id: Mapped[int] = mapped_column(IdKey, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))  # host:pid, for operators
    shard_ids: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)  # None: every shard
    shard_count: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(When, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(When, index=True)


class ImageSlot(Base):
    """One image request in the shared queue: waiting for a slot, or holding one (`running`)."""

    __tablename__ = "image_slots"

    id: Mapped[int] = mapped_column(IdKey, primary_key=True)  # order of arrival
    owner_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    user_id: Mapped[int] = mapped_column(Snowflake)
    guild_id: Mapped[int | None] = mapped_column(Snowflake)
    state: Mapped[str] = mapped_column(String(16), default="waiting")  # waiting | running
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)


class JobRun(Base):
    """When a periodic job (retention, purges) last ran, so one process runs it for all."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_run_at: Mapped[datetime] = mapped_column(When)
    owner_id: Mapped[int | None] = mapped_column(BigInteger)


class JudgeVerdict(Base):
    """The judge's answer for one content hash (text or image, with its context, policy version
    and model), so the same content is judged once. Holds no text and no user: only the hash."""

    __tablename__ = "judge_verdicts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex
    kind: Mapped[str] = mapped_column(String(8))  # text | image
    minor_sexual: Mapped[bool] = mapped_column(Boolean)
    real_person_sexual: Mapped[bool] = mapped_column(Boolean)
    confidence: Mapped[str] = mapped_column(String(8))  # low | medium | high
    reason: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)
