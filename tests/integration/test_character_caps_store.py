"""Caps on what one person stores, through the characters service and a real database: every way
of making a character counts, simultaneous requests cannot pass a cap together, and imports have
a cooldown that counts attempts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.characters.caps import MAX_CHARACTERS, MAX_STORED_BYTES
from bot.characters.model import Character
from bot.errors import LimitReached, UserError
from bot.policy import Where
from bot.services import Services, build_services
from bot.store.models import CharacterRow, Usage
from tests import cardgen
from tests.conftest import make_settings

pytestmark = pytest.mark.postgres  # the store itself: run on PostgreSQL too

OWNER, OTHER, GUILD = 7, 8, 11


def where(user: int = OWNER) -> Where:
    return Where(user, GUILD, 500, "character import")


@pytest.fixture
async def services(db_url: str, fake_venice: Any) -> AsyncIterator[Services]:
    s = await build_services(make_settings(db_url, venice_base_url=fake_venice.base_url))
    yield s
    await s.close()


async def own(services: Services, count: int, *, avatar_bytes: int = 0, owner: int = OWNER) -> None:
    """Give `owner` that many stored characters (straight into the store)."""
    async with services.sessions.begin() as session:
        session.add_all(CharacterRow(owner_id=owner, guild_id=GUILD, shared=False, name=f"c{i}", card={"n": i},
                                     avatar_png=b"\0" * avatar_bytes if avatar_bytes else None)
                        for i in range(count))


async def count(services: Services, owner: int = OWNER) -> int:
    async with services.sessions() as session:
        return int(await session.scalar(select(func.count()).where(CharacterRow.owner_id == owner)) or 0)


def card(name: str = "Mara") -> bytes:
    return cardgen.card_json(cardgen.v2_card(name=name, description="A 30-year-old sailor."))


async def test_import_respects_the_character_cap(services: Services) -> None:
    await own(services, MAX_CHARACTERS)
    with pytest.raises(LimitReached, match=f"{MAX_CHARACTERS} characters already"):
        await services.characters.import_card(card(), "mara.json", where=where(), shared=False)
    with pytest.raises(LimitReached, match=f"{MAX_CHARACTERS} characters already"):
        await services.characters.begin_import(where())
    assert await count(services) == MAX_CHARACTERS


async def test_create_respects_the_character_cap(services: Services) -> None:
    await own(services, MAX_CHARACTERS)
    with pytest.raises(LimitReached):
        await services.characters.create(Character(name="One more"), where=where(), shared=False)
    await services.characters.create(Character(name="Bob's"), where=where(OTHER), shared=False)
    assert await count(services) == MAX_CHARACTERS and await count(services, OTHER) == 1


async def test_the_stored_bytes_of_one_person_are_capped(services: Services) -> None:
    await own(services, 8, avatar_bytes=MAX_STORED_BYTES // 8 - 1024)  # 8 KiB left
    big = cardgen.card_json(cardgen.v2_card(name="Mara", description="A 30-year-old sailor. " * 1000))
    with pytest.raises(LimitReached, match=r"64\.0 MiB"):
        await services.characters.import_card(big, "mara.json", where=where(), shared=False)
    assert await count(services) == 8
    created = await services.characters.create(Character(name="Tiny"), where=where(), shared=False)
    assert created.id is not None  # a small one still fits
    with pytest.raises(LimitReached, match=r"64\.0 MiB"):  # an edit that grows past the cap
        await services.characters.update(created.id, Character(name="Tiny", description="x" * 4000),
                                         where=where(), avatar=(None, b"\0" * 8192))


async def test_simultaneous_creations_cannot_pass_the_cap_together(services: Services) -> None:
    await own(services, MAX_CHARACTERS - 1)
    results = await asyncio.gather(
        *(services.characters.create(Character(name=f"Rush {i}"), where=where(), shared=False) for i in range(20)),
        return_exceptions=True)
    assert sum(isinstance(r, Character) for r in results) == 1
    assert all(isinstance(r, Character | LimitReached) for r in results), results
    assert await count(services) == MAX_CHARACTERS


async def test_imports_have_a_cooldown_that_counts_failed_attempts(services: Services) -> None:
    await services.characters.begin_import(where())
    with pytest.raises(UserError, match="couldn't read that card"):
        await services.characters.import_card(b"{broken", "x.json", where=where(), shared=False)
    with pytest.raises(LimitReached, match=r"import another card in \d+ s"):
        await services.characters.begin_import(where())
    await services.characters.begin_import(where(OTHER))  # per person


async def test_simultaneous_imports_book_one_attempt(services: Services) -> None:
    results = await asyncio.gather(*(services.characters.begin_import(where()) for _ in range(20)),
                                   return_exceptions=True)
    assert sum(r is None for r in results) == 1
    assert all(r is None or isinstance(r, LimitReached) for r in results), results
    async with services.sessions() as session:
        booked = await session.scalar(select(func.count()).where(Usage.user_id == OWNER))
    assert booked == 1
