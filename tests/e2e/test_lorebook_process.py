"""Lorebooks through the real `python -m bot run` process (issue #12's end-to-end).

A SillyTavern world imported with `/lorebook import`, attached to the channel's conversation, its
entry fired by a key in chat (in what Venice was sent), explained by `/character lore`, and still
attached and firing after a restart; the Author's Note set and sent. In an ordinary channel the
same commands are refused by the age gate and nothing is stored.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.e2e.conftest import E2E, is_reply_with
from tests.fakes.discord import InteractionHandle

ELDORIA = (Path(__file__).parents[1] / "data" / "Eldoria.json").read_bytes()
EPHEMERAL = 1 << 6


def prompts(e2e: E2E) -> list[list[dict[str, Any]]]:
    return [r.json["messages"] for r in e2e.venice.requests
            if r.path == "/chat/completions" and r.json.get("stream")]


def everything(messages: list[dict[str, Any]]) -> str:
    return "\n".join(str(m.get("content")) for m in messages)


async def answer(handle: InteractionHandle) -> str:
    """The command's answer: its response, or (deferred) the message it wrote afterwards."""
    first = (await handle.response(timeout=10)).json
    text = (first.get("data") or {}).get("content") or ""
    if text:
        return str(text)
    message = await handle.wait_message(lambda m: bool(m.get("content")), timeout=20)
    return str(message["content"])


async def test_a_world_imported_attached_and_fired_survives_a_restart(e2e: E2E, people: dict[str, Any]) -> None:
    alice, nsfw, sfw = people["alice"], people["nsfw"], people["sfw"]
    proc = await e2e.start()
    e2e.venice.replies.extend(["The forest whispers back.", "Something moves between the trees.",
                               "The glade is quiet tonight."])
    await e2e.slash(alice, nsfw, "chat", {"message": "Hello there."})
    await e2e.wait_message(nsfw["id"], is_reply_with("The forest whispers back."), "the first reply")

    imported = await answer(await e2e.fake.slash(alice, nsfw, "lorebook import",
                                                 {"file": ("Eldoria.json", ELDORIA)}))
    assert "Imported **Eldoria**" in imported
    attached = await answer(await e2e.fake.slash(alice, nsfw, "lorebook attach", {"book": "Eldoria"}))
    assert "now works in this channel's conversation" in attached
    noted = await answer(await e2e.fake.slash(alice, nsfw, "conversation authorsnote",
                                              {"text": "Keep the mood eerie.", "depth": 2}))
    assert "Author's Note set" in noted

    await e2e.slash(alice, nsfw, "chat", {"message": "Is that a shadowfang in the woods?"})
    await e2e.wait_message(nsfw["id"], is_reply_with("Something moves"), "the reply with lore")
    sent = everything(prompts(e2e)[-1])
    assert "Shadowfang" in sent  # the entry keyed "shadowfang" reached Venice
    assert "Keep the mood eerie." in sent

    # (The reply is shown, then stored with the turn's lore in the same write.)
    for _ in range(200):  # (the fake's wait_until re-checks on requests, not on database writes)
        if "shadowfang" in str(e2e.rows("SELECT lore_fired FROM conversations")):
            break
        await asyncio.sleep(0.05)
    why = await e2e.fake.slash(alice, nsfw, "character lore")
    body = (await why.response(timeout=10)).json
    assert body["data"]["flags"] & EPHEMERAL
    shown = str(body["data"].get("content")) + str(body["data"].get("embeds"))  # an embed, or plain text
    assert "Eldoria" in shown and "shadowfang" in shown.lower()

    # A restart keeps the book, where it is attached and the note.
    await e2e.stop(proc)
    second = await e2e.start()
    await e2e.slash(alice, nsfw, "chat", {"message": "Take me to the glade."})
    await e2e.wait_message(nsfw["id"], is_reply_with("The glade is quiet"), "the reply after the restart")
    sent = everything(prompts(e2e)[-1])
    assert "glade" in sent.lower() and "Keep the mood eerie." in sent
    assert [r[0] for r in e2e.rows("SELECT name FROM lorebooks")] == ["Eldoria"]

    # The age gate: nothing of it in an ordinary channel, and nothing stored.
    calls = len(e2e.venice.requests)
    refused = await e2e.fake.slash(alice, sfw, "lorebook import", {"file": ("Again.json", ELDORIA)})
    body = (await refused.response(timeout=10)).json
    assert body["data"]["flags"] & EPHEMERAL and "age-restricted" in body["data"]["content"]
    listed = await e2e.fake.slash(alice, sfw, "lorebook list")
    assert "Eldoria" not in str((await listed.response(timeout=10)).json)
    assert len(e2e.venice.requests) == calls
    assert [r[0] for r in e2e.rows("SELECT name FROM lorebooks")] == ["Eldoria"]
    await e2e.stop(second)
