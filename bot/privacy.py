"""Everything the bot stores about one user: export it, or delete it (Red's data contract).

Where a user's own words are kept, and what a deletion does to each copy:
- **Their messages** (text, persona name as author, swipes of nothing: user turns have none):
  conversations that are only theirs (they started it or nobody did, and nobody else wrote in
  it) are deleted whole, replies included: in a DM or a solo scene the replies are about them
  too. In shared conversations their turns are blanked and marked `deleted` (the rows stay, so
  the replies that answered them keep their place and other people's story stays readable); the
  prompt skips deleted turns, and `created_by` no longer names them.
- **Rolling summaries** mix everyone's words and cannot be cut apart: a summary that folded in
  any of their turns is cleared, and the chat engine folds again from the turns that remain.
- **Replies** the character wrote to them in shared conversations stay: they are the model's
  words and part of other people's story (they may echo what the user said).
- **Conversation titles** never hold anyone's words (`title_for`: the date), so there is nothing
  to remove there, and nobody's words reach another person's export through a title.
- **Characters** they own (card, lorebook, avatar) are deleted, shared ones too: the card is their
  writing. Conversations that used them keep the stored `character_name` (shown in history) but
  lose `lore_fired` (names of their lore entries). Those characters leave every group scene's
  cast, and cast entries they added stop naming them.
- **Persona**: deleted.
- **Kept avatar pictures** of their characters (the copies in the avatar storage channel, see
  `bot.characters.avatar_urls`) go with the characters; the privacy cog deletes those Discord
  messages once the deletion is done.
- **Lorebooks** they imported are deleted, and with them every place they were attached (their
  persona's books included: `/lorebook attach` to "my persona" only takes one's own books); the
  record of which entries fired last (`lore_state.fired`) forgets entries of their books in
  conversations that used them. An **Author's Note** they set on a conversation is removed.
- **Image prompts**: their image records go (parameters only; pixels are never stored). Images
  other people made from theirs (rerolls, edits, upscales, and so on down the line) carry their
  prompt: those records keep their place but lose every prompt and are marked `deleted`, so
  their buttons say the image can't be redone.
- **Audit events** about them stay for their retention period (`bot.audit_log.RETENTION`): they
  are the safety record moderators rely on, and never hold what anyone wrote. The one free-text
  part, the value of a setting they changed ("set to …"), is removed. The deletion itself is
  recorded (kind "privacy", rule "delete").
- **Discord messages** are Discord's: the bot does not delete the user's messages there, nor the
  copies it posted of what they said with `/chat` (deleting a reply with its 🗑️ button removes
  that copy).
- **Safety state** survives: an active block, and strikes counted in the current window, otherwise
  a deletion would be a way around the block. The DM unlock is forgotten.
- **Usage rows** hold counts and costs, no text. Today's stay until the day is over, because
  today's quotas and cooldowns are counted from them (deleting them would reset a server's daily
  limit); `purge_deleted_usage` removes them once the day has passed.
Everything happens in one transaction: a failure part way leaves everything as it was.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, delete, exists, func, literal, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.audit_log import RETENTION, about_user
from bot.errors import UserError
from bot.limits import day_start
from bot.policy import STRIKE_WINDOW
from bot.store import cast
from bot.store import lorebooks as lorebooks_repo
from bot.store.models import (
    AuditEvent,
    CharacterRow,
    Conversation,
    ImageRecord,
    LorebookLink,
    LorebookRow,
    Message,
    MessageLink,
    Persona,
    Setting,
    Usage,
    UserFlag,
    utcnow,
)

FORMAT = "lustify-privacy-export"
VERSION = 1
LINEAGE_DEPTH = 50  # generations of images derived from a user's, followed on deletion
ADMIN_DETAIL_REMOVED = "value removed at the user's request"
CHUNK = 500  # ids per IN (...) clause, well under SQLite's and asyncpg's parameter limits


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


# -- export ---------------------------------------------------------------------------------------


async def export_user(sessions: async_sessionmaker[AsyncSession], user_id: int) -> dict[str, Any]:
    """Every row about `user_id`, as plain JSON-ready values. Nothing about anyone else."""
    async with sessions() as session:
        data: dict[str, Any] = {
            "format": FORMAT, "version": VERSION, "user_id": str(user_id), "exported_at": _iso(utcnow()),
            "messages": await _messages(session, user_id),
            "conversations_started": await _conversations(session, user_id),
            "characters": await _characters(session, user_id),
            "persona": await _persona(session, user_id),
            "lorebooks": await _lorebooks(session, user_id),
            "persona_lorebooks": await _persona_lorebooks(session, user_id),
            "authors_notes": await _author_notes(session, user_id),
            "images": await _images(session, user_id),
            "usage": await _usage(session, user_id),
            "user_flags": await _flags(session, user_id),
            "settings_changed": await _settings(session, user_id),
            "scene_casts": await cast.export_for_user(session, user_id),
        }
    data["audit_events"] = [
        {"kind": e.kind, "rule": e.rule, "at": _iso(e.created_at)} for e in await about_user(sessions, user_id)
    ]
    return data


async def _messages(session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Message, Conversation.channel_id, Conversation.guild_id, Conversation.character_name)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.author_id == user_id)
        .order_by(Message.id)
    )
    return [
        {"id": m.id, "conversation_id": m.conversation_id, "channel_id": str(channel_id),
         "guild_id": str(guild_id) if guild_id else None, "character": character, "role": m.role,
         "author_name": m.author_name, "content": m.content, "status": m.status, "created_at": _iso(m.created_at),
         "discord_message_ids": [str(i) for i in (m.discord_ids or [])]}
        for m, channel_id, guild_id, character in rows.all()
    ]


async def _conversations(session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(Conversation).where(Conversation.created_by == user_id).order_by(Conversation.id)
    )
    return [
        {"id": c.id, "channel_id": str(c.channel_id), "guild_id": str(c.guild_id) if c.guild_id else None,
         "character": c.character_name, "character_ref": c.character_ref, "title": c.title,
         "archived": c.archived, "created_at": _iso(c.created_at)}
        for c in rows.all()
    ]


async def _characters(session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
    rows = await session.scalars(select(CharacterRow).where(CharacterRow.owner_id == user_id).order_by(CharacterRow.id))
    return [
        {"id": c.id, "ref": f"custom:{c.id}", "name": c.name, "guild_id": str(c.guild_id) if c.guild_id else None,
         "shared": c.shared, "card": c.card, "avatar_url": c.avatar_url, "seed": c.seed,
         "tts_model": c.tts_model, "tts_voice": c.tts_voice,
         "avatar_png_base64": base64.b64encode(c.avatar_png).decode() if c.avatar_png else None,
         "created_at": _iso(c.created_at), "updated_at": _iso(c.updated_at)}
        for c in rows.all()
    ]


async def _lorebooks(session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
    rows = await session.scalars(select(LorebookRow).where(LorebookRow.owner_id == user_id).order_by(LorebookRow.id))
    out = []
    for b in rows.all():
        links = await session.scalars(select(LorebookLink).where(LorebookLink.lorebook_id == b.id))
        out.append({"id": b.id, "name": b.name, "guild_id": str(b.guild_id) if b.guild_id else None,
                    "book": b.book, "attached": [{"scope": k.scope, "target": k.target} for k in links.all()],
                    "created_at": _iso(b.created_at), "updated_at": _iso(b.updated_at)})
    return out


async def _persona_lorebooks(session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
    """The books attached to their persona (persona lore): which, and since when."""
    rows = await session.execute(
        select(LorebookLink.lorebook_id, LorebookRow.name, LorebookLink.created_at)
        .join(LorebookRow, LorebookRow.id == LorebookLink.lorebook_id)
        .where(LorebookLink.scope == "persona", LorebookLink.target == str(user_id)).order_by(LorebookLink.id))
    return [{"lorebook_id": i, "name": name, "attached_at": _iso(at)} for i, name, at in rows.all()]


async def _author_notes(session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
    rows = await session.execute(select(Conversation.id, Conversation.author_note)
                                 .where(Conversation.author_note.is_not(None)).order_by(Conversation.id))
    return [{"conversation_id": cid, "text": note.get("text"), "depth": note.get("depth"), "every": note.get("every"),
             "role": note.get("role", "system"), "position": note.get("position", "in_chat")}
            for cid, note in rows.all() if isinstance(note, dict) and note.get("by") == user_id]


async def _forget_lorebooks(session: AsyncSession, user_id: int) -> dict[str, int]:
    """Their books go with their links; conversations forget their entries' names and their notes."""
    names = set((await session.scalars(select(LorebookRow.name).where(LorebookRow.owner_id == user_id))).all())
    fired = notes = 0
    rows = await session.execute(select(Conversation.id, Conversation.lore_state, Conversation.author_note).where(
        or_(Conversation.author_note.is_not(None), Conversation.lore_state.is_not(None))))
    for cid, state, note in rows.all():
        values: dict[str, Any] = {}
        if isinstance(note, dict) and note.get("by") == user_id:
            values["author_note"] = None
            notes += 1
        if names and isinstance(state, dict) and isinstance(state.get("fired"), list):
            kept = [f for f in state["fired"] if not (isinstance(f, dict) and f.get("book") in names)]
            if len(kept) != len(state["fired"]):
                values["lore_state"] = dict(state, fired=kept)
                fired += 1
        if values:
            await session.execute(update(Conversation).where(Conversation.id == cid).values(**values))
    return {"persona_lorebooks": await lorebooks_repo.forget_persona(session, user_id),
            "lorebooks": await lorebooks_repo.forget_owner(session, user_id), "lore_fired_books_cleared": fired,
            "authors_notes": notes}


async def _persona(session: AsyncSession, user_id: int) -> dict[str, Any] | None:
    row = await session.get(Persona, user_id)
    if row is None:
        return None
    return {"name": row.name, "description": row.description, "updated_at": _iso(row.updated_at)}


async def _images(session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
    rows = await session.scalars(select(ImageRecord).where(ImageRecord.user_id == user_id).order_by(ImageRecord.id))
    return [
        {"id": i.id, "kind": i.kind, "status": i.status, "channel_id": str(i.channel_id),
         "guild_id": str(i.guild_id) if i.guild_id else None, "user_prompt": i.user_prompt, "prompt": i.prompt,
         "negative": i.negative, "model": i.model, "style": i.style, "seed": i.seed, "width": i.width,
         "height": i.height, "steps": i.steps, "character_ref": i.character_ref, "parent_id": i.parent_id,
         "discord_message_id": str(i.discord_message_id) if i.discord_message_id else None,
         "created_at": _iso(i.created_at)}
        for i in rows.all()
    ]


async def _usage(session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
    rows = await session.scalars(select(Usage).where(Usage.user_id == user_id).order_by(Usage.id))
    return [
        {"kind": u.kind, "guild_id": str(u.guild_id) if u.guild_id else None, "prompt_tokens": u.prompt_tokens,
         "completion_tokens": u.completion_tokens, "cost_usd": u.cost_usd, "at": _iso(u.created_at)}
        for u in rows.all()
    ]


async def _flags(session: AsyncSession, user_id: int) -> dict[str, Any] | None:
    row = await session.get(UserFlag, user_id)
    if row is None:
        return None
    return {"dm_unlocked_at": _iso(row.dm_unlocked_at), "strikes": row.strikes or 0,
            "strikes_since": _iso(row.strikes_since), "blocked_until": _iso(row.blocked_until),
            "spoken_replies_off": bool(row.voice_off)}


async def _settings(session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
    rows = await session.scalars(select(Setting).where(Setting.updated_by == user_id).order_by(Setting.id))
    return [
        {"scope": s.scope, "scope_id": str(s.scope_id), "key": s.key, "value": s.value, "at": _iso(s.updated_at)}
        for s in rows.all()
    ]


def summary_line(data: dict[str, Any]) -> str:
    """One sentence saying what an export holds, for the message the file comes with."""
    parts = [
        f"{len(data['messages'])} messages", f"{len(data['conversations_started'])} conversations started",
        f"{len(data['characters'])} characters", f"{len(data['images'])} image records",
        f"{len(data['usage'])} usage records", f"{len(data['audit_events'])} audit events",
    ]
    if data["persona"]:
        parts.append("your persona")
    if data["user_flags"]:
        parts.append("your account flags")
    return "Your data: " + ", ".join(parts) + "."


@dataclass(frozen=True, slots=True)
class ExportFile:
    data: bytes
    filename: str
    compressed: bool


class ExportTooLarge(UserError):
    """Even gzipped, the export is bigger than Discord lets the bot upload here."""


AVATAR_NOTE = "left out to fit Discord's upload limit; /character export gives the card with its avatar"


def encode_export(data: dict[str, Any], *, limit: int, stem: str = "lustify-data") -> ExportFile:
    """JSON written piece by piece into memory; gzipped when it is over `limit` bytes.

    Avatars are the one thing that can be megabytes and barely compress (base64 PNG): when the
    file does not fit even gzipped, they are left out with a note saying where to get them, and
    only if it still does not fit is the user told so.
    """
    packed = _pack(data, limit, stem)
    if packed is None and any(c.get("avatar_png_base64") for c in data.get("characters", [])):
        slim = dict(data, characters=[
            dict(c, avatar_png_base64=None, avatar_png=AVATAR_NOTE) if c.get("avatar_png_base64") else c
            for c in data["characters"]
        ])
        packed = _pack(slim, limit, stem)
    if packed is None:
        raise ExportTooLarge(
            f"Your data is more than Discord lets me upload here ({limit / 1e6:.0f} MB), even compressed. "
            "Deleting old conversations with `/conversation delete` makes it smaller."
        )
    return packed


def _pack(data: dict[str, Any], limit: int, stem: str) -> ExportFile | None:
    buffer = io.BytesIO()
    for chunk in json.JSONEncoder(ensure_ascii=False, indent=1).iterencode(data):
        buffer.write(chunk.encode("utf-8"))
    if buffer.tell() <= limit:
        return ExportFile(buffer.getvalue(), f"{stem}.json", compressed=False)
    packed = io.BytesIO()
    # mtime=0 keeps the archive byte-for-byte reproducible for the same data.
    with gzip.GzipFile(filename=f"{stem}.json", mode="wb", fileobj=packed, mtime=0) as archive:
        archive.write(buffer.getbuffer())
    if packed.tell() > limit:
        return None
    return ExportFile(packed.getvalue(), f"{stem}.json.gz", compressed=True)


# -- deletion -------------------------------------------------------------------------------------


async def delete_user(
    sessions: async_sessionmaker[AsyncSession], user_id: int, *,
    guild_id: int | None = None, channel_id: int | None = None, now: datetime | None = None,
) -> dict[str, int]:
    """Delete what is stored about `user_id` (see the module docstring); returns counts by kind.

    `guild_id`/`channel_id` say where the request was made, for the audit record of it.
    """
    now = now or utcnow()
    counts: dict[str, int] = {}
    async with sessions.begin() as session:
        counts.update(await _delete_conversations(session, user_id))
        counts["cast_entries"] = await cast.forget_user(session, user_id)  # before their characters go
        counts["lore_fired_cleared"] = await _count(session, update(Conversation).where(
            Conversation.character_ref.in_(select(literal("custom:", String) + sql_cast(CharacterRow.id, String))
                                           .where(CharacterRow.owner_id == user_id))
        ).values(lore_fired=[]).execution_options(synchronize_session=False))
        counts["characters"] = await _count(session, delete(CharacterRow).where(CharacterRow.owner_id == user_id))
        counts["persona"] = await _count(session, delete(Persona).where(Persona.user_id == user_id))
        counts.update(await _forget_lorebooks(session, user_id))
        counts["images"] = await _delete_images(session, user_id)
        counts["usage"] = await _count(
            session, delete(Usage).where(Usage.user_id == user_id, Usage.created_at < day_start(now))
        )
        counts["usage_kept_today"] = int(await session.scalar(
            select(func.count()).select_from(Usage).where(Usage.user_id == user_id)
        ) or 0)
        await session.execute(update(Setting).where(Setting.updated_by == user_id).values(updated_by=None))
        counts["audit_details_removed"] = await _count(session, update(AuditEvent).where(
            AuditEvent.user_id == user_id, AuditEvent.kind == "admin").values(detail=ADMIN_DETAIL_REMOVED))
        counts["flags"], counts["block_kept"] = await _settle_flags(session, user_id, now)
        session.add(AuditEvent(
            guild_id=guild_id, channel_id=channel_id, user_id=user_id, kind="privacy", rule="delete",
            detail="data deleted at the user's request", created_at=now,
        ))
    return counts


async def _count(session: AsyncSession, statement: Any) -> int:
    result = await session.execute(statement)
    return int(result.rowcount or 0)


async def _delete_conversations(session: AsyncSession, user_id: int) -> dict[str, int]:
    authored = exists().where(Message.conversation_id == Conversation.id, Message.author_id == user_id)
    others = exists().where(
        Message.conversation_id == Conversation.id, Message.author_id.is_not(None), Message.author_id != user_id
    )
    solo = list((await session.scalars(
        select(Conversation.id).where(
            or_(Conversation.created_by == user_id, and_(Conversation.created_by.is_(None), authored)), ~others
        )
    )).all())
    removed = 0
    for ids in _chunks(solo):
        turn_ids = select(Message.id).where(Message.conversation_id.in_(ids))
        await session.execute(delete(MessageLink).where(MessageLink.message_id.in_(turn_ids)))
        removed += await _count(session, delete(Message).where(Message.conversation_id.in_(ids)))
        await session.execute(delete(Conversation).where(Conversation.id.in_(ids)))

    # Shared conversations: forget the summary and title that carry their words, then their turns.
    folded = exists().where(
        Message.conversation_id == Conversation.id, Message.author_id == user_id,
        Message.id <= Conversation.summary_upto,
    )
    await session.execute(
        update(Conversation).where(Conversation.summary_upto.is_not(None), folded)
        .values(summary="", summary_upto=None).execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(MessageLink).where(MessageLink.message_id.in_(select(Message.id).where(Message.author_id == user_id)))
    )
    blanked = await _count(session, update(Message).where(Message.author_id == user_id).values(
        status="deleted", content="", author_name="", swipes=[], discord_ids=[], author_id=None,
    ))
    unlinked = await _count(
        session, update(Conversation).where(Conversation.created_by == user_id).values(created_by=None)
    )
    return {"conversations": len(solo), "conversation_messages": removed,
            "messages_blanked": blanked, "conversations_unlinked": unlinked}


async def _delete_images(session: AsyncSession, user_id: int) -> int:
    await _blank_derived_images(session, user_id)
    # Unhook children first (theirs and other people's rerolls of theirs), so the delete never
    # depends on how each database orders ON DELETE SET NULL within one statement.
    theirs = select(ImageRecord.id).where(ImageRecord.user_id == user_id)
    await session.execute(
        update(ImageRecord).where(ImageRecord.parent_id.in_(theirs)).values(parent_id=None)
        .execution_options(synchronize_session=False)
    )
    return await _count(session, delete(ImageRecord).where(ImageRecord.user_id == user_id))


async def _blank_derived_images(session: AsyncSession, user_id: int) -> None:
    """Other people's images made from this user's (and from those, down the line) carry the
    user's prompt: blank every prompt in them and mark them deleted."""
    frontier = list((await session.scalars(select(ImageRecord.id).where(ImageRecord.user_id == user_id))).all())
    derived: list[int] = []
    for _ in range(LINEAGE_DEPTH):
        children: list[int] = []
        for ids in _chunks(frontier):
            children += (await session.scalars(select(ImageRecord.id).where(
                ImageRecord.parent_id.in_(ids), ImageRecord.user_id != user_id))).all()
        if not children:
            break
        derived += children
        frontier = children
    for ids in _chunks(derived):
        await session.execute(update(ImageRecord).where(ImageRecord.id.in_(ids)).values(
            user_prompt="", prompt="", negative="", status="deleted").execution_options(synchronize_session=False))


async def _settle_flags(session: AsyncSession, user_id: int, now: datetime) -> tuple[int, int]:
    """(flags removed or cleared, 1 if safety state was kept)."""
    row = await session.get(UserFlag, user_id)
    if row is None:
        return 0, 0
    blocked = row.blocked_until is not None and row.blocked_until > now
    striking = bool(row.strikes) and row.strikes_since is not None and now - row.strikes_since <= STRIKE_WINDOW
    if not (blocked or striking):
        await session.delete(row)
        return 1, 0
    row.dm_unlocked_at = None
    row.voice_off = False
    if not striking:
        row.strikes, row.strikes_since = 0, None
    if not blocked:
        row.blocked_until = None
    return 1, 1


async def purge_deleted_usage(sessions: async_sessionmaker[AsyncSession], *, now: datetime | None = None) -> int:
    """Delete the usage rows a privacy deletion had to keep for the day, once that day is over."""
    now = now or utcnow()
    requested = exists().where(
        AuditEvent.user_id == Usage.user_id, AuditEvent.kind == "privacy", AuditEvent.rule == "delete",
        AuditEvent.created_at >= Usage.created_at,
    )
    async with sessions.begin() as session:
        return await _count(session, delete(Usage).where(Usage.created_at < day_start(now), requested))


INFO = (
    "**What I store, and for how long**\n"
    "• **Conversations**: your messages and the character's replies, so the story continues. "
    "Kept until you delete them (`/conversation delete`, `/privacy delete`).\n"
    "• **Characters and persona** you create: kept until you delete them.\n"
    "• **Images**: the settings of each picture (prompt, model, seed, size), never the picture itself, "
    "so the buttons under it keep working. Kept until you delete them.\n"
    "• **Usage**: counts and costs of your requests, for daily limits. No text.\n"
    "• **Safety log**: when a request was refused or a setting changed: who, where, when and which rule, "
    f"never what was written. Kept {RETENTION.days} days.\n"
    "• **Account flags**: whether you unlocked DM chat, and any safety block.\n"
    "`/privacy export` sends you all of it as a file. `/privacy delete` erases it; a safety block and "
    "today's usage counts stay until they expire, and the safety log until it ages out."
)
