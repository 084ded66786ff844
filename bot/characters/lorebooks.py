"""Standalone lorebooks as people use them: import, list, attach, detach, export, delete, and the
books a turn scans.

A book is imported from a file in any format `bot.characters.worlds` reads (SillyTavern's world
JSON, TavernAI/KoboldAI worlds, V3 `lorebook_v3`, NovelAI, Agnai, RisuAI, a card's own book),
parsed in a worker process, screened entry by entry through the content policy (the
"character" context: definitions are always judged), then stored under its owner's name for it.
Attached to a conversation, a character, a server or the speaking person's persona, it joins the
card's own book in the scan as SillyTavern's chat, character, global or persona lore
(`bot.chat.prompt_lore.LoreBooks`); a card whose
`extensions.world` names a book its owner stored gets that book too, as SillyTavern links a
character's world.

What a turn needs is cached in this service: where books are attached (a few seconds, forgotten
here on every change), and the parsed books by id and version (most recently used kept).
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.cache import TTLCache
from bot.characters import caps, worlds
from bot.characters.cards_json import CardError, lorebook_to_object, read_character_book
from bot.characters.model import Character, Lorebook
from bot.errors import LimitReached, UserError
from bot.offload import Busy, Offload, TooSlow
from bot.policy import MAX_DOCUMENT_CHARS, ContentPolicy, Where
from bot.store import characters as characters_repo
from bot.store import lorebooks as repo

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

MAX_BOOKS = 50
"""Lorebooks one person may keep."""
MAX_STORED_BYTES = 48 << 20
"""What one person's lorebooks may take in all (each file is at most 8 MiB)."""
MAX_NAME_CHARS = 100
MAX_SCREENED_CHARS = MAX_DOCUMENT_CHARS
"""Text a lorebook may hold in all; every character of it is screened."""
PLACES_TTL = 10.0
"""Seconds a turn may use the attachments it read (another process's change shows after this)."""
BOOKS_KEPT = 64
IMPORT_COOLDOWN = 10.0
IMPORT_KIND = "lorebook import"
TOO_SLOW = "That lorebook took too long to read, so it wasn't imported. Try a smaller one."


@dataclass(frozen=True, slots=True)
class ReadBook:
    """A lorebook file read in a worker: what is stored and what is screened."""

    name: str
    book: dict[str, Any]
    entries: int
    size: int
    fields: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class TurnBooks:
    """The standalone books of one turn, by tier."""

    chat: tuple[Lorebook, ...] = ()
    character: tuple[Lorebook, ...] = ()
    server: tuple[Lorebook, ...] = ()
    persona: tuple[Lorebook, ...] = ()


def screen_fields(book: Lorebook) -> list[tuple[str, str]]:
    """Every text of a book that can reach a prompt or a Discord message, labelled for the judge."""
    fields = [("lorebook name", book.name), ("lorebook description", book.description)]
    for number, entry in enumerate(book.entries, 1):
        label = entry.comment.strip()[:60] or f"entry {number}"
        fields.append((f"{label}: keys", ", ".join([*entry.keys, *entry.secondary_keys])))
        fields.append((f"{label}: content", entry.content))
        if entry.comment.strip() and len(entry.comment) > 60:
            fields.append((f"{label}: note", entry.comment))
    return [(label, text) for label, text in fields if text and text.strip()]


def read_lorebook(data: bytes, filename: str) -> ReadBook:
    """Parse a lorebook file (CardError with the author's words if it can't be read). Runs in a
    worker process: the file can be 8 MiB of hostile input."""
    book = worlds.parse_lorebook(data, filename)
    obj = lorebook_to_object(book)
    size = len(json.dumps(obj, ensure_ascii=False).encode("utf-8"))
    return ReadBook(book.name, obj, len(book.entries), size, screen_fields(book))


def export_file(obj: dict[str, Any]) -> bytes:
    """A stored book as SillyTavern's world JSON. Runs in a worker process."""
    return worlds.export_world_json(read_character_book(obj))


def room_for(storage: repo.Storage, *, adding: int, replacing: int) -> None:
    """Raise LimitReached when a person's books would pass the caps (`replacing`: the size of the
    book of the same name being replaced, -1 when it is a new one)."""
    if replacing < 0 and storage.books >= MAX_BOOKS:
        raise LimitReached(f"You have {storage.books} lorebooks, the most one person can keep. "
                           "`/lorebook delete` one first.")
    if storage.bytes - max(0, replacing) + adding > MAX_STORED_BYTES:
        raise LimitReached(f"Your lorebooks would take more than {MAX_STORED_BYTES >> 20} MiB. "
                           "`/lorebook delete` one first.")


def clean_name(name: str) -> str:
    name = " ".join(name.split())[:MAX_NAME_CHARS]
    if not name:
        raise UserError("Give the lorebook a name.")
    return name


class LorebookService:
    """Import, attach, export and delete lorebooks; the books a turn scans."""

    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], policy: ContentPolicy, offload: Offload,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sessions = sessions
        self.policy = policy
        self.offload = offload
        self._places = TTLCache(PLACES_TTL, clock, max_entries=5_000)
        self._books: OrderedDict[tuple[int, datetime], Lorebook] = OrderedDict()

    # -- importing --------------------------------------------------------------------------------

    async def begin_import(self, where: Where) -> None:
        """Before the file is downloaded: the import cooldown (booked here, so a refused or broken
        book counts too: every import costs the judge's reading)."""
        if where.user_id is None:
            raise UserError("I can't tell who is importing this lorebook.")
        wait = await characters_repo.book_import(
            self.sessions, where.user_id, where.guild_id,
            lambda last, now: caps.import_wait(last, now, cooldown=IMPORT_COOLDOWN), kind=IMPORT_KIND)
        if wait > 0:
            raise LimitReached(f"You can import another lorebook in {wait:.0f} s (one every "
                               f"{IMPORT_COOLDOWN:.0f} s: reading and checking one takes me a while).")

    async def import_file(self, data: bytes, filename: str, *, where: Where,
                          name: str | None = None) -> tuple[repo.LorebookSummary, bool]:
        """Read, screen and store a lorebook file; (the stored book, whether one of the same name
        was replaced). A book of the same name (yours) is replaced, keeping where it is attached."""
        if where.user_id is None:
            raise UserError("I can't tell who is importing this lorebook.")
        owner = where.user_id
        if len(data) > worlds.MAX_CARD_BYTES:
            raise UserError(f"That file is {len(data) / 2**20:.1f} MiB; lorebooks can be at most "
                            f"{worlds.MAX_CARD_BYTES >> 20} MiB.")
        try:
            read = await self.offload.in_process(read_lorebook, data, filename, owner=owner)
        except CardError as exc:
            raise UserError(f"I couldn't read that lorebook: {exc}") from None
        except TooSlow:
            raise UserError(TOO_SLOW) from None
        if not read.entries:
            raise UserError("That lorebook has no entries.")
        title = clean_name(name or read.name or filename.rsplit(".", 1)[0] or "Lorebook")
        room_for(await repo.storage(self.sessions, owner), adding=read.size,
                 replacing=(await self._size_of(owner, title)))
        total = sum(len(text) for _, text in read.fields)
        if total > MAX_SCREENED_CHARS:
            raise UserError(f"That lorebook holds {total:,} characters of text; at most {MAX_SCREENED_CHARS:,} "
                            "can be imported.")
        await self.policy.check_document([(f"{title} · {label}", text) for label, text in read.fields], where)
        book = dict(read.book)
        book["name"] = title
        book_id, replaced = await repo.save(
            self.sessions, owner_id=owner, guild_id=where.guild_id, name=title, book=book, entries=read.entries,
            size=read.size, room=lambda storage, old: room_for(storage, adding=read.size, replacing=old),
        )
        self._places.clear()
        found = await repo.by_name(self.sessions, owner, title)
        assert found is not None and found.id == book_id
        return found, replaced

    async def _size_of(self, owner: int, name: str) -> int:
        found = await repo.by_name(self.sessions, owner, name)
        return found.size if found is not None else -1

    # -- finding ----------------------------------------------------------------------------------

    async def mine(self, owner: int, search: str = "", limit: int = 25) -> list[repo.LorebookSummary]:
        return await repo.owned(self.sessions, owner, search=search, limit=limit)

    async def find(self, owner: int, text: str) -> repo.LorebookSummary:
        """One of the owner's books from what autocomplete gave (`#id`) or a name typed by hand."""
        text = text.strip()
        if text.startswith("#") and text[1:].isdigit():
            row = await repo.get(self.sessions, int(text[1:]))
            if row is None or row.owner_id != owner:
                raise UserError("That lorebook no longer exists (or is not yours).")
            return repo.LorebookSummary(row.id, row.name, row.owner_id, row.entries, row.size, row.updated_at)
        found = await repo.by_name(self.sessions, owner, text) if text else None
        if found is None:
            raise UserError("You have no lorebook by that name. `/lorebook list` shows yours.")
        return found

    async def export(self, owner: int, text: str) -> tuple[str, bytes]:
        """(file name, SillyTavern world JSON) of one of the owner's books."""
        found = await self.find(owner, text)
        row = await repo.get(self.sessions, found.id)
        if row is None:
            raise UserError("That lorebook was deleted in the meantime.")
        data = await self.offload.in_process(export_file, row.book, owner=owner)
        stem = "".join(c if c.isalnum() or c in "-_ " else "_" for c in row.name).strip() or "lorebook"
        return f"{stem}.json", data

    async def delete(self, owner: int, text: str) -> repo.LorebookSummary:
        found = await self.find(owner, text)
        if not await repo.delete(self.sessions, found.id):
            raise UserError("That lorebook was already deleted.")
        self._places.clear()
        self._drop(found.id)
        return found

    # -- attaching --------------------------------------------------------------------------------

    async def attach(self, owner: int, text: str, scope: str, target: str, *, guild_id: int | None) -> tuple[
            repo.LorebookSummary, bool]:
        """Attach one of the owner's books (the caller checked the right to the place); (book,
        False when it already was attached there)."""
        found = await self.find(owner, text)
        added = await repo.attach(self.sessions, found.id, scope, target, guild_id=guild_id, added_by=owner)
        self._places.clear()
        return found, added

    async def detach(self, book_id: int, scope: str, target: str) -> bool:
        removed = await repo.detach(self.sessions, book_id, scope, target)
        self._places.clear()
        return removed

    async def attached(self, places: list[tuple[str, str]]) -> list[repo.Attached]:
        return await repo.attached(self.sessions, places)

    # -- a turn's books ---------------------------------------------------------------------------

    async def for_turn(self, *, conversation_id: int | None, character_ref: str, character: Character,
                       guild_id: int | None, user_id: int | None = None) -> TurnBooks:
        """The standalone books a turn scans, by tier: the conversation's; the character's (its
        card's linked world from its owner's books, then books attached to it); the server's; the
        speaking person's persona's (`user_id`)."""
        world = character.extensions.get("world") if isinstance(character.extensions, dict) else None
        world = world.strip() if isinstance(world, str) and world.strip() else None
        key = (conversation_id, character_ref, guild_id, world, user_id)
        attached = await self._places.get_or_load(key, lambda: self._load_places(
            conversation_id, character_ref, character, guild_id, world, user_id))
        if not attached:
            return TurnBooks()
        loaded = await self._load_books(attached)
        tiers: dict[str, list[Lorebook]] = {"conversation": [], "character": [], "server": [], "persona": []}
        for item in attached:
            book = loaded.get((item.id, item.updated_at))
            if book is None:
                continue
            if item.scope == "world":
                tiers["character"].insert(0, book)
            else:
                tiers[item.scope].append(book)
        return TurnBooks(tuple(tiers["conversation"]), tuple(tiers["character"]), tuple(tiers["server"]),
                         tuple(tiers["persona"]))

    async def _load_places(self, conversation_id: int | None, character_ref: str, character: Character,
                           guild_id: int | None, world: str | None, user_id: int | None) -> list[repo.Attached]:
        places = [("character", character_ref)]
        if conversation_id is not None:
            places.append(("conversation", str(conversation_id)))
        if guild_id is not None:
            places.append(("server", str(guild_id)))
        if user_id is not None:
            places.append(("persona", str(user_id)))
        owner = None
        if world and character.source == "custom" and character.id is not None:
            owner = await repo.character_owner(self.sessions, character.id)
        return await repo.attached(self.sessions, places,
                                   world=(owner, world) if owner is not None and world else None)

    async def _load_books(self, attached: list[repo.Attached]) -> dict[tuple[int, datetime], Lorebook]:
        out: dict[tuple[int, datetime], Lorebook] = {}
        missing = []
        for item in attached:
            key = (item.id, item.updated_at)
            if key in self._books:
                self._books.move_to_end(key)
                out[key] = self._books[key]
            else:
                missing.append(item.id)
        if missing:
            for row in await repo.books(self.sessions, missing):
                try:
                    try:
                        book = await self.offload.in_thread(read_character_book, row.book)
                    except Busy:  # no thread free: read it here rather than fail the turn
                        book = read_character_book(row.book)
                except CardError:
                    continue
                book.name = row.name
                key = (row.id, row.updated_at)
                self._drop(row.id)
                self._books[key] = out[key] = book
                while len(self._books) > BOOKS_KEPT:
                    self._books.popitem(last=False)
        return out

    def _drop(self, book_id: int) -> None:
        for key in [k for k in self._books if k[0] == book_id]:
            del self._books[key]
