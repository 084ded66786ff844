"""Every kind of place in the age-gate matrix, with whether adult content may appear there.

Each :class:`Place` builds a fresh :class:`PlaceSetup`: the interaction channel payload, the guild
as the bot has it cached, channels that exist but are not cached, and events that happened since.
The rule being tested is ``../shared/DESIGN.md`` §4: adult content only in age-restricted guild
channels (threads by their parent) and in the DM with the bot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tests.payloads import (
    Payload,
    dm_channel,
    forum_channel,
    forum_post,
    group_dm,
    guild,
    member,
    new_id,
    text_channel,
    thread,
    user,
    voice_channel,
)


@dataclass
class PlaceSetup:
    """One concrete instance of a :class:`Place`: the payloads a test needs, with fresh ids.

    ``guild`` (if any) is what the bot has in its cache (GUILD_CREATE); ``uncached`` are channels
    that exist (REST ``GET /channels/{id}`` finds them) but are not in that cache; ``updates`` are
    gateway events (name, data) that happened after the guild was cached.
    """

    place: Place
    user: Payload
    context: int
    channel: Payload | None
    channel_id: str | None
    guild: Payload | None = None
    uncached: list[Payload] = field(default_factory=list)
    updates: list[tuple[str, Payload]] = field(default_factory=list)

    @property
    def guild_id(self) -> str | None:
        return self.guild["id"] if self.guild else None

    def interaction_kwargs(self) -> Payload:
        """Keyword arguments for the ``tests.payloads`` interaction builders (channel, guild_id, context, user)."""
        return {"channel": self.channel, "channel_id": self.channel_id, "guild_id": self.guild_id,
                "context": self.context, "user": self.user}


@dataclass(frozen=True)
class Place:
    """A kind of place a command, button or message can come from, and whether adult content may."""

    key: str
    description: str
    adult_allowed: bool
    build: Callable[[Place], PlaceSetup]

    def setup(self) -> PlaceSetup:
        """Fresh payloads for this place."""
        return self.build(self)


def _in_guild(place: Place, channel: Payload, *, cached: Iterable[Payload] = (),
              uncached: Iterable[Payload] = (), threads: Iterable[Payload] = (),
              updates: Iterable[tuple[str, Payload]] = (), send_channel: bool = True) -> PlaceSetup:
    invoker = user()
    gid = channel["guild_id"]
    g = guild(id=gid, channels=[c for c in cached if c["type"] not in (10, 11, 12)],
              threads=list(threads), members=[member(invoker)])
    return PlaceSetup(place, invoker, 0, channel if send_channel else None, channel["id"], g,
                      list(uncached), list(updates))


def _channel_place(factory: Callable[..., Payload], nsfw: bool) -> Callable[[Place], PlaceSetup]:
    def build(place: Place) -> PlaceSetup:
        channel = factory(guild_id=new_id(), nsfw=nsfw)
        return _in_guild(place, channel, cached=[channel])
    return build


def _thread_place(*, nsfw: bool, parent_cached: bool, forum: bool = False) -> Callable[[Place], PlaceSetup]:
    def build(place: Place) -> PlaceSetup:
        gid = new_id()
        parent = (forum_channel if forum else text_channel)(guild_id=gid, nsfw=nsfw)
        child = (forum_post if forum else thread)(parent["id"], guild_id=gid)
        if parent_cached:
            return _in_guild(place, child, cached=[parent], threads=[child])
        # Neither the parent nor the thread is cached, but both exist for REST (fetch, send, webhooks).
        return _in_guild(place, child, uncached=[parent, child])
    return build


def _flag_turned_off(place: Place) -> PlaceSetup:
    channel = text_channel(guild_id=new_id(), nsfw=True, name="was-adult")
    now_sfw = channel | {"nsfw": False}
    setup = _in_guild(place, now_sfw, cached=[channel], updates=[("CHANNEL_UPDATE", now_sfw)])
    return setup


def _unknown_channel(place: Place) -> PlaceSetup:
    channel = text_channel(guild_id=new_id(), nsfw=True)
    return _in_guild(place, channel, send_channel=False)


def _bot_dm(place: Place) -> PlaceSetup:
    invoker = user()
    channel = dm_channel(invoker)
    return PlaceSetup(place, invoker, 1, channel, channel["id"])


def _user_dm(place: Place) -> PlaceSetup:
    invoker = user()
    channel = dm_channel(user(username="bob"))
    return PlaceSetup(place, invoker, 2, channel, channel["id"])


def _group_dm(place: Place) -> PlaceSetup:
    invoker = user()
    channel = group_dm([invoker, user(username="bob"), user(username="carol")])
    return PlaceSetup(place, invoker, 2, channel, channel["id"])


PLACES: dict[str, Place] = {p.key: p for p in [
    Place("nsfw_text", "age-restricted text channel", True, _channel_place(text_channel, True)),
    Place("sfw_text", "ordinary text channel", False, _channel_place(text_channel, False)),
    Place("nsfw_voice", "text chat of an age-restricted voice channel", True,
          _channel_place(voice_channel, True)),
    Place("sfw_voice", "text chat of an ordinary voice channel", False, _channel_place(voice_channel, False)),
    Place("thread_parent_cached", "thread in an age-restricted channel that is cached", True,
          _thread_place(nsfw=True, parent_cached=True)),
    Place("thread_parent_uncached", "thread whose age-restricted parent is not cached (fetch it)", True,
          _thread_place(nsfw=True, parent_cached=False)),
    Place("thread_sfw_parent", "thread whose parent is not age-restricted", False,
          _thread_place(nsfw=False, parent_cached=True)),
    Place("forum_post_nsfw", "post in an age-restricted forum", True,
          _thread_place(nsfw=True, parent_cached=True, forum=True)),
    Place("bot_dm", "DM with the bot (context 1)", True, _bot_dm),
    Place("user_dm", "DM between two users, user-installed app (context 2)", False, _user_dm),
    Place("group_dm", "group DM (context 2, channel type 3)", False, _group_dm),
    Place("flag_turned_off", "channel whose age restriction was turned off since (CHANNEL_UPDATE)", False,
          _flag_turned_off),
    Place("unknown_channel", "guild interaction without a channel object", False, _unknown_channel),
]}
