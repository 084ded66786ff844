"""Raw Discord payloads (API v10) as discord.py 2.7.1 expects them, for tests and the fake Discord.

Every function returns a fresh plain ``dict`` shaped like what Discord sends over the gateway or
REST, so tests can build real ``discord.Interaction`` / ``discord.Message`` objects and the fake
server can reuse the same shapes. Keys that discord.py 2.7 reads without a default (a missing one
is a ``KeyError`` deep inside the library) are always present: ``attachment_size_limit`` on
interactions, ``flags`` on members, ``thread_metadata``/``message_count``/``member_count`` on
threads, ``position`` on guild channels.

The table of places in the age-gate matrix (``PLACES``) is in ``tests.places`` and is also
reachable as ``payloads.PLACES``.
"""

from __future__ import annotations

import datetime
import itertools
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.places import PLACES, Place, PlaceSetup  # noqa: F401 - re-exported lazily below

Payload = dict[str, Any]

DISCORD_EPOCH_MS = 1420070400000
BOT_ID = "1180000000000000001"
APP_ID = BOT_ID  # a bot's user id is its application id for every app created since 2019
DEFAULT_GUILD_ID = "1180000000000000100"
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

_ids = itertools.count()

# Permission bits (https://discord.com/developers/docs/topics/permissions); only the ones we use.
PERMISSIONS: dict[str, int] = {
    "create_instant_invite": 1 << 0, "kick_members": 1 << 1, "administrator": 1 << 3,
    "manage_channels": 1 << 4, "manage_guild": 1 << 5, "add_reactions": 1 << 6,
    "view_channel": 1 << 10, "send_messages": 1 << 11, "manage_messages": 1 << 13,
    "embed_links": 1 << 14, "attach_files": 1 << 15, "read_message_history": 1 << 16,
    "mention_everyone": 1 << 17, "use_external_emojis": 1 << 18, "connect": 1 << 20,
    "speak": 1 << 21, "change_nickname": 1 << 26, "manage_webhooks": 1 << 29,
    "use_application_commands": 1 << 31, "manage_threads": 1 << 34,
    "create_public_threads": 1 << 35, "create_private_threads": 1 << 36,
    "send_messages_in_threads": 1 << 38, "use_external_apps": 1 << 50,
}


def permissions(*names: str) -> str:
    """The permission integer (as Discord's decimal string) for the named permissions."""
    return str(sum(PERMISSIONS[n] for n in names))


MEMBER_PERMISSIONS = permissions(
    "create_instant_invite", "add_reactions", "view_channel", "send_messages", "embed_links",
    "attach_files", "read_message_history", "use_external_emojis", "connect", "speak",
    "change_nickname", "use_application_commands", "create_public_threads",
    "send_messages_in_threads", "use_external_apps",
)
# What a bot invited with the scopes this project asks for gets (no administrator on purpose).
BOT_PERMISSIONS = str(int(MEMBER_PERMISSIONS) | int(permissions("manage_webhooks", "manage_messages",
                                                                  "manage_threads")))


def new_id() -> str:
    """A fresh snowflake whose timestamp is now, so ``created_at`` looks real; unique per process."""
    return str(((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(_ids) % (1 << 22)))


def iso_now() -> str:
    """The current time in Discord's ISO 8601 format."""
    return datetime.datetime.now(datetime.UTC).isoformat()


def _sid(value: Any) -> str | None:
    """Ids in payloads are strings; accept ints and dicts that carry an ``id`` too."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return str(value["id"])
    return str(value)


# ---------------------------------------------------------------- users, members, guilds


def user(*, id: Any = None, username: str = "alice", global_name: str | None = None,
         bot: bool = False) -> Payload:
    """A user object."""
    data: Payload = {"id": _sid(id) or new_id(), "username": username, "discriminator": "0",
                     "global_name": global_name, "avatar": None, "public_flags": 0, "flags": 0}
    if bot:
        data["bot"] = True
    return data


def _anonymous_user() -> Payload:
    # Lets functions whose ``user`` parameter shadows :func:`user` still make a default one.
    return user()


def bot_user() -> Payload:
    """The bot's own user (what ``GET /users/@me`` returns)."""
    return user(id=BOT_ID, username="lustify", bot=True) | {"verified": True, "mfa_enabled": False}


def member(user_obj: Payload, *, roles: Iterable[Any] = (), permissions: str | None = None,
           nick: str | None = None) -> Payload:
    """A guild member; ``permissions`` (interaction members only) is the member's channel total."""
    data: Payload = {"user": user_obj, "roles": [_sid(r) for r in roles], "nick": nick,
                     "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False,
                     "flags": 0, "pending": False, "avatar": None}
    if permissions is not None:
        data["permissions"] = permissions
    return data


def role(*, id: Any, name: str, permissions: str, position: int = 0, managed: bool = False) -> Payload:
    """A guild role; the @everyone role has the guild's id."""
    return {"id": _sid(id), "name": name, "permissions": permissions, "position": position,
            "color": 0, "colors": {"primary_color": 0}, "hoist": False, "managed": managed,
            "mentionable": False, "flags": 0, "icon": None, "unicode_emoji": None}


def guild(*, id: Any = None, name: str = "Test guild", owner_id: Any = None,
          channels: Iterable[Payload] = (), threads: Iterable[Payload] = (),
          members: Iterable[Payload] = (), roles: Iterable[Payload] | None = None,
          nsfw_level: int = 0) -> Payload:
    """A full GUILD_CREATE payload (the guild as the gateway sends it when it becomes available)."""
    gid = _sid(id) or new_id()
    roles = list(roles) if roles is not None else [role(id=gid, name="@everyone",
                                                        permissions=MEMBER_PERMISSIONS)]
    members = list(members)
    return {
        "id": gid, "name": name, "icon": None, "splash": None, "discovery_splash": None,
        "owner_id": _sid(owner_id) or new_id(), "afk_channel_id": None, "afk_timeout": 300,
        "verification_level": 0, "default_message_notifications": 1, "explicit_content_filter": 0,
        "roles": roles, "emojis": [], "stickers": [], "features": [], "mfa_level": 0,
        "system_channel_id": None, "system_channel_flags": 0, "rules_channel_id": None,
        "vanity_url_code": None, "description": None, "banner": None, "premium_tier": 0,
        "premium_subscription_count": 0, "preferred_locale": "en-US",
        "public_updates_channel_id": None, "nsfw_level": nsfw_level, "premium_progress_bar_enabled": False,
        "joined_at": "2024-01-01T00:00:00+00:00", "large": False, "unavailable": False,
        "member_count": max(len(members), 1), "voice_states": [], "members": members,
        "channels": [_strip_guild_id(c) for c in channels], "threads": list(threads),
        "presences": [], "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
    }


def _strip_guild_id(channel: Payload) -> Payload:
    # GUILD_CREATE channel objects carry no guild_id; discord.py fills it from the guild.
    return {k: v for k, v in channel.items() if k != "guild_id"}


# ---------------------------------------------------------------- channels


def _guild_channel(type_: int, *, id: Any, guild_id: Any, name: str, nsfw: bool, parent_id: Any,
                   position: int, permission_overwrites: Iterable[Payload] | None) -> Payload:
    return {"id": _sid(id) or new_id(), "type": type_, "guild_id": _sid(guild_id) or DEFAULT_GUILD_ID,
            "name": name, "position": position, "nsfw": nsfw, "parent_id": _sid(parent_id),
            "permission_overwrites": list(permission_overwrites or []), "flags": 0,
            "rate_limit_per_user": 0, "last_message_id": None}


def text_channel(*, id: Any = None, guild_id: Any = None, name: str = "general", nsfw: bool = False,
                 parent_id: Any = None, position: int = 0, topic: str | None = None,
                 permission_overwrites: Iterable[Payload] | None = None, news: bool = False) -> Payload:
    """A guild text channel (type 0), or an announcement channel (type 5) with ``news=True``."""
    data = _guild_channel(5 if news else 0, id=id, guild_id=guild_id, name=name, nsfw=nsfw,
                          parent_id=parent_id, position=position, permission_overwrites=permission_overwrites)
    return data | {"topic": topic, "default_auto_archive_duration": 1440}


def voice_channel(*, id: Any = None, guild_id: Any = None, name: str = "voice", nsfw: bool = False,
                  parent_id: Any = None, position: int = 0,
                  permission_overwrites: Iterable[Payload] | None = None, stage: bool = False) -> Payload:
    """A voice channel (type 2, it has a text chat) or a stage channel (type 13) with ``stage=True``."""
    data = _guild_channel(13 if stage else 2, id=id, guild_id=guild_id, name=name, nsfw=nsfw,
                          parent_id=parent_id, position=position, permission_overwrites=permission_overwrites)
    return data | {"bitrate": 64000, "user_limit": 0, "rtc_region": None, "video_quality_mode": 1}


def forum_channel(*, id: Any = None, guild_id: Any = None, name: str = "forum", nsfw: bool = False,
                  parent_id: Any = None, position: int = 0,
                  permission_overwrites: Iterable[Payload] | None = None, media: bool = False) -> Payload:
    """A forum channel (type 15) or media channel (type 16); its posts are threads."""
    data = _guild_channel(16 if media else 15, id=id, guild_id=guild_id, name=name, nsfw=nsfw,
                          parent_id=parent_id, position=position, permission_overwrites=permission_overwrites)
    return data | {"topic": None, "available_tags": [], "default_reaction_emoji": None,
                   "default_thread_rate_limit_per_user": 0, "default_sort_order": None,
                   "default_forum_layout": 0, "default_auto_archive_duration": 1440}


def category_channel(*, id: Any = None, guild_id: Any = None, name: str = "category",
                     nsfw: bool = False, position: int = 0) -> Payload:
    """A category (type 4); its ``nsfw`` flag means nothing to Discord's gate."""
    return _guild_channel(4, id=id, guild_id=guild_id, name=name, nsfw=nsfw, parent_id=None,
                          position=position, permission_overwrites=None)


def thread(parent_id: Any, *, id: Any = None, guild_id: Any = None, name: str = "thread", type: int = 11,
           owner_id: Any = None, archived: bool = False, locked: bool = False,
           message_count: int = 0, member_count: int = 1) -> Payload:
    """A thread (11 public, 12 private, 10 announcement). Threads have no ``nsfw`` of their own."""
    return {"id": _sid(id) or new_id(), "type": type, "guild_id": _sid(guild_id) or DEFAULT_GUILD_ID,
            "parent_id": _sid(parent_id), "owner_id": _sid(owner_id) or BOT_ID, "name": name,
            "last_message_id": None, "rate_limit_per_user": 0, "flags": 0,
            "message_count": message_count, "member_count": member_count, "total_message_sent": 0,
            "thread_metadata": {"archived": archived, "locked": locked, "auto_archive_duration": 1440,
                                "archive_timestamp": "2024-01-01T00:00:00+00:00",
                                "create_timestamp": "2024-01-01T00:00:00+00:00",
                                "invitable": type == 12}}


def forum_post(parent_id: Any, *, id: Any = None, guild_id: Any = None, name: str = "post",
               owner_id: Any = None) -> Payload:
    """A post in a forum or media channel: a public thread with (empty) applied tags."""
    data = thread(parent_id, id=id, guild_id=guild_id, name=name, type=11, owner_id=owner_id)
    return data | {"applied_tags": []}


def dm_channel(recipient: Payload, *, id: Any = None) -> Payload:
    """A DM channel (type 1); ``recipients`` lists the other person from the bot's point of view."""
    return {"id": _sid(id) or new_id(), "type": 1, "recipients": [recipient], "last_message_id": None,
            "flags": 0}


def group_dm(recipients: Iterable[Payload], *, id: Any = None, owner_id: Any = None,
             name: str | None = None) -> Payload:
    """A group DM (type 3)."""
    recipients = list(recipients)
    return {"id": _sid(id) or new_id(), "type": 3, "recipients": recipients, "name": name,
            "icon": None, "owner_id": _sid(owner_id) or recipients[0]["id"], "last_message_id": None,
            "flags": 0}


# ---------------------------------------------------------------- messages


def attachment(*, filename: str, size: int, url: str, id: Any = None,
               content_type: str | None = None, description: str | None = None) -> Payload:
    """An attachment object (``url`` points wherever the bytes are served)."""
    return {"id": _sid(id) or new_id(), "filename": filename, "size": size, "url": url,
            "proxy_url": url, "content_type": content_type, "description": description}


def message(*, channel_id: Any, author: Payload, content: str = "", id: Any = None,
            guild_id: Any = None, attachments: Iterable[Payload] = (), embeds: Iterable[Payload] = (),
            components: Iterable[Payload] = (), mentions: Iterable[Payload] = (), flags: int = 0,
            type: int = 0, reply_to: Payload | None = None, webhook_id: Any = None) -> Payload:
    """A message object as REST returns it; ``reply_to`` (a message) makes it a reply (type 19)."""
    data: Payload = {
        "id": _sid(id) or new_id(), "channel_id": _sid(channel_id), "author": author, "content": content,
        "timestamp": iso_now(), "edited_timestamp": None, "tts": False, "mention_everyone": False,
        "mentions": list(mentions), "mention_roles": [], "attachments": list(attachments),
        "embeds": list(embeds), "pinned": False, "type": type, "flags": flags,
        "components": list(components), "reactions": [],
    }
    if guild_id is not None:
        data["guild_id"] = _sid(guild_id)
    if webhook_id is not None:
        data["webhook_id"] = _sid(webhook_id)
    if reply_to is not None:
        data["type"] = 19
        data["message_reference"] = {"type": 0, "message_id": reply_to["id"],
                                     "channel_id": reply_to["channel_id"], "guild_id": reply_to.get("guild_id")}
        data["referenced_message"] = reply_to
    return data


def message_create(*, channel_id: Any, author: Payload, content: str = "", guild_id: Any = None,
                   mentions_bot: bool = False, reply_to: Payload | None = None, **extra: Any) -> Payload:
    """A MESSAGE_CREATE gateway payload: the message plus ``member`` (without ``user``) in guilds."""
    mentions = [bot_user()] if mentions_bot else []
    if mentions_bot and f"<@{BOT_ID}>" not in content:
        content = f"<@{BOT_ID}> {content}".strip()
    data = message(channel_id=channel_id, author=author, content=content, guild_id=guild_id,
                   mentions=mentions, reply_to=reply_to, **extra)
    if guild_id is not None:
        data["member"] = {k: v for k, v in member(author).items() if k != "user"}
    return data


# ---------------------------------------------------------------- interactions


def option(name: str, value: Any, *, type: int | None = None, focused: bool = False) -> Payload:
    """One command option; ``type`` defaults from the Python type (str 3, int 4, bool 5, float 10)."""
    if type is None:
        type = 5 if isinstance(value, bool) else 4 if isinstance(value, int) else 10 if isinstance(
            value, float) else 3
    data: Payload = {"name": name, "type": type, "value": value}
    if focused:
        data["focused"] = True
    return data


def command_options(options: Mapping[str, Any] | Iterable[Payload] | None) -> list[Payload]:
    """Options as a list of option payloads, from either a ``{name: value}`` mapping or payloads."""
    if options is None:
        return []
    if isinstance(options, Mapping):
        return [option(k, v) for k, v in options.items()]
    return list(options)


def nest_subcommand(options: list[Payload], subcommand: str | None, group: str | None) -> list[Payload]:
    """Wrap leaf options in a sub-command (type 1), and that in a group (type 2) when given."""
    if subcommand is None:
        return options
    wrapped = [{"name": subcommand, "type": 1, "options": options}]
    if group is not None:
        wrapped = [{"name": group, "type": 2, "options": wrapped}]
    return wrapped


def default_context(channel: Payload | None, guild_id: str | None) -> int:
    """Interaction context: 0 guild, 1 DM with the bot (type-1 default), 2 other private channels."""
    if guild_id is not None:
        return 0
    if channel is not None and channel.get("type") == 3:
        return 2
    return 1


def interaction(type: int, data: Payload | None, *, channel: Payload | None = None, guild_id: Any = None,
                channel_id: Any = None, context: int | None = None, user: Payload | None = None,
                member_permissions: str = MEMBER_PERMISSIONS, app_permissions: str = BOT_PERMISSIONS,
                roles: Iterable[Any] = (), locale: str = "en-US", id: Any = None, token: str | None = None,
                message: Payload | None = None,
                authorizing_integration_owners: Mapping[str, str] | None = None) -> Payload:
    """Any interaction payload; the typed helpers below fill ``type`` and ``data``.

    ``channel_id`` without ``channel`` makes an interaction whose channel object is missing
    (discord.py then has ``interaction.channel is None``).
    """
    invoker = user if user is not None else _anonymous_user()
    if guild_id is None and channel is not None and channel.get("type") not in (1, 3):
        guild_id = channel.get("guild_id")
    gid = _sid(guild_id)
    context = default_context(channel, gid) if context is None else context
    if authorizing_integration_owners is None:
        # Guild install: the guild id, or "0" in the DM with the bot; user install: the user id.
        authorizing_integration_owners = {"1": invoker["id"]} if context == 2 else {"0": gid or "0"}
    payload: Payload = {
        "id": _sid(id) or new_id(), "application_id": APP_ID, "type": type,
        "token": token or f"itoken-{new_id()}", "version": 1, "locale": locale,
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT, "app_permissions": app_permissions,
        "entitlements": [], "entitlement_sku_ids": [], "context": context,
        "authorizing_integration_owners": dict(authorizing_integration_owners),
    }
    if data is not None:
        payload["data"] = data
    if channel is not None:
        payload["channel"] = channel
        payload["channel_id"] = channel["id"]
    elif channel_id is not None:
        payload["channel_id"] = _sid(channel_id)
    if gid is not None:
        payload["guild_id"] = gid
        payload["guild_locale"] = "en-US"
        payload["guild"] = {"id": gid, "locale": "en-US", "features": []}
        payload["member"] = member(invoker, roles=roles, permissions=member_permissions)
    else:
        payload["user"] = invoker
    if message is not None:
        payload["message"] = message
    return payload


def slash_interaction(*, name: str, options: Mapping[str, Any] | Iterable[Payload] | None = None,
                      subcommand: str | None = None, group: str | None = None, command_id: Any = None,
                      resolved: Payload | None = None, command_guild_id: Any = None,
                      **kwargs: Any) -> Payload:
    """A slash command (type 2); ``**kwargs`` go to :func:`interaction` (channel, guild_id, context...)."""
    data: Payload = {"id": _sid(command_id) or new_id(), "name": name, "type": 1,
                     "options": nest_subcommand(command_options(options), subcommand, group)}
    if resolved:
        data["resolved"] = resolved
    if command_guild_id is not None:
        data["guild_id"] = _sid(command_guild_id)
    return interaction(2, data, **kwargs)


def autocomplete_interaction(*, name: str, focused: str, value: str = "",
                             options: Mapping[str, Any] | Iterable[Payload] | None = None,
                             subcommand: str | None = None, group: str | None = None,
                             command_id: Any = None, **kwargs: Any) -> Payload:
    """An autocomplete request (type 4) for option ``focused`` currently typed as ``value``."""
    leaf = [o for o in command_options(options) if o["name"] != focused]
    leaf.append(option(focused, value, type=3, focused=True))
    data = {"id": _sid(command_id) or new_id(), "name": name, "type": 1,
            "options": nest_subcommand(leaf, subcommand, group)}
    return interaction(4, data, **kwargs)


def component_interaction(custom_id: str, *, message: Payload, component_type: int = 2,
                          values: Iterable[str] | None = None, **kwargs: Any) -> Payload:
    """A button press (component type 2) or select (3, with ``values``) on ``message``."""
    data: Payload = {"custom_id": custom_id, "component_type": component_type}
    if values is not None or component_type != 2:
        data["values"] = list(values or [])
    return interaction(3, data, message=message, **kwargs)


def modal_interaction(custom_id: str, *, values: Mapping[str, str] | None = None,
                      components: Iterable[Payload] | None = None, message: Payload | None = None,
                      **kwargs: Any) -> Payload:
    """A modal submit (type 5): text input ``values`` by custom_id, or explicit ``components``."""
    if components is None:
        components = [{"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
                      for k, v in (values or {}).items()]
    data = {"custom_id": custom_id, "components": list(components)}
    return interaction(5, data, message=message, **kwargs)


def __getattr__(name: str) -> object:
    # The places table lives in tests.places (it builds on this module); keep ``payloads.PLACES``.
    if name in ("PLACES", "Place", "PlaceSetup"):
        from tests import places

        return getattr(places, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

