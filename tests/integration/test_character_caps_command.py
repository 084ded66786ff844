"""/character import and create through the command tree hit the same caps as the service, and
import refuses before downloading anything."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.characters.caps import MAX_CHARACTERS
from bot.client import make_bot
from bot.config import Env
from bot.store.models import CharacterRow
from tests import cardgen
from tests.conftest import DISCORD_TOKEN
from tests.harness import invoke


@pytest.fixture
async def bot(settings: Env, fake_discord: Any) -> AsyncIterator[Any]:
    b = make_bot(settings, extensions=("cogs.characters",))
    await b.login(DISCORD_TOKEN)
    await b.tree.sync()
    yield b
    await b.close()


async def said(bot: Any, fake: Any, payload: dict[str, Any]) -> str:
    await invoke(bot, payload)
    return "\n".join(str(((rec.json or {}).get("data") or rec.json or {}).get("content") or "")
                     for rec in fake.handle(payload).requests)


async def test_import_at_the_cap_is_refused_before_the_file_is_downloaded(bot: Any, fake_discord: Any) -> None:
    guild = fake_discord.add_guild()
    channel = fake_discord.add_channel(guild["id"], "text", nsfw=True)
    alice = fake_discord.add_user("alice")
    async with bot.services.sessions.begin() as session:
        session.add_all(CharacterRow(owner_id=int(alice["id"]), guild_id=None, shared=False, name=f"c{i}",
                                     card={}) for i in range(MAX_CHARACTERS))
    card = cardgen.card_json(cardgen.v2_card(name="Mara", description="A 30-year-old sailor."))
    payload = fake_discord.slash_payload(alice, channel, "character import", {"file": ("mara.json", card)})
    fake_discord.world.attachments.clear()  # a download would now fail: the refusal must come first
    text = await said(bot, fake_discord, payload)
    assert f"You have {MAX_CHARACTERS} characters already" in text

    create = fake_discord.slash_payload(alice, channel, "character create")
    assert f"You have {MAX_CHARACTERS} characters already" in await said(bot, fake_discord, create)
