"""Serialising a check-then-write across processes, and inserts that never race.

`serialize(session, *keys)` must be the first statement of a transaction. On PostgreSQL it takes
transaction-scoped advisory locks (`pg_advisory_xact_lock`), released at commit or rollback, so
only transactions about the same user (or server, or queue) wait for each other. SQLite has one
writer at a time anyway: `BEGIN IMMEDIATE` takes the write lock before the reads, so no other
connection (thread or process) can write between this transaction's check and its insert.

`insert_for(session, Model)` gives the dialect's INSERT with `on_conflict_do_nothing/update`
(both dialects spell them the same), for rows created on demand: a get-then-add would race.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def lock_id(key: str) -> int:
    """A stable signed 64-bit advisory lock id for `key` (the same in every process)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


async def serialize(session: AsyncSession, *keys: str) -> None:
    """Hold the locks for `keys` (in the order given) until this transaction ends.

    Callers that take several keys always take them in the same order (server before user), so
    two transactions can never wait for each other in a circle.
    """
    conn = await session.connection()
    if conn.dialect.name == "postgresql":
        if keys:
            calls = ", ".join(f"pg_advisory_xact_lock(:k{i})" for i in range(len(keys)))
            await conn.execute(text(f"SELECT {calls}"), {f"k{i}": lock_id(k) for i, k in enumerate(keys)})
    elif conn.dialect.name == "sqlite":
        # The driver has not begun a transaction yet (nothing ran on this connection): begin one
        # that holds the write lock from the start. busy_timeout makes others wait, not fail.
        await conn.exec_driver_sql("BEGIN IMMEDIATE")


def insert_for(session: AsyncSession, model: Any) -> Any:
    """INSERT for `model` with ON CONFLICT support, in the session's dialect."""
    bind = session.bind
    name = bind.dialect.name if bind is not None else "sqlite"
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(model)
