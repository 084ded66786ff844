"""Ways to talk, and which conversation a message belongs to, through the production bot.

Mentions, replies to the bot's (and its characters') messages, DMs once unlocked, /chat; one
conversation per channel, thread and DM, shared by everyone in it. The bot runs without the
Message Content intent, as in production.
"""

from __future__ import annotations

from bot.characters.model import Character
from bot.policy import Where
from bot.store import users
from cogs.chat import DM_LOCKED, EMPTY, TOO_LONG, UNREADABLE
from tests.integration.conftest_chat import ChatWorld, button, chat_fixture, text_of

__all__ = ["chat_fixture"]


def bot_said(chat: ChatWorld, where: object) -> list[str]:
    """Plain answers the bot gave in a channel (not the character's replies)."""
    return [m["content"] for m in chat.messages_in(where)  # type: ignore[arg-type]
            if m["author"]["id"] == chat.discord.world.bot["id"] and m.get("message_reference")]


async def test_the_bot_runs_without_the_message_content_intent(chat: ChatWorld) -> None:
    assert chat.bot.intents.message_content is False


async def test_a_mention_is_answered_and_other_messages_are_not(chat: ChatWorld) -> None:
    where = chat.place()
    await chat.say(where, "just chatting with friends", mention=False)
    assert chat.prompts() == [] and chat.replies_in(where) == []
    await chat.say(where, "Hello, barkeep")
    assert chat.history()[-1].endswith("Hello, barkeep")  # the mention itself is not part of it
    assert "<@" not in chat.history()[-1]
    [reply] = chat.replies_in(where)
    assert text_of(reply) == "Reply to: alice: Hello, barkeep"


async def test_a_reply_to_the_characters_message_continues_the_story(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.replies.extend(["*She winks.* Another?", "Coming right up."])
    await chat.say(where, "Hi")
    [reply] = chat.replies_in(where)
    assert reply["webhook_id"]  # posted as the character, through the channel's webhook
    # A reply to a webhook message does not mention the bot: it is recognised by the stored link.
    await chat.say(where, "Yes please", mention=False, reply_to=reply)
    assert chat.history() == ["alice: Hi", "*She winks.* Another?", "alice: Yes please"]


async def test_a_reply_whose_text_discord_hid_gets_told_how_to_be_read(chat: ChatWorld) -> None:
    where = chat.place()
    await chat.say(where, "Hi")
    [reply] = chat.replies_in(where)
    # Without the Message Content intent, Discord blanks a reply that does not ping the bot.
    await chat.say(where, "", mention=False, reply_to=reply)
    assert bot_said(chat, where) == [UNREADABLE]
    assert len(chat.prompts()) == 1


async def test_a_reply_to_someone_elses_message_is_ignored(chat: ChatWorld) -> None:
    where = chat.place()
    other = chat.user("bob", where=where)
    theirs = chat.message_payload(where, "my own thoughts", user=other, mention=False)
    mine = await chat.say(where, "I agree", mention=False, reply_to=theirs)
    assert chat.prompts() == [] and chat.messages_in(where) == [theirs, mine]  # the bot said nothing


async def test_dm_chat_starts_once_a_command_ran_in_the_dm_and_is_remembered(chat: ChatWorld) -> None:
    dm = chat.place("bot_dm")
    await chat.say(dm, "hello?")
    assert bot_said(chat, dm) == [DM_LOCKED] and chat.prompts() == []

    await chat.slash(dm, "conversation list")  # any of the bot's commands, run in this DM
    assert await users.dm_unlocked(chat.bot.services.sessions, int(dm.user["id"]))  # type: ignore[union-attr]
    await chat.say(dm, "hello again")
    assert chat.history()[-1] == "hello again"  # one person in a DM: no name prefix
    [reply] = chat.replies_in(dm)
    assert text_of(reply) == "Reply to: hello again" and button(reply, "regen")

    await chat.restart()  # remembered in the database, not in memory
    await chat.say(dm, "still there?")
    assert chat.history()[-3:] == ["hello again", "Reply to: hello again", "still there?"]

    other = chat.place("bot_dm")  # someone else has not unlocked their DM
    await chat.say(other, "hi")
    assert bot_said(chat, other) == [DM_LOCKED]


async def test_each_channel_thread_and_dm_has_its_own_conversation(chat: ChatWorld) -> None:
    where = chat.place()
    thread = chat.thread_of(where)
    dm = chat.place("bot_dm")
    await chat.say(where, "in the channel")
    await chat.say(thread, "in the thread")
    await chat.slash(dm, "chat", {"message": "in the DM"})
    prompts = chat.prompts()
    assert [chat.history(pr) for pr in prompts] == [["alice: in the channel"], ["alice: in the thread"], ["in the DM"]]
    await chat.say(where, "back in the channel")
    assert chat.history() == ["alice: in the channel", "Reply to: alice: in the channel", "alice: back in the channel"]


async def test_people_in_one_channel_share_its_conversation_by_name(chat: ChatWorld) -> None:
    where = chat.place()
    kim = chat.user("kim", display="Kim", where=where)
    lee = chat.user("lee", display="Lee", where=where)
    chat.venice.replies.extend(["Hello Kim.", "Hello Lee."])
    await chat.slash(where, "chat", {"message": "I order a gin"}, user=kim)
    await chat.say(where, "And I take the stool next to her", user=lee)
    assert chat.history() == ["Kim: I order a gin", "Hello Kim.", "Lee: And I take the stool next to her"]
    system = chat.last_prompt()[0]["content"]
    assert "Several people" in system


async def test_a_persona_name_is_who_the_model_sees(chat: ChatWorld) -> None:
    where = chat.place()
    await chat.slash(where, "persona set", {"name": "Captain Reyes", "description": "A tall adult sailor."})
    await chat.say(where, "I step inside")
    assert chat.history() == ["Captain Reyes: I step inside"]


async def test_empty_and_oversized_messages_are_answered_with_the_rule(chat: ChatWorld) -> None:
    where = chat.place()
    await chat.say(where, "")
    await chat.say(where, "x" * 10_000)
    assert bot_said(chat, where) == [EMPTY, TOO_LONG]
    assert "4,000" in TOO_LONG and chat.prompts() == []
    handle = await chat.slash(where, "chat", {"message": "   "})
    assert chat.ephemeral_texts(handle) and chat.prompts() == []


async def test_reset_archives_the_conversation_and_greets_again(chat: ChatWorld) -> None:
    where = chat.place()
    await chat.say(where, "I was here before")
    handle = await chat.slash(where, "reset")
    assert "New conversation with **Scarlett**" in (handle.original or {}).get("content", "")
    greeting = chat.replies_in(where)[-1]
    assert text_of(greeting).startswith("*Scarlett looks up from the glass")
    assert "alice" in text_of(greeting)  # {{user}} filled in
    await chat.say(where, "Hello again")
    assert chat.history()[0].startswith("*Scarlett looks up") and "I was here before" not in chat.history()
    listed = await chat.slash(where, "conversation list")
    shown = listed.original or (await listed.response()).json["data"]
    lines = shown["embeds"][0]["description"].splitlines()
    assert len(lines) == 2 and lines[0].startswith("▶️") and lines[1].startswith("▫️")


async def test_a_conversation_whose_character_was_deleted_falls_back_and_stays_readable(chat: ChatWorld) -> None:
    where = chat.place()
    services = chat.bot.services
    assert services is not None
    mara = await services.characters.create(
        Character(name="Mara", description="An adult pirate captain.", first_mes="Ahoy."),
        where=Where(int(where.user["id"]), int(where.guild_id or 0), int(where.channel_id or 0), "test"),
        shared=True,
    )
    await services.characters.set_for_channel(channel_id=int(where.channel_id or 0), guild_id=int(where.guild_id or 0),
                                              ref=f"custom:{mara.id}")
    await chat.say(where, "Who are you?")
    assert "Mara" in chat.last_prompt()[0]["content"]
    assert chat.replies_in(where)[-1]["author"]["username"] == "Mara"

    assert mara.id is not None and await services.characters.delete(mara.id)
    await chat.say(where, "Still there?")
    assert "Scarlett" in chat.last_prompt()[0]["content"]  # the default plays on
    assert chat.history()[:2] == ["alice: Who are you?", "Reply to: alice: Who are you?"]
    exported = await chat.slash(where, "conversation export")
    files = (await exported.followups())[0].files
    transcript = next(data for _, name, data in files if name.endswith(".txt")).decode()
    assert "with Mara" in transcript and "Who are you?" in transcript
