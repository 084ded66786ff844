"""Run Alembic migrations from inside the bot (or a test) without blocking or breaking the loop.

Migrations run on their own engine, without the application's pragma listener, and SQLite's
foreign keys are switched off while tables are rebuilt: batch mode drops and recreates a table, and
with enforcement on, ON DELETE CASCADE would empty its children (reference/testing.md §5).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from bot.config import sqlite_path

ROOT = Path(__file__).resolve().parents[2]


class MigrationError(Exception):
    """The database could not be brought to the schema this code needs."""


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
    """Upgrade (or downgrade) the database at `url` to `target`."""
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    cfg = alembic_config(url)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            is_sqlite = conn.dialect.name == "sqlite"
            if is_sqlite:
                await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await conn.run_sync(_run, cfg, action, target)
            await conn.commit()
            if is_sqlite:
                broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).fetchall()
                if broken:
                    raise MigrationError(f"foreign key check failed after migration: {len(broken)} rows")
                await conn.exec_driver_sql("PRAGMA foreign_keys=ON")
    finally:
        await engine.dispose()


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
