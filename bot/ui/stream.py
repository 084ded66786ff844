"""Stream a reply into Discord messages by editing them, the way llmcord does.

The first text shows as soon as it arrives; after that each flush is at least `min_interval` apart,
so Discord's edit rate limit is never the bottleneck. While the reply is being written it carries a
visible marker; past the message limit the current message is finalised at a natural boundary and
the reply continues in a new one. Discord itself is not imported: the caller injects `send` and
`edit` callables (and the clock), which keeps this testable with recorded calls and a fake clock.

Before every write the injected `check` is awaited with all the text that will then be visible
(the model's text, without the marker): nothing is written until it answers, and once it says no,
nothing more is written and `feed`, `finish` and `fail` raise `Withheld`. The check may take a
while (the judge): the write shows exactly the text it cleared, never what arrived meanwhile, and
no other write starts before it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.chat.render import DisplayTransform, OutputCheck, Withheld
from bot.ui.split import DISCORD_LIMIT, FENCE, StreamSplitter, open_fence, split_message

log = logging.getLogger(__name__)

Handle = Any
SendFn = Callable[[str], Awaitable[Handle]]
EditFn = Callable[[Handle, str], Awaitable[None]]

_CLOSE = "\n" + FENCE
# A subtext line (Discord's "-# ") reads as status rather than as part of the reply.
DEFAULT_MARKER = "\n-# ✍️ writing…"
EMPTY_REPLY = "*(The reply came back empty. Try again or regenerate.)*"


async def _anything_goes(_text: str) -> bool:
    return True


def held_back(text: str) -> str:
    """`text` without its last word (what a streaming write shows; the final write shows all)."""
    body = text.rstrip()
    cut = max(body.rfind(" "), body.rfind("\n"), body.rfind("\t"))
    return body[: cut + 1] if cut >= 0 else ""


class StreamRenderer:
    """Drives one streamed reply into one or more messages.

    Call `feed` with each delta, then `finish` (or `fail`) once. `feed` never sleeps: a delta that
    arrives inside the throttle window is shown by a background flush when the window ends, or by
    the next `feed`/`finish`, whichever comes first. `calls` counts sends plus edits.
    """

    def __init__(
        self,
        send: SendFn,
        edit: EditFn,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        min_interval: float = 1.0,
        limit: int = DISCORD_LIMIT,
        marker: str = DEFAULT_MARKER,
        initial: Handle | None = None,
        check: OutputCheck = _anything_goes,
        hold_last_word: bool = False,
        transform: DisplayTransform | None = None,
    ) -> None:
        self._send = send
        self._edit = edit
        self._clock = clock
        self._sleep = sleep
        self.min_interval = min_interval
        self.limit = limit
        self.marker = marker
        # Roll over only past the full limit, so streamed messages break exactly where
        # `split_message` would break the finished text; `_with_marker` makes room for the marker.
        self._splitter = StreamSplitter(limit)
        self._parts: list[str] = []
        self._handles: list[Handle] = []
        # The message being written: the injected initial handle (a deferred interaction response)
        # until the first flush, then always the last entry of `_handles`.
        self._current: Handle | None = initial
        self._shown = ""  # what `_current` shows now, to skip edits that change nothing
        self._finalised = 0  # how many of the splitter's chunks already have their own message
        self._last_flush: float | None = None
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self._timer_sleeping = False
        self._timer_error: BaseException | None = None
        self._done = False
        self._check = check
        self.hold_last_word = hold_last_word  # streaming writes show all but the last word
        self._transform = transform  # what is shown of the text (a card's display scripts), if anything
        self.withheld = False  # the check refused: nothing more is written
        self.calls = 0

    @property
    def text(self) -> str:
        """Everything received so far."""
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    def visible(self, final: bool = False) -> str:
        """What is shown of the text so far: all of it, or what the display transform makes of it
        (while streaming, a block it hides once closed is held back until then)."""
        return self._transform(self.text, final) if self._transform is not None else self.text

    @property
    def handles(self) -> list[Handle]:
        """The messages written so far, oldest first."""
        return list(self._handles)

    async def feed(self, delta: str) -> None:
        """Take the next piece of the reply; shows it now or soon, never blocking on a timer."""
        if self._done:
            raise RuntimeError("feed() after finish()")
        self._raise_timer_error()
        if self.withheld:
            raise Withheld
        if not delta:
            return
        self._parts.append(delta)
        if self._last_flush is None:
            if self.visible().strip():  # the first visible text shows at once
                await self._flush()
                if self.withheld:
                    raise Withheld
            return
        wait = self._last_flush + self.min_interval - self._clock()
        if wait <= 0:
            await self._flush()
            if self.withheld:
                raise Withheld
        elif self._timer is None:
            self._timer_sleeping = True
            self._timer = asyncio.create_task(self._flush_later(self._clock() + wait))

    async def finish(self, final_footer: str | None = None) -> list[Handle]:
        """Write the final text (no marker, split for the limit, optional footer); return all handles.

        The caller attaches its buttons to the last handle.
        """

        def compose(rest: str) -> str:
            if not self.visible(final=True).strip():
                rest = EMPTY_REPLY
            if final_footer:
                return f"{rest}\n{final_footer}" if rest else final_footer
            return rest

        return await self._close(compose)

    async def fail(self, note: str) -> list[Handle]:
        """Keep what arrived and say, in italics, why the reply stopped; return all handles."""

        def compose(rest: str) -> str:
            if not self.visible(final=True).strip():
                return f"*({note})*"
            if not rest:
                return f"*(cut off: {note})*"
            closing = _CLOSE if open_fence(rest) is not None else ""
            return f"{rest}{closing}\n*(cut off: {note})*"

        return await self._close(compose)

    async def _close(self, compose: Callable[[str], str]) -> list[Handle]:
        """Final render: finalise full chunks, then write `compose(unfinalised rest)` without marker."""
        if self._done:
            raise RuntimeError("the stream is already finished")
        self._done = True
        await self._stop_timer()
        async with self._lock:
            text = self.visible(final=True)
            if self.withheld or not await self._allowed(text):
                raise Withheld
            chunks, tail = self._splitter.update(text)
            await self._roll_over(chunks)
            # Only the rest is re-split: finalised messages are already on screen as they are.
            for i, chunk in enumerate(split_message(compose(tail.rstrip()), self.limit)):
                if i > 0:
                    self._current = None
                await self._show(chunk)
        return list(self._handles)

    async def _flush(self) -> None:
        """Bring the messages up to date with the text received so far."""
        async with self._lock:
            if self._done:
                return
            # (The millisecond of slack keeps a timer that wakes a hair early from skipping its flush.)
            if self._last_flush is not None and self._clock() - self._last_flush < self.min_interval - 1e-3:
                # Another flush finished while this one waited for the lock (a feed arrived during
                # a background flush's edit): show this text in the next window, not right away.
                if self._timer is None:
                    self._timer_sleeping = True
                    self._timer = asyncio.create_task(self._flush_later(self._last_flush + self.min_interval))
                return
            # A snapshot: more text may arrive while the check runs, and only what it cleared is shown.
            # With `hold_last_word`, the last word is held back while streaming: a phrase cut at the
            # stream's edge ("she is 14 years" before "old") is checked whole with the word after it
            # before any of it shows. Both the text that arrived and the part shown must pass.
            text = self.visible()
            shown = held_back(text) if self.hold_last_word else text
            if self.withheld or not await self._allowed(text):
                return
            if shown != text and not await self._allowed(shown):
                return
            if not shown.strip():
                return  # one word so far: nothing to show yet, and the next feed tries again at once
            chunks, tail = self._splitter.update(shown)
            await self._roll_over(chunks)
            if tail.strip():
                await self._show(self._with_marker(tail))
            self._last_flush = self._clock()

    async def _allowed(self, text: str) -> bool:
        """Ask the check about `text`, everything that will be visible after this write."""
        if not await self._check(text):
            self.withheld = True
        return not self.withheld

    def _with_marker(self, tail: str) -> str:
        """The tail as shown while streaming: code block closed, marker appended.

        Just before a roll-over the tail can be too long to carry the marker; then its last few
        words are held back for a moment (they appear in the next edit), rather than the marker.
        """
        room = self.limit - len(self.marker) - len(_CLOSE)
        if len(tail) > room:
            cut = tail.rfind(" ", room // 2, room)
            tail = tail[: cut if cut > 0 else room].rstrip()
        closing = _CLOSE if open_fence(tail) is not None else ""
        return tail + closing + self.marker

    async def _roll_over(self, chunks: list[str]) -> None:
        """Finalise the current message with each newly completed chunk and move to a new one."""
        for chunk in chunks[self._finalised :]:
            await self._show(chunk)
            self._current = None
            self._finalised += 1

    async def _show(self, content: str) -> None:
        """Edit the current message to `content`, or send a new one when there is none."""
        if self._current is None:
            self._current = await self._send(content)
            self._handles.append(self._current)
            self.calls += 1
        else:
            if not self._handles:  # the injected initial handle becomes the first message
                self._handles.append(self._current)
            if content != self._shown:
                await self._edit(self._current, content)
                self.calls += 1
        self._shown = content

    async def _flush_later(self, deadline: float) -> None:
        """Background flush at the end of the throttle window, for deltas nobody followed up."""
        try:
            # The deadline is absolute: the task may start a little after it was scheduled.
            await self._sleep(max(0.0, deadline - self._clock()))
            self._timer_sleeping = False
            await self._flush()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # raised by the next feed, where the producer can stop streaming
            self._timer_error = exc
        finally:
            self._timer = None

    async def _stop_timer(self) -> None:
        """Drop a pending background flush; one already editing is awaited, not cut off mid-request."""
        timer = self._timer
        if timer is not None:
            if self._timer_sleeping:
                timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        if self._timer_error is not None:
            # The final render is about to edit the same messages: if the failure persists it
            # raises there; if it was transient (a 5xx, a timeout) the reply still completes.
            log.warning("a streaming edit failed; trying the final render anyway: %r", self._timer_error)
            self._timer_error = None

    def _raise_timer_error(self) -> None:
        if self._timer_error is not None:
            error, self._timer_error = self._timer_error, None
            raise error
