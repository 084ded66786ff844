"""Several real `python -m bot` processes on one database: crashes, restarts and shards.

The fake Discord runs two shards (`SHARD_COUNT=2`); each process serves one (`SHARD_IDS=0` or `1`).
The database is PostgreSQL when TEST_DATABASE_URL points at one (the deployment DESIGN §11
describes), else one SQLite file shared by the processes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from alembic.script import ScriptDirectory
from sqlalchemy import text

from bot.store.engine import make_engine
from bot.store.migrate import alembic_config
from tests import payloads as p
from tests.conftest import DISCORD_TOKEN, TEST_DATABASE_URL, VENICE_KEY, drop_pg_database, new_pg_database
from tests.e2e import run_cli, secrets_in
from tests.e2e.conftest import E2E, SECRETS, custom_ids, is_reply_with, text_of
from tests.fakes.discord import SPEC_PATH, FakeDiscord
from tests.fakes.venice import FakeVenice

pytestmark = pytest.mark.postgres

FIRST = "Scarlett looks up from the bar and smiles slowly."
SECOND = "She pours you a glass of something dark and sweet."
STORY = " ".join(["She tells you about the city at night, slowly, savouring every word."] * 12)


class Gate:
    """Holds the fake Venice's chat answers while closed (a stream that has not begun)."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.open.set()
        self.arrived = asyncio.Event()  # a chat request is being held

    def wrap(self, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
             ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def gated(request: web.Request) -> web.StreamResponse:
            if not self.open.is_set():
                self.arrived.set()
                await self.open.wait()
            return await handler(request)
        return gated


class Shards(E2E):
    """The e2e world with a shared database URL instead of the default SQLite path."""

    def __init__(self, fake: FakeDiscord, venice: FakeVenice, workdir: Path, url: str, gate: Gate) -> None:
        super().__init__(fake, venice, workdir)
        self.url = url
        self.gate = gate

    def env(self, **extra: str) -> dict[str, str]:
        return super().env(**extra) | {"DATABASE_URL": self.url}

    async def sql(self, query: str) -> list[Any]:
        engine = make_engine(self.url)
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(text(query))).all())
        finally:
            await engine.dispose()

    def guild_on_shard(self, shard: int, name: str) -> dict[str, Any]:
        gid = int(p.new_id())
        if (gid >> 22) % 2 != shard:
            gid += 1 << 22
        guild = self.fake.add_guild(name, id=gid)
        return guild

    def place(self, shard: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """(a user, an age-restricted channel) in a server on `shard`."""
        guild = self.guild_on_shard(shard, f"Shard {shard} lounge")
        user = self.fake.add_user(f"user{shard}")
        self.fake.add_member(guild["id"], user)
        return user, self.fake.add_channel(guild["id"], "text", name="after-dark", nsfw=True)


@pytest.fixture
async def shards(tmp_path: Path) -> AsyncIterator[Shards]:
    if not SPEC_PATH.exists():
        pytest.skip(f"Discord's OpenAPI file is not at {SPEC_PATH}")
    workdir = tmp_path / "work"
    workdir.mkdir()
    pg_name = None
    if TEST_DATABASE_URL.startswith("postgresql"):
        url, pg_name = await new_pg_database(TEST_DATABASE_URL)
    else:
        url = f"sqlite+aiosqlite:///{workdir / 'data' / 'lustify.db'}"
    gate = Gate()
    venice = FakeVenice(api_key=VENICE_KEY)
    venice.chat.handle = gate.wrap(venice.chat.handle)  # type: ignore[method-assign]
    await venice.start()
    try:
        async with FakeDiscord(token=DISCORD_TOKEN, shards=2) as fake:
            world = Shards(fake, venice, workdir, url, gate)
            try:
                yield world
            finally:
                gate.open.set()
                for proc in world.processes:
                    if proc.running:
                        try:
                            await world.stop(proc)
                        finally:
                            proc.kill()
                    proc.close_files()
            tokens = dict(SECRETS) | {f"webhook {h['id']} token": h["token"] for h in fake.world.webhooks.values()}
            assert secrets_in(world.output(), tokens) == []
            assert fake.violations == [] and venice.violations == []
    finally:
        await venice.close()
        if pg_name is not None:
            await drop_pg_database(TEST_DATABASE_URL, pg_name)


async def test_a_reply_cut_by_a_crash_is_rewritten_as_cut_after_the_restart(shards: Shards) -> None:
    user, channel = shards.place(0)
    first = await shards.start(SHARD_COUNT="2", SHARD_IDS="0")
    shards.venice.replies.append(STORY)
    shards.venice.chunk_delay = 0.5  # slow enough that it is still writing when the process dies
    await shards.slash(user, channel, "chat", {"message": "Tell me about the city."})
    writing = await shards.wait_message(
        channel["id"], lambda m: "She tells you" in text_of(m) and any(c.startswith("chat:stop:")
                                                                     for c in custom_ids(m)),
        "the first words, with the Stop button", timeout=30)

    first.proc.kill()  # SIGKILL: no shutdown, no cleanup
    await first.proc.wait()
    first.close_files()
    shards.venice.chunk_delay = 0.0
    await shards.start(SHARD_COUNT="2", SHARD_IDS="0")

    def rewritten(m: dict[str, Any]) -> bool:
        ids = custom_ids(m)
        return (m["id"] == writing["id"] and "cut off: the bot restarted" in text_of(m)
                and any(c.startswith("chat:regen:") for c in ids) and any(c.startswith("chat:cont:") for c in ids)
                and not any(c.startswith("chat:stop:") for c in ids))

    shown = await shards.wait_message(channel["id"], rewritten, "the reply rewritten as cut", timeout=30)
    # What users had seen stays on screen, said to be cut off; the marker and Stop are gone. The
    # half-written turn stays out of the story (DESIGN §6): 🔄 Regenerate writes it anew.
    text, note = text_of(shown).split("\n*(cut off: the bot restarted", 1)
    assert text.startswith("She tells you") and STORY.startswith(text) and "not in the story" in note
    assert await shards.sql("SELECT status, content FROM messages WHERE role = 'assistant'") == [("failed", "")]


async def test_a_regenerate_in_flight_on_one_shard_survives_the_other_shards_restart(shards: Shards) -> None:
    user, channel = shards.place(1)
    zero = await shards.start(SHARD_COUNT="2", SHARD_IDS="0")
    await shards.start(SHARD_COUNT="2", SHARD_IDS="1")
    shards.venice.replies.append(FIRST)
    await shards.slash(user, channel, "chat", {"message": "Hello there."})
    reply = await shards.wait_message(channel["id"], is_reply_with(FIRST), "the first reply", timeout=30)

    shards.gate.open.clear()  # the regenerate is in flight: stored as streaming, Venice not answering yet
    shards.venice.replies.append(SECOND)
    regen = next(c for c in custom_ids(reply) if c.startswith("chat:regen:"))
    clicked = await shards.fake.click(user, channel, reply["id"], regen)
    await clicked.response(timeout=30)
    await asyncio.wait_for(shards.gate.arrived.wait(), 30)  # the regenerate reached Venice

    await shards.stop(zero)  # shard 0 restarts while shard 1 is regenerating
    await shards.start(SHARD_COUNT="2", SHARD_IDS="0")
    shards.gate.open.set()

    swiped = await shards.wait_message(
        channel["id"], lambda m: m["id"] == reply["id"] and is_reply_with(SECOND)(m)
        and any(c.startswith("chat:prev:") for c in custom_ids(m)), "the regenerated reply", timeout=30)
    assert "2/2" in json.dumps(swiped["components"])

    async def stored_swipes() -> list[str]:
        [(swipes,)] = await shards.sql("SELECT swipes FROM messages WHERE role = 'assistant'")
        return json.loads(swipes) if isinstance(swipes, str) else swipes

    # The reply is stored right after its last Discord write (which gives the ids it stores).
    async with asyncio.timeout(10):
        while await stored_swipes() != [FIRST, SECOND]:  # noqa: ASYNC110 (polls another process's write)
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("command", ["migrate", "run"])
async def test_processes_starting_together_on_a_new_database_both_come_up(shards: Shards, command: str) -> None:
    if command == "migrate":
        results = await asyncio.gather(*(run_cli("migrate", env=shards.env(), cwd=shards.workdir) for _ in range(2)))
        assert [r.code for r in results] == [0, 0], [r.output for r in results]
        assert all("database is up to date" in r.out for r in results)
    else:
        await asyncio.gather(shards.start(SHARD_COUNT="2", SHARD_IDS="0"),
                             shards.start(SHARD_COUNT="2", SHARD_IDS="1"))
    [(revision,)] = await shards.sql("SELECT version_num FROM alembic_version")
    assert revision == ScriptDirectory.from_config(alembic_config(shards.url)).get_current_head()
