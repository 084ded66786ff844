"""The whole gateway path against the fake Discord: in-process, and from a separate process.

The subprocess test is the pattern the end-to-end tests of ``python -m bot run`` use: start the
fake, start the bot with ``DISCORD_API_BASE`` pointing at it, wait for the gateway session, act
as a user, and assert on what the bot sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests import payloads as p
from tests.fakes.discord import SPEC_PATH, FakeDiscord
from tests.harness import connected_bot
from tests.places import PLACES

pytestmark = pytest.mark.skipif(not SPEC_PATH.exists(), reason=f"Discord's OpenAPI file is not at {SPEC_PATH}")


class Probe(commands.Cog):
    """A trivial nsfw command plus listeners that hand what they see to the test."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[discord.Message] = asyncio.Queue()

    @app_commands.command(name="spicy", description="Say where we are", nsfw=True)
    async def spicy(self, interaction: discord.Interaction, prompt: str) -> None:
        channel = interaction.channel
        nsfw = isinstance(channel, discord.TextChannel) and channel.is_nsfw()
        await interaction.response.send_message(f"{prompt} nsfw={nsfw}")

    @app_commands.command(name="where", description="Describe the channel", nsfw=True)
    async def where(self, interaction: discord.Interaction) -> None:
        channel = interaction.channel
        parts = [type(channel).__name__]
        if isinstance(channel, discord.Thread):
            parts.append("parent=" + ("cached" if channel.parent else "missing"))
        if isinstance(channel, discord.TextChannel | discord.VoiceChannel):
            parts.append(f"nsfw={channel.is_nsfw()}")
        view = discord.ui.View()
        view.add_item(discord.ui.Button(label="More", custom_id="where:more"))
        await interaction.response.send_message(" ".join(parts), view=view)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        # Components and modals without a registered view: answer from the raw listener.
        data = interaction.data or {}
        if interaction.type is discord.InteractionType.component:
            await interaction.response.send_modal(Note(custom_id="note"))
        elif interaction.type is discord.InteractionType.autocomplete:
            await interaction.response.autocomplete([app_commands.Choice(name="one", value="1")])
        elif interaction.type is discord.InteractionType.modal_submit and data.get("custom_id") == "note":
            value = data["components"][0]["components"][0]["value"]
            await interaction.response.send_message(f"noted: {value}")

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.id != int(p.BOT_ID):
            await self.messages.put(message)


class Note(discord.ui.Modal, title="Note"):
    text = discord.ui.TextInput(label="Note", custom_id="note:text")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        pass  # answered by Probe.on_interaction, to show raw payloads reach listeners too


def make_bot(intents: discord.Intents | None = None) -> commands.AutoShardedBot:
    bot = commands.AutoShardedBot(command_prefix=commands.when_mentioned,
                                  intents=intents or discord.Intents.default())

    async def setup_hook() -> None:
        await bot.add_cog(Probe())

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server
        assert server.violations == [], server.violations


@pytest.fixture
def world(fake: FakeDiscord) -> dict[str, Any]:
    guild = fake.add_guild()
    nsfw = fake.add_channel(guild["id"], "text", nsfw=True)
    return {"guild": guild, "nsfw": nsfw, "sfw": fake.add_channel(guild["id"], "text"),
            "voice": fake.add_channel(guild["id"], "voice", nsfw=True),
            "thread": fake.add_thread(nsfw["id"]), "user": fake.add_user("bob")}


@pytest.fixture
async def bot(fake: FakeDiscord, world: dict[str, Any]) -> AsyncIterator[commands.AutoShardedBot]:
    async with connected_bot(make_bot, fake) as connected:
        yield connected  # type: ignore[misc]


def _probe(bot: commands.Bot) -> Probe:
    cog = bot.get_cog("Probe")
    assert isinstance(cog, Probe)
    return cog


async def test_ready_and_guild_create_fill_the_cache_with_nsfw_flags(
        fake: FakeDiscord, bot: commands.AutoShardedBot, world: dict[str, Any]) -> None:
    assert bot.is_ready() and bot.shard_count == 1
    assert fake.gateway.connect_queries[0] == {"v": "10", "encoding": "json", "compress": "zlib-stream"}
    assert fake.gateway.identifies[0]["intents"] == discord.Intents.default().value
    nsfw, sfw, voice, thread = (bot.get_channel(int(world[k]["id"])) for k in ("nsfw", "sfw", "voice", "thread"))
    assert isinstance(nsfw, discord.TextChannel) and nsfw.is_nsfw()
    assert isinstance(sfw, discord.TextChannel) and not sfw.is_nsfw()
    assert isinstance(voice, discord.VoiceChannel) and voice.is_nsfw()
    assert isinstance(thread, discord.Thread) and thread.parent is nsfw and thread.is_nsfw()


async def test_slash_command_over_the_gateway_is_answered(fake: FakeDiscord, bot: commands.AutoShardedBot,
                                                          world: dict[str, Any]) -> None:
    handle = await fake.slash(world["user"], world["nsfw"], "spicy", {"prompt": "hey"})
    response = await handle.response()
    assert response.json["data"]["content"] == "hey nsfw=True"
    # Discord reports the bot's own message back, and the bot ignores it.
    await fake.wait_until(lambda: any(f["t"] == "MESSAGE_CREATE" for f in fake.gateway.ready_sessions[0].history))


async def test_message_create_reaches_on_message(fake: FakeDiscord, bot: commands.AutoShardedBot,
                                                 world: dict[str, Any]) -> None:
    sent = await fake.send_message(world["user"], world["nsfw"], "hello there", mentions_bot=True)
    message = await asyncio.wait_for(_probe(bot).messages.get(), 2)
    assert message.id == int(sent["id"]) and message.content.endswith("hello there")
    assert message.channel == bot.get_channel(int(world["nsfw"]["id"]))


async def test_without_the_content_intent_guild_messages_arrive_blank(
        fake: FakeDiscord, bot: commands.AutoShardedBot, world: dict[str, Any]) -> None:
    await fake.send_message(world["user"], world["nsfw"], "not for you")
    message = await asyncio.wait_for(_probe(bot).messages.get(), 2)
    assert message.content == ""
    dm = fake.dm_channel(world["user"])
    await fake.send_message(world["user"], dm, "DMs keep their content")
    assert (await asyncio.wait_for(_probe(bot).messages.get(), 2)).content == "DMs keep their content"


async def test_channel_update_turns_the_cached_flag_off(fake: FakeDiscord, bot: commands.AutoShardedBot,
                                                       world: dict[str, Any]) -> None:
    updated = bot.wait_for("guild_channel_update", timeout=2)
    fake.update_channel(world["nsfw"]["id"], nsfw=False)
    before, after = await updated
    assert before.is_nsfw() and not after.is_nsfw()
    handle = await fake.slash(world["user"], world["nsfw"], "spicy", {"prompt": "now"})
    assert (await handle.response()).json["data"]["content"] == "now nsfw=False"


async def test_reconnect_resumes_the_session(fake: FakeDiscord, bot: commands.AutoShardedBot,
                                             world: dict[str, Any]) -> None:
    resumed = bot.wait_for("resumed", timeout=5)
    await fake.reconnect()
    await resumed
    assert len(fake.gateway.identifies) == 1  # resumed, not identified again
    handle = await fake.slash(world["user"], world["nsfw"], "spicy", {"prompt": "still here"})
    assert (await handle.response()).json["data"]["content"] == "still here nsfw=True"


EXPECTED_CHANNEL = {
    "nsfw_text": "TextChannel nsfw=True", "sfw_text": "TextChannel nsfw=False",
    "nsfw_voice": "VoiceChannel nsfw=True", "sfw_voice": "VoiceChannel nsfw=False",
    "thread_parent_cached": "Thread parent=cached", "thread_parent_uncached": "Thread parent=missing",
    "thread_sfw_parent": "Thread parent=cached", "forum_post_nsfw": "Thread parent=cached",
    "bot_dm": "DMChannel", "user_dm": "DMChannel", "group_dm": "GroupChannel",
    "flag_turned_off": "TextChannel nsfw=False", "unknown_channel": "NoneType",
}


@pytest.mark.parametrize("key", sorted(PLACES))
async def test_every_place_reaches_the_connected_bot(fake: FakeDiscord, bot: commands.AutoShardedBot,
                                                     key: str) -> None:
    setup = fake.add_place(key)  # after READY: sent as GUILD_CREATE (+ CHANNEL_UPDATE) right now
    handle = await fake.slash(None, setup, "where")
    assert (await handle.response()).json["data"]["content"] == EXPECTED_CHANNEL[key]


async def test_button_modal_and_autocomplete_over_the_gateway(fake: FakeDiscord, bot: commands.AutoShardedBot,
                                                               world: dict[str, Any]) -> None:
    shown = await fake.slash(world["user"], world["nsfw"], "where")
    await shown.response()
    assert shown.original is not None
    clicked = await fake.click(world["user"], world["nsfw"], shown.original["id"], "where:more")
    assert (await clicked.response()).json["type"] == 9
    submitted = await fake.submit_modal(world["user"], world["nsfw"], "note", {"note:text": "hi"})
    assert (await submitted.response()).json["data"]["content"] == "noted: hi"
    typed = await fake.autocomplete(world["user"], world["nsfw"], "spicy", "prompt", "o")
    assert await typed.choices() == [{"name": "one", "value": "1"}]


async def test_a_plain_bot_connects_too_and_chunks_members(fake: FakeDiscord, world: dict[str, Any]) -> None:
    # commands.Bot uses discord.py's fixed gateway address; the harness points that at the fake.
    intents = discord.Intents.default()
    intents.members = True  # makes discord.py request members (op 8) before on_ready

    def make_plain() -> commands.Bot:
        return commands.Bot(command_prefix=commands.when_mentioned, intents=intents)

    async with connected_bot(make_plain, fake) as plain:
        guild = plain.get_guild(int(world["guild"]["id"]))
        assert guild is not None and guild.chunked
        assert {m.name for m in guild.members} == {"lustify", "owner"}
    assert [f["op"] for f in fake.gateway.received] == [8]  # REQUEST_GUILD_MEMBERS, answered with a chunk


async def test_two_shards_each_get_their_own_guilds_and_interactions() -> None:
    async with FakeDiscord(shards=2) as fake:
        # Shard of a guild = (guild_id >> 22) % shards: one guild for each shard.
        guilds = [fake.add_guild(id=str((1 << 40 | shard) << 22)) for shard in (0, 1)]
        channels = [fake.add_channel(g["id"], "text", nsfw=True) for g in guilds]
        user = fake.add_user("bob")

        def make_quick() -> commands.AutoShardedBot:
            bot = make_bot()

            async def no_identify_spacing(shard_id: int | None, *, initial: bool = False) -> None:
                pass  # discord.py waits 5 s between IDENTIFYs; the fake has no such limit

            bot.before_identify_hook = no_identify_spacing  # type: ignore[method-assign]
            return bot

        async with connected_bot(make_quick, fake) as bot:
            assert bot.shard_count == 2
            ready = {s.shard_id: s.history[0]["d"]["guilds"] for s in fake.gateway.ready_sessions}
            assert ready == {0: [{"id": guilds[0]["id"], "unavailable": True}],
                             1: [{"id": guilds[1]["id"], "unavailable": True}]}
            for channel in channels:
                handle = await fake.slash(user, channel, "spicy", {"prompt": "x"})
                assert (await handle.response()).json["data"]["content"] == "x nsfw=True"
        assert fake.violations == []


# ---------------------------------------------------------------- a bot in another process

BOT_SCRIPT = textwrap.dedent("""
    import asyncio, os
    import discord
    from discord import app_commands
    from discord.ext import commands

    discord.http.Route.BASE = os.environ["DISCORD_API_BASE"]  # what the production config does
    bot = commands.AutoShardedBot(command_prefix=commands.when_mentioned, intents=discord.Intents.default())

    @bot.tree.command(name="ping", description="Answer", nsfw=True)
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"pong from pid {os.getpid()}")

    bot.run(os.environ["DISCORD_TOKEN"], log_handler=None)
""")


@contextlib.asynccontextmanager
async def bot_process(fake: FakeDiscord) -> AsyncIterator[asyncio.subprocess.Process]:
    env = {**os.environ, "DISCORD_API_BASE": fake.api_base, "DISCORD_TOKEN": "fake-token"}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", BOT_SCRIPT, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 10)
        if proc.returncode not in (0, -15):
            print(err.decode(errors="replace"))


async def test_a_bot_in_a_subprocess_logs_in_connects_and_answers(fake: FakeDiscord,
                                                                  world: dict[str, Any]) -> None:
    async with bot_process(fake) as proc:
        await fake.wait_ready(timeout=15)
        assert fake.find("GET", "/gateway/bot")
        handle = await fake.slash(world["user"], world["nsfw"], "ping")
        response = await handle.response(timeout=10)
        assert response.json["data"]["content"] == f"pong from pid {proc.pid}"
