"""Secrets never leave the process except as credentials (DESIGN §2): the real process, forced to fail.

`python -m bot run` runs against the local fake Discord and fake Venice at DEBUG (every request
discord.py makes is logged), once with text logs and once with JSON logs, while Venice answers
401, 500, garbage and finally hangs, and Discord refuses webhooks and a channel. `python -m bot
check`, `sync` and `run` meet a refused key or token. Everything each process printed (stdout and
stderr) is read, and so is every request the bot sent to Discord and to Venice: the Discord token
and the Venice key appear nowhere - not whole, not in halves, not the token's first part nor its
base64 - except in the Authorization header where they belong.

In process, `setup_logging` is fed exceptions and messages that carry the secrets.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.logsetup import REDACTED, setup_logging
from bot.venice.client import VeniceClient
from bot.venice.errors import VeniceError
from tests.conftest import DISCORD_TOKEN, VENICE_KEY
from tests.e2e import clean_env, run_cli
from tests.e2e.conftest import E2E, custom_ids, text_of
from tests.fakes.discord import SPEC_PATH, FakeDiscord
from tests.fakes.venice import FakeVenice, Fault

pytestmark = pytest.mark.skipif(not SPEC_PATH.exists(), reason=f"Discord's OpenAPI file is not at {SPEC_PATH}")

REFUSED_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.Gr3fus.refused-discord-token-for-redaction-0042"
REFUSED_KEY = "vk-refused-redaction-key-0123456789-zz"
CHAT = "/chat/completions"
GENERATE = "/image/generate"


def pieces(name: str, secret: str) -> dict[str, str]:
    """A secret and the parts of it that would still give it away (or most of it)."""
    half = len(secret) // 2
    out = {
        name: secret,
        f"{name} first half": secret[:half],
        f"{name} second half": secret[half:],
        f"{name} base64": base64.b64encode(secret.encode()).decode(),
    }
    if secret.count(".") == 2:  # a Discord token: base64(user id) . timestamp . HMAC
        first, _, last = secret.split(".")
        out |= {
            f"{name} first part": first,
            f"{name} first part base64": base64.b64encode(first.encode()).decode(),
            f"{name} last part": last,
        }
    return out


SECRETS = pieces("DISCORD_TOKEN", DISCORD_TOKEN) | pieces("VENICE_API_KEY", VENICE_KEY)


def leaks(text: str, secrets: dict[str, str] = SECRETS) -> list[str]:
    """Which secrets (or pieces of them) appear in `text`; also JSON-escaped, as in JSON logs."""
    return [name for name, value in secrets.items() if value in text or json.dumps(value)[1:-1] in text]


def test_the_leak_check_sees_every_piece() -> None:
    """The check below is only as good as this: each piece alone, inside other text, is found."""
    for name, value in SECRETS.items():
        assert name in leaks(f"some log line {value} and more"), name
    assert "VENICE_API_KEY" in leaks(json.dumps({"message": f"x {VENICE_KEY} y"}))
    assert leaks("nothing to see: Bot [redacted] and Bearer [redacted]") == []


# -- the real process, made to fail ---------------------------------------------------------------


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[E2E]:
    workdir = tmp_path / "work"
    workdir.mkdir()
    async with FakeDiscord(token=DISCORD_TOKEN) as fake, FakeVenice(api_key=VENICE_KEY) as venice:
        e2e = E2E(fake, venice, workdir)
        try:
            yield e2e
        finally:
            for proc in e2e.processes:
                proc.kill()


def finished_replies(e2e: E2E, channel_id: str) -> list[dict[str, Any]]:
    """The character's replies that are done streaming (every finished reply has 🗑️)."""
    return [
        m
        for m in e2e.messages_in(channel_id)
        if any(c.startswith("chat:del:") for c in custom_ids(m))
        and not any(c.startswith("chat:stop:") for c in custom_ids(m))
    ]


async def chat_once(e2e: E2E, user: Any, channel: dict[str, Any], text: str) -> dict[str, Any]:
    """`/chat` and wait for the reply to settle (whatever it says)."""
    before = {m["id"]: text_of(m) for m in finished_replies(e2e, channel["id"])}
    await e2e.slash(user, channel, "chat", {"message": text})

    def settled() -> bool:
        return any(m["id"] not in before for m in finished_replies(e2e, channel["id"]))

    await e2e.fake.wait_until(settled, 30, what=f"the reply to {text!r}")
    return next(m for m in finished_replies(e2e, channel["id"]) if m["id"] not in before)


async def imagine_once(e2e: E2E, user: Any, channel: dict[str, Any], prompt: str) -> str:
    """`/imagine` and wait until its placeholder says how it ended; returns what it says."""
    handle = await e2e.slash(user, channel, "imagine", {"prompt": prompt})

    def ended() -> bool:
        original = handle.original or {}
        return (
            bool(original.get("attachments"))
            or str(original.get("content") or "").startswith("⚠️")
            or any(r.method == "POST" and "/webhooks/" in r.path for r in handle.requests)
        )

    await e2e.fake.wait_until(ended, 30, what=f"the end of /imagine {prompt!r}")
    return str((handle.original or {}).get("content") or "")


def sent_to_discord(fake: FakeDiscord) -> str:
    """Everything the bot sent to Discord except the Authorization header: paths, queries, bodies,
    other headers, uploaded file names."""
    out = []
    for r in fake.requests + fake.rate_limited:
        headers = {k: v for k, v in r.headers.items() if k.lower() != "authorization"}
        out.append(
            json.dumps(
                {
                    "path": r.path,
                    "query": r.query,
                    "json": r.json,
                    "headers": headers,
                    "files": [(f[0], f[1]) for f in r.files],
                },
                default=str,
                ensure_ascii=False,
            )
        )
    return "\n".join(out)


def sent_to_venice(venice: FakeVenice) -> str:
    out = []
    for r in venice.requests:
        headers = {k: v for k, v in r.headers.items() if k.lower() != "authorization"}
        out.append(
            json.dumps(
                {"path": r.path, "query": r.query, "json": r.json, "headers": headers}, default=str, ensure_ascii=False
            )
        )
    return "\n".join(out)


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_a_failing_bot_at_debug_never_prints_or_posts_a_secret(world: E2E, log_format: str) -> None:
    e2e, fake, venice = world, world.fake, world.venice
    guild = fake.add_guild("Velvet Room")
    alice = fake.add_user("alice")
    fake.add_member(guild["id"], alice)
    lounge = fake.add_channel(guild["id"], "text", name="lounge", nsfw=True)
    no_hooks = fake.add_channel(guild["id"], "text", name="no-webhooks", nsfw=True)
    locked = fake.add_channel(guild["id"], "text", name="locked", nsfw=True)
    proc = await e2e.start(LOG_LEVEL="DEBUG", LOG_FORMAT=log_format)

    # A good turn first, so the persona webhook exists and its token is in play.
    venice.replies.append("She smiles and pours you a drink.")
    await chat_once(e2e, alice, lounge, "Hello there")

    # Venice: the key refused, a server error on every retry, then an answer that is not JSON.
    venice.inject(CHAT, Fault.http(401))
    refused = await chat_once(e2e, alice, lounge, "Are you there?")
    assert "key was refused" in text_of(refused)
    venice.inject(CHAT, Fault.http(500, headers={"Retry-After": "0"}, times=4))
    await chat_once(e2e, alice, lounge, "Hello again?")
    venice.inject(CHAT, Fault.of("garbage"))
    await chat_once(e2e, alice, lounge, "Still there?")

    # The same for images.
    venice.inject(GENERATE, Fault.http(401))
    assert (await imagine_once(e2e, alice, lounge, "a woman in a red dress")).startswith("⚠️")
    venice.inject(GENERATE, Fault.http(500, headers={"Retry-After": "0"}, times=4))
    assert (await imagine_once(e2e, alice, lounge, "a woman in a blue dress")).startswith("⚠️")
    venice.inject(GENERATE, Fault.of("garbage"))
    await imagine_once(e2e, alice, lounge, "a woman in a green dress")

    # Discord refusing: the persona webhook deleted by a moderator (404), Manage Webhooks denied
    # (403), and a channel the bot can no longer see (403 on everything but the interaction).
    for hook in list(fake.world.webhooks.values()):
        fake.delete_webhook(hook["id"])
    venice.replies.append("She is still here.")
    await chat_once(e2e, alice, lounge, "After the webhook went")
    fake.deny_manage_webhooks(no_hooks["id"])
    venice.replies.append("An embed this time.")
    await chat_once(e2e, alice, no_hooks, "Without webhooks")
    fake.forbid_channel(locked["id"])
    venice.replies.append("Nobody will see this.")
    asked = venice.count(CHAT)
    await e2e.slash(alice, locked, "chat", {"message": "Behind a locked door"})
    await fake.wait_until(
        lambda: venice.count(CHAT) > asked or "forbidden" in proc.stderr.lower(), 15, what="the locked channel's turn"
    )
    await asyncio.sleep(0.5)  # let its failure be logged

    # Finally Venice hangs, and the operator stops the bot while it waits.
    venice.inject(CHAT, Fault.hang(seconds=120))
    asked = venice.count(CHAT)
    await e2e.slash(alice, lounge, "chat", {"message": "Wait for me"})
    await fake.wait_until(lambda: venice.count(CHAT) > asked, 15, what="the hanging chat request")
    await asyncio.sleep(0.2)
    code = await proc.stop()

    output = proc.stdout + proc.stderr
    assert ("DEBUG" in output) if log_format == "text" else ('"level": "DEBUG"' in output)
    assert leaks(output) == [], f"printed: {leaks(output)}"
    # Webhook and interaction tokens are credentials too: whoever holds one posts as the bot.
    tokens = {f"webhook {h['id']} token": h["token"] for h in fake.world.webhooks.values()}
    tokens |= {f"interaction {r.id} token": r.token for r in fake.world.interactions.values()}
    assert leaks(output, tokens) == [], f"printed: {leaks(output, tokens)}"
    if log_format == "json":
        for line in proc.stderr.splitlines():
            if line.startswith("{"):
                json.loads(line)  # one JSON object per line, so a shipper can read every one
    # Nothing the bot sent anywhere carries a secret, except the Authorization headers.
    assert leaks(sent_to_discord(fake)) == []
    assert leaks(sent_to_venice(venice)) == []
    assert {r.headers.get("Authorization") for r in fake.requests} <= {None, f"Bot {DISCORD_TOKEN}"}
    assert {r.headers.get("Authorization") for r in venice.requests} == {f"Bearer {VENICE_KEY}"}
    assert code == 0, proc.stderr[-3000:]


async def test_a_bot_that_cannot_reach_discord_says_so_without_the_token(world: E2E) -> None:
    """Discord refuses the token: `run` and `sync` end with one line that does not contain it."""
    refused = pieces("refused token", REFUSED_TOKEN)
    for command in ("run", "sync"):
        env = world.env() | {"DISCORD_TOKEN": REFUSED_TOKEN, "LOG_LEVEL": "DEBUG"}
        result = await run_cli(command, env=env, cwd=world.workdir)
        assert result.code == 1, result.output
        assert "DISCORD_TOKEN was refused" in result.err
        assert leaks(result.output, refused | SECRETS) == [], (command, leaks(result.output, refused | SECRETS))
    assert {r.path for r in world.fake.requests} == {"/users/@me"}  # refused at the first call
    assert leaks(sent_to_discord(world.fake), refused) == []


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_check_with_a_refused_key_never_prints_it(world: E2E, log_format: str) -> None:
    refused = pieces("refused key", REFUSED_KEY)
    env = clean_env(
        VENICE_API_KEY=REFUSED_KEY,
        VENICE_BASE_URL=world.venice.base_url,
        LOG_LEVEL="DEBUG",
        LOG_FORMAT=log_format,
        DATABASE_URL=f"sqlite+aiosqlite:///{world.db_path}",
    )
    result = await run_cli("check", env=env, cwd=world.workdir)
    assert result.code != 0 and "refused" in result.out, result.output
    assert leaks(result.output, refused) == [], leaks(result.output, refused)
    assert all(r.headers.get("Authorization") == f"Bearer {REFUSED_KEY}" for r in world.venice.requests)
    assert leaks(sent_to_venice(world.venice), refused) == []


@pytest.mark.parametrize(
    "fault",
    [Fault.http(500, times=20), Fault.of("garbage", times=20), Fault.hang(seconds=60, times=20)],
    ids=["500", "garbage", "hang"],
)
async def test_check_against_a_failing_venice_never_prints_the_key(world: E2E, fault: Fault) -> None:
    env = clean_env(
        VENICE_API_KEY=VENICE_KEY,
        VENICE_BASE_URL=world.venice.base_url,
        LOG_LEVEL="DEBUG",
        DATABASE_URL=f"sqlite+aiosqlite:///{world.db_path}",
    )
    world.venice.inject("/", fault)
    result = await run_cli("check", "--timeout", "1", env=env, cwd=world.workdir)
    assert result.code != 0, result.output
    assert leaks(result.output) == [], leaks(result.output)


# -- in process: the logging setup itself ---------------------------------------------------------


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[str], str]]:
    """`setup(fmt)` installs the production logging (to the captured stderr) and returns a reader."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in ("discord.http", "aiosqlite", "alembic.runtime.plugins")}

    def setup(fmt: str) -> str:
        setup_logging("DEBUG", fmt, [DISCORD_TOKEN, VENICE_KEY])
        return fmt

    yield setup
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def _raise_with_secrets() -> None:
    try:
        raise ConnectionError(f"proxy refused Authorization: Bearer {VENICE_KEY}")
    except ConnectionError as inner:
        raise RuntimeError(f"login failed for token {DISCORD_TOKEN} (key {VENICE_KEY!r})") from inner


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_an_exception_carrying_the_secrets_is_logged_redacted(
    logs: Callable[[str], str], capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    logs(fmt)
    log = logging.getLogger("bot.something")
    try:
        _raise_with_secrets()
    except RuntimeError:
        log.exception("request with key %s failed", VENICE_KEY)
    logging.getLogger("discord.webhook.async_").debug(
        "POST %s/webhooks/123/%s with %r",
        "http://127.0.0.1/api/v10",
        "whtoken-abcdefghijklmnopqrstuvwxyz",
        {"headers": {"Authorization": f"Bot {DISCORD_TOKEN}"}, "token": "itoken-0123456789abcdef"},
    )
    logging.getLogger("asyncio").error("task exception", exc_info=ValueError(f"secret {DISCORD_TOKEN}"))
    logging.getLogger("x").warning("stack", stack_info=True, extra={"ignored": VENICE_KEY})
    err = capsys.readouterr().err
    assert leaks(err) == [], err
    assert "whtoken-abcdefghijklmnopqrstuvwxyz" not in err and "itoken-0123456789abcdef" not in err
    assert err.count(REDACTED) >= 6
    # The rest of the story is still there: what failed, the exception types and the chain.
    for kept in ("request with key", "RuntimeError", "ConnectionError", "login failed for token", "task exception"):
        assert kept in err, kept
    if fmt == "json":
        records = [json.loads(line) for line in err.splitlines() if line.strip()]
        assert [r["logger"] for r in records] == ["bot.something", "discord.webhook.async_", "asyncio", "x"]
        assert "RuntimeError" in records[0]["exception"] and "Traceback" in records[0]["exception"]


def test_a_secret_printed_by_a_bad_format_string_is_redacted(
    logs: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    logs("text")
    logging.getLogger("bot").error("no placeholder for " + DISCORD_TOKEN, VENICE_KEY)  # a broken call
    err = capsys.readouterr().err
    assert leaks(err) == [] and "no placeholder for" in err


async def test_the_venice_clients_own_errors_do_not_carry_the_key(
    logs: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    """What the client raises when Venice refuses the key, as the bot would log it."""
    logs("json")
    async with FakeVenice(api_key="the-only-accepted-key-000") as venice:
        client = VeniceClient(VENICE_KEY, venice.base_url)
        try:
            with pytest.raises(VeniceError) as caught:
                await client.list_models("text")
        finally:
            await client.close()
    assert leaks(f"{caught.value!s} {caught.value!r} {caught.value.user_message} {client!r}") == []
    logging.getLogger("bot.venice").error("venice failed", exc_info=caught.value)
    err = capsys.readouterr().err
    assert leaks(err) == [] and "venice failed" in err
