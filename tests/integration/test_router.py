"""One component router: every button and form, on any process, after one check, with one reporter.

Controls are pressed with custom ids written exactly as the bot wrote them before the router
(`chat:<action>:<reply id>`, `chatedit:<reply id>`, `img:<action>:<record id>`,
`imgedit:<record id>`, `privacy:<action>`), so messages already in Discord keep working.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from bot.ui.errors import GENERIC_ERROR
from bot.ui.router import NOT_IN_USE
from tests.harness import dispatch_event
from tests.integration.conftest_chat import ChatWorld, chat_fixture, text_of

__all__ = ["chat_fixture"]


async def exchange(chat: ChatWorld, first: str = "The first answer.") -> tuple[Any, dict[str, Any], int]:
    where = chat.place()
    chat.venice.replies.append(first)
    await chat.slash(where, "chat", {"message": "Pour me a drink"})
    reply = chat.latest_with(where, "regen")
    reply_id = int(next(c for c in _ids(reply) if c.startswith("chat:regen:")).split(":")[2])
    return where, reply, reply_id


def _ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components", []) for c in row.get("components", [])
            if "custom_id" in c]


async def test_reply_controls_pressed_with_the_old_custom_ids_work_after_a_restart(chat: ChatWorld) -> None:
    where, reply, reply_id = await exchange(chat)
    await chat.restart()
    chat.venice.replies.append("The second answer.")
    await chat.click(where, reply, f"chat:regen:{reply_id}")
    assert text_of(chat.discord.world.messages[reply["id"]]) == "The second answer."
    await chat.click(where, chat.discord.world.messages[reply["id"]], f"chat:prev:{reply_id}")
    assert text_of(chat.discord.world.messages[reply["id"]]) == "The first answer."
    await chat.submit(where, f"chatedit:{reply_id}", {"chatedit:text": "Edited after the restart."}, message=reply)
    assert text_of(chat.discord.world.messages[reply["id"]]) == "Edited after the restart."


async def posted_image(chat: ChatWorld, where: Any) -> tuple[dict[str, Any], int]:
    await chat.bot.services.settings.set("image_cooldown", 0, scope="global", scope_id=0, guild_id=None, by=0)  # type: ignore[union-attr]
    handle = await chat.slash(where, "imagine", {"prompt": "a woman in a silk robe by a window"})
    message = handle.original
    assert message is not None and message["attachments"]
    record_id = int(next(c for c in _ids(message) if c.startswith("img:reroll:")).split(":")[2])
    return message, record_id


async def test_the_image_edit_form_is_handled_after_a_restart(chat: ChatWorld) -> None:
    where = chat.place()
    message, record_id = await posted_image(chat, where)
    opened = await chat.click(where, message, f"img:edit:{record_id}")
    assert (await opened.response()).json["type"] == 9  # the form is open in Discord...
    await chat.restart()  # ...while the bot restarts
    generated = chat.venice.count("/image/generate")
    handle = await chat.submit(where, f"imgedit:{record_id}", {"prompt": "a woman in a silk robe, smiling"})
    assert chat.venice.count("/image/generate") == generated + 1
    assert handle.original is not None and handle.original["attachments"]


async def test_a_known_prefix_with_an_unknown_rest_says_the_button_is_not_in_use(chat: ChatWorld) -> None:
    where, reply, reply_id = await exchange(chat)
    handle = await chat.click(where, reply, f"chat:dance:{reply_id}")
    assert chat.ephemeral_texts(handle) == [NOT_IN_USE]


async def test_an_unexpected_failure_in_any_control_is_answered_privately_and_logged(
    chat: ChatWorld, caplog: pytest.LogCaptureFixture
) -> None:
    where, reply, _ = await exchange(chat)

    async def broken(interaction: Any, match: re.Match[str]) -> None:
        raise RuntimeError("a bug in a handler")

    chat.bot.services.router.button("probe", r"(?P<n>\d+)", broken)  # type: ignore[union-attr]
    chat.discord.world.messages[reply["id"]]["components"][0]["components"].append(
        {"type": 2, "style": 2, "custom_id": "probe:1", "label": "Probe"})
    with caplog.at_level(logging.ERROR):
        handle = await chat.click(where, chat.discord.world.messages[reply["id"]], "probe:1")
    assert chat.ephemeral_texts(handle) == [GENERIC_ERROR]
    assert any("button probe:1 failed" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_the_gate_is_asked_before_any_control_runs(chat: ChatWorld) -> None:
    where, reply, reply_id = await exchange(chat)
    channel = chat.discord.update_channel(where.channel_id, nsfw=False)
    await dispatch_event(chat.bot, "CHANNEL_UPDATE", channel)
    prompts = len(chat.prompts())
    for custom_id in (f"chat:regen:{reply_id}", f"chat:del:{reply_id}"):
        handle = await chat.click(where, reply, custom_id)
        assert any("age-restricted" in t for t in chat.ephemeral_texts(handle)), custom_id
    handle = await chat.submit(where, f"chatedit:{reply_id}", {"chatedit:text": "x"}, message=reply)
    assert any("age-restricted" in t for t in chat.ephemeral_texts(handle))
    assert len(chat.prompts()) == prompts and reply["id"] in chat.discord.world.messages
