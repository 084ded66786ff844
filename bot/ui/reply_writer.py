"""Writes a reply into a Discord channel as the character, for the stream renderer.

It wraps the persona poster (a webhook with the character's name and avatar, or an embed author
where webhooks are not possible) and remembers what each message shows and whether it carries
buttons, so that:
- while streaming, only the first message carries the stop button;
- the last write of the stream and the buttons go out as one edit (`ReplyRenderer` tells the
  writer when the stream is closing; the closing writes are held back for `finalize`);
- an existing reply (regenerate, swipe, continue, edit) rewrites its own messages in place,
  sending or deleting messages only when the new text needs more or fewer of them;
- a message deleted in Discord while it streams stays deleted, and one deleted before a rewrite
  is posted again (with the messages after it, so the reply still reads top to bottom);
- `ReplyRenderer` shows whole words only, so a word cut in half can neither slip past the output
  check (which `StreamRenderer` awaits before every write, §5) nor be read half-written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import discord
from discord.utils import MISSING

from bot.ui.split import split_message
from bot.ui.stream import StreamRenderer

log = logging.getLogger(__name__)

EMPTY = "*(empty)*"
LONGEST_WORD = 40  # text without spaces (some scripts have none) is shown anyway past this


@dataclass(slots=True, eq=False)
class Posted:
    """A message of the reply: its id, how it was posted, what it shows, and whether it has buttons."""

    message_id: int
    via_webhook: bool
    sent: Any = None  # the poster's `Sent`, when this process posted it (edits need no lookup)
    text: str | None = None  # None: unknown (a message from before a restart)
    buttons: bool = True  # unknown counts as "may have buttons", so they are cleared when needed
    pending: str | None = None  # text of a closing write held back for `finalize`
    final: bool = False  # sent while closing, with the final buttons already on it
    gone: bool = False  # deleted in Discord while the reply was being written


@dataclass(slots=True)
class ReplyWriter:
    poster: Any  # bot.ui.personas.PersonaPoster
    channel: Any  # a messageable: text, voice, thread, forum post or DM
    name: str
    avatar_url: str | None
    use_webhook: bool
    first_view: discord.ui.View | None = None  # the stop button while streaming
    final_view: discord.ui.View | None = None  # the buttons under the finished reply
    reuse: list[Posted] = field(default_factory=list)  # the reply's old messages, rewritten first
    posted: list[Posted] = field(default_factory=list)
    closing: bool = False

    @property
    def message_ids(self) -> list[int]:
        return [p.message_id for p in self.posted if not p.gone]

    # -- the renderer's callables ---------------------------------------------------------------

    async def send(self, text: str) -> Posted:
        """The next message of the reply: an old one rewritten, or a new one."""
        # While closing, a new message is likely the last: it gets the final buttons now, saving
        # an edit in `finalize`. While streaming, only the first message carries the stop button.
        view = self.final_view if self.closing else (None if self.posted else self.first_view)
        if self.reuse:
            posted = self.reuse.pop(0)
            await self._write(posted, text, view, repost=True)
        else:
            posted = await self._post(text, view)
        posted.final = self.closing
        self.posted.append(posted)
        return posted

    async def edit(self, posted: Posted, text: str) -> None:
        if self.closing:
            posted.pending = text  # written with the buttons in `finalize`, as one edit
            return
        if posted.text != text:
            await self._write(posted, text, MISSING)

    # -- ending a reply ---------------------------------------------------------------------------

    async def finalize(self) -> list[int]:
        """The final buttons on the last message only, held-back text written, unused messages deleted."""
        await self._drop_unused()
        for i, posted in enumerate(self.posted):
            last = i == len(self.posted) - 1
            text = posted.pending if posted.pending is not None else posted.text
            if last and not (posted.final and posted.pending is None):
                await self._write(posted, text or EMPTY, self.final_view)
            elif not last and (posted.pending is not None or posted.buttons):
                await self._write(posted, text or EMPTY, None)
            posted.pending = None
        return self.message_ids

    async def replace_all(self, content: str, view: discord.ui.View | None) -> list[int]:
        """Show `content` (split for the limit) in the reply's messages, buttons on the last."""
        chunks = split_message(content) or [EMPTY]
        for i, chunk in enumerate(chunks):
            chunk_view = view if i == len(chunks) - 1 else None
            if self.reuse:
                posted = self.reuse.pop(0)
                await self._write(posted, chunk, chunk_view, repost=True)
            else:
                posted = await self._post(chunk, chunk_view)
            self.posted.append(posted)
        await self._drop_unused()
        return self.message_ids

    async def rewrite(self, content: str, view: discord.ui.View | None) -> list[int]:
        """Replace what the stream wrote (e.g. withheld output) without showing held-back text."""
        self.reuse = [*self.posted, *self.reuse]
        self.posted = []
        for posted in self.reuse:
            posted.pending = None
            posted.gone = False  # shown again: `_write` posts it anew if it was deleted
        return await self.replace_all(content, view)

    async def delete(self, posted: Posted) -> None:
        try:
            await self.poster.delete_by_id(self.channel, posted.message_id, posted.via_webhook)
        except discord.HTTPException as exc:
            log.info("could not delete message %s: %s", posted.message_id, exc)

    # -- plumbing ---------------------------------------------------------------------------------

    async def _post(self, text: str, view: discord.ui.View | None) -> Posted:
        sent = await self.poster.send(
            self.channel, name=self.name, avatar_url=self.avatar_url, content=text, view=view,
            use_webhook=self.use_webhook,
        )
        return Posted(int(sent.message_id), bool(sent.via_webhook), sent, text, view is not None)

    async def _write(self, posted: Posted, text: str, view: Any, *, repost: bool = False) -> None:
        """Edit one message; `view` MISSING keeps its buttons, None removes them.

        A message someone deleted in Discord stays deleted while a reply streams (a moderator may
        have meant it); when an old reply is rewritten on request (`repost`), it is posted anew.
        """
        if posted.gone and not repost:
            return
        try:
            if posted.sent is not None:
                await self.poster.edit(posted.sent, content=text, view=view)
                posted.message_id = int(posted.sent.message_id)  # a vanished webhook means a new message
            else:
                await self.poster.edit_by_id(self.channel, posted.message_id, posted.via_webhook, text, view,
                                             name=self.name, avatar_url=self.avatar_url)
        except discord.NotFound:
            if not repost:
                log.info("message %s was deleted while being written; leaving it deleted", posted.message_id)
                posted.gone = True
                return
            # A new message lands below the reply's later ones: those go too, and are posted anew
            # after this one, so the reply still reads top to bottom.
            await self._drop_unused()
            fresh = await self._post(text, None if view is MISSING else view)
            posted.message_id, posted.via_webhook, posted.sent = fresh.message_id, fresh.via_webhook, fresh.sent
            posted.gone = False
        posted.text = text
        if view is not MISSING:
            posted.buttons = view is not None

    async def _drop_unused(self) -> None:
        for leftover in self.reuse:
            await self.delete(leftover)
        self.reuse.clear()


class ReplyRenderer(StreamRenderer):
    """The stream renderer over a `ReplyWriter`: whole words only, and it tells the writer when the
    last writes begin."""

    def __init__(self, writer: ReplyWriter, **kwargs: Any) -> None:  # StreamRenderer's options, `check` too
        # The last whole word is held back too while streaming, so a phrase cut at the stream's
        # edge is screened with the word after it before any of it is visible.
        kwargs.setdefault("hold_last_word", True)
        super().__init__(writer.send, writer.edit, **kwargs)
        self.writer = writer
        self._held = ""  # the end of the text so far, which may be a word still arriving

    async def feed(self, delta: str) -> None:
        piece = self._held + delta
        cut = max(piece.rfind(" "), piece.rfind("\n"))
        if cut < 0 and len(piece) <= LONGEST_WORD:
            self._held = piece
            return
        cut = len(piece) - 1 if cut < 0 else cut
        self._held = piece[cut + 1 :]
        await super().feed(piece[: cut + 1])

    async def finish(self, final_footer: str | None = None) -> list[Any]:
        await self._closing()
        return await super().finish(final_footer)

    async def fail(self, note: str) -> list[Any]:
        await self._closing()
        return await super().fail(note)

    async def _closing(self) -> None:
        self.writer.closing = True  # from here on, writes wait for `finalize` (one edit with the buttons)
        held, self._held = self._held, ""
        if held:
            await super().feed(held)
