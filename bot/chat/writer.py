"""Writes a reply into a Discord channel as the character, for the stream renderer.

It wraps the persona poster (webhook with the character's name and avatar, or an embed author
where webhooks are not possible) and remembers what each message shows, so the buttons can be
attached to the last message at the end without resending text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import discord

from bot.ui.split import split_message

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Posted:
    """A message we wrote: its id and whether a webhook wrote it (needed to edit it later)."""

    message_id: int
    via_webhook: bool
    sent: Any = None  # the poster's own handle, when we have it


@dataclass(slots=True)
class ReplyWriter:
    poster: Any  # bot.ui.personas.PersonaPoster
    channel: Any  # the discord channel (text, voice, thread, DM)
    name: str
    avatar_url: str | None
    use_webhook: bool
    first_view: discord.ui.View | None = None  # e.g. the stop button while streaming
    shown: dict[int, str] = field(default_factory=dict)
    posted: list[Posted] = field(default_factory=list)
    initial: list[Posted] = field(default_factory=list)  # messages to rewrite before sending new ones

    async def send(self, text: str) -> Posted:
        if self.initial:
            reused = self.initial.pop(0)
            await self.edit(reused, text)
            self.posted.append(reused)
            return reused
        view = self.first_view if not self.posted else None
        sent = await self.poster.send(
            self.channel, name=self.name, avatar_url=self.avatar_url, content=text, view=view,
            use_webhook=self.use_webhook,
        )
        posted = Posted(int(sent.message_id), bool(sent.via_webhook), sent)
        self.shown[posted.message_id] = text
        self.posted.append(posted)
        return posted

    async def edit(self, posted: Posted, text: str, view: Any = discord.utils.MISSING) -> None:
        if self.shown.get(posted.message_id) == text and view is discord.utils.MISSING:
            return
        if posted.sent is not None:
            await self.poster.edit(posted.sent, content=text, view=view)
        else:
            await self.poster.edit_by_id(self.channel, posted.message_id, via_webhook=posted.via_webhook,
                                         content=text, view=view)
        self.shown[posted.message_id] = text

    async def finalize(self, view: discord.ui.View | None) -> None:
        """Buttons on the last message only; clear leftover old messages and the stop button."""
        for leftover in self.initial:
            await self.delete(leftover)
        self.initial.clear()
        if not self.posted:
            return
        for posted in self.posted[:-1]:
            if self.first_view is not None and posted is self.posted[0]:
                await self.edit(posted, self.shown.get(posted.message_id, ""), view=None)
        last = self.posted[-1]
        await self.edit(last, self.shown.get(last.message_id, ""), view=view)

    async def replace_all(self, content: str, view: discord.ui.View | None) -> list[int]:
        """Show `content` (split for the limit) in the messages we have, adding or deleting as needed."""
        chunks = split_message(content) or ["*(empty)*"]
        for chunk in chunks:
            await self.send(chunk)
        await self.finalize(view)
        return [p.message_id for p in self.posted]

    async def delete(self, posted: Posted) -> None:
        try:
            await self.poster.delete_by_id(self.channel, posted.message_id, via_webhook=posted.via_webhook)
        except discord.HTTPException as exc:
            log.info("could not delete message %s: %s", posted.message_id, exc)
