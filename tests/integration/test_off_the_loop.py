"""Nobody's file stalls everyone: card parsing and long screens never run on the event loop, and
the bot watches its loop from start-up to close.

A sampler thread looks at the event loop thread's stack every few milliseconds while the bot
handles a hostile import. Work done on the loop for the ~second these inputs take is seen by it
for certain; work done in a worker process never is, so passing does not depend on timing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select

from bot.characters.avatars import AvatarFetcher
from bot.client import make_bot
from bot.config import Env
from bot.store.models import CharacterRow
from tests import hostile
from tests.conftest import DISCORD_TOKEN
from tests.harness import invoke


class LoopSampler:
    """Which functions (file, name) were ever on the event loop thread's stack."""

    def __init__(self, thread_id: int) -> None:
        self.thread_id = thread_id
        self.seen: set[tuple[str, str]] = set()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-loop-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            frame = sys._current_frames().get(self.thread_id)
            self.samples += 1
            while frame is not None:
                self.seen.add((frame.f_code.co_filename.replace("\\", "/"), frame.f_code.co_name))
                frame = frame.f_back

    def ran(self, path_part: str, name: str | None = None) -> bool:
        return any(path_part in file and (name is None or fn == name) for file, fn in self.seen)

    @contextmanager
    def watching(self) -> Iterator[LoopSampler]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


@pytest.fixture
async def bot(settings: Env, fake_discord: Any) -> AsyncIterator[Any]:
    b = make_bot(settings, extensions=("cogs.characters", "cogs.lorebooks"))
    await b.login(DISCORD_TOKEN)
    b.services.characters.avatar_fetcher = AvatarFetcher(also_allow=[ipaddress.ip_network("127.0.0.1/32")])
    await b.tree.sync()
    yield b
    await b.close()


@pytest.fixture
def world(fake_discord: Any) -> dict[str, Any]:
    guild = fake_discord.add_guild()
    return {"nsfw": fake_discord.add_channel(guild["id"], "text", nsfw=True, name="after-dark"),
            "alice": fake_discord.add_user("alice"), "bob": fake_discord.add_user("bob")}


async def import_card(bot: Any, fake: Any, user: Any, channel: Any, filename: str, data: bytes) -> str:
    payload = fake.slash_payload(user, channel, "character import", {"file": (filename, data)})
    await invoke(bot, payload, timeout=60)
    handle = fake.handle(payload)
    return "\n".join(str((rec.json or {}).get("content") or "") for rec in handle.requests)


async def test_the_bot_watches_its_loop_from_start_up_until_close(settings: Env) -> None:
    bot = make_bot(settings, extensions=())
    assert not bot.loop_watch.running
    await bot.login(DISCORD_TOKEN)
    assert bot.loop_watch.running
    await bot.close()
    assert not bot.loop_watch.running


async def test_a_chunk_bomb_png_is_parsed_off_the_event_loop(bot: Any, fake_discord: Any,
                                                             world: dict[str, Any]) -> None:
    data = hostile.chunk_bomb_png(200_000)
    with LoopSampler(threading.get_ident()).watching() as sampler:
        said = await import_card(bot, fake_discord, world["alice"], world["nsfw"], "bomb.png", data)
    # The chunk walk stops at its bound and says so in a card author's words, off the loop.
    assert "more than 10,000 pieces" in said
    assert sampler.samples > 0
    assert not sampler.ran("bot/characters/cards_png.py", "read_chunks")
    assert not sampler.ran("PIL/")


async def test_a_huge_lorebook_is_parsed_and_screened_off_the_event_loop(bot: Any, fake_discord: Any,
                                                                         world: dict[str, Any]) -> None:
    # 30 entries of 12,000 characters: near the most one check reads (bot.policy.MAX_CHECK_CHARS).
    data = hostile.lore_card(entries=30, chars=12_000, keys=20)
    with LoopSampler(threading.get_ident()).watching() as sampler:
        said = await import_card(bot, fake_discord, world["bob"], world["nsfw"], "lore.json", data)
    assert "Imported **Loremaster**" in said and "30 lore entries" in said
    assert not sampler.ran("bot/characters/cards_json.py", "load_card_json")
    assert not sampler.ran("bot/safety/")
    async with bot.services.sessions() as session:
        assert (await session.scalars(select(CharacterRow.name))).all() == ["Loremaster"]


async def test_a_huge_standalone_lorebook_is_parsed_and_screened_off_the_event_loop(
        bot: Any, fake_discord: Any, world: dict[str, Any]) -> None:
    data = hostile.lore_card(entries=120, chars=12_000, keys=20)  # a card's book imports as a lorebook
    payload = fake_discord.slash_payload(world["alice"], world["nsfw"], "lorebook import",
                                         {"file": ("lore.json", data), "name": "Big"})
    with LoopSampler(threading.get_ident()).watching() as sampler:
        await invoke(bot, payload, timeout=60)
    said = "\n".join(str((rec.json or {}).get("content") or "") for rec in fake_discord.handle(payload).requests)
    assert "Imported **Big** (120 entries)" in said
    assert sampler.samples > 0
    assert not sampler.ran("bot/characters/worlds.py")
    assert not sampler.ran("bot/characters/cards_json.py", "load_card_json")
    assert not sampler.ran("bot/safety/")  # every entry screened, stage 1 in a worker


async def test_the_import_cooldown_holds_through_the_command(bot: Any, fake_discord: Any,
                                                             world: dict[str, Any]) -> None:
    card = hostile.ones_card(chars=100, fields=1)
    first = await import_card(bot, fake_discord, world["alice"], world["nsfw"], "a.json", card)
    second = await import_card(bot, fake_discord, world["alice"], world["nsfw"], "b.json", card)
    assert "Imported **Ones**" in first
    assert "You can import another card in" in second
    await asyncio.sleep(0)
