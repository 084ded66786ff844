"""`python -m bot` as an operator meets it: real subprocesses, a clean environment, no `.env`.

Every failure must be one line on stderr that names the setting and says how to fix it, with a
non-zero exit code, no traceback, and never a secret (DESIGN §2). The working directory is a fresh
temporary folder, so no `.env` is read and the default SQLite path lands there.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import DISCORD_TOKEN, VENICE_KEY
from tests.e2e import Result, clean_env, run_cli, secrets_in
from tests.fakes.venice import FakeVenice, Fault

SECRETS = {"DISCORD_TOKEN": DISCORD_TOKEN, "VENICE_API_KEY": VENICE_KEY}
PG_PASSWORD = "pg-s3cret-pw-0123456789"


def assert_one_clean_line(result: Result, *, names: str) -> str:
    """Non-zero, exactly one line on stderr naming `names`, no traceback, no secret anywhere."""
    assert result.code != 0, result
    assert "Traceback" not in result.output, result.err
    assert len(result.err_lines) == 1, f"expected one line, got:\n{result.err}"
    line = result.err_lines[0]
    assert names in line, line
    assert secrets_in(result.output, SECRETS) == []
    return line


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    # A .env in the working directory is what a careless operator leaves around; it must be the
    # only way settings come in besides the environment, and here there is none.
    assert not (path / ".env").exists()
    return path


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


# ---------------------------------------------------------------- settings


async def test_run_without_a_discord_token(workdir: Path) -> None:
    result = await run_cli("run", env=clean_env(), cwd=workdir)
    line = assert_one_clean_line(result, names="DISCORD_TOKEN")
    assert "Developer Portal" in line  # says how to fix it
    assert result.out == ""


async def test_run_without_a_venice_key(workdir: Path) -> None:
    result = await run_cli("run", env=clean_env(DISCORD_TOKEN=DISCORD_TOKEN), cwd=workdir)
    assert "venice.ai" in assert_one_clean_line(result, names="VENICE_API_KEY")


@pytest.mark.parametrize(("name", "value"), [
    ("DATABASE_URL", "not a url"),
    ("DATABASE_URL", "mysql://bot:pw@127.0.0.1/lustify"),
    ("LOG_FORMAT", "xml"),
    ("LOG_LEVEL", "LOUD"),
    ("DISCORD_API_BASE", "ftp://127.0.0.1/api"),
    ("VENICE_BASE_URL", "venice.ai"),
    ("SHARD_COUNT", "two"),
    ("SHARD_IDS", "0,1"),  # without SHARD_COUNT
    ("DISCORD_TOKEN", "has spaces in it"),
])
async def test_malformed_setting(workdir: Path, name: str, value: str) -> None:
    env = clean_env(DISCORD_TOKEN=DISCORD_TOKEN, VENICE_API_KEY=VENICE_KEY) | {name: value}
    result = await run_cli("run", env=env, cwd=workdir)
    assert_one_clean_line(result, names=name)
    assert not (workdir / "data").exists()  # nothing was created on the way to the error


async def test_unreachable_database(workdir: Path) -> None:
    url = f"postgresql+asyncpg://postgres:{PG_PASSWORD}@127.0.0.1:1/x"
    env = clean_env(DISCORD_TOKEN=DISCORD_TOKEN, VENICE_API_KEY=VENICE_KEY, DATABASE_URL=url)
    result = await run_cli("run", env=env, cwd=workdir)
    line = assert_one_clean_line(result, names="DATABASE_URL")
    assert "127.0.0.1:1" in line
    assert PG_PASSWORD not in result.output


# ---------------------------------------------------------------- check


@pytest.fixture
async def venice() -> AsyncIterator[FakeVenice]:
    async with FakeVenice(api_key=VENICE_KEY) as fake:
        yield fake


async def check(workdir: Path, venice: FakeVenice, *args: str, **extra: str) -> Result:
    env = clean_env(VENICE_API_KEY=VENICE_KEY, VENICE_BASE_URL=venice.base_url,
                    DATABASE_URL=sqlite_url(workdir / "lustify.db"), **extra)
    return await run_cli("check", *args, env=env, cwd=workdir)


async def test_check_reports_the_models(workdir: Path, venice: FakeVenice) -> None:
    result = await check(workdir, venice)
    assert result.code == 0, result
    assert "venice-uncensored-1-2" in result.out and "lustify-sdxl" in result.out
    assert "Venice key accepted" in result.out
    assert "does not exist yet" in result.out and "migrate" in result.out  # says what to do
    assert not (workdir / "lustify.db").exists()  # and a check creates nothing
    assert secrets_in(result.output, SECRETS) == []
    assert "Traceback" not in result.output
    # Read-only: the check looked at the catalogue and created nothing.
    assert {r.path for r in venice.requests} == {"/models"}
    assert venice.violations == []


async def test_check_on_a_fresh_checkout_with_the_default_database(workdir: Path, venice: FakeVenice) -> None:
    # What a new operator runs first: no data/ folder yet, DATABASE_URL left at its default.
    env = clean_env(VENICE_API_KEY=VENICE_KEY, VENICE_BASE_URL=venice.base_url)
    result = await run_cli("check", env=env, cwd=workdir)
    assert result.code == 0, result.output
    assert "data/lustify.db does not exist yet" in result.out
    assert not (workdir / "data").exists()


async def test_check_after_migrate_reports_the_schema(workdir: Path, venice: FakeVenice) -> None:
    env = clean_env(DATABASE_URL=sqlite_url(workdir / "lustify.db"))
    assert (await run_cli("migrate", env=env, cwd=workdir)).code == 0
    result = await check(workdir, venice)
    assert result.code == 0, result.output
    assert "✓ database" in result.out and "(schema " in result.out


async def test_check_names_a_model_venice_does_not_offer(workdir: Path, venice: FakeVenice) -> None:
    result = await check(workdir, venice, TEXT_MODEL="no-such-model")
    assert result.code != 0
    assert "TEXT_MODEL=no-such-model" in result.out
    assert "Traceback" not in result.output


async def test_check_with_a_refused_key(workdir: Path) -> None:
    async with FakeVenice(api_key="a-different-key-0123456789") as other:
        result = await check(workdir, other)
    assert result.code != 0
    assert "VENICE_API_KEY" in result.out and "refused" in result.out
    assert "Traceback" not in result.output
    assert secrets_in(result.output, SECRETS) == []
    # The key went out only as the Authorization header, where it belongs.
    assert all(r.headers.get("Authorization") == f"Bearer {VENICE_KEY}" for r in other.requests)


async def test_check_against_a_venice_that_answers_garbage(workdir: Path, venice: FakeVenice) -> None:
    venice.inject("/models", Fault.of("garbage", times=10))
    result = await check(workdir, venice)
    assert result.code != 0
    venice_lines = [line for line in result.out.splitlines() if line.startswith("✗")]
    assert len(venice_lines) == 1, result.out
    assert "Traceback" not in result.output and secrets_in(result.output, SECRETS) == []


async def test_check_against_a_venice_that_hangs(workdir: Path, venice: FakeVenice) -> None:
    venice.inject("/models", Fault.hang(seconds=120, times=10))
    started = time.monotonic()
    result = await check(workdir, venice, "--timeout", "1.5")
    assert time.monotonic() - started < 10  # 1.5 s, retried once, plus start-up
    assert result.code != 0
    venice_lines = [line for line in result.out.splitlines() if line.startswith("✗")]
    assert len(venice_lines) == 1, result.out
    assert "too long" in venice_lines[0], venice_lines[0]
    assert "Traceback" not in result.output and secrets_in(result.output, SECRETS) == []


async def test_check_with_an_unreachable_database(workdir: Path, venice: FakeVenice) -> None:
    url = f"postgresql+asyncpg://postgres:{PG_PASSWORD}@127.0.0.1:1/x"
    env = clean_env(VENICE_API_KEY=VENICE_KEY, VENICE_BASE_URL=venice.base_url, DATABASE_URL=url)
    result = await run_cli("check", env=env, cwd=workdir)
    assert result.code != 0
    assert "database" in result.out and PG_PASSWORD not in result.output
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- migrate


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


async def test_migrate_up_then_down_to_base(workdir: Path) -> None:
    db = workdir / "nested" / "lustify.db"
    env = clean_env(DATABASE_URL=sqlite_url(db))
    up = await run_cli("migrate", env=env, cwd=workdir)
    assert up.code == 0, up.err
    assert "up to date" in up.out
    assert {"conversations", "messages", "images", "user_flags", "alembic_version"} <= tables(db)

    again = await run_cli("migrate", env=env, cwd=workdir)
    assert again.code == 0 and "up to date" in again.out

    down = await run_cli("migrate", "--down", "base", env=env, cwd=workdir)
    assert down.code == 0, down.err
    assert "downgraded to base" in down.out
    assert tables(db) <= {"alembic_version"}
    for result in (up, again, down):
        assert "Traceback" not in result.output


async def test_migrate_uses_the_default_path_in_the_working_directory(workdir: Path) -> None:
    result = await run_cli("migrate", env=clean_env(), cwd=workdir)
    assert result.code == 0, result.err
    assert (workdir / "data" / "lustify.db").is_file()


async def test_migrate_down_to_an_unknown_revision(workdir: Path) -> None:
    env = clean_env(DATABASE_URL=sqlite_url(workdir / "lustify.db"))
    assert (await run_cli("migrate", env=env, cwd=workdir)).code == 0
    result = await run_cli("migrate", "--down", "nonsense", env=env, cwd=workdir)
    assert result.code != 0 and "Traceback" not in result.output
    # Alembic's progress lines may come first; the verdict is one line and names the revision,
    # not the database (which opened fine).
    verdicts = [line for line in result.err_lines if line.startswith("lustify:")]
    assert verdicts == [result.err_lines[-1]]
    assert "'nonsense'" in verdicts[0] and "cannot open" not in verdicts[0]
