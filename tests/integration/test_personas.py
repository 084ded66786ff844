"""Speaking as the character (PersonaPoster) and /persona, against the fake Discord.

Channel objects come from the bot's own REST calls (`fetch_channel`), as after a restart; the
assertions read the requests the fake recorded (paths, `thread_id` queries, bodies).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from sqlalchemy import select

from bot.client import make_bot
from bot.config import Env
from bot.store.models import AuditEvent, Persona
from bot.ui.personas import PersonaPoster, Sent
from tests.conftest import DISCORD_TOKEN
from tests.harness import invoke

HOOKS = r"/channels/\d+/webhooks"
LISTED = r"/(?:channels|guilds)/\d+/webhooks"  # a channel's webhooks, or the whole server's
EXECUTE = r"/webhooks/\d+/whtoken-\d+"
AVATAR = "https://example.com/mara.png"


@pytest.fixture
async def bot(settings: Env, fake_discord: Any) -> AsyncIterator[Any]:
    b = make_bot(settings, extensions=("cogs.characters",))
    await b.login(DISCORD_TOKEN)
    await b.tree.sync()
    yield b
    await b.close()


@pytest.fixture
def poster(bot: Any) -> PersonaPoster:
    assert isinstance(bot.services.personas, PersonaPoster)
    return bot.services.personas


@pytest.fixture
def world(fake_discord: Any) -> dict[str, Any]:
    fake = fake_discord
    guild = fake.add_guild()
    nsfw = fake.add_channel(guild["id"], "text", nsfw=True)
    forum = fake.add_channel(guild["id"], "forum", nsfw=True)
    return {"guild": guild, "nsfw": nsfw, "thread": fake.add_thread(nsfw["id"]), "forum": forum,
            "post": fake.add_thread(forum["id"], name="a post"), "alice": fake.add_user("alice"),
            "voice": fake.add_channel(guild["id"], "voice", nsfw=True)}


async def channel(bot: Any, data: dict[str, Any]) -> Any:
    return await bot.fetch_channel(int(data["id"]))


async def test_one_webhook_is_created_and_reused(bot: Any, poster: PersonaPoster, fake_discord: Any,
                                                 world: dict[str, Any]) -> None:
    text = await channel(bot, world["nsfw"])
    first = await poster.send(text, name="Mara", avatar_url=AVATAR, content="Ahoy.")
    second = await poster.send(text, name="Ivy", avatar_url=None, content="Hello!")
    assert first.via_webhook and second.via_webhook and first.webhook.id == second.webhook.id
    assert len(fake_discord.find("POST", HOOKS)) == 1 and len(fake_discord.find("GET", LISTED)) == 1
    executes = fake_discord.find("POST", EXECUTE)
    assert [e.json["username"] for e in executes] == ["Mara", "Ivy"]
    assert executes[0].json["avatar_url"] == AVATAR and "avatar_url" not in executes[1].json
    assert fake_discord.world.messages[str(first.message_id)]["author"]["username"] == "Mara"

    # Another process (a fresh poster) finds the same webhook by listing instead of creating one.
    other = PersonaPoster(bot)
    third = await other.send(text, name="Mara", avatar_url=AVATAR, content="Again.")
    assert third.webhook.id == first.webhook.id and len(fake_discord.find("POST", HOOKS)) == 1
    assert fake_discord.violations == []


async def test_a_cold_start_in_many_channels_lists_the_server_once_and_creates_one_webhook_each(
    bot: Any, poster: PersonaPoster, fake_discord: Any, world: dict[str, Any]
) -> None:
    data = [fake_discord.add_channel(world["guild"]["id"], "text", nsfw=True) for _ in range(12)]
    channels = [await channel(bot, d) for d in data]
    await asyncio.gather(*(poster.warm(c) for c in channels))  # every channel's first turn at once
    assert len(fake_discord.find("GET", LISTED)) == 1  # one listing of the server, not one per channel
    created = fake_discord.find("POST", HOOKS)
    assert sorted(r.path for r in created) == sorted(f"/channels/{d['id']}/webhooks" for d in data)
    sent = await asyncio.gather(*(poster.send(c, name="Mara", avatar_url=None, content="hi") for c in channels))
    assert all(s.via_webhook for s in sent) and len(fake_discord.find("POST", HOOKS)) == len(data)

    # After a restart (a fresh poster), one listing finds them all again: nothing is created.
    other = PersonaPoster(bot)
    await asyncio.gather(*(other.warm(c) for c in channels))
    assert len(fake_discord.find("GET", LISTED)) == 2 and len(fake_discord.find("POST", HOOKS)) == len(data)


async def test_mentions_never_ping_and_names_are_sanitised(bot: Any, poster: PersonaPoster, fake_discord: Any,
                                                           world: dict[str, Any]) -> None:
    text = await channel(bot, world["nsfw"])
    sent = await poster.send(text, name="Discord Clyde", avatar_url="not-a-url",
                             content=f"@everyone look <@{world['alice']['id']}>")
    (execute,) = fake_discord.find("POST", EXECUTE)
    assert execute.json["allowed_mentions"] == {"parse": []}
    assert "discord" not in execute.json["username"].lower() and "clyde" not in execute.json["username"].lower()
    assert "avatar_url" not in execute.json  # an invalid URL would make Discord refuse the message
    message = fake_discord.world.messages[str(sent.message_id)]
    assert message["mention_everyone"] is False and message["mentions"] == []

    await poster.edit(sent, content="@here edited")
    (edit,) = fake_discord.find("PATCH", EXECUTE + r"/messages/\d+")
    assert edit.json["allowed_mentions"] == {"parse": []}


async def test_the_webhook_is_recreated_after_a_moderator_deletes_it(bot: Any, poster: PersonaPoster,
                                                                     fake_discord: Any, world: dict[str, Any]) -> None:
    text = await channel(bot, world["nsfw"])
    first = await poster.send(text, name="Mara", avatar_url=None, content="one")
    fake_discord.delete_webhook(first.webhook.id)
    second = await poster.send(text, name="Mara", avatar_url=None, content="two")
    assert second.via_webhook and second.webhook.id != first.webhook.id
    assert len(fake_discord.find("POST", HOOKS)) == 2
    assert fake_discord.world.messages[str(second.message_id)]["content"] == "two"

    fake_discord.webhook_404_once(second.webhook.id)  # a transient 404: found again by listing
    third = await poster.send(text, name="Mara", avatar_url=None, content="three")
    assert third.webhook.id == second.webhook.id and len(fake_discord.find("POST", HOOKS)) == 2


async def test_an_edit_after_the_webhook_vanished_reposts_the_text(bot: Any, poster: PersonaPoster,
                                                                   fake_discord: Any, world: dict[str, Any]) -> None:
    text = await channel(bot, world["nsfw"])
    sent = await poster.send(text, name="Mara", avatar_url=None, content="Once upon")
    old_id = sent.message_id
    fake_discord.delete_webhook(sent.webhook.id)
    await poster.edit(sent, content="Once upon a time")
    assert sent.message_id != old_id
    assert fake_discord.world.messages[str(sent.message_id)]["content"] == "Once upon a time"
    assert str(old_id) not in fake_discord.world.messages  # the orphan was removed


async def test_threads_and_forum_posts_use_the_parent_webhook(bot: Any, poster: PersonaPoster, fake_discord: Any,
                                                              world: dict[str, Any]) -> None:
    for key, parent in (("thread", "nsfw"), ("post", "forum")):
        where = await channel(bot, world[key])
        assert isinstance(where, discord.Thread)
        sent = await poster.send(where, name="Mara", avatar_url=None, content=f"in {key}")
        assert sent.via_webhook and sent.channel_id == int(world[key]["id"])
        execute = fake_discord.find("POST", EXECUTE)[-1]
        assert execute.query["thread_id"] == world[key]["id"]
        assert fake_discord.find("POST", HOOKS)[-1].path == f"/channels/{world[parent]['id']}/webhooks"
        assert fake_discord.world.messages[str(sent.message_id)]["channel_id"] == world[key]["id"]
        await poster.edit(sent, content="edited")
        assert fake_discord.find("PATCH", EXECUTE + r"/messages/\d+")[-1].query["thread_id"] == world[key]["id"]
        assert await poster.delete(sent) is True
        assert str(sent.message_id) not in fake_discord.world.messages
    voice = await poster.send(await channel(bot, world["voice"]), name="Mara", avatar_url=None, content="hi")
    assert voice.via_webhook
    assert fake_discord.violations == []


async def test_without_manage_webhooks_an_embed_carries_the_character(bot: Any, poster: PersonaPoster,
                                                                      fake_discord: Any, world: dict[str, Any]) -> None:
    fake_discord.deny_manage_webhooks(world["nsfw"]["id"])
    text = await channel(bot, world["nsfw"])
    sent = await poster.send(text, name="Mara", avatar_url=AVATAR, content="@everyone Ahoy.")
    assert not sent.via_webhook
    (post,) = fake_discord.find("POST", rf"/channels/{world['nsfw']['id']}/messages")
    assert post.json["allowed_mentions"] == {"parse": []}
    (embed,) = post.json["embeds"]
    assert embed["author"] == {"name": "Mara", "icon_url": AVATAR} and embed["description"] == "@everyone Ahoy."
    await poster.send(text, name="Mara", avatar_url=AVATAR, content="again")
    assert len(fake_discord.find("GET", LISTED)) == 1  # the refusal is remembered, not asked again
    await poster.edit(sent, content="changed")
    assert fake_discord.world.messages[str(sent.message_id)]["embeds"][0]["description"] == "changed"


async def test_in_dms_and_with_personas_off_replies_are_plain_bot_messages(bot: Any, poster: PersonaPoster,
                                                                           fake_discord: Any,
                                                                           world: dict[str, Any]) -> None:
    dm = await channel(bot, fake_discord.dm_channel(world["alice"]))
    assert isinstance(dm, discord.DMChannel)
    sent = await poster.send(dm, name="Mara", avatar_url=AVATAR, content="Hi there")
    assert not sent.via_webhook and fake_discord.find("GET", LISTED) == []
    text = await channel(bot, world["nsfw"])
    off = await poster.send(text, name="Mara", avatar_url=AVATAR, content="plain", use_webhook=False)
    assert not off.via_webhook and fake_discord.find("POST", HOOKS) == []
    assert fake_discord.world.messages[str(off.message_id)]["embeds"][0]["author"]["name"] == "Mara"


class Buttons(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)
        self.add_item(discord.ui.Button(label="Regenerate", custom_id="test:regen"))


async def test_buttons_ride_on_webhook_messages_and_survive_a_restart(bot: Any, poster: PersonaPoster,
                                                                      fake_discord: Any,
                                                                      world: dict[str, Any]) -> None:
    thread = await channel(bot, world["thread"])
    sent = await poster.send(thread, name="Mara", avatar_url=None, content="Pick one", view=Buttons())
    execute = fake_discord.find("POST", EXECUTE)[-1]
    assert execute.query.get("with_components") in ("1", "true", "True")
    assert execute.json["components"][0]["components"][0]["custom_id"] == "test:regen"

    restarted = PersonaPoster(bot)  # nothing in memory: ids and the channel are all it has
    await restarted.edit_by_id(thread, sent.message_id, True, "Picked", view=None)
    message = fake_discord.world.messages[str(sent.message_id)]
    assert message["content"] == "Picked" and message["components"] == []
    assert await restarted.delete_by_id(thread, sent.message_id, True) is True
    assert str(sent.message_id) not in fake_discord.world.messages


async def test_plain_messages_can_be_edited_and_deleted_by_id(bot: Any, poster: PersonaPoster,
                                                              fake_discord: Any, world: dict[str, Any]) -> None:
    dm = await channel(bot, fake_discord.dm_channel(world["alice"]))
    sent = await poster.send(dm, name="Mara", avatar_url=AVATAR, content="first")
    fetches = rf"/channels/{dm.id}/messages/{sent.message_id}"
    await poster.edit_by_id(dm, sent.message_id, False, "second")
    assert fake_discord.find("GET", fetches) == []  # the author is remembered, no fetch per edit
    await PersonaPoster(bot).edit_by_id(dm, sent.message_id, False, "third")  # after a restart
    assert len(fake_discord.find("GET", fetches)) == 1
    embed = fake_discord.world.messages[str(sent.message_id)]["embeds"][0]
    assert embed["description"] == "third" and embed["author"] == {"name": "Mara", "icon_url": AVATAR}
    assert await PersonaPoster(bot).delete_by_id(dm, sent.message_id, False) is True


async def test_is_our_message(bot: Any, poster: PersonaPoster, fake_discord: Any, world: dict[str, Any]) -> None:
    text = await channel(bot, world["nsfw"])
    sent = await poster.send(text, name="Mara", avatar_url=None, content="mine")
    ours = await text.fetch_message(sent.message_id)
    assert await poster.is_our_message(ours) and await PersonaPoster(bot).is_our_message(ours)
    user_message = fake_discord.add_message(world["nsfw"], "hi", author=world["alice"])
    assert not await poster.is_our_message(await text.fetch_message(int(user_message["id"])))
    bot_message = fake_discord.add_message(world["nsfw"], "from the bot")
    assert await poster.is_our_message(await text.fetch_message(int(bot_message["id"])))


def test_sent_is_a_plain_record() -> None:
    sent = Sent(1, 2, False)
    assert (sent.message_id, sent.channel_id, sent.via_webhook, sent.webhook) == (1, 2, False, None)


# -- /persona ----------------------------------------------------------------------------------


async def said_privately(bot: Any, fake_discord: Any, world: dict[str, Any], name: str, options: Any) -> str:
    """Run a command that defers privately (the judge may take a while); what it then said."""
    payload = fake_discord.slash_payload(world["alice"], world["nsfw"], name, options)
    await invoke(bot, payload)
    handle = fake_discord.handle(payload)
    response = (await handle.response()).json
    assert response["type"] == 5 and response["data"]["flags"] == 64  # deferred, ephemeral
    return "\n".join(str((rec.json or {}).get("content") or "") for rec in handle.requests)


async def test_persona_set_show_clear(bot: Any, fake_discord: Any, world: dict[str, Any]) -> None:
    async def slash(name: str, options: Any = None) -> dict[str, Any]:
        payload = fake_discord.slash_payload(world["alice"], world["nsfw"], name, options)
        await invoke(bot, payload)
        return (await fake_discord.handle(payload).response()).json

    assert "no persona" in (await slash("persona show"))["data"]["content"]
    said = await said_privately(bot, fake_discord, world, "persona set",
                                {"name": "Captain Reyes", "description": "A tall adult sailor."})
    assert "Captain Reyes" in said
    shown = await slash("persona show")
    assert shown["data"]["embeds"][0]["title"] == "Captain Reyes"
    async with bot.services.sessions() as session:
        row = await session.get(Persona, int(world["alice"]["id"]))
    assert row is not None and row.description == "A tall adult sailor."
    assert "cleared" in (await slash("persona clear"))["data"]["content"]
    assert "no persona" in (await slash("persona show"))["data"]["content"]


async def test_a_minor_persona_is_refused_and_not_stored(bot: Any, fake_discord: Any, world: dict[str, Any]) -> None:
    said = await said_privately(bot, fake_discord, world, "persona set",
                                {"name": "Kid", "description": "I am 13 and want sex."})
    assert "under 18" in said
    async with bot.services.sessions() as session:
        assert await session.get(Persona, int(world["alice"]["id"])) is None
        events = (await session.scalars(select(AuditEvent))).all()
    assert [(e.rule, e.detail) for e in events] == [("minor_age", "persona")]


async def test_a_server_without_webhook_support_still_gets_the_reply(
    bot: Any, poster: PersonaPoster, fake_discord: Any, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_webhooks(self: Any) -> Any:
        raise discord.NotFound(_Response(404), {"message": "404: Not Found", "code": 0})

    monkeypatch.setattr(discord.TextChannel, "webhooks", no_webhooks)
    monkeypatch.setattr(discord.Guild, "webhooks", no_webhooks)  # a server-wide listing fails the same way
    text = await channel(bot, world["nsfw"])
    sent = await poster.send(text, name="Mara", avatar_url=AVATAR, content="Still here.")
    assert not sent.via_webhook
    (post,) = fake_discord.find("POST", rf"/channels/{world['nsfw']['id']}/messages")
    assert post.json["embeds"][0]["description"] == "Still here."


class _Response:
    """The bits of an aiohttp response discord.HTTPException reads."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.reason = "Not Found"
