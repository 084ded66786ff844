"""Character names in public messages (issue #10 item 14), and the character form across restarts.

- A name's markdown is shown as typed, never rendered (a masked link under the bot's name in the
  `/character set` announcement read as the bot's own link); link syntax is refused in names.
- The create/edit form is handled by whichever bot process receives it: one submitted after a
  restart still saves (a picture given with the command is only kept by the process that saw it).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.characters.avatars import AvatarFetcher
from bot.characters.names import NO_LINKS
from bot.client import make_bot
from bot.config import Env
from bot.store.models import CharacterRow, Persona
from tests import cardgen
from tests.conftest import DISCORD_TOKEN
from tests.harness import invoke

EVIL = "[Official announcement](https://evil.example)"


@pytest.fixture
async def bots(settings: Env, fake_discord: Any) -> AsyncIterator[list[Any]]:
    started: list[Any] = []

    async def start() -> Any:
        b = make_bot(settings, extensions=("cogs.characters", "cogs.chat"))
        await b.login(DISCORD_TOKEN)
        # Avatar links are served by the fake on 127.0.0.1; only a test builds a fetcher that may go there.
        b.services.characters.avatar_fetcher = AvatarFetcher(also_allow=[ipaddress.ip_network("127.0.0.1/32")])
        if not started:
            await b.tree.sync()
        started.append(b)
        return b

    await start()
    started.insert(0, start)  # bots[0] starts another bot; bots[-1] is the current one
    yield started
    for b in started[1:]:
        await b.close()


@pytest.fixture
def world(fake_discord: Any) -> dict[str, Any]:
    guild = fake_discord.add_guild()
    return {"guild": guild, "nsfw": fake_discord.add_channel(guild["id"], "text", nsfw=True, name="after-dark"),
            "alice": fake_discord.add_user("alice")}


async def run(bot: Any, fake: Any, user: Any, channel: Any, name: str, options: Any = None) -> Any:
    payload = fake.slash_payload(user, channel, name, options)
    await invoke(bot, payload)
    return fake.handle(payload)


def inputs(modal: dict[str, Any]) -> dict[str, str]:
    """Label -> custom id of the form's text inputs (either layout discord.py may send)."""
    ids = {}
    for comp in modal["data"]["components"]:
        for inner in [comp["component"]] if comp["type"] == 18 else comp["components"]:
            ids[comp.get("label") or inner["label"]] = inner["custom_id"]
    return ids


async def open_create(bot: Any, fake: Any, world: dict[str, Any], options: Any = None) -> dict[str, Any]:
    opened = await run(bot, fake, world["alice"], world["nsfw"], "character create", options)
    modal = (await opened.response()).json
    assert modal["type"] == 9
    return modal


async def submit(bot: Any, fake: Any, world: dict[str, Any], modal: dict[str, Any], name: str) -> str:
    ids = inputs(modal)
    values = {ids["Name"]: name, ids["Description and personality"]: f"{name} is an adult florist."}
    payload = fake.modal_payload(world["alice"], world["nsfw"], modal["data"]["custom_id"], values)
    await invoke(bot, payload)
    handle = fake.handle(payload)
    return " ".join(str((r.json or {}).get("content") or (r.json or {}).get("data", {}).get("content") or "")
                    for r in handle.requests if isinstance(r.json, dict))


async def characters(bot: Any) -> list[CharacterRow]:
    async with bot.services.sessions() as session:
        return list((await session.scalars(select(CharacterRow))).all())


async def test_a_name_with_link_syntax_is_refused(bots: list[Any], fake_discord: Any, world: dict[str, Any]) -> None:
    bot = bots[-1]
    said = await submit(bot, fake_discord, world, await open_create(bot, fake_discord, world), EVIL)
    assert NO_LINKS in said and await characters(bot) == []


async def test_a_persona_name_with_a_link_is_refused(bots: list[Any], fake_discord: Any, world: dict[str, Any]) -> None:
    bot = bots[-1]
    handle = await run(bot, fake_discord, world["alice"], world["nsfw"], "persona set", {"name": EVIL})
    assert NO_LINKS in (await handle.response()).json["data"]["content"]
    async with bot.services.sessions() as session:
        assert (await session.scalars(select(Persona))).all() == []


async def test_markdown_in_a_name_is_shown_as_typed_in_the_public_announcement(
    bots: list[Any], fake_discord: Any, world: dict[str, Any], fake_venice: Any
) -> None:
    entry = fake_venice.characters[4]
    entry["name"] = EVIL  # a catalogue name the bot does not choose
    handle = await run(bots[-1], fake_discord, world["alice"], world["nsfw"], "character set",
                       {"character": f"venice:{entry['slug']}"})
    (public,) = await handle.followups()
    content = public.json["content"]
    assert re.search(r"(?<!\\)\[Official announcement\]\(", content) is None  # no masked link renders
    assert "\\[Official announcement](https://evil.example)" in content  # it reads as typed


async def test_a_create_form_submitted_after_a_restart_is_saved(
    bots: list[Any], fake_discord: Any, world: dict[str, Any]
) -> None:
    modal = await open_create(bots[-1], fake_discord, world)
    await bots[-1].close()
    bot = await bots[0]()
    said = await submit(bot, fake_discord, world, modal, "Ivy")
    assert "Created **Ivy**" in said
    assert [c.name for c in await characters(bot)] == ["Ivy"]


async def test_a_picture_given_to_create_is_kept_by_its_process_and_a_restart_says_it_was_lost(
    bots: list[Any], fake_discord: Any, world: dict[str, Any]
) -> None:
    avatar = ("ivy.png", cardgen.png_from_chunks(cardgen.image_chunks(4, 4)))
    modal = await open_create(bots[-1], fake_discord, world, {"avatar": avatar})
    said = await submit(bots[-1], fake_discord, world, modal, "Ivy")
    assert "Created **Ivy**" in said and "restart" not in said
    modal = await open_create(bots[-1], fake_discord, world, {"avatar": avatar})
    await bots[-1].close()
    bot = await bots[0]()
    said = await submit(bot, fake_discord, world, modal, "Rose")
    assert "Created **Rose**" in said and "wasn't kept over a restart" in said
    pictures = {c.name: c.avatar_png is not None for c in await characters(bot)}
    assert pictures == {"Ivy": True, "Rose": False}
