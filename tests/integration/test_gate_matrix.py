"""THE GATE MATRIX (DESIGN §4): every place × every entry point, through the production bot.

The bot is `bot.client.make_bot` with every cog, logged in to the local fake Discord and connected
to its gateway, so the guild and channel cache (age-restricted flags included) comes from READY,
GUILD_CREATE and CHANNEL_UPDATE exactly as in production. Venice is the local fake. Each event is
fed with `tests.harness` (the same parser the gateway calls), which waits until the bot has
completely finished handling it: "nothing else happened" is only provable once it has.

Where adult content is not allowed, every entry point must end in a private refusal (or empty
autocomplete choices, or a short reply to a plain message) and nothing else: no Venice request at
all, no row written or changed in any table, no other Discord call. Where it is allowed, the same
actions are really served.
"""

from __future__ import annotations

import asyncio
import copy
import io
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest
from discord import app_commands
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from bot import gate
from bot.audio import VoiceClip, encode_voice_clip
from bot.client import LustifyBot, make_bot
from bot.config import Env
from bot.store.models import Base
from cogs.chat import DM_LOCKED
from tests import payloads as p
from tests.conftest import DISCORD_TOKEN
from tests.e2e import Result, clean_env, run_cli
from tests.fakes.discord import SPEC_PATH, FakeDiscord, InteractionHandle, Recorded
from tests.fakes.venice import FakeVenice
from tests.fakes.venice_media import synthesize
from tests.harness import connected_bot, dispatch_message, invoke
from tests.places import PLACES, PlaceSetup

pytestmark = pytest.mark.skipif(not SPEC_PATH.exists(), reason=f"Discord's OpenAPI file is not at {SPEC_PATH}")

REFUSED = sorted(k for k, place in PLACES.items() if not place.adult_allowed)
ALLOWED = sorted(k for k, place in PLACES.items() if place.adult_allowed)
REFUSALS = (gate.REFUSAL, gate.USER_INSTALL_REFUSAL)
EPHEMERAL = 1 << 6
HELPER = "nsfw_text"  # where the replies, images and modals used from other places come from
SAY = "She smiles and pours two glasses of wine."
ENTRIES = ["slash", "autocomplete", "chat_button", "image_button", "chat_modal", "image_modal", "message",
           "voice_message", "picture_message", "picture_slash", "voice_preview", "alter_modal"]
VOICE_FLAG = 1 << 13
HEARD = "I brought you a glass of wine."


def voice_clip() -> VoiceClip:
    return encode_voice_clip([synthesize(HEARD, "mp3")])


def picture_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (256, 192), (40, 160, 90)).save(out, format="PNG")
    return out.getvalue()


@dataclass
class Opened:
    """A modal the bot opened: its custom_id, values to submit, and the message whose button opened it."""

    custom_id: str
    values: dict[str, str]
    message: dict[str, Any]


@dataclass
class Snapshot:
    venice: int
    discord: int
    db: dict[str, list[str]]


def text_of(message: dict[str, Any]) -> str:
    """What a message shows: its content and embed descriptions (persona fallback in DMs)."""
    return "\n".join([message.get("content") or "", *[e.get("description") or "" for e in message["embeds"]]])


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components", []) for c in row.get("components", [])
            if "custom_id" in c]


class Matrix:
    """The connected production bot, the fakes, and what the tests need to act and to prove nothing happened."""

    def __init__(self, bot: LustifyBot, fake: FakeDiscord, venice: FakeVenice, db_url: str) -> None:
        self.bot = bot
        self.fake = fake
        self.venice = venice
        self.reader = create_async_engine(db_url)  # a separate connection: only committed rows count

    async def close(self) -> None:
        await self.reader.dispose()

    # -- places -------------------------------------------------------------------------------

    async def place(self, key: str) -> PlaceSetup:
        """Add a place to the fake Discord; its GUILD_CREATE (and later events) reach the bot by gateway."""
        setup = self.fake.add_place(key)
        await self.until_cached(setup)
        return setup

    async def until_cached(self, setup: PlaceSetup, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        if setup.guild is None:
            return
        gid = int(setup.guild["id"])

        def applied() -> bool:
            guild = self.bot.get_guild(gid)
            if guild is None:
                return False
            for _, data in setup.updates:
                channel = guild.get_channel_or_thread(int(data["id"]))
                if channel is None or getattr(channel, "nsfw", None) != data.get("nsfw"):
                    return False
            return True

        async with asyncio.timeout(timeout):
            while not applied():  # noqa: ASYNC110 - the bot signals nothing we could await
                await asyncio.sleep(0.01)

    # -- acting -------------------------------------------------------------------------------

    async def run(self, payload: dict[str, Any]) -> InteractionHandle:
        await invoke(self.bot, payload, timeout=20)
        return self.fake.handle(payload)

    async def slash(self, setup: PlaceSetup, name: str, options: Any = None, *, user: Any = None
                    ) -> InteractionHandle:
        return await self.run(self.fake.slash_payload(user or setup.user, setup, name, options))

    async def autocomplete(self, setup: PlaceSetup, name: str, focused: str, value: str = "",
                           *, user: Any = None) -> InteractionHandle:
        return await self.run(self.fake.autocomplete_payload(user or setup.user, setup, name, focused, value))

    async def click(self, setup: PlaceSetup, message: dict[str, Any], custom_id: str, *, user: Any = None
                    ) -> InteractionHandle:
        return await self.run(self.fake.click_payload(user or setup.user, setup, message["id"], custom_id))

    async def submit(self, setup: PlaceSetup, custom_id: str, values: dict[str, str], *,
                     message: dict[str, Any] | None = None, user: Any = None) -> InteractionHandle:
        """Submit a modal; `message` is the one whose button opened it (Discord sends it along)."""
        message_id = message["id"] if message is not None else None
        return await self.run(self.fake.modal_payload(user or setup.user, setup, custom_id, values,
                                                      message_id=message_id))

    async def say(self, setup: PlaceSetup, content: str, *, user: Any = None) -> dict[str, Any]:
        """A plain message: a mention of the bot in a guild, a plain DM otherwise."""
        author = self.fake.world.user(user or setup.user)
        msg = p.message_create(channel_id=setup.channel_id, author=author, content=content,
                               guild_id=setup.guild_id, mentions_bot=setup.guild_id is not None)
        self.fake.world.messages[msg["id"]] = msg
        await dispatch_message(self.bot, msg, timeout=20)
        return msg

    async def say_voice(self, setup: PlaceSetup, reply_to: dict[str, Any] | None, *, user: Any = None
                        ) -> dict[str, Any]:
        """A voice message (flag 8192, OGG/Opus with duration and waveform), replying to `reply_to`."""
        clip = voice_clip()
        author = self.fake.world.user(user or setup.user)
        att = self.fake.world.add_attachment(setup.channel_id, "voice-message.ogg", clip.data)
        att.update(duration_secs=clip.duration_secs, waveform=clip.waveform)
        msg = p.message_create(channel_id=setup.channel_id, author=author, content="", guild_id=setup.guild_id,
                               reply_to=reply_to, attachments=[att], flags=VOICE_FLAG)
        self.fake.world.messages[msg["id"]] = msg
        await dispatch_message(self.bot, msg, timeout=20)
        return msg

    async def say_picture(self, setup: PlaceSetup, content: str, *, user: Any = None) -> dict[str, Any]:
        """A message to the bot with a picture attached."""
        author = self.fake.world.user(user or setup.user)
        att = self.fake.world.add_attachment(setup.channel_id, "photo.png", picture_png())
        msg = p.message_create(channel_id=setup.channel_id, author=author, content=content, guild_id=setup.guild_id,
                               mentions_bot=setup.guild_id is not None, attachments=[att])
        self.fake.world.messages[msg["id"]] = msg
        await dispatch_message(self.bot, msg, timeout=20)
        return msg

    # -- what the bot produced ------------------------------------------------------------------

    def messages_in(self, setup: PlaceSetup) -> list[dict[str, Any]]:
        return [m for m in self.fake.world.messages.values() if m["channel_id"] == setup.channel_id]

    def latest_with(self, setup: PlaceSetup, prefix: str) -> dict[str, Any]:
        """The newest message in the place carrying a button whose custom_id starts with `prefix`."""
        found = [m for m in self.messages_in(setup) if any(c.startswith(prefix) for c in custom_ids(m))]
        assert found, f"no message with a {prefix!r} button in {setup.place.key}: {self.messages_in(setup)}"
        return found[-1]

    @staticmethod
    def button(message: dict[str, Any], action_prefix: str) -> str:
        return next(c for c in custom_ids(message) if c.startswith(action_prefix))

    def modal_inputs(self, custom_id: str) -> list[str]:
        """The text input custom_ids of the last modal the bot opened under `custom_id`."""
        for rec in reversed(list(self.fake.world.interactions.values())):
            data = (rec.response or {}).get("data") or {}
            if rec.response_type == 9 and data.get("custom_id") == custom_id:
                found = []
                for comp in data["components"]:
                    inner = [comp["component"]] if comp["type"] == 18 else comp.get("components", [])
                    found += [c["custom_id"] for c in inner if c.get("type") == 4]
                return found
        raise AssertionError(f"the bot never opened a modal {custom_id!r}")

    def chat_posts(self, since: int = 0) -> list[Any]:
        return [r for r in self.venice.requests[since:] if r.path == "/chat/completions"]

    def turn_posts(self) -> list[Any]:
        """The streamed chat requests (a character's replies; the judge's are not streamed)."""
        return [r for r in self.chat_posts() if r.json.get("stream")]

    def image_posts(self, since: int = 0) -> list[Any]:
        return [r for r in self.venice.requests[since:] if r.path == "/image/generate"]

    # -- proving that nothing happened -----------------------------------------------------------

    async def dump(self) -> dict[str, list[str]]:
        """Every row of every table, as sorted text: any insert, update or delete changes it."""
        out: dict[str, list[str]] = {}
        async with self.reader.connect() as conn:
            for table in Base.metadata.sorted_tables:
                rows = (await conn.execute(select(table))).all()
                out[table.name] = sorted(repr(tuple(row)) for row in rows)
        return out

    async def snapshot(self) -> Snapshot:
        await asyncio.sleep(0.02)  # let the helper actions' trailing gateway echoes settle
        return Snapshot(len(self.venice.requests), len(self.fake.requests), await self.dump())

    def new_discord(self, before: Snapshot) -> list[Recorded]:
        return self.fake.requests[before.discord:]

    def quick(self) -> Snapshot:
        """Counters only, for loops that compare the database once at the end."""
        return Snapshot(len(self.venice.requests), len(self.fake.requests), {})

    async def assert_untouched(self, before: Snapshot, what: str) -> None:
        venice = [(r.method, r.path) for r in self.venice.requests[before.venice:]]
        assert venice == [], f"{what}: Venice was called: {venice}"
        if not before.db:
            return  # a quick snapshot: the caller compares the database itself
        await asyncio.sleep(0.05)  # anything the bot might have started on the side gets its chance
        venice = [(r.method, r.path) for r in self.venice.requests[before.venice:]]
        assert venice == [], f"{what}: Venice was called: {venice}"
        after = await self.dump()
        changed = {t: (before.db[t], after[t]) for t in after if after[t] != before.db.get(t)}
        assert not changed, f"{what}: the database changed: {changed}"

    async def assert_refused(self, handle: InteractionHandle, before: Snapshot, what: str) -> None:
        """Exactly one Discord call, the private refusal; no Venice call; no database change."""
        calls = self.new_discord(before)
        assert [(c.method, c.path) for c in calls] == [
            ("POST", f"/interactions/{handle.id}/{handle.token}/callback")
        ], f"{what}: expected only the refusal, got {[(c.method, c.path, c.json) for c in calls]}"
        body = calls[0].json
        assert body["type"] == 4 and body["data"]["flags"] & EPHEMERAL, f"{what}: not a private message: {body}"
        assert body["data"]["content"] in REFUSALS, f"{what}: {body['data']['content']!r}"
        await self.assert_untouched(before, what)

    async def assert_no_choices(self, handle: InteractionHandle, before: Snapshot, what: str) -> None:
        calls = self.new_discord(before)
        assert [(c.method, c.path) for c in calls] == [
            ("POST", f"/interactions/{handle.id}/{handle.token}/callback")
        ], f"{what}: {[(c.method, c.path) for c in calls]}"
        assert calls[0].json == {"type": 8, "data": {"choices": []}}, f"{what}: {calls[0].json}"
        await self.assert_untouched(before, what)

    async def assert_message_refused(self, setup: PlaceSetup, before: Snapshot, what: str,
                                     texts: tuple[str, ...] = (*REFUSALS, DM_LOCKED)) -> None:
        """A plain message: at most a short reply in the same channel (and channel lookups), nothing else."""
        calls = self.new_discord(before)
        for call in calls:
            if call.method == "GET" and re.fullmatch(r"/channels/\d+", call.path):
                continue  # the gate looking up a channel it has not cached
            assert (call.method, call.path) == ("POST", f"/channels/{setup.channel_id}/messages"), (
                f"{what}: unexpected Discord call {call.method} {call.path}")
            assert call.json["content"] in texts, f"{what}: {call.json['content']!r}"
            assert call.json.get("allowed_mentions", {}).get("parse") == [], f"{what}: may ping: {call.json}"
        await self.assert_untouched(before, what)

    # -- helpers that make something to click ------------------------------------------------------

    async def chat_reply(self, setup: PlaceSetup, *, user: Any = None, text: str = SAY) -> dict[str, Any]:
        handle = await self.slash(setup, "chat", {"message": text}, user=user)
        response = await handle.response()
        assert response.json["type"] == 4, response.json
        return self.latest_with(setup, "chat:regen:")

    async def image(self, setup: PlaceSetup, *, user: Any = None) -> dict[str, Any]:
        handle = await self.slash(setup, "imagine", {"prompt": "a woman in a red dress on a balcony"}, user=user)
        message = handle.original
        assert message is not None and message["attachments"], [r.json for r in handle.requests]
        return message

    async def open_chat_modal(self, setup: PlaceSetup, *, user: Any = None) -> Opened:
        reply = await self.chat_reply(setup, user=user)
        custom_id = self.button(reply, "chat:edit:")
        opened = await self.click(setup, reply, custom_id, user=user)
        modal = (await opened.response()).json
        assert modal["type"] == 9, modal
        modal_id = modal["data"]["custom_id"]
        [field] = self.modal_inputs(modal_id)
        return Opened(modal_id, {field: "She laughs and raises her glass instead."}, reply)

    async def open_image_modal(self, setup: PlaceSetup, *, user: Any = None) -> Opened:
        message = await self.image(setup, user=user)
        opened = await self.click(setup, message, self.button(message, "img:edit:"), user=user)
        modal = (await opened.response()).json
        assert modal["type"] == 9, modal
        modal_id = modal["data"]["custom_id"]
        [field] = self.modal_inputs(modal_id)
        return Opened(modal_id, {field: "a woman in a blue dress on a balcony"}, message)

    async def open_alter_modal(self, setup: PlaceSetup, *, user: Any = None) -> Opened:
        """🪄 Edit picture's form (Venice /image/edit), opened on a generated image."""
        message = await self.image(setup, user=user)
        opened = await self.click(setup, message, self.button(message, "img:alter:"), user=user)
        modal = (await opened.response()).json
        assert modal["type"] == 9, modal
        modal_id = modal["data"]["custom_id"]
        [field] = self.modal_inputs(modal_id)
        return Opened(modal_id, {field: "make the dress deep red"}, message)

    def copy_to(self, setup: PlaceSetup, message: dict[str, Any], extra: Sequence[str] = ()) -> dict[str, Any]:
        """The same buttons (plus `extra` ones) on a bot message in another place.

        Custom ids carry only record ids, so such a message is what an old reply looks like from
        anywhere. discord.py ignores a click on a button the message does not carry, so every
        custom id a test clicks has to be on it.
        """
        channel = setup.channel_id or "0"
        rows = copy.deepcopy(message["components"])
        if extra:
            rows.append({"type": 1, "components": [{"type": 2, "style": 2, "custom_id": c} for c in extra]})
        return self.fake.add_message(channel, text_of(message), components=rows)


@pytest.fixture
async def matrix(settings: Env, fake_discord: FakeDiscord, fake_venice: FakeVenice,
                 db_url: str) -> AsyncIterator[Matrix]:
    fake_venice.reply_text = SAY
    async with connected_bot(lambda: make_bot(settings), fake_discord, token=DISCORD_TOKEN) as bot:
        assert isinstance(bot, LustifyBot)
        await bot.tree.sync()  # so the drivers know every option's type, as Discord would
        m = Matrix(bot, fake_discord, fake_venice, db_url)
        try:
            yield m
        finally:
            await m.close()
    assert fake_discord.violations == [], fake_discord.violations
    assert fake_venice.violations == [], fake_venice.violations


# ================================================================ refused places


Entry = Callable[[Matrix, PlaceSetup], Awaitable[None]]


async def refused_slash(m: Matrix, where: PlaceSetup) -> None:
    before = await m.snapshot()
    handle = await m.slash(where, "chat", {"message": SAY})
    await m.assert_refused(handle, before, f"/chat in {where.place.key}")


async def refused_autocomplete(m: Matrix, where: PlaceSetup) -> None:
    # Each of these would ask Venice (catalogue, styles, models) and read the database if let through.
    for name, option in (("character set", "character"), ("imagine", "style"), ("imagine", "model")):
        before = await m.snapshot()
        handle = await m.autocomplete(where, name, option, "a")
        await m.assert_no_choices(handle, before, f"autocomplete /{name} {option} in {where.place.key}")


async def refused_chat_button(m: Matrix, where: PlaceSetup) -> None:
    helper = await m.place(HELPER)
    reply = await m.chat_reply(helper, user=where.user)  # a real reply by the same person
    reply_id = m.button(reply, "chat:regen:").rsplit(":", 1)[1]
    # The buttons on the reply, and the ones a reply shows at other times (swipes, stop).
    here = m.copy_to(where, reply, extra=[f"chat:{action}:{reply_id}" for action in ("prev", "next", "stop")])
    for custom_id in custom_ids(here):
        before = await m.snapshot()
        handle = await m.click(where, here, custom_id)
        await m.assert_refused(handle, before, f"button {custom_id} in {where.place.key}")


async def refused_image_button(m: Matrix, where: PlaceSetup) -> None:
    helper = await m.place(HELPER)
    image = await m.image(helper, user=where.user)
    record_id = m.button(image, "img:reroll:").rsplit(":", 1)[1]
    here = m.copy_to(where, image, extra=[f"img:cancel:{record_id}"])  # ❌ shows while queued
    for custom_id in custom_ids(here):
        before = await m.snapshot()
        handle = await m.click(where, here, custom_id)
        await m.assert_refused(handle, before, f"button {custom_id} in {where.place.key}")


async def refused_chat_modal(m: Matrix, where: PlaceSetup) -> None:
    # Opened where it was allowed, submitted from here: the submit itself must be gated.
    helper = await m.place(HELPER)
    opened = await m.open_chat_modal(helper, user=where.user)
    here = m.copy_to(where, opened.message)
    before = await m.snapshot()
    handle = await m.submit(where, opened.custom_id, opened.values, message=here)
    await m.assert_refused(handle, before, f"modal {opened.custom_id} from {where.place.key}")


async def refused_image_modal(m: Matrix, where: PlaceSetup) -> None:
    helper = await m.place(HELPER)
    opened = await m.open_image_modal(helper, user=where.user)
    here = m.copy_to(where, opened.message)
    before = await m.snapshot()
    handle = await m.submit(where, opened.custom_id, opened.values, message=here)
    await m.assert_refused(handle, before, f"modal {opened.custom_id} from {where.place.key}")


async def refused_message(m: Matrix, where: PlaceSetup) -> None:
    before = await m.snapshot()
    await m.say(where, SAY)
    await m.assert_message_refused(where, before, f"plain message in {where.place.key}")


async def refused_alter_modal(m: Matrix, where: PlaceSetup) -> None:
    helper = await m.place(HELPER)
    opened = await m.open_alter_modal(helper, user=where.user)
    here = m.copy_to(where, opened.message)
    before = await m.snapshot()
    handle = await m.submit(where, opened.custom_id, opened.values, message=here)
    await m.assert_refused(handle, before, f"modal {opened.custom_id} from {where.place.key}")


async def refused_voice_message(m: Matrix, where: PlaceSetup) -> None:
    # A voice message answering one of the bot's messages here: refused before anything is heard.
    said = m.fake.add_message(where.channel_id or "0", "Hello.")
    before = await m.snapshot()
    await m.say_voice(where, said)
    await m.assert_message_refused(where, before, f"voice message in {where.place.key}")


async def refused_picture_message(m: Matrix, where: PlaceSetup) -> None:
    before = await m.snapshot()
    await m.say_picture(where, "Look at this.")
    await m.assert_message_refused(where, before, f"message with a picture in {where.place.key}")


async def refused_picture_slash(m: Matrix, where: PlaceSetup) -> None:
    before = await m.snapshot()
    handle = await m.slash(where, "chat", {"message": SAY, "image": ("photo.png", picture_png())})
    await m.assert_refused(handle, before, f"/chat with a picture in {where.place.key}")


async def refused_voice_preview(m: Matrix, where: PlaceSetup) -> None:
    # ▶ Preview of a character's voice (its custom id carries the character's id).
    here = m.fake.add_message(where.channel_id or "0", "Preview", components=[
        {"type": 1, "components": [{"type": 2, "style": 2, "custom_id": "voicepv:1", "label": "Preview"}]}])
    before = await m.snapshot()
    handle = await m.click(where, here, "voicepv:1")
    await m.assert_refused(handle, before, f"voice preview in {where.place.key}")


REFUSED_ENTRIES: dict[str, Entry] = {
    "slash": refused_slash, "autocomplete": refused_autocomplete, "chat_button": refused_chat_button,
    "image_button": refused_image_button, "chat_modal": refused_chat_modal,
    "image_modal": refused_image_modal, "message": refused_message,
    "voice_message": refused_voice_message, "picture_message": refused_picture_message,
    "picture_slash": refused_picture_slash, "voice_preview": refused_voice_preview,
    "alter_modal": refused_alter_modal,
}


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("key", REFUSED)
async def test_refused_place(matrix: Matrix, key: str, entry: str) -> None:
    where = await matrix.place(key)
    await REFUSED_ENTRIES[entry](matrix, where)


@pytest.mark.parametrize("key", REFUSED)
async def test_character_and_privacy_controls_are_refused(matrix: Matrix, key: str) -> None:
    # The other components and forms: catalogue ◀ ▶ and "use", the delete confirmation, the
    # character form, and /privacy delete's confirm button (a view bound to its message).
    where = await matrix.place(key)
    helper = await matrix.place(HELPER)
    browsed = await matrix.slash(helper, "character browse", user=where.user)
    await browsed.followups()
    [listing] = [m for m in browsed.messages if custom_ids(m)]
    here = matrix.copy_to(where, listing, extra=["lcdel:1"])
    asked = await matrix.slash(helper, "privacy delete", user=where.user)
    await asked.response()
    confirm = asked.original
    assert confirm is not None and "privacy:confirm" in custom_ids(confirm)
    opened = await matrix.slash(helper, "character create", user=where.user)
    form = (await opened.response()).json
    assert form["type"] == 9, form
    values = dict.fromkeys(matrix.modal_inputs(form["data"]["custom_id"]), "Ava")

    for message in (here, confirm):
        for custom_id in custom_ids(message):
            before = await matrix.snapshot()
            handle = await matrix.click(where, message, custom_id)
            await matrix.assert_refused(handle, before, f"{custom_id} in {key}")
    before = await matrix.snapshot()
    handle = await matrix.submit(where, form["data"]["custom_id"], values)
    await matrix.assert_refused(handle, before, f"the character form submitted from {key}")


@pytest.mark.parametrize("key", REFUSED)
async def test_scene_commands_controls_and_autocompletes_are_refused(matrix: Matrix, key: str) -> None:
    # /scene's commands and autocompletes, and the ⏭ Next button and "who answers" select of a
    # group scene (custom ids carry only a reply id and a reference, so any message may carry them).
    where = await matrix.place(key)
    commands = [("scene add", {"character": "builtin:scarlett"}), ("scene remove", {"character": "builtin:scarlett"}),
                ("scene list", None), ("scene mode", {"mode": "everyone"})]
    for name, options in commands:
        before = await matrix.snapshot()
        handle = await matrix.slash(where, name, options)
        await matrix.assert_refused(handle, before, f"/{name} in {key}")
    for name in ("scene add", "scene remove"):
        before = await matrix.snapshot()
        handle = await matrix.autocomplete(where, name, "character", "a")
        await matrix.assert_no_choices(handle, before, f"autocomplete /{name} in {key}")
    helper = await matrix.place(HELPER)
    reply = await matrix.chat_reply(helper, user=where.user)
    reply_id = matrix.button(reply, "chat:regen:").rsplit(":", 1)[1]
    here = matrix.copy_to(where, reply, extra=[f"scene:next:{reply_id}", f"scene:pick:{reply_id}"])
    for custom_id in (f"scene:next:{reply_id}", f"scene:pick:{reply_id}"):
        before = await matrix.snapshot()
        handle = await matrix.click(where, here, custom_id)
        await matrix.assert_refused(handle, before, f"{custom_id} in {key}")


# ================================================================ allowed places


async def allowed_slash(m: Matrix, where: PlaceSetup) -> None:
    handle = await m.slash(where, "chat", {"message": SAY})
    response = (await handle.response()).json
    assert response["type"] == 4 and not (response["data"].get("flags") or 0) & EPHEMERAL, response
    assert len(m.chat_posts()) == 1
    reply = m.latest_with(where, "chat:regen:")
    assert SAY in text_of(reply)


async def allowed_autocomplete(m: Matrix, where: PlaceSetup) -> None:
    handle = await m.autocomplete(where, "character set", "character", "")
    choices = await handle.choices()
    assert any("built in" in c["name"] for c in choices), choices
    styles = await (await m.autocomplete(where, "imagine", "style", "")).choices()
    assert {"name": "none", "value": "none"} in styles


async def allowed_chat_button(m: Matrix, where: PlaceSetup) -> None:
    reply = await m.chat_reply(where)
    m.venice.replies.append("She sets the glasses down and grins.")
    handle = await m.click(where, reply, m.button(reply, "chat:regen:"))
    assert (await handle.response()).json["type"] in (5, 6)
    assert len(m.chat_posts()) == 2
    regenerated = m.fake.world.messages[reply["id"]]
    assert "She sets the glasses down" in text_of(regenerated)
    assert any(c.startswith("chat:prev:") for c in custom_ids(regenerated))


async def allowed_image_button(m: Matrix, where: PlaceSetup) -> None:
    image = await m.image(where)
    handle = await m.click(where, image, m.button(image, "img:reroll:"))
    assert handle.original is not None and handle.original["attachments"]
    first, second = (r.json for r in m.image_posts())
    assert first["prompt"] == second["prompt"] and first["seed"] != second["seed"]


async def allowed_chat_modal(m: Matrix, where: PlaceSetup) -> None:
    opened = await m.open_chat_modal(where)
    handle = await m.submit(where, opened.custom_id, opened.values, message=opened.message)
    assert (await handle.response()).json["type"] in (5, 6)
    reply = m.latest_with(where, "chat:edit:")
    assert "She laughs and raises her glass instead." in text_of(reply)


async def allowed_image_modal(m: Matrix, where: PlaceSetup) -> None:
    opened = await m.open_image_modal(where)
    handle = await m.submit(where, opened.custom_id, opened.values, message=opened.message)
    assert handle.original is not None and handle.original["attachments"]
    assert m.image_posts()[-1].json["prompt"].startswith("a woman in a blue dress")


async def allowed_message(m: Matrix, where: PlaceSetup) -> None:
    if where.context == 1:
        # DM chat by plain message starts only after a command in that DM (DESIGN §4).
        before = await m.snapshot()
        await m.say(where, "hello?")
        await m.assert_message_refused(where, before, "DM before any command", texts=(DM_LOCKED,))
        assert "/chat" in DM_LOCKED
        await m.slash(where, "persona show")
    await m.say(where, SAY)
    assert len(m.chat_posts()) == 1
    reply = m.latest_with(where, "chat:regen:")
    assert SAY in text_of(reply)


async def allowed_alter_modal(m: Matrix, where: PlaceSetup) -> None:
    opened = await m.open_alter_modal(where)
    handle = await m.submit(where, opened.custom_id, opened.values, message=opened.message)
    assert handle.original is not None and handle.original["attachments"]
    [edit] = m.venice.requests_to("/image/edit", "POST")
    assert edit.json["prompt"] == "make the dress deep red"


async def unlock_dm(m: Matrix, where: PlaceSetup) -> None:
    if where.context == 1:
        await m.slash(where, "persona show")  # DM chat by plain message starts after a command there


async def allowed_voice_message(m: Matrix, where: PlaceSetup) -> None:
    await unlock_dm(m, where)
    reply = await m.chat_reply(where)
    m.venice.media.transcripts.append(HEARD)
    await m.say_voice(where, reply)
    assert len(m.venice.requests_to("/audio/transcriptions", "POST")) == 1
    assert any(msg["content"] == f"-# 🎙️ {HEARD}" for msg in m.messages_in(where))
    assert any(HEARD in str(msg.get("content")) for msg in m.turn_posts()[-1].json["messages"])
    # 🔊 Listen on the reply: a real voice message from the bot in the same place.
    answer = m.latest_with(where, "chat:listen:")
    await m.click(where, answer, m.button(answer, "chat:listen:"))
    voiced = [msg for msg in m.messages_in(where) if msg["flags"] & VOICE_FLAG and msg["author"]["id"] == p.BOT_ID]
    assert len(voiced) == 1 and voiced[0]["attachments"][0]["duration_secs"] > 0


async def allowed_picture_message(m: Matrix, where: PlaceSetup) -> None:
    await unlock_dm(m, where)
    await m.say_picture(where, "Look at this.")
    [post] = m.turn_posts()
    parts = next(msg["content"] for msg in reversed(post.json["messages"]) if msg["role"] == "user")
    assert isinstance(parts, list) and any(part.get("type") == "image_url" for part in parts), parts


async def allowed_picture_slash(m: Matrix, where: PlaceSetup) -> None:
    handle = await m.slash(where, "chat", {"message": SAY, "image": ("photo.png", picture_png())})
    await handle.response()
    [post] = m.turn_posts()
    user = next(msg["content"] for msg in reversed(post.json["messages"]) if msg["role"] == "user")
    assert isinstance(user, list) and any(part.get("type") == "image_url" for part in user), user


async def allowed_voice_preview(m: Matrix, where: PlaceSetup) -> None:
    # A ▶ Preview for a character that no longer exists: answered (privately), not refused by the gate.
    here = m.fake.add_message(where.channel_id or "0", "Preview", components=[
        {"type": 1, "components": [{"type": 2, "style": 2, "custom_id": "voicepv:999", "label": "Preview"}]}])
    handle = await m.click(where, here, "voicepv:999")
    body = (await handle.response()).json
    assert body["data"]["content"] not in REFUSALS, body


ALLOWED_ENTRIES: dict[str, Entry] = {
    "slash": allowed_slash, "autocomplete": allowed_autocomplete, "chat_button": allowed_chat_button,
    "image_button": allowed_image_button, "chat_modal": allowed_chat_modal,
    "image_modal": allowed_image_modal, "message": allowed_message,
    "voice_message": allowed_voice_message, "picture_message": allowed_picture_message,
    "picture_slash": allowed_picture_slash, "voice_preview": allowed_voice_preview,
    "alter_modal": allowed_alter_modal,
}


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("key", ALLOWED)
async def test_allowed_place(matrix: Matrix, key: str, entry: str) -> None:
    where = await matrix.place(key)
    await ALLOWED_ENTRIES[entry](matrix, where)


# ================================================================ the flag turned off later


async def test_buttons_on_an_old_reply_are_refused_once_the_flag_is_off(matrix: Matrix) -> None:
    where = await matrix.place("nsfw_text")
    reply = await matrix.chat_reply(where)
    image = await matrix.image(where)
    modals = [await matrix.open_chat_modal(where), await matrix.open_image_modal(where)]
    reply = matrix.fake.world.messages[reply["id"]]  # as it is now (no longer the latest)

    matrix.fake.update_channel(where.channel_id, nsfw=False)  # a moderator unticks "age-restricted"
    channel_id = int(where.channel_id or 0)

    async def flag_off() -> None:
        channel = matrix.bot.get_channel(channel_id)
        while not isinstance(channel, discord.TextChannel) or channel.is_nsfw():
            await asyncio.sleep(0.01)
            channel = matrix.bot.get_channel(channel_id)

    await asyncio.wait_for(flag_off(), 5)

    latest = matrix.latest_with(where, "chat:regen:")
    for message in (reply, latest, image):
        for custom_id in custom_ids(message):
            before = await matrix.snapshot()
            handle = await matrix.click(where, message, custom_id)
            await matrix.assert_refused(handle, before, f"{custom_id} after the flag was turned off")
    for opened in modals:
        before = await matrix.snapshot()
        handle = await matrix.submit(where, opened.custom_id, opened.values, message=opened.message)
        await matrix.assert_refused(handle, before, f"modal {opened.custom_id} after the flag was turned off")
    before = await matrix.snapshot()
    await refused_slash(matrix, where)
    await refused_autocomplete(matrix, where)
    await refused_message(matrix, where)
    await matrix.assert_untouched(before, "after the flag was turned off")


async def test_a_thread_follows_its_parent_when_the_flag_is_turned_off(matrix: Matrix) -> None:
    where = await matrix.place("thread_parent_cached")
    reply = await matrix.chat_reply(where)
    assert where.channel is not None
    parent_id = where.channel["parent_id"]
    matrix.fake.update_channel(parent_id, nsfw=False)

    async def flag_off() -> None:
        while matrix.bot.get_channel(int(parent_id)).is_nsfw():  # type: ignore[union-attr]  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    await asyncio.wait_for(flag_off(), 5)
    before = await matrix.snapshot()
    handle = await matrix.click(where, reply, matrix.button(reply, "chat:regen:"))
    await matrix.assert_refused(handle, before, "regenerate in a thread whose parent lost its flag")
    await refused_message(matrix, where)


# ================================================================ every registered command


def leaf_commands(bot: LustifyBot) -> list[app_commands.Command[Any, ..., Any]]:
    """Every invocable slash command, group subcommands included (a new one can't slip past)."""
    found: list[app_commands.Command[Any, ..., Any]] = []

    def walk(item: Any) -> None:
        if isinstance(item, app_commands.Group):
            for child in item.commands:
                walk(child)
        elif isinstance(item, app_commands.Command):
            found.append(item)

    for top in bot.tree.get_commands(type=discord.AppCommandType.chat_input):
        walk(top)
    return found


def sample_value(param: app_commands.Parameter, setup: PlaceSetup) -> Any:
    """A valid value for a required option (the gate must refuse before options even matter)."""
    if param.choices:
        return param.choices[0].value
    kind = param.type
    if kind is discord.AppCommandOptionType.string:
        return "a" * max(1, int(param.min_value or 1))
    if kind is discord.AppCommandOptionType.integer:
        return int(param.min_value) if param.min_value is not None else 1
    if kind is discord.AppCommandOptionType.number:
        return float(param.min_value) if param.min_value is not None else 1.0
    if kind is discord.AppCommandOptionType.boolean:
        return False
    if kind is discord.AppCommandOptionType.attachment:
        return ("card.json", b'{"spec": "chara_card_v2", "data": {"name": "Ava"}}')
    if kind is discord.AppCommandOptionType.user:
        return setup.user
    raise AssertionError(f"no sample for required option {param.name} of type {kind}")


async def test_every_command_and_autocomplete_is_gated(matrix: Matrix) -> None:
    commands = leaf_commands(matrix.bot)
    names = {c.qualified_name for c in commands}
    # A canary: if discovery broke, the loop below would prove nothing.
    assert {"chat", "reset", "imagine", "selfie", "seed set", "character set", "persona set",
            "conversation resume", "settings set", "privacy delete"} <= names, names
    places = {key: await matrix.place(key) for key in REFUSED}
    start = await matrix.snapshot()
    failures: list[str] = []
    for key, where in places.items():
        for command in commands:
            options = {param.name: sample_value(param, where) for param in command.parameters if param.required}
            before = matrix.quick()
            handle = await matrix.slash(where, command.qualified_name, options)
            try:
                await matrix.assert_refused(handle, before, f"/{command.qualified_name} in {key}")
            except AssertionError as exc:
                failures.append(str(exc).splitlines()[0])
            for param in command.parameters:
                if not param.autocomplete:
                    continue
                before = matrix.quick()
                handle = await matrix.autocomplete(where, command.qualified_name, param.name, "a")
                try:
                    await matrix.assert_no_choices(handle, before, f"/{command.qualified_name} {param.name} in {key}")
                except AssertionError as exc:
                    failures.append(str(exc).splitlines()[0])
    assert not failures, "\n".join(failures)
    await matrix.assert_untouched(start, "every command in every refused place")
    invoked = len(places) * len(commands)
    assert len([r for r in matrix.fake.requests if r.path.endswith("/callback")]) >= invoked


async def test_every_command_is_registered_age_restricted_for_guild_install_and_bot_dms(matrix: Matrix) -> None:
    # What the bot put into the PUT body in the fixture (the CLI's `sync` has its own test).
    body = matrix.fake.last_sync()
    assert body, "the tree was not synced"
    assert {c["name"] for c in body} == {c.name for c in matrix.bot.tree.get_commands()}
    for command in body:
        assert command["nsfw"] is True, command["name"]
        assert sorted(command["contexts"]) == [0, 1], command["name"]
        assert command["integration_types"] == [0], command["name"]


# ================================================================ registration by `python -m bot sync`


async def sync_in_subprocess(fake: FakeDiscord, workdir: Path, *args: str) -> Result:
    """`python -m bot sync` the way an operator runs it on a fresh install (no database yet)."""
    env = clean_env(DISCORD_TOKEN=DISCORD_TOKEN, DISCORD_API_BASE=fake.api_base,
                    DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'data' / 'lustify.db'}")
    result = await run_cli("sync", *args, env=env, cwd=workdir)
    assert result.code == 0, result.output
    assert "Traceback" not in result.output and DISCORD_TOKEN not in result.output
    return result


def assert_age_restricted(body: list[dict[str, Any]], expected_names: set[str]) -> None:
    assert {c["name"] for c in body} == expected_names
    for command in body:
        name = command["name"]
        assert command.get("type", 1) == 1, name
        assert command["nsfw"] is True, name
        assert sorted(command["contexts"]) == [0, 1], f"{name}: guild and bot DM only, never private channels"
        assert command["integration_types"] == [0], f"{name}: guild install only"
        for option in command.get("options", []):
            # Discord reads these only at the top level; a subcommand carrying them would be ignored.
            assert not {"nsfw", "contexts", "integration_types"} & set(option), f"{name} {option['name']}"


@pytest.fixture
def served(bot: LustifyBot) -> set[str]:
    """The top-level commands the production bot serves (logged in, every cog loaded)."""
    names = {c.name for c in bot.tree.get_commands()}
    assert {"chat", "imagine", "character", "conversation", "settings", "privacy"} <= names
    return names


async def test_sync_registers_every_command_age_restricted(fake_discord: FakeDiscord, tmp_path: Path,
                                                           served: set[str]) -> None:
    result = await sync_in_subprocess(fake_discord, tmp_path)
    puts = fake_discord.find("PUT", rf"/applications/{p.APP_ID}/commands")
    assert len(puts) == 1
    assert_age_restricted(puts[0].json, served)
    assert f"registered {len(served)} commands" in result.out
    assert fake_discord.violations == []


async def test_sync_to_one_guild(fake_discord: FakeDiscord, tmp_path: Path, served: set[str]) -> None:
    guild = fake_discord.add_guild()
    result = await sync_in_subprocess(fake_discord, tmp_path, "--guild", guild["id"])
    puts = fake_discord.find("PUT", rf"/applications/{p.APP_ID}/guilds/{guild['id']}/commands")
    assert len(puts) == 1
    assert_age_restricted(puts[0].json, served)
    assert fake_discord.last_sync() is None  # nothing global was touched
    assert f"server {guild['id']}" in result.out
    assert fake_discord.violations == []
