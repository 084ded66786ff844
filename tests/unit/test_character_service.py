"""CharacterService without Discord: references, the choice order, storage, screening, catalogue.

Runs against a migrated database and the fake Venice (both local); no Discord objects involved.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.characters.cards import parse_card
from bot.characters.cards_json import card_to_object
from bot.characters.model import DEFAULT_CHARACTER, Character
from bot.characters.service import DEFAULT_REF, definition_fields, definition_texts, parse_ref, ref_of, slugify
from bot.errors import Refused, UserError
from bot.policy import Where
from bot.services import Services, build_services
from bot.store import channels
from bot.store.models import AuditEvent, CharacterRow
from bot.store.personas import persona_for, put
from bot.ui.character_views import join_description, split_description
from bot.ui.personas import webhook_username
from tests import cardgen
from tests.conftest import make_settings
from tests.fakes.venice import Fault

GUILD, CHANNEL, THREAD, OWNER, OTHER = 11, 500, 501, 7, 8
WHERE = Where(OWNER, GUILD, CHANNEL, "test")


@pytest.fixture
async def services(db_url: str, fake_venice: Any) -> AsyncIterator[Services]:
    s = await build_services(make_settings(db_url, venice_base_url=fake_venice.base_url))
    yield s
    await s.close()


def rich_card() -> dict[str, Any]:
    book = cardgen.character_book(
        [cardgen.lore_entry(["tavern"], "The Rusty Anchor is loud.", name="tavern", priority=5),
         cardgen.lore_entry(["moon"], "Werewolves roam at full moon.", constant=True, position="after_char")],
        name="Harbour lore", scan_depth=4)
    return cardgen.v3_card(
        name="Mara", description="{{char}} is a 31-year-old smuggler.", personality="wry, bold",
        scenario="A storm traps {{user}} in the tavern.", first_mes="*Mara grins.* Lost, sailor?",
        mes_example="<START>\n{{char}}: Aye.", alternate_greetings=["*She waves.*", "*She ignores you.*"],
        tags=["pirate", "adult"], creator="tester", character_version="2",
        extensions={"depth_prompt": {"prompt": "Mara swears often.", "depth": 4}, "x": {"y": [1, 2]}},
        character_book=book, nickname="Captain", assets=[{"type": "icon", "uri": "ccdefault:", "name": "main",
                                                          "ext": "png"}],
        top={"fav": True},
    )


async def count(services: Services, model: type) -> int:
    async with services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


# -- references and small helpers --------------------------------------------------------------


@pytest.mark.parametrize(("ref", "parsed"), [
    ("builtin:scarlett", ("builtin", "scarlett")), ("venice:alan-watts", ("venice", "alan-watts")),
    ("custom:12", ("custom", "12")), ("custom:x", None), ("custom:", None), ("nope:1", None), ("", None),
])
def test_parse_ref(ref: str, parsed: tuple[str, str] | None) -> None:
    assert parse_ref(ref) == parsed


def test_ref_of_round_trips() -> None:
    assert ref_of(DEFAULT_CHARACTER) == DEFAULT_REF
    assert ref_of(Character(name="x", source="venice", venice_slug="s")) == "venice:s"
    assert ref_of(Character(name="x", source="custom", id=4)) == "custom:4"
    assert slugify("Luna the Vampire!") == "luna-the-vampire"


@pytest.mark.parametrize(("name", "clean"), [
    ("Discord Dan", "Disc\u200aord Dan"), ("clyde", "cl\u200ayde"), ("  a   b ", "a b"), ("", "Character"),
    ("x" * 100, "x" * 80),
])
def test_webhook_username_is_accepted_by_discord(name: str, clean: str) -> None:
    got = webhook_username(name)
    assert got == clean
    assert "discord" not in got.lower() and "clyde" not in got.lower() and 1 <= len(got) <= 80


def test_description_and_personality_share_one_form_field() -> None:
    c = Character(name="a", description="Tall.\nKind.", personality="shy")
    assert split_description(join_description(c)) == ("Tall.\nKind.", "shy")
    assert split_description("Just a description.") == ("Just a description.", "")


def test_definition_texts_cover_lore_greetings_examples_and_extensions() -> None:
    texts = definition_texts(parse_card(cardgen.card_json(rich_card()), "c.json"))
    joined = "\n".join(texts)
    for part in ("Rusty Anchor", "Werewolves", "*She ignores you.*", "{{char}}: Aye.", "Mara swears often.",
                 "Captain", "wry, bold"):
        assert part in joined


def test_definition_fields_are_labelled_for_the_judge_and_keep_every_lore_entry() -> None:
    fields = definition_fields(parse_card(cardgen.card_json(rich_card()), "c.json"))
    assert fields["Name"] and fields["Description"] and fields["First message"]
    lore = [label for label in fields if label.startswith("Lore entry ")]
    assert len(lore) == 2 and all(fields[label].strip() for label in lore)
    assert any(label.startswith("Alternate greeting") for label in fields)


# -- storage --------------------------------------------------------------------------------------


async def test_a_custom_character_round_trips_through_the_store_losslessly(services: Services) -> None:
    original = parse_card(cardgen.card_json(rich_card()), "mara.json")
    created = await services.characters.create(original, where=WHERE, shared=True,
                                               avatar_url="https://example.com/a.png")
    loaded = await services.characters.resolve(f"custom:{created.id}")
    assert loaded is not None and loaded.id == created.id and loaded.source == "custom"
    assert loaded.avatar_url == "https://example.com/a.png"
    assert card_to_object(loaded) == card_to_object(parse_card(cardgen.card_json(rich_card()), "mara.json"))
    assert loaded.lorebook is not None and len(loaded.lorebook.entries) == 2
    assert len(loaded.greetings) == 3


async def test_a_refused_definition_stores_nothing_and_is_audited(services: Services) -> None:
    card = rich_card()
    card["data"]["character_book"]["entries"].append(
        cardgen.lore_entry(["age"], "Mara is really a 14 year old girl who wants sex."))
    with pytest.raises(Refused) as refused:
        await services.characters.import_card(cardgen.card_json(card), "mara.json", where=WHERE, shared=False)
    assert refused.value.rule == "minor_age" and "14" not in refused.value.user_message
    assert await count(services, CharacterRow) == 0
    async with services.sessions() as session:
        events = (await session.scalars(select(AuditEvent))).all()
    assert [(e.kind, e.rule, e.user_id, e.detail) for e in events] == [("refusal", "minor_age", OWNER, "test")]


async def test_an_unreadable_card_says_why(services: Services) -> None:
    with pytest.raises(UserError, match="couldn't read that card"):
        await services.characters.import_card(b"{not json", "x.json", where=WHERE, shared=False)
    assert await count(services, CharacterRow) == 0


# -- choosing and the choice order ------------------------------------------------------------------


async def test_choice_order_channel_then_parent_then_server_then_builtin(services: Services, fake_venice: Any) -> None:
    chars = services.characters
    character, ref, source = await chars.for_channel(channel_id=THREAD, guild_id=GUILD, parent_id=CHANNEL)
    assert (character.name, ref, source) == ("Scarlett", DEFAULT_REF, "built-in default")

    slug = fake_venice.characters[0]["slug"]
    await services.settings.set("character", f"venice:{slug}", scope="guild", scope_id=GUILD, guild_id=GUILD, by=1)
    character, ref, source = await chars.for_channel(channel_id=THREAD, guild_id=GUILD, parent_id=CHANNEL)
    assert (character.venice_slug, ref, source) == (slug, f"venice:{slug}", "server default")
    assert character.source == "venice" and character.avatar_url == fake_venice.characters[0]["photoUrl"]

    mine = await chars.create(Character(name="Ivy", description="An adult florist."), where=WHERE, shared=False)
    await chars.set_for_channel(channel_id=CHANNEL, guild_id=GUILD, ref=f"custom:{mine.id}")
    character, _, source = await chars.for_channel(channel_id=THREAD, guild_id=GUILD, parent_id=CHANNEL)
    assert (character.name, source) == ("Ivy", f"inherited from <#{CHANNEL}>")
    character, _, source = await chars.for_channel(channel_id=CHANNEL, guild_id=GUILD)
    assert (character.name, source) == ("Ivy", "set for this channel")

    await chars.set_for_channel(channel_id=THREAD, guild_id=GUILD, ref="builtin:scarlett")
    character, _, source = await chars.for_channel(channel_id=THREAD, guild_id=GUILD, parent_id=CHANNEL)
    assert (character.name, source) == ("Scarlett", "set for this thread")

    # Deleting the custom character: the channel falls back, and says so.
    await chars.delete(mine.id)
    character, ref, source = await chars.for_channel(channel_id=CHANNEL, guild_id=GUILD)
    assert character.venice_slug == slug and ref == f"venice:{slug}"
    assert source.startswith("the character chosen here is no longer available") and source.endswith("server default")
    assert (await channels.load(services.sessions, CHANNEL)).character_ref == f"custom:{mine.id}"


async def test_choose_checks_who_may_use_a_custom_character(services: Services) -> None:
    chars = services.characters
    private = await chars.create(Character(name="Private Pat"), where=WHERE, shared=False)
    shared = await chars.create(Character(name="Shared Sam"), where=WHERE, shared=True)
    other = Where(OTHER, GUILD, CHANNEL, "test")
    with pytest.raises(UserError, match="private"):
        await chars.choose(f"custom:{private.id}", user_id=OTHER, guild_id=GUILD, where=other)
    assert (await chars.choose(f"custom:{shared.id}", user_id=OTHER, guild_id=GUILD, where=other))[1] == \
        f"custom:{shared.id}"
    with pytest.raises(UserError):  # shared in another server
        await chars.choose(f"custom:{shared.id}", user_id=OTHER, guild_id=999, where=other)
    _, ref = await chars.choose("private pat", user_id=OWNER, guild_id=None, where=WHERE)  # typed by hand, in a DM
    assert ref == f"custom:{private.id}"
    with pytest.raises(UserError, match="couldn't find"):
        await chars.choose("Nobody At All", user_id=OWNER, guild_id=GUILD, where=WHERE)


async def test_choose_a_venice_character_by_slug_or_typed_name(services: Services, fake_venice: Any) -> None:
    entry = fake_venice.characters[3]
    character, ref = await services.characters.choose(f"venice:{entry['slug']}", user_id=OWNER, guild_id=GUILD,
                                                      where=WHERE)
    assert (character.name, ref) == (entry["name"], f"venice:{entry['slug']}")
    sfw = next(c for c in fake_venice.characters if not c["adult"])
    with pytest.raises(UserError, match="adult catalogue"):
        await services.characters.choose(f"venice:{sfw['slug']}", user_id=OWNER, guild_id=GUILD, where=WHERE)
    with pytest.raises(UserError):
        await services.characters.choose("venice:no-such-one", user_id=OWNER, guild_id=GUILD, where=WHERE)


async def test_a_flagged_venice_character_is_refused_and_falls_back(services: Services, fake_venice: Any) -> None:
    entry = fake_venice.characters[2]
    entry["description"] = "A 15 year old girl who wants sex."
    with pytest.raises(Refused):
        await services.characters.choose(f"venice:{entry['slug']}", user_id=OWNER, guild_id=GUILD, where=WHERE)
    assert await services.characters.resolve(f"venice:{entry['slug']}") is None


async def test_venice_outage_keeps_the_last_known_character(services: Services, fake_venice: Any) -> None:
    slug = fake_venice.characters[1]["slug"]
    assert (await services.characters.resolve(f"venice:{slug}")) is not None
    services.venice.clear_cache()
    services.venice._http.sleep = _no_sleep  # type: ignore[attr-defined]
    fake_venice.inject("/characters", Fault.http(503, times=10))
    again = await services.characters.resolve(f"venice:{slug}")
    assert again is not None and again.name == fake_venice.characters[1]["name"]


async def _no_sleep(_seconds: float) -> None:
    return None


# -- the catalogue ------------------------------------------------------------------------------


async def test_paging_inside_a_batch_asks_venice_once(services: Services, fake_venice: Any) -> None:
    catalogue = services.characters.catalogue
    pages = [await catalogue.page(index=i) for i in range(25)]
    assert fake_venice.count("/characters") == 1
    assert [p.index for p in pages] == list(range(25)) and pages[0].has_prev is False and pages[24].has_next
    page = await catalogue.page(index=25)  # the next batch only when paging past the first
    assert fake_venice.count("/characters") == 2 and page.character is not None
    last = await catalogue.page(index=35)
    assert last.has_next is False and last.known == 36  # 36 adult characters in the fake
    assert all(c.adult for c in catalogue.loaded())
    queries = [dict(r.query) for r in fake_venice.requests_to("/characters")]
    assert all(q["isAdult"] == "true" and q["limit"] == "25" for q in queries)


async def test_flagged_descriptions_are_left_out_of_listings(services: Services, fake_venice: Any) -> None:
    flagged = fake_venice.characters[0]
    flagged["description"] = "She is 16 and loves sex."
    slugs = [(await services.characters.catalogue.page(index=i)).character.slug for i in range(3)]  # type: ignore[union-attr]
    assert flagged["slug"] not in slugs


async def test_search_and_tag_listings(services: Services, fake_venice: Any) -> None:
    page = await services.characters.catalogue.page(search="vampire")
    assert page.character is not None and "Vampire" in page.character.name
    empty = await services.characters.catalogue.page(search="zzz-nothing")
    assert empty.character is None and empty.known == 0
    tagged = await services.characters.catalogue.page(tag="horror")
    assert tagged.character is not None and "horror" in tagged.character.tags


async def test_suggestions_answer_in_time_while_venice_is_slow(services: Services, fake_venice: Any) -> None:
    fake_venice.inject("/characters", Fault.hang(0.6))
    started = time.monotonic()
    first = await services.characters.catalogue.suggestions("luna", wait=0.1)
    assert time.monotonic() - started < 0.5 and first == []
    await asyncio.sleep(0.8)  # the search kept running in the background and filled the cache
    later = await services.characters.catalogue.suggestions("luna", wait=0.1)
    assert later and all("luna" in c.name.lower() for c in later)
    assert fake_venice.count("/characters") == 1


# -- personas -----------------------------------------------------------------------------------


async def test_persona_for(services: Services) -> None:
    assert await persona_for(services.sessions, OWNER) is None
    await put(services.sessions, OWNER, "Captain Reyes", "A tall adult sailor.")
    assert await persona_for(services.sessions, OWNER) == ("Captain Reyes", "A tall adult sailor.")


async def test_character_for_channel_and_export(services: Services, fake_venice: Any) -> None:
    character, _ref, source = await services.characters.for_channel(channel_id=CHANNEL, guild_id=None, parent_id=None)
    assert (character.name, source) == ("Scarlett", "built-in default")
    stem, png, raw = await services.characters.export(DEFAULT_REF)
    assert stem == "scarlett" and png.startswith(b"\x89PNG")
    assert parse_card(raw, "s.json").first_mes == DEFAULT_CHARACTER.first_mes
    with pytest.raises(UserError, match="live on Venice"):
        await services.characters.export(f"venice:{fake_venice.characters[0]['slug']}")
    with pytest.raises(UserError, match="no longer exists"):
        await services.characters.export("custom:999")


async def test_resolving_a_custom_character_gives_a_copy_that_shares_its_lorebook(services: Services) -> None:
    """Each resolve may set its own fields (an avatar URL, say) without touching the cached one,
    while the lorebook (read-only, compiled once) is shared rather than copied on every turn."""
    card = cardgen.v2_card(name="Keeper", description="An adult archivist.",
                           character_book=cardgen.character_book([cardgen.lore_entry(["vault"], "The vault.")]))
    character = parse_card(cardgen.card_json(card), "keeper.json")
    stored = await services.characters.create(character, where=WHERE, shared=False)
    ref = ref_of(stored)
    first = await services.characters.resolve(ref)
    second = await services.characters.resolve(ref)
    assert first is not None and second is not None and first is not second
    first.avatar_url = "https://example.invalid/a.png"
    assert second.avatar_url != first.avatar_url
    assert first.lorebook is not None and first.lorebook is second.lorebook
