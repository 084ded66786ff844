"""The age gate (DESIGN §4): `gate.decide` as a table, and `place_of_interaction` on real interactions.

`decide` is checked for every `PlaceKind` × channel flag (True / False / unknown) × user-install
only. The classification is checked on real `discord.Interaction` objects built from
`tests.payloads` for every place in `tests.places.PLACES`, with the state of a real client that
logged in to the local fake Discord (so it has a `ClientUser`, testing.md §3b, and a thread's
uncached parent is really fetched over REST, where 403 and 404 must mean "no").
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import discord
import pytest

from bot import gate
from bot.gate import Place, PlaceKind
from tests import payloads as p
from tests.fakes.discord import SPEC_PATH, FakeDiscord
from tests.harness import prime_place, running_bot
from tests.places import PLACES, PlaceSetup

# ---------------------------------------------------------------- decide: the whole table

# The only combinations that may ever show adult content. Written out rather than derived, so a
# change to `decide` that widens the gate fails here even if it looks reasonable in gate.py.
ALLOWED_CELLS = {
    (PlaceKind.GUILD_CHANNEL, True, False),
    (PlaceKind.THREAD, True, False),
    (PlaceKind.BOT_DM, True, False),
    (PlaceKind.BOT_DM, False, False),
    (PlaceKind.BOT_DM, None, False),
}
KNOWN_KINDS = {"guild_channel", "thread", "bot_dm", "private_channel", "group_dm", "unknown"}
CELLS = list(itertools.product(PlaceKind, (True, False, None), (False, True)))


def test_the_table_covers_every_kind_of_place() -> None:
    # A new PlaceKind must be added to ALLOWED_CELLS (or deliberately left out) before it ships.
    assert {k.value for k in PlaceKind} == KNOWN_KINDS


@pytest.mark.parametrize(("kind", "nsfw", "user_install_only"), CELLS,
                         ids=[f"{k.value}-nsfw={n}-user_install={u}" for k, n, u in CELLS])
def test_decide(kind: PlaceKind, nsfw: bool | None, user_install_only: bool) -> None:
    place = Place(kind, nsfw=nsfw, guild_id=1 if kind in (PlaceKind.GUILD_CHANNEL, PlaceKind.THREAD) else None,
                  channel_id=2, user_install_only=user_install_only)
    decision = gate.decide(place)
    assert decision.allowed is ((kind, nsfw, user_install_only) in ALLOWED_CELLS)
    if decision.allowed:
        assert decision.reason == ""
    else:
        # Refusals always say why, and the user-install wording wins when it applies.
        assert decision.reason == (gate.USER_INSTALL_REFUSAL if user_install_only else gate.REFUSAL)
        assert decision.reason.startswith("🔞")


def test_unknown_flag_is_no() -> None:
    # A flag we could not read (parent not reachable) is never treated as age-restricted.
    assert not gate.decide(Place(PlaceKind.THREAD, nsfw=None, guild_id=1)).allowed
    assert not gate.decide(Place(PlaceKind.GUILD_CHANNEL, nsfw=None, guild_id=1)).allowed


# ---------------------------------------------------------------- real interactions for every place

# What each place must be classified as (kind, flag); the allowed/refused answer comes from PLACES.
EXPECTED: dict[str, tuple[PlaceKind, bool | None]] = {
    "nsfw_text": (PlaceKind.GUILD_CHANNEL, True),
    "sfw_text": (PlaceKind.GUILD_CHANNEL, False),
    "nsfw_voice": (PlaceKind.GUILD_CHANNEL, True),
    "sfw_voice": (PlaceKind.GUILD_CHANNEL, False),
    "thread_parent_cached": (PlaceKind.THREAD, True),
    "thread_parent_uncached": (PlaceKind.THREAD, True),
    "thread_sfw_parent": (PlaceKind.THREAD, False),
    "forum_post_nsfw": (PlaceKind.THREAD, True),
    "bot_dm": (PlaceKind.BOT_DM, None),
    "user_dm": (PlaceKind.PRIVATE_CHANNEL, None),
    "group_dm": (PlaceKind.GROUP_DM, None),
    "flag_turned_off": (PlaceKind.GUILD_CHANNEL, False),
    "unknown_channel": (PlaceKind.UNKNOWN, None),
}

# One builder per interaction type: the gate must not care which entry point asks.
BUILDERS: dict[str, Callable[[PlaceSetup], p.Payload]] = {
    "slash": lambda s: p.slash_interaction(name="chat", options={"message": "hi"}, **s.interaction_kwargs()),
    "autocomplete": lambda s: p.autocomplete_interaction(name="character", subcommand="set", focused="character",
                                                         value="a", **s.interaction_kwargs()),
    "button": lambda s: p.component_interaction(
        "chat:regen:1", message=p.message(channel_id=s.channel_id, author=p.bot_user()), **s.interaction_kwargs()),
    "modal": lambda s: p.modal_interaction("chatedit:1", values={"text": "x"}, **s.interaction_kwargs()),
}


def test_expected_table_names_every_place() -> None:
    assert set(EXPECTED) == set(PLACES)
    for key, (kind, nsfw) in EXPECTED.items():
        # The classification and the matrix's answer agree; a disagreement is a bug in one of them.
        assert gate.decide(Place(kind, nsfw, guild_id=1)).allowed is PLACES[key].adult_allowed, key


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    if not SPEC_PATH.exists():
        pytest.skip(f"Discord's OpenAPI file is not at {SPEC_PATH}")
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
async def client(fake: FakeDiscord) -> AsyncIterator[discord.Client]:
    """A real client logged in to the fake: it has a ClientUser and an HTTP session for fetches."""
    async with running_bot(lambda: discord.Client(intents=discord.Intents.default()), fake) as c:
        yield c


def interaction_in(client: discord.Client, fake: FakeDiscord, key: str, kind: str = "slash",
                   *, tweak: Callable[[p.Payload], None] | None = None) -> tuple[discord.Interaction, PlaceSetup]:
    """A real Interaction from the place `key`, with the client's cache as the gateway would have left it."""
    setup = fake.add_place(key)  # REST can find every channel of the place, cached or not
    prime_place(client, setup)
    payload = BUILDERS[kind](setup)
    if tweak is not None:
        tweak(payload)
    return discord.Interaction(data=payload, state=client._connection), setup


def parent_fetches(fake: FakeDiscord, setup: PlaceSetup) -> list[Any]:
    assert setup.channel is not None
    return fake.find("GET", f"/channels/{setup.channel['parent_id']}")


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize("key", sorted(PLACES))
async def test_place_of_interaction_for_every_place(client: discord.Client, fake: FakeDiscord,
                                                    key: str, kind: str) -> None:
    it, setup = interaction_in(client, fake, key, kind)
    place = await gate.place_of_interaction(it)
    assert (place.kind, place.nsfw) == EXPECTED[key]
    assert gate.decide(place).allowed is PLACES[key].adult_allowed
    # Context 2 (other people's DMs, group DMs) can only come from a user install.
    assert place.user_install_only is (setup.context == 2)
    if setup.channel_id is not None and key != "unknown_channel":
        assert place.channel_id == int(setup.channel_id)
    if place.kind in (PlaceKind.GUILD_CHANNEL, PlaceKind.THREAD):
        assert place.guild_id == int(setup.guild_id or 0)
    # Only a thread whose parent is not cached costs a REST call.
    fetched = [r.path for r in fake.requests if r.method == "GET" and r.path.startswith("/channels/")]
    if key == "thread_parent_uncached":
        assert len(parent_fetches(fake, setup)) == 1
    else:
        assert fetched == []


async def test_uncached_parent_is_fetched_and_its_flag_used(client: discord.Client, fake: FakeDiscord) -> None:
    it, setup = interaction_in(client, fake, "thread_parent_uncached")
    assert isinstance(it.channel, discord.Thread) and it.channel.parent is None
    assert not it.channel.is_nsfw()  # discord.py alone would say "no" here (issue 10248)
    place = await gate.place_of_interaction(it)
    assert place == Place(PlaceKind.THREAD, True, int(setup.guild_id or 0), int(setup.channel_id or 0))
    assert gate.decide(place).allowed


async def test_uncached_parent_that_is_not_age_restricted_is_refused(client: discord.Client,
                                                                     fake: FakeDiscord) -> None:
    setup = PLACES["thread_parent_uncached"].setup()
    setup.uncached[0]["nsfw"] = False  # the parent
    fake.add_place(setup)
    prime_place(client, setup)
    it = discord.Interaction(data=BUILDERS["slash"](setup), state=client._connection)
    place = await gate.place_of_interaction(it)
    assert (place.kind, place.nsfw) == (PlaceKind.THREAD, False)
    assert not gate.decide(place).allowed


@pytest.mark.parametrize("failure", ["403", "404"])
async def test_unreachable_parent_means_refused(client: discord.Client, fake: FakeDiscord, failure: str) -> None:
    setup = PLACES["thread_parent_uncached"].setup()
    fake.add_place(setup)
    parent_id = setup.uncached[0]["id"]
    if failure == "403":
        fake.forbid_channel(parent_id)
    else:
        fake.world.channels.pop(parent_id)
    it = discord.Interaction(data=BUILDERS["slash"](setup), state=client._connection)
    place = await gate.place_of_interaction(it)
    assert place.kind is PlaceKind.THREAD and place.nsfw is None
    assert gate.decide(place) == gate.Decision(False, gate.REFUSAL)
    [fetch] = parent_fetches(fake, setup)
    assert fetch.status == int(failure)


# ---------------------------------------------------------------- channel types beyond PLACES


def _guild_place(channel: p.Payload, *, cached: list[p.Payload]) -> tuple[p.Payload, p.Payload]:
    invoker = p.user()
    g = p.guild(id=channel["guild_id"], channels=[c for c in cached if c["type"] not in (10, 11, 12)],
                threads=[c for c in cached if c["type"] in (10, 11, 12)], members=[p.member(invoker)])
    return g, p.slash_interaction(name="chat", options={"message": "hi"}, channel=channel, user=invoker)


def _other_channels() -> list[tuple[str, p.Payload, list[p.Payload], tuple[PlaceKind, bool | None]]]:
    gid = p.new_id()
    news = p.text_channel(guild_id=gid, nsfw=True, news=True)
    stage = p.voice_channel(guild_id=gid, nsfw=True, stage=True)
    media = p.forum_channel(guild_id=gid, nsfw=True, media=True)
    media_post = p.forum_post(media["id"], guild_id=gid)
    category = p.category_channel(guild_id=gid, nsfw=True)
    nsfw_text = p.text_channel(guild_id=gid, nsfw=True)
    private_thread = p.thread(nsfw_text["id"], guild_id=gid, type=12)
    news_thread = p.thread(news["id"], guild_id=gid, type=10)
    sfw_forum = p.forum_channel(guild_id=gid, nsfw=False)
    sfw_post = p.forum_post(sfw_forum["id"], guild_id=gid)
    return [
        ("announcement_nsfw", news, [news], (PlaceKind.GUILD_CHANNEL, True)),
        ("stage_nsfw", stage, [stage], (PlaceKind.GUILD_CHANNEL, True)),
        ("media_post_nsfw", media_post, [media, media_post], (PlaceKind.THREAD, True)),
        # Discord's age restriction is not settable on categories: their flag means nothing.
        ("category_flagged", category, [category], (PlaceKind.UNKNOWN, None)),
        ("private_thread_nsfw", private_thread, [nsfw_text, private_thread], (PlaceKind.THREAD, True)),
        ("announcement_thread_nsfw", news_thread, [news, news_thread], (PlaceKind.THREAD, True)),
        ("forum_post_sfw", sfw_post, [sfw_forum, sfw_post], (PlaceKind.THREAD, False)),
    ]


@pytest.mark.parametrize("case", range(len(_other_channels())), ids=[c[0] for c in _other_channels()])
async def test_other_channel_types(client: discord.Client, case: int) -> None:
    _name, channel, cached, expected = _other_channels()[case]
    guild, payload = _guild_place(channel, cached=cached)
    prime_place(client, PlaceSetup(PLACES["nsfw_text"], p.user(), 0, channel, channel["id"], guild))
    place = await gate.place_of_interaction(discord.Interaction(data=payload, state=client._connection))
    assert (place.kind, place.nsfw) == expected
    assert gate.decide(place).allowed is (expected[1] is True)


# ---------------------------------------------------------------- payload details the gate relies on


def _drop(*keys: str) -> Callable[[p.Payload], None]:
    def tweak(payload: p.Payload) -> None:
        for k in keys:
            payload.pop(k, None)
    return tweak


@pytest.mark.parametrize(("key", "allowed"), [("bot_dm", True), ("group_dm", False), ("user_dm", False),
                                              ("sfw_text", False), ("nsfw_text", True)])
async def test_payload_without_context(client: discord.Client, fake: FakeDiscord, key: str, allowed: bool) -> None:
    # Older payloads may lack `context`: only a guild-less DM may then count as the bot's DM, and a
    # DM between users is still caught by its user-install owner.
    it, _ = interaction_in(client, fake, key, tweak=_drop("context"))
    assert gate.decide(await gate.place_of_interaction(it)).allowed is allowed


async def test_user_installed_app_in_a_guild_channel_is_refused(client: discord.Client, fake: FakeDiscord) -> None:
    # Even in an age-restricted channel: a user install has no bot there and Discord's nsfw gate for
    # user installs is not documented, so the bot only works where it is installed.
    def user_install(payload: p.Payload) -> None:
        payload["authorizing_integration_owners"] = {"1": payload["member"]["user"]["id"]}

    it, _ = interaction_in(client, fake, "nsfw_text", tweak=user_install)
    place = await gate.place_of_interaction(it)
    assert place.user_install_only
    assert gate.decide(place) == gate.Decision(False, gate.USER_INSTALL_REFUSAL)


async def test_guild_and_user_install_together_counts_as_guild_install(client: discord.Client,
                                                                      fake: FakeDiscord) -> None:
    def both(payload: p.Payload) -> None:
        payload["authorizing_integration_owners"] = {"0": payload["guild_id"], "1": payload["member"]["user"]["id"]}

    it, _ = interaction_in(client, fake, "nsfw_text", tweak=both)
    assert gate.decide(await gate.place_of_interaction(it)).allowed


async def test_flag_turned_off_uses_the_cache_not_the_payload(client: discord.Client, fake: FakeDiscord) -> None:
    # The cache (kept current by CHANNEL_UPDATE) wins over a stale channel object in the payload.
    setup = PLACES["flag_turned_off"].setup()
    fake.add_place(setup)
    prime_place(client, setup)
    payload = BUILDERS["button"](setup)
    payload["channel"] = payload["channel"] | {"nsfw": True}
    place = await gate.place_of_interaction(discord.Interaction(data=payload, state=client._connection))
    assert (place.kind, place.nsfw) == (PlaceKind.GUILD_CHANNEL, False)


# ---------------------------------------------------------------- plain messages


@pytest.mark.parametrize("key", ["nsfw_text", "sfw_text", "nsfw_voice", "thread_parent_cached",
                                 "thread_sfw_parent", "forum_post_nsfw", "flag_turned_off", "bot_dm"])
async def test_place_of_message(client: discord.Client, fake: FakeDiscord, key: str) -> None:
    setup = fake.add_place(key)
    prime_place(client, setup)
    data = p.message_create(channel_id=setup.channel_id, author=setup.user, content="hi",
                            guild_id=setup.guild_id, mentions_bot=True)
    channel, _ = client._connection._get_guild_channel(data)
    message = discord.Message(state=client._connection, channel=channel, data=data)  # type: ignore[arg-type]
    place = await gate.place_of_message(client, message)
    assert gate.decide(place).allowed is PLACES[key].adult_allowed
    assert (place.kind, place.nsfw) == EXPECTED[key]


async def test_message_in_an_uncached_thread_of_an_age_restricted_channel(client: discord.Client,
                                                                          fake: FakeDiscord) -> None:
    # DESIGN §4: "a thread by its parent, fetched when not cached" holds for plain messages too: the
    # thread is looked up over REST, then its parent.
    setup = fake.add_place("thread_parent_uncached")
    prime_place(client, setup)
    data = p.message_create(channel_id=setup.channel_id, author=setup.user, content="hi",
                            guild_id=setup.guild_id, mentions_bot=True)
    channel, _ = client._connection._get_guild_channel(data)
    assert isinstance(channel, discord.PartialMessageable)  # nothing about it is cached
    message = discord.Message(state=client._connection, channel=channel, data=data)  # type: ignore[arg-type]
    place = await gate.place_of_message(client, message)
    assert (place.kind, place.nsfw) == (PlaceKind.THREAD, True)
    assert gate.decide(place).allowed


async def test_message_in_an_unknown_guild_channel_is_refused(client: discord.Client, fake: FakeDiscord) -> None:
    setup = fake.add_place("unknown_channel")
    prime_place(client, setup)
    data = p.message_create(channel_id=setup.channel_id, author=setup.user, content="hi",
                            guild_id=setup.guild_id, mentions_bot=True)
    channel, _ = client._connection._get_guild_channel(data)
    message = discord.Message(state=client._connection, channel=channel, data=data)  # type: ignore[arg-type]
    place = await gate.place_of_message(client, message)
    assert not gate.decide(place).allowed
