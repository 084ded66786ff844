"""Settings: each problem is one line naming the variable; secrets never show."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Secret, load_env

TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAw.GfakeX.token-value-for-tests-0123456789"
KEY = "vk-live-abcdefghijklmnop"


def test_defaults_when_nothing_needed() -> None:
    s = load_env({})
    assert s.database_url == "sqlite+aiosqlite:///data/lustify.db"
    assert s.text_model == "venice-uncensored-1-2"
    assert s.image_model == "lustify-sdxl"
    assert s.discord_token is None and s.venice_api_key is None


@pytest.mark.parametrize(
    ("env", "need", "names"),
    [
        ({}, {"need_discord": True}, "DISCORD_TOKEN"),
        ({"DISCORD_TOKEN": TOKEN}, {"need_discord": True, "need_venice": True}, "VENICE_API_KEY"),
        ({"DISCORD_TOKEN": "has spaces in it"}, {}, "DISCORD_TOKEN"),
        ({"DATABASE_URL": "mysql://x/y"}, {}, "DATABASE_URL"),
        ({"DATABASE_URL": "::::"}, {}, "DATABASE_URL"),
        ({"VENICE_BASE_URL": "ftp://venice"}, {}, "VENICE_BASE_URL"),
        ({"DISCORD_API_BASE": "not a url"}, {}, "DISCORD_API_BASE"),
        ({"SHARD_COUNT": "two"}, {}, "SHARD_COUNT"),
        ({"SHARD_COUNT": "0"}, {}, "SHARD_COUNT"),
        ({"SHARD_IDS": "0,1"}, {}, "SHARD_IDS"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "0,2"}, {}, "SHARD_IDS"),
        ({"LOG_LEVEL": "LOUD"}, {}, "LOG_LEVEL"),
        ({"LOG_FORMAT": "xml"}, {}, "LOG_FORMAT"),
        ({"TEXT_MODEL": "two words"}, {}, "TEXT_MODEL"),
        ({"SAFETY_MODEL": "two words"}, {}, "SAFETY_MODEL"),
        ({"SAFETY_VISION_MODEL": "two words"}, {}, "SAFETY_VISION_MODEL"),
        ({"SAFETY_TIMEOUT": "soon"}, {}, "SAFETY_TIMEOUT"),
        ({"SAFETY_TIMEOUT": "0"}, {}, "SAFETY_TIMEOUT"),
        ({"SAFETY_TIMEOUT": "nan"}, {}, "SAFETY_TIMEOUT"),
        ({"SAFETY_TIMEOUT": "600"}, {}, "SAFETY_TIMEOUT"),
    ],
)
def test_bad_values_name_the_variable_in_one_line(env: dict, need: dict, names: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_env(env, **need)
    message = str(info.value)
    assert message.startswith(names)
    assert "\n" not in message


def test_the_judge_settings_default_to_a_private_vision_model_and_a_few_seconds() -> None:
    s = load_env({})
    assert (s.safety_model, s.safety_vision_model) == ("gemma-4-uncensored", "gemma-4-uncensored")
    assert s.safety_timeout == 6.0


def test_the_vision_judge_follows_the_safety_model_unless_set() -> None:
    assert load_env({"SAFETY_MODEL": "qwen3-5-9b"}).safety_vision_model == "qwen3-5-9b"
    s = load_env({"SAFETY_MODEL": "mistral-small-3-2-24b-instruct", "SAFETY_VISION_MODEL": "qwen3-5-9b",
                       "SAFETY_TIMEOUT": "2.5"})
    assert (s.safety_model, s.safety_vision_model, s.safety_timeout) == (
        "mistral-small-3-2-24b-instruct", "qwen3-5-9b", 2.5)


def test_plain_database_urls_get_async_drivers() -> None:
    assert load_env({"DATABASE_URL": "postgresql://u@h/db"}).database_url == "postgresql+asyncpg://u@h/db"
    assert load_env({"DATABASE_URL": "sqlite:///x.db"}).database_url == "sqlite+aiosqlite:///x.db"


def test_secrets_never_show_in_repr_or_errors() -> None:
    s = load_env({"DISCORD_TOKEN": TOKEN, "VENICE_API_KEY": KEY}, need_discord=True, need_venice=True)
    assert TOKEN not in repr(s) and KEY not in repr(s) and KEY not in str(s.venice_api_key)
    assert s.discord_token == Secret(TOKEN)
    assert sorted(s.secrets()) == sorted([TOKEN, KEY])


def test_shards() -> None:
    s = load_env({"SHARD_COUNT": "4", "SHARD_IDS": "0, 2"})
    assert s.shard_count == 4 and s.shard_ids == (0, 2)
