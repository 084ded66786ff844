"""Image records: the parameters of every image the bot made, and their lineage.

A record is written (status "pending") once a request has passed every check and is about to
queue, so a request that fails later is marked "failed" rather than lost. The pixels are never
stored: the record holds what is needed to make the image again or to find its message.

Statuses: pending → done | failed | cancelled; done → deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.models import ImageRecord, utcnow

PENDING, DONE, FAILED, CANCELLED, DELETED = "pending", "done", "failed", "cancelled", "deleted"
# Lineage is walked parent by parent; a cap keeps a corrupt cycle from looping forever.
MAX_LINEAGE = 50


@dataclass(frozen=True, slots=True)
class NewImage:
    """The parameters of an image about to be generated."""

    user_id: int
    guild_id: int | None
    channel_id: int
    kind: str
    user_prompt: str
    prompt: str
    negative: str
    model: str
    style: str | None
    seed: int | None
    width: int
    height: int
    steps: int | None
    character_ref: str | None = None
    parent_id: int | None = None


async def create(sessions: async_sessionmaker[AsyncSession], new: NewImage) -> int:
    """Store a pending record and return its id."""
    async with sessions.begin() as session:
        row = ImageRecord(
            user_id=new.user_id, guild_id=new.guild_id, channel_id=new.channel_id, kind=new.kind,
            user_prompt=new.user_prompt, prompt=new.prompt, negative=new.negative, model=new.model,
            style=new.style, seed=new.seed, width=new.width, height=new.height, steps=new.steps,
            character_ref=new.character_ref, parent_id=new.parent_id, status=PENDING,
        )
        session.add(row)
        await session.flush()
        return row.id


async def get(sessions: async_sessionmaker[AsyncSession], image_id: int) -> ImageRecord | None:
    """The record, detached from its session (plain attribute reads only)."""
    async with sessions() as session:
        return await session.get(ImageRecord, image_id)


async def mark_done(
    sessions: async_sessionmaker[AsyncSession], image_id: int, *,
    message_id: int | None, width: int, height: int,
) -> None:
    """The image was posted: remember its message and the size Venice actually made."""
    await _set(sessions, image_id, status=DONE, discord_message_id=message_id, width=width, height=height)


async def mark_failed(sessions: async_sessionmaker[AsyncSession], image_id: int) -> None:
    await _set(sessions, image_id, status=FAILED)


async def mark_cancelled(sessions: async_sessionmaker[AsyncSession], image_id: int) -> None:
    await _set(sessions, image_id, status=CANCELLED)


async def mark_deleted(sessions: async_sessionmaker[AsyncSession], image_id: int) -> None:
    """The message is gone; the parameters stay so the lineage of its children stays whole."""
    await _set(sessions, image_id, status=DELETED)


async def _set(sessions: async_sessionmaker[AsyncSession], image_id: int, **values: object) -> None:
    async with sessions.begin() as session:
        await session.execute(update(ImageRecord).where(ImageRecord.id == image_id).values(**values))


async def lineage(sessions: async_sessionmaker[AsyncSession], image_id: int) -> list[ImageRecord]:
    """The record and its ancestors, newest first (a reroll's parent, that one's parent, …)."""
    chain: list[ImageRecord] = []
    seen: set[int] = set()
    async with sessions() as session:
        current: int | None = image_id
        while current is not None and current not in seen and len(chain) < MAX_LINEAGE:
            row = await session.get(ImageRecord, current)
            if row is None:
                break
            chain.append(row)
            seen.add(current)
            current = row.parent_id
    return chain


async def latest_in_channel(
    sessions: async_sessionmaker[AsyncSession], channel_ids: list[int]
) -> ImageRecord | None:
    """The newest posted (not deleted) image in any of these channels, for `/seed lock`."""
    async with sessions() as session:
        return await session.scalar(
            select(ImageRecord)
            .where(ImageRecord.channel_id.in_(channel_ids), ImageRecord.status == DONE)
            .order_by(ImageRecord.id.desc())
            .limit(1)
        )


async def expire_pending(sessions: async_sessionmaker[AsyncSession], older_than: timedelta) -> int:
    """Mark requests left pending by a crashed process as failed; returns how many.

    Interaction tokens die after 15 minutes, so nothing older than that can still be delivered;
    the cut-off is kept above it so a slow but live request in another process is never touched.
    """
    cutoff: datetime = utcnow() - older_than
    async with sessions.begin() as session:
        result = await session.execute(
            update(ImageRecord)
            .where(ImageRecord.status == PENDING, ImageRecord.created_at < cutoff)
            .values(status=FAILED)
        )
        return int(result.rowcount or 0)


async def count_by_status(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """How many records have each status (for `/privacy`-style summaries, tests and benches)."""
    async with sessions() as session:
        rows = await session.execute(select(ImageRecord.status, func.count()).group_by(ImageRecord.status))
        return {status: int(n) for status, n in rows.all()}
