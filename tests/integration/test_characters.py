"""/character through the real command tree, against the fake Discord, the fake Venice and a real DB.

The production bot is built with only the characters cog loaded, commands are synced to the fake
(so option types, attachments included, come from what the bot registered), and every interaction
goes in through discord.py's own parser (`tests.harness.invoke`).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.characters.avatars import AvatarFetcher
from bot.characters.cards import parse_card
from bot.characters.cards_json import card_to_object
from bot.client import make_bot
from bot.config import Env
from bot.store.models import AuditEvent, ChannelState, CharacterRow
from tests import cardgen
from tests import payloads as p
from tests.conftest import DISCORD_TOKEN
from tests.harness import invoke

EPHEMERAL = 64


@pytest.fixture
async def bot(settings: Env, fake_discord: Any) -> AsyncIterator[Any]:
    b = make_bot(settings, extensions=("cogs.characters",))
    await b.login(DISCORD_TOKEN)
    assert b.services is not None
    # Avatar links are served by the fake on 127.0.0.1; only a test builds a fetcher that may go there.
    b.services.characters.avatar_fetcher = AvatarFetcher(also_allow=[ipaddress.ip_network("127.0.0.1/32")])
    await b.tree.sync()
    yield b
    await b.close()


@pytest.fixture
def world(fake_discord: Any) -> dict[str, Any]:
    fake = fake_discord
    guild = fake.add_guild()
    nsfw = fake.add_channel(guild["id"], "text", nsfw=True, name="after-dark")
    return {"guild": guild, "nsfw": nsfw, "sfw": fake.add_channel(guild["id"], "text", name="lobby"),
            "thread": fake.add_thread(nsfw["id"], name="scene"), "alice": fake.add_user("alice"),
            "bob": fake.add_user("bob"), "mod": fake.add_user("mod")}


async def run(bot: Any, fake: Any, user: Any, channel: Any, name: str, options: Any = None,
              *, permissions: str | None = None) -> Any:
    payload = fake.slash_payload(user, channel, name, options)
    if permissions is not None:
        payload["member"]["permissions"] = permissions
    await invoke(bot, payload)
    return fake.handle(payload)


async def texts(handle: Any) -> str:
    """Everything the bot said for this interaction (response, edits, follow-ups, embeds)."""
    out = []
    for rec in handle.requests:
        body = rec.json or {}
        data = body.get("data", body) if isinstance(body, dict) else {}
        out.append(str(data.get("content") or ""))
        out += [json.dumps(e) for e in data.get("embeds") or []]
    return "\n".join(out)


async def rows(bot: Any, model: type) -> list[Any]:
    async with bot.services.sessions() as session:
        return list((await session.scalars(select(model))).all())


def mara(**extra: Any) -> dict[str, Any]:
    book = cardgen.character_book([cardgen.lore_entry(["anchor"], "The Rusty Anchor is a tavern.")])
    return dict(name="Mara", description="{{char}} is a 31-year-old smuggler.", personality="wry",
                first_mes="*Mara grins.* Lost, sailor?", alternate_greetings=["*She waves.*"],
                tags=["pirate"], character_book=book, extensions={"talkativeness": "0.5"}, **extra)


# -- import and export ---------------------------------------------------------------------------


CARDS = {
    "v2.png": lambda: cardgen.v2_png(cardgen.v2_card(**mara())),
    "v3.png": lambda: cardgen.v3_png(cardgen.v3_card(**mara(nickname="Cap")), v2_backfill=cardgen.v2_card(**mara())),
    "v2.json": lambda: cardgen.card_json(cardgen.v2_card(**mara())),
    "v3.json": lambda: cardgen.card_json(cardgen.v3_card(**mara(nickname="Cap"), top={"fav": True})),
    "v3.charx": lambda: cardgen.charx(cardgen.v3_card(**mara())),
}


@pytest.mark.parametrize("filename", sorted(CARDS))
async def test_import_export_and_reimport_are_identical(bot: Any, fake_discord: Any, world: dict[str, Any],
                                                        filename: str) -> None:
    data = CARDS[filename]()
    handle = await run(bot, fake_discord, world["alice"], world["nsfw"], "character import",
                       {"file": (filename, data), "shared": True})
    assert (await handle.response()).json == {"type": 5, "data": {"flags": EPHEMERAL}}
    assert "Imported **Mara** (2 greetings, 1 lore entries)" in await texts(handle)
    (row,) = await rows(bot, CharacterRow)
    assert (row.owner_id, row.guild_id, row.shared) == (int(world["alice"]["id"]), int(world["guild"]["id"]), True)
    assert (row.avatar_png is not None) == filename.endswith(".png")
    assert (row.avatar_url or "").endswith(filename) == filename.endswith(".png")
    original = card_to_object(parse_card(data, filename))

    exported = await run(bot, fake_discord, world["alice"], world["nsfw"], "character export",
                         {"character": f"custom:{row.id}"})
    (followup,) = await exported.followups()
    assert followup.json["flags"] == EPHEMERAL
    files = {name: blob for _, name, blob in followup.files}
    assert set(files) == {"mara.png", "mara.json"}
    assert card_to_object(parse_card(files["mara.json"], "mara.json")) == original
    chunks = cardgen.png_text_chunks(files["mara.png"])
    assert cardgen.decode_b64_json(chunks["ccv3"])["data"]["name"] == "Mara" and "chara" in chunks

    # Someone else imports the exported card (alice's next import waits out the import cooldown).
    again = await run(bot, fake_discord, world["bob"], world["nsfw"], "character import",
                      {"file": ("mara.png", files["mara.png"])})
    assert "Imported **Mara**" in await texts(again)
    first, second = await rows(bot, CharacterRow)
    assert second.card == first.card and second.avatar_png is not None
    assert fake_discord.violations == []


async def test_a_minor_card_is_refused_stores_nothing_and_is_audited(bot: Any, fake_discord: Any,
                                                                     world: dict[str, Any]) -> None:
    card = cardgen.v2_card(**mara(scenario="She is a 15 year old girl looking for sex."))
    handle = await run(bot, fake_discord, world["alice"], world["nsfw"], "character import",
                       {"file": ("bad.png", cardgen.v2_png(card))})
    (followup,) = await handle.followups()
    assert followup.json["flags"] == EPHEMERAL and "under 18" in followup.json["content"]
    assert "15 year" not in followup.json["content"]
    assert await rows(bot, CharacterRow) == []
    (event,) = await rows(bot, AuditEvent)
    assert (event.kind, event.rule, event.user_id, event.detail) == (
        "refusal", "minor_age", int(world["alice"]["id"]), "character import")


async def test_a_broken_or_oversized_card_gets_a_clear_message(bot: Any, fake_discord: Any,
                                                               world: dict[str, Any]) -> None:
    broken = await run(bot, fake_discord, world["alice"], world["nsfw"], "character import",
                       {"file": ("card.png", b"\x89PNG\r\n\x1a\n" + b"junk")})
    assert "couldn't read that card" in await texts(broken)
    payload = fake_discord.slash_payload(world["alice"], world["nsfw"], "character import",
                                         {"file": ("huge.png", b"\x89PNG small")})
    for attachment in payload["data"]["resolved"]["attachments"].values():
        attachment["size"] = 50 * 1024 * 1024  # what Discord says, before anything is downloaded
    await invoke(bot, payload)
    response = (await fake_discord.handle(payload).response()).json
    assert response["type"] == 4 and response["data"]["flags"] == EPHEMERAL
    assert "50.0 MiB" in response["data"]["content"] and "at most 8 MiB" in response["data"]["content"]
    assert await rows(bot, CharacterRow) == []


# -- create and edit through the form -----------------------------------------------------------


def modal_ids(modal: dict[str, Any]) -> dict[str, str]:
    """Text input label -> custom_id, for either modal layout discord.py 2.7 may send."""
    ids = {}
    for comp in modal["data"]["components"]:
        if comp["type"] == 18:
            ids[comp["label"]] = comp["component"]["custom_id"]
        else:
            for inner in comp["components"]:
                ids[inner["label"]] = inner["custom_id"]
    return ids


async def test_create_with_an_avatar_then_edit_keeps_the_rest(bot: Any, fake_discord: Any,
                                                              world: dict[str, Any]) -> None:
    avatar = cardgen.png_from_chunks(cardgen.image_chunks(4, 4))
    opened = await run(bot, fake_discord, world["alice"], world["nsfw"], "character create",
                       {"avatar": ("ivy.png", avatar), "shared": True})
    modal = (await opened.response()).json
    assert modal["type"] == 9
    ids = modal_ids(modal)
    values = {ids["Name"]: "Ivy", ids["Description and personality"]: "An adult florist.\n\nPersonality: sunny",
              ids["Scenario"]: "Her shop at dawn.", ids["Greeting (first message)"]: "*Ivy waves.*",
              ids["Appearance (for pictures)"]: "adult woman, green apron"}
    submit = fake_discord.modal_payload(world["alice"], world["nsfw"], modal["data"]["custom_id"], values)
    await invoke(bot, submit)
    assert "Created **Ivy**" in await texts(fake_discord.handle(submit))
    (row,) = await rows(bot, CharacterRow)
    assert row.shared is True and row.avatar_png is not None and row.avatar_url.endswith("ivy.png")
    assert row.card["data"]["personality"] == "sunny" and row.card["data"]["scenario"] == "Her shop at dawn."

    row.card["data"]["character_book"] = cardgen.character_book([cardgen.lore_entry(["rose"], "Roses sell.")])
    async with bot.services.sessions.begin() as session:
        (await session.get(CharacterRow, row.id)).card = row.card
    opened = await run(bot, fake_discord, world["alice"], world["nsfw"], "character edit",
                       {"character": f"custom:{row.id}", "avatar_url": row.avatar_url})
    modal = (await opened.response()).json
    ids = modal_ids(modal)
    prefilled = {c["component"]["custom_id"]: c["component"].get("value") for c in modal["data"]["components"]
                 if c["type"] == 18} or {i["custom_id"]: i.get("value") for c in modal["data"]["components"]
                                         if c["type"] == 1 for i in c["components"]}
    assert prefilled[ids["Description and personality"]] == "An adult florist.\n\nPersonality: sunny"
    values[ids["Scenario"]] = "Her shop at dusk."
    submit = fake_discord.modal_payload(world["alice"], world["nsfw"], modal["data"]["custom_id"], values)
    await invoke(bot, submit)
    assert "Saved **Ivy**" in await texts(fake_discord.handle(submit))
    (row,) = await rows(bot, CharacterRow)
    assert row.card["data"]["scenario"] == "Her shop at dusk."
    assert row.card["data"]["character_book"]["entries"][0]["content"] == "Roses sell."


async def test_create_refuses_a_minor_definition(bot: Any, fake_discord: Any, world: dict[str, Any]) -> None:
    opened = await run(bot, fake_discord, world["alice"], world["nsfw"], "character create")
    modal = (await opened.response()).json
    ids = modal_ids(modal)
    values = {ids["Name"]: "Kit", ids["Description and personality"]: "A 12 year old who flirts and wants sex."}
    submit = fake_discord.modal_payload(world["alice"], world["nsfw"], modal["data"]["custom_id"], values)
    await invoke(bot, submit)
    assert "under 18" in await texts(fake_discord.handle(submit))
    assert await rows(bot, CharacterRow) == []
    assert [e.rule for e in await rows(bot, AuditEvent)] == ["minor_age"]


# -- autocomplete, set, info, clear ---------------------------------------------------------------


async def make_custom(bot: Any, owner: dict[str, Any], guild_id: str, name: str, *, shared: bool) -> int:
    from bot.characters.model import Character
    from bot.policy import Where

    created = await bot.services.characters.create(
        Character(name=name, description=f"{name} is an adult."), shared=shared,
        where=Where(int(owner["id"]), int(guild_id), None, "test"))
    return int(created.id)


async def test_autocomplete_offers_custom_and_venice_characters(bot: Any, fake_discord: Any,
                                                                world: dict[str, Any], fake_venice: Any) -> None:
    gid = world["guild"]["id"]
    own = await make_custom(bot, world["alice"], gid, "Luna Mine", shared=False)
    theirs = await make_custom(bot, world["bob"], gid, "Luna Shared", shared=True)
    hidden = await make_custom(bot, world["bob"], gid, "Luna Private", shared=False)
    payload = fake_discord.autocomplete_payload(world["alice"], world["nsfw"], "character set", "character", "luna")
    await invoke(bot, payload)
    choices = await fake_discord.handle(payload).choices()
    values = [c["value"] for c in choices]
    assert values[:2] == [f"custom:{own}", f"custom:{theirs}"] and f"custom:{hidden}" not in values
    assert any(v.startswith("venice:luna") for v in values)
    assert all(len(c["name"]) <= 100 for c in choices) and len(choices) <= 25
    assert fake_venice.count("/characters") == 1


async def test_set_info_and_thread_inheritance(bot: Any, fake_discord: Any, world: dict[str, Any],
                                               fake_venice: Any) -> None:
    entry = fake_venice.characters[4]
    handle = await run(bot, fake_discord, world["alice"], world["nsfw"], "character set",
                       {"character": f"venice:{entry['slug']}"})
    assert (await handle.response()).json["data"]["flags"] == EPHEMERAL
    (public,) = await handle.followups()
    assert "flags" not in public.json or not public.json["flags"] & EPHEMERAL
    assert entry["name"] in public.json["content"] and public.json["allowed_mentions"] == {"parse": []}
    (state,) = await rows(bot, ChannelState)
    assert (state.channel_id, state.character_ref) == (int(world["nsfw"]["id"]), f"venice:{entry['slug']}")

    info = await run(bot, fake_discord, world["bob"], world["thread"], "character info")
    said = await texts(info)
    assert entry["name"] in said and f"inherited from <#{world['nsfw']['id']}>" in said

    await run(bot, fake_discord, world["bob"], world["thread"], "character set", {"character": "Scarlett"})
    said = await texts(await run(bot, fake_discord, world["bob"], world["thread"], "character info"))
    assert "Scarlett" in said and "set for this thread" in said and '"Lore entries"' in said

    await run(bot, fake_discord, world["bob"], world["thread"], "character clear")
    said = await texts(await run(bot, fake_discord, world["bob"], world["thread"], "character info"))
    assert "inherited from" in said
    assert fake_discord.violations == []


async def test_setting_someone_elses_private_character_is_refused(bot: Any, fake_discord: Any,
                                                                  world: dict[str, Any]) -> None:
    hidden = await make_custom(bot, world["bob"], world["guild"]["id"], "Secret", shared=False)
    handle = await run(bot, fake_discord, world["alice"], world["nsfw"], "character set",
                       {"character": f"custom:{hidden}"})
    assert "private" in await texts(handle)
    assert await rows(bot, ChannelState) == []


# -- delete --------------------------------------------------------------------------------------


async def confirm_delete(bot: Any, fake: Any, user: Any, channel: Any, character_id: int,
                         permissions: str | None = None) -> tuple[Any, Any]:
    asked = await run(bot, fake, user, channel, "character delete", {"character": f"custom:{character_id}"},
                      permissions=permissions)
    response = (await asked.response()).json
    if "components" not in response["data"]:
        return asked, None
    message_id = asked.record.original_id
    click = fake.click_payload(user, channel, message_id, f"lcdel:{character_id}")
    if permissions is not None:
        click["member"]["permissions"] = permissions
    await invoke(bot, click)
    return asked, fake.handle(click)


async def test_delete_by_owner_non_owner_and_admin(bot: Any, fake_discord: Any, world: dict[str, Any]) -> None:
    gid = world["guild"]["id"]
    first = await make_custom(bot, world["alice"], gid, "First", shared=True)
    second = await make_custom(bot, world["alice"], gid, "Second", shared=True)

    asked, _ = await confirm_delete(bot, fake_discord, world["bob"], world["nsfw"], first)
    assert "Only its creator" in await texts(asked)
    assert len(await rows(bot, CharacterRow)) == 2

    _, clicked = await confirm_delete(bot, fake_discord, world["alice"], world["nsfw"], first)
    assert (await clicked.response()).json["type"] == 7 and "Deleted **First**" in await texts(clicked)

    admin = str(int(p.MEMBER_PERMISSIONS) | p.PERMISSIONS["manage_guild"])
    _, clicked = await confirm_delete(bot, fake_discord, world["mod"], world["nsfw"], second, permissions=admin)
    assert "Deleted **Second**" in await texts(clicked)
    assert await rows(bot, CharacterRow) == []


# -- browsing -----------------------------------------------------------------------------------


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [c.get("custom_id", "") for row in message["components"] for c in row["components"]]


async def test_browse_pages_locally_and_use_sets_the_channel(bot: Any, fake_discord: Any, world: dict[str, Any],
                                                             fake_venice: Any) -> None:
    handle = await run(bot, fake_discord, world["alice"], world["nsfw"], "character browse")
    message = handle.messages[-1]
    assert message["flags"] & EPHEMERAL
    photos = []
    for _ in range(6):
        photos.append(message["embeds"][0].get("image", {}).get("url"))
        nxt = next(c for c in custom_ids(message) if c.startswith("lcb:n:"))
        click = fake_discord.click_payload(world["alice"], world["nsfw"], message["id"], nxt)
        await invoke(bot, click)
        assert (await fake_discord.handle(click).response()).json["type"] == 7
        message = fake_discord.world.messages[message["id"]]
    assert message["embeds"][0]["footer"]["text"].startswith("7 / 25+")
    assert any(url and url.startswith("https://outerface.venice.ai/") for url in photos)
    assert fake_venice.count("/characters") == 1

    use = next(c for c in custom_ids(message) if c.startswith("lcu:"))
    click = fake_discord.click_payload(world["alice"], world["nsfw"], message["id"], use)
    await invoke(bot, click)
    (state,) = await rows(bot, ChannelState)
    assert state.character_ref == f"venice:{use[4:]}"
    assert fake_discord.violations == []


async def test_browse_with_a_search_that_finds_nothing(bot: Any, fake_discord: Any, world: dict[str, Any]) -> None:
    handle = await run(bot, fake_discord, world["alice"], world["nsfw"], "character browse", {"search": "zzzz"})
    assert "found no adult characters" in await texts(handle)


# -- the gate ------------------------------------------------------------------------------------


async def test_the_gate_refuses_everything_in_an_ordinary_channel(bot: Any, fake_discord: Any,
                                                                  world: dict[str, Any], fake_venice: Any) -> None:
    fake, sfw, alice = fake_discord, world["sfw"], world["alice"]
    for name, options in [("character set", {"character": "venice:luna-the-bartender-1"}),
                          ("character browse", None), ("character info", None),
                          ("character import", {"file": ("c.json", cardgen.card_json(cardgen.v2_card(**mara())))}),
                          ("persona set", {"name": "Kim"})]:
        handle = await run(bot, fake, alice, sfw, name, options)
        response = (await handle.response()).json
        assert response["type"] == 4 and response["data"]["flags"] == EPHEMERAL, name
        assert "age-restricted" in response["data"]["content"], name
    payload = fake.autocomplete_payload(alice, sfw, "character set", "character", "luna")
    await invoke(bot, payload)
    assert await fake.handle(payload).choices() == []
    stale = fake.add_message(sfw, "", components=[{"type": 1, "components": [
        {"type": 2, "style": 2, "custom_id": "lcb:n:1:0:", "emoji": {"name": "▶️"}},
        {"type": 2, "style": 3, "custom_id": "lcu:luna-the-bartender-1", "label": "Use this character"},
        {"type": 2, "style": 4, "custom_id": "lcdel:1", "label": "Delete for good"}]}])
    for custom_id in ("lcb:n:1:0:", "lcu:luna-the-bartender-1", "lcdel:1"):
        click = fake.click_payload(alice, sfw, stale["id"], custom_id)
        await invoke(bot, click)
        response = (await fake.handle(click).response()).json
        assert response["type"] == 4 and "age-restricted" in response["data"]["content"]
    assert fake_venice.requests == []
    async with bot.services.sessions() as session:
        for model in (ChannelState, CharacterRow, AuditEvent):
            assert await session.scalar(select(func.count()).select_from(model)) == 0


async def test_commands_are_registered_age_restricted(bot: Any, fake_discord: Any) -> None:
    synced = {c["name"]: c for c in fake_discord.last_sync()}
    assert synced["character"]["nsfw"] is True and synced["persona"]["nsfw"] is True
    subs = {o["name"] for o in synced["character"]["options"]}
    assert subs == {"browse", "set", "info", "lore", "clear", "create", "edit", "delete", "import", "export",
                    "voice"}
    assert synced["character"]["contexts"] == [0, 1] and synced["character"]["integration_types"] == [0]



async def test_admins_edit_shared_characters_only_and_others_cannot_edit(bot: Any, fake_discord: Any,
                                                                         world: dict[str, Any]) -> None:
    gid = world["guild"]["id"]
    personal = await make_custom(bot, world["alice"], gid, "Personal", shared=False)
    shared = await make_custom(bot, world["alice"], gid, "Shared", shared=True)
    admin = str(int(p.MEMBER_PERMISSIONS) | p.PERMISSIONS["manage_guild"])
    refused = await run(bot, fake_discord, world["mod"], world["nsfw"], "character edit",
                        {"character": f"custom:{personal}"}, permissions=admin)
    assert "Only its creator" in await texts(refused)
    opened = await run(bot, fake_discord, world["mod"], world["nsfw"], "character edit",
                       {"character": f"custom:{shared}"}, permissions=admin)
    assert (await opened.response()).json["type"] == 9
    stranger = await run(bot, fake_discord, world["bob"], world["nsfw"], "character edit",
                         {"character": f"custom:{shared}"})
    assert "Only its creator" in await texts(stranger)
    payload = fake_discord.autocomplete_payload(world["bob"], world["nsfw"], "character delete", "character", "")
    await invoke(bot, payload)
    assert await fake_discord.handle(payload).choices() == []
