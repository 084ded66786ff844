"""The fake Discord answers a real discord.py bot the way Discord would, and records it exactly.

A plain ``AutoShardedBot`` with a small nsfw cog (defined here; the production bot is built
elsewhere) logs in to the fake; interactions are fed in-process through ``tests.harness``.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests import payloads as p
from tests.fakes.discord import SPEC_PATH, FakeDiscord, Rule
from tests.harness import dispatch_message, invoke, prime_place, running_bot
from tests.places import PLACES

pytestmark = pytest.mark.skipif(not SPEC_PATH.exists(), reason=f"Discord's OpenAPI file is not at {SPEC_PATH}")

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


class Feedback(discord.ui.Modal, title="Feedback"):
    text = discord.ui.TextInput(label="Your words", custom_id="feedback:text")

    def __init__(self) -> None:
        super().__init__()
        self.mood_input: discord.ui.TextInput[Feedback] = discord.ui.TextInput(custom_id="feedback:mood")
        self.add_item(discord.ui.Label(text="Mood", component=self.mood_input))  # 2.7: input in a label

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"thanks: {self.text.value} ({self.mood_input.value})")


class Buttons(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Again", custom_id="spicy:again")
    async def again(self, interaction: discord.Interaction, button: discord.ui.Button[Buttons]) -> None:
        await interaction.response.edit_message(content="again!", view=None)


class Conversation(app_commands.Group):
    """A group with a nested group, to check sub-command payloads (types 1 and 2)."""

    def __init__(self) -> None:
        super().__init__(name="conversation", description="Conversations", nsfw=True)

    export = app_commands.Group(name="export", description="Export")

    @app_commands.command(name="resume", description="Resume one")
    async def resume(self, interaction: discord.Interaction, number: int, partner: discord.User) -> None:
        await interaction.response.send_message(f"resume {number} with {partner.name}")

    @export.command(name="json", description="As JSON")
    async def as_json(self, interaction: discord.Interaction, pretty: bool) -> None:
        await interaction.response.send_message(f"json pretty={pretty}")


class NsfwCog(commands.Cog):
    def __init__(self) -> None:
        self.seen: list[str] = []

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        await asyncio.sleep(0)  # a listener that yields: dispatch_message must still wait for it
        self.seen.append(message.content)

    @app_commands.command(name="spicy", description="Make a picture", nsfw=True)
    async def spicy(self, interaction: discord.Interaction, prompt: str) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send(f"done: {prompt}", file=discord.File(io.BytesIO(PNG), "x.png"))

    @app_commands.command(name="hello", description="Say hi privately", nsfw=True)
    async def hello(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("hi", ephemeral=True)
        await interaction.edit_original_response(content="hi again")

    @app_commands.command(name="feedback", description="Open a modal", nsfw=True)
    async def feedback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(Feedback())

    @app_commands.command(name="pick", description="Autocomplete", nsfw=True)
    async def pick(self, interaction: discord.Interaction, name: str) -> None:
        await interaction.response.send_message(name)

    @pick.autocomplete("name")
    async def pick_names(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=n, value=n) for n in ("ava", "bea", "cleo") if n.startswith(current)]

    @app_commands.command(name="upload", description="Read an attachment", nsfw=True)
    async def upload(self, interaction: discord.Interaction, file: discord.Attachment) -> None:
        data = await file.read()
        await interaction.response.send_message(f"{len(data)} bytes: {data.decode()}")


def make_bot() -> commands.AutoShardedBot:
    bot = commands.AutoShardedBot(command_prefix=commands.when_mentioned, intents=discord.Intents.default())

    async def setup_hook() -> None:
        await bot.add_cog(NsfwCog())
        bot.tree.add_command(Conversation())
        bot.add_view(Buttons())

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server
        # Tests that provoke violations on purpose clear them after checking.
        assert server.violations == [], server.violations
        assert server.unhandled == [], server.unhandled


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[commands.AutoShardedBot]:
    async with running_bot(make_bot, fake) as logged_in:
        yield logged_in  # type: ignore[misc]


@pytest.fixture
def world(fake: FakeDiscord) -> dict[str, Any]:
    guild = fake.add_guild()
    return {"guild": guild, "nsfw": fake.add_channel(guild["id"], "text", nsfw=True),
            "sfw": fake.add_channel(guild["id"], "text"), "user": fake.add_user("bob")}


async def _raw(fake: FakeDiscord, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(
            method, fake.api_base + path, json=body, headers={"Authorization": "Bot fake-token"}) as resp:
        return resp.status, await resp.json(content_type=None)


# ---------------------------------------------------------------- login and sync


async def test_login_asks_for_the_bot_user_and_the_application(fake: FakeDiscord, bot: commands.Bot) -> None:
    assert [(r.method, r.path) for r in fake.requests] == [("GET", "/users/@me"), ("GET", "/oauth2/applications/@me")]
    assert bot.user is not None and bot.user.id == int(p.BOT_ID)
    assert bot.application_id == int(p.APP_ID)
    assert fake.requests[0].headers["Authorization"] == "Bot fake-token"


async def test_sync_stores_the_body_and_echoes_commands_with_ids(fake: FakeDiscord, bot: commands.Bot) -> None:
    synced = await bot.tree.sync()
    body = fake.last_sync()
    assert {c["name"] for c in body} == {"spicy", "hello", "feedback", "pick", "upload", "conversation"}
    assert all(c["nsfw"] is True for c in body)
    assert {c.id for c in synced} == {int(c["id"]) for c in fake.synced_commands()}
    again = await bot.tree.sync()
    assert {c.id for c in again} == {c.id for c in synced}  # ids stay stable across syncs
    assert fake.violations == []


# ---------------------------------------------------------------- interactions


async def test_defer_then_followup_records_the_file_exactly(fake: FakeDiscord, bot: commands.Bot,
                                                            world: dict[str, Any]) -> None:
    payload = fake.slash_payload(world["user"], world["nsfw"], "spicy", {"prompt": "a cat"})
    handle = await invoke(bot, payload, fake=fake)
    assert handle is not None
    assert (await handle.response()).json == {"type": 5}
    (followup,) = await handle.followups()
    assert followup.query["wait"] == "1"
    assert followup.json["content"] == "done: a cat"
    assert followup.files == [("files[0]", "x.png", PNG)]
    url = handle.messages[-1]["attachments"][0]["url"]
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert await resp.read() == PNG
    assert handle.original is not None and handle.original["flags"] & (1 << 7)  # still "thinking"
    assert fake.violations == []


async def test_ephemeral_reply_then_edit_of_the_original(fake: FakeDiscord, bot: commands.Bot,
                                                         world: dict[str, Any]) -> None:
    payload = fake.slash_payload(world["user"], world["nsfw"], "hello")
    await invoke(bot, payload)
    handle = fake.handle(payload)
    response = await handle.response()
    assert response.json == {"type": 4, "data": {"content": "hi", "tts": False, "flags": 64}}
    assert response.query == {"with_response": "1"}
    (edit,) = await handle.edits()
    assert edit.json["content"] == "hi again"
    assert handle.original is not None and handle.original["content"] == "hi again"
    assert handle.original["flags"] & 64


async def test_button_click_runs_the_persistent_view(fake: FakeDiscord, bot: commands.Bot,
                                                     world: dict[str, Any]) -> None:
    row = {"type": 1, "components": [{"type": 2, "style": 2, "label": "Again", "custom_id": "spicy:again"}]}
    msg = fake.add_message(world["nsfw"], "first", components=[row])
    payload = fake.click_payload(world["user"], world["nsfw"], msg["id"], "spicy:again")
    await invoke(bot, payload)
    assert (await fake.handle(payload).response()).json["type"] == 7
    assert fake.world.messages[msg["id"]]["content"] == "again!"
    assert fake.world.messages[msg["id"]]["components"] == []


async def test_modal_is_shown_and_its_submit_reaches_on_submit(fake: FakeDiscord, bot: commands.Bot,
                                                               world: dict[str, Any]) -> None:
    opened = fake.slash_payload(world["user"], world["nsfw"], "feedback")
    await invoke(bot, opened)
    modal = (await fake.handle(opened).response()).json
    assert modal["type"] == 9 and [c["type"] for c in modal["data"]["components"]] == [1, 18]
    values = {"feedback:text": "lovely", "feedback:mood": "happy"}
    submit = fake.modal_payload(world["user"], world["nsfw"], modal["data"]["custom_id"], values)
    await invoke(bot, submit)
    answer = (await fake.handle(submit).response()).json
    assert answer["type"] == 4 and answer["data"]["content"] == "thanks: lovely (happy)"


async def test_autocomplete_answers_with_choices(fake: FakeDiscord, bot: commands.Bot,
                                                 world: dict[str, Any]) -> None:
    await bot.tree.sync()
    payload = fake.autocomplete_payload(world["user"], world["nsfw"], "pick", "name", "b")
    await invoke(bot, payload)
    assert await fake.handle(payload).choices() == [{"name": "bea", "value": "bea"}]


async def test_attachment_option_bytes_are_served_by_the_fake(fake: FakeDiscord, bot: commands.Bot,
                                                              world: dict[str, Any]) -> None:
    await bot.tree.sync()  # lets the driver read the option type (11) from the synced command
    payload = fake.slash_payload(world["user"], world["nsfw"], "upload", {"file": ("a.txt", b"hello")})
    assert payload["data"]["options"][0]["type"] == 11
    await invoke(bot, payload)
    assert (await fake.handle(payload).response()).json["data"]["content"] == "5 bytes: hello"


@pytest.mark.parametrize(("name", "options", "answer"), [
    ("conversation resume", {"number": 3, "partner": "PARTNER"}, "resume 3 with carol"),
    ("conversation export json", {"pretty": True}, "json pretty=True"),
])
async def test_sub_commands_and_groups_reach_their_callback(fake: FakeDiscord, bot: commands.Bot,
                                                            world: dict[str, Any], name: str,
                                                            options: dict[str, Any], answer: str) -> None:
    await bot.tree.sync()
    carol = fake.add_user("carol")
    options = {k: carol if v == "PARTNER" else v for k, v in options.items()}
    payload = fake.slash_payload(world["user"], world["nsfw"], name, options)
    assert payload["data"]["name"] == "conversation"
    await invoke(bot, payload)
    assert (await fake.handle(payload).response()).json["data"]["content"] == answer


async def test_dispatch_message_waits_for_listeners(fake: FakeDiscord, bot: commands.Bot,
                                                    world: dict[str, Any]) -> None:
    payload = p.message_create(channel_id=world["nsfw"]["id"], guild_id=world["guild"]["id"],
                               author=world["user"], content="hello", mentions_bot=True)
    await dispatch_message(bot, payload)
    cog = bot.get_cog("NsfwCog")
    assert isinstance(cog, NsfwCog) and cog.seen == [f"<@{p.BOT_ID}> hello"]


async def test_payloads_built_without_the_fake_are_answered_too(fake: FakeDiscord, bot: commands.Bot) -> None:
    setup = PLACES["bot_dm"].setup()  # never registered with the fake, as in testing.md §4
    payload = p.slash_interaction(name="hello", **setup.interaction_kwargs())
    await invoke(bot, payload)
    (callback,) = fake.find("POST", rf"/interactions/{payload['id']}/.+/callback")
    assert callback.json["data"]["content"] == "hi"
    assert fake.find("PATCH", rf"/webhooks/{p.APP_ID}/.+/messages/@original")[0].status == 200


async def test_a_second_acknowledgement_is_refused(fake: FakeDiscord, world: dict[str, Any]) -> None:
    payload = fake.slash_payload(world["user"], world["nsfw"], "hello")
    path = f"/interactions/{payload['id']}/{payload['token']}/callback?with_response=1"
    assert (await _raw(fake, "POST", path, {"type": 5}))[0] == 200
    status, body = await _raw(fake, "POST", path, {"type": 5})
    assert (status, body["code"]) == (400, 40060)


# ---------------------------------------------------------------- channels, messages, validation


async def test_multipart_message_records_every_file_in_order(fake: FakeDiscord, bot: commands.Bot,
                                                             world: dict[str, Any]) -> None:
    channel = await bot.fetch_channel(int(world["nsfw"]["id"]))
    assert isinstance(channel, discord.TextChannel) and channel.is_nsfw()
    files = [discord.File(io.BytesIO(PNG), "one.png"), discord.File(io.BytesIO(b"two"), "two.txt")]
    sent = await channel.send("pics", files=files)
    (recorded,) = fake.find("POST", r"/channels/\d+/messages")
    assert recorded.files == [("files[0]", "one.png", PNG), ("files[1]", "two.txt", b"two")]
    assert [a["filename"] for a in recorded.json["attachments"]] == ["one.png", "two.txt"]
    assert [a.filename for a in sent.attachments] == ["one.png", "two.txt"]
    assert await sent.attachments[1].read() == b"two"
    edited = await sent.edit(content="pics!")
    assert edited.content == "pics!" and len(edited.attachments) == 2
    assert fake.violations == []


async def test_avatars_come_from_the_fake_cdn(fake: FakeDiscord, bot: commands.Bot) -> None:
    assert bot.user is not None
    png = await bot.user.display_avatar.read()
    assert png.startswith(b"\x89PNG") and bot.user.display_avatar.url.startswith(fake.cdn_base)


async def test_unknown_and_forbidden_channels(fake: FakeDiscord, bot: commands.Bot, world: dict[str, Any]) -> None:
    with pytest.raises(discord.NotFound):
        await bot.fetch_channel(int(p.new_id()))
    fake.forbid_channel(world["sfw"]["id"])
    with pytest.raises(discord.Forbidden):
        await bot.fetch_channel(int(world["sfw"]["id"]))


async def test_a_body_that_breaks_the_spec_is_a_violation_and_a_400(fake: FakeDiscord, world: dict[str, Any]) -> None:
    status, body = await _raw(fake, "POST", f"/channels/{world['nsfw']['id']}/messages", {"content": 123})
    assert (status, body["code"]) == (400, 50035)
    assert any("$.content" in v for v in fake.violations), fake.violations
    fake.violations.clear()


async def test_discord_limits_beyond_the_spec_are_enforced(fake: FakeDiscord, bot: commands.Bot,
                                                           world: dict[str, Any]) -> None:
    channel = await bot.fetch_channel(int(world["nsfw"]["id"]))
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.HTTPException) as raised:
        await channel.send("x" * 2001)
    assert raised.value.code == 50035
    assert any("2001 characters" in v for v in fake.violations)
    fake.violations.clear()


async def test_unknown_routes_are_violations(fake: FakeDiscord) -> None:
    status, _ = await _raw(fake, "GET", "/no/such/route")
    assert status == 404
    assert fake.violations == ["GET /no/such/route: no such route in openapi.json"]
    fake.violations.clear()


async def test_wait_for_times_out_with_what_was_seen(fake: FakeDiscord, bot: commands.Bot) -> None:
    with pytest.raises(AssertionError, match="GET /users/@me"):
        await fake.wait_for("POST", r"/nothing", timeout=0.05)


# ---------------------------------------------------------------- webhooks


async def test_webhook_create_execute_edit_and_thread(fake: FakeDiscord, bot: commands.Bot,
                                                      world: dict[str, Any]) -> None:
    channel = await bot.fetch_channel(int(world["nsfw"]["id"]))
    assert isinstance(channel, discord.TextChannel)
    hook = await channel.create_webhook(name="Persona relay")
    sent = await hook.send("hello", username="Ava", wait=True)
    assert sent.author.name == "Ava" and sent.webhook_id == hook.id
    await hook.edit_message(sent.id, content="hello!")
    assert fake.world.messages[str(sent.id)]["content"] == "hello!"
    thread = fake.add_thread(world["nsfw"]["id"])
    in_thread = await hook.send("in thread", wait=True, thread=discord.Object(int(thread["id"])))
    assert fake.world.messages[str(in_thread.id)]["channel_id"] == thread["id"]
    assert [h.id for h in await channel.webhooks()] == [hook.id]
    assert fake.violations == []


async def test_webhook_404_once_then_deleted_for_good(fake: FakeDiscord, bot: commands.Bot,
                                                      world: dict[str, Any]) -> None:
    channel = await bot.fetch_channel(int(world["nsfw"]["id"]))
    assert isinstance(channel, discord.TextChannel)
    hook = await channel.create_webhook(name="Persona relay")
    fake.webhook_404_once(hook.id)
    with pytest.raises(discord.NotFound):
        await hook.send("lost", wait=True)
    await hook.send("works again", wait=True)
    fake.delete_webhook(hook.id)
    with pytest.raises(discord.NotFound):
        await hook.send("gone", wait=True)


async def test_missing_manage_webhooks_is_403_50013(fake: FakeDiscord, bot: commands.Bot,
                                                    world: dict[str, Any]) -> None:
    fake.deny_manage_webhooks(world["nsfw"]["id"])
    channel = await bot.fetch_channel(int(world["nsfw"]["id"]))
    assert isinstance(channel, discord.TextChannel)
    assert channel.overwrites_for(discord.Object(int(p.BOT_ID))).manage_webhooks is False
    with pytest.raises(discord.Forbidden) as raised:
        await channel.create_webhook(name="Persona relay")
    assert raised.value.code == 50013


# ---------------------------------------------------------------- rate limits


async def test_rate_limit_serves_429_with_via_and_retry_after(fake: FakeDiscord, world: dict[str, Any]) -> None:
    fake.enable_rate_limits(default=Rule(2, 5.0))
    path = f"/channels/{world['nsfw']['id']}"
    assert [(await _raw(fake, "GET", path))[0] for _ in range(2)] == [200, 200]
    async with aiohttp.ClientSession() as session, session.get(
            fake.api_base + path, headers={"Authorization": "Bot fake-token"}) as resp:
        body = await resp.json(content_type=None)
        assert resp.status == 429 and resp.headers["Via"] and resp.headers["X-RateLimit-Remaining"] == "0"
    assert body["global"] is False and 0 < body["retry_after"] <= 5
    assert fake.served_429 == 1 and len(fake.rate_limited) == 1


async def test_discord_py_obeys_the_headers_and_never_hits_429(fake: FakeDiscord, bot: commands.Bot,
                                                               world: dict[str, Any]) -> None:
    fake.enable_rate_limits(default=Rule(2, 0.3))
    channel = await bot.fetch_channel(int(world["nsfw"]["id"]))
    assert isinstance(channel, discord.TextChannel)
    for n in range(5):
        await channel.send(f"message {n}")
    assert len(fake.find("POST", r"/channels/\d+/messages")) == 5
    assert fake.served_429 == 0


# ---------------------------------------------------------------- the places table


async def _reference_gate(bot: commands.Bot, interaction: discord.Interaction) -> bool:
    # Test oracle written from discord-platform.md §1 (not the production gate): the table's
    # adult_allowed column must agree with what a correct gate concludes from real objects.
    if interaction.context.dm_channel:
        return True
    if interaction.guild_id is None:
        return False
    channel = interaction.channel
    if isinstance(channel, discord.Thread):
        parent = channel.parent or await bot.fetch_channel(channel.parent_id)
        return isinstance(parent, discord.TextChannel | discord.ForumChannel) and parent.is_nsfw()
    return isinstance(channel, discord.TextChannel | discord.VoiceChannel) and channel.is_nsfw()


@pytest.mark.parametrize("key", sorted(PLACES))
async def test_every_place_builds_a_real_interaction_that_matches_its_verdict(
        fake: FakeDiscord, bot: commands.Bot, key: str) -> None:
    setup = fake.add_place(key)
    prime_place(bot, setup)
    interaction = discord.Interaction(data=p.slash_interaction(name="spicy", **setup.interaction_kwargs()),
                                      state=bot._connection)
    assert await _reference_gate(bot, interaction) is setup.place.adult_allowed
    if key == "thread_parent_uncached":
        assert isinstance(interaction.channel, discord.Thread) and interaction.channel.parent is None
        assert fake.find("GET", rf"/channels/{interaction.channel.parent_id}")
    if key == "unknown_channel":
        assert interaction.channel is None
