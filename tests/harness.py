"""In-process helpers: run a real discord.py bot against :class:`tests.fakes.discord.FakeDiscord`.

Two ways to drive the bot (``../shared/reference/testing.md`` §4):

- Logged in only (``running_bot``): REST goes to the fake, there is no gateway; feed payloads
  with :func:`invoke` / :func:`dispatch_message`, which call the same parser the gateway would and
  wait for every task discord.py starts for it (command tree, views, modals, event listeners).
- Connected (``connected_bot``): the bot also opens the fake's gateway, gets READY and
  GUILD_CREATE, and the test acts through ``fake.slash(...)``, ``fake.click(...)`` and so on.

Waiting helpers take a ``timeout`` argument (ASYNC109 noqa) so a hung handler fails the test
with a clear error instead of hanging it.

Uses three private discord.py 2.7.1 names, kept in this one place: ``Client._connection``
(the parsers), the task names below, and ``ConnectionState.guild_ready_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import discord
import yarl

from tests.fakes.discord import FakeDiscord, InteractionHandle
from tests.places import PlaceSetup

# Tasks discord.py creates while handling one gateway event, by name (discord.py 2.7.1):
# app commands and autocomplete, view items, dynamic items, modals, and event listeners.
HANDLER_TASK_PREFIXES = ("CommandTree-invoker", "discord-ui-view-dispatch-", "discord-ui-dynamic-item-",
                         "discord-ui-modal-dispatch-", "discord.py: on_")

BotFactory = Callable[[], discord.Client | Awaitable[discord.Client]]


async def _parse_and_wait(parse: Callable[[], None], timeout: float) -> None:  # noqa: ASYNC109
    """Run a gateway parser, then wait for the handler tasks it started (and the ones they start)."""
    before = asyncio.all_tasks()
    parse()
    awaited: set[asyncio.Task[Any]] = set()
    async with asyncio.timeout(timeout):
        while True:
            new = [t for t in asyncio.all_tasks() - before - awaited
                   if t.get_name().startswith(HANDLER_TASK_PREFIXES)]
            if not new:
                break
            awaited.update(new)
            results = await asyncio.gather(*new, return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)]
            if errors:
                raise errors[0]


async def invoke(bot: discord.Client, payload: dict[str, Any], *, fake: FakeDiscord | None = None,
                 timeout: float = 10.0) -> InteractionHandle | None:  # noqa: ASYNC109
    """Deliver an INTERACTION_CREATE payload (any type) and wait until the bot has handled it.

    Slash commands and autocomplete run in the command tree's task, buttons and selects in view
    (or dynamic item) tasks, modals in modal tasks; all of them are awaited. With ``fake``, the
    payload is registered there first and its :class:`InteractionHandle` is returned.
    """
    handle = fake.handle(payload) if fake is not None else None
    await _parse_and_wait(lambda: bot._connection.parse_interaction_create(copy.deepcopy(payload)), timeout)
    return handle


async def invoke_together(bot: discord.Client, payloads: list[dict[str, Any]], *,
                          timeout: float = 30.0) -> list[BaseException]:  # noqa: ASYNC109
    """Deliver several INTERACTION_CREATE payloads at once (one gateway burst) and wait until all
    are handled; returns the exceptions their handlers raised instead of raising the first."""
    before = asyncio.all_tasks()
    for payload in payloads:
        bot._connection.parse_interaction_create(copy.deepcopy(payload))
    handlers = [t for t in asyncio.all_tasks() - before if t.get_name().startswith(HANDLER_TASK_PREFIXES)]
    results = await asyncio.wait_for(asyncio.gather(*handlers, return_exceptions=True), timeout)
    return [r for r in results if isinstance(r, BaseException)]


invoke_slash = invoke
invoke_component = invoke
invoke_modal = invoke


async def dispatch_message(bot: discord.Client, payload: dict[str, Any], *,
                           timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Deliver a MESSAGE_CREATE payload and wait for ``on_message`` (and prefix commands) to finish."""
    await _parse_and_wait(lambda: bot._connection.parse_message_create(copy.deepcopy(payload)), timeout)


async def dispatch_event(bot: discord.Client, event: str, data: dict[str, Any], *,
                         timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Deliver any gateway event by name (``"CHANNEL_UPDATE"``...) and wait for its listeners."""
    parser = bot._connection.parsers[event]
    await _parse_and_wait(lambda: parser(copy.deepcopy(data)), timeout)


def cache_guild(bot: discord.Client, guild: dict[str, Any]) -> discord.Guild:
    """Put a guild (a GUILD_CREATE payload) into a logged-in bot's cache, as the gateway would."""
    bot._connection.parse_guild_create(copy.deepcopy(guild))
    cached = bot.get_guild(int(guild["id"]))
    assert cached is not None
    return cached


def prime_place(bot: discord.Client, setup: PlaceSetup) -> None:
    """Make a logged-in bot's cache match a place: its guild cached, then its later events applied."""
    if setup.guild is not None:
        cache_guild(bot, setup.guild)
    for event, data in setup.updates:
        bot._connection.parsers[event](copy.deepcopy(data))


@contextlib.contextmanager
def pointed_at(fake: FakeDiscord) -> Iterator[str]:
    """Point discord.py's REST base at the fake for the duration (what DISCORD_API_BASE does in production).

    The CDN base (avatars, icons) goes to the fake too, so ``await asset.read()`` stays local, and
    so does the fixed gateway address a plain ``Client``/``Bot`` uses (only ``AutoShardedClient``
    asks ``GET /gateway/bot``): no test can reach Discord by accident.
    """
    ws = discord.gateway.DiscordWebSocket
    previous = discord.http.Route.BASE, discord.asset.Asset.BASE, ws.DEFAULT_GATEWAY
    discord.http.Route.BASE, discord.asset.Asset.BASE = fake.api_base, fake.cdn_base
    ws.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield fake.api_base
    finally:
        discord.http.Route.BASE, discord.asset.Asset.BASE, ws.DEFAULT_GATEWAY = previous


async def _make(make_bot: BotFactory) -> discord.Client:
    bot = make_bot()
    return await bot if inspect.isawaitable(bot) else bot


@contextlib.asynccontextmanager
async def running_bot(make_bot: BotFactory, fake: FakeDiscord, *,
                      token: str = "fake-token") -> AsyncIterator[discord.Client]:
    """A bot logged in to the fake (REST only): ``setup_hook`` has run, no gateway.

    ``fake`` must be started. Interactions built after this point get the bot's HTTP session.
    """
    with pointed_at(fake):
        bot = await _make(make_bot)
        try:
            await bot.login(token)
            yield bot
        finally:
            await bot.close()


@contextlib.asynccontextmanager
async def connected_bot(make_bot: BotFactory, fake: FakeDiscord, *, token: str = "fake-token",
                        wait_ready: bool = True, fast_ready: bool = True,
                        timeout: float = 10.0) -> AsyncIterator[discord.Client]:  # noqa: ASYNC109
    """A bot logged in and connected to the fake gateway, with every fake guild in its cache.

    ``fast_ready``: discord.py fires ``on_ready`` only after ``guild_ready_timeout`` (2 s) without
    a new GUILD_CREATE; lower it to 0.05 s so ``wait_ready`` costs milliseconds, not seconds.
    """
    async with running_bot(make_bot, fake, token=token) as bot:
        if fast_ready:
            bot._connection.guild_ready_timeout = 0.05
        connecting = asyncio.create_task(bot.connect(), name="fake-discord-bot-connect")
        try:
            await _until_connected(bot, fake, connecting, wait_ready, timeout)
            yield bot
        finally:
            await bot.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(connecting, timeout)


async def _until_connected(bot: discord.Client, fake: FakeDiscord, connecting: asyncio.Task[None],
                           wait_ready: bool, timeout: float) -> None:  # noqa: ASYNC109
    async def cached() -> None:
        await fake.wait_ready(shards=fake.gateway.shard_count, timeout=timeout)
        # The frames are written; the bot parses them on its own schedule and signals nothing we
        # could await before on_ready, so poll its cache briefly.
        while not all(bot.get_guild(int(g)) for g in fake.world.guilds):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        if wait_ready:
            await bot.wait_until_ready()

    waiting = asyncio.create_task(cached())
    done, _ = await asyncio.wait({waiting, connecting}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if waiting not in done:
        waiting.cancel()
        if connecting in done and connecting.exception() is not None:
            raise connecting.exception()  # type: ignore[misc]
        raise AssertionError(f"bot did not connect to the fake gateway within {timeout}s")
    waiting.result()
