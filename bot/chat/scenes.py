"""What a turn runs against: the channel's conversation, its character and the channel's settings.

Looked up on every turn, so kept in memory for a short while (`TTL` seconds). This process
forgets a channel's entry whenever it changes the conversation (a new one, resume, delete), so it
always sees its own changes at once. Another process (a shard sharing the database) only touches
a channel that Discord routes to it, so a channel's conversation is in practice changed by one
process; the TTL bounds how long a change made elsewhere (the terminal chat, a privacy deletion)
can go unseen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.cache import TTLCache
from bot.characters.model import DEFAULT_CHARACTER, Character
from bot.characters.regex_scripts import scripts_of, shown_text, stored_text
from bot.characters.service import CharacterService
from bot.chat.macros import MacroContext, expand, render
from bot.chat.render import Look
from bot.settings import SettingsStore
from bot.store.conversations import Conversations, TurnRow
from bot.store.models import Conversation
from bot.where import Where

TTL = 30.0
SCENE_KEYS = ["text_model", "reply_tokens", "personas", "images", "lore_strategy", "lore_min_activations",
              "lore_min_activations_depth_max"]


@dataclass(slots=True)
class Scene:
    """A conversation, its character and the channel's settings for it."""

    conversation: Conversation
    character: Character
    model: str
    reply_tokens: int
    personas: bool  # post as the character through a webhook
    images: bool = True  # the channel allows pictures (the "picture this" button)
    cast: tuple[tuple[str, str], ...] = ()  # a group scene's members (ref, name): the reply's scene controls
    lore_strategy: str = "character_first"  # the `lore_strategy` setting: how character and server lore are ordered
    lore_min_activations: int = 0  # `world_info_min_activations` (0: off)
    lore_min_activations_depth_max: int = 0  # `world_info_min_activations_depth_max` (0: the whole history)

    @property
    def look(self) -> Look:
        scripts = scripts_of(self.character.extensions)
        if not scripts:
            return Look(self.character.name, self.character.avatar_url, self.personas)
        macros = self._macros()

        def display(text: str, final: bool) -> str:
            return shown_text(text, scripts, final=final, macros=macros)

        return Look(self.character.name, self.character.avatar_url, self.personas, display)

    def stored(self, reply: str) -> str:
        """The reply as it is stored: the card's regex scripts that change the text itself
        (SillyTavern runs them on AI output before saving it)."""
        scripts = scripts_of(self.character.extensions)
        return stored_text(reply, scripts, macros=self._macros()) if scripts else reply

    def _macros(self) -> Callable[[str], str]:
        names = MacroContext(char=self.character.name, user="")
        return lambda text: render(text, names) if "{{" in text or "<" in text else text


class Scenes:
    """Finds (and starts) a channel's conversation and resolves what it needs."""

    def __init__(self, *, conversations: Conversations, characters: CharacterService, settings: SettingsStore,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.conversations = conversations
        self.characters = characters
        self.settings = settings
        self._active: TTLCache = TTLCache(TTL, clock, max_entries=10_000)
        self._pinned: dict[str, Character] = {}

    def pin(self, ref: str, character: Character) -> None:
        """Play `character` wherever `ref` is used in this process (a card file the terminal chat
        loaded is not a stored character, so nothing else could resolve its reference)."""
        self._pinned[ref] = character

    async def active(self, channel_id: int) -> Conversation | None:
        """The channel's active conversation (cached)."""
        return await self._active.get_or_load(channel_id, lambda: self.conversations.active(channel_id))

    def forget(self, channel_id: int | None = None) -> None:
        """The channel's conversation changed (None: any channel's may have, e.g. a privacy deletion)."""
        if channel_id is None:
            self._active.clear()
        else:
            self._active.forget(channel_id)

    async def of(self, where: Where, *, create: bool = True) -> Scene | None:
        """The channel's active conversation (started silently if there is none) and its settings."""
        assert where.channel_id is not None
        conv = await self.active(where.channel_id)
        if conv is None:
            if not create:
                return None
            character, ref, _ = await self.for_channel(where)
            conv, _ = await self.conversations.start(
                channel_id=where.channel_id, guild_id=where.guild_id, character_ref=ref,
                character_name=character.name, created_by=where.user_id,
            )
            self._active.put(where.channel_id, conv)
            return await self.of_conversation(conv, where, character=character)
        return await self.of_conversation(conv, where)

    async def of_conversation(self, conv: Conversation, where: Where, *, character: Character | None = None) -> Scene:
        """A scene for a given conversation (maybe not the channel's active one), with the channel's settings."""
        if character is None:
            character = await self.character(conv.character_ref, where)
        avatar = await self.characters.lasting_avatar(character)
        if avatar != character.avatar_url:  # an expired Discord URL: its renewed copy (or none)
            character = replace(character, avatar_url=avatar)
        cfg = await self.settings.resolve_all(guild_id=where.guild_id, channel_id=where.channel_id,
                                              parent_id=where.parent_id, keys=SCENE_KEYS)
        return Scene(conv, character, str(cfg["text_model"].value), int(cfg["reply_tokens"].value),
                     bool(cfg["personas"].value), bool(cfg["images"].value),
                     lore_strategy=str(cfg["lore_strategy"].value),
                     lore_min_activations=int(cfg["lore_min_activations"].value or 0),
                     lore_min_activations_depth_max=int(cfg["lore_min_activations_depth_max"].value or 0))

    async def character(self, ref: str, where: Where) -> Character:
        """The character a conversation plays; one that no longer exists falls back to the default."""
        if ref in self._pinned:
            return self._pinned[ref]
        found = await self.characters.resolve(ref, user_id=where.user_id, guild_id=where.guild_id)
        return found if found is not None else DEFAULT_CHARACTER

    async def for_channel(self, where: Where) -> tuple[Character, str, str]:
        """(character, its reference, where the choice comes from) for the channel."""
        assert where.channel_id is not None
        return await self.characters.for_channel(channel_id=where.channel_id, guild_id=where.guild_id,
                                                 parent_id=where.parent_id)

    async def start(self, where: Where, character_ref: str | None = None, *, greet: bool = True
                    ) -> tuple[Scene, TurnRow | None]:
        """Archive the channel's conversation and start afresh with its character (or the one
        `character_ref` names) and its greeting (`greet`; a group scene's members greet instead)."""
        assert where.channel_id is not None
        if character_ref is None:
            character, ref, _ = await self.for_channel(where)
        else:
            character, ref = await self.character(character_ref, where), character_ref
        greetings = [expand(g, char=character.name, user=where.user_name) for g in character.greetings] if greet else []
        conv, greeting = await self.conversations.start(
            channel_id=where.channel_id, guild_id=where.guild_id, character_ref=ref,
            character_name=character.name, created_by=where.user_id, greetings=greetings,
        )
        self._active.put(where.channel_id, conv)
        return await self.of_conversation(conv, where, character=character), greeting
