"""Who may do what to a reply, and how a reply settles: plain functions over plain values.

Every control under a reply (and the edit form) goes through `check_access`: the reply must be
in the place where the control was used, and the presser must be the person whose turn it was or
a moderator there. Regenerate, continue and swipes also need the latest reply of an active
conversation (`check_latest`).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import UserError

GONE = "That reply no longer exists."
NOT_YOURS = "Only the person who asked for this (or a moderator) can use that button."
NOT_LATEST = "Only the latest reply can be regenerated, continued or swiped."
ARCHIVED = "That conversation is archived: `/conversation resume` brings it back."
STILL_WRITING = "That reply is still being written: wait for it, or press ⏹️ Stop."
NOTHING_TO_CONTINUE = "There is nothing to continue yet: press 🔄 Regenerate instead."
CONVERSATION_GONE = "That conversation was deleted."
NOT_YOUR_CONVERSATION = "Only the person who started that conversation, or a moderator, can delete it."
EDIT_MAX = 4000  # a Discord form's text input holds at most 4,000 characters
EDIT_EMPTY = "The reply can't be empty: use 🗑️ Delete to remove it."


def owner_of(asked_by: int | None, started_by: int | None) -> int | None:
    """Whose turn a reply was: the author of the message it answers, else who started the
    conversation (a greeting answers nobody). None: nobody in particular."""
    return asked_by if asked_by is not None else started_by


def may_press(user_id: int | None, owner_id: int | None, *, moderator: bool) -> bool:
    """The owner or a moderator may use a reply's controls; a reply nobody owns, anyone."""
    return owner_id is None or user_id == owner_id or moderator


def in_place(channel_id: int, guild_id: int | None, *, where_channel: int | None, where_guild: int | None) -> bool:
    """Is the conversation (channel, guild) the place where the control was used?

    Custom ids carry sequential reply ids, so a forged id must not reach another channel's reply.
    """
    return channel_id == where_channel and guild_id == where_guild


def check_access(*, reply_exists: bool, channel_id: int, guild_id: int | None, owner_id: int | None,
                 user_id: int | None, where_channel: int | None, where_guild: int | None, moderator: bool) -> None:
    """Raise UserError unless this person may use this reply's controls here."""
    if not reply_exists or not in_place(channel_id, guild_id, where_channel=where_channel, where_guild=where_guild):
        raise UserError(GONE)
    if not may_press(user_id, owner_id, moderator=moderator):
        raise UserError(NOT_YOURS)


def check_latest(*, archived: bool, latest_id: int | None, reply_id: int, streaming: bool) -> None:
    """Regenerate, continue and swipes work on the latest reply of an active conversation only."""
    if archived:
        raise UserError(ARCHIVED)
    if latest_id != reply_id:
        raise UserError(NOT_LATEST)
    if streaming:
        raise UserError(STILL_WRITING)


def may_delete_conversation(started_by: int | None, user_id: int, *, moderator: bool) -> bool:
    return started_by in (None, user_id) or moderator


def check_edit(text: str) -> str:
    """The edited reply as it will be stored, or UserError (the form limits length; a forged
    submission must not get past it)."""
    text = text.strip()
    if not text:
        raise UserError(EDIT_EMPTY)
    if len(text) > EDIT_MAX:
        raise UserError(f"That's too long: an edited reply can be at most {EDIT_MAX:,} characters.")
    return text


@dataclass(frozen=True, slots=True)
class Settled:
    """A reply as it is stored once its stream ended."""

    content: str
    swipes: list[str]
    swipe_index: int
    status: str  # complete | cut | failed


def settle(swipes: list[str], swipe_index: int, content: str, status: str) -> Settled:
    """The stream's text becomes the current swipe; a regenerate that produced nothing (failed,
    withheld) drops its empty swipe and shows the previous one again."""
    swipes = list(swipes or [""])
    index = min(swipe_index, len(swipes) - 1)
    if status == "failed" and len(swipes) > 1 and not content:
        swipes.pop(index)
        index = len(swipes) - 1
        return Settled(swipes[index], swipes, index, "complete")
    swipes[index] = content
    return Settled(content, swipes, index, status)
