"""Revision 0006 up and down with data in place, and what a failed upgrade says."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from bot.store.engine import make_engine
from bot.store.migrate import alembic_config, current_revision, migrate
from tests.e2e import clean_env, run_cli

pytestmark = pytest.mark.postgres
WORDS = "Alice whispers the password swordfish"


async def execute(url: str, *statements: str) -> list[tuple]:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            result = None
            for statement in statements:
                result = await conn.execute(text(statement))
            return list(result.all()) if result is not None and result.returns_rows else []
    finally:
        await engine.dispose()


async def tables_and_columns(url: str) -> dict[str, set[str]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda c: {t: {col["name"] for col in inspect(c).get_columns(t)}
                                                  for t in inspect(c).get_table_names()})
    finally:
        await engine.dispose()


async def test_0006_up_rewrites_titles_and_down_and_up_again_keep_the_rows(empty_db_url: str) -> None:
    await migrate(empty_db_url, target="0001")
    await execute(
        empty_db_url,
        "INSERT INTO conversations (id, channel_id, character_ref, character_name, title, summary, archived, "
        f"created_at, updated_at, lore_fired) VALUES (1, 5, 'builtin:scarlett', 'Scarlett', '{WORDS[:60]}', '', "
        "false, '2026-03-05 14:07:00+00:00', '2026-03-05 14:07:00+00:00', '[]')",
        "INSERT INTO messages (id, conversation_id, role, author_name, content, swipes, swipe_index, status, "
        "tokens, discord_ids, created_at) VALUES (1, 1, 'user', 'Alice', 'hi', '[]', 0, 'streaming', 1, '[]', "
        "'2026-03-05 14:07:00+00:00')",
        "INSERT INTO usage (id, user_id, kind, prompt_tokens, completion_tokens, cost_usd, created_at) "
        "VALUES (1, 7, 'chat', 1, 1, 0.01, '2026-03-05 14:07:00+00:00')",
        "INSERT INTO leases (id, user_id, kind, expires_at) VALUES (1, 7, 'chat', '2026-03-05 14:17:00+00:00')",
    )

    await migrate(empty_db_url)

    [(title,)] = await execute(empty_db_url, "SELECT title FROM conversations")
    assert title == "Conversation of 5 Mar 2026, 14:07 UTC"  # nobody's words any more
    assert await execute(empty_db_url, "SELECT state, owner_id, cost_usd FROM usage") == [("done", None, 0.01)]
    assert await execute(empty_db_url, "SELECT status, owner_id FROM messages") == [("streaming", None)]
    schema = await tables_and_columns(empty_db_url)
    assert {"processes", "image_slots", "job_runs"} <= set(schema) and "leases" not in schema

    await migrate(empty_db_url, action="downgrade", target="0001")
    schema = await tables_and_columns(empty_db_url)
    assert "leases" in schema and "state" not in schema["usage"] and "owner_id" not in schema["messages"]
    assert "processes" not in schema
    assert await execute(empty_db_url, "SELECT count(*) FROM usage") == [(1,)]

    await migrate(empty_db_url)
    head = ScriptDirectory.from_config(alembic_config(empty_db_url)).get_current_head()
    assert (await current_revision(empty_db_url))[0] == head  # 0006, or a later head
    assert await execute(empty_db_url, "SELECT count(*) FROM messages") == [(1,)]


async def test_a_failed_upgrade_says_it_failed_not_that_the_database_cannot_be_opened(
    empty_db_url: str, tmp_path: Path,
) -> None:
    # Someone created a table by hand: the database opens fine, the upgrade cannot create it.
    await execute(empty_db_url, "CREATE TABLE audit_events (id INTEGER PRIMARY KEY)")

    result = await run_cli("migrate", env=clean_env(DATABASE_URL=empty_db_url), cwd=tmp_path)

    assert result.code == 1
    [line] = result.err_lines[-1:]
    assert line.startswith("lustify: migrate: upgrading the database schema at ") and "audit_events" in line
    assert "cannot open" not in line and "it has no schema yet" in line
    assert "Traceback" not in result.err  # the one line is all
