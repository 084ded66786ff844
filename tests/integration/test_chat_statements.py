"""A chat turn is light on the database: few statements, in one transaction to begin and one to end.

Counted with SQLAlchemy's `before_cursor_execute` on the real store, for a turn in a channel that
has talked before (its conversation, settings and persona are cached). The limits' bookkeeping
(the lock and reservation, the usage recorded, the work released) is `bot.limits`' and counted
apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event

from bot.services import Services, build_services
from bot.where import Where
from tests.conftest import make_settings
from tests.integration.test_chat_engine import Recorder, RecordingReply

pytestmark = pytest.mark.postgres

WHERE = Where(7, 1, 500, "chat", user_name="Kim")
# begin: 2 INSERTs · the window: 1 SELECT · the first message linked: 1 · finish: 1 UPDATE of the reply
# and its user turn that also saves the conversation's lore state (timed lore effects, chat variables)
# in a data-modifying CTE on PostgreSQL; SQLite's CTEs cannot write, so there it is one more UPDATE
CHAT_BUDGET = {"postgresql": 5, "sqlite": 6}
# the lock (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL) · INSERT … SELECT of the
# reservation · one UPDATE that books what Venice reported and ends the work (settings come from
# the settings cache)
LIMITS_BUDGET = 3
LIMITS_TABLES = ("usage",)
LIMITS_LOCKS = ("BEGIN IMMEDIATE", "SELECT pg_advisory_xact_lock")


@pytest.fixture
async def services(db_url: str, fake_venice: Any) -> AsyncIterator[Services]:
    s = await build_services(make_settings(db_url, venice_base_url=fake_venice.base_url))
    yield s
    await s.close()


class Statements:
    """Every SQL statement the engine sends while recording."""

    def __init__(self, services: Services) -> None:
        self.seen: list[str] = []
        event.listen(services.engine.sync_engine, "before_cursor_execute", self._record)

    def _record(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.seen.append(" ".join(statement.split()))

    def split(self) -> tuple[list[str], list[str]]:
        """(the chat turn's own statements, the limits' bookkeeping)."""
        limits = [s for s in self.seen if any(f" {t} " in f" {s} " for t in LIMITS_TABLES)
                  or s.startswith(LIMITS_LOCKS)]
        return [s for s in self.seen if s not in limits], limits


async def test_a_turn_in_a_channel_that_talked_before_stays_within_its_statement_budget(
    services: Services, fake_venice: Any
) -> None:
    await services.chat.take_turn(WHERE, "Hello there", RecordingReply(Recorder()))
    statements = Statements(services)
    outcome = await services.chat.take_turn(WHERE, "A gin, please", RecordingReply(Recorder()))
    assert outcome.status == "complete"
    chat, limits = statements.split()
    assert len(chat) == CHAT_BUDGET[services.engine.dialect.name], "\n".join(chat)
    lore_saved = [s for s in chat if "UPDATE conversations SET" in s and "lore_state=" in s]
    assert len(lore_saved) == 1, "\n".join(chat)  # the lore state is saved with the turn, once
    stored = await services.chat.conversations.lore_state(outcome.reply.conversation_id)
    assert stored is not None and stored["last_user_turn"] == outcome.reply.reply_to
    assert [s.split()[0] for s in chat].count("INSERT") == 3
    assert len(limits) == LIMITS_BUDGET, "\n".join(limits)
