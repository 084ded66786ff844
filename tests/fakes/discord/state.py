"""The fake Discord's world: users, guilds, channels, messages, webhooks, commands, interactions.

Plain data and pure-ish helpers; the REST handlers mutate it and the gateway reports the
mutations. Objects are stored as the same dicts Discord would send (built with ``tests.payloads``),
so answering a request is mostly handing back a stored dict.
"""

from __future__ import annotations

import copy
import mimetypes
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests import payloads as p

from .common import INVALID_FORM_BODY, MISSING_ACCESS, DiscordError, not_found

THREAD_TYPES = (10, 11, 12)
EPHEMERAL = 1 << 6
LOADING = 1 << 7
MENTION = re.compile(r"<@!?(\d+)>")


@dataclass
class InteractionRecord:
    """What the fake knows about one interaction it handed to the bot, and how the bot answered."""

    payload: dict[str, Any]
    response: dict[str, Any] | None = None
    original_id: str | None = None
    followup_ids: list[str] = field(default_factory=list)
    expired: bool = False

    @property
    def id(self) -> str:
        return str(self.payload["id"])

    @property
    def token(self) -> str:
        return str(self.payload["token"])

    @property
    def channel_id(self) -> str:
        return str(self.payload.get("channel_id") or self.payload.get("channel", {}).get("id") or "0")

    @property
    def response_type(self) -> int | None:
        return self.response["type"] if self.response else None


class World:
    """All state of the fake Discord. ``base_url`` gives the server root for attachment URLs."""

    def __init__(self, base_url: Callable[[], str]) -> None:
        self.base_url = base_url
        # Discord's CDN signs attachment URLs (`ex` = expiry in hex seconds, `is`, `hm`): with a
        # lifetime set, attachment URLs carry them, expired ones are refused with 404, and a
        # fetched message carries freshly signed URLs. `clock` is the CDN's wall clock.
        self.attachment_ttl: float | None = None
        self.clock: Callable[[], float] = time.time
        self.bot: dict[str, Any] = p.bot_user()
        self.application: dict[str, Any] = {
            "id": p.APP_ID, "name": "lustify", "description": "", "icon": None, "bot_public": False,
            "bot_require_code_grant": False, "verify_key": "0" * 64, "flags": 1 << 19,
            "owner": p.user(username="owner"), "team": None, "summary": "", "rpc_origins": [],
            "terms_of_service_url": None, "privacy_policy_url": None, "tags": [],
        }
        self.users: dict[str, dict[str, Any]] = {self.bot["id"]: self.bot}
        self.guilds: dict[str, dict[str, Any]] = {}
        self.members: dict[str, dict[str, dict[str, Any]]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.hidden: set[str] = set()
        self.forbidden: set[str] = set()
        self.private_kind: dict[str, str] = {}
        self.bot_dms: dict[str, str] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.webhook_404_once: set[str | None] = set()
        self.attachments: dict[str, tuple[str, bytes, str | None]] = {}
        self.commands: dict[str | None, list[dict[str, Any]]] = {}
        self.sync_bodies: dict[str | None, Any] = {}
        self.interactions: dict[str, InteractionRecord] = {}

    # ------------------------------------------------------------ lookups

    def channel(self, channel_id: str) -> dict[str, Any]:
        """A channel the bot can access, or Discord's 404 (unknown) / 403 (forbidden, others' DMs)."""
        channel = self.channels.get(str(channel_id))
        if channel is None:
            raise not_found("Channel", 10003)
        if str(channel_id) in self.forbidden or self.private_kind.get(str(channel_id)) in ("user_dm", "group_dm"):
            raise DiscordError(403, MISSING_ACCESS, "Missing Access")
        return channel

    def message(self, channel_id: str, message_id: str) -> dict[str, Any]:
        """A stored, non-ephemeral message of that channel, or 404 Unknown Message."""
        self.channel(channel_id)
        msg = self.messages.get(str(message_id))
        if msg is None or msg["channel_id"] != str(channel_id) or msg["flags"] & EPHEMERAL:
            raise not_found("Message", 10008)
        return msg

    def user(self, user: Any) -> dict[str, Any]:
        """A user dict from a dict or id; unknown dicts are added so later lookups find them."""
        if isinstance(user, dict):
            return self.users.setdefault(str(user["id"]), user)
        found = self.users.get(str(user))
        if found is None:
            raise KeyError(f"unknown user {user!r}; add it with fake.add_user()")
        return found

    def parent_of(self, channel: dict[str, Any]) -> dict[str, Any] | None:
        parent_id = channel.get("parent_id")
        return self.channels.get(parent_id) if parent_id else None

    def bot_role_id(self, guild_id: str) -> str:
        return self.guilds[guild_id]["roles"][1]["id"]

    def bot_permissions(self, channel: dict[str, Any] | None) -> int:
        """The bot's permissions in a channel: its roles, then the overwrites (simplified: in list order)."""
        value = int(p.MEMBER_PERMISSIONS) | int(p.BOT_PERMISSIONS)
        if channel is None or channel.get("type") in (1, 3):
            return value
        host = self.parent_of(channel) if channel.get("type") in THREAD_TYPES else channel
        gid = channel.get("guild_id")
        targets = {gid, p.BOT_ID, self.bot_role_id(gid) if gid in self.guilds else None}
        for overwrite in (host or {}).get("permission_overwrites", []):
            if overwrite["id"] in targets:
                value = (value & ~int(overwrite["deny"])) | int(overwrite["allow"])
        return value

    # ------------------------------------------------------------ guild payloads

    def guild_create(self, guild_id: str, *, all_members: bool = False) -> dict[str, Any]:
        """The GUILD_CREATE payload: the guild with every channel and thread the bot can see.

        As documented, ``members`` holds only the bot unless the session has the presences intent
        (``all_members``); ``member_count`` is the real count, so a members-intent bot chunks.
        """
        visible = [c for c in self.channels.values()
                   if c.get("guild_id") == guild_id and c["id"] not in self.hidden]
        data = copy.deepcopy(self.guilds[guild_id])
        data["channels"] = [{k: v for k, v in c.items() if k != "guild_id"} for c in visible
                            if c["type"] not in THREAD_TYPES]
        data["threads"] = [copy.deepcopy(c) for c in visible if c["type"] in THREAD_TYPES]
        members = list(self.members[guild_id].values())
        data["members"] = copy.deepcopy(members if all_members else [self.members[guild_id][p.BOT_ID]])
        data["member_count"] = len(members)
        return data

    # ------------------------------------------------------------ messages and attachments

    def attachment_url(self, channel_id: str, attachment_id: str, filename: str) -> str:
        url = f"{self.base_url()}/attachments/{channel_id}/{attachment_id}/{filename}"
        if self.attachment_ttl is None:
            return url
        now = int(self.clock())
        return f"{url}?ex={now + int(self.attachment_ttl):x}&is={now:x}&hm=fake{attachment_id}&"

    def signed_expired(self, query: Any) -> bool:
        """Has a signed attachment URL's `ex` passed (the CDN's 404)?"""
        ex = query.get("ex")
        return ex is not None and int(ex, 16) <= self.clock()

    def resigned(self, message: dict[str, Any]) -> dict[str, Any]:
        """A message as fetched: its attachments with freshly signed URLs."""
        if self.attachment_ttl is None or not message.get("attachments"):
            return message
        out = copy.deepcopy(message)
        for att in out["attachments"]:
            att["url"] = att["proxy_url"] = self.attachment_url(out["channel_id"], att["id"], att["filename"])
        return out

    def add_attachment(self, channel_id: str, filename: str, data: bytes,
                       description: str | None = None) -> dict[str, Any]:
        """Store bytes the fake serves at ``GET /attachments/...`` and return the attachment object."""
        att_id = p.new_id()
        content_type = mimetypes.guess_type(filename)[0]
        self.attachments[att_id] = (filename, data, content_type)
        return p.attachment(id=att_id, filename=filename, size=len(data), content_type=content_type,
                            url=self.attachment_url(channel_id, att_id, filename), description=description)

    def _attachments(self, channel_id: str, body: dict[str, Any], files: list[tuple[str, str, bytes]],
                     existing: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # payload_json "attachments" pairs {"id": n} with the part "files[n]"; ids of attachments
        # already on the message keep them (edits); without the key every upload is added.
        by_field = {name: (filename, data) for name, filename, data in files}
        if "attachments" not in body:
            return existing + [self.add_attachment(channel_id, f, d) for _, f, d in files]
        kept = {a["id"]: a for a in existing}
        result = []
        for item in body.get("attachments") or []:
            att_id = str(item.get("id"))
            if att_id in kept:
                result.append(kept[att_id])
            elif f"files[{att_id}]" in by_field:
                filename, data = by_field[f"files[{att_id}]"]
                result.append(self.add_attachment(channel_id, item.get("filename") or filename, data,
                                                  item.get("description")))
            else:
                raise DiscordError(400, INVALID_FORM_BODY, f"attachments: unknown attachment id {att_id}")
        return result

    def _mentions(self, body: dict[str, Any], content: str) -> list[dict[str, Any]]:
        allowed = body.get("allowed_mentions")
        ids = MENTION.findall(content)
        if allowed is not None:
            users = {str(u) for u in allowed.get("users") or []}
            ids = [i for i in ids if "users" in (allowed.get("parse") or []) or i in users]
        return [self.users[i] for i in dict.fromkeys(ids) if i in self.users]

    def new_message(self, channel_id: str, body: dict[str, Any], files: list[tuple[str, str, bytes]], *,
                    author: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        """Store and return a message built from a create body (REST, webhook or interaction)."""
        channel = self.channels.get(channel_id, {})
        content = body.get("content") or ""
        reply_to = None
        reference = body.get("message_reference")
        if reference and reference.get("message_id"):
            reply_to = self.messages.get(str(reference["message_id"]))
            if reply_to is None and reference.get("fail_if_not_exists", True):
                raise DiscordError(400, INVALID_FORM_BODY, "message_reference: Unknown message")
        msg = p.message(channel_id=channel_id, author=author or self.bot, content=content,
                        guild_id=channel.get("guild_id"), embeds=_embeds(body), flags=int(body.get("flags") or 0),
                        components=body.get("components") or [], reply_to=reply_to,
                        attachments=self._attachments(channel_id, body, files, []),
                        mentions=self._mentions(body, content))
        msg["tts"] = bool(body.get("tts"))
        msg["mention_everyone"] = "@everyone" in content and (
            body.get("allowed_mentions") is None or "everyone" in body["allowed_mentions"].get("parse", []))
        if "nonce" in body:
            msg["nonce"] = body["nonce"]
        msg.update(extra)
        self.messages[msg["id"]] = msg
        if channel:
            channel["last_message_id"] = msg["id"]
        return msg

    def edit_message(self, msg: dict[str, Any], body: dict[str, Any],
                     files: list[tuple[str, str, bytes]]) -> dict[str, Any]:
        """Apply an edit body to a stored message (fields not in the body stay)."""
        if "content" in body:
            msg["content"] = body["content"] or ""
            msg["mentions"] = self._mentions(body, msg["content"])
        if "embeds" in body:
            msg["embeds"] = _embeds(body)
        if "components" in body:
            msg["components"] = body["components"] or []
        if "flags" in body and body["flags"] is not None:
            # Only SUPPRESS_EMBEDS may change on edit; ephemeral/loading bits are Discord's to keep.
            msg["flags"] = (msg["flags"] & ~(1 << 2)) | (int(body["flags"]) & (1 << 2))
        if "attachments" in body or files:
            msg["attachments"] = self._attachments(msg["channel_id"], body, files, msg["attachments"])
        msg["flags"] &= ~LOADING
        msg["edited_timestamp"] = p.iso_now()
        return msg

    # ------------------------------------------------------------ webhooks and commands

    def new_webhook(self, channel: dict[str, Any], name: str, avatar: str | None = None) -> dict[str, Any]:
        """A bot-created incoming webhook (type 1) with a token."""
        hook = {"id": p.new_id(), "type": 1, "guild_id": channel.get("guild_id"), "channel_id": channel["id"],
                "name": name, "avatar": avatar, "token": f"whtoken-{p.new_id()}", "user": self.bot,
                "application_id": p.APP_ID}
        self.webhooks[hook["id"]] = hook
        return hook

    def webhook_author(self, hook: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """Webhook messages are authored by the webhook, under the per-message name if given."""
        return {"id": hook["id"], "username": body.get("username") or hook["name"], "discriminator": "0000",
                "avatar": None, "bot": True, "global_name": None, "public_flags": 0, "flags": 0}

    def sync_commands(self, guild_id: str | None, body: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store a bulk overwrite and echo it like Discord (ids stay stable per name and type)."""
        old = {(c["name"], c.get("type", 1)): c for c in self.commands.get(guild_id, [])}
        echoed = []
        for cmd in body:
            prior = old.get((cmd["name"], cmd.get("type", 1)))
            echoed.append(self.command_echo(cmd, guild_id, prior["id"] if prior else None))
        self.sync_bodies[guild_id] = copy.deepcopy(body)
        self.commands[guild_id] = echoed
        return echoed

    def command_echo(self, cmd: dict[str, Any], guild_id: str | None, cmd_id: str | None) -> dict[str, Any]:
        echo = {"type": 1, "description": "", "options": [], "default_member_permissions": None,
                "nsfw": False, **copy.deepcopy(cmd), "id": cmd_id or p.new_id(),
                "application_id": p.APP_ID, "version": p.new_id()}
        if guild_id is not None:
            echo["guild_id"] = guild_id
        else:
            echo.setdefault("integration_types", [0])
            echo.setdefault("contexts", None)
        return echo

    def find_command(self, name: str, guild_id: str | None) -> dict[str, Any] | None:
        """The synced command of that name, guild commands first (as Discord resolves them)."""
        for scope in (guild_id, None) if guild_id else (None,):
            for cmd in self.commands.get(scope, []):
                if cmd["name"] == name and cmd.get("type", 1) == 1:
                    return cmd
        return None


def _embeds(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "rich", **e} for e in body.get("embeds") or []]
