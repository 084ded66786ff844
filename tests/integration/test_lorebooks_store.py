"""The lorebook store and service on a real database (SQLite here, PostgreSQL with `-m postgres`):
caps checked inside the transaction, same-name replacement keeping links, links unique per place,
the books a turn reads (with a card's linked world), deletion with links, and the caches."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.characters.lorebooks import MAX_BOOKS, room_for
from bot.characters.model import Character
from bot.errors import LimitReached, UserError
from bot.policy import Where
from bot.services import Services, build_services
from bot.store import lorebooks as repo
from bot.store.models import LorebookLink, LorebookRow
from tests.conftest import make_settings

pytestmark = pytest.mark.postgres

OWNER, OTHER, GUILD = 7, 8, 11
ELDORIA = (Path(__file__).parents[1] / "data" / "Eldoria.json").read_bytes()


def where(user: int = OWNER) -> Where:
    return Where(user, GUILD, 500, "lorebook import")


@pytest.fixture
async def services(db_url: str, fake_venice: Any) -> AsyncIterator[Services]:
    s = await build_services(make_settings(db_url, venice_base_url=fake_venice.base_url))
    yield s
    await s.close()


async def count(services: Services, model: type) -> int:
    async with services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_import_replace_attach_read_and_delete(services: Services) -> None:
    book, replaced = await services.lorebooks.import_file(ELDORIA, "Eldoria.json", where=where())
    assert (book.name, book.entries, replaced) == ("Eldoria", 4, False)
    assert await services.lorebooks.attach(OWNER, "eldoria", "conversation", "42", guild_id=GUILD) == (book, True)
    again = await services.lorebooks.attach(OWNER, f"#{book.id}", "conversation", "42", guild_id=GUILD)
    assert again[1] is False and await count(services, LorebookLink) == 1
    await services.lorebooks.attach(OWNER, "Eldoria", "server", str(GUILD), guild_id=GUILD)

    card = Character(name="Seraphina", source="custom", extensions={"world": "Eldoria"})
    turn = await services.lorebooks.for_turn(conversation_id=42, character_ref="builtin:x", character=card,
                                             guild_id=GUILD)
    assert [b.name for b in turn.chat] == ["Eldoria"] and [b.name for b in turn.server] == ["Eldoria"]
    assert turn.chat[0] is turn.server[0]  # one parsed copy: the prompt counts it once

    # Re-importing under the same name replaces the book and keeps where it is attached.
    renamed, replaced = await services.lorebooks.import_file(ELDORIA, "Eldoria.json", where=where())
    assert replaced and renamed.id == book.id and await count(services, LorebookRow) == 1
    assert await count(services, LorebookLink) == 2

    with pytest.raises(UserError, match="no lorebook by that name"):
        await services.lorebooks.delete(OTHER, "Eldoria")
    await services.lorebooks.delete(OWNER, "Eldoria")
    assert await count(services, LorebookRow) == 0 and await count(services, LorebookLink) == 0
    turn = await services.lorebooks.for_turn(conversation_id=42, character_ref="builtin:x", character=card,
                                             guild_id=GUILD)
    assert turn.chat == () and turn.server == ()


async def test_persona_lore_is_the_speakers_own_and_privacy_takes_it(services: Services) -> None:
    from bot.privacy import delete_user, export_user

    book, _ = await services.lorebooks.import_file(ELDORIA, "Eldoria.json", where=where())
    assert (await services.lorebooks.attach(OWNER, "Eldoria", "persona", str(OWNER), guild_id=GUILD))[1]
    card = Character(name="Bo")
    mine = await services.lorebooks.for_turn(conversation_id=1, character_ref="builtin:x", character=card,
                                             guild_id=GUILD, user_id=OWNER)
    theirs = await services.lorebooks.for_turn(conversation_id=1, character_ref="builtin:x", character=card,
                                               guild_id=GUILD, user_id=OTHER)
    assert [b.name for b in mine.persona] == ["Eldoria"] and mine.chat == mine.server == mine.character == ()
    assert theirs.persona == ()
    exported = await export_user(services.sessions, OWNER)
    assert [(b["lorebook_id"], b["name"]) for b in exported["persona_lorebooks"]] == [(book.id, "Eldoria")]
    assert exported["lorebooks"][0]["attached"] == [{"scope": "persona", "target": str(OWNER)}]
    assert (await export_user(services.sessions, OTHER))["persona_lorebooks"] == []
    counts = await delete_user(services.sessions, OWNER)
    assert counts["persona_lorebooks"] == 1 and counts["lorebooks"] == 1
    assert await count(services, LorebookLink) == 0
    assert (await export_user(services.sessions, OWNER))["persona_lorebooks"] == []


async def test_a_cards_world_is_its_owners_book_of_that_name(services: Services) -> None:
    from bot.store import characters as characters_repo

    await services.lorebooks.import_file(ELDORIA, "Eldoria.json", where=where())
    await services.lorebooks.import_file(ELDORIA, "Eldoria.json", where=where(OTHER), name="Eldoria")
    card = Character(name="Seraphina", extensions={"world": "eldoria"})
    created = await services.characters.create(card, where=Where(OWNER, GUILD, 500, "character create"),
                                               shared=False)
    ref = f"custom:{created.id}"
    row = await characters_repo.get(services.sessions, created.id or 0)
    assert row is not None
    played = characters_repo.character_of(row)
    turn = await services.lorebooks.for_turn(conversation_id=None, character_ref=ref, character=played, guild_id=None)
    (found,) = turn.character
    owned = await repo.by_name(services.sessions, OWNER, "Eldoria")
    assert owned is not None and found.name == "Eldoria"
    attached = await repo.attached(services.sessions, [], world=(OWNER, "Eldoria"))
    assert [a.id for a in attached] == [owned.id]


async def test_the_book_cap_holds_under_simultaneous_imports(services: Services) -> None:
    async with services.sessions.begin() as session:
        session.add_all(LorebookRow(owner_id=OWNER, name=f"b{i}", book={"entries": []}, entries=0, size=10)
                        for i in range(MAX_BOOKS - 1))

    async def one(name: str) -> Any:
        try:  # the store's part of an import: the caps are checked again inside its transaction
            return await repo.save(services.sessions, owner_id=OWNER, guild_id=GUILD, name=name, book={"entries": []},
                                   entries=1, size=100,
                                   room=lambda storage, old: room_for(storage, adding=100, replacing=old))
        except LimitReached as exc:
            return exc

    results = await asyncio.gather(one("x1"), one("x2"), one("x3"))
    assert sum(not isinstance(r, LimitReached) for r in results) == 1
    assert await count(services, LorebookRow) == MAX_BOOKS


async def test_links_are_read_in_one_query_per_place_and_cached(services: Services) -> None:
    book, _ = await services.lorebooks.import_file(ELDORIA, "Eldoria.json", where=where())
    await services.lorebooks.attach(OWNER, "Eldoria", "character", "custom:5", guild_id=GUILD)
    card = Character(name="X")
    calls = 0
    original = repo.attached

    async def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return await original(*args, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(repo, "attached", counting)
    try:
        for _ in range(3):
            turn = await services.lorebooks.for_turn(conversation_id=1, character_ref="custom:5", character=card,
                                                     guild_id=GUILD)
            assert [b.name for b in turn.character] == ["Eldoria"]
        assert calls == 1
        await services.lorebooks.detach(book.id, "character", "custom:5")  # a change here forgets the cache
        turn = await services.lorebooks.for_turn(conversation_id=1, character_ref="custom:5", character=card,
                                                 guild_id=GUILD)
        assert turn.character == () and calls == 2
    finally:
        mp.undo()
