"""Characters as the rest of the bot sees them: references, resolution, and safe storage.

A character reference is a short string stored with channels, conversations and settings:
`builtin:<key>`, `venice:<slug>` or `custom:<id>`. `CharacterService.resolve` turns one into a
`Character`; `for_channel` applies the choice order (this channel or thread, its parent channel,
the `character` setting, the built-in default) and says where the choice came from.

Every definition that reaches the store passes both stages of the content policy first
(`ContentPolicy.check(..., context="character")` over `definition_fields`): all text fields,
greetings, examples, lore entries and the card's extension texts, labelled so the judge reads a
card. A refused card writes nothing but the audit row that `bot.policy` records. Venice catalogue
characters are judged before first use (no strike: nobody here wrote them), and a stored custom
character that was never judged (made before the judge existed) is judged at its first use; the
judge's cache (by content hash) makes each of these one Venice call, ever.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from PIL import Image

from bot.cache import TTLCache
from bot.characters import avatar_urls, avatars, caps, cards
from bot.characters.avatar_urls import AvatarHost
from bot.characters.avatars import AvatarFetcher
from bot.characters.catalogue import Catalogue
from bot.characters.model import DEFAULT_CHARACTER, Character
from bot.characters.names import check_name
from bot.errors import LimitReached, Refused, UserError
from bot.judge import JudgeContext, character_summary
from bot.offload import Offload, TooSlow
from bot.store import avatar_copies, cast, channels
from bot.store import characters as repo
from bot.venice.errors import NotFoundError, VeniceError
from bot.where import Where

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from bot.policy import ContentPolicy
    from bot.settings import SettingsStore
    from bot.venice.client import VeniceClient
    from bot.venice.types import VeniceCharacter

log = logging.getLogger(__name__)

DEFAULT_REF = "builtin:scarlett"
BUILTINS: dict[str, Character] = {"scarlett": DEFAULT_CHARACTER}
_SETTING_SOURCES = {
    "channel": "set for this channel in /settings",
    "parent channel": "set for the parent channel in /settings",
    "server": "server default",
    "bot owner": "bot default",
}
_SLUG = re.compile(r"[^a-z0-9]+")
CUSTOM_TTL = 30.0  # seconds a custom character edited in another process may play as it was
# Definitions this process has seen cleared (by content digest), so resolving a character for each
# turn does not screen it again; bounded, kept in the service.
CLEARED_MEMO = 4_096
CARD_TOO_SLOW = ("That card took too long to read and check, so it wasn't imported. Cards this large or "
                 "unusual can't be used; try a smaller one.")


def parse_ref(ref: str) -> tuple[str, str] | None:
    """("builtin" | "venice" | "custom", key) for a well-formed reference, else None."""
    kind, _, key = ref.strip().partition(":")
    if kind in ("builtin", "venice", "custom") and key:
        if kind == "custom" and not key.isdigit():
            return None
        return kind, key
    return None


def ref_of(character: Character) -> str:
    """The reference that resolves back to `character`."""
    if character.source == "venice" and character.venice_slug:
        return f"venice:{character.venice_slug}"
    if character.source == "custom" and character.id is not None:
        return f"custom:{character.id}"
    for key, builtin in BUILTINS.items():
        if builtin.name == character.name:
            return f"builtin:{key}"
    return DEFAULT_REF


def slugify(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-")


def _strings(value: Any, *, skip: frozenset[str] = frozenset()) -> Iterator[str]:
    """Every string inside a JSON-like value (card extensions can hold prompt text, e.g. depth prompts)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in skip:
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


# A definition longer than this is judged in several windows, each with the character's summary
# as background (so a lore entry far from the description is read next to who the character is).
JUDGED_ALONE_CHARS = 12_000


def definition_fields(character: Character) -> dict[str, str]:
    """Everything of a character that can reach a prompt, a Discord message or an image prompt,
    labelled as the judge reads it ("Description" → …, "Lore entry 2 (keys: …)" → …).

    Both stages read these: stage 1 field by field (long fields in overlapping windows), the judge
    as one labelled document, so a setting in one field and sexual content in another are read
    together.
    """
    fields: dict[str, str] = {}

    def add(label: str, text: str) -> None:
        if text and text.strip():
            fields[label if label not in fields else f"{label} ({len(fields) + 1})"] = text

    add("Name", character.name)
    add("Description", character.description)
    add("Personality", character.personality)
    add("Scenario", character.scenario)
    add("Appearance", character.appearance)
    add("First message", character.first_mes)
    for number, greeting in enumerate(character.alternate_greetings, 1):
        add(f"Alternate greeting {number}", greeting)
    add("Example messages", character.mes_example)
    add("System prompt", character.system_prompt)
    add("Post-history instructions", character.post_history_instructions)
    add("Creator notes", character.creator_notes)
    add("Tags", ", ".join(t for t in character.tags if t))
    if character.lorebook is not None:
        add("Lorebook", character.lorebook.description)
        for number, entry in enumerate(character.lorebook.entries, 1):
            keys = ", ".join(k for k in [*entry.keys, *entry.secondary_keys] if k)
            parts = [f"Name: {entry.name}" if entry.name else "", f"Keys: {keys}" if keys else "", entry.content]
            add(f"Lore entry {number}", "\n".join(p for p in parts if p and p.strip()))
    for number, text in enumerate(_strings(character.extensions), 1):
        add(f"Extension text {number}", text)
    for number, text in enumerate(_strings(character.card_extra, skip=frozenset({"assets"})), 1):
        add(f"Card text {number}", text)
    return fields


def definition_texts(character: Character) -> list[str]:
    """`definition_fields` as the label and text of each field, for plain listings."""
    return [f"{label}: {text}" for label, text in definition_fields(character).items()]


def read_card(data: bytes, filename: str) -> tuple[Character, bytes | None, int, bytes | None]:
    """(character, its picture as PNG, the bytes storing it takes, the picture's copy for the
    vision judge) from a card file; CardError if it can't be read. Runs in a worker process: the
    whole card is only ever walked there."""
    character, avatar_png = cards.parse_card_with_avatar(data, filename)
    return character, avatar_png, caps.stored_size(character, avatar_png), _judge_copy(avatar_png)


def _judge_copy(png: bytes | None) -> bytes | None:
    if png is None:
        return None
    try:
        return avatars.judge_copy(png)
    except (OSError, ValueError, Image.DecompressionBombError):
        return png  # the judge reads it itself (and fails closed if it can't)


def export_files(character: Character, avatar_png: bytes | None) -> tuple[bytes, bytes]:
    """(PNG card, JSON card); a broken stored avatar must not block export. Runs in a worker."""
    try:
        png = cards.export_card_png(character, avatar_png)
    except cards.CardError:
        png = cards.export_card_png(character, None)
    return png, cards.export_card_json(character)


def venice_character(found: VeniceCharacter) -> Character:
    """A Venice catalogue character as a playable Character (Venice supplies its real prompt)."""
    return Character(
        name=found.name,
        description=found.description or "",
        tags=list(found.tags),
        avatar_url=found.photo_url,
        source="venice",
        venice_slug=found.slug,
        extensions={"venice": {"model_id": found.model_id, "share_url": found.share_url,
                               "rating": found.rating, "rating_count": found.rating_count}},
    )


class CharacterService:
    """Resolution, per-channel choice and storage of characters."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        venice: VeniceClient,
        settings: SettingsStore,
        offload: Offload,
        policy: ContentPolicy,
        avatar_fetcher: AvatarFetcher | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.sessions = sessions
        # Where pictures go so their Discord URLs can be renewed (the storage channel), if the
        # operator named one; `wall` is the clock signed URLs expire by.
        self.avatar_host: AvatarHost | None = None
        self.wall = wall
        self._avatar_urls: OrderedDict[int, str] = OrderedDict()  # character id -> renewed URL
        self._renewing = asyncio.Lock()
        self.venice = venice
        self.settings = settings
        self.offload = offload
        self.policy = policy
        # Digests of definitions this process has seen cleared by both stages (most recent last).
        self._cleared: OrderedDict[str, None] = OrderedDict()
        # Only tests pass a fetcher (one that may reach their local servers).
        self.avatar_fetcher = avatar_fetcher or AvatarFetcher()
        # Custom characters are read on every turn: kept a short while, forgotten when changed here.
        self._custom = TTLCache(CUSTOM_TTL, clock, max_entries=2_000)
        self.catalogue = Catalogue(venice)
        # Last good copy per Venice slug, so a Venice catalogue hiccup does not change who is
        # talking mid-scene (chat itself may still work: Venice applies the character by slug).
        self._venice_seen: OrderedDict[str, Character] = OrderedDict()

    async def close(self) -> None:
        await self.catalogue.close()
        await self.avatar_fetcher.close()

    # -- resolution -------------------------------------------------------------------------------

    async def resolve(self, ref: str, *, user_id: int | None = None, guild_id: int | None = None) -> Character | None:
        """The character a reference names, or None when it no longer exists or may not be used.

        No access check happens here: a personal character chosen for a channel plays for everyone
        in that channel. Use `choose` to check what a user may pick.
        """
        parsed = parse_ref(ref)
        if parsed is None:
            return None
        kind, key = parsed
        if kind == "builtin":
            builtin = BUILTINS.get(key)
            return builtin.copy() if builtin is not None else None
        if kind == "custom":
            found = await self._custom.get_or_load(int(key), lambda: self._load_custom(int(key)))
            return found.copy() if found is not None else None
        return await self._venice(key)

    async def _load_custom(self, character_id: int) -> Character | None:
        row = await repo.get(self.sessions, character_id)
        if row is None:
            return None
        character = repo.character_of(row)
        # A character stored before the judge existed is judged at its first use (cached by
        # content hash, so once); nobody is blamed for it here.
        await self.judge_definition(character, Where(None, row.guild_id, None, "character use"), strike=False)
        return character

    # -- the content policy -----------------------------------------------------------------------

    async def judge_definition(self, character: Character, where: Where, *, strike: bool = True) -> None:
        """Both stages over every field of `character` (context "character"); raise `Refused`
        (`CheckUnavailable` when the judge could not answer). A definition this process has seen
        cleared is not checked again; the judge's cache makes a repeat elsewhere cost no call.
        Stage 1 over a long card runs in a worker process (`TooSlow` if it runs out of time)."""
        fields = definition_fields(character)
        digest = hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode()).hexdigest()
        if digest in self._cleared:
            self._cleared.move_to_end(digest)
            return
        background = None
        if sum(len(text) for text in fields.values()) > JUDGED_ALONE_CHARS:
            background = JudgeContext(character=character_summary(
                character.name, description=character.description, personality=character.personality,
                scenario=character.scenario, first_message=character.first_mes, appearance=character.appearance))
        await self.policy.check_document(fields, where, context="character", background=background, strike=strike)
        self._cleared[digest] = None
        if len(self._cleared) > CLEARED_MEMO:
            self._cleared.popitem(last=False)

    def forget(self, character_id: int | None = None) -> None:
        """A custom character changed or was deleted (None: any may have): read afresh next time."""
        if character_id is None:
            self._custom.clear()
        else:
            self._custom.forget(character_id)

    async def delete(self, character_id: int) -> bool:
        """Delete a custom character (the caller checked the right to); False when it was gone.
        It leaves every group scene it was in."""
        self.forget(character_id)
        await cast.remove_everywhere(self.sessions, f"custom:{character_id}")
        self._avatar_urls.pop(character_id, None)
        kept = await avatar_copies.get(self.sessions, character_id)
        await avatar_copies.forget(self.sessions, character_id)
        if kept is not None:
            await self.remove_avatar_copies([(kept.channel_id, kept.message_id)])
        return await repo.delete(self.sessions, character_id)

    async def _venice(self, slug: str) -> Character | None:
        try:
            found = await self.venice.get_character(slug)
        except NotFoundError:
            self._venice_seen.pop(slug, None)
            return None
        except VeniceError as exc:
            log.info("characters: Venice character %s not reachable (%s); using the last copy", slug, exc)
            seen = self._venice_seen.get(slug)
            if seen is not None:
                return seen.copy()
            return Character(name=slug.replace("-", " ").title(), source="venice", venice_slug=slug)
        if not self.catalogue.allowed(found):
            return None
        character = venice_character(found)
        # Chosen before the judge existed, or its description changed on Venice: judged before
        # it plays (once per content, no strike: Venice's text).
        await self.judge_definition(character, Where(None, None, None, "venice character"), strike=False)
        self._venice_seen[slug] = character
        self._venice_seen.move_to_end(slug)
        if len(self._venice_seen) > 1000:
            self._venice_seen.popitem(last=False)
        return character.copy()

    async def for_channel(
        self, *, channel_id: int, guild_id: int | None, parent_id: int | None = None
    ) -> tuple[Character, str, str]:
        """(character, its reference, where the choice comes from) for a channel or thread."""
        view = await channels.load(self.sessions, channel_id, parent_id)
        lost = ""
        if view.character_ref:
            found = await self.resolve(view.character_ref)
            if found is not None:
                if view.character_source != "channel":
                    source = f"inherited from <#{parent_id}>"
                else:
                    source = "set for this thread" if parent_id is not None else "set for this channel"
                return found, view.character_ref, source
            lost = "the character chosen here is no longer available, so: "
        resolved = (await self.settings.resolve_all(
            guild_id=guild_id, channel_id=channel_id, parent_id=parent_id, keys=["character"]
        ))["character"]
        if isinstance(resolved.value, str) and resolved.value:
            found = await self.resolve(resolved.value)
            if found is not None:
                return found, resolved.value, lost + _SETTING_SOURCES.get(resolved.source, resolved.source)
            lost = lost or "the server's default character is no longer available, so: "
        return DEFAULT_CHARACTER.copy(), DEFAULT_REF, lost + "built-in default"

    # -- choosing ---------------------------------------------------------------------------------

    async def choose(self, text: str, *, user_id: int, guild_id: int | None, where: Where) -> tuple[Character, str]:
        """What a user typed or picked in `/character set` → (character, reference), checked.

        Accepts a reference from autocomplete, or a name typed by hand (own and shared custom
        characters first, then Venice by name or slug). Raises UserError with a kind message.
        """
        text = text.strip()
        parsed = parse_ref(text)
        if parsed is not None:
            kind, key = parsed
            if kind == "custom":
                row = await repo.get(self.sessions, int(key))
                if row is None:
                    raise UserError("That character no longer exists.")
                if not repo.may_use(row, user_id=user_id, guild_id=guild_id):
                    raise UserError("That character is private to its creator (or shared in another server).")
                character = repo.character_of(row)
                await self.judge_definition(character, where.anonymous("character use"), strike=False)
                return character, text
            if kind == "venice":
                return await self._choose_venice(key, where)
            found = await self.resolve(text)
            if found is None:
                raise UserError("There is no built-in character by that name.")
            return found, text
        if not text:
            raise UserError("Pick a character from the list, or type its name.")
        for summary in await repo.usable(self.sessions, user_id=user_id, guild_id=guild_id, search=text, limit=25):
            if summary.name.lower() == text.lower():
                row = await repo.get(self.sessions, summary.id)
                if row is not None:
                    character = repo.character_of(row)
                    await self.judge_definition(character, where.anonymous("character use"), strike=False)
                    return character, summary.ref
        for key, builtin in BUILTINS.items():
            if builtin.name.lower() == text.lower():
                return builtin.copy(), f"builtin:{key}"
        for found in self.catalogue.loaded():
            if text.lower() in (found.name.lower(), found.slug):
                return await self._choose_venice(found.slug, where)
        slug = slugify(text)
        if slug:
            try:
                return await self._choose_venice(slug, where)
            except Refused:
                raise  # found, but refused by the screen: say why, not "not found"
            except UserError:
                pass
        raise UserError(f"I couldn't find a character called {text[:80]!r}. Pick one from the list, "
                        "or look around with `/character browse`.")

    async def _choose_venice(self, slug: str, where: Where) -> tuple[Character, str]:
        try:
            found = await self.venice.get_character(slug)
        except NotFoundError:
            raise UserError("Venice doesn't have that character (any more).") from None
        if not found.adult:
            raise UserError("That Venice character isn't in the adult catalogue.")
        character = venice_character(found)
        # Both stages before first use, audited like any definition but with no strike: the text
        # is Venice's, not theirs. The judge's cache makes each catalogue character one call, ever.
        await self.judge_definition(character, Where(None, where.guild_id, where.channel_id, "venice character"),
                                    strike=False)
        if not self.catalogue.allowed(found):
            raise UserError("That character can't be used here.")
        return character, f"venice:{found.slug}"

    async def set_for_channel(self, *, channel_id: int, guild_id: int | None, ref: str | None) -> None:
        """Choose (or with None, forget) the character of a channel or thread."""
        await channels.set_character(self.sessions, channel_id, guild_id, ref)

    # -- custom characters ------------------------------------------------------------------------

    async def check_room(self, owner_id: int) -> None:
        """Raise LimitReached when this person can't make another character (see `caps`)."""
        caps.room_for(await repo.storage(self.sessions, owner_id))

    async def create(
        self,
        character: Character,
        *,
        where: Where,
        shared: bool,
        avatar_url: str | None = None,
        avatar_png: bytes | None = None,
    ) -> Character:
        """Check the person's caps, screen, then store a new custom character; returns it with its id.

        Every way of making a character comes here, so the caps (`caps.room_for`) hold for all of
        them; they are checked again inside the storing transaction, so simultaneous creations
        can't pass them together.
        """
        return await self._create(character, where=where, shared=shared, avatar_url=avatar_url,
                                  avatar_png=avatar_png, size=caps.stored_size(character, avatar_png))

    async def _create(self, character: Character, *, where: Where, shared: bool, avatar_url: str | None,
                      avatar_png: bytes | None, size: int, judge_copy: bytes | None = None) -> Character:
        if where.user_id is None:
            raise UserError("I can't tell who is creating this character.")
        check_name(character.name)
        caps.room_for(await repo.storage(self.sessions, where.user_id), adding=size)  # before the costly screen
        await self.judge_definition(character, where)
        if judge_copy is not None:  # a card's own picture becomes its avatar: the vision judge sees it first
            await self.policy.check_image(judge_copy, where.at(f"{where.entry} avatar"))
        character.id = await repo.create(
            self.sessions, character, owner_id=where.user_id, guild_id=where.guild_id,
            shared=shared and where.guild_id is not None, avatar_url=avatar_url, avatar_png=avatar_png,
            room=lambda storage: caps.room_for(storage, adding=size),
        )
        character.source = "custom"
        character.avatar_url = avatar_url
        return character

    async def update(
        self,
        character_id: int,
        character: Character,
        *,
        where: Where,
        shared: bool | None = None,
        avatar: tuple[str | None, bytes | None] | None = None,
    ) -> None:
        """Screen, then replace a custom character's definition (within its owner's byte cap)."""
        check_name(character.name)
        await self.judge_definition(character, where)
        card = caps.stored_size(character, None)

        def room(storage: repo.Storage, old: tuple[int, int]) -> None:
            picture = len(avatar[1] or b"") if avatar is not None else old[1]
            caps.room_for(storage, adding=card + picture, replacing=sum(old), new=False)

        self.forget(character_id)
        if not await repo.update(self.sessions, character_id, character, shared=shared, avatar=avatar, room=room):
            raise UserError("That character was deleted in the meantime.")
        if avatar is not None:  # a new picture: its old copy in the storage channel no longer applies
            self._avatar_urls.pop(character_id, None)
            await avatar_copies.forget(self.sessions, character_id)

    async def begin_import(self, where: Where) -> None:
        """Before a card is even downloaded: room for one more character, and the import cooldown
        (the attempt is booked here, so a refused or broken card counts too)."""
        if where.user_id is None:
            raise UserError("I can't tell who is importing this card.")
        await self.check_room(where.user_id)
        wait = await repo.book_import(self.sessions, where.user_id, where.guild_id, caps.import_wait)
        if wait > 0:
            raise LimitReached(f"You can import another card in {wait:.0f} s (one every "
                               f"{caps.IMPORT_COOLDOWN:.0f} s: reading a card takes me a while).")

    async def import_card(
        self, data: bytes, filename: str, *, where: Where, shared: bool, file_url: str | None = None
    ) -> Character:
        """Parse a card file, screen it, store it. CardError text becomes the user's message.

        Parsing and screening run in a worker process (a card can be 8 MiB of hostile input), one
        at a time per person and within a time limit. A PNG card is its own picture, so its
        (Discord) URL serves as the persona avatar.
        """
        try:
            character, avatar_png, size, judge_copy = await self.offload.in_process(
                read_card, data, filename, owner=where.user_id)
        except cards.CardError as exc:
            raise UserError(f"I couldn't read that card: {exc}") from None
        except TooSlow:
            raise UserError(CARD_TOO_SLOW) from None
        try:
            return await self._create(
                character, where=where, shared=shared,
                avatar_url=file_url if avatar_png is not None and data.startswith(b"\x89PNG") else None,
                avatar_png=avatar_png, size=size, judge_copy=judge_copy,
            )
        except TooSlow:
            raise UserError(CARD_TOO_SLOW) from None

    # -- avatars ----------------------------------------------------------------------------------

    async def lasting_avatar(self, character: Character) -> str | None:
        """An avatar URL for `character` that works now (see `bot.characters.avatar_urls`).

        A custom character whose URL is an expired (or soon expiring) Discord attachment URL gets
        the URL of its picture's copy in the storage channel, renewed when it expires, the copy
        made from the stored picture the first time. Without a storage channel, or a picture,
        an expired URL gives None (the webhook's own face, rather than a broken image).
        """
        url = character.avatar_url
        now = self.wall()
        if not avatar_urls.needs_renewal(url, now):
            return url
        if character.source != "custom" or character.id is None:
            return None
        known = self._avatar_urls.get(character.id)
        if known is not None and not avatar_urls.needs_renewal(known, now):
            return known
        if self.avatar_host is None:
            return None
        async with self._renewing:
            try:
                renewed = await self._renew_avatar(character.id, now)
            except Exception:
                log.warning("characters: could not renew the avatar of character %s", character.id, exc_info=True)
                return None
        if renewed is not None:
            self._avatar_urls[character.id] = renewed
            self._avatar_urls.move_to_end(character.id)
            while len(self._avatar_urls) > 2_000:
                self._avatar_urls.popitem(last=False)
        return renewed

    async def avatar_copies_of(self, owner_id: int) -> list[tuple[int, int]]:
        """Where an owner's characters' pictures are kept (read before a privacy deletion)."""
        return await avatar_copies.of_owner(self.sessions, owner_id)

    async def remove_avatar_copies(self, copies: list[tuple[int, int]]) -> None:
        """Delete kept pictures from the storage channel (their characters are gone); never raises."""
        if self.avatar_host is None:
            return
        self._avatar_urls.clear()
        for channel_id, message_id in copies:
            try:
                await self.avatar_host.remove(channel_id, message_id)
            except Exception:
                log.warning("characters: could not delete a kept avatar (message %s)", message_id, exc_info=True)

    async def _renew_avatar(self, character_id: int, now: float) -> str | None:
        assert self.avatar_host is not None
        copy_row = await avatar_copies.get(self.sessions, character_id)
        if copy_row is not None:
            if not avatar_urls.needs_renewal(copy_row.url, now):
                return copy_row.url
            fresh = await self.avatar_host.refresh(copy_row.channel_id, copy_row.message_id)
            if fresh is not None:
                await avatar_copies.save(self.sessions, character_id, copy_row.channel_id, copy_row.message_id, fresh)
                return fresh
        png = await avatar_copies.picture(self.sessions, character_id)
        if png is None:
            return None
        channel_id, message_id, url = await self.avatar_host.upload(png, f"avatar-{character_id}.png")
        await avatar_copies.save(self.sessions, character_id, channel_id, message_id, url)
        return url

    async def avatar_from_upload(self, attachment: Any, *, where: Where) -> tuple[str, bytes]:
        """(URL, PNG) for an uploaded picture: size checked before downloading, checked and
        converted in a worker process, then judged by the vision judge (`Refused` /
        `CheckUnavailable`) before anything stores or shows it."""
        data = await avatars.attachment_image(attachment)
        return attachment.url, await self._judged_avatar(data, where)

    async def avatar_from_link(self, url: str, *, where: Where) -> tuple[str, bytes]:
        """(URL, PNG) for a picture link: fetched from public addresses only, then checked,
        converted and judged like an upload."""
        data = await self.avatar_fetcher.fetch(url)
        return url.strip(), await self._judged_avatar(data, where)

    async def _judged_avatar(self, data: bytes, where: Where) -> bytes:
        png, judge_copy = await self.offload.in_process(avatars.prepared, data, owner=where.user_id)
        await self.policy.check_image(judge_copy, where)
        return png

    async def export(self, ref: str) -> tuple[str, bytes, bytes]:
        """(file name stem, PNG card, JSON card) for a custom or built-in character."""
        parsed = parse_ref(ref)
        if parsed is not None and parsed[0] == "venice":
            raise UserError("Venice characters live on Venice, so there's no card to export. "
                            "`/character create` makes your own version.")
        avatar_png: bytes | None = None
        if parsed is not None and parsed[0] == "custom":
            row = await repo.get(self.sessions, int(parsed[1]))
            if row is None:
                raise UserError("That character no longer exists.")
            character, avatar_png = repo.character_of(row), row.avatar_png
        else:
            found = await self.resolve(ref)
            if found is None:
                raise UserError("That character no longer exists.")
            character = found
        png, raw = await self.offload.in_process(export_files, character, avatar_png)
        stem = slugify(character.name) or "character"
        return stem, png, raw

