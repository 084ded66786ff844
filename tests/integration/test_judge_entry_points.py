"""The judge (stage 2 of the content screen) at the non-chat entry points, through the production bot.

Characters (the create and edit forms, card imports, Venice catalogue characters before first use,
custom characters stored before the judge existed), personas and avatars. For each: the judge
received the text with the right kind (the fake records it), a judge refusal refuses with the
right wording and stores nothing, a judge failure fails closed (the "couldn't be checked" wording,
audited as judge_unavailable, no strike), and the cache spares a second call for the same content.
Image prompts: `test_judge_images.py`. The fake judge's rules: `tests/fakes/venice_judge.py`.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from bot.characters.model import Character
from bot.judge import KINDS
from bot.policy import UNAVAILABLE
from bot.store import characters as repo
from bot.store.models import AuditEvent, ChannelState, CharacterRow, Persona, UserFlag
from bot.where import Where
from tests import cardgen
from tests.fakes.venice import Fault
from tests.fakes.venice_judge import MINOR_MARKER
from tests.integration.conftest_chat import ChatWorld, chat_fixture
from tests.integration.test_safety_entry_points import (
    add_flagged_venice_character,
    modal_ids,
    rows,
    said_in,
)
from tests.places import PlaceSetup

__all__ = ["chat_fixture"]


def judged(chat: ChatWorld, kind: str) -> list[Any]:
    """The judge's text requests of one kind ("character", "persona", "image"…), in order."""
    return [c for c in chat.venice.judge.calls if c.kind == "text" and c.document_kind == KINDS[kind]]


def images_judged(chat: ChatWorld) -> list[Any]:
    return [c for c in chat.venice.judge.calls if c.kind == "image"]


async def strikes(chat: ChatWorld, user: dict[str, Any]) -> int:
    async with chat.bot.services.sessions() as session:
        row = await session.get(UserFlag, int(user["id"]))
    return row.strikes if row is not None else 0


async def audits(chat: ChatWorld, kind: str) -> list[AuditEvent]:
    return [e for e in await rows(chat, AuditEvent) if e.kind == kind]


def png(colour: tuple[int, int, int], size: int = 128) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="PNG")
    return out.getvalue()


async def create_form(chat: ChatWorld, where: PlaceSetup, description: str, **options: Any) -> list[str]:
    opened = await chat.slash(where, "character create", options or None)
    modal = (await opened.response()).json
    assert modal["type"] == 9, modal
    ids = modal_ids(modal)
    values = {ids["Name"]: "Kit", ids["Description and personality"]: description,
              ids["Greeting (first message)"]: "*Kit waves.*"}
    return said_in(await chat.submit(where, modal["data"]["custom_id"], values))


# -- the create and edit forms --------------------------------------------------------------------


async def test_the_create_form_is_judged_as_a_labelled_card(chat: ChatWorld) -> None:
    where = chat.place()
    said = await create_form(chat, where, "Kit is a 30-year-old lewd tavern dancer.")
    assert any("Created **Kit**" in s for s in said), said
    [call] = judged(chat, "character")
    assert "Name: Kit" in call.text and "Description: Kit is a 30-year-old" in call.text
    assert "First message: *Kit waves.*" in call.text
    assert len(await rows(chat, CharacterRow)) == 1


async def test_a_card_the_judge_flags_is_refused_stored_nowhere_and_struck(chat: ChatWorld) -> None:
    where = chat.place()
    said = "\n".join(await create_form(chat, where, f"Kit is a lewd dancer. {MINOR_MARKER}"))
    assert "This character can't be used." in said and "under 18" in said and MINOR_MARKER not in said
    assert await rows(chat, CharacterRow) == []
    [event] = await audits(chat, "refusal")
    assert event.rule == "judge_minor" and event.user_id == int(where.user["id"])
    assert await strikes(chat, where.user) == 1


async def test_a_judge_failure_refuses_a_card_fail_closed_without_a_strike(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.judge.inject(Fault.http(500, times=10))
    said = "\n".join(await create_form(chat, where, "Kit is a 30-year-old dancer."))
    assert UNAVAILABLE in said
    assert await rows(chat, CharacterRow) == []
    [event] = await audits(chat, "judge_unavailable")
    assert event.user_id == int(where.user["id"])
    assert await audits(chat, "refusal") == [] and await strikes(chat, where.user) == 0


async def test_a_judge_that_hangs_fails_closed_too(chat: ChatWorld) -> None:
    where = chat.place()
    chat.bot.services.policy.judge.timeout = 0.5
    chat.venice.judge.inject(Fault.hang(30, times=10))
    said = "\n".join(await create_form(chat, where, "Kit is a 30-year-old dancer."))
    assert UNAVAILABLE in said
    assert await rows(chat, CharacterRow) == []
    assert [e.rule for e in await audits(chat, "judge_unavailable")] == ["timeout"]


async def test_an_edit_is_judged_and_a_flagged_edit_keeps_the_old_definition(chat: ChatWorld) -> None:
    where = chat.place()
    await create_form(chat, where, "Kit is a 30-year-old dancer.")
    [row] = await rows(chat, CharacterRow)
    opened = await chat.slash(where, "character edit", {"character": f"custom:{row.id}"})
    modal = (await opened.response()).json
    ids = modal_ids(modal)
    values = {ids["Name"]: "Kit", ids["Description and personality"]: "Kit is a 30-year-old dancer.",
              ids["Scenario"]: f"A lewd night at the inn. {MINOR_MARKER}"}
    said = "\n".join(said_in(await chat.submit(where, modal["data"]["custom_id"], values)))
    assert "under 18" in said
    assert len(judged(chat, "character")) == 2 and "Scenario: A lewd night" in judged(chat, "character")[-1].text
    [after] = await rows(chat, CharacterRow)
    assert after.card["data"]["scenario"] == ""


# -- card imports ---------------------------------------------------------------------------------


def lore_card(description: str = "Kit is a 30-year-old innkeeper.", lore: str = "The inn sells ale.") -> bytes:
    book = cardgen.character_book([cardgen.lore_entry(["inn"], lore, name="The inn")])
    card = cardgen.v2_card(name="Kit", description=description, first_mes="*Kit waves.*",
                           alternate_greetings=["*Kit nods.*"], character_book=book)
    return cardgen.card_json(card)


async def test_an_import_is_judged_with_every_field_greeting_and_lore_entry(chat: ChatWorld) -> None:
    where = chat.place()
    said = "\n".join(said_in(await chat.slash(where, "character import", {"file": ("kit.json", lore_card())})))
    assert "Imported **Kit**" in said
    [call] = judged(chat, "character")
    for part in ("Description: Kit is a 30-year-old innkeeper.", "First message: *Kit waves.*",
                 "Alternate greeting 1: *Kit nods.*", "Lore entry 1: Name: The inn\nKeys: inn\nThe inn sells ale."):
        assert part in call.text, part


async def test_a_lore_entry_the_judge_flags_refuses_the_import(chat: ChatWorld) -> None:
    where = chat.place()
    data = lore_card(lore=f"Her sister is lewd. {MINOR_MARKER}")
    said = "\n".join(said_in(await chat.slash(where, "character import", {"file": ("kit.json", data)})))
    assert "This character can't be used." in said and "under 18" in said
    assert await rows(chat, CharacterRow) == []


async def test_an_unchanged_card_imported_again_costs_no_judge_call(chat: ChatWorld) -> None:
    services = chat.bot.services
    where = Where(4242, None, None, "character import")
    first = await services.characters.import_card(lore_card(), "kit.json", where=where, shared=False)
    services.characters.forget()
    second = await services.characters.import_card(lore_card(), "kit.json", where=where, shared=False)
    assert first.id != second.id
    assert len(judged(chat, "character")) == 1


async def test_a_card_pictures_avatar_goes_to_the_vision_judge(chat: ChatWorld) -> None:
    where = chat.place()
    card = cardgen.v2_card(name="Kit", description="Kit is a 30-year-old innkeeper.")
    data = cardgen.png_from_chunks([*cardgen.image_chunks(96, 96, (255, 0, 0)),
                                    cardgen.text_chunk("chara", cardgen.b64(card))])
    said = "\n".join(said_in(await chat.slash(where, "character import", {"file": ("kit.png", data)})))
    assert "This image can't be used." in said
    assert len(images_judged(chat)) == 1
    assert await rows(chat, CharacterRow) == []


# -- avatars --------------------------------------------------------------------------------------


async def test_an_avatar_is_judged_by_the_vision_model_before_it_is_stored(chat: ChatWorld) -> None:
    where = chat.place()
    said = await create_form(chat, where, "Kit is a 30-year-old dancer.", avatar=("kit.png", png((20, 160, 20))))
    assert any("Created **Kit**" in s for s in said), said
    [call] = images_judged(chat)
    assert call.model == chat.bot.services.env.safety_vision_model
    [row] = await rows(chat, CharacterRow)
    assert row.avatar_png is not None


async def test_a_flagged_avatar_is_refused_and_nothing_is_stored(chat: ChatWorld) -> None:
    where = chat.place()
    said = "\n".join(await create_form(chat, where, "Kit is a 30-year-old dancer.",
                                       avatar=("kit.png", png((255, 0, 0)))))
    assert "This image can't be used." in said and "under 18" in said
    assert await rows(chat, CharacterRow) == []
    [event] = await audits(chat, "refusal")
    assert event.rule == "judge_minor" and event.detail.startswith("character create avatar")


async def test_a_real_person_avatar_is_refused_too(chat: ChatWorld) -> None:
    where = chat.place()
    said = "\n".join(await create_form(chat, where, "Kit is a 30-year-old dancer.",
                                       avatar=("kit.png", png((0, 0, 255)))))
    assert "real person" in said
    assert await rows(chat, CharacterRow) == []


# -- personas -------------------------------------------------------------------------------------


async def test_a_persona_is_judged_as_a_persona(chat: ChatWorld) -> None:
    where = chat.place()
    said = "\n".join(said_in(await chat.slash(where, "persona set",
                                              {"name": "Alex", "description": "A tall adult sailor."})))
    assert "Alex" in said
    [call] = judged(chat, "persona")
    assert "Name: Alex" in call.text and "Description: A tall adult sailor." in call.text
    assert len(await rows(chat, Persona)) == 1


async def test_a_persona_the_judge_flags_is_not_stored(chat: ChatWorld) -> None:
    where = chat.place()
    said = "\n".join(said_in(await chat.slash(where, "persona set",
                                              {"name": "Alex", "description": f"Lewd and small. {MINOR_MARKER}"})))
    assert "This persona can't be used." in said and "under 18" in said
    assert await rows(chat, Persona) == []


async def test_a_persona_that_could_not_be_judged_is_not_stored(chat: ChatWorld) -> None:
    where = chat.place()
    chat.venice.judge.inject(Fault.of("ill_typed"))
    said = "\n".join(said_in(await chat.slash(where, "persona set", {"name": "Alex", "description": "An adult."})))
    assert UNAVAILABLE in said
    assert await rows(chat, Persona) == [] and await strikes(chat, where.user) == 0


# -- Venice's catalogue ---------------------------------------------------------------------------


async def test_a_catalogue_character_is_judged_once_ever(chat: ChatWorld) -> None:
    slug = chat.venice.characters[0]["slug"]
    first, second = chat.place(), chat.place()
    for where in (first, second):
        said = "\n".join(said_in(await chat.slash(where, "character set", {"character": f"venice:{slug}"})))
        assert "now plays" in said, said
    calls = judged(chat, "character")
    assert len(calls) == 1 and chat.venice.characters[0]["name"] in calls[0].text


async def test_a_catalogue_character_the_judge_flags_is_refused_without_a_strike(chat: ChatWorld) -> None:
    flagged = add_flagged_venice_character(chat, f"Mia is lewd and small. {MINOR_MARKER}")
    where = chat.place()
    said = "\n".join(said_in(await chat.slash(where, "character set", {"character": f"venice:{flagged['slug']}"})))
    assert "This character can't be used." in said
    assert await rows(chat, ChannelState) == []
    [event] = await audits(chat, "refusal")
    assert event.user_id is None and event.rule == "judge_minor"
    assert await strikes(chat, where.user) == 0


# -- characters stored before the judge existed ---------------------------------------------------


async def stored_unjudged(chat: ChatWorld, owner: dict[str, Any], description: str) -> int:
    """A custom character written straight to the store, as one made before the judge was."""
    return await repo.create(chat.bot.services.sessions, Character(name="Old", description=description),
                             owner_id=int(owner["id"]), guild_id=None, shared=False)


async def test_a_stored_character_is_judged_once_at_first_use(chat: ChatWorld) -> None:
    where = chat.place()
    character_id = await stored_unjudged(chat, where.user, "Old is a 40-year-old sea captain.")
    said = "\n".join(said_in(await chat.slash(where, "character set", {"character": f"custom:{character_id}"})))
    assert "now plays" in said, said
    assert len(judged(chat, "character")) == 1
    services = chat.bot.services
    services.characters.forget()
    assert await services.characters.resolve(f"custom:{character_id}") is not None
    assert len(judged(chat, "character")) == 1  # cleared once: no second call


async def test_a_stored_character_the_judge_flags_no_longer_plays(chat: ChatWorld) -> None:
    where = chat.place()
    character_id = await stored_unjudged(chat, where.user, f"Old is lewd and small. {MINOR_MARKER}")
    said = "\n".join(said_in(await chat.slash(where, "character set", {"character": f"custom:{character_id}"})))
    assert "This character can't be used." in said
    assert await rows(chat, ChannelState) == []
    assert await strikes(chat, where.user) == 0


async def test_a_card_longer_than_one_check_reads_is_judged_in_batches_each_beside_who_the_character_is(
        chat: ChatWorld) -> None:
    where = chat.place()
    entries = [cardgen.lore_entry([f"key{i}"], "The harbour is calm tonight. " * 1_700) for i in range(9)]
    card = cardgen.v2_card(name="Kit", description="Kit is a 30-year-old innkeeper.",
                           character_book=cardgen.character_book(entries))
    data = cardgen.card_json(card)  # nine entries of 49,300 characters: about 444,000 in all
    said = "\n".join(said_in(await chat.slash(where, "character import", {"file": ("kit.json", data)})))
    assert "Imported" in said
    calls = judged(chat, "character")
    assert len(calls) >= 2  # more than one check reads: the card went in batches
    # Every window of it is read with who the character is beside it.
    assert all("Kit is a 30-year-old innkeeper." in str((call.context or {}).get("character")) for call in calls)
    assert len(await rows(chat, CharacterRow)) == 1


async def test_a_minor_in_a_late_batch_of_a_long_card_refuses_the_whole_card(chat: ChatWorld) -> None:
    where = chat.place()
    entries = [cardgen.lore_entry([f"key{i}"], "The harbour is calm tonight. " * 1_700) for i in range(9)]
    entries.append(cardgen.lore_entry(["cellar"], f"Down in the cellar. {MINOR_MARKER}"))
    card = cardgen.v2_card(name="Kit", description="Kit is a 30-year-old innkeeper.",
                           character_book=cardgen.character_book(entries))
    said = "\n".join(said_in(await chat.slash(where, "character import",
                                               {"file": ("kit.json", cardgen.card_json(card))})))
    assert "This character can't be used." in said
    assert await rows(chat, CharacterRow) == []


async def test_a_card_beyond_what_can_be_checked_is_refused_as_too_long_without_a_judge_call(
        chat: ChatWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot import policy

    monkeypatch.setattr(policy, "MAX_DOCUMENT_CHARS", 400_000)
    where = chat.place()
    entries = [cardgen.lore_entry([f"key{i}"], "The harbour is calm tonight. " * 1_700) for i in range(9)]
    card = cardgen.v2_card(name="Kit", description="Kit is a 30-year-old innkeeper.",
                           character_book=cardgen.character_book(entries))
    said = "\n".join(said_in(await chat.slash(where, "character import",
                                               {"file": ("kit.json", cardgen.card_json(card))})))
    assert "This character can't be used." in said and "more than I can check" in said
    assert judged(chat, "character") == [] and await rows(chat, CharacterRow) == []
    assert await strikes(chat, where.user) == 0
