"""The bot: an AutoShardedBot that owns one store engine, one Venice client and the services.

`setup_hook` opens everything and loads the cogs; `close` shuts it down in reverse. The command
tree's global check is the component router's `allowed` (the age gate, then admission), the same
check every button and form passes through (`bot/ui/router.py`); both report errors the same way.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.ext import commands, tasks

from bot import gate
from bot.config import Env
from bot.loopwatch import LoopWatch
from bot.services import Services, build_services
from bot.ui.errors import report

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.chat", "cogs.characters", "cogs.lorebooks", "cogs.images", "cogs.admin", "cogs.privacy",
              "cogs.voice")
# Tasks discord.py 2.7 starts to handle one event (slash commands and autocomplete, view and
# dynamic-item buttons, modals, event listeners such as on_message), by name.
HANDLER_TASKS = ("CommandTree-invoker", "discord-ui-view-dispatch-", "discord-ui-dynamic-item-",
                 "discord-ui-modal-dispatch-", "discord.py: on_")
DRAIN_SECONDS = 8.0  # inside the 10 s a container runtime waits between SIGTERM and SIGKILL


def apply_api_base(api_base: str | None) -> None:
    """Point discord.py's REST client (and so the gateway lookup) at another base URL.

    `Route.BASE` is read whenever a route is built, by the HTTP client and by the interaction
    webhook adapter alike, so this one attribute moves every REST call.
    """
    if api_base:
        discord.http.Route.BASE = api_base.rstrip("/")


def intents() -> discord.Intents:
    """Guilds (channel cache with age-restricted flags), guild and DM messages. Message Content is
    not needed: mentions, replies to the bot and DMs carry their content without it."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    return wanted


class BotTree(app_commands.CommandTree["LustifyBot"]):
    """The command tree: the gate as a global check, and one error handler with kind wording."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        bot = interaction.client
        if not isinstance(bot, LustifyBot) or bot.services is None:
            return await gate.enforce(interaction)  # shutting down: the gate still holds
        return await bot.services.router.allowed(interaction)

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await report(interaction, error)


class LustifyBot(commands.AutoShardedBot):
    """The production bot. Tests build it with the same factory and point it at local fakes."""

    def __init__(self, env: Env, *, extensions: tuple[str, ...] = EXTENSIONS, freeze_heap: bool = False,
                 **kwargs: Any) -> None:
        # Text only: never joins voice, so discord.py's "PyNaCl/davey is not installed" start-up
        # warnings would only alarm operators. These are discord.py's own warn-once switches.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        shard_options: dict[str, Any] = {}
        if env.shard_count is not None:
            shard_options["shard_count"] = env.shard_count
        if env.shard_ids is not None:
            shard_options["shard_ids"] = list(env.shard_ids)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(),
            tree_cls=BotTree,
            allowed_mentions=discord.AllowedMentions.none(),
            allowed_contexts=app_commands.AppCommandContext(guild=True, dm_channel=True, private_channel=False),
            allowed_installs=app_commands.AppInstallationType(guild=True, user=False),
            help_command=None,
            max_messages=1000,
            **shard_options,
            **kwargs,
        )
        self.env = env
        self.extension_names = extensions
        self.freeze_heap = freeze_heap  # the process's own bot (python -m bot run), not tests' many
        self.services: Services | None = None
        self.loop_watch = LoopWatch()  # warns, naming the task, when the event loop stalls
        self._shutdown: asyncio.Task[None] | None = None

    async def setup_hook(self) -> None:
        self.loop_watch.start()
        self.services = await build_services(self.env, self)
        self.add_listener(self.services.router.on_interaction, "on_interaction")
        for name in self.extension_names:
            await self.load_extension(name)
        log.info("setup done: %d extensions, %d commands", len(self.extension_names), len(self.tree.get_commands()))
        if self.freeze_heap:
            freeze_startup_heap()


    async def launch_shards(self) -> None:
        if self.shard_count is not None and self.env.discord_api_base:
            # discord.py asks the REST base for the gateway address only when it picks the shard
            # count itself; with SHARD_COUNT set it would dial Discord's fixed address instead of
            # the one DISCORD_API_BASE serves (a fake Discord in tests, a proxy's upstream otherwise).
            _, url, _ = await self.http.get_bot_gateway()
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        await super().launch_shards()

    async def on_ready(self) -> None:
        log.info("ready as %s in %d servers", self.user, len(self.guilds))

    async def on_message(self, message: discord.Message) -> None:
        # Plain messages go to the chat cog's listener; prefix commands are not used.
        return

    async def close(self) -> None:
        # The SIGTERM handler and `async with bot` both close the bot. One shutdown, awaited by
        # every caller: otherwise the main task returns while the first close is still disposing
        # of the database, and the event loop's exit cancels it halfway (a traceback, lost writes).
        if self._shutdown is None:
            self._shutdown = asyncio.create_task(self._close_once(), name="lustify-shutdown")
        await self._shutdown

    async def __aexit__(self, *exc_info: object) -> None:
        # discord.py's own exit awaits only its part of the shutdown (its `_closing_task`), so the
        # process could end while ours still closes the services; wait for the whole of it.
        await self.close()

    async def _close_once(self) -> None:
        try:
            await self._finish_in_flight()
            await self._unload_cogs()
            await super().close()
        finally:
            if self.services is not None:
                await self.services.close()
                self.services = None
            await self.loop_watch.stop()

    async def _unload_cogs(self) -> None:
        """Run every cog's `cog_unload` (discord.py's close does not), so background loops such as
        the daily purges stop before the database they use is closed."""
        loops = [task for cog in self.cogs.values() for task in _loop_tasks(cog)]
        for name in list(self.cogs):
            try:
                await self.remove_cog(name)
            except Exception:
                log.exception("unloading cog %s failed", name)
        if loops:
            await asyncio.wait(loops, timeout=5)

    async def _finish_in_flight(self) -> None:
        """Stop taking events, then let the requests already being handled finish (bounded).

        A SIGTERM (every deploy) otherwise tears down the HTTP session and the database engine
        under handlers that are mid-reply or mid-transaction: Discord calls fail, and the
        event loop's final cancellation interrupts connection resets (SQLAlchemy logs a
        traceback). Whatever still runs after DRAIN_SECONDS is cancelled, and awaited, while
        HTTP and the database are still open; the next start marks cut replies as failed.
        """
        for shard in list(self.shards.values()):
            await shard.disconnect()  # no new events; REST stays open for the handlers
        current = asyncio.current_task()
        running = [t for t in asyncio.all_tasks() if t is not current and not t.done()
                   and t.get_name().startswith(HANDLER_TASKS)]
        if not running:
            return
        log.info("shutting down: finishing %d request(s) in progress", len(running))
        _, pending = await asyncio.wait(running, timeout=DRAIN_SECONDS)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("shutting down: cancelled %d request(s) still running after %.0f s",
                        len(pending), DRAIN_SECONDS)
            await asyncio.wait(pending, timeout=2)


def _loop_tasks(cog: commands.Cog) -> list[asyncio.Task[object]]:
    """The running tasks of a cog's `tasks.loop`s."""
    found = []
    for value in vars(cog).values():
        if isinstance(value, tasks.Loop) and (task := value.get_task()) is not None and not task.done():
            found.append(task)
    return found


def freeze_startup_heap() -> None:
    """Leave everything made at start-up (modules, discord.py's and SQLAlchemy's structures: about
    200,000 objects) out of the garbage collector's full passes from now on (`gc.freeze`).

    A full pass walks every tracked object while holding the GIL, wherever it runs: with a big
    lorebook in play it took 100-120 ms and stalled the event loop during a chat turn
    (bench/hostile.py). Frozen objects are still freed when nothing refers to them.
    """
    gc.collect()
    gc.freeze()
    log.debug("start-up heap frozen: %d objects", gc.get_freeze_count())


def make_bot(env: Env, **kwargs: Any) -> LustifyBot:
    """The one factory used by `python -m bot`, the tests and the benchmarks."""
    apply_api_base(env.discord_api_base)
    return LustifyBot(env, **kwargs)
