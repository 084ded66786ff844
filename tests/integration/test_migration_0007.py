"""Revision 0007 (voice) up and down with data in place."""

from __future__ import annotations

import pytest

from bot.store.migrate import current_revision, migrate
from tests.integration.test_migration_0006 import execute, tables_and_columns

pytestmark = pytest.mark.postgres


async def test_0007_adds_voice_columns_and_down_and_up_again_keep_the_rows(empty_db_url: str) -> None:
    await migrate(empty_db_url, target="0006")
    await execute(empty_db_url,
                  "INSERT INTO user_flags (user_id, strikes) VALUES (7, 0)",
                  "INSERT INTO characters (owner_id, shared, name, card, created_at, updated_at) "
                  "VALUES (7, false, 'Aria', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
    await migrate(empty_db_url, target="0007")
    assert await execute(empty_db_url, "SELECT voice_off FROM user_flags") == [(False,)]
    assert await execute(empty_db_url, "SELECT tts_model, tts_voice FROM characters") == [(None, None)]
    await execute(empty_db_url, "UPDATE characters SET tts_model = 'tts-kokoro', tts_voice = 'am_onyx'")
    await migrate(empty_db_url, action="downgrade", target="0006")
    schema = await tables_and_columns(empty_db_url)
    assert "voice_off" not in schema["user_flags"] and "tts_voice" not in schema["characters"]
    assert await execute(empty_db_url, "SELECT name FROM characters") == [("Aria",)]
    await migrate(empty_db_url)
    assert (await current_revision(empty_db_url))[0] >= "0007"
    assert await execute(empty_db_url, "SELECT count(*) FROM user_flags") == [(1,)]
