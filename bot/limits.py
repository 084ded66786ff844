"""Cooldowns, daily quotas (count and USD) and concurrency, checked and reserved in one step.

`Limits.acquire` admits one piece of work: under a per-user lock (and a per-server lock when the
server has a spending cap) it inserts a usage row in state `reserved` only if every limit still
allows it, in one INSERT … SELECT … WHERE. A reservation counts like a finished call against the
daily quotas, the cooldown, the concurrency limit and the USD caps (at an estimated cost) from
that moment, so simultaneous requests cannot all pass a check made before any of them is booked.
`record` replaces the estimate with what Venice reported (the row becomes `running`), `release`
ends the work (`done`), or, if Venice never answered, takes the reservation back: a failure uses
up nothing. A refusal says which limit and when it resets.

Cost on the hot path: acquire = settings read (skipped when the caller passes `config`, or cached
by the settings store) + lock + INSERT … SELECT; record = one UPDATE; release = one UPDATE or
DELETE (5 statements, 4 with `config`). A caller whose last call is followed at once by its release
(a chat turn) records it `at_release`: the booking then rides on the release's UPDATE (3). Only a
refusal runs one more SELECT, to say which limit it was.

Concurrency counts `reserved`/`running` rows whose owner process is alive (`bot.store.processes`),
so a crashed process's slots free once its lease runs out (within 45 s); rows without an owner
(tools, tests) fall back to `RUNNING_TTL`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import discord
from sqlalchemy import BigInteger, Float, Integer, String, and_, delete, exists, func, literal, null, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import LimitReached
from bot.settings import Resolved, SettingsStore
from bot.store.locks import serialize
from bot.store.models import Usage, When, utcnow
from bot.store.processes import Process, alive

# How many jobs of a kind one user may have running at once, across all processes.
CONCURRENCY = {"chat": 2, "image": 2, "upscale": 1, "tts": 1, "asr": 1}
RUNNING_TTL = timedelta(minutes=30)  # backstop for work whose release never came (no owner)
QUOTA_KEYS = {"chat": "daily_messages", "image": "daily_images", "upscale": "daily_images", "tts": "daily_voice",
              "asr": "daily_voice"}
# Speech (tts: a reply read aloud) and hearing (asr: a voice message transcribed) have no cooldown
# of their own: the chat turn a voice message starts has the chat's.
COOLDOWN_KEYS = {"chat": "chat_cooldown", "image": "image_cooldown", "upscale": "image_cooldown", "tts": None,
                 "asr": None}
QUOTA_GROUPS = {"image": ("image", "upscale"), "upscale": ("image", "upscale"), "tts": ("tts", "asr"),
                "asr": ("tts", "asr")}
LIMIT_KEYS = ["chat_cooldown", "image_cooldown", "daily_messages", "daily_images", "daily_voice", "daily_usd",
              "server_daily_usd"]
# What a call is assumed to cost until Venice says, when the caller has no estimate and the user
# made no such call today (then their average today is used): a chat turn of a few thousand tokens.
DEFAULT_ESTIMATE_USD = {"chat": 0.002, "image": 0.01, "upscale": 0.01, "tts": 0.002, "asr": 0.002}
USD_SLACK = 1e-9  # float sums such as 5 × 0.01 must not refuse the call that exactly fits
RESERVED, RUNNING, DONE = "reserved", "running", "done"


@dataclass(frozen=True, slots=True)
class Ticket:
    """One admitted piece of work; `lease_id` is its usage row."""

    lease_id: int
    user_id: int
    guild_id: int | None
    kind: str


@dataclass(frozen=True, slots=True)
class Caps:
    """The limits that apply to one request, as plain numbers (0 = none)."""

    cooldown: int
    quota: int
    user_usd: float
    server_usd: float
    concurrency: int

    @classmethod
    def of(cls, cfg: dict[str, Resolved], kind: str, guild_id: int | None) -> Caps:
        server_usd = float(cfg["server_daily_usd"].value or 0) if guild_id is not None else 0.0
        cooldown_key = COOLDOWN_KEYS.get(kind, "chat_cooldown")
        return cls(
            cooldown=int(cfg[cooldown_key].value or 0) if cooldown_key is not None else 0,
            quota=int(cfg[QUOTA_KEYS.get(kind, "daily_messages")].value or 0),
            user_usd=float(cfg["daily_usd"].value or 0),
            server_usd=server_usd,
            concurrency=CONCURRENCY.get(kind, 1),
        )


def day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _resets(now: datetime) -> str:
    return discord.utils.format_dt(day_start(now) + timedelta(days=1), "R")


@dataclass(frozen=True, slots=True)
class _Request:
    user_id: int
    guild_id: int | None
    kind: str
    caps: Caps
    estimate_usd: float | None
    now: datetime

    @property
    def since(self) -> datetime:
        return day_start(self.now)

    @property
    def group(self) -> tuple[str, ...]:
        return QUOTA_GROUPS.get(self.kind, (self.kind,))


class Limits:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: SettingsStore, *,
                 owner: Process | None = None) -> None:
        self.sessions = sessions
        self.settings = settings
        self.owner = owner
        # Tickets this process holds: lease id -> recorded yet (True, False, or the usage values
        # `release` books, see `record(at_release=)`). `record` without a ticket books onto the
        # ticket acquired in the same task (the chat engine books what the cog acquired).
        self._open: dict[int, bool | dict[str, Any]] = {}
        self._current: contextvars.ContextVar[Ticket | None] = contextvars.ContextVar(
            f"limits-ticket-{id(self)}", default=None)
        # SQLite has one writer: acquisitions of this process take turns here instead of spinning
        # in SQLite's busy handler (which sleeps up to 100 ms a try); other processes still wait
        # on the file lock. PostgreSQL's per-user locks need no such queue.
        bind = sessions.kw.get("bind")
        self._one_writer = asyncio.Lock() if bind is not None and bind.dialect.name == "sqlite" else None

    async def acquire(
        self, *, user_id: int, guild_id: int | None, channel_id: int | None, kind: str, parent_id: int | None = None,
        estimate_usd: float | None = None, config: dict[str, Resolved] | None = None,
    ) -> Ticket:
        """Check cooldown, quotas, USD caps and concurrency for `kind` and reserve, atomically.

        Raises LimitReached (nothing reserved). `estimate_usd` is what the call will cost, when the
        caller knows (images); `config` the already-resolved settings, to skip reading them.
        """
        cfg = config or await self.settings.resolve_all(
            guild_id=guild_id, channel_id=channel_id, parent_id=parent_id, keys=LIMIT_KEYS)
        request = _Request(user_id, guild_id, kind, Caps.of(cfg, kind, guild_id), estimate_usd, utcnow())
        keys = [f"limits:user:{user_id}"]
        if request.caps.server_usd > 0:
            keys.insert(0, f"limits:guild:{guild_id}")  # always server before user: no lock cycles
        async with self._one_writer or contextlib.nullcontext(), self.sessions.begin() as session:
            await serialize(session, *keys)
            lease_id = await session.scalar(self._reserve(request))
            if lease_id is None:
                raise LimitReached(await self._refusal(session, request))
        ticket = Ticket(int(lease_id), user_id, guild_id, kind)
        self._open[ticket.lease_id] = False
        self._current.set(ticket)
        return ticket

    async def record(
        self, *, user_id: int, guild_id: int | None, kind: str,
        prompt_tokens: int = 0, completion_tokens: int = 0, cost_usd: float = 0.0, ticket: Ticket | None = None,
        at_release: bool = False,
    ) -> None:
        """Book one billed Venice call: onto its reservation (`ticket`, or the one this task
        acquired for the same user and kind), else as a call of its own (summaries, scenes).

        `at_release`: the reservation's call is over and `release` follows (a chat turn): the
        booking is written by `release`, in the UPDATE that ends the work, instead of now. Until
        then the reservation counts at its estimate; if the process dies first, it stays booked
        at the estimate (as an unrecorded reservation does).
        """
        ticket = ticket or self._current.get()
        values = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "cost_usd": cost_usd}
        onto_reservation = (ticket is not None and ticket.user_id == user_id and ticket.kind == kind
                            and self._open.get(ticket.lease_id) is False)
        if at_release and onto_reservation:
            assert ticket is not None
            self._open[ticket.lease_id] = {"user_id": user_id, "guild_id": guild_id, "kind": kind, **values}
            return
        async with self.sessions.begin() as session:
            if onto_reservation:
                assert ticket is not None
                self._open[ticket.lease_id] = True
                result = await session.execute(
                    update(Usage).where(Usage.id == ticket.lease_id).values(state=RUNNING, **values))
                if result.rowcount:  # type: ignore[attr-defined]
                    return
            session.add(Usage(user_id=user_id, guild_id=guild_id, kind=kind, state=DONE, **values))

    async def release(self, ticket: Ticket | None) -> None:
        """The work is over: a booked call stays as usage, an unbooked reservation is taken back."""
        if ticket is None:
            return
        if self._current.get() is ticket:
            self._current.set(None)
        recorded = self._open.pop(ticket.lease_id, None)
        # Shielded: a cancelled task (shutdown, the user's stop) must still give its slot back.
        await asyncio.shield(self._release(ticket.lease_id, recorded))

    async def _release(self, lease_id: int, recorded: bool | dict[str, Any] | None) -> None:
        async with self.sessions.begin() as session:
            if isinstance(recorded, dict):  # booked at release: the call's usage and the end, one UPDATE
                values = {k: recorded[k] for k in ("prompt_tokens", "completion_tokens", "cost_usd")}
                result = await session.execute(update(Usage).where(Usage.id == lease_id, Usage.state == RESERVED)
                                               .values(state=DONE, **values))
                if not result.rowcount:  # type: ignore[attr-defined]  # the reservation is gone: book it anew
                    session.add(Usage(state=DONE, **recorded))
                return
            if recorded is not True:
                await session.execute(delete(Usage).where(Usage.id == lease_id, Usage.state == RESERVED))
            if recorded is not False:
                await session.execute(update(Usage).where(Usage.id == lease_id, Usage.state == RUNNING)
                                      .values(state=DONE))

    # -- the statements ---------------------------------------------------------------------------

    def _estimate(self, r: _Request) -> Any:
        if r.estimate_usd is not None:
            return literal(float(r.estimate_usd), Float)
        average = select(func.avg(Usage.cost_usd)).where(
            Usage.user_id == r.user_id, Usage.kind == r.kind, Usage.state != RESERVED, Usage.created_at >= r.since,
        ).scalar_subquery()
        return func.coalesce(average, literal(DEFAULT_ESTIMATE_USD.get(r.kind, 0.0), Float))

    def _measures(self, r: _Request) -> dict[str, Any]:
        """Scalar subqueries for everything a limit is checked against, under the lock."""
        u = Usage
        return {
            "last": select(func.max(u.created_at)).where(
                u.user_id == r.user_id, u.kind == r.kind, u.created_at > r.now - timedelta(seconds=r.caps.cooldown),
            ).scalar_subquery(),
            "used": select(func.count()).select_from(u).where(
                u.user_id == r.user_id, u.kind.in_(r.group), u.created_at >= r.since).scalar_subquery(),
            "user_spent": select(func.coalesce(func.sum(u.cost_usd), 0.0)).where(
                u.user_id == r.user_id, u.created_at >= r.since).scalar_subquery(),
            "server_spent": select(func.coalesce(func.sum(u.cost_usd), 0.0)).where(
                u.guild_id == r.guild_id, u.created_at >= r.since).scalar_subquery(),
            "running": select(func.count()).select_from(u).where(
                u.user_id == r.user_id, u.kind == r.kind, u.state.in_((RESERVED, RUNNING)),
                u.created_at > r.now - RUNNING_TTL, alive(u.owner_id, r.now),
            ).scalar_subquery(),
        }

    def _reserve(self, r: _Request) -> Any:
        """INSERT the reservation only if every limit allows it; RETURNING its id (none: refused)."""
        caps, m, estimate = r.caps, self._measures(r), self._estimate(r)
        conditions = [m["running"] < caps.concurrency]
        if caps.cooldown > 0:
            conditions.append(~exists().where(
                Usage.user_id == r.user_id, Usage.kind == r.kind,
                Usage.created_at > r.now - timedelta(seconds=caps.cooldown)))
        if caps.quota > 0:
            conditions.append(m["used"] < caps.quota)
        if caps.user_usd > 0:
            conditions += [m["user_spent"] < caps.user_usd, m["user_spent"] + estimate <= caps.user_usd + USD_SLACK]
        if caps.server_usd > 0:
            conditions += [m["server_spent"] < caps.server_usd,
                           m["server_spent"] + estimate <= caps.server_usd + USD_SLACK]
        owner = self.owner.id if self.owner is not None else None
        values = select(
            literal(r.user_id, BigInteger), literal(r.guild_id, BigInteger) if r.guild_id is not None else null(),
            literal(r.kind, String), literal(0, Integer), literal(0, Integer), estimate, literal(r.now, When),
            literal(RESERVED, String), literal(owner, BigInteger) if owner is not None else null(),
        ).where(and_(*conditions))
        columns = ["user_id", "guild_id", "kind", "prompt_tokens", "completion_tokens", "cost_usd", "created_at",
                   "state", "owner_id"]
        return Usage.__table__.insert().from_select(columns, values).returning(Usage.id)  # type: ignore[attr-defined]

    async def _refusal(self, session: AsyncSession, r: _Request) -> str:
        """Which limit said no, in words (the refusal path only: one more SELECT)."""
        m = self._measures(r)
        row = (await session.execute(select(*(v.label(k) for k, v in m.items()), self._estimate(r).label("est")))
               ).one()
        caps, now = r.caps, r.now
        if caps.cooldown > 0 and row.last is not None:
            last = row.last if row.last.tzinfo else row.last.replace(tzinfo=now.tzinfo)
            wait = max(1.0, caps.cooldown - (now - last).total_seconds())
            return f"Cooldown: you can do that again in {wait:.0f} s (server limit: one every {caps.cooldown} s)."
        if caps.quota > 0 and row.used >= caps.quota:
            noun = {"image": "images", "upscale": "images", "tts": "voice messages", "asr": "voice messages"}.get(
                r.kind, "chat replies")
            return f"You've used your {caps.quota} {noun} for today; the quota resets {_resets(now)}."
        if caps.user_usd > 0 and _over(float(row.user_spent), float(row.est), caps.user_usd):
            return f"You've reached today's spending limit of ${caps.user_usd:.2f}; it resets {_resets(now)}."
        if caps.server_usd > 0 and _over(float(row.server_spent), float(row.est), caps.server_usd):
            return (f"This server has reached today's spending limit of ${caps.server_usd:.2f}; "
                    f"it resets {_resets(now)}.")
        noun = {"chat": "replies", "tts": "voice messages", "asr": "voice messages"}.get(r.kind, "images")
        return (f"You already have {row.running} {noun} in progress; wait for one to finish "
                f"(limit {caps.concurrency}).")


def _over(spent: float, estimate: float, cap: float) -> bool:
    """The USD check of `_reserve`, in Python: spent already, or would be with this call."""
    return spent >= cap or spent + estimate > cap + USD_SLACK
