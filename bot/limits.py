"""Cooldowns, daily quotas and concurrency, counted in the database so they hold across processes.

`Limits.acquire` checks everything for one piece of work and takes a lease; `release` gives it back
and `record` books what Venice reported it cost. A refusal says which limit and when it resets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import discord
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import LimitReached
from bot.settings import SettingsStore
from bot.store.models import Lease, Usage, utcnow

# How many jobs of a kind one user may have running at once, across all processes.
CONCURRENCY = {"chat": 2, "image": 2, "upscale": 1}
LEASE_TTL = timedelta(minutes=10)  # a crashed process's leases expire on their own
PURGE_EVERY = 200  # acquisitions between two purges of expired leases
QUOTA_KEYS = {"chat": "daily_messages", "image": "daily_images", "upscale": "daily_images"}
COOLDOWN_KEYS = {"chat": "chat_cooldown", "image": "image_cooldown", "upscale": "image_cooldown"}


@dataclass(frozen=True, slots=True)
class Ticket:
    lease_id: int
    user_id: int
    guild_id: int | None
    kind: str


def day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _resets(now: datetime) -> str:
    return discord.utils.format_dt(day_start(now) + timedelta(days=1), "R")


class Limits:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: SettingsStore) -> None:
        self.sessions = sessions
        self.settings = settings
        self._acquired = 0

    async def acquire(
        self, *, user_id: int, guild_id: int | None, channel_id: int | None, kind: str, parent_id: int | None = None
    ) -> Ticket:
        """Check cooldown, quotas and concurrency for `kind`, then hold a lease; raises LimitReached."""
        cfg = await self.settings.resolve_all(guild_id=guild_id, channel_id=channel_id, parent_id=parent_id)
        now = utcnow()
        # Reads first, one INSERT last: on SQLite only one writer runs at a time, and this sits in
        # front of an interaction's 3-second deadline, so the write must be as short as possible.
        # Expired leases (a crashed process's) are ignored here and purged now and then.
        async with self.sessions() as session:
            cooldown = int(cfg[COOLDOWN_KEYS.get(kind, "chat_cooldown")].value)
            await self._check_cooldown(session, user_id, kind, cooldown, now)
            await self._check_quotas(session, user_id, guild_id, kind, cfg, now)
            running = await session.scalar(
                select(func.count()).select_from(Lease).where(
                    Lease.user_id == user_id, Lease.kind == kind, Lease.expires_at > now
                )
            )
        allowed = CONCURRENCY.get(kind, 1)
        if (running or 0) >= allowed:
            noun = "replies" if kind == "chat" else "images"
            raise LimitReached(
                f"You already have {running} {noun} in progress; wait for one to finish (limit {allowed})."
            )
        async with self.sessions.begin() as session:
            lease = Lease(user_id=user_id, guild_id=guild_id, kind=kind, expires_at=now + LEASE_TTL)
            session.add(lease)
            await session.flush()
            ticket = Ticket(lease.id, user_id, guild_id, kind)
        self._acquired += 1
        if self._acquired % PURGE_EVERY == 0:
            await self.purge_expired()
        return ticket

    async def purge_expired(self) -> None:
        """Drop leases whose process died without releasing them."""
        async with self.sessions.begin() as session:
            await session.execute(delete(Lease).where(Lease.expires_at < utcnow()))

    async def _check_cooldown(
        self, session: AsyncSession, user_id: int, kind: str, seconds: int, now: datetime
    ) -> None:
        if seconds <= 0:
            return
        last = await session.scalar(
            select(func.max(Usage.created_at)).where(Usage.user_id == user_id, Usage.kind == kind)
        )
        if last is not None:
            last = last if last.tzinfo else last.replace(tzinfo=now.tzinfo)
            wait = seconds - (now - last).total_seconds()
            if wait > 0:
                raise LimitReached(
                    f"Cooldown: you can do that again in {wait:.0f} s (server limit: one every {seconds} s)."
                )

    async def _check_quotas(self, session: AsyncSession, user_id: int, guild_id: int | None, kind: str,
                            cfg: dict, now: datetime) -> None:
        since = day_start(now)
        quota = int(cfg[QUOTA_KEYS.get(kind, "daily_messages")].value or 0)
        if quota > 0:
            kinds = ("image", "upscale") if kind in ("image", "upscale") else (kind,)
            used = await session.scalar(
                select(func.count()).select_from(Usage).where(
                    Usage.user_id == user_id, Usage.kind.in_(kinds), Usage.created_at >= since
                )
            )
            if (used or 0) >= quota:
                noun = "images" if kind in ("image", "upscale") else "chat replies"
                raise LimitReached(f"You've used your {quota} {noun} for today; the quota resets {_resets(now)}.")
        user_usd = float(cfg["daily_usd"].value or 0)
        if user_usd > 0:
            spent = await session.scalar(
                select(func.coalesce(func.sum(Usage.cost_usd), 0.0)).where(
                    Usage.user_id == user_id, Usage.created_at >= since
                )
            )
            if float(spent or 0) >= user_usd:
                raise LimitReached(
                    f"You've reached today's spending limit of ${user_usd:.2f}; it resets {_resets(now)}."
                )
        server_usd = float(cfg["server_daily_usd"].value or 0)
        if server_usd > 0 and guild_id is not None:
            spent = await session.scalar(
                select(func.coalesce(func.sum(Usage.cost_usd), 0.0)).where(
                    Usage.guild_id == guild_id, Usage.created_at >= since
                )
            )
            if float(spent or 0) >= server_usd:
                raise LimitReached(
                    f"This server has reached today's spending limit of ${server_usd:.2f}; it resets {_resets(now)}."
                )

    async def release(self, ticket: Ticket | None) -> None:
        if ticket is None:
            return
        async with self.sessions.begin() as session:
            await session.execute(delete(Lease).where(Lease.id == ticket.lease_id))

    async def record(
        self, *, user_id: int, guild_id: int | None, kind: str,
        prompt_tokens: int = 0, completion_tokens: int = 0, cost_usd: float = 0.0,
    ) -> None:
        """Book one billed Venice call."""
        async with self.sessions.begin() as session:
            session.add(Usage(
                user_id=user_id, guild_id=guild_id, kind=kind, prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens, cost_usd=cost_usd,
            ))
