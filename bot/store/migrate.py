"""Run Alembic migrations from inside the bot (or a test) without blocking or breaking the loop.

Migrations run on their own engine, without the application's pragma listener, and SQLite's
foreign keys are switched off while tables are rebuilt: batch mode drops and recreates a table, and
with enforcement on, ON DELETE CASCADE would empty its children (reference/testing.md §5).

Several processes may start at once on one database (shards). Upgrades are serialised: on
PostgreSQL by an advisory lock held around the whole upgrade, on SQLite by taking the write lock
(`BEGIN IMMEDIATE`) before Alembic reads the current revision, with the upgrade in that one
transaction. The second process waits, then finds the schema current and does nothing.
Failures say which step failed: reaching the database (`DatabaseUnreachable`) or upgrading it
(`UpgradeFailed`, with the revision it stays at).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.config import sqlite_path
from bot.store.locks import lock_id

ROOT = Path(__file__).resolve().parents[2]
MIGRATION_LOCK = lock_id("lustify:migrations")
SQLITE_WAIT = 300  # seconds another process may hold the file during its upgrade


class MigrationError(Exception):
    """The database could not be brought to the schema this code needs."""


class DatabaseUnreachable(MigrationError):
    """Connecting failed: the URL, the server or the file is the problem."""


class UpgradeFailed(MigrationError):
    """Connected, but the upgrade itself failed (and was rolled back where the database can)."""

    def __init__(self, reason: str, *, revision: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.revision = revision


def alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["skip_logging_config"] = True
    return cfg


def _run(sync_conn: Connection, cfg: Config, action: str, target: str) -> None:
    cfg.attributes["connection"] = sync_conn
    if action == "upgrade":
        command.upgrade(cfg, target)
    else:
        command.downgrade(cfg, target)


async def migrate(url: str, *, action: str = "upgrade", target: str = "head") -> None:
    """Upgrade (or downgrade) the database at `url` to `target`, one process at a time.

    Raises DatabaseUnreachable, UpgradeFailed, or Alembic's CommandError (an unknown revision).
    """
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    cfg = alembic_config(url)
    engine = _engine(url)
    try:
        try:
            conn = await engine.connect()
        except Exception as exc:
            raise DatabaseUnreachable(_reason(exc)) from exc
        try:
            await _locked_run(conn, cfg, action, target)
        finally:
            await conn.close()
    finally:
        await engine.dispose()


def _engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        return create_async_engine(url, connect_args={"timeout": SQLITE_WAIT})
    return create_async_engine(url)


async def _locked_run(conn: AsyncConnection, cfg: Config, action: str, target: str) -> None:
    is_sqlite = conn.dialect.name == "sqlite"
    is_postgres = conn.dialect.name == "postgresql"
    if is_sqlite:
        await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # outside any transaction, or it is ignored
        await conn.exec_driver_sql("BEGIN IMMEDIATE")  # waits (SQLITE_WAIT) while another process upgrades
    elif is_postgres:
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
        await conn.commit()  # the lock is the session's; Alembic runs its own transaction
    try:
        await conn.run_sync(_run, cfg, action, target)
        await conn.commit()
    except CommandError:
        await conn.rollback()
        raise
    except Exception as exc:
        await conn.rollback()
        revision = await _safe_current(conn)
        raise UpgradeFailed(_reason(exc), revision=revision) from exc
    finally:
        if is_postgres:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
            await conn.commit()
    if is_sqlite:
        broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).fetchall()
        if broken:
            raise UpgradeFailed(f"foreign key check failed after migration: {len(broken)} rows", revision=None)
        await conn.exec_driver_sql("PRAGMA foreign_keys=ON")


async def _safe_current(conn: AsyncConnection) -> str | None:
    try:
        return await conn.run_sync(_current)
    except Exception:
        return None


def _reason(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _current(sync_conn: Connection) -> str | None:
    return MigrationContext.configure(sync_conn).get_current_revision()


async def current_revision(url: str) -> tuple[str | None, str | None]:
    """(revision in the database, newest revision in the code)."""
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_current), head
    finally:
        await engine.dispose()
