"""Server settings with scopes: channel over parent channel over server over built-in defaults.

Each setting is declared once in `REGISTRY` (type, range, default, who may change it). Values live
in the `settings` table, so every bot process sees the same thing. Every chat turn and image reads
them, so a scope chain's rows are kept for `CACHE_TTL` seconds: a change made in this process is
seen at once (`set` forgets every chain it touches), one made in another process within the TTL.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cache import TTLCache
from bot.config import Env
from bot.errors import UserError
from bot.store.locks import insert_for
from bot.store.models import Setting, utcnow

GLOBAL_SCOPE_ID = 0
CACHE_TTL = 10.0


@dataclass(frozen=True, slots=True)
class Spec:
    key: str
    kind: type  # str | int | float | bool
    description: str
    default: Callable[[Env], Any] | Any = None
    minimum: float | None = None
    maximum: float | None = None
    channel: bool = True  # may be overridden per channel
    scope: str = "guild"  # "guild" (Manage Server) or "global" (bot owner)
    choices: tuple[str, ...] = ()  # for text: the only values allowed (lower case)

    def default_for(self, env: Env) -> Any:
        return self.default(env) if callable(self.default) else self.default


REGISTRY: dict[str, Spec] = {s.key: s for s in (
    Spec("character", str, "default character for new conversations (a character reference)", None),
    Spec("text_model", str, "Venice text model for chat", lambda env: env.text_model),
    Spec("image_model", str, "Venice image model", lambda env: env.image_model),
    Spec("image_style", str, "default image style preset", lambda env: env.image_style),
    Spec("personas", bool, "post replies as the character through a webhook", True),
    Spec("images", bool, "allow image generation", True),
    Spec("chat_cooldown", int, "seconds between one user's chat messages (0 = none)", 0, 0, 3600),
    Spec("image_cooldown", int, "seconds between one user's images (0 = none)", 0, 0, 3600),
    Spec("daily_messages", int, "chat replies per user per day (0 = unlimited)", 0, 0, 100_000),
    Spec("daily_images", int, "images per user per day (0 = unlimited)", 0, 0, 100_000),
    Spec("daily_usd", float, "Venice cost per user per day in USD (0 = unlimited)", 0.0, 0, 1000),
    Spec("server_daily_usd", float, "Venice cost for the whole server per day in USD (0 = unlimited)", 0.0, 0, 100_000,
         channel=False),
    Spec("reply_tokens", int, "longest reply in tokens", 700, 50, 4000),
    Spec("dm_chat", bool, "allow chat in DMs with the bot", True, channel=False, scope="global"),
    Spec("voice", bool, "allow spoken replies (🔊 Listen, voice messages in)", True),
    Spec("voice_auto", bool, "speak every reply as a voice message", False),
    Spec("tts_model", str, "Venice text-to-speech model", "tts-kokoro"),
    Spec("tts_voice", str, "voice of characters that have none of their own", "af_heart"),
    Spec("daily_voice", int, "spoken replies and voice messages heard per user per day (0 = unlimited)", 0, 0,
         100_000),
    Spec("lore_strategy", str, "order of character and server lorebooks (evenly, character_first, global_first)",
         "character_first", choices=("evenly", "character_first", "global_first")),
    Spec("lore_min_activations", int, "lorebook scan goes deeper into the history until this many entries fired "
         "(0 = off)", 0, 0, 100),
    Spec("lore_min_activations_depth_max", int, "deepest message the min-activations scan reads (0 = all of them)",
         0, 0, 1000),
    Spec("vision_model", str, "Venice model that looks at pictures when the chat model cannot (none: refuse)", None),
)}


@dataclass(frozen=True, slots=True)
class Resolved:
    value: Any
    source: str  # "channel" | "parent channel" | "server" | "bot owner" | "default"


def parse_value(spec: Spec, text: str) -> Any:
    """Turn what an admin typed into a typed value, or raise UserError saying what is allowed."""
    raw = text.strip()
    if spec.kind is bool:
        lowered = raw.lower()
        if lowered in ("on", "true", "yes", "1", "enable", "enabled"):
            return True
        if lowered in ("off", "false", "no", "0", "disable", "disabled"):
            return False
        raise UserError(f"`{spec.key}` is on or off.")
    if spec.kind in (int, float):
        try:
            number = spec.kind(raw) if len(raw) <= 30 else None
        except ValueError:
            number = None
        if number is None or (isinstance(number, float) and not math.isfinite(number)):
            raise UserError(f"`{spec.key}` must be a number between {spec.minimum:g} and {spec.maximum:g}.")
        too_low = spec.minimum is not None and number < spec.minimum
        if too_low or (spec.maximum is not None and number > spec.maximum):
            raise UserError(f"`{spec.key}` must be between {spec.minimum:g} and {spec.maximum:g}.")
        return number
    if spec.choices:
        lowered = raw.lower().replace(" ", "_").replace("-", "_")
        if lowered not in spec.choices:
            raise UserError(f"`{spec.key}` is one of: {', '.join(spec.choices)}.")
        return lowered
    if not raw or len(raw) > 200:
        raise UserError(f"`{spec.key}` must be 1 to 200 characters.")
    return raw


def spec_for(key: str) -> Spec:
    try:
        return REGISTRY[key]
    except KeyError:
        raise UserError(f"There is no setting called `{key}`.") from None


class SettingsStore:
    """Reads and writes scoped settings."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], env: Env, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sessions = sessions
        self.env = env
        self._cache = TTLCache(CACHE_TTL, clock, max_entries=10_000)

    async def _rows(self, scopes: list[tuple[str, int]]) -> dict[tuple[str, int, str], Any]:
        """Every stored value of these scopes (cached per chain of scopes)."""
        chain = tuple(scopes)
        return await self._cache.get_or_load(chain, lambda: self._load(chain))

    async def _load(self, scopes: tuple[tuple[str, int], ...]) -> dict[tuple[str, int, str], Any]:
        conditions = [(Setting.scope == scope) & (Setting.scope_id == scope_id) for scope, scope_id in scopes]
        if not conditions:
            return {}
        clause = conditions[0]
        for extra in conditions[1:]:
            clause = clause | extra
        query = select(Setting.scope, Setting.scope_id, Setting.key, Setting.value).where(clause)
        async with self.sessions() as session:
            return {(s, i, k): v for s, i, k, v in (await session.execute(query)).all()}

    async def resolve_all(
        self,
        *,
        guild_id: int | None,
        channel_id: int | None,
        parent_id: int | None = None,
        keys: list[str] | None = None,
    ) -> dict[str, Resolved]:
        """Every setting's effective value and where it comes from, in one query."""
        chain: list[tuple[str, int, str]] = []
        if channel_id is not None:
            chain.append(("channel", channel_id, "channel"))
        if parent_id is not None:
            chain.append(("channel", parent_id, "parent channel"))
        if guild_id is not None:
            chain.append(("guild", guild_id, "server"))
        chain.append(("global", GLOBAL_SCOPE_ID, "bot owner"))
        rows = await self._rows([(s, i) for s, i, _ in chain])
        result: dict[str, Resolved] = {}
        for key in keys or list(REGISTRY):
            spec = REGISTRY[key]
            resolved = Resolved(spec.default_for(self.env), "default")
            for scope, scope_id, label in chain:
                if scope == "channel" and not spec.channel:
                    continue
                if scope == "guild" and spec.scope == "global":
                    continue
                if (scope, scope_id, key) in rows and rows[(scope, scope_id, key)] is not None:
                    resolved = Resolved(rows[(scope, scope_id, key)], label)
                    break
            result[key] = resolved
        return result

    async def get(self, key: str, *, guild_id: int | None, channel_id: int | None, parent_id: int | None = None) -> Any:
        resolved = await self.resolve_all(guild_id=guild_id, channel_id=channel_id, parent_id=parent_id, keys=[key])
        return resolved[key].value

    async def set(self, key: str, value: Any, *, scope: str, scope_id: int, guild_id: int | None, by: int) -> None:
        """Store a value (None clears it, so the next scope up applies)."""
        spec = spec_for(key)
        if scope == "channel" and not spec.channel:
            raise UserError(f"`{key}` is set for the whole server, not per channel.")
        async with self.sessions.begin() as session:
            if value is None:
                await session.execute(
                    delete(Setting).where(Setting.scope == scope, Setting.scope_id == scope_id, Setting.key == key)
                )
            else:
                # One upsert: two admins setting the same key at once must not collide on its unique key.
                changed = {"value": value, "guild_id": guild_id, "updated_by": by, "updated_at": utcnow()}
                stmt = insert_for(session, Setting).values(scope=scope, scope_id=scope_id, key=key, **changed)
                await session.execute(stmt.on_conflict_do_update(
                    index_elements=["scope", "scope_id", "key"], set_=changed))
        self._cache.forget_if(lambda chain: (scope, scope_id) in chain)  # type: ignore[operator]
