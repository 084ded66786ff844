"""What the bot owns, built once in `setup_hook` and closed once in `close`.

Cogs reach services through `bot.services`; services never import discord.py types except at the
edge helpers that take an interaction, so the logic stays testable without Discord.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import discord
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import gate
from bot.characters.service import CharacterService
from bot.chat.service import ChatService
from bot.config import Settings
from bot.images.service import ImageService
from bot.images.shared_queue import SharedImageQueue
from bot.limits import Limits
from bot.offload import Offload
from bot.settings import SettingsStore
from bot.store import users
from bot.store.engine import make_engine, make_sessionmaker
from bot.store.processes import Process
from bot.ui.personas import PersonaPoster
from bot.venice.client import VeniceClient

if TYPE_CHECKING:
    from discord.ext import commands

log = logging.getLogger(__name__)

# What the worker processes import once, in the fork server: the modules whose functions run there.
OFFLOADED_MODULES = ("bot.characters.cards", "bot.characters.avatars", "bot.characters.service", "bot.policy")


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    venice: VeniceClient
    config: SettingsStore
    limits: Limits
    offload: Offload
    process: Process  # this process in the database: owner of work in flight, periodic-job claims
    chat: ChatService = field(init=False)
    images: ImageService = field(init=False)
    characters: CharacterService = field(init=False)
    personas: PersonaPoster | None = field(init=False, default=None)  # None without a bot (CLI chat)

    async def admit(self, interaction: discord.Interaction) -> bool:
        """After the gate: refuse blocked users, and remember a DM unlock for plain DM chat."""
        until = await users.blocked_until(self.sessions, interaction.user.id)
        if until is not None and not _is_privacy_command(interaction):
            text = (
                "You're blocked from using this bot until "
                f"{discord.utils.format_dt(until, 'f')} after repeated attempts to request content "
                "involving minors."
            )
            if interaction.type is discord.InteractionType.autocomplete:
                await interaction.response.autocomplete([])
            else:
                await interaction.response.send_message(text, ephemeral=True)
            return False
        if interaction.type is discord.InteractionType.application_command and gate.is_bot_dm(interaction):
            await users.unlock_dm(self.sessions, interaction.user.id)
        return True

    async def close(self) -> None:
        await self.characters.close()
        await self.offload.close()
        await self.venice.close()
        await self.process.retire()
        await self.engine.dispose()


def _is_privacy_command(interaction: discord.Interaction) -> bool:
    """A blocked user keeps their data rights: /privacy export and delete still work."""
    data = interaction.data or {}
    if interaction.type is discord.InteractionType.application_command:
        return data.get("name") == "privacy"
    return interaction.type is discord.InteractionType.component and str(data.get("custom_id", "")).startswith(
        "privacy:")


async def build_services(settings: Settings, bot: commands.Bot | None = None) -> Services:
    """Open the store and the Venice client. Migrations are run by the command line, not here."""
    engine = make_engine(settings.database_url)
    key = settings.venice_api_key.get() if settings.venice_api_key else ""
    venice = VeniceClient(key, settings.venice_base_url)
    sessions = make_sessionmaker(engine)
    config = SettingsStore(sessions, settings)
    offload = Offload(preload=OFFLOADED_MODULES)
    offload.start()
    # A bot process owns its shards; the command-line chat owns none (it recovers nobody's work).
    process = await Process.register(sessions, shard_ids=settings.shard_ids if bot is not None else (),
                                     shard_count=settings.shard_count)
    process.start()
    services = Services(
        settings=settings, engine=engine, sessions=sessions, venice=venice,
        config=config, limits=Limits(sessions, config, owner=process), offload=offload, process=process,
    )
    services.chat = ChatService(services)
    services.images = ImageService(sessions=sessions, venice=venice, config=config, limits=services.limits,
                                   queue=SharedImageQueue(sessions, owner=process), offload=offload)
    services.characters = CharacterService(sessions, venice, config, offload=offload)
    services.personas = PersonaPoster(bot) if bot is not None else None
    return services
