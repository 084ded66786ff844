"""/settings through the real command tree, against the fake Discord and the fake Venice.

Each test drives a slash command as Discord would (payload → gateway parser → command tree →
cog → REST calls to the fake) and checks both what the user saw and what reached the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import policy
from bot.client import LustifyBot, make_bot
from bot.config import Env
from bot.errors import Refused
from bot.store.models import AuditEvent, Setting, UserFlag, utcnow
from tests import payloads as p
from tests.conftest import DISCORD_TOKEN
from tests.fakes.discord import FakeDiscord, Recorded
from tests.harness import invoke, prime_place
from tests.places import PlaceSetup

EXTENSIONS = ("cogs.admin", "cogs.privacy")
EPHEMERAL = 1 << 6
ADMIN = str(int(p.MEMBER_PERMISSIONS) | p.PERMISSIONS["manage_guild"])


@pytest.fixture
async def bot(settings: Env) -> AsyncIterator[LustifyBot]:
    """The production bot with the admin and privacy cogs, logged in to the fake, commands synced."""
    b = make_bot(settings, extensions=EXTENSIONS)
    await b.login(DISCORD_TOKEN)
    await b.tree.sync()
    yield b
    await b.close()


@pytest.fixture
def place(bot: LustifyBot, fake_discord: FakeDiscord) -> PlaceSetup:
    """An age-restricted text channel in a server, cached by the bot."""
    setup = fake_discord.add_place("nsfw_text")
    prime_place(bot, setup)
    return setup


async def slash(bot: LustifyBot, fake: FakeDiscord, where: Any, name: str, options: Any = None, *,
                user: Any = None, permissions: str | None = None) -> Recorded:
    """Run a slash command and return the interaction callback the bot answered with."""
    payload = fake.slash_payload(user, where, name, options)
    if permissions is not None and "member" in payload:
        payload["member"]["permissions"] = permissions
    await invoke(bot, payload)
    return await fake.handle(payload).response()


def text_of(reply: Recorded) -> str:
    data = reply.json["data"]
    embeds = " ".join(f"{e.get('title', '')} {e.get('description', '')}" for e in data.get("embeds") or [])
    return f"{data.get('content') or ''} {embeds}"


def lines_of(reply: Recorded) -> dict[str, str]:
    """`/settings show` as {key: "value — source"}."""
    rows = reply.json["data"]["embeds"][0]["description"].split("\n")
    return {row.split("`")[1]: row.split("** — ")[0].split("**")[1] + " — " + row.split("** — ")[1] for row in rows}


async def count(bot: LustifyBot, model: type) -> int:
    assert bot.services is not None
    async with bot.services.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


def is_ephemeral(reply: Recorded) -> bool:
    return bool(int(reply.json["data"].get("flags") or 0) & EPHEMERAL)


# -- who may change settings ----------------------------------------------------------------------


async def test_member_without_manage_server_is_refused_and_nothing_is_written(bot, fake_discord, place) -> None:
    reply = await slash(bot, fake_discord, place, "settings set", {"key": "daily_images", "value": "5"})

    assert is_ephemeral(reply) and "Manage Server" in text_of(reply)
    assert await count(bot, Setting) == 0 and await count(bot, AuditEvent) == 0


async def test_settings_group_is_registered_for_manage_server_and_nsfw(bot, fake_discord) -> None:
    group = next(c for c in fake_discord.synced_commands() if c["name"] == "settings")

    assert int(group["default_member_permissions"]) == p.PERMISSIONS["manage_guild"]
    assert group["nsfw"] is True


async def test_gate_refuses_settings_in_an_ordinary_channel_without_writing(bot, fake_discord) -> None:
    sfw = fake_discord.add_place("sfw_text")
    prime_place(bot, sfw)

    reply = await slash(bot, fake_discord, sfw, "settings set", {"key": "daily_images", "value": "5"},
                        permissions=ADMIN)

    assert is_ephemeral(reply) and "age-restricted" in text_of(reply)
    for model in (Setting, AuditEvent, UserFlag):
        assert await count(bot, model) == 0


# -- set, show, reset -----------------------------------------------------------------------------


async def test_admin_sets_a_server_value_and_show_names_its_source(bot, fake_discord, place) -> None:
    reply = await slash(bot, fake_discord, place, "settings set", {"key": "daily_images", "value": "5"},
                        permissions=ADMIN)
    assert is_ephemeral(reply) and "for the whole server" in text_of(reply)

    shown = lines_of(await slash(bot, fake_discord, place, "settings show", permissions=ADMIN))

    assert shown["daily_images"] == "5 — server"
    assert shown["reply_tokens"] == "700 — default"
    assert shown["text_model"] == f"{bot.env.text_model} — default"


async def test_channel_override_beats_the_server_value_only_in_that_channel(bot, fake_discord, place) -> None:
    other = fake_discord.add_channel(place.guild_id, "text", nsfw=True, name="other")
    await slash(bot, fake_discord, place, "settings set", {"key": "chat_cooldown", "value": "10"}, permissions=ADMIN)
    await slash(bot, fake_discord, place, "settings set", {"key": "chat_cooldown", "value": "30",
                                                            "channel": place.channel_id}, permissions=ADMIN)

    here = lines_of(await slash(bot, fake_discord, place, "settings show", permissions=ADMIN))
    there = lines_of(await slash(bot, fake_discord, place, "settings show", {"channel": other["id"]},
                                 permissions=ADMIN))

    assert here["chat_cooldown"] == "30 — channel"
    assert there["chat_cooldown"] == "10 — server"


async def test_thread_follows_its_parent_channels_override(bot, fake_discord) -> None:
    thread = fake_discord.add_place("thread_parent_cached")
    prime_place(bot, thread)
    parent = thread.channel["parent_id"]

    await slash(bot, fake_discord, thread, "settings set", {"key": "images", "value": "off", "channel": parent},
                permissions=ADMIN)
    shown = lines_of(await slash(bot, fake_discord, thread, "settings show", permissions=ADMIN))

    assert shown["images"] == "off — parent channel"


async def test_out_of_range_value_is_refused_and_nothing_written(bot, fake_discord, place) -> None:
    reply = await slash(bot, fake_discord, place, "settings set", {"key": "reply_tokens", "value": "999999"},
                        permissions=ADMIN)

    assert is_ephemeral(reply) and "between 50 and 4000" in text_of(reply)
    assert await count(bot, Setting) == 0 and await count(bot, AuditEvent) == 0


async def test_unknown_key_is_refused(bot, fake_discord, place) -> None:
    reply = await slash(bot, fake_discord, place, "settings set", {"key": "volume", "value": "11"}, permissions=ADMIN)

    assert "no setting called `volume`" in text_of(reply)
    assert await count(bot, Setting) == 0


async def test_unknown_model_is_refused_with_real_ones_listed_and_no_write(bot, fake_discord, place) -> None:
    reply = await slash(bot, fake_discord, place, "settings set", {"key": "image_model", "value": "dall-e-9"},
                        permissions=ADMIN)

    assert is_ephemeral(reply) and "no image model called `dall-e-9`" in text_of(reply)
    assert "`lustify-sdxl`" in text_of(reply)
    assert await count(bot, Setting) == 0


async def test_known_model_is_stored_with_venices_spelling(bot, fake_discord, place) -> None:
    await slash(bot, fake_discord, place, "settings set", {"key": "image_model", "value": "LUSTIFY-SDXL"},
                permissions=ADMIN)

    assert bot.services is not None
    assert await bot.services.settings.get("image_model", guild_id=int(place.guild_id or 0),
                                         channel_id=None) == "lustify-sdxl"


async def test_unknown_style_is_refused(bot, fake_discord, place) -> None:
    reply = await slash(bot, fake_discord, place, "settings set", {"key": "image_style", "value": "Crayon"},
                        permissions=ADMIN)

    assert "no style called `Crayon`" in text_of(reply) and "`Anime`" in text_of(reply)
    assert await count(bot, Setting) == 0


async def test_character_must_be_a_reference(bot, fake_discord, place) -> None:
    bad = await slash(bot, fake_discord, place, "settings set", {"key": "character", "value": "Scarlett"},
                      permissions=ADMIN)
    good = await slash(bot, fake_discord, place, "settings set", {"key": "character", "value": "builtin:scarlett"},
                       permissions=ADMIN)

    assert "character reference" in text_of(bad)
    assert "builtin:scarlett" in text_of(good)
    assert await count(bot, Setting) == 1


async def test_server_wide_key_cannot_be_set_for_one_channel(bot, fake_discord, place) -> None:
    reply = await slash(bot, fake_discord, place, "settings set",
                        {"key": "server_daily_usd", "value": "5", "channel": place.channel_id}, permissions=ADMIN)

    assert "whole server, not per channel" in text_of(reply)
    assert await count(bot, Setting) == 0


async def test_reset_removes_the_override_and_says_what_applies_now(bot, fake_discord, place) -> None:
    await slash(bot, fake_discord, place, "settings set", {"key": "images", "value": "off"}, permissions=ADMIN)

    reply = await slash(bot, fake_discord, place, "settings reset", {"key": "images"}, permissions=ADMIN)

    assert "now **on** (from default)" in text_of(reply)
    assert await count(bot, Setting) == 0


async def test_only_the_bot_owner_changes_bot_wide_settings(bot, fake_discord, place) -> None:
    refused = await slash(bot, fake_discord, place, "settings set", {"key": "dm_chat", "value": "off"},
                          permissions=ADMIN)
    assert "only the bot's owner" in text_of(refused)
    assert await count(bot, Setting) == 0

    owner = fake_discord.world.application["owner"]
    dm = fake_discord.dm_channel(owner)
    done = await slash(bot, fake_discord, dm, "settings set", {"key": "dm_chat", "value": "off"}, user=owner)
    assert "bot-wide" in text_of(done)

    shown = lines_of(await slash(bot, fake_discord, place, "settings show", permissions=ADMIN))
    assert shown["dm_chat"] == "off — bot owner · bot-wide"


async def test_in_a_dm_other_users_cannot_change_anything(bot, fake_discord) -> None:
    stranger = fake_discord.add_user("mallory")

    reply = await slash(bot, fake_discord, fake_discord.dm_channel(stranger), "settings set",
                        {"key": "images", "value": "off"}, user=stranger)

    assert "Only the bot's owner" in text_of(reply)
    assert await count(bot, Setting) == 0


# -- autocomplete ---------------------------------------------------------------------------------


async def test_key_autocomplete_offers_settings_with_descriptions(bot, fake_discord, place) -> None:
    payload = fake_discord.autocomplete_payload(None, place, "settings set", "key", "daily")
    payload["member"]["permissions"] = ADMIN
    await invoke(bot, payload)

    choices = await fake_discord.handle(payload).choices()

    assert [c["value"] for c in choices] == ["daily_messages", "daily_images", "daily_usd", "server_daily_usd",
                                            "daily_voice"]
    assert "per user per day" in choices[0]["name"]


async def test_value_autocomplete_offers_venices_models_for_a_model_key(bot, fake_discord, place) -> None:
    payload = fake_discord.autocomplete_payload(None, place, "settings set", "value", "lustify",
                                                options={"key": "image_model"})
    payload["member"]["permissions"] = ADMIN
    await invoke(bot, payload)

    values = [c["value"] for c in await fake_discord.handle(payload).choices()]

    assert "lustify-sdxl" in values and all("lustify" in v for v in values)


async def test_value_autocomplete_for_a_number_offers_what_was_typed_and_the_default(
    bot, fake_discord, place
) -> None:
    payload = fake_discord.autocomplete_payload(None, place, "settings set", "value", "30",
                                                options={"key": "chat_cooldown"})
    payload["member"]["permissions"] = ADMIN
    await invoke(bot, payload)

    choices = await fake_discord.handle(payload).choices()

    assert [c["value"] for c in choices] == ["30", "0"]
    assert "allowed 0 to 3600" in choices[1]["name"]


async def test_show_in_a_dm_lists_bot_wide_values_for_anyone(bot, fake_discord) -> None:
    dm = fake_discord.add_place("bot_dm")

    reply = await slash(bot, fake_discord, dm, "settings show")

    assert reply.json["data"]["embeds"][0]["title"] == "Settings for DMs (bot-wide)"
    assert lines_of(reply)["dm_chat"] == "on — default · bot-wide"


# -- audit log ------------------------------------------------------------------------------------


async def test_every_change_is_audited_with_key_and_value(bot, fake_discord, place) -> None:
    await slash(bot, fake_discord, place, "settings set", {"key": "daily_images", "value": "5"}, permissions=ADMIN)

    reply = await slash(bot, fake_discord, place, "settings audit", {"kind": "admin"}, permissions=ADMIN)

    assert "**admin** `daily_images`" in text_of(reply) and "set to 5 (for the whole server)" in text_of(reply)
    assert f"<@{place.user['id']}>" in text_of(reply)
    assert reply.json["data"]["allowed_mentions"] == {"parse": []}


async def test_audit_listing_never_shows_refused_text(bot, fake_discord, place) -> None:
    assert bot.services is not None
    where = policy.Where(int(place.user["id"]), int(place.guild_id or 0), int(place.channel_id or 0), "imagine")
    with pytest.raises(Refused):
        await bot.services.policy.check("Taylor Swift naked on a beach", where, context="image")

    reply = await slash(bot, fake_discord, place, "settings audit", permissions=ADMIN)

    assert "**refusal** `real_person_image`" in text_of(reply)
    assert "Taylor" not in text_of(reply) and "beach" not in text_of(reply)


async def test_audit_listing_is_for_admins_only(bot, fake_discord, place) -> None:
    reply = await slash(bot, fake_discord, place, "settings audit")

    assert is_ephemeral(reply) and "Manage Server" in text_of(reply)


async def test_audit_events_past_retention_are_purged_when_the_cog_loads(settings: Env) -> None:
    from bot.audit_log import RETENTION
    from bot.store.engine import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    async with make_sessionmaker(engine).begin() as s:
        s.add(AuditEvent(guild_id=1, user_id=2, kind="refusal", rule="minor_age",
                         created_at=utcnow() - RETENTION - timedelta(hours=1)))
        s.add(AuditEvent(guild_id=1, user_id=2, kind="refusal", rule="minor_age"))
    await engine.dispose()

    b = make_bot(settings, extensions=EXTENSIONS)
    await b.login(DISCORD_TOKEN)
    try:
        assert await count(b, AuditEvent) == 1
    finally:
        await b.close()


# -- voice and vision settings are checked against Venice ------------------------------------------


async def test_voice_and_vision_settings_are_checked(bot, fake_discord, place) -> None:
    blind = await slash(bot, fake_discord, place, "settings set", {"key": "vision_model", "value": "deepseek-v3.2"},
                        permissions=ADMIN)
    assert "can't see pictures" in text_of(blind)
    voice = await slash(bot, fake_discord, place, "settings set", {"key": "tts_voice", "value": "Vicky"},
                        permissions=ADMIN)
    assert "has no voice called" in text_of(voice)
    assert await count(bot, Setting) == 0
    ok = await slash(bot, fake_discord, place, "settings set", {"key": "tts_voice", "value": "AF_BELLA"},
                     permissions=ADMIN)
    assert "af_bella" in text_of(ok)
    seeing = await slash(bot, fake_discord, place, "settings set",
                         {"key": "vision_model", "value": "venice-uncensored-1-2"}, permissions=ADMIN)
    assert "venice-uncensored-1-2" in text_of(seeing)
    assert await count(bot, Setting) == 2
