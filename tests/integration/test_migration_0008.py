"""Revision 0008 (lorebooks, lorebook links, Author's Notes, avatar copies) up and down with data in place."""

from __future__ import annotations

import pytest

from bot.store.migrate import current_revision, migrate
from tests.integration.test_migration_0006 import execute, tables_and_columns

pytestmark = pytest.mark.postgres


async def test_0008_adds_the_lorebook_tables_and_down_keeps_the_rest(empty_db_url: str) -> None:
    await migrate(empty_db_url, target="0007")
    await execute(
        empty_db_url,
        "INSERT INTO conversations (id, channel_id, character_ref, character_name, title, summary, archived, "
        "created_at, updated_at, lore_fired) VALUES (1, 5, 'builtin:scarlett', 'Scarlett', 'Conversation', '', "
        "false, '2026-03-05 14:07:00+00:00', '2026-03-05 14:07:00+00:00', '[]')",
    )
    await migrate(empty_db_url, target="0008")
    assert (await current_revision(empty_db_url))[0] == "0008"
    schema = await tables_and_columns(empty_db_url)
    assert {"lorebooks", "lorebook_links", "avatar_copies"} <= set(schema)
    assert "author_note" in schema["conversations"]
    await execute(
        empty_db_url,
        "INSERT INTO lorebooks (id, owner_id, name, book, entries, size, created_at, updated_at) VALUES "
        "(1, 7, 'Eldoria', '{}', 4, 10, '2026-03-05 14:07:00+00:00', '2026-03-05 14:07:00+00:00')",
        "INSERT INTO lorebook_links (id, lorebook_id, scope, target, created_at) VALUES "
        "(1, 1, 'conversation', '1', '2026-03-05 14:07:00+00:00')",
        "UPDATE conversations SET author_note = '{\"text\": \"slow\"}' WHERE id = 1",
    )
    await migrate(empty_db_url, action="downgrade", target="0007")
    schema = await tables_and_columns(empty_db_url)
    assert "lorebooks" not in schema and "author_note" not in schema["conversations"]
    assert await execute(empty_db_url, "SELECT count(*) FROM conversations") == [(1,)]
    await migrate(empty_db_url, target="0008")
    assert await execute(empty_db_url, "SELECT count(*) FROM lorebooks") == [(0,)]
