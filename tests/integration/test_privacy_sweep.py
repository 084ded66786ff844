"""Nobody's words are kept where another person's data or a deletion cannot reach them.

Through the real chat cog: Bob starts a conversation, Alice speaks first, then edits what she
said and deletes her data. Titles used to be the first words spoken, so hers ended up in Bob's
export and outlived her deletion. Afterwards no table holds any copy of her words.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot import privacy
from bot.store.models import AuditEvent, Base
from tests.integration.conftest_chat import ChatWorld, chat_fixture  # noqa: F401 - fixture

pytestmark = pytest.mark.postgres
ALICE_SAYS = "Meet me at the lighthouse at midnight, bring the brass key"
ALICE_EDITED = "Actually, let's meet at the old harbour instead"


async def every_text(chat: ChatWorld) -> str:
    """Everything stored, as one string, to look for copies of someone's words."""
    assert chat.bot.services is not None
    chunks: list[str] = []
    async with chat.bot.services.sessions() as s:
        for table in Base.metadata.sorted_tables:
            chunks += [repr(tuple(row)) for row in (await s.execute(select(table))).all()]
    return "\n".join(chunks)


def words(text: str) -> list[str]:
    return [text[:20], text[20:45]]


async def test_a_title_never_carries_words_and_a_deletion_leaves_no_copy(chat: ChatWorld) -> None:
    where = chat.place()
    alice, bob = where.user, chat.user("bob", where=where)
    chat.venice.replies.extend(["The lighthouse is dark tonight.", "The harbour it is."])
    await chat.slash(where, "reset", user=bob)  # Bob starts the conversation
    said = await chat.say(where, ALICE_SAYS)  # Alice speaks first
    assert chat.bot.services is not None
    sessions = chat.bot.services.sessions

    bobs = await privacy.export_user(sessions, int(bob["id"]))
    [started] = [c for c in bobs["conversations_started"] if not c["archived"]]
    assert all(piece not in repr(bobs) for piece in words(ALICE_SAYS)), started["title"]

    await chat.edit_message(said, ALICE_EDITED)
    await privacy.delete_user(sessions, int(alice["id"]))

    stored = await every_text(chat)
    for piece in [*words(ALICE_SAYS), *words(ALICE_EDITED)]:
        assert piece not in stored


async def test_a_setting_value_an_admin_typed_leaves_the_audit_log_with_their_data(chat: ChatWorld) -> None:
    where = chat.place()
    admin = where.user
    assert chat.bot.services is not None
    sessions = chat.bot.services.sessions
    from bot import policy

    await policy.audit(sessions, policy.Where(int(admin["id"]), int(where.guild_id or 0), None, "settings"),
                       kind="admin", rule="image_style", detail="set to My Secret Style Name (for the server)")

    await privacy.delete_user(sessions, int(admin["id"]))

    async with sessions() as s:
        events: list[Any] = list((await s.scalars(select(AuditEvent).where(AuditEvent.kind == "admin"))).all())
    assert [(e.rule, e.detail) for e in events] == [("image_style", privacy.ADMIN_DETAIL_REMOVED)]
