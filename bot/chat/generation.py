"""Streaming one reply: Venice into a renderer, the input check beside it, then storing the result.

Order of a reply, and why:
1. Venice is asked at once; the person's words are checked at the same time (`clearing`, a task
   the turn started). Nothing of the reply is shown before that check has cleared; a refusal
   stops the generation (even while Venice has not answered yet) and the turn is not kept.
2. Every write of model text passes the output check first (the renderer awaits it, so while the
   judge reads a text nothing more is written); a refusal withholds the whole reply, which is then
   replaced by a notice and stored as failed. The check audits it (never a strike: the model
   wrote it); a judge that could not answer withholds it too, with "regenerate to try again".
3. The reply settles (complete, cut, failed) in one transaction with its user turn, and what
   Venice reported it cost is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.chat import rules
from bot.chat.prompt import Prompt
from bot.chat.render import Controls, Renderer, Withheld
from bot.chat.scenes import Scene
from bot.chat.screening import ChatScreen
from bot.chat.tokens import TokenCalibrator, estimate
from bot.judge import JudgeContext
from bot.limits import Limits
from bot.policy import Background, Decision
from bot.store.conversations import Conversations, TurnRow
from bot.venice.client import VeniceClient
from bot.venice.errors import VeniceError
from bot.venice.types import StreamDelta, StreamEnd
from bot.where import Where

log = logging.getLogger(__name__)

WITHHELD = "*(This reply was withheld: it broke the content policy. Regenerate to try again.)*"
UNCHECKED = "*(This reply couldn't be checked right now, so it was withheld. Regenerate to try again.)*"
LENGTH_NOTE = "-# The reply reached its length limit: press ➡️ Continue for more."
STOPPED = "stopped"
REFUSED = "refused"


@dataclass(slots=True)
class Outcome:
    """How a reply ended. `reply` is the reply as stored; `status` is complete, cut or failed."""

    reply: TurnRow
    text: str
    status: str
    note: str | None = None
    notice: str | None = None  # e.g. "only the last N messages fit"
    withheld: bool = False  # the output broke the policy: a notice replaced it


class OutputGate:
    """The output check for one reply, remembering its last answer (the renderer and the final
    check often ask about the same text) and why it withheld the reply, if it did.

    `background` is the judge's context for this reply (or an async callable building it, awaited
    only when stage 1 hands a text to the judge).
    """

    def __init__(self, screen: ChatScreen, where: Where, background: Background = None) -> None:
        self.screen = screen
        self.where = where.at("chat output")
        self.background = background
        self.refusal: Decision | None = None
        self._last: tuple[str, bool] | None = None
        self._context: JudgeContext | None = None
        self._lock = asyncio.Lock()

    async def check(self, text: str) -> bool:
        # One check at a time (a background flush and the end of the stream may ask together):
        # the second sees the first's answer, so a refusal is audited once.
        async with self._lock:
            if self.refusal is not None:
                return False  # a withheld reply stays withheld
            if self._last is not None and self._last[0] == text:
                return self._last[1]
            decision = await self.screen.check_output(text, self.where, background=self._judge_context)
            if not decision.allowed:
                self.refusal = decision
            self._last = (text, decision.allowed)
            return decision.allowed

    async def _judge_context(self) -> JudgeContext:
        """The reply's context, built once (only if the judge is asked), however many edits it reads."""
        if self._context is None:
            background = self.background
            self._context = (await background() if callable(background) else background) or JudgeContext()
        return self._context

    @property
    def notice(self) -> str:
        """What replaces a withheld reply: it broke the policy, or it could not be checked."""
        return UNCHECKED if self.refusal is not None and self.refusal.unavailable else WITHHELD


class Generator:
    """Runs replies; knows which ones are streaming, for the stop button."""

    def __init__(self, *, venice: VeniceClient, limits: Limits, conversations: Conversations) -> None:
        self.venice = venice
        self.limits = limits
        self.conversations = conversations
        self.calibrators: dict[str, TokenCalibrator] = {}
        self._running: dict[int, asyncio.Task[object]] = {}  # reply id -> the task streaming it
        self._waiting_on_venice: set[int] = set()  # replies whose task may be cancelled right now
        self._stop_asked: set[int] = set()

    # -- stop ---------------------------------------------------------------------------------------

    def stop(self, reply_id: int) -> bool:
        """Stop a streaming reply; what arrived is kept. False when nothing was streaming it.

        The task is cancelled only while it waits for Venice; otherwise it stops after the write
        in progress, so a Discord message or a database row is never left half-made.
        """
        task = self._running.get(reply_id)
        if task is None or task.done():
            return False
        self._stop_asked.add(reply_id)
        if reply_id in self._waiting_on_venice:
            task.cancel(STOPPED)
        return True

    def is_streaming(self, reply_id: int) -> bool:
        task = self._running.get(reply_id)
        return task is not None and not task.done()

    # -- one reply ----------------------------------------------------------------------------------

    async def run(
        self, *, scene: Scene, where: Where, reply: TurnRow, prompt: Prompt, renderer: Renderer, gate: OutputGate,
        existing: str = "", clearing: asyncio.Task[int | None] | None = None, new_turn: bool = False,
        stop: list[str] | None = None,
    ) -> Outcome:
        """Stream Venice into `renderer`, then store the result. Never raises for Venice failures.

        `clearing` is the input check of a new turn (`new_turn`): what it raises (a refusal) is
        raised here, after the turn's rows are discarded; nothing of the reply was shown. `stop`:
        stop sequences (a group scene stops at the other speakers' names).
        """
        task = asyncio.current_task()
        assert task is not None
        self._running[reply.id] = task
        out = _Streamed(existing)
        try:
            await self._stream(scene, where, reply, prompt, renderer, gate, task, out, clearing, stop)
        except BaseException:
            if clearing is not None and not clearing.done():
                clearing.cancel()
            if new_turn and out.refused:  # the words may not be used: they never become history
                await asyncio.shield(self._discard(reply))
            raise
        finally:
            self._running.pop(reply.id, None)
            self._stop_asked.discard(reply.id)
        if not out.begun:
            await renderer.begin(Controls(reply.id, streaming=True), gate.check, existing)
        return await self._settle(scene, where, reply, prompt, renderer, out, gate, new_turn=new_turn)

    async def _stream(
        self, scene: Scene, where: Where, reply: TurnRow, prompt: Prompt, renderer: Renderer, gate: OutputGate,
        task: asyncio.Task[object], out: _Streamed, clearing: asyncio.Task[int | None] | None,
        stop: list[str] | None = None,
    ) -> None:
        cleared = clearing is None
        if clearing is not None:
            clearing.add_done_callback(self._stops_on_refusal(reply.id, task))
        try:
            async with contextlib.aclosing(self.venice.chat_stream(
                prompt.messages, model=scene.model, max_tokens=scene.reply_tokens,
                character_slug=scene.character.venice_slug, stop=stop or None,
            )) as events:
                while True:
                    if reply.id in self._stop_asked:
                        raise _Stopped
                    self._waiting_on_venice.add(reply.id)
                    try:
                        event = await anext(events)
                    except StopAsyncIteration:
                        break
                    finally:
                        self._waiting_on_venice.discard(reply.id)
                    if isinstance(event, StreamEnd):
                        out.end = event
                        continue
                    assert isinstance(event, StreamDelta)
                    out.text += event.text
                    if not cleared:
                        out.origin, cleared = await _cleared(clearing, out), True
                    if not out.begun:
                        await renderer.begin(Controls(reply.id, streaming=True), gate.check, out.existing)
                        out.begun = True
                    await renderer.feed(event.text)
                    if not out.linked and renderer.message_ids():
                        await self._link_first(where, reply, renderer, out)
            if not cleared:
                out.origin, cleared = await _cleared(clearing, out), True
            if not await gate.check(out.text):
                raise Withheld
        except asyncio.CancelledError as exc:
            reason = exc.args[0] if exc.args else None
            if reason not in (STOPPED, REFUSED):
                raise  # shutdown, not the stop button or a refusal
            task.uncancel()
            out.status, out.note = _stopped(out.text)
        except _Stopped:
            out.status, out.note = _stopped(out.text)
        except Withheld:
            out.status = "withheld"
        except VeniceError as exc:  # including Venice's own content flags: nothing flagged is shown
            out.status = "cut" if out.text.strip() else "failed"
            out.note = exc.user_message
        if not cleared:  # stopped, refused or failed before the input check answered: it decides
            out.origin = await _cleared(clearing, out)

    def _stops_on_refusal(self, reply_id: int, task: asyncio.Task[object]) -> Callable[[asyncio.Task[object]], None]:
        """A refusal that arrives while Venice is still thinking stops the generation at once."""

        def done(clearing: asyncio.Task[object]) -> None:
            if clearing.cancelled() or clearing.exception() is None:
                return
            if reply_id in self._waiting_on_venice and not task.done():
                task.cancel(REFUSED)

        return done

    async def _discard(self, reply: TurnRow) -> None:
        ids = [reply.id] + ([reply.reply_to] if reply.reply_to is not None else [])
        await self.conversations.discard(*ids)

    async def _link_first(self, where: Where, reply: TurnRow, renderer: Renderer, out: _Streamed) -> None:
        """The reply's first message (and the message showing the person's words) lead to the turn
        from the moment they exist: a reply to it, or a crash mid-stream, finds the stored turn."""
        links = [(renderer.message_ids()[0], reply.id)]
        if out.origin is not None and reply.reply_to is not None:
            links.append((out.origin, reply.reply_to))
        assert where.channel_id is not None
        await self.conversations.link(where.channel_id, links)
        out.linked = {discord_id for discord_id, _ in links}

    async def _settle(self, scene: Scene, where: Where, reply: TurnRow, prompt: Prompt, renderer: Renderer,
                      out: _Streamed, gate: OutputGate, *, new_turn: bool) -> Outcome:
        text, status, note, end = scene.stored(out.text), out.status, out.note, out.end  # regex scripts
        withheld = status == "withheld"
        ids: list[int] = []
        if not withheld and status == "complete":
            settled = rules.settle(reply.swipes, reply.swipe_index, text, "complete")
            lines = [LENGTH_NOTE] if end is not None and end.finish_reason == "length" else []
            if prompt.notice:  # say plainly what the model did not see
                lines.append(f"-# {prompt.notice}")
            try:
                ids = await renderer.finish("\n".join(lines) or None, self.controls(settled, reply, scene))
            except Withheld:
                withheld = True
        if not withheld and status not in ("complete", "withheld"):
            settled = rules.settle(reply.swipes, reply.swipe_index, text, status)
            controls = self.controls(settled, reply, scene)
            if status == "failed" and settled.status == "complete":
                # A regenerate that failed before any text: the previous swipe is shown again.
                shown = settled.content + (f"\n-# Regenerating failed: {note}" if note else "")
                ids = await renderer.show(shown, controls)
            else:
                try:
                    ids = await renderer.fail(note or "interrupted", controls)
                except Withheld:  # what arrived before the failure breaks the policy
                    withheld = True
        if withheld:
            settled = rules.settle(reply.swipes, reply.swipe_index, "", "failed")
            # (The gate audited the refusal when it made it: who, where, which rule; never a strike.)
            ids = await renderer.show(gate.notice, self.controls(settled, reply, scene))
            text, status, note = "", "failed", gate.notice
        assert where.channel_id is not None
        new_links = [(i, reply.id) for i in ids if i not in out.linked]
        if out.origin is not None and out.origin not in out.linked and reply.reply_to is not None:
            new_links.append((out.origin, reply.reply_to))
        stored = await self.conversations.finish_turn(
            reply, content=settled.content, swipes=settled.swipes, swipe_index=settled.swipe_index,
            status=settled.status, character_name=scene.character.name,
            finish_reason=end.finish_reason if end else status, tokens=estimate(settled.content), discord_ids=ids,
            channel_id=where.channel_id, new_links=new_links, origin=out.origin, settle_user=new_turn,
            lore_state=prompt.lore_state.to_json(), lore_fired=prompt.lore_names,
        )
        if stored.status != "deleted":  # the scene's cached conversation plays on from this state
            scene.conversation.lore_state = prompt.lore_state.to_json()
            scene.conversation.lore_fired = list(prompt.lore_names)
        await self._record(scene, where, prompt, text, end)
        return Outcome(stored, text, status, note, prompt.notice, withheld)

    @staticmethod
    def controls(settled: rules.Settled, reply: TurnRow, scene: Scene) -> Controls:
        return Controls(reply.id, settled.swipe_index, len(settled.swipes), latest=True, pictures=scene.images,
                        cast=scene.cast)

    async def _record(self, scene: Scene, where: Where, prompt: Prompt, text: str, end: StreamEnd | None) -> None:
        if end is not None and end.usage is not None:
            self.calibrators.setdefault(scene.model, TokenCalibrator()).observe(
                prompt.estimated_tokens, end.usage.prompt_tokens)
        if end is None and not text:
            return  # Only what Venice answered counts: an outage must not use up anyone's messages.
        assert where.user_id is not None
        await self.limits.record(
            user_id=where.user_id, guild_id=where.guild_id, kind="chat",
            prompt_tokens=end.usage.prompt_tokens if end and end.usage else prompt.estimated_tokens,
            completion_tokens=end.usage.completion_tokens if end and end.usage else estimate(text),
            cost_usd=(end.cost.usd or 0.0) if end and end.cost else 0.0,
            at_release=True,  # the turn releases its reservation next: one UPDATE books and ends it
        )


@dataclass(slots=True)
class _Streamed:
    """What a stream produced, and how far rendering got."""

    existing: str
    text: str = ""
    status: str = "complete"  # complete | cut | failed | withheld
    note: str | None = None
    end: StreamEnd | None = None
    origin: int | None = None  # the message showing the person's words, once acknowledged
    begun: bool = False
    linked: set[int] = field(default_factory=set)
    refused: bool = False  # the input check (or its acknowledgement) failed: the turn is not kept

    def __post_init__(self) -> None:
        self.text = self.existing


async def _cleared(clearing: asyncio.Task[int | None] | None, out: _Streamed) -> int | None:
    """Wait for the input check (and the acknowledgement it triggers); raises its refusal."""
    if clearing is None:
        return None
    try:
        return await clearing
    except Exception:
        out.refused = True
        raise


class _Stopped(Exception):
    """The stop button was pressed while the stream was not waiting for Venice."""


def _stopped(text: str) -> tuple[str, str]:
    return ("cut", "stopped") if text.strip() else ("failed", "stopped before any text arrived")
