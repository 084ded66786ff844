"""Shared fixtures: a migrated database per test, the local fakes, and the production bot on them.

The database is a fresh SQLite file per test by default. With TEST_DATABASE_URL set to a
PostgreSQL URL (CI sets it), the same tests run against PostgreSQL, each in a database of its own.
Nothing here reaches the internet: Venice and Discord are local fakes on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import discord
import pytest
from sqlalchemy.engine import make_url

from bot.config import Env, Secret
from bot.store.migrate import migrate

SHARED = Path(__file__).resolve().parents[2] / "shared"
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
VENICE_KEY = "vk-test-0123456789abcdef-secret"
# Fake, but shaped like a Discord token so the redaction patterns are exercised; split so secret
# scanners do not mistake the literal for a leaked credential.
DISCORD_TOKEN = "MTAwMDAw" + "MDAwMDAwMDAwMDAw.GfakeX.fake-token-for-tests-0123456789abcdef"


def shared_file(*parts: str) -> Path:
    """A file from ../shared; tests that need one skip with a reason where it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not beside this checkout (../shared is provided on project machines)")
    return path


async def _admin(base: str) -> asyncpg.Connection:
    url = make_url(base)
    return await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password, database=url.database
    )


async def new_pg_database(base: str) -> tuple[str, str]:
    """A new, empty PostgreSQL database beside the test database: (its URL, its name)."""
    name = f"lustify_t_{uuid.uuid4().hex[:12]}"
    conn = await _admin(base)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(base).set(database=name).render_as_string(hide_password=False), name


async def drop_pg_database(base: str, name: str) -> None:
    conn = await _admin(base)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def empty_db_url(tmp_path: Path) -> AsyncIterator[str]:
    """A database with no schema yet (SQLite file, or a fresh PostgreSQL schema)."""
    if TEST_DATABASE_URL.startswith("postgresql"):
        url, name = await new_pg_database(TEST_DATABASE_URL)
        yield url
        await drop_pg_database(TEST_DATABASE_URL, name)
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'lustify.db'}"


@pytest.fixture
async def db_url(empty_db_url: str) -> str:
    """A database migrated to head by Alembic, as the bot's `run` does."""
    await migrate(empty_db_url)
    return empty_db_url


def make_settings(db_url: str, *, venice_base_url: str = "http://127.0.0.1:9/api/v1",
                  discord_api_base: str | None = None, **overrides: object) -> Env:
    values: dict[str, object] = {
        "discord_token": Secret(DISCORD_TOKEN),
        "venice_api_key": Secret(VENICE_KEY),
        "database_url": db_url,
        "venice_base_url": venice_base_url,
        "discord_api_base": discord_api_base,
    }
    values.update(overrides)
    return Env(**values)  # type: ignore[arg-type]


@pytest.fixture
async def fake_venice() -> AsyncIterator[object]:
    from tests.fakes.venice import FakeVenice

    fake = FakeVenice(api_key=VENICE_KEY)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def fake_discord(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[object]:
    from tests.fakes.discord import FakeDiscord

    fake = FakeDiscord()
    base = await fake.start()
    monkeypatch.setattr(discord.http.Route, "BASE", base)
    yield fake
    await fake.close()


@pytest.fixture
def settings(db_url: str, fake_venice: object, fake_discord: object) -> Env:
    return make_settings(
        db_url, venice_base_url=fake_venice.base_url, discord_api_base=discord.http.Route.BASE  # type: ignore[attr-defined]
    )


@pytest.fixture
async def bot(settings: Env) -> AsyncIterator[object]:
    """The production bot, logged in to the fake Discord (no gateway), with every cog loaded."""
    from bot.client import make_bot

    b = make_bot(settings)
    await b.login(DISCORD_TOKEN)
    yield b
    await b.close()
    await asyncio.sleep(0)
