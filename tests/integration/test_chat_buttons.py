"""The buttons under a reply change exactly what the next prompt contains.

Each test presses real buttons (component interactions through discord.py's DynamicItem dispatch)
on the messages the bot posted in the fake Discord, then sends the next message and reads the
prompt the fake Venice received.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.chat.pictures import SCENE_REFUSED
from bot.chat.prompt import CONTINUE_NUDGE
from bot.chat.rules import NOT_LATEST
from bot.store import users
from bot.store.models import AuditEvent, UserFlag
from bot.ui.chat_controls import DELETED
from bot.ui.gating import NOT_YOURS
from tests.integration.conftest_chat import MODERATOR, ChatWorld, button, chat_fixture, custom_ids, text_of

__all__ = ["chat_fixture"]


async def first_exchange(chat: ChatWorld, first: str = "The first answer.") -> tuple[object, dict]:
    where = chat.place()
    chat.venice.replies.append(first)
    await chat.slash(where, "chat", {"message": "Pour me a drink"})
    return where, chat.latest_with(where, "regen")


async def test_regenerate_adds_a_swipe_and_the_next_prompt_uses_it(chat: ChatWorld) -> None:
    where, reply = await first_exchange(chat)
    chat.venice.replies.append("The second answer.")
    handle = await chat.click(where, reply, button(reply, "regen"))
    assert (await handle.response()).json["type"] == 6  # acknowledged at once, updated in place
    # The regenerate prompt is the history up to the question, without the old answer.
    assert chat.history() == ["alice: Pour me a drink"]
    shown = chat.discord.world.messages[reply["id"]]  # the same message, rewritten
    assert text_of(shown) == "The second answer."
    assert [c for c in custom_ids(shown) if c.startswith("chat:count:")]
    assert shown["components"][0]["components"][1]["label"] == "2/2"

    await chat.say(where, "Thanks")
    assert chat.history() == ["alice: Pour me a drink", "The second answer.", "alice: Thanks"]
    stored = await chat.bot.services.chat.conversations.by_discord_id(int(reply["id"]))  # type: ignore[union-attr]
    assert stored is not None and stored.swipes == ["The first answer.", "The second answer."]


async def test_browsing_swipes_changes_what_history_uses(chat: ChatWorld) -> None:
    where, reply = await first_exchange(chat)
    chat.venice.replies.append("The second answer.")
    await chat.click(where, reply, button(reply, "regen"))
    reply = chat.discord.world.messages[reply["id"]]
    await chat.click(where, reply, button(reply, "prev"))
    reply = chat.discord.world.messages[reply["id"]]
    assert text_of(reply) == "The first answer."
    assert reply["components"][0]["components"][1]["label"] == "1/2"
    assert reply["components"][0]["components"][0]["disabled"] is True  # ◀ at the first swipe
    await chat.say(where, "Cheers")
    assert chat.history() == ["alice: Pour me a drink", "The first answer.", "alice: Cheers"]

    # Browsing the new latest reply's swipes is allowed; the old reply's are not any more.
    handle = await chat.click(where, reply, button(reply, "next"))
    assert chat.ephemeral_texts(handle) == [NOT_LATEST]


async def test_continue_sends_the_partial_reply_and_extends_it(chat: ChatWorld) -> None:
    where, reply = await first_exchange(chat, "She reaches for the top shelf and")
    chat.venice.replies.append(" pulls down a dusty bottle.")
    await chat.click(where, reply, button(reply, "cont"))
    prompt = chat.last_prompt()
    assert prompt[-1] == {"role": "assistant", "content": "She reaches for the top shelf and"}
    assert prompt[-2]["role"] == "system" and "Continue" in prompt[-2]["content"]
    assert CONTINUE_NUDGE.split("{{")[0] in prompt[-2]["content"]
    assert chat.history(prompt)[:-1] == ["alice: Pour me a drink"]  # the partial reply is sent once
    shown = chat.discord.world.messages[reply["id"]]
    assert text_of(shown) == "She reaches for the top shelf and pulls down a dusty bottle."

    await chat.say(where, "Nice")
    assert chat.history()[1] == "She reaches for the top shelf and pulls down a dusty bottle."


async def test_edit_opens_a_form_and_the_edit_becomes_history(chat: ChatWorld) -> None:
    where, reply = await first_exchange(chat)
    opened = await chat.click(where, reply, button(reply, "edit"))
    modal = (await opened.response()).json
    assert modal["type"] == 9 and modal["data"]["custom_id"] == f"chatedit:{button(reply, 'edit').split(':')[2]}"
    submitted = await chat.submit(where, modal["data"]["custom_id"], {"chatedit:text": "An edited answer."},
                                  message=reply)
    assert (await submitted.response()).json["type"] == 6
    assert text_of(chat.discord.world.messages[reply["id"]]) == "An edited answer."
    await chat.say(where, "Go on")
    assert chat.history() == ["alice: Pour me a drink", "An edited answer.", "alice: Go on"]


async def test_an_edit_form_opened_before_a_restart_still_works(chat: ChatWorld) -> None:
    where, reply = await first_exchange(chat)
    opened = await chat.click(where, reply, button(reply, "edit"))
    custom_id = (await opened.response()).json["data"]["custom_id"]
    await chat.restart()
    await chat.submit(where, custom_id, {"chatedit:text": "Written after the restart."}, message=reply)
    assert text_of(chat.discord.world.messages[reply["id"]]) == "Written after the restart."


async def test_delete_removes_the_turn_from_history_and_from_discord(chat: ChatWorld) -> None:
    where, first = await first_exchange(chat)
    echo_id = next(m["id"] for m in chat.messages_in(where) if m["embeds"] and m.get("interaction_metadata"))
    chat.venice.replies.append("A second answer.")
    await chat.say(where, "Another round")
    second = chat.latest_with(where, "regen")
    handle = await chat.click(where, first, button(first, "del"))
    assert chat.ephemeral_texts(handle) == [DELETED]
    assert first["id"] not in chat.discord.world.messages  # the reply left Discord
    assert echo_id not in chat.discord.world.messages  # and so did the bot's copy of the question
    assert second["id"] in chat.discord.world.messages
    await chat.say(where, "Last one")
    assert chat.history() == ["alice: Another round", "A second answer.", "alice: Last one"]


async def test_only_the_person_whose_turn_it_was_or_a_moderator_may_press(chat: ChatWorld) -> None:
    where, reply = await first_exchange(chat)
    stranger = chat.user("mallory", where=where)
    before = len(chat.prompts())
    for action in ("regen", "del", "edit", "cont"):
        handle = await chat.click(where, reply, button(reply, action), user=stranger)
        assert chat.ephemeral_texts(handle) == [NOT_YOURS], action
    assert len(chat.prompts()) == before and reply["id"] in chat.discord.world.messages

    moderator = chat.user("mod", where=where)
    chat.venice.replies.append("Regenerated by a moderator.")
    await chat.click(where, reply, button(reply, "regen"), user=moderator, permissions=MODERATOR)
    assert text_of(chat.discord.world.messages[reply["id"]]) == "Regenerated by a moderator."


async def test_only_the_latest_reply_can_be_regenerated(chat: ChatWorld) -> None:
    where, reply = await first_exchange(chat)
    await chat.say(where, "And another")
    before = len(chat.prompts())
    handle = await chat.click(where, reply, button(reply, "regen"))
    assert chat.ephemeral_texts(handle) == [NOT_LATEST] and len(chat.prompts()) == before


async def test_buttons_on_old_messages_work_on_a_new_bot_instance(chat: ChatWorld) -> None:
    where, reply = await first_exchange(chat)
    await chat.restart()  # a new process: new bot, new engine, same database and Discord
    chat.venice.replies.append("Regenerated after the restart.")
    await chat.click(where, reply, button(reply, "regen"))
    assert chat.history() == ["alice: Pour me a drink"]
    assert text_of(chat.discord.world.messages[reply["id"]]) == "Regenerated after the restart."
    reply = chat.discord.world.messages[reply["id"]]
    await chat.click(where, reply, button(reply, "prev"))
    await chat.say(where, "And now?")
    assert chat.history() == ["alice: Pour me a drink", "The first answer.", "alice: And now?"]


async def test_picture_this_draws_the_scene(chat: ChatWorld) -> None:
    where, reply = await first_exchange(chat, "She leans on the bar in her black vest, smiling.")
    chat.venice.replies.append("adult woman, auburn hair, black vest, leaning on a bar, warm light")
    handle = await chat.click(where, reply, button(reply, "pic"))
    scene_request = [r.json for r in chat.venice.requests_to("/chat/completions")
                     if not r.json.get("stream") and not chat.venice.judge.wants(r.json)][-1]
    assert "black vest" in scene_request["messages"][-1]["content"]
    [generated] = [r.json for r in chat.venice.requests_to("/image/generate")]
    assert "leaning on a bar" in generated["prompt"]
    assert handle.original is not None and handle.original["attachments"]


async def test_a_scene_venice_describes_with_a_minor_is_not_drawn_and_nobody_gets_a_strike(chat: ChatWorld) -> None:
    where, reply = await first_exchange(chat)
    chat.venice.replies.append("a 15 year old girl undressing in a bar")
    handle = await chat.click(where, reply, button(reply, "pic"))
    assert chat.ephemeral_texts(handle) == [SCENE_REFUSED]
    assert chat.venice.count("/image/generate") == 0
    assert await users.blocked_until(chat.bot.services.sessions, int(where.user["id"])) is None  # type: ignore[union-attr]
    async with chat.bot.services.sessions() as session:  # type: ignore[union-attr]
        flags = (await session.scalars(select(UserFlag))).all()
        events = (await session.scalars(select(AuditEvent))).all()
    assert all(f.strikes == 0 for f in flags)
    assert [(e.kind, e.user_id) for e in events] == [("refusal", None)]


async def test_pictures_turned_off_hide_the_button(chat: ChatWorld) -> None:
    where = chat.place()
    await chat.setting(where, "images", False)
    await chat.say(where, "Hello")
    assert not any(c.startswith("chat:pic:") for c in custom_ids(chat.latest_with(where, "regen")))


def test_custom_ids_carry_only_the_action_and_the_stored_reply() -> None:
    from bot.ui.chat_views import BUTTON_PATTERN, BUTTON_PREFIX, ChatButton

    assert BUTTON_PREFIX == "chat"
    assert re.fullmatch(BUTTON_PATTERN, "regen:12345") and not re.fullmatch(BUTTON_PATTERN, "regen:x")
    assert re.fullmatch(r"chat:[a-z]+:\d+", ChatButton("del", 7).custom_id or "")


async def test_an_edit_longer_than_the_form_allows_is_refused(chat: ChatWorld) -> None:
    where, reply = await first_exchange(chat)
    opened = await chat.click(where, reply, button(reply, "edit"))
    form = (await opened.response()).json["data"]["custom_id"]
    handle = await chat.submit(where, form, {"chatedit:text": "z" * 5_000}, message=reply)
    assert any("4,000" in t for t in chat.ephemeral_texts(handle))
    assert text_of(chat.discord.world.messages[reply["id"]]) == "The first answer."


async def test_in_a_dm_replies_are_embeds_and_every_button_works(chat: ChatWorld) -> None:
    dm = chat.place("bot_dm")
    chat.venice.replies.append("She hums and")
    await chat.slash(dm, "chat", {"message": "Sing for me"})
    reply = chat.latest_with(dm, "regen")
    assert "webhook_id" not in reply and reply["embeds"][0]["author"]["name"] == "Scarlett"
    chat.venice.replies.append(" starts to sing.")
    await chat.click(dm, reply, button(reply, "cont"))
    assert text_of(chat.discord.world.messages[reply["id"]]) == "She hums and starts to sing."
    chat.venice.replies.append("A new song.")
    await chat.click(dm, reply, button(reply, "regen"))
    assert text_of(chat.discord.world.messages[reply["id"]]) == "A new song."
    reply = chat.discord.world.messages[reply["id"]]
    await chat.click(dm, reply, button(reply, "del"))
    assert reply["id"] not in chat.discord.world.messages
    await chat.slash(dm, "chat", {"message": "Again"})
    assert chat.history() == ["Again"]
