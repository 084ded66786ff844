"""Command line: `python -m bot [run|migrate|sync|check|chat]`.

Start-up chores (the environment, logging, migrations) live here, not in the bot. Every failure ends in
one line on stderr that says what is wrong and how to fix it, and a non-zero exit; no traceback and
never a secret.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from dotenv import load_dotenv
from sqlalchemy.engine import make_url

from bot.config import ConfigError, Env, load_env

log = logging.getLogger("bot")
TOKEN_REFUSED = "DISCORD_TOKEN was refused by Discord: copy the bot token again from the Developer Portal"


class Fatal(Exception):
    """Ends the command with this one line and exit code 1."""


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _describe_db_error(url: str, exc: BaseException) -> str:
    reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return f"DATABASE_URL: cannot open the database at {_safe_url(url)} ({reason})"


async def _migrate(env: Env, *, action: str = "upgrade", target: str = "head") -> None:
    from alembic.util import CommandError

    from bot.store.migrate import DatabaseUnreachable, UpgradeFailed, migrate

    try:
        await migrate(env.database_url, action=action, target=target)
    except DatabaseUnreachable as exc:
        raise Fatal(_describe_db_error(env.database_url, exc)) from None
    except UpgradeFailed as exc:
        # The database opened fine: blaming DATABASE_URL would send the operator the wrong way.
        at = f"it is still at revision {exc.revision}" if exc.revision else "it has no schema yet"
        raise Fatal(f"migrate: upgrading the database schema at {_safe_url(env.database_url)} failed "
                    f"({exc.reason}); {at}. Run `python -m bot migrate` again to retry") from None
    except CommandError as exc:
        # Alembic's own complaint (an unknown revision, a database newer than this code): the
        # database opened fine, so saying "cannot open" would send the operator the wrong way.
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise Fatal(f"migrate: {reason} (revisions are in migrations/versions; 'base' means empty)") from None
    except Exception as exc:  # any driver failure becomes one line
        raise Fatal(_describe_db_error(env.database_url, exc)) from None


async def cmd_run(env: Env, _args: argparse.Namespace) -> None:
    import discord

    from bot.client import make_bot

    await _migrate(env)
    bot = make_bot(env, freeze_heap=True)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: asyncio.ensure_future(bot.close()))
    assert env.discord_token is not None
    try:
        async with bot:
            await bot.start(env.discord_token.get())
    except discord.LoginFailure:
        raise Fatal(TOKEN_REFUSED) from None
    except discord.PrivilegedIntentsRequired:
        raise Fatal("Discord refused the requested intents: enable them on the Developer Portal's Bot page") from None


async def cmd_migrate(env: Env, args: argparse.Namespace) -> None:
    if args.down:
        await _migrate(env, action="downgrade", target=args.down)
        print(f"database downgraded to {args.down}")
    else:
        await _migrate(env)
        print("database is up to date")


async def cmd_sync(env: Env, args: argparse.Namespace) -> None:
    import discord

    from bot.client import make_bot

    # Logging in runs setup_hook, whose cogs read the store: on a fresh install (sync before the
    # first run) the tables must exist, or sync dies with "no such table".
    await _migrate(env)
    bot = make_bot(env)
    assert env.discord_token is not None
    try:
        async with bot:
            await bot.login(env.discord_token.get())
            if args.guild:
                guild = discord.Object(id=args.guild)
                bot.tree.copy_global_to(guild=guild)
                synced = await bot.tree.sync(guild=guild)
                where = f"server {args.guild}"
            else:
                synced = await bot.tree.sync()
                where = "all servers and DMs (global)"
    except discord.LoginFailure:
        raise Fatal(TOKEN_REFUSED) from None
    except discord.HTTPException as exc:
        raise Fatal(f"Discord refused the command list ({exc.status}): {exc.text[:200]}") from None
    print(f"registered {len(synced)} commands for {where}: " + ", ".join(sorted(c.name for c in synced)))


async def cmd_check(env: Env, args: argparse.Namespace) -> None:
    from bot.check import run_check

    if args.screen is not None:
        from bot.screen_check import ScreenFileError, run_screen

        try:
            ok = await run_screen(env, args.screen, print, concurrency=args.concurrency)
        except ScreenFileError as exc:
            raise Fatal(f"check --screen: {exc}") from None
        if not ok:
            raise Fatal("check --screen: the content judge cannot run; see the line above")
        return
    ok = await run_check(env, print, request_timeout=args.timeout)
    if not ok:
        raise Fatal("check failed: see the lines above")


async def cmd_chat(env: Env, args: argparse.Namespace) -> None:
    from bot.terminal import run_terminal_chat

    await _migrate(env)
    problem = await run_terminal_chat(env, character=args.character, channel=args.channel)
    if problem:
        raise Fatal(problem)


COMMANDS: dict[str, tuple[Callable[[Env, argparse.Namespace], Awaitable[None]], bool, bool]] = {
    # name: (handler, needs Discord token, needs Venice key)
    "run": (cmd_run, True, True),
    "migrate": (cmd_migrate, False, False),
    "sync": (cmd_sync, True, False),
    "check": (cmd_check, False, True),
    "chat": (cmd_chat, False, True),
}


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a number of seconds, e.g. 10") from None
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError("between 0 and 600 seconds")
    return value


def _concurrency(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a whole number, e.g. 4") from None
    if not 1 <= value <= 32:
        raise argparse.ArgumentTypeError("between 1 and 32")
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description="lustify.bot: adult AI roleplay on Discord")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="migrate the database, then start the bot (default)")
    migrate = sub.add_parser("migrate", help="bring the database schema up to date")
    migrate.add_argument("--down", metavar="REVISION", help="downgrade to REVISION instead (e.g. base)")
    sync = sub.add_parser("sync", help="register the slash commands with Discord")
    sync.add_argument("--guild", type=int, metavar="ID", help="register in one server only (instant, for testing)")
    check = sub.add_parser("check", help="check settings, database, Venice key and models without Discord")
    check.add_argument("--timeout", type=_positive_seconds, default=10.0, metavar="SECONDS",
                       help="how long to wait for each Venice answer (default 10)")
    check.add_argument("--screen", type=Path, metavar="FILE.jsonl",
                       help="instead, run a labelled set ({text, expect, context} per line) through both "
                            "stages of the content screen and print recall, false refusals, judge rate and cost")
    check.add_argument("--concurrency", type=_concurrency, default=4, metavar="N",
                       help="texts screened at once with --screen (default 4)")
    chat = sub.add_parser("chat", help="talk to a character in the terminal")
    chat.add_argument("--character", help="a Venice character slug, or a character card file (.png/.json/.charx)")
    chat.add_argument("--channel", type=int, default=0, help="conversation id to use (default 0: the terminal)")
    args = parser.parse_args(argv)
    args.command = args.command or "run"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    load_dotenv(Path.cwd() / ".env", override=False)
    handler, need_discord, need_venice = COMMANDS[args.command]
    try:
        env = load_env(os.environ, need_discord=need_discord, need_venice=need_venice)
    except ConfigError as exc:
        print(f"lustify: {exc}", file=sys.stderr)
        return 2
    from bot.logsetup import setup_logging

    redact = setup_logging(env.log_level, env.log_format, env.secrets())
    try:
        asyncio.run(handler(env, args))
    except Fatal as exc:
        print(f"lustify: {redact(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
