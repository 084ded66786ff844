"""Custom characters in the database: the whole card as V3 JSON, plus owner, server and avatar.

The card JSON is written with the same mapping the card exporter uses (`card_to_object`), so a
character created in Discord, imported from a file, edited and exported again loses nothing
(unknown card fields live in `Character.card_extra` and go back out untouched).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Text, cast, func, or_, select, text
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.characters.cards_json import SPEC_V3, CardError, card_from_object, card_to_object
from bot.characters.model import Character
from bot.store.models import CharacterRow, Usage, utcnow

NAME_LIMIT = 200


@dataclass(frozen=True, slots=True)
class CharacterSummary:
    """What pickers need: no card body, so autocomplete stays a light query."""

    id: int
    name: str
    owner_id: int
    guild_id: int | None
    shared: bool

    @property
    def ref(self) -> str:
        return f"custom:{self.id}"


@dataclass(frozen=True, slots=True)
class Storage:
    """What one person's characters take: how many, and their stored bytes (card JSON + avatar)."""

    characters: int
    bytes: int


# The card is stored as JSON text (ASCII: the serializer escapes the rest), so its length is its size.
_ROW_BYTES = func.length(cast(CharacterRow.card, Text)) + func.coalesce(func.length(CharacterRow.avatar_png), 0)
# Advisory-lock class for "one owner's characters" (PostgreSQL's two-key form, its own key space).
_OWNER_LOCK_CLASS = 0x4C43
IMPORT_KIND = "card import"


async def lock_owner(session: AsyncSession, owner_id: int) -> None:
    """Serialise writers of one owner's characters until the transaction ends, across processes.

    PostgreSQL: a transaction-level advisory lock. SQLite (one process): a first write takes the
    database's write lock, so the counting that follows sees every earlier writer's rows.
    """
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:c, :o)"),
                              {"c": _OWNER_LOCK_CLASS, "o": owner_id % 2**31})
    else:
        await session.execute(sql_update(CharacterRow).where(CharacterRow.owner_id == owner_id)
                              .values(owner_id=CharacterRow.owner_id))


async def storage_of(session: AsyncSession, owner_id: int) -> Storage:
    """How many characters `owner_id` has and how many bytes they take."""
    count, size = (await session.execute(
        select(func.count(), func.coalesce(func.sum(_ROW_BYTES), 0)).where(CharacterRow.owner_id == owner_id)
    )).one()
    return Storage(int(count or 0), int(size or 0))


async def storage(sessions: async_sessionmaker[AsyncSession], owner_id: int) -> Storage:
    async with sessions() as session:
        return await storage_of(session, owner_id)


async def book_import(sessions: async_sessionmaker[AsyncSession], owner_id: int, guild_id: int | None,
                      wait: Callable[[datetime | None, datetime], float], kind: str = IMPORT_KIND) -> float:
    """Record a card import by `owner_id` unless `wait(last import, now)` says to wait; returns the
    seconds left to wait (0 when booked). Atomic per owner, so simultaneous imports book one."""
    async with sessions.begin() as session:
        await lock_owner(session, owner_id)
        last = await session.scalar(
            select(func.max(Usage.created_at)).where(Usage.user_id == owner_id, Usage.kind == kind))
        now = utcnow()
        left = wait(last if last is None or last.tzinfo else last.replace(tzinfo=now.tzinfo), now)
        if left <= 0:
            session.add(Usage(user_id=owner_id, guild_id=guild_id, kind=kind))
        return left


def card_of(character: Character) -> dict[str, object]:
    """The JSON stored for a character (a V3 card object)."""
    return card_to_object(character, spec=SPEC_V3)


def character_of(row: CharacterRow) -> Character:
    """Rebuild the Character from its stored card; the row adds id and avatar URL."""
    try:
        character = card_from_object(row.card)
    except CardError:
        # A stored card that no longer parses (older writer, manual edit) still plays by name.
        character = Character(name=row.name)
    character.id = row.id
    character.avatar_url = row.avatar_url
    character.source = "custom"
    return character


def may_use(row: CharacterRow | CharacterSummary, *, user_id: int, guild_id: int | None) -> bool:
    """Own characters go everywhere; shared ones are usable by anyone in the server they belong to."""
    if row.owner_id == user_id:
        return True
    return bool(row.shared) and guild_id is not None and row.guild_id == guild_id


def may_manage(row: CharacterRow, *, user_id: int, guild_id: int | None, server_admin: bool) -> bool:
    """Edit or delete: the owner, or someone with Manage Server for a character shared in that server."""
    if row.owner_id == user_id:
        return True
    return server_admin and guild_id is not None and row.guild_id == guild_id


async def create(
    sessions: async_sessionmaker[AsyncSession],
    character: Character,
    *,
    owner_id: int,
    guild_id: int | None,
    shared: bool,
    avatar_url: str | None = None,
    avatar_png: bytes | None = None,
    room: Callable[[Storage], None] | None = None,
) -> int:
    """Store a new custom character and return its id.

    `room` sees the owner's storage, with other writers of this owner held off, and raises to
    refuse: so a cap holds even when many creations arrive at once.
    """
    async with sessions.begin() as session:
        if room is not None:
            await lock_owner(session, owner_id)
            room(await storage_of(session, owner_id))
        row = CharacterRow(
            owner_id=owner_id, guild_id=guild_id, shared=shared, name=character.name[:NAME_LIMIT],
            card=card_of(character), avatar_url=avatar_url, avatar_png=avatar_png,
        )
        session.add(row)
        await session.flush()
        return int(row.id)


async def update(
    sessions: async_sessionmaker[AsyncSession],
    character_id: int,
    character: Character,
    *,
    shared: bool | None = None,
    avatar: tuple[str | None, bytes | None] | None = None,
    room: Callable[[Storage, tuple[int, int]], None] | None = None,
) -> bool:
    """Replace a character's card (and sharing, and avatar when given). False if it is gone.

    `room` sees the owner's storage and this character's current (card, avatar) bytes, with
    other writers of this owner held off, and raises to refuse the change.
    """
    async with sessions.begin() as session:
        row = await session.get(CharacterRow, character_id)
        if row is None:
            return False
        if room is not None:
            await lock_owner(session, row.owner_id)
            sizes = (await session.execute(
                select(func.length(cast(CharacterRow.card, Text)),
                       func.coalesce(func.length(CharacterRow.avatar_png), 0)).where(CharacterRow.id == character_id)
            )).one()
            room(await storage_of(session, row.owner_id), (int(sizes[0] or 0), int(sizes[1] or 0)))
        row.name = character.name[:NAME_LIMIT]
        row.card = card_of(character)
        if shared is not None:
            row.shared = shared
        if avatar is not None:
            row.avatar_url, row.avatar_png = avatar
        return True


async def get(sessions: async_sessionmaker[AsyncSession], character_id: int) -> CharacterRow | None:
    async with sessions() as session:
        return await session.get(CharacterRow, character_id)


async def delete(sessions: async_sessionmaker[AsyncSession], character_id: int) -> bool:
    """Remove a character. Conversations keep their own copy of its name, so they stay readable."""
    async with sessions.begin() as session:
        row = await session.get(CharacterRow, character_id)
        if row is None:
            return False
        await session.delete(row)
        return True


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def _summaries(
    sessions: async_sessionmaker[AsyncSession], visible: ColumnElement[bool], *, user_id: int, search: str, limit: int
) -> list[CharacterSummary]:
    query = select(
        CharacterRow.id, CharacterRow.name, CharacterRow.owner_id, CharacterRow.guild_id, CharacterRow.shared
    ).where(visible)
    needle = search.strip().lower()
    if needle:
        query = query.where(func.lower(CharacterRow.name).like(f"%{_escape_like(needle)}%", escape="\\"))
    # Own characters first, then by name, so a user finds theirs at the top.
    query = query.order_by((CharacterRow.owner_id != user_id), func.lower(CharacterRow.name)).limit(limit)
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    return [CharacterSummary(int(i), n, int(o), g, bool(s)) for i, n, o, g, s in rows]


async def usable(
    sessions: async_sessionmaker[AsyncSession],
    *,
    user_id: int,
    guild_id: int | None,
    search: str = "",
    limit: int = 25,
) -> list[CharacterSummary]:
    """Characters this user may pick here (their own, then the server's shared ones), by name."""
    visible: ColumnElement[bool] = CharacterRow.owner_id == user_id
    if guild_id is not None:
        visible = or_(visible, CharacterRow.shared.is_(True) & (CharacterRow.guild_id == guild_id))
    return await _summaries(sessions, visible, user_id=user_id, search=search, limit=limit)


async def manageable(
    sessions: async_sessionmaker[AsyncSession],
    *,
    user_id: int,
    guild_id: int | None,
    server_admin: bool,
    search: str = "",
    limit: int = 25,
) -> list[CharacterSummary]:
    """Characters this user may edit or delete: their own, and for admins the server's characters."""
    visible: ColumnElement[bool] = CharacterRow.owner_id == user_id
    if server_admin and guild_id is not None:
        visible = or_(visible, CharacterRow.guild_id == guild_id)
    return await _summaries(sessions, visible, user_id=user_id, search=search, limit=limit)


async def set_voice(sessions: async_sessionmaker[AsyncSession], character_id: int, *, model: str | None,
                    voice: str | None) -> bool:
    """The character's TTS model and voice (None, None: back to the server's default voice)."""
    async with sessions.begin() as session:
        result = await session.execute(sql_update(CharacterRow).where(CharacterRow.id == character_id)
                                       .values(tts_model=model, tts_voice=voice))
        return bool(result.rowcount)  # type: ignore[attr-defined]


async def voice_of(sessions: async_sessionmaker[AsyncSession], character_id: int) -> tuple[str, str] | None:
    """(model, voice) chosen for the character, or None (it has no voice of its own)."""
    async with sessions() as session:
        row = (await session.execute(select(CharacterRow.tts_model, CharacterRow.tts_voice)
                                     .where(CharacterRow.id == character_id))).first()
    if row is None or not row.tts_voice:
        return None
    return (row.tts_model or "tts-kokoro", row.tts_voice)
