"""REST handlers: the bot user, application info, gateway discovery, guilds and app commands."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from tests import payloads as p

from .common import NO_CONTENT, DiscordError, Incoming, not_found, route

if TYPE_CHECKING:
    from .server import FakeDiscord


# ---------------------------------------------------------------- users and the application


@route("GET", "/users/@me")
async def get_me(fake: FakeDiscord, req: Incoming) -> Any:
    return fake.world.bot


@route("GET", "/users/{user_id}")
async def get_user(fake: FakeDiscord, req: Incoming, user_id: str) -> Any:
    found = fake.world.users.get(user_id)
    if found is None:
        raise not_found("User", 10013)
    return found


@route("POST", "/users/@me/channels")
async def open_dm(fake: FakeDiscord, req: Incoming) -> Any:
    recipient = str(req.body().get("recipient_id"))
    if recipient not in fake.world.users:
        raise not_found("User", 10013)
    return fake.dm_channel(recipient)


@route("GET", "/oauth2/applications/@me")
async def get_application_oauth(fake: FakeDiscord, req: Incoming) -> Any:
    return fake.world.application


@route("GET", "/applications/@me")
async def get_application(fake: FakeDiscord, req: Incoming) -> Any:
    return fake.world.application


# ---------------------------------------------------------------- gateway discovery


@route("GET", "/gateway")
async def get_gateway(fake: FakeDiscord, req: Incoming) -> Any:
    return {"url": fake.gateway_url}


@route("GET", "/gateway/bot")
async def get_gateway_bot(fake: FakeDiscord, req: Incoming) -> Any:
    # AutoShardedBot takes the shard count and the websocket address from here.
    return {"url": fake.gateway_url, "shards": fake.gateway.shard_count,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14_400_000,
                                    "max_concurrency": 1}}


# ---------------------------------------------------------------- guilds


def _guild(fake: FakeDiscord, guild_id: str) -> dict[str, Any]:
    found = fake.world.guilds.get(guild_id)
    if found is None:
        raise not_found("Guild", 10004)
    return found


@route("GET", "/guilds/{guild_id}")
async def get_guild(fake: FakeDiscord, req: Incoming, guild_id: str) -> Any:
    data = {k: v for k, v in _guild(fake, guild_id).items()
            if k not in ("channels", "threads", "members", "voice_states", "presences")}
    if req.query.get("with_counts") in ("true", "1", "True"):
        data |= {"approximate_member_count": len(fake.world.members[guild_id]), "approximate_presence_count": 0}
    return data


@route("GET", "/guilds/{guild_id}/channels")
async def get_guild_channels(fake: FakeDiscord, req: Incoming, guild_id: str) -> Any:
    _guild(fake, guild_id)
    return [c for c in fake.world.channels.values()
            if c.get("guild_id") == guild_id and c["type"] not in (10, 11, 12)]


@route("GET", "/guilds/{guild_id}/members/{user_id}")
async def get_member(fake: FakeDiscord, req: Incoming, guild_id: str, user_id: str) -> Any:
    _guild(fake, guild_id)
    found = fake.world.members[guild_id].get(user_id)
    if found is None:
        raise not_found("Member", 10007)
    return found


# ---------------------------------------------------------------- application commands


def _scope(fake: FakeDiscord, application_id: str, guild_id: str | None) -> str | None:
    if application_id != p.APP_ID:
        raise DiscordError(403, 50001, "Missing Access")
    if guild_id is not None:
        _guild(fake, guild_id)
    return guild_id


@route("PUT", "/applications/{application_id}/commands")
@route("PUT", "/applications/{application_id}/guilds/{guild_id}/commands")
async def bulk_overwrite_commands(fake: FakeDiscord, req: Incoming, application_id: str,
                                  guild_id: str | None = None) -> Any:
    scope = _scope(fake, application_id, guild_id)
    return fake.world.sync_commands(scope, req.json or [])


@route("GET", "/applications/{application_id}/commands")
@route("GET", "/applications/{application_id}/guilds/{guild_id}/commands")
async def list_commands(fake: FakeDiscord, req: Incoming, application_id: str,
                        guild_id: str | None = None) -> Any:
    return fake.world.commands.get(_scope(fake, application_id, guild_id), [])


@route("POST", "/applications/{application_id}/commands")
@route("POST", "/applications/{application_id}/guilds/{guild_id}/commands")
async def upsert_command(fake: FakeDiscord, req: Incoming, application_id: str,
                         guild_id: str | None = None) -> Any:
    scope = _scope(fake, application_id, guild_id)
    body = req.body()
    commands = fake.world.commands.setdefault(scope, [])
    for i, cmd in enumerate(commands):
        if cmd["name"] == body.get("name") and cmd.get("type", 1) == body.get("type", 1):
            commands[i] = fake.world.command_echo(body, scope, cmd["id"])
            return commands[i]
    commands.append(fake.world.command_echo(body, scope, None))
    return commands[-1]


def _command(fake: FakeDiscord, scope: str | None, command_id: str) -> dict[str, Any]:
    for cmd in fake.world.commands.get(scope, []):
        if cmd["id"] == command_id:
            return cmd
    raise not_found("application command", 10063)


@route("GET", "/applications/{application_id}/commands/{command_id}")
@route("GET", "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}")
async def get_command(fake: FakeDiscord, req: Incoming, application_id: str, command_id: str,
                      guild_id: str | None = None) -> Any:
    return _command(fake, _scope(fake, application_id, guild_id), command_id)


@route("PATCH", "/applications/{application_id}/commands/{command_id}")
@route("PATCH", "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}")
async def edit_command(fake: FakeDiscord, req: Incoming, application_id: str, command_id: str,
                       guild_id: str | None = None) -> Any:
    cmd = _command(fake, _scope(fake, application_id, guild_id), command_id)
    cmd.update(copy.deepcopy(req.body()))
    cmd["version"] = p.new_id()
    return cmd


@route("DELETE", "/applications/{application_id}/commands/{command_id}")
@route("DELETE", "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}")
async def delete_command(fake: FakeDiscord, req: Incoming, application_id: str, command_id: str,
                         guild_id: str | None = None) -> Any:
    scope = _scope(fake, application_id, guild_id)
    cmd = _command(fake, scope, command_id)
    fake.world.commands[scope].remove(cmd)
    return NO_CONTENT
