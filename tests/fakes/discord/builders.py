"""Building the fake's world from a test: users, guilds, channels, DMs, places, and test switches.

Every change made after a bot has connected is also sent over the gateway (GUILD_CREATE,
CHANNEL_UPDATE, ...), queued in order before anything the test dispatches next.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from tests import payloads as p
from tests.places import PLACES, Place, PlaceSetup

from .state import THREAD_TYPES, World

if TYPE_CHECKING:
    from .gateway import Gateway

CHANNEL_TYPES = {"text": 0, "dm": 1, "voice": 2, "group_dm": 3, "category": 4, "news": 5,
                 "announcement": 5, "news_thread": 10, "thread": 11, "public_thread": 11,
                 "private_thread": 12, "stage": 13, "forum": 15, "media": 16}


class WorldBuilders:
    """Mixin for :class:`FakeDiscord`: methods that create and change things in the world."""

    world: World
    gateway: Gateway
    echo_messages: bool

    def notify(self) -> None:  # provided by FakeDiscord
        raise NotImplementedError

    def _push(self, event: str, data: dict[str, Any], guild_id: str | None = None) -> None:
        self.gateway.dispatch(event, copy.deepcopy(data), guild_id)
        self.notify()

    # ------------------------------------------------------------ users and guilds

    def add_user(self, username: str = "alice", *, id: Any = None, bot: bool = False,
                 global_name: str | None = None) -> dict[str, Any]:
        """A user the fake knows (members, DM partners, interaction invokers)."""
        data = p.user(id=id, username=username, bot=bot, global_name=global_name)
        self.world.users[data["id"]] = data
        return data

    def add_guild(self, name: str = "Test guild", *, id: Any = None, owner: dict[str, Any] | None = None,
                  nsfw_level: int = 0) -> dict[str, Any]:
        """A guild the bot is in: @everyone and a managed bot role, the bot as a member."""
        gid = str(id or p.new_id())
        roles = [p.role(id=gid, name="@everyone", permissions=p.MEMBER_PERMISSIONS),
                 p.role(id=p.new_id(), name="lustify", permissions=p.BOT_PERMISSIONS, position=1, managed=True)]
        owner = owner or self.add_user("owner")
        data = p.guild(id=gid, name=name, owner_id=owner["id"], roles=roles, nsfw_level=nsfw_level)
        for key in ("channels", "threads", "members"):
            data.pop(key)
        self.world.guilds[gid] = data
        self.world.members[gid] = {p.BOT_ID: p.member(self.world.bot, roles=[roles[1]["id"]])}
        self.add_member(gid, owner)
        self._push("GUILD_CREATE", self.world.guild_create(gid), gid)
        return data

    def add_member(self, guild_id: Any, user: Any, *, roles: list[Any] | None = None,
                   nick: str | None = None) -> dict[str, Any]:
        """Make a user a member of a guild (no gateway event: the bot has no members intent)."""
        u = self.world.user(user)
        data = p.member(u, roles=roles or [], nick=nick)
        self.world.members[str(guild_id)][u["id"]] = data
        return data

    def add_channel(self, guild_id: Any, type: int | str = 0, *, name: str | None = None, nsfw: bool = False,
                    parent_id: Any = None, hidden: bool = False, id: Any = None) -> dict[str, Any]:
        """A guild channel or thread (``type`` an int or ``"text"``, ``"voice"``, ``"forum"``, ``"thread"``...).

        ``hidden=True``: the channel exists (``GET /channels/{id}`` finds it) but is not in
        GUILD_CREATE, i.e. not in the bot's cache; that is how "thread parent not cached" is made.
        """
        kind = CHANNEL_TYPES[type] if isinstance(type, str) else type
        gid = str(guild_id)
        common = {"id": id, "guild_id": gid}
        if kind in THREAD_TYPES:
            if parent_id is None:
                raise ValueError("a thread needs parent_id")
            parent = self.world.channels[str(parent_id)]
            maker = p.forum_post if parent["type"] in (15, 16) else p.thread
            data = maker(parent_id, name=name or "thread", **common) | {"type": kind}
        elif kind in (2, 13):
            data = p.voice_channel(name=name or "voice", nsfw=nsfw, parent_id=parent_id, stage=kind == 13, **common)
        elif kind in (15, 16):
            data = p.forum_channel(name=name or "forum", nsfw=nsfw, parent_id=parent_id, media=kind == 16, **common)
        elif kind == 4:
            data = p.category_channel(name=name or "category", nsfw=nsfw, **common)
        else:
            data = p.text_channel(name=name or "general", nsfw=nsfw, parent_id=parent_id, news=kind == 5, **common)
        self._store_channel(data, hidden=hidden)
        return data

    def add_thread(self, parent_id: Any, *, name: str = "thread", type: int = 11,
                   hidden: bool = False) -> dict[str, Any]:
        """A thread (or forum post, when the parent is a forum) under ``parent_id``."""
        parent = self.world.channels[str(parent_id)]
        return self.add_channel(parent["guild_id"], type, name=name, parent_id=parent_id, hidden=hidden)

    def _store_channel(self, data: dict[str, Any], *, hidden: bool = False) -> None:
        self.world.channels[data["id"]] = data
        if hidden:
            self.world.hidden.add(data["id"])
        else:
            event = "THREAD_CREATE" if data["type"] in THREAD_TYPES else "CHANNEL_CREATE"
            self._push(event, data | ({"newly_created": True} if event == "THREAD_CREATE" else {}))

    # ------------------------------------------------------------ private channels

    def dm_channel(self, user: Any) -> dict[str, Any]:
        """The DM between the bot and ``user`` (created on first use, like ``POST /users/@me/channels``)."""
        u = self.world.user(user)
        existing = self.world.bot_dms.get(u["id"])
        if existing:
            return self.world.channels[existing]
        data = p.dm_channel(u)
        self.world.channels[data["id"]] = data
        self.world.private_kind[data["id"]] = "bot_dm"
        self.world.bot_dms[u["id"]] = data["id"]
        return data

    def user_dm(self, user: Any, other: Any) -> dict[str, Any]:
        """A DM between two users (the bot is not in it; only a user-installed app sees it)."""
        self.world.user(user)
        data = p.dm_channel(self.world.user(other))
        self.world.channels[data["id"]] = data
        self.world.private_kind[data["id"]] = "user_dm"
        return data

    def group_dm(self, users: list[Any]) -> dict[str, Any]:
        """A group DM of these users (the bot is not in it)."""
        data = p.group_dm([self.world.user(u) for u in users])
        self.world.channels[data["id"]] = data
        self.world.private_kind[data["id"]] = "group_dm"
        return data

    # ------------------------------------------------------------ places

    def add_place(self, place: str | Place | PlaceSetup) -> PlaceSetup:
        """Put a place from ``tests.places.PLACES`` (key, Place or a built setup) into the world."""
        setup = (PLACES[place].setup() if isinstance(place, str)
                 else place.setup() if isinstance(place, Place) else place)
        self.world.user(setup.user)
        if setup.guild is not None:
            self._add_place_guild(setup)
        elif setup.channel is not None:
            channel = setup.channel
            for recipient in channel.get("recipients", []):
                self.world.user(recipient)
            self.world.channels[channel["id"]] = channel
            kind = {1: "bot_dm", 2: "user_dm"}.get(setup.context, "group_dm") if channel["type"] == 1 else "group_dm"
            self.world.private_kind[channel["id"]] = kind
            if kind == "bot_dm":
                self.world.bot_dms[setup.user["id"]] = channel["id"]
        return setup

    def _add_place_guild(self, setup: PlaceSetup) -> None:
        g = copy.deepcopy(setup.guild)
        assert g is not None
        gid = g["id"]
        self.add_guild(g["name"], id=gid, nsfw_level=g["nsfw_level"])
        for m in g["members"]:
            self.add_member(gid, m["user"])
        for channel in [*g["channels"], *g["threads"]]:
            self._store_channel(channel | {"guild_id": gid})
        for channel in setup.uncached:
            self._store_channel(copy.deepcopy(channel), hidden=True)
        for event, data in setup.updates:
            self.world.channels[data["id"]].update(copy.deepcopy(data))
            self._push(event, data)

    # ------------------------------------------------------------ changes and test switches

    def update_channel(self, channel_id: Any, **fields: Any) -> dict[str, Any]:
        """Change a channel (e.g. ``nsfw=False``) and send CHANNEL_UPDATE / THREAD_UPDATE."""
        channel = self.world.channels[str(channel_id)]
        channel.update(fields)
        if channel["id"] not in self.world.hidden and channel["type"] not in (1, 3):
            self._push("THREAD_UPDATE" if channel["type"] in THREAD_TYPES else "CHANNEL_UPDATE", channel)
        return channel

    def remove_channel(self, channel_id: Any) -> None:
        """Delete a channel and send CHANNEL_DELETE / THREAD_DELETE."""
        channel = self.world.channels.pop(str(channel_id))
        if channel["type"] in THREAD_TYPES:
            self._push("THREAD_DELETE", {k: channel[k] for k in ("id", "guild_id", "parent_id", "type")})
        elif channel["type"] not in (1, 3):
            self._push("CHANNEL_DELETE", channel)

    def forbid_channel(self, channel_id: Any, forbidden: bool = True) -> None:
        """``GET`` and sends to this channel answer 403 Missing Access (code 50001)."""
        (self.world.forbidden.add if forbidden else self.world.forbidden.discard)(str(channel_id))

    def deny_manage_webhooks(self, channel_id: Any, deny: bool = True) -> None:
        """The bot loses Manage Webhooks in this channel (an overwrite): webhook calls get 403 50013."""
        channel = self.world.channels[str(channel_id)]
        others = [o for o in channel["permission_overwrites"] if o["id"] != p.BOT_ID]
        if deny:
            others.append({"id": p.BOT_ID, "type": 1, "allow": "0",
                           "deny": str(p.PERMISSIONS["manage_webhooks"])})
        self.update_channel(channel_id, permission_overwrites=others)

    def delete_webhook(self, webhook_id: Any) -> None:
        """A moderator deletes a webhook: from now on it answers 404 Unknown Webhook (10015)."""
        hook = self.world.webhooks.pop(str(webhook_id))
        self._push("WEBHOOKS_UPDATE", {"guild_id": hook["guild_id"], "channel_id": hook["channel_id"]})

    def webhook_404_once(self, webhook_id: Any = None) -> None:
        """The next call to that webhook (any webhook if None) answers 404 once, then works again."""
        self.world.webhook_404_once.add(None if webhook_id is None else str(webhook_id))

    def expire_interaction(self, token: str) -> None:
        """The interaction token stops working (as after 15 minutes): 404 Unknown interaction."""
        self.world.interactions[token].expired = True

    def add_message(self, channel: Any, content: str = "", *, author: Any = None,
                    components: list[dict[str, Any]] | None = None,
                    embeds: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Seed a message without any event (say, a bot message with buttons from before a restart)."""
        channel_id = str(channel["id"] if isinstance(channel, dict) else channel)
        body = {"content": content, "components": components or [], "embeds": embeds or []}
        author_data = self.world.bot if author is None else self.world.user(author)
        return self.world.new_message(channel_id, body, [], author=author_data)

    def delete_message(self, msg: dict[str, Any]) -> None:
        """Remove a stored message and send MESSAGE_DELETE."""
        self.world.messages.pop(msg["id"], None)
        if not msg["flags"] & (1 << 6):
            data = {"id": msg["id"], "channel_id": msg["channel_id"]}
            if msg.get("guild_id"):
                data["guild_id"] = msg["guild_id"]
            self._push("MESSAGE_DELETE", data)

    def echo(self, event: str, msg: dict[str, Any]) -> None:
        """Report a message the bot made or changed over the gateway, as Discord does."""
        if not self.echo_messages or msg["flags"] & (1 << 6) or not self._bot_sees(msg["channel_id"]):
            return
        data = copy.deepcopy(msg)
        gid = data.get("guild_id")
        member = self.world.members.get(gid or "", {}).get(data["author"]["id"])
        if member is not None and "webhook_id" not in data:
            data["member"] = {k: v for k, v in member.items() if k != "user"}
        self._push(event, data, gid)

    def _bot_sees(self, channel_id: str) -> bool:
        # No events for channels outside the bot's view (unknown, hidden, forbidden, other people's DMs).
        w = self.world
        return (channel_id in w.channels and channel_id not in w.hidden and channel_id not in w.forbidden
                and w.private_kind.get(channel_id) not in ("user_dm", "group_dm"))

    # ------------------------------------------------------------ what the bot registered

    def synced_commands(self, guild_id: Any = None) -> list[dict[str, Any]]:
        """The commands as Discord echoed them after the last sync (global when ``guild_id`` is None)."""
        return self.world.commands.get(None if guild_id is None else str(guild_id), [])

    def last_sync(self, guild_id: Any = None) -> Any:
        """The exact body of the last bulk-overwrite PUT (None when there was none)."""
        return self.world.sync_bodies.get(None if guild_id is None else str(guild_id))
