"""Fixtures for the chat cog tests: the production bot (every cog) on the local fakes.

Imported by the `test_chat_cog*.py` and `test_chat_buttons*.py` modules (pytest only collects
fixtures from `conftest.py`, and the shared one belongs to everyone); the fixture registers under
its `name=`, so a module imports `chat_fixture` and its tests ask for `chat`. `ChatWorld` can
start a new bot over the same database and the same fake Discord, which is what a restart looks
like to conversations and to the buttons on old messages.

Events are fed in process with `tests.harness` (the parser the gateway would call), which waits
until the bot has completely finished handling them: a reply has been streamed, stored and has its
buttons when `say`, `slash` or `click` returns.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.client import LustifyBot, make_bot
from tests import payloads as p
from tests.conftest import DISCORD_TOKEN, make_settings
from tests.fakes.discord import FakeDiscord, InteractionHandle
from tests.fakes.venice import FakeVenice
from tests.harness import dispatch_event, dispatch_message, invoke, prime_place
from tests.places import PlaceSetup

MARKER = "writing…"
EPHEMERAL = 1 << 6
MODERATOR = p.permissions("view_channel", "send_messages", "manage_messages")


class TimedList(list[Any]):
    """A list that remembers when each item was appended (the fakes append each request they serve)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item: Any) -> None:
        self.times.append(time.monotonic())
        super().append(item)


def text_of(message: dict[str, Any]) -> str:
    """What a message shows: its content, or the embed description (the persona look in DMs)."""
    return "\n".join([message.get("content") or "", *[e.get("description") or "" for e in message["embeds"]]]).strip()


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components", []) for c in row.get("components", [])
            if "custom_id" in c]


def button(message: dict[str, Any], action: str) -> str:
    found = [c for c in custom_ids(message) if c.startswith(f"chat:{action}:")]
    assert found, f"no {action} button on {custom_ids(message)}"
    return found[0]


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


class ChatWorld:
    """One fake Discord, one fake Venice, one database, and the bots started on them."""

    def __init__(self, db_url: str, venice: FakeVenice, fake: FakeDiscord) -> None:
        self.db_url = db_url
        self.venice = venice
        self.discord = fake
        self.bots: list[LustifyBot] = []
        self.places: list[PlaceSetup] = []
        self.edit_interval = 0.05  # production edits once a second; tests that time it set 1.0

    @property
    def bot(self) -> LustifyBot:
        return self.bots[-1]

    async def start_bot(self) -> LustifyBot:
        """A new bot process: the production factory with every cog, logged in, places cached."""
        settings = make_settings(self.db_url, venice_base_url=self.venice.base_url,
                                 discord_api_base=self.discord.api_base)
        bot = make_bot(settings)
        await bot.login(DISCORD_TOKEN)
        if not self.bots:
            await bot.tree.sync()  # so the drivers know every option's type, as Discord would
        assert bot.services is not None
        bot.services.venice._http.sleep = _no_sleep  # type: ignore[attr-defined]  # no real back-off waits
        bot.get_cog("Chat").edit_interval = self.edit_interval  # type: ignore[union-attr]
        for setup in self.places:
            prime_place(bot, setup)
        self.bots.append(bot)
        return bot

    async def restart(self) -> LustifyBot:
        """Close the current bot and start a fresh one over the same database."""
        await self.bot.close()
        return await self.start_bot()

    def set_edit_interval(self, seconds: float) -> None:
        self.edit_interval = seconds
        self.bot.get_cog("Chat").edit_interval = seconds  # type: ignore[union-attr]

    # -- places and people --------------------------------------------------------------------

    def place(self, key: str = "nsfw_text") -> PlaceSetup:
        setup = self.discord.add_place(key)
        self.places.append(setup)
        for bot in self.bots:
            prime_place(bot, setup)
        return setup

    def thread_of(self, where: PlaceSetup) -> PlaceSetup:
        """A thread under `where`'s channel, known to the bot (THREAD_CREATE)."""
        data = self.discord.add_thread(where.channel_id)
        for bot in self.bots:
            bot._connection.parse_thread_create(dict(data))
        setup = PlaceSetup(where.place, where.user, 0, data, data["id"], where.guild)
        self.places.append(setup)
        return setup

    def user(self, name: str, *, display: str | None = None, where: PlaceSetup | None = None) -> dict[str, Any]:
        u = self.discord.add_user(name, global_name=display)
        if where is not None and where.guild_id is not None:
            self.discord.add_member(where.guild_id, u)
        return u

    async def setting(self, where: PlaceSetup, key: str, value: Any) -> None:
        """A server setting, as /settings would store it."""
        gid = int(where.guild_id or 0)
        await self.bot.services.settings.set(key, value, scope="guild", scope_id=gid, guild_id=gid, by=0)  # type: ignore[union-attr]

    # -- acting as users ----------------------------------------------------------------------

    async def slash(self, where: PlaceSetup, name: str, options: Any = None, *, user: Any = None,
                    permissions: str | None = None) -> InteractionHandle:
        payload = self.discord.slash_payload(user or where.user, where, name, options)
        if permissions is not None and "member" in payload:
            payload["member"]["permissions"] = permissions
        await invoke(self.bot, payload, timeout=30)
        return self.discord.handle(payload)

    async def click(self, where: PlaceSetup, message: dict[str, Any], custom_id: str, *, user: Any = None,
                    permissions: str | None = None) -> InteractionHandle:
        payload = self.discord.click_payload(user or where.user, where, message["id"], custom_id)
        if permissions is not None and "member" in payload:
            payload["member"]["permissions"] = permissions
        await invoke(self.bot, payload, timeout=30)
        return self.discord.handle(payload)

    async def submit(self, where: PlaceSetup, custom_id: str, values: dict[str, str], *,
                     message: dict[str, Any] | None = None, user: Any = None) -> InteractionHandle:
        payload = self.discord.modal_payload(user or where.user, where, custom_id, values,
                                             message_id=message["id"] if message else None)
        await invoke(self.bot, payload, timeout=30)
        return self.discord.handle(payload)

    def message_payload(self, where: PlaceSetup, content: str, *, user: Any = None, mention: bool | None = None,
                        reply_to: dict[str, Any] | None = None) -> dict[str, Any]:
        author = self.discord.world.user(user or where.user)
        in_guild = where.guild_id is not None
        msg = p.message_create(channel_id=where.channel_id, author=author, content=content, guild_id=where.guild_id,
                               mentions_bot=in_guild if mention is None else mention, reply_to=reply_to)
        self.discord.world.messages[msg["id"]] = msg
        return msg

    async def say(self, where: PlaceSetup, content: str, **kwargs: Any) -> dict[str, Any]:
        """A plain message (a mention of the bot in a guild, a plain DM otherwise), handled to the end."""
        msg = self.message_payload(where, content, **kwargs)
        await dispatch_message(self.bot, msg, timeout=30)
        return msg

    async def edit_message(self, msg: dict[str, Any], content: str) -> None:
        """The user edits their message in Discord (MESSAGE_UPDATE)."""
        msg["content"] = content
        msg["edited_timestamp"] = p.iso_now()
        await dispatch_event(self.bot, "MESSAGE_UPDATE", msg)

    async def delete_message(self, msg: dict[str, Any]) -> None:
        """The user deletes their message in Discord (MESSAGE_DELETE)."""
        self.discord.world.messages.pop(msg["id"], None)
        data = {"id": msg["id"], "channel_id": msg["channel_id"]}
        if msg.get("guild_id"):
            data["guild_id"] = msg["guild_id"]
        await dispatch_event(self.bot, "MESSAGE_DELETE", data)

    # -- what the bot did ---------------------------------------------------------------------

    def messages_in(self, where: PlaceSetup) -> list[dict[str, Any]]:
        return [m for m in self.discord.world.messages.values() if m["channel_id"] == where.channel_id]

    def replies_in(self, where: PlaceSetup) -> list[dict[str, Any]]:
        """The character's messages (webhook or embed persona), oldest first."""
        return [m for m in self.messages_in(where)
                if m.get("webhook_id") not in (None, p.APP_ID)
                or (m["author"]["id"] == p.BOT_ID and m["embeds"] and "webhook_id" not in m)]

    def latest_with(self, where: PlaceSetup, action: str) -> dict[str, Any]:
        found = [m for m in self.messages_in(where) if any(c.startswith(f"chat:{action}:") for c in custom_ids(m))]
        assert found, f"no message with a {action} button: {[text_of(m)[:60] for m in self.messages_in(where)]}"
        return found[-1]

    def prompts(self) -> list[list[dict[str, str]]]:
        """The messages of every streamed chat request Venice received (summaries are not streamed)."""
        return [r.json["messages"] for r in self.venice.requests_to("/chat/completions", "POST")
                if r.json.get("stream")]

    def last_prompt(self) -> list[dict[str, str]]:
        prompts = self.prompts()
        assert prompts, "Venice received no chat request"
        return prompts[-1]

    def history(self, prompt: list[dict[str, str]] | None = None) -> list[str]:
        """The conversation part of a prompt (no system messages), as plain strings."""
        return [m["content"] for m in (prompt or self.last_prompt()) if m["role"] != "system"]

    def ephemeral_texts(self, handle: InteractionHandle) -> list[str]:
        texts = []
        for r in handle.requests:
            body = r.json if isinstance(r.json, dict) else {}
            data = body.get("data", body) if "type" in body else body
            if isinstance(data, dict) and data.get("content") and (
                    int(data.get("flags") or 0) & EPHEMERAL or handle.record.response_type == 5):
                texts.append(data["content"])
        return texts

    def all_bodies(self) -> list[dict[str, Any]]:
        """Every JSON body the bot sent to Discord that creates or edits a message."""
        return [r.json for r in self.discord.requests
                if r.method in ("POST", "PATCH") and isinstance(r.json, dict)
                and ("content" in r.json or "embeds" in r.json or "data" in r.json)]

    async def close(self) -> None:
        for bot in self.bots:
            if not bot.is_closed():
                await bot.close()
        await asyncio.sleep(0)


@pytest.fixture(name="chat")
async def chat_fixture(db_url: str, fake_venice: FakeVenice, fake_discord: FakeDiscord) -> AsyncIterator[ChatWorld]:
    world = ChatWorld(db_url, fake_venice, fake_discord)
    await world.start_bot()
    yield world
    await world.close()
    assert fake_discord.violations == [], fake_discord.violations
    assert fake_venice.violations == [], fake_venice.violations


def is_interaction_message(message: dict[str, Any]) -> bool:
    return message.get("webhook_id") == p.APP_ID


__all__ = ["MARKER", "MODERATOR", "ChatWorld", "TimedList", "button", "chat_fixture", "custom_ids",
           "is_interaction_message", "text_of"]
