"""Standalone lorebooks in the database, and where they are attached.

A lorebook row holds the book as a `character_book` object (the card exporter's mapping, so
nothing of a SillyTavern world is lost: unknown fields ride in `extra`), its owner and its size.
Links attach a book to a conversation, a character, a server or a person's persona
(`LorebookLink.scope`), which the chat reads as SillyTavern's chat, character, global and persona lore.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.characters import lock_owner
from bot.store.models import CharacterRow, LorebookLink, LorebookRow, utcnow

SCOPES = ("conversation", "character", "server", "persona")


@dataclass(frozen=True, slots=True)
class LorebookSummary:
    """What lists and pickers show: no book body."""

    id: int
    name: str
    owner_id: int
    entries: int
    size: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Attached:
    """One attached book as a turn needs it: id, version, tier, and the name it goes by."""

    id: int
    name: str
    scope: str  # "conversation" | "character" | "server" | "persona" | "world" (the card's `extensions.world`)
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Storage:
    books: int
    bytes: int


def _summary(row: Any) -> LorebookSummary:
    return LorebookSummary(row.id, row.name, row.owner_id, row.entries, row.size, row.updated_at)


_SUMMARY = (LorebookRow.id, LorebookRow.name, LorebookRow.owner_id, LorebookRow.entries, LorebookRow.size,
            LorebookRow.updated_at)


async def storage(sessions: async_sessionmaker[AsyncSession], owner_id: int) -> Storage:
    async with sessions() as s:
        row = (await s.execute(select(func.count(), func.coalesce(func.sum(LorebookRow.size), 0))
                               .where(LorebookRow.owner_id == owner_id))).one()
    return Storage(int(row[0]), int(row[1]))


async def save(
    sessions: async_sessionmaker[AsyncSession], *, owner_id: int, guild_id: int | None, name: str,
    book: dict[str, Any], entries: int, size: int, room: Callable[[Storage, int], None],
) -> tuple[int, bool]:
    """Store a book under its owner's name for it, replacing a book of the same name (its links
    stay). `room(storage, replaced_size)` raises when the owner's caps would be passed; it is
    called inside the transaction, after the owner's lock. Returns (id, replaced)."""
    async with sessions() as s, s.begin():
        await lock_owner(s, owner_id)
        count, used = (await s.execute(select(func.count(), func.coalesce(func.sum(LorebookRow.size), 0))
                                       .where(LorebookRow.owner_id == owner_id))).one()
        existing = await s.scalar(select(LorebookRow).where(LorebookRow.owner_id == owner_id,
                                                            LorebookRow.name == name))
        room(Storage(int(count), int(used)), existing.size if existing is not None else -1)
        if existing is not None:
            existing.book, existing.entries, existing.size = book, entries, size
            existing.guild_id = guild_id if guild_id is not None else existing.guild_id
            existing.updated_at = utcnow()
            return existing.id, True
        row = LorebookRow(owner_id=owner_id, guild_id=guild_id, name=name, book=book, entries=entries, size=size)
        s.add(row)
        await s.flush()
        return row.id, False


async def get(sessions: async_sessionmaker[AsyncSession], lorebook_id: int) -> LorebookRow | None:
    async with sessions() as s:
        return await s.get(LorebookRow, lorebook_id)


async def books(sessions: async_sessionmaker[AsyncSession], ids: Iterable[int]) -> list[LorebookRow]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    async with sessions() as s:
        return list((await s.scalars(select(LorebookRow).where(LorebookRow.id.in_(wanted)))).all())


async def owned(sessions: async_sessionmaker[AsyncSession], owner_id: int, *, search: str = "",
                limit: int = 25) -> list[LorebookSummary]:
    """The owner's books, by name; `search` filters by a part of the name."""
    query = select(*_SUMMARY).where(LorebookRow.owner_id == owner_id)
    if search:
        query = query.where(func.lower(LorebookRow.name).contains(search.lower(), autoescape=True))
    async with sessions() as s:
        rows = (await s.execute(query.order_by(func.lower(LorebookRow.name)).limit(limit))).all()
    return [_summary(r) for r in rows]


async def by_name(sessions: async_sessionmaker[AsyncSession], owner_id: int, name: str) -> LorebookSummary | None:
    async with sessions() as s:
        row = (await s.execute(select(*_SUMMARY).where(
            LorebookRow.owner_id == owner_id, func.lower(LorebookRow.name) == name.strip().lower(),
        ).order_by(LorebookRow.id).limit(1))).first()
    return _summary(row) if row is not None else None


async def delete(sessions: async_sessionmaker[AsyncSession], lorebook_id: int) -> bool:
    """Delete a book and its links (the caller checked the right to)."""
    async with sessions() as s, s.begin():
        await s.execute(sql_delete(LorebookLink).where(LorebookLink.lorebook_id == lorebook_id))
        result = await s.execute(sql_delete(LorebookRow).where(LorebookRow.id == lorebook_id))
    return bool(result.rowcount)


async def attach(sessions: async_sessionmaker[AsyncSession], lorebook_id: int, scope: str, target: str, *,
                 guild_id: int | None, added_by: int | None) -> bool:
    """Attach a book; False when it already was attached there."""
    if scope not in SCOPES:
        raise ValueError(f"unknown lorebook scope {scope!r}")
    try:
        async with sessions() as s, s.begin():
            s.add(LorebookLink(lorebook_id=lorebook_id, scope=scope, target=target, guild_id=guild_id,
                               added_by=added_by))
    except IntegrityError:
        return False
    return True


async def detach(sessions: async_sessionmaker[AsyncSession], lorebook_id: int, scope: str, target: str) -> bool:
    async with sessions() as s, s.begin():
        result = await s.execute(sql_delete(LorebookLink).where(
            LorebookLink.lorebook_id == lorebook_id, LorebookLink.scope == scope, LorebookLink.target == target))
    return bool(result.rowcount)


async def link(sessions: async_sessionmaker[AsyncSession], lorebook_id: int, scope: str,
               target: str) -> LorebookLink | None:
    async with sessions() as s:
        return await s.scalar(select(LorebookLink).where(
            LorebookLink.lorebook_id == lorebook_id, LorebookLink.scope == scope, LorebookLink.target == target))


async def attached(sessions: async_sessionmaker[AsyncSession], places: list[tuple[str, str]], *,
                   world: tuple[int, str] | None = None) -> list[Attached]:
    """The books attached to any of `places` ((scope, target) pairs), oldest link first, and
    with `world` (owner, name) the owner's book of that name (a card's linked world). One query."""
    conditions = []
    if places:
        conditions.append(tuple_(LorebookLink.scope, LorebookLink.target).in_(places))
    out: list[Attached] = []
    async with sessions() as s:
        if conditions:
            rows = (await s.execute(
                select(LorebookRow.id, LorebookRow.name, LorebookLink.scope, LorebookRow.updated_at)
                .join(LorebookLink, LorebookLink.lorebook_id == LorebookRow.id)
                .where(or_(*conditions)).order_by(LorebookLink.id)
            )).all()
            out.extend(Attached(r[0], r[1], r[2], r[3]) for r in rows)
        if world is not None:
            row = (await s.execute(select(LorebookRow.id, LorebookRow.name, LorebookRow.updated_at).where(
                LorebookRow.owner_id == world[0], func.lower(LorebookRow.name) == world[1].strip().lower(),
            ).order_by(LorebookRow.id).limit(1))).first()
            if row is not None:
                out.append(Attached(row[0], row[1], "world", row[2]))
    return out


async def character_owner(sessions: async_sessionmaker[AsyncSession], character_id: int) -> int | None:
    async with sessions() as s:
        return await s.scalar(select(CharacterRow.owner_id).where(CharacterRow.id == character_id))


async def forget_persona(session: AsyncSession, user_id: int) -> int:
    """Privacy: every book attached to a person's persona, in the caller's transaction."""
    result = await session.execute(sql_delete(LorebookLink).where(
        LorebookLink.scope == "persona", LorebookLink.target == str(user_id)))
    return int(result.rowcount or 0)


async def forget_owner(session: AsyncSession, owner_id: int) -> int:
    """Privacy: delete every book of a person, with their links, in the caller's transaction."""
    ids = select(LorebookRow.id).where(LorebookRow.owner_id == owner_id)
    await session.execute(sql_delete(LorebookLink).where(LorebookLink.lorebook_id.in_(ids))
                          .execution_options(synchronize_session=False))
    result = await session.execute(sql_delete(LorebookRow).where(LorebookRow.owner_id == owner_id)
                                   .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)
