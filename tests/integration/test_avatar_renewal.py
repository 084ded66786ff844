"""Avatars that last: a character imported from a PNG card keeps its face after Discord's signed
attachment URL expired. The fake Discord signs attachment URLs (`ex`), refuses expired ones with
404 and re-signs them when a message is fetched, on a clock the test moves."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from bot.store import characters as repo
from bot.ui.avatar_host import DiscordAvatarHost
from tests import cardgen
from tests.integration.conftest_chat import ChatWorld, chat_fixture

__all__ = ["chat_fixture"]

DAY = 86_400.0
EXECUTE = re.compile(r"/webhooks/\d+/[^/]+$")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def webhook_avatars(chat: ChatWorld) -> list[str | None]:
    return [r.json.get("avatar_url") for r in chat.discord.requests
            if r.method == "POST" and EXECUTE.search(r.path) and isinstance(r.json, dict)]


async def status_of(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status


async def start(chat: ChatWorld, *, storage: bool = True) -> tuple[Any, Clock, dict[str, Any] | None]:
    clock = Clock(1_800_000_000.0)
    chat.discord.world.attachment_ttl = DAY
    chat.discord.world.clock = clock
    services = chat.bot.services
    assert services is not None
    services.characters.wall = clock
    where = chat.place()
    vault = None
    if storage:
        vault = chat.discord.add_channel(where.guild_id, "text", name="avatar-vault")
        services.characters.avatar_host = DiscordAvatarHost(chat.bot, int(vault["id"]))
    card = cardgen.v2_card(name="Ivy", description="{{char}} is a florist.", first_mes="Hello!")
    await chat.slash(where, "character import", {"file": ("ivy.png", cardgen.v2_png(card))})
    (summary,) = await repo.usable(services.sessions, user_id=int(where.user["id"]),
                                   guild_id=int(where.guild_id or 0), search="Ivy", limit=5)
    await chat.slash(where, "character set", {"character": summary.ref})
    chat.venice.reply_text = "Hi there."
    return where, clock, vault


async def test_an_expired_upload_is_kept_renewed_and_rehosted(chat: ChatWorld) -> None:
    where, clock, vault = await start(chat)
    assert vault is not None
    await chat.say(where, "Hello Ivy.")
    original = webhook_avatars(chat)[-1]
    assert original is not None and "ex=" in original and await status_of(original) == 200

    clock.now += 2 * DAY  # a day and more later: Discord's link has expired
    assert await status_of(original) == 404
    await chat.say(where, "Still there?")
    kept = webhook_avatars(chat)[-1]
    assert kept is not None and kept != original and f"/attachments/{vault['id']}/" in kept
    assert await status_of(kept) == 200
    posts = [r for r in chat.discord.requests if r.method == "POST" and r.path == f"/channels/{vault['id']}/messages"]
    assert len(posts) == 1 and posts[0].files  # the stored picture, uploaded once

    clock.now += 2 * DAY  # the copy's link expired too: renewed by fetching the message again
    await chat.say(where, "And now?")
    renewed = webhook_avatars(chat)[-1]
    assert renewed is not None and renewed != kept and await status_of(renewed) == 200
    posts = [r for r in chat.discord.requests if r.method == "POST" and r.path == f"/channels/{vault['id']}/messages"]
    assert len(posts) == 1

    # Someone deleted the copy in the vault: the stored picture is uploaded again.
    for message_id in [k for k, m in chat.discord.world.messages.items() if m["channel_id"] == vault["id"]]:
        chat.discord.world.messages.pop(message_id)
    clock.now += 2 * DAY
    await chat.say(where, "Once more.")
    again = webhook_avatars(chat)[-1]
    assert again is not None and await status_of(again) == 200
    posts = [r for r in chat.discord.requests if r.method == "POST" and r.path == f"/channels/{vault['id']}/messages"]
    assert len(posts) == 2


async def test_without_a_storage_channel_an_expired_avatar_is_dropped_not_broken(chat: ChatWorld) -> None:
    where, clock, _ = await start(chat, storage=False)
    await chat.say(where, "Hello Ivy.")
    assert webhook_avatars(chat)[-1] is not None
    clock.now += 2 * DAY
    await chat.say(where, "Still there?")
    assert webhook_avatars(chat)[-1] is None  # the webhook's own face, not a broken image


async def test_deleting_the_character_deletes_its_kept_picture(chat: ChatWorld) -> None:
    where, clock, vault = await start(chat)
    assert vault is not None
    await chat.say(where, "Hello Ivy.")
    clock.now += 2 * DAY
    await chat.say(where, "Still there?")
    in_vault = [m for m in chat.discord.world.messages.values() if m["channel_id"] == vault["id"]]
    assert len(in_vault) == 1
    services = chat.bot.services
    assert services is not None
    (summary,) = await repo.usable(services.sessions, user_id=int(where.user["id"]),
                                   guild_id=int(where.guild_id or 0), search="Ivy", limit=5)
    assert await services.characters.avatar_copies_of(int(where.user["id"])) != []
    await services.characters.delete(summary.id)
    assert [m for m in chat.discord.world.messages.values() if m["channel_id"] == vault["id"]] == []
    assert await services.characters.avatar_copies_of(int(where.user["id"])) == []
