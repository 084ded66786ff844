"""Fixtures for the end-to-end tests: the real `python -m bot run` against in-test fakes.

`e2e` gives a fake Discord (REST + gateway, accepting only the test token), a fake Venice
(accepting only the test key), a working directory without `.env`, and a SQLite path that does not
exist yet. `e2e.start()` launches the bot process with settings from its environment only, the
way an operator starts it, and waits until it has logged in, connected and announced it is ready.
Every process is stopped with SIGTERM at the end; the fixture then checks each exit was clean and
that no process printed the Discord token, the Venice key, or any webhook or interaction token.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests import payloads as p
from tests.conftest import DISCORD_TOKEN, VENICE_KEY
from tests.e2e import BotProcess, Result, clean_env, run_cli, secrets_in
from tests.fakes.discord import SPEC_PATH, FakeDiscord, InteractionHandle
from tests.fakes.venice import FakeVenice

SECRETS = {"DISCORD_TOKEN": DISCORD_TOKEN, "VENICE_API_KEY": VENICE_KEY}


class E2E:
    """One world (fake Discord, fake Venice, one database) and the bot processes run on it."""

    def __init__(self, fake: FakeDiscord, venice: FakeVenice, workdir: Path) -> None:
        self.fake = fake
        self.venice = venice
        self.workdir = workdir
        self.db_path = workdir / "data" / "lustify.db"  # the folder does not exist yet
        self.processes: list[BotProcess] = []
        self.cli_results: list[Result] = []

    def env(self, **extra: str) -> dict[str, str]:
        return clean_env(DISCORD_TOKEN=DISCORD_TOKEN, VENICE_API_KEY=VENICE_KEY,
                         DATABASE_URL=f"sqlite+aiosqlite:///{self.db_path}",
                         DISCORD_API_BASE=self.fake.api_base, VENICE_BASE_URL=self.venice.base_url, **extra)

    async def cli(self, *args: str) -> Result:
        result = await run_cli(*args, env=self.env(), cwd=self.workdir)
        self.cli_results.append(result)
        return result

    async def start(self, **extra_env: str) -> BotProcess:
        """`python -m bot run`; returns once its gateway session is ready and it logged "ready"."""
        before = set(self.fake.gateway.sessions)
        proc = BotProcess(f"bot{len(self.processes) + 1}", self.env(**extra_env), self.workdir)
        self.processes.append(proc)
        await proc.start()

        def new_session_ready() -> bool:
            return any(s.ready and s.connection is not None and sid not in before
                       for sid, s in self.fake.gateway.sessions.items())

        waiting = asyncio.create_task(self.fake.wait_until(new_session_ready, 15, what="a new gateway session"))
        try:
            while not waiting.done():
                if not proc.running:
                    raise AssertionError(f"{proc.name} exited with {proc.returncode}:\n{proc.stderr[-3000:]}")
                await asyncio.sleep(0.05)
            waiting.result()
        finally:
            waiting.cancel()
        await proc.wait_log("ready as", timeout=10)
        return proc

    async def stop(self, proc: BotProcess) -> None:
        """SIGTERM, then the exit must be clean: code 0 and no traceback."""
        code = await proc.stop()
        assert code == 0, f"{proc.name} exited with {code}:\n{proc.stderr[-3000:]}"
        assert "Traceback" not in proc.stderr, proc.stderr[-3000:]

    def output(self) -> str:
        """Everything every process printed so far."""
        chunks = [proc.stdout + proc.stderr for proc in self.processes]
        chunks += [r.output for r in self.cli_results]
        return "\n".join(chunks)

    # -- acting as users ------------------------------------------------------------------------

    async def slash(self, user: Any, channel: Any, name: str, options: Any = None) -> InteractionHandle:
        handle = await self.fake.slash(user, channel, name, options)
        await handle.response(timeout=10)
        return handle

    def messages_in(self, channel_id: str) -> list[dict[str, Any]]:
        return [m for m in self.fake.world.messages.values() if m["channel_id"] == channel_id]

    async def wait_message(self, channel_id: str, predicate: Callable[[dict[str, Any]], bool],
                           what: str, timeout: float = 10.0) -> dict[str, Any]:  # noqa: ASYNC109
        await self.fake.wait_until(lambda: any(predicate(m) for m in self.messages_in(channel_id)),
                                   timeout, what=what)
        return [m for m in self.messages_in(channel_id) if predicate(m)][-1]

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db_path) as conn:
            return conn.execute(sql).fetchall()


def text_of(message: dict[str, Any]) -> str:
    """What a message shows: content and embed descriptions (the persona fallback in DMs)."""
    return "\n".join([message.get("content") or "", *[e.get("description") or "" for e in message["embeds"]]])


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components", []) for c in row.get("components", [])
            if "custom_id" in c]


def is_reply_with(text: str) -> Callable[[dict[str, Any]], bool]:
    """A finished character reply showing `text`, with its buttons."""
    return lambda m: text in text_of(m) and any(c.startswith("chat:regen:") for c in custom_ids(m))


@pytest.fixture
async def e2e(tmp_path: Path) -> AsyncIterator[E2E]:
    if not SPEC_PATH.exists():
        pytest.skip(f"Discord's OpenAPI file is not at {SPEC_PATH}")
    workdir = tmp_path / "work"
    workdir.mkdir()
    async with FakeDiscord(token=DISCORD_TOKEN) as fake, FakeVenice(api_key=VENICE_KEY) as venice:
        world = E2E(fake, venice, workdir)
        try:
            yield world
        finally:
            for proc in world.processes:
                if proc.running:
                    try:
                        await world.stop(proc)
                    finally:
                        proc.kill()
        # Webhook and interaction tokens are secrets too: whoever holds one posts as the bot.
        tokens = dict(SECRETS)
        tokens |= {f"webhook {h['id']} token": h["token"] for h in fake.world.webhooks.values()}
        tokens |= {f"interaction {r.id} token": r.token for r in fake.world.interactions.values()}
        leaked = secrets_in(world.output(), tokens)
        assert leaked == [], f"printed by a bot process: {leaked}"
        assert fake.violations == [], fake.violations
        assert venice.violations == [], venice.violations
        # The token reached Discord only where it belongs: the Authorization header.
        assert all(r.headers.get("Authorization") in (None, f"Bot {DISCORD_TOKEN}") for r in fake.requests)


@pytest.fixture
def people(e2e: E2E) -> dict[str, Any]:
    """A server with an age-restricted and an ordinary channel, and a user with a DM."""
    guild = e2e.fake.add_guild("Velvet Room")
    alice = e2e.fake.add_user("alice")
    e2e.fake.add_member(guild["id"], alice)
    return {
        "guild": guild, "alice": alice,
        "nsfw": e2e.fake.add_channel(guild["id"], "text", name="after-dark", nsfw=True),
        "sfw": e2e.fake.add_channel(guild["id"], "text", name="general"),
        "dm": e2e.fake.dm_channel(alice),
        "bot_id": p.BOT_ID,
    }
