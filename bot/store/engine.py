"""The async engine factory: one engine per process, with SQLite tuned for a bot's write pattern."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.config import sqlite_path

WAL_WAIT = 0.05
WAL_TRIES = 100  # × WAL_WAIT: how long a new database's switch to WAL may wait for another process


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Foreign keys are off by default in SQLite and are set per connection. WAL lets readers and one
    # writer work at once; NORMAL sync is durable across application crashes in WAL mode.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    _use_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _use_wal(cursor: Any) -> None:
    """Switch the file to WAL once (it stays so). Two processes opening a new database together
    both try; SQLite answers the loser "database is locked" at once, without waiting in the busy
    handler, so it retries briefly (only ever on a file that is not WAL yet)."""
    for attempt in range(WAL_TRIES):
        try:
            cursor.execute("PRAGMA journal_mode")
            if str(cursor.fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as exc:  # the driver's OperationalError, however its adapter wraps it
            if "locked" not in str(exc) or attempt == WAL_TRIES - 1:
                raise
            time.sleep(WAL_WAIT)  # a connect callback is synchronous; this happens once per new file


def _rollback_if_open(dbapi_connection: Any, _record: Any, state: Any) -> None:
    """The pool's reset on return, for SQLite: roll back only a connection still in a transaction.

    SQLAlchemy's default sends a ROLLBACK on every return, even after a COMMIT; with aiosqlite each
    is a round trip to its worker thread (5 of a chat turn's 44). SQLite itself says whether a
    transaction is open, so a returned connection is never left in one, and the others cost nothing.
    """
    if state.terminate_only or not state.asyncio_safe or state.transaction_was_reset:
        return
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is None or getattr(driver, "in_transaction", True):  # unknown: roll back, as before
        dbapi_connection.rollback()


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Create the engine for `url`; SQLite files get their folder created and the pragmas above."""
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 15}, pool_reset_on_return=None)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine.pool, "reset", _rollback_if_open)
    else:
        engine = create_async_engine(url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True)
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
