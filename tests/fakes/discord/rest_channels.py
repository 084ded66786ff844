"""REST handlers: channels, messages, reactions, typing, threads and channel webhooks.

Each handler is ``async def h(fake, req, **path_params)`` and returns the JSON body (200), a
:class:`Reply`, or raises :class:`DiscordError` with Discord's status and error code.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from tests import payloads as p

from .common import (
    INVALID_FORM_BODY,
    MISSING_PERMISSIONS,
    NO_CONTENT,
    DiscordError,
    Incoming,
    not_found,
    route,
)
from .state import EPHEMERAL, THREAD_TYPES
from .voice import check_voice_message, mark_voice_attachment, refuse_voice_edit

if TYPE_CHECKING:
    from .server import FakeDiscord

MAX_CONTENT = 2000
MAX_EMBED_TOTAL = 6000
MAX_FILES = 10
MAX_FILE_BYTES = p.ATTACHMENT_SIZE_LIMIT
MANAGE_WEBHOOKS = p.PERMISSIONS["manage_webhooks"]
SEND_MESSAGES = p.PERMISSIONS["send_messages"]


def check_message_limits(fake: FakeDiscord, req: Incoming, body: dict[str, Any]) -> None:
    """Discord's message limits that openapi.json does not state (it says content <= 4000).

    Bots, webhooks and interaction responses get 2000 characters of content, 6000 characters of
    embed text in total, 10 files of at most 10 MiB by default.
    """
    problems = []
    if len(body.get("content") or "") > MAX_CONTENT:
        problems.append(f"content is {len(body['content'])} characters (max {MAX_CONTENT})")
    embed_text = sum(_embed_text(e) for e in body.get("embeds") or [])
    if embed_text > MAX_EMBED_TOTAL:
        problems.append(f"embeds hold {embed_text} characters in total (max {MAX_EMBED_TOTAL})")
    if len(req.files) > MAX_FILES:
        problems.append(f"{len(req.files)} files (max {MAX_FILES})")
    problems += [f"file {name} is {len(data)} bytes (max {MAX_FILE_BYTES})"
                 for _, name, data in req.files if len(data) > MAX_FILE_BYTES]
    for problem in problems:
        fake.violation(f"{req.method} {req.path}: {problem}")
    if problems and fake.reject_invalid:
        raise DiscordError(400, INVALID_FORM_BODY, "Invalid Form Body: " + "; ".join(problems))


def _embed_text(embed: dict[str, Any]) -> int:
    fields = embed.get("fields") or []
    parts = [embed.get("title"), embed.get("description"), (embed.get("footer") or {}).get("text"),
             (embed.get("author") or {}).get("name")]
    parts += [f.get("name") for f in fields] + [f.get("value") for f in fields]
    return sum(len(x) for x in parts if x)


def _require(fake: FakeDiscord, channel: dict[str, Any], bit: int, what: str) -> None:
    if not fake.world.bot_permissions(channel) & bit:
        raise DiscordError(403, MISSING_PERMISSIONS, f"Missing Permissions ({what})")


# ---------------------------------------------------------------- channels


@route("GET", "/channels/{channel_id}")
async def get_channel(fake: FakeDiscord, req: Incoming, channel_id: str) -> Any:
    return fake.world.channel(channel_id)


@route("PATCH", "/channels/{channel_id}")
async def modify_channel(fake: FakeDiscord, req: Incoming, channel_id: str) -> Any:
    channel = fake.world.channel(channel_id)
    body = req.body()
    if channel["type"] in THREAD_TYPES:
        meta = channel["thread_metadata"]
        for key in ("archived", "locked", "auto_archive_duration", "invitable"):
            if key in body:
                meta[key] = body[key]
    for key in ("name", "nsfw", "topic", "rate_limit_per_user", "parent_id", "position",
                "permission_overwrites", "flags"):
        if key in body:
            channel[key] = body[key]
    fake.update_channel(channel_id)
    return channel


@route("DELETE", "/channels/{channel_id}")
async def delete_channel(fake: FakeDiscord, req: Incoming, channel_id: str) -> Any:
    channel = fake.world.channel(channel_id)
    fake.remove_channel(channel_id)
    return channel


# ---------------------------------------------------------------- messages


@route("GET", "/channels/{channel_id}/messages")
async def list_messages(fake: FakeDiscord, req: Incoming, channel_id: str) -> Any:
    fake.world.channel(channel_id)
    ids = sorted((int(m["id"]) for m in fake.world.messages.values()
                  if m["channel_id"] == channel_id and not m["flags"] & EPHEMERAL), reverse=True)
    limit = int(req.query.get("limit", 50))
    if "before" in req.query:
        ids = [i for i in ids if i < int(req.query["before"])]
    elif "after" in req.query:
        ids = sorted(i for i in ids if i > int(req.query["after"]))[:limit][::-1]
    elif "around" in req.query:
        around = int(req.query["around"])
        ids = sorted(ids, key=lambda i: abs(i - around))[:limit]
        ids.sort(reverse=True)
    return [fake.world.messages[str(i)] for i in ids[:limit]]


@route("POST", "/channels/{channel_id}/messages")
async def create_message(fake: FakeDiscord, req: Incoming, channel_id: str) -> Any:
    channel = fake.world.channel(channel_id)
    if channel["type"] in (4, 15, 16):
        raise DiscordError(400, 50008, "Cannot send messages in a non-text channel")
    _require(fake, channel, SEND_MESSAGES, "send_messages")
    body = req.body()
    check_message_limits(fake, req, body)
    check_voice_message(fake, req, body)
    if not (body.get("content") or body.get("embeds") or req.files or body.get("components")
            or body.get("sticker_ids") or body.get("poll")):
        raise DiscordError(400, 50006, "Cannot send an empty message")
    msg = fake.world.new_message(channel_id, body, req.files)
    mark_voice_attachment(msg, body)
    fake.echo("MESSAGE_CREATE", msg)
    return msg


@route("GET", "/channels/{channel_id}/messages/{message_id}")
async def get_message(fake: FakeDiscord, req: Incoming, channel_id: str, message_id: str) -> Any:
    return fake.world.resigned(fake.world.message(channel_id, message_id))


@route("PATCH", "/channels/{channel_id}/messages/{message_id}")
async def edit_message(fake: FakeDiscord, req: Incoming, channel_id: str, message_id: str) -> Any:
    msg = fake.world.message(channel_id, message_id)
    if msg["author"]["id"] != p.BOT_ID:
        raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
    refuse_voice_edit(msg)
    body = req.body()
    check_message_limits(fake, req, body)
    fake.world.edit_message(msg, body, req.files)
    fake.echo("MESSAGE_UPDATE", msg)
    return msg


@route("DELETE", "/channels/{channel_id}/messages/{message_id}")
async def delete_message(fake: FakeDiscord, req: Incoming, channel_id: str, message_id: str) -> Any:
    msg = fake.world.message(channel_id, message_id)
    fake.delete_message(msg)
    return NO_CONTENT


@route("POST", "/channels/{channel_id}/typing")
async def trigger_typing(fake: FakeDiscord, req: Incoming, channel_id: str) -> Any:
    fake.world.channel(channel_id)
    return NO_CONTENT


# ---------------------------------------------------------------- reactions


@route("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me")
async def add_reaction(fake: FakeDiscord, req: Incoming, channel_id: str, message_id: str,
                       emoji_name: str) -> Any:
    msg = fake.world.message(channel_id, message_id)
    reaction = _reaction(msg, emoji_name)
    if not reaction["me"]:
        reaction["me"] = True
        reaction["count"] += 1
        reaction["count_details"]["normal"] += 1
    return NO_CONTENT


@route("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me")
async def remove_reaction(fake: FakeDiscord, req: Incoming, channel_id: str, message_id: str,
                          emoji_name: str) -> Any:
    msg = fake.world.message(channel_id, message_id)
    reaction = _reaction(msg, emoji_name)
    if reaction["me"]:
        reaction["me"] = False
        reaction["count"] -= 1
        reaction["count_details"]["normal"] -= 1
    msg["reactions"] = [r for r in msg["reactions"] if r["count"] > 0]
    return NO_CONTENT


def _reaction(msg: dict[str, Any], emoji: str) -> dict[str, Any]:
    name, _, emoji_id = emoji.partition(":")
    for reaction in msg["reactions"]:
        if reaction["emoji"]["name"] == name:
            return reaction
    reaction = {"emoji": {"id": emoji_id or None, "name": name}, "count": 0, "me": False, "me_burst": False,
                "burst_me": False, "burst_colors": [], "count_details": {"burst": 0, "normal": 0}}
    msg["reactions"].append(reaction)
    return reaction


# ---------------------------------------------------------------- threads


@route("POST", "/channels/{channel_id}/threads")
async def start_thread(fake: FakeDiscord, req: Incoming, channel_id: str) -> Any:
    parent = fake.world.channel(channel_id)
    body = req.body()
    if parent["type"] in (15, 16):
        first = body.get("message") or {}
        check_message_limits(fake, req, first)
        post = fake.add_channel(parent["guild_id"], 11, name=body.get("name", "post"), parent_id=channel_id)
        post["applied_tags"] = body.get("applied_tags") or []
        # A forum post's starter message shares the thread's id.
        msg = fake.world.new_message(post["id"], first, req.files, id=post["id"])
        post["message_count"] = 1
        fake.echo("MESSAGE_CREATE", msg)
        return post | {"message": msg}
    if parent["type"] not in (0, 5):
        raise DiscordError(400, INVALID_FORM_BODY, "Threads can only start in text or announcement channels")
    return fake.add_channel(parent["guild_id"], body.get("type", 12), name=body.get("name", "thread"),
                            parent_id=channel_id)


@route("POST", "/channels/{channel_id}/messages/{message_id}/threads")
async def start_thread_from_message(fake: FakeDiscord, req: Incoming, channel_id: str,
                                    message_id: str) -> Any:
    parent = fake.world.channel(channel_id)
    msg = fake.world.message(channel_id, message_id)
    body = req.body()
    thread = fake.add_channel(parent["guild_id"], 10 if parent["type"] == 5 else 11,
                              name=body.get("name", "thread"), parent_id=channel_id, id=message_id)
    msg["thread"] = copy.deepcopy(thread)
    return thread


# ---------------------------------------------------------------- channel webhooks


def _webhook_host(fake: FakeDiscord, channel_id: str) -> dict[str, Any]:
    channel = fake.world.channel(channel_id)
    if channel["type"] in (1, 3) or channel["type"] in THREAD_TYPES:
        raise DiscordError(400, INVALID_FORM_BODY, "Webhooks can only be made in guild channels")
    _require(fake, channel, MANAGE_WEBHOOKS, "manage_webhooks")
    return channel


@route("GET", "/channels/{channel_id}/webhooks")
async def list_channel_webhooks(fake: FakeDiscord, req: Incoming, channel_id: str) -> Any:
    _webhook_host(fake, channel_id)
    return [h for h in fake.world.webhooks.values() if h["channel_id"] == channel_id]


@route("POST", "/channels/{channel_id}/webhooks")
async def create_webhook(fake: FakeDiscord, req: Incoming, channel_id: str) -> Any:
    channel = _webhook_host(fake, channel_id)
    name = req.body().get("name") or ""
    if any(bad in name.lower() for bad in ("clyde", "discord")):
        raise DiscordError(400, INVALID_FORM_BODY, "Webhook names cannot contain 'clyde' or 'discord'")
    if sum(h["channel_id"] == channel_id for h in fake.world.webhooks.values()) >= 15:
        raise DiscordError(400, 30007, "Maximum number of webhooks reached (15)")
    return fake.world.new_webhook(channel, name, req.body().get("avatar"))


@route("GET", "/guilds/{guild_id}/webhooks")
async def list_guild_webhooks(fake: FakeDiscord, req: Incoming, guild_id: str) -> Any:
    if guild_id not in fake.world.guilds:
        raise not_found("Guild", 10004)
    return [h for h in fake.world.webhooks.values() if h["guild_id"] == guild_id]
