"""`Env`: the operator's configuration from the environment (and `.env`), validated once at start-up.

Per-server and per-channel settings that admins change at run time are `bot.settings` instead.

Every problem is reported as one line that names the variable and says how to fix it. Secrets are
wrapped in `Secret`, whose repr and str never show the value, so an `Env` can be logged or
put in an exception without leaking anything.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/lustify.db"
DEFAULT_VENICE_BASE_URL = "https://api.venice.ai/api/v1"
DEFAULT_TEXT_MODEL = "venice-uncensored-1-2"
DEFAULT_IMAGE_MODEL = "lustify-sdxl"
# The judge (stage 2 of the content screen). Gemma 4 Uncensored: private (Venice keeps no copy of
# the text), uncensored (a censored model refuses to read explicit adult text, and a refusal is a
# failed check, so adult users would be refused), no reasoning tokens (fast, cheap), JSON-schema
# answers and vision (one model judges texts and images), $0.1625 in / $0.50 out per 1M tokens.
DEFAULT_SAFETY_MODEL = "gemma-4-uncensored"
DEFAULT_SAFETY_TIMEOUT = 6.0
MAX_SAFETY_TIMEOUT = 60.0
LOG_FORMATS = ("text", "json")


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line meant for the operator."""


class Secret:
    """A string that never shows itself in logs, reprs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True, slots=True)
class Env:
    """The environment, validated once (per-server settings live in `bot.settings`).

    `discord_token`/`venice_api_key` are None when not needed and not set.
    """

    discord_token: Secret | None
    venice_api_key: Secret | None
    database_url: str = DEFAULT_DATABASE_URL
    venice_base_url: str = DEFAULT_VENICE_BASE_URL
    discord_api_base: str | None = None
    text_model: str = DEFAULT_TEXT_MODEL
    image_model: str = DEFAULT_IMAGE_MODEL
    image_style: str | None = None
    safety_model: str = DEFAULT_SAFETY_MODEL
    safety_vision_model: str = DEFAULT_SAFETY_MODEL
    safety_timeout: float = DEFAULT_SAFETY_TIMEOUT
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    log_level: str = "INFO"
    log_format: str = "text"
    owner_ids: frozenset[int] = field(default_factory=frozenset)
    # A channel only the bot writes to, where avatar pictures are kept so their Discord URLs can be
    # renewed when they expire (bot.characters.avatar_urls); None: expired avatars are dropped.
    avatar_channel_id: int | None = None

    def secrets(self) -> list[str]:
        """The secret values, for the log redaction filter."""
        return [s.get() for s in (self.discord_token, self.venice_api_key) if s]


def _clean(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _http_url(env: Mapping[str, str], name: str, default: str | None) -> str | None:
    value = _clean(env, name) or default
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"{name} must be an http(s) URL such as {default or 'http://127.0.0.1:8080/api/v10'}")
    return value.rstrip("/")


def normalise_database_url(value: str) -> str:
    """Accept the common spellings and turn them into the async drivers the bot uses."""
    for plain, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if value.startswith(plain):
            return driver + value[len(plain):]
    return value


def _database_url(env: Mapping[str, str]) -> str:
    value = normalise_database_url(_clean(env, "DATABASE_URL") or DEFAULT_DATABASE_URL)
    hint = "use sqlite+aiosqlite:///data/lustify.db or postgresql+asyncpg://user:pass@host/db"
    try:
        url = make_url(value)
    except ArgumentError:
        raise ConfigError(f"DATABASE_URL is not a database URL: {hint}") from None
    if url.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise ConfigError(f"DATABASE_URL uses an unsupported driver '{url.drivername}': {hint}")
    return value


def _token(env: Mapping[str, str], name: str, required: bool, how: str) -> Secret | None:
    value = _clean(env, name)
    if value is None:
        if required:
            raise ConfigError(f"{name} is not set: {how}")
        return None
    if any(c.isspace() for c in value) or len(value) < 8:
        raise ConfigError(f"{name} does not look like a valid key (too short or contains spaces): {how}")
    return Secret(value)


def _positive_int(env: Mapping[str, str], name: str) -> int | None:
    value = _clean(env, name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, e.g. {name}=2") from None
    if number < 1:
        raise ConfigError(f"{name} must be 1 or more")
    return number


def _int_list(env: Mapping[str, str], name: str) -> tuple[int, ...] | None:
    value = _clean(env, name)
    if value is None:
        return None
    try:
        numbers = tuple(int(part) for part in value.replace(" ", "").split(",") if part)
    except ValueError:
        raise ConfigError(f"{name} must be comma-separated whole numbers, e.g. {name}=0,1") from None
    if not numbers or any(n < 0 for n in numbers):
        raise ConfigError(f"{name} must list one or more non-negative numbers, e.g. {name}=0,1")
    return numbers


def _model_name(env: Mapping[str, str], name: str, default: str) -> str:
    value = _clean(env, name) or default
    if any(c.isspace() for c in value) or len(value) > 100:
        raise ConfigError(f"{name} must be a Venice model id without spaces, e.g. {name}={default}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float, maximum: float) -> float:
    value = _clean(env, name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, e.g. {name}={default:g}") from None
    # `not 0 < number` also catches NaN, which would compare false against every bound.
    if not 0 < number <= maximum:
        raise ConfigError(f"{name} must be more than 0 and at most {maximum:g} seconds")
    return number


def load_env(env: Mapping[str, str], *, need_discord: bool = False, need_venice: bool = False) -> Env:
    """Build `Env` from a mapping of environment variables, raising `ConfigError` on any problem."""
    discord_token = _token(
        env, "DISCORD_TOKEN", need_discord,
        "create a bot in the Discord Developer Portal and set DISCORD_TOKEN in the environment or .env",
    )
    venice_key = _token(
        env, "VENICE_API_KEY", need_venice,
        "create a key at venice.ai/settings/api and set VENICE_API_KEY in the environment or .env",
    )
    shard_count = _positive_int(env, "SHARD_COUNT")
    shard_ids = _int_list(env, "SHARD_IDS")
    if shard_ids is not None:
        if shard_count is None:
            raise ConfigError("SHARD_IDS needs SHARD_COUNT too, e.g. SHARD_COUNT=4 SHARD_IDS=0,1")
        if any(i >= shard_count for i in shard_ids):
            raise ConfigError(f"SHARD_IDS must be below SHARD_COUNT ({shard_count})")
    level = (_clean(env, "LOG_LEVEL") or "INFO").upper()
    if not isinstance(logging.getLevelName(level), int):
        raise ConfigError("LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    fmt = (_clean(env, "LOG_FORMAT") or "text").lower()
    if fmt not in LOG_FORMATS:
        raise ConfigError("LOG_FORMAT must be 'text' or 'json'")
    owners = _int_list(env, "OWNER_IDS") or ()
    safety_model = _model_name(env, "SAFETY_MODEL", DEFAULT_SAFETY_MODEL)
    return Env(
        discord_token=discord_token,
        venice_api_key=venice_key,
        database_url=_database_url(env),
        venice_base_url=_http_url(env, "VENICE_BASE_URL", DEFAULT_VENICE_BASE_URL) or DEFAULT_VENICE_BASE_URL,
        discord_api_base=_http_url(env, "DISCORD_API_BASE", None),
        text_model=_model_name(env, "TEXT_MODEL", DEFAULT_TEXT_MODEL),
        image_model=_model_name(env, "IMAGE_MODEL", DEFAULT_IMAGE_MODEL),
        image_style=_clean(env, "IMAGE_STYLE"),
        safety_model=safety_model,
        # The vision judge defaults to the text judge's model (it reads images too).
        safety_vision_model=_model_name(env, "SAFETY_VISION_MODEL", safety_model),
        safety_timeout=_seconds(env, "SAFETY_TIMEOUT", DEFAULT_SAFETY_TIMEOUT, MAX_SAFETY_TIMEOUT),
        shard_count=shard_count,
        shard_ids=shard_ids,
        log_level=level,
        log_format=fmt,
        owner_ids=frozenset(owners),
        avatar_channel_id=_positive_int(env, "AVATAR_CHANNEL_ID"),
    )


def sqlite_path(database_url: str) -> Path | None:
    """The file behind a SQLite URL (None for PostgreSQL or in-memory), so its folder can be created."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)
