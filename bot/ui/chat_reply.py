"""A reply in Discord: the chat service's `Renderer` over persona messages, and /chat's echo.

`DiscordReply` posts as the character (webhook or embed, `bot.ui.personas`), streams with
throttled edits (`ReplyRenderer`), carries the controls as buttons, and rewrites a reply's old
messages in place (regenerate, swipe, edit). While the reply is prepared it shows "typing…" and
gets the persona webhook ready, so a channel's first reply shows as fast as later ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.chat.render import Controls, Look, OutputCheck
from bot.ui.chat_views import controls_view
from bot.ui.personas import PersonaPoster
from bot.ui.reply_writer import EMPTY, Posted, ReplyRenderer, ReplyWriter

log = logging.getLogger(__name__)

TYPING_EVERY = 8.0  # seconds; Discord shows "typing…" for 10 s per call
ECHO_PATIENCE = 2.0  # seconds before /chat is deferred while its words are still being checked

Acknowledge = Callable[[], Awaitable[int | None]]


async def keep_typing(channel: Any, done: asyncio.Event) -> None:
    """Show "typing…" until the first text of the reply is on screen."""
    while not done.is_set():
        try:
            await channel.typing()
        except (discord.HTTPException, AttributeError) as exc:  # no typing there: not worth failing a reply
            log.debug("typing indicator failed in %s: %s", getattr(channel, "id", "?"), exc)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), TYPING_EVERY)


class DiscordReply:
    """One reply in one channel (`bot.chat.render.Renderer`)."""

    def __init__(self, *, poster: PersonaPoster, channel: Any, edit_interval: float,
                 acknowledge: Acknowledge | None = None, pressed: discord.Message | None = None,
                 typing: bool = False) -> None:
        self.poster = poster
        self.channel = channel
        self.edit_interval = edit_interval
        self.acknowledge = acknowledge
        self.pressed = pressed  # the message whose button was pressed: one of the reply's own
        self.typing = typing
        self.look = Look("Character", None, False)
        self.reuse: list[Posted] = []
        self.writer: ReplyWriter | None = None
        self.stream: ReplyRenderer | None = None
        self._shown = asyncio.Event()
        self._background: list[asyncio.Task[None]] = []

    # -- Renderer -------------------------------------------------------------------------------

    async def prepare(self, look: Look, existing: list[int]) -> None:
        self.look = look
        self.reuse = self._existing(existing)
        if look.webhook:
            self._background.append(asyncio.create_task(self.poster.warm(self.channel), name="chat-webhook-warm"))
        if self.typing and not self._shown.is_set():
            self._background.append(asyncio.create_task(keep_typing(self.channel, self._shown), name="chat-typing"))

    async def cleared(self) -> int | None:
        return await self.acknowledge() if self.acknowledge is not None else None

    async def begin(self, controls: Controls, check: OutputCheck, existing: str = "") -> None:
        self.writer = self._writer(first_view=controls_view(controls))
        self.stream = ReplyRenderer(self.writer, min_interval=self.edit_interval, check=check,
                                    transform=self.look.display)
        if existing:
            await self.stream.feed(existing)

    async def feed(self, delta: str) -> None:
        assert self.stream is not None
        await self.stream.feed(delta)
        if self.writer is not None and self.writer.posted:
            self._shown.set()

    def message_ids(self) -> list[int]:
        return self.writer.message_ids if self.writer is not None else []

    async def finish(self, footer: str | None, controls: Controls) -> list[int]:
        assert self.stream is not None and self.writer is not None
        self.writer.final_view = controls_view(controls)
        await self.stream.finish(footer)
        self._shown.set()
        return await self.writer.finalize()

    async def fail(self, note: str, controls: Controls) -> list[int]:
        assert self.stream is not None and self.writer is not None
        self.writer.final_view = controls_view(controls)
        await self.stream.fail(note)
        self._shown.set()
        return await self.writer.finalize()

    async def show(self, content: str, controls: Controls | None) -> list[int]:
        view = controls_view(controls) if controls is not None else None
        if self.look.display is not None and content:
            content = self.look.display(content, True)
        self._shown.set()
        if self.writer is not None:  # a stream wrote something: replace it without showing held text
            return await self.writer.rewrite(content or EMPTY, view)
        return await self._writer().replace_all(content or EMPTY, view)

    async def remove(self) -> None:
        writer = self._writer()
        for posted in self.reuse:
            await writer.delete(posted)

    async def close(self) -> None:
        self._shown.set()
        for task in self._background:
            if not task.done():
                task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._background, return_exceptions=True)
        self._background.clear()

    # -- plumbing -------------------------------------------------------------------------------

    def _writer(self, *, first_view: discord.ui.View | None = None) -> ReplyWriter:
        return ReplyWriter(poster=self.poster, channel=self.channel, name=self.look.name,
                           avatar_url=self.look.avatar_url, use_webhook=self.look.webhook, first_view=first_view,
                           reuse=list(self.reuse))

    def _existing(self, stored: list[int]) -> list[Posted]:
        """The reply's messages as stored; how they were posted is read from the pressed message.

        The pressed message is the reply's even when it was never linked (a crash between posting
        it and storing its id), since its button carries the reply's id.
        """
        ids = list(stored)
        if self.pressed is not None:
            via_webhook = self.pressed.webhook_id is not None
            if self.pressed.id not in ids:
                ids.append(self.pressed.id)
        else:
            via_webhook = self.look.webhook and getattr(self.channel, "guild", None) is not None
        return [Posted(mid, via_webhook) for mid in ids]


class Echo:
    """/chat's acknowledgement: the person's words as the interaction's answer, once they passed
    the input check. Discord wants an answer within 3 s; when the check takes longer the
    interaction is deferred and the echo then fills that answer in."""

    def __init__(self, interaction: discord.Interaction, text: str, name: str, *,
                 patience: float = ECHO_PATIENCE) -> None:
        self.interaction = interaction
        self.embed = discord.Embed(description=text, colour=discord.Colour.dark_purple())
        self.embed.set_author(name=name, icon_url=interaction.user.display_avatar.url)
        self.message_id: int | None = None
        self._lock = asyncio.Lock()
        self._timer = asyncio.create_task(self._defer_later(patience), name="chat-echo-patience")

    async def __call__(self) -> int | None:
        self._timer.cancel()
        async with self._lock:
            response = self.interaction.response
            if not response.is_done():
                callback = await response.send_message(embed=self.embed)
                self.message_id = callback.message_id or (await self.interaction.original_response()).id
            else:
                self.message_id = (await self.interaction.edit_original_response(embed=self.embed)).id
            return self.message_id

    async def withdraw(self) -> None:
        """Remove the echo (the turn could not be taken after all); quietly if it is gone."""
        self.cancel()
        if self.message_id is not None:
            with contextlib.suppress(discord.HTTPException):
                await self.interaction.delete_original_response()

    def cancel(self) -> None:
        self._timer.cancel()

    async def _defer_later(self, patience: float) -> None:
        await asyncio.sleep(patience)
        async with self._lock:
            if not self.interaction.response.is_done():
                await self.interaction.response.defer(thinking=True)
