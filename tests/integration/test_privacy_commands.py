"""/privacy through the real command tree and buttons, against the fake Discord.

Alice asks for her data (or its deletion) in an age-restricted channel she shares with Bob;
Bob's rows must never show up in her file nor disappear with hers.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.client import LustifyBot, make_bot
from bot.config import Env
from bot.store import personas
from bot.store.conversations import Conversations
from bot.store.models import AuditEvent, Message, Persona, Setting, Usage, UserFlag
from cogs.privacy import ONLY_YOURS
from tests import payloads as p
from tests.conftest import DISCORD_TOKEN
from tests.fakes.discord import FakeDiscord, InteractionHandle
from tests.harness import dispatch_event, invoke, prime_place
from tests.places import PlaceSetup

EXTENSIONS = ("cogs.admin", "cogs.privacy")
EPHEMERAL = 1 << 6
ALICE_WORDS = "Alice's line about the lighthouse"
BOB_WORDS = "Bob's line about the harbour"


@pytest.fixture
async def bot(settings: Env) -> AsyncIterator[LustifyBot]:
    b = make_bot(settings, extensions=EXTENSIONS)
    await b.login(DISCORD_TOKEN)
    await b.tree.sync()
    yield b
    await b.close()


@pytest.fixture
def place(bot: LustifyBot, fake_discord: FakeDiscord) -> PlaceSetup:
    setup = fake_discord.add_place("nsfw_text")
    prime_place(bot, setup)
    return setup


@pytest.fixture
def bob(fake_discord: FakeDiscord, place: PlaceSetup) -> dict[str, Any]:
    user = fake_discord.add_user("bob")
    fake_discord.add_member(place.guild_id, user)
    return user


@pytest.fixture
async def shared(bot: LustifyBot, place: PlaceSetup, bob: dict[str, Any]) -> int:
    """A conversation in the channel where Alice and Bob both spoke; both have a persona."""
    assert bot.services is not None
    sessions = bot.services.sessions
    repo = Conversations(sessions)
    alice_id, bob_id = int(place.user["id"]), int(bob["id"])
    conv, _ = await repo.start(channel_id=int(place.channel_id or 0), guild_id=int(place.guild_id or 0),
                               character_ref="builtin:scarlett", character_name="Scarlett", created_by=alice_id)
    for author, name, text in ((alice_id, "Alice", ALICE_WORDS), (bob_id, "Bob", BOB_WORDS)):
        _u, reply = await repo.begin_turn(conv.id, author_id=author, author_name=name, content=text,
                                          discord_message_id=None, channel_id=conv.channel_id, model="m")
        await repo.finish(reply.id, content=f"(reply to {name})", status="complete", character_name="Scarlett")
        await personas.put(sessions, author, name, f"{name}'s persona")
        await bot.services.limits.record(user_id=author, guild_id=conv.guild_id, kind="chat")
    return conv.id


async def slash(bot: LustifyBot, fake: FakeDiscord, where: Any, name: str, *, user: Any = None,
                size_limit: int | None = None) -> InteractionHandle:
    payload = fake.slash_payload(user, where, name)
    if size_limit is not None:
        payload["attachment_size_limit"] = size_limit
    await invoke(bot, payload)
    return fake.handle(payload)


async def click(bot: LustifyBot, fake: FakeDiscord, where: Any, asked: InteractionHandle, label: str, *,
                user: Any = None, moderator: bool = False) -> InteractionHandle:
    """Press the button called `label` on the message `asked` answered with."""
    response = await asked.response()
    buttons = [b for row in response.json["data"]["components"] for b in row["components"]]
    custom_id = next(b["custom_id"] for b in buttons if b["label"] == label)
    payload = fake.click_payload(user, where, asked.record.original_id, custom_id)
    if moderator:
        payload["member"]["permissions"] = str(int(p.MEMBER_PERMISSIONS) | p.PERMISSIONS["manage_messages"])
    await invoke(bot, payload)
    return fake.handle(payload)


async def count(bot: LustifyBot, model: type, **where: Any) -> int:
    assert bot.services is not None
    query = select(func.count()).select_from(model)
    for column, value in where.items():
        query = query.where(getattr(model, column) == value)
    async with bot.services.sessions() as s:
        return int(await s.scalar(query) or 0)


def exported(handle_file: tuple[str, str, bytes]) -> dict[str, Any]:
    _field, filename, data = handle_file
    if filename.endswith(".gz"):
        data = gzip.decompress(data)
    return json.loads(data)


# -- export ---------------------------------------------------------------------------------------


async def test_export_sends_the_users_data_and_nobody_elses(bot, fake_discord, place, shared) -> None:
    handle = await slash(bot, fake_discord, place, "privacy export")

    assert (await handle.response()).json["type"] == 5  # thinking first: exports can take a moment
    followup = (await handle.followups())[0]
    data = exported(followup.files[0])
    assert followup.json["flags"] & EPHEMERAL
    assert "1 messages" in followup.json["content"] and "your persona" in followup.json["content"]
    assert [m["content"] for m in data["messages"]] == [ALICE_WORDS]
    assert data["persona"]["name"] == "Alice" and data["conversations_started"][0]["id"] == shared
    raw = json.dumps(data)
    assert BOB_WORDS not in raw and "Bob's persona" not in raw


async def test_a_large_export_is_gzipped_to_fit_the_upload_limit(bot, fake_discord, place, shared) -> None:
    handle = await slash(bot, fake_discord, place, "privacy export", size_limit=900)

    followup = (await handle.followups())[0]
    _field, filename, data = followup.files[0]
    assert filename.endswith(".json.gz") and len(data) <= 900
    assert exported(followup.files[0])["messages"][0]["content"] == ALICE_WORDS
    assert "gzipped" in followup.json["content"]


async def test_export_works_in_the_dm_with_the_bot(bot, fake_discord) -> None:
    dm = fake_discord.add_place("bot_dm")

    handle = await slash(bot, fake_discord, dm, "privacy export")

    data = exported((await handle.followups())[0].files[0])
    assert data["user_id"] == dm.user["id"] and data["user_flags"]["dm_unlocked_at"]


# -- delete ---------------------------------------------------------------------------------------


async def test_delete_asks_first_and_deletes_nothing_until_confirmed(bot, fake_discord, place, shared) -> None:
    handle = await slash(bot, fake_discord, place, "privacy delete")

    response = await handle.response()
    assert response.json["data"]["flags"] & EPHEMERAL and "can't be undone" in response.json["data"]["content"]
    assert await count(bot, Persona) == 2


async def test_confirmed_delete_removes_the_users_data_and_keeps_the_others(
    bot, fake_discord, place, bob, shared
) -> None:
    alice_id, bob_id = int(place.user["id"]), int(bob["id"])
    asked = await slash(bot, fake_discord, place, "privacy delete")

    pressed = await click(bot, fake_discord, place, asked, "Delete my data")

    edit = (await pressed.edits())[0]
    assert "Deleted" in edit.json["content"] and "1 of your messages in shared conversations" in edit.json["content"]
    assert edit.json["components"] == []
    assert await count(bot, Persona, user_id=alice_id) == 0 and await count(bot, Persona, user_id=bob_id) == 1
    assert await count(bot, Message, author_id=alice_id) == 0 and await count(bot, Message, author_id=bob_id) == 1
    assert await count(bot, Usage, user_id=bob_id) == 1
    assert await count(bot, AuditEvent, user_id=alice_id, kind="privacy") == 1
    assert bot.services is not None
    conv = await Conversations(bot.services.sessions).get(shared)
    assert conv is not None
    window = await Conversations(bot.services.sessions).window(conv)
    assert [t.content for t in window] == ["(reply to Alice)", BOB_WORDS, "(reply to Bob)"]


async def test_someone_else_cannot_press_the_confirm_button(bot, fake_discord, place, bob, shared) -> None:
    asked = await slash(bot, fake_discord, place, "privacy delete")

    # Even a moderator, who may press other people's buttons elsewhere, may not confirm this.
    pressed = await click(bot, fake_discord, place, asked, "Delete my data", user=bob, moderator=True)

    response = await pressed.response()
    assert response.json["data"]["content"] == ONLY_YOURS and response.json["data"]["flags"] & EPHEMERAL
    assert await count(bot, Persona) == 2 and await count(bot, AuditEvent, kind="privacy") == 0


async def test_cancel_deletes_nothing(bot, fake_discord, place, shared) -> None:
    asked = await slash(bot, fake_discord, place, "privacy delete")

    pressed = await click(bot, fake_discord, place, asked, "Cancel")

    assert (await pressed.response()).json["data"]["content"] == "Nothing was deleted."
    assert await count(bot, Persona) == 2 and await count(bot, Message, author_id=int(place.user["id"])) == 1


async def test_confirm_is_refused_once_the_channel_is_no_longer_age_restricted(
    bot, fake_discord, place, shared
) -> None:
    asked = await slash(bot, fake_discord, place, "privacy delete")
    now_sfw = fake_discord.update_channel(place.channel_id, nsfw=False)
    await dispatch_event(bot, "CHANNEL_UPDATE", now_sfw)  # what the gateway would tell a connected bot

    pressed = await click(bot, fake_discord, now_sfw, asked, "Delete my data", user=place.user)

    assert "age-restricted" in (await pressed.response()).json["data"]["content"]
    assert await count(bot, Persona) == 2


# -- gate and info --------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["sfw_text", "group_dm", "thread_sfw_parent"])
async def test_gate_refuses_privacy_outside_age_restricted_places_without_writing(
    bot, fake_discord, where: str
) -> None:
    setup = fake_discord.add_place(where)
    prime_place(bot, setup)

    for name in ("privacy export", "privacy delete"):
        handle = await slash(bot, fake_discord, setup, name)
        response = await handle.response()
        assert response.json["type"] == 4 and response.json["data"]["flags"] & EPHEMERAL
    for model in (UserFlag, AuditEvent, Setting, Usage):
        assert await count(bot, model) == 0


async def test_info_says_what_is_stored_and_for_how_long(bot, fake_discord, place) -> None:
    handle = await slash(bot, fake_discord, place, "privacy info")

    data = (await handle.response()).json["data"]
    assert data["flags"] & EPHEMERAL and "90 days" in data["content"] and "never what was written" in data["content"]


async def test_a_blocked_user_keeps_their_data_rights(bot, fake_discord, place, shared) -> None:
    from datetime import timedelta

    from bot.store import users

    assert bot.services is not None
    alice = int(place.user["id"])
    for _ in range(3):
        await users.add_strike(bot.services.sessions, alice, window=timedelta(hours=1), threshold=3,
                               block_for=timedelta(hours=24))
    assert await users.blocked_until(bot.services.sessions, alice) is not None

    refused = await slash(bot, fake_discord, place, "settings show")
    assert "blocked" in (await refused.response()).json["data"]["content"]

    exported_handle = await slash(bot, fake_discord, place, "privacy export")
    assert exported(((await exported_handle.followups())[0]).files[0])["messages"][0]["content"] == ALICE_WORDS

    asked = await slash(bot, fake_discord, place, "privacy delete")
    await click(bot, fake_discord, place, asked, "Delete my data")
    assert await count(bot, Message, content=ALICE_WORDS) == 0
    assert await users.blocked_until(bot.services.sessions, alice) is not None  # the block survives
