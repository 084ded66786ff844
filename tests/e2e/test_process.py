"""The bot tried as a new operator and its users would: the real `python -m bot run` process.

Settings come from the environment only; Discord (REST and gateway) and Venice are local fakes in
this test process; the database is a SQLite file that does not exist before the first start.
Users act through the fake's gateway exactly as Discord delivers their actions.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from bot import gate
from cogs.chat import DM_LOCKED
from tests.e2e.conftest import E2E, custom_ids, is_reply_with, text_of
from tests.fakes.venice import Fault

HELLO = "Hi! I just walked in."
FIRST = "Scarlett looks up from the bar and smiles slowly."
SECOND = "She slides a glass of red wine across to you."
THIRD = "She leans closer, voice low, and asks your name."
EPHEMERAL = 1 << 6


def chat_requests(e2e: E2E) -> list[dict[str, Any]]:
    return [r.json for r in e2e.venice.requests if r.path == "/chat/completions"]


def prompt_text(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content")) for m in body["messages"])


async def test_first_start_creates_the_database_and_serves_only_where_allowed(e2e: E2E, people: dict[str, Any]
                                                                            ) -> None:
    alice, nsfw, sfw, dm = people["alice"], people["nsfw"], people["sfw"], people["dm"]
    assert not e2e.db_path.parent.exists()
    proc = await e2e.start()

    # It created the file and brought it to the newest schema before connecting.
    tables = {row[0] for row in e2e.rows("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"conversations", "messages", "user_flags", "alembic_version"} <= tables
    assert e2e.rows("SELECT version_num FROM alembic_version")
    identify = e2e.fake.gateway.identifies[0]
    assert identify["token"] == e2e.env()["DISCORD_TOKEN"]

    # /chat in the age-restricted channel: a streamed reply posted as the character, with buttons.
    e2e.venice.replies.extend([FIRST])
    handle = await e2e.slash(alice, nsfw, "chat", {"message": HELLO})
    response = (await handle.response()).json
    assert response["type"] == 4 and not (response["data"].get("flags") or 0) & EPHEMERAL
    reply = await e2e.wait_message(nsfw["id"], is_reply_with(FIRST), "the character's reply")
    assert reply.get("webhook_id"), "posted through the persona webhook"
    assert {"chat:regen:", "chat:edit:", "chat:del:"} <= {c.rsplit(":", 1)[0] + ":" for c in custom_ids(reply)}
    [asked] = chat_requests(e2e)
    assert asked["stream"] is True and HELLO in prompt_text(asked)

    # The same command in an ordinary channel: a private refusal, and Venice is not asked.
    refused = await e2e.slash(alice, sfw, "chat", {"message": HELLO})
    body = (await refused.response()).json
    assert body["type"] == 4 and body["data"]["flags"] & EPHEMERAL
    assert body["data"]["content"] == gate.REFUSAL
    assert len(chat_requests(e2e)) == 1
    assert [m for m in e2e.messages_in(sfw["id"]) if not m["flags"] & EPHEMERAL] == []  # nothing public

    # A DM before any command: refused with the hint how to unlock it.
    await e2e.fake.send_message(alice, dm, "hey, are you there?")
    locked = await e2e.wait_message(dm["id"], lambda m: m["author"]["id"] == people["bot_id"], "the DM hint")
    assert text_of(locked).strip() == DM_LOCKED and "/chat" in DM_LOCKED
    assert len(chat_requests(e2e)) == 1

    # A command in the DM (Discord only lets adults who opted in run it there) unlocks plain DMs.
    e2e.venice.replies.extend([SECOND, THIRD])
    await e2e.slash(alice, dm, "chat", {"message": "Hello from my DMs"})
    await e2e.wait_message(dm["id"], is_reply_with(SECOND), "the reply to /chat in the DM")
    await e2e.fake.send_message(alice, dm, "And now I just talk to you.")
    await e2e.wait_message(dm["id"], is_reply_with(THIRD), "the reply to a plain DM")
    assert "And now I just talk to you." in prompt_text(chat_requests(e2e)[-1])

    await e2e.stop(proc)
    assert "ready as" in proc.stderr


async def test_venice_faults_get_a_kind_message_and_lose_nothing(e2e: E2E, people: dict[str, Any]) -> None:
    alice, nsfw = people["alice"], people["nsfw"]
    proc = await e2e.start()
    e2e.venice.replies.extend([FIRST])
    await e2e.slash(alice, nsfw, "chat", {"message": HELLO})
    await e2e.wait_message(nsfw["id"], is_reply_with(FIRST), "the first reply")

    # Rate limited for longer than a user would sit through: said at once, with the wait.
    e2e.venice.inject("/chat/completions", Fault.rate_limited(retry_after=120))
    await e2e.slash(alice, nsfw, "chat", {"message": "Are you busy?"})
    limited = await e2e.wait_message(nsfw["id"], is_reply_with("try again in about 2 minutes"),
                                     "a kind rate-limit message where the reply would be")
    assert "429" not in text_of(limited)
    assert len(chat_requests(e2e)) == 2  # no retry against a two-minute Retry-After

    # Venice failing on every retry: again one kind message, no error text from the HTTP layer.
    before = len(chat_requests(e2e))
    e2e.venice.inject("/chat/completions", Fault.http(500, headers={"Retry-After": "0"}, times=4))
    await e2e.slash(alice, nsfw, "chat", {"message": "Hello again?"})
    failed = await e2e.wait_message(nsfw["id"], is_reply_with("problem on its side"), "a kind failure message")
    assert "500" not in text_of(failed) and "Inference processing failed" not in text_of(failed)
    assert len(chat_requests(e2e)) - before == 4  # tried, retried three times, then gave up

    # Nothing was lost: 🔄 on the failed reply asks again, and the story goes on from there.
    e2e.venice.replies.extend([SECOND, THIRD])
    regen = next(c for c in custom_ids(failed) if c.startswith("chat:regen:"))
    clicked = await e2e.fake.click(alice, nsfw, failed["id"], regen)
    await clicked.response(timeout=10)
    await e2e.wait_message(nsfw["id"], lambda m: m["id"] == failed["id"] and is_reply_with(SECOND)(m),
                           "the retried reply in place of the failure")
    assert "Hello again?" in prompt_text(chat_requests(e2e)[-1])
    await e2e.slash(alice, nsfw, "chat", {"message": "Still there?"})
    await e2e.wait_message(nsfw["id"], is_reply_with(THIRD), "the reply after the faults")
    prompt = prompt_text(chat_requests(e2e)[-1])
    for said in (HELLO, FIRST, "Hello again?", SECOND, "Still there?"):
        assert said in prompt, said
    assert "problem on its side" not in prompt and "busy right now" not in prompt  # notes are not story
    await e2e.stop(proc)
    assert "Traceback" not in proc.stderr
    # Only replies that were given count against the daily quotas: Venice billed nothing for the
    # two failures, and a user who met a Venice outage must not lose a day's messages to it.
    booked = e2e.rows("SELECT COUNT(*) FROM usage WHERE kind = 'chat'")[0][0]
    assert booked == 3, f"{booked} chat usages booked for the 3 replies given"


async def test_a_restart_keeps_the_buttons_and_the_story(e2e: E2E, people: dict[str, Any]) -> None:
    alice, nsfw = people["alice"], people["nsfw"]
    sync = await e2e.cli("sync")  # what an operator does once, before the first start
    assert sync.code == 0, sync.output
    first = await e2e.start()
    e2e.venice.replies.extend([FIRST])
    await e2e.slash(alice, nsfw, "chat", {"message": HELLO})
    reply = await e2e.wait_message(nsfw["id"], is_reply_with(FIRST), "the first reply")
    await e2e.stop(first)

    # A new process on the same database (debug logging: more output for the secret scan).
    second = await e2e.start(LOG_LEVEL="DEBUG")
    regen = next(c for c in custom_ids(reply) if c.startswith("chat:regen:"))
    e2e.venice.replies.extend([SECOND])
    clicked = await e2e.fake.click(alice, nsfw, reply["id"], regen)
    assert (await clicked.response(timeout=10)).json["type"] in (5, 6)
    swiped = await e2e.wait_message(nsfw["id"], lambda m: m["id"] == reply["id"] and is_reply_with(SECOND)(m),
                                    "the regenerated reply in the same message")
    assert any(c.startswith("chat:prev:") for c in custom_ids(swiped))

    # ◀ goes back to the first version without asking Venice.
    asked = len(chat_requests(e2e))
    prev = next(c for c in custom_ids(swiped) if c.startswith("chat:prev:"))
    back = await e2e.fake.click(alice, nsfw, reply["id"], prev)
    await back.response(timeout=10)
    await e2e.wait_message(nsfw["id"], lambda m: m["id"] == reply["id"] and FIRST in text_of(m),
                           "the first version again")
    assert len(chat_requests(e2e)) == asked

    # The conversation goes on from what is shown: the model sees the first exchange.
    e2e.venice.replies.extend([THIRD])
    await e2e.slash(alice, nsfw, "chat", {"message": "I'm Alice."})
    await e2e.wait_message(nsfw["id"], is_reply_with(THIRD), "the next reply")
    prompt = prompt_text(chat_requests(e2e)[-1])
    assert HELLO in prompt and FIRST in prompt and "I'm Alice." in prompt
    assert SECOND not in prompt  # the swipe that was put away
    await e2e.stop(second)

    with sqlite3.connect(e2e.db_path) as conn:
        statuses = conn.execute("SELECT role, status FROM messages ORDER BY id").fetchall()
    assert ("assistant", "streaming") not in statuses  # nothing half-written survived the restarts


async def test_sigterm_while_a_reply_streams_finishes_it_then_exits_cleanly(e2e: E2E, people: dict[str, Any]
                                                                            ) -> None:
    # A deploy sends SIGTERM whenever it likes: the reply being written is finished, not cut.
    alice, nsfw = people["alice"], people["nsfw"]
    proc = await e2e.start()
    story = " ".join(["She tells you about the city at night, slowly, savouring every word."] * 3)
    e2e.venice.replies.append(story)
    e2e.venice.chunk_delay = 0.03  # about three seconds of streaming
    await e2e.slash(alice, nsfw, "chat", {"message": HELLO})
    await e2e.wait_message(nsfw["id"], lambda m: "She tells you" in text_of(m)
                           and any(c.startswith("chat:stop:") for c in custom_ids(m)), "the first words")
    await e2e.stop(proc)  # exit code 0, no traceback
    assert "shutting down" in proc.stderr
    final = [m for m in e2e.messages_in(nsfw["id"]) if is_reply_with(story)(m)]
    assert final, "the reply was not finished before the process exited"
    assert e2e.rows("SELECT status FROM messages WHERE role = 'assistant'") == [("complete",)]
