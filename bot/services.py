"""The one place that builds: every part the bot owns, in order, each given exactly what it uses.

`build_services` is called once by the bot's `setup_hook` (and by `python -m bot chat`); `close`
shuts everything down in reverse. Nothing here decides anything, and nothing later asks this bag
for a part: cogs take what they need from it in their `setup` and pass it on by keyword.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import discord
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.characters.lorebooks import LorebookService
from bot.characters.service import CharacterService
from bot.chat.screening import ChatScreen
from bot.chat.service import ChatService
from bot.config import Env
from bot.images.service import ImageService
from bot.images.shared_queue import SharedImageQueue
from bot.limits import Limits
from bot.offload import Offload
from bot.policy import ContentPolicy
from bot.senses import Hearing, Seeing, Speaking
from bot.settings import SettingsStore
from bot.store.engine import make_engine, make_sessionmaker
from bot.store.processes import Process
from bot.ui.avatar_host import DiscordAvatarHost
from bot.ui.personas import PersonaPoster
from bot.ui.router import ComponentRouter
from bot.venice.client import VeniceClient

log = logging.getLogger(__name__)

# What the worker processes import once, in the fork server: the modules whose functions run there.
OFFLOADED_MODULES = ("bot.characters.cards", "bot.characters.avatars", "bot.characters.service",
                     "bot.characters.lorebooks", "bot.policy")


@dataclass(frozen=True, slots=True)
class Services:
    """What the bot owns. `env` is the operator's environment; `settings` the per-server settings."""

    env: Env
    engine: AsyncEngine  # the database engine (the chat service is `chat`)
    sessions: async_sessionmaker[AsyncSession]
    venice: VeniceClient
    settings: SettingsStore
    limits: Limits
    offload: Offload  # worker processes and threads for CPU-heavy work, off the event loop
    policy: ContentPolicy  # both stages of the content screen (DESIGN §5): every input and output
    process: Process  # this process in the database: owner of work in flight, periodic-job claims
    characters: CharacterService
    lorebooks: LorebookService  # standalone lorebooks: import, attach, export; the books a turn scans
    chat: ChatService
    images: ImageService
    personas: PersonaPoster | None  # None without a Discord client (the terminal chat)
    router: ComponentRouter  # every button and form; the features register theirs in their cogs' setup
    speaking: Speaking  # replies read aloud (🔊 Listen, "speak every reply", voice previews)
    hearing: Hearing  # voice messages transcribed
    seeing: Seeing  # pictures people give a character, judged, for a model that can see

    async def close(self) -> None:
        await self.characters.close()
        await self.offload.close()
        await self.venice.close()
        await self.process.retire()
        await self.engine.dispose()


async def build_services(env: Env, client: discord.Client | None = None, *,
                         clock: Callable[[], float] = time.monotonic) -> Services:
    """Open the store and the Venice client and build the services on them.

    Migrations are run by the command line, not here. `clock` times the caches (tests move it).
    """
    engine = make_engine(env.database_url)
    sessions = make_sessionmaker(engine)
    venice = VeniceClient(env.venice_api_key.get() if env.venice_api_key else "", env.venice_base_url)
    settings = SettingsStore(sessions, env, clock=clock)
    offload = Offload(preload=OFFLOADED_MODULES)
    offload.start()
    # A bot process owns its shards; the terminal chat owns none (it recovers nobody's work).
    process = await Process.register(sessions, shard_ids=env.shard_ids if client is not None else (),
                                     shard_count=env.shard_count)
    process.start()
    limits = Limits(sessions, settings, owner=process)
    policy = ContentPolicy(sessions, venice, env, offload=offload)
    characters = CharacterService(sessions=sessions, venice=venice, settings=settings, offload=offload,
                                  policy=policy, clock=clock)
    if client is not None and env.avatar_channel_id is not None:
        characters.avatar_host = DiscordAvatarHost(client, env.avatar_channel_id)
    lorebooks = LorebookService(sessions=sessions, policy=policy, offload=offload, clock=clock)
    chat = ChatService(sessions=sessions, venice=venice, settings=settings, limits=limits, characters=characters,
                       screen=ChatScreen(policy=policy), process=process, clock=clock, lorebooks=lorebooks,
                       offload=offload)
    images = ImageService(sessions=sessions, venice=venice, settings=settings, limits=limits, policy=policy,
                          queue=SharedImageQueue(sessions, owner=process), offload=offload)
    speaking = Speaking(sessions=sessions, venice=venice, limits=limits, settings=settings, chat=chat, clock=clock)
    hearing = Hearing(venice=venice, limits=limits, settings=settings, offload=offload)
    seeing = Seeing(venice=venice, policy=policy, settings=settings, offload=offload)
    return Services(
        env=env, engine=engine, sessions=sessions, venice=venice, settings=settings, limits=limits,
        offload=offload, policy=policy, process=process, characters=characters, lorebooks=lorebooks, chat=chat,
        images=images,
        personas=PersonaPoster(client) if client is not None else None, router=ComponentRouter(sessions=sessions),
        speaking=speaking, hearing=hearing, seeing=seeing,
    )


def services_of(client: object) -> Services:
    """The services the bot built in `setup_hook`; where cog modules' `setup` functions start."""
    services = getattr(client, "services", None)
    if not isinstance(services, Services):
        raise RuntimeError("cogs are loaded after the services are built (in setup_hook)")
    return services
