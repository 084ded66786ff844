"""Hostile use of the chat controls and of Discord edits (issue #10 items 11 and 13).

- The edit form's custom id carries a sequential reply id: a submission is applied only to a reply
  in the channel (and server) it was submitted from, by the reply's owner or a moderator there.
- Edits and deletions of messages in Discord go through the age gate first: once a channel lost
  its age restriction nothing is screened, stored, audited, struck or answered there.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from bot.chat.rules import GONE, NOT_YOURS
from bot.store.models import AuditEvent, Message, UserFlag
from tests.harness import dispatch_event, invoke
from tests.integration.conftest_chat import MODERATOR, ChatWorld, button, chat_fixture, text_of
from tests.places import PlaceSetup

__all__ = ["chat_fixture"]


async def first_exchange(chat: ChatWorld, where: PlaceSetup) -> dict[str, Any]:
    chat.venice.replies.append("The first answer.")
    await chat.slash(where, "chat", {"message": "Pour me a drink"})
    return chat.latest_with(where, "regen")


async def stored_content(chat: ChatWorld, reply: dict[str, Any]) -> str:
    turn = await chat.bot.services.chat.conversations.by_discord_id(int(reply["id"]))  # type: ignore[union-attr]
    assert turn is not None
    return turn.content


async def count(chat: ChatWorld, model: Any) -> int:
    async with chat.bot.services.sessions() as session:  # type: ignore[union-attr]
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def edit_form(reply: dict[str, Any]) -> str:
    return f"chatedit:{button(reply, 'edit').split(':')[2]}"


async def test_an_edit_form_for_a_reply_in_another_channel_is_refused_even_for_its_owner(chat: ChatWorld) -> None:
    here, elsewhere = chat.place(), chat.place()
    reply = await first_exchange(chat, here)
    handle = await chat.submit(elsewhere, edit_form(reply), {"chatedit:text": "Rewritten from afar."},
                               user=here.user)
    assert chat.ephemeral_texts(handle) == [GONE]
    assert text_of(chat.discord.world.messages[reply["id"]]) == "The first answer."
    assert await stored_content(chat, reply) == "The first answer."


async def test_an_edit_form_nobody_showed_this_person_is_refused(chat: ChatWorld) -> None:
    where = chat.place()
    reply = await first_exchange(chat, where)
    mallory = chat.user("mallory", where=where)
    handle = await chat.submit(where, edit_form(reply), {"chatedit:text": "Mallory's words."}, message=reply,
                               user=mallory)
    assert chat.ephemeral_texts(handle) == [NOT_YOURS]
    assert await stored_content(chat, reply) == "The first answer."


async def test_a_moderator_may_submit_the_edit_form_in_the_replys_channel(chat: ChatWorld) -> None:
    where = chat.place()
    reply = await first_exchange(chat, where)
    moderator = chat.user("mod", where=where)
    payload = chat.discord.modal_payload(moderator, where, edit_form(reply), {"chatedit:text": "Tidied."},
                                         message_id=reply["id"])
    payload["member"]["permissions"] = MODERATOR
    await invoke(chat.bot, payload, timeout=30)
    assert await stored_content(chat, reply) == "Tidied."


async def unflag(chat: ChatWorld, where: PlaceSetup) -> None:
    """A moderator unticks "age-restricted"; the bot hears CHANNEL_UPDATE."""
    channel = chat.discord.update_channel(where.channel_id, nsfw=False)
    await dispatch_event(chat.bot, "CHANNEL_UPDATE", channel)


async def test_an_edit_in_a_channel_that_lost_its_age_restriction_is_not_handled(chat: ChatWorld) -> None:
    where = chat.place()
    message = await chat.say(where, "I order a gin")
    await unflag(chat, where)
    audits_before, sent_before = await count(chat, AuditEvent), len(chat.messages_in(where))
    await chat.edit_message(message, f"<@{chat.discord.world.bot['id']}> I am 15 years old")

    assert await count(chat, AuditEvent) == audits_before  # not screened, not audited
    async with chat.bot.services.sessions() as session:  # type: ignore[union-attr]
        strikes = await session.scalar(select(func.coalesce(func.sum(UserFlag.strikes), 0)))
        said = await session.scalar(select(Message.content).where(Message.role == "user"))
    assert strikes == 0 and said == "I order a gin"
    assert len(chat.messages_in(where)) == sent_before  # nothing answered in a channel that is no longer adult


async def test_a_deletion_in_a_channel_that_lost_its_age_restriction_is_not_handled(chat: ChatWorld) -> None:
    where = chat.place()
    message = await chat.say(where, "Something I said")
    await unflag(chat, where)
    await chat.delete_message(message)
    async with chat.bot.services.sessions() as session:  # type: ignore[union-attr]
        status = await session.scalar(select(Message.status).where(Message.role == "user"))
    assert status == "complete"  # no database write outside an age-gated place
