"""The conversation engine: one turn at a time per channel, streamed, stored, summarised.

It knows nothing of Discord. The cog hands it a `StreamRenderer` (which writes into Discord) and
gets back what happened; everything else — which conversation, which character, what the model
sees, what is stored, what it cost — is decided here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot import policy
from bot.characters.lore_state import LoreState
from bot.characters.model import DEFAULT_CHARACTER, Character
from bot.chat.prompt import Prompt, PromptInput, Turn, build_prompt, build_summary_request
from bot.chat.tokens import TokenCalibrator, estimate
from bot.store.conversations import Conversations, TurnRow
from bot.store.models import Conversation
from bot.ui.stream import StreamRenderer
from bot.venice.errors import ContentPolicyError, VeniceError
from bot.venice.types import StreamDelta, StreamEnd

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

DEFAULT_CONTEXT = 32_000
SCREEN_EVERY = 400  # characters of new output between two screens of the recent text
SCREEN_WINDOW = 2_000
FOLD_BATCH = 40  # turns folded into the summary per Venice call
WITHHELD = "*(This reply was withheld: it broke the content policy. Regenerate to try again.)*"
STOPPED = "stopped"


@dataclass(slots=True)
class Where:
    """Who is talking and where, as plain values."""

    channel_id: int
    guild_id: int | None
    parent_id: int | None
    user_id: int
    user_name: str  # display name in this place
    multi_user: bool = True


@dataclass(slots=True)
class Scene:
    """What a turn runs against: the conversation, its character and the channel's settings."""

    conversation: Conversation
    character: Character
    model: str
    reply_tokens: int
    personas: bool
    images: bool = True  # the channel allows pictures (the "picture this" button)


@dataclass(slots=True)
class Outcome:
    reply: TurnRow
    text: str
    status: str  # complete | cut | failed
    note: str | None = None
    notice: str | None = None  # e.g. "only the last N messages fit"
    handles: list[object] = field(default_factory=list)
    withheld: bool = False  # the output broke the policy: the cog replaces what was shown


class ChannelQueue:
    """Answers one channel's messages in order; channels run concurrently. Locks live only while used."""

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    def waiting(self, channel_id: int) -> int:
        return self._users.get(channel_id, 0)

    @contextlib.asynccontextmanager
    async def turn(self, channel_id: int) -> AsyncIterator[None]:
        lock = self._locks.setdefault(channel_id, asyncio.Lock())
        self._users[channel_id] = self._users.get(channel_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[channel_id] -= 1
            if self._users[channel_id] == 0:
                del self._users[channel_id]
                self._locks.pop(channel_id, None)


class ChatService:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.conversations = Conversations(services.sessions, owner=services.process)
        self.queue = ChannelQueue()
        self.calibrators: dict[str, TokenCalibrator] = {}
        self._running: dict[int, asyncio.Task[object]] = {}  # reply id -> the task streaming it
        self._waiting_on_venice: set[int] = set()  # replies whose task may be cancelled right now
        self._stop_asked: set[int] = set()

    # -- what a channel talks to ------------------------------------------------------------------

    async def character_for(self, where: Where) -> tuple[Character, str, str]:
        """(character, its reference, where the choice comes from) for a channel."""
        characters = getattr(self.services, "characters", None)
        if characters is None:
            return DEFAULT_CHARACTER, "builtin:scarlett", "built-in default"
        return await characters.for_channel(channel_id=where.channel_id, guild_id=where.guild_id,
                                            parent_id=where.parent_id)

    async def resolve(self, ref: str, where: Where) -> Character:
        characters = getattr(self.services, "characters", None)
        if characters is not None:
            found = await characters.resolve(ref, user_id=where.user_id, guild_id=where.guild_id)
            if found is not None:
                return found
        return DEFAULT_CHARACTER

    async def scene(self, where: Where, *, create: bool = True) -> Scene | None:
        """The channel's active conversation (started silently if there is none) and its settings."""
        conv = await self.conversations.active(where.channel_id)
        if conv is None:
            if not create:
                return None
            character, ref, _ = await self.character_for(where)
            conv, _ = await self.conversations.start(
                channel_id=where.channel_id, guild_id=where.guild_id, character_ref=ref,
                character_name=character.name, created_by=where.user_id,
            )
        else:
            character = await self.resolve(conv.character_ref, where)
        return await self.scene_of(conv, character, where)

    async def scene_of(self, conv: Conversation, character: Character, where: Where) -> Scene:
        """A scene for a given conversation (maybe not the channel's active one) with the channel's settings."""
        cfg = await self.services.config.resolve_all(
            guild_id=where.guild_id, channel_id=where.channel_id, parent_id=where.parent_id,
            keys=["text_model", "reply_tokens", "personas", "images"],
        )
        return Scene(conv, character, str(cfg["text_model"].value), int(cfg["reply_tokens"].value),
                     bool(cfg["personas"].value), bool(cfg["images"].value))

    async def new_conversation(self, where: Where) -> tuple[Scene, TurnRow | None]:
        """Archive the current conversation and start afresh with the channel's character and greeting."""
        character, ref, _ = await self.character_for(where)
        greetings = [self._macros(g, character, where.user_name) for g in character.greetings]
        _, greeting = await self.conversations.start(
            channel_id=where.channel_id, guild_id=where.guild_id, character_ref=ref,
            character_name=character.name, created_by=where.user_id, greetings=greetings,
        )
        scene = await self.scene(where, create=False)
        assert scene is not None
        return scene, greeting

    @staticmethod
    def _macros(text: str, character: Character, user_name: str) -> str:
        from bot.chat.macros import expand

        return expand(text, char=character.name, user=user_name)

    async def persona(self, user_id: int) -> tuple[str, str] | None:
        from bot.store.personas import persona_for

        return await persona_for(self.services, user_id)

    # -- prompts --------------------------------------------------------------------------------

    async def _context_tokens(self, model: str) -> int:
        try:
            info = await self.services.venice.get_model(model, "text")
        except VeniceError:
            info = None
        return (info.context_tokens if info and info.context_tokens else None) or DEFAULT_CONTEXT

    async def prompt_for(
        self, scene: Scene, where: Where, turns: list[TurnRow], *, continue_text: str | None = None
    ) -> Prompt:
        persona = await self.persona(where.user_id)
        user_name = persona[0] if persona else where.user_name
        calibrator = self.calibrators.setdefault(scene.model, TokenCalibrator())
        return build_prompt(PromptInput(
            character=scene.character,
            user_name=user_name,
            persona=persona[1] if persona else "",
            summary=scene.conversation.summary or "",
            turns=[Turn(t.role, t.content, t.author_name, t.id, t.tokens or None) for t in turns],
            context_tokens=await self._context_tokens(scene.model),
            reply_tokens=scene.reply_tokens,
            multi_user=where.multi_user,
            continue_text=continue_text,
            calibrator=calibrator,
            lore_state=LoreState.from_json(scene.conversation.lore_state, seed=scene.conversation.id),
        ))

    # -- turns ----------------------------------------------------------------------------------

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

    async def stream(
        self, *, scene: Scene, where: Where, reply: TurnRow, prompt: Prompt, renderer: StreamRenderer,
        existing: str = "", on_first_message: Callable[[list[object]], Awaitable[None]] | None = None,
    ) -> Outcome:
        """Stream Venice into `renderer`, then store the result. Never raises for Venice failures."""
        task = asyncio.current_task()
        assert task is not None
        self._running[reply.id] = task
        text, status, note, end = existing, "complete", None, None
        linked = False
        screened_at = len(existing)
        try:
            if existing:
                await renderer.feed(existing)
            async with contextlib.aclosing(self.services.venice.chat_stream(
                prompt.messages, model=scene.model, max_tokens=scene.reply_tokens,
                character_slug=scene.character.venice_slug,
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
                        end = event
                        continue
                    assert isinstance(event, StreamDelta)
                    text += event.text
                    if len(text) - screened_at >= SCREEN_EVERY:
                        screened_at = len(text)
                        if not policy.output_verdict(text[-SCREEN_WINDOW:]).allowed:
                            raise _Withheld
                    await renderer.feed(event.text)
                    if not linked and renderer.handles and on_first_message is not None:
                        linked = True
                        await on_first_message(renderer.handles)
            if not policy.output_verdict(text).allowed:
                raise _Withheld
        except asyncio.CancelledError as exc:
            if not (exc.args and exc.args[0] == STOPPED):
                raise  # shutdown, not the user's stop button
            task.uncancel()
            status, note = _stopped(text)
        except _Stopped:
            status, note = _stopped(text)
        except _Withheld:
            status, note = "withheld", None
        except ContentPolicyError as exc:
            status = "cut" if text.strip() else "failed"
            note = exc.user_message
        except VeniceError as exc:
            status = "cut" if text.strip() else "failed"
            note = exc.user_message
        finally:
            self._running.pop(reply.id, None)
            self._stop_asked.discard(reply.id)
        return await self._settle(scene, where, reply, prompt, renderer, text, status, note, end)

    async def _settle(
        self, scene: Scene, where: Where, reply: TurnRow, prompt: Prompt, renderer: StreamRenderer,
        text: str, status: str, note: str | None, end: StreamEnd | None,
    ) -> Outcome:
        if status == "withheld":
            handles = await renderer.fail("withheld")
            await policy.audit(self.services.sessions, policy.Where(where.user_id, where.guild_id, where.channel_id,
                                                                    "chat output"), kind="output_refusal",
                               rule="model_output")
            text, status, note = "", "withheld", WITHHELD
        elif status == "complete":
            lines = []
            if end is not None and end.finish_reason == "length":
                lines.append("-# The reply reached its length limit: press ➡️ Continue for more.")
            if prompt.notice:  # say plainly what the model did not see
                lines.append(f"-# {prompt.notice}")
            handles = await renderer.finish("\n".join(lines) or None)
        else:
            handles = await renderer.fail(note or "interrupted")
        ids = [h for h in (_message_id(h) for h in handles) if h is not None]
        withheld = status == "withheld"
        status = "failed" if withheld else status
        stored = await self.conversations.finish(
            reply.id, content=text, status=status, character_name=scene.character.name,
            finish_reason=end.finish_reason if end else status, tokens=estimate(text), discord_ids=ids,
            channel_id=where.channel_id, lore_state=prompt.lore_state.to_json(), lore_fired=prompt.lore_names,
        )
        if end is not None and end.usage is not None:
            self.calibrators.setdefault(scene.model, TokenCalibrator()).observe(
                prompt.estimated_tokens, end.usage.prompt_tokens)
        if end is not None or text:
            # Only what Venice actually answered counts against quotas: an outage that produced
            # nothing must not use up anyone's daily messages.
            await self.services.limits.record(
                user_id=where.user_id, guild_id=where.guild_id, kind="chat",
                prompt_tokens=end.usage.prompt_tokens if end and end.usage else prompt.estimated_tokens,
                completion_tokens=end.usage.completion_tokens if end and end.usage else estimate(text),
                cost_usd=(end.cost.usd or 0.0) if end and end.cost else 0.0,
            )
        return Outcome(stored, text, status, note, prompt.notice, list(handles), withheld)

    async def fold_summary(self, scene: Scene, turns: list[TurnRow], dropped: int, where: Where) -> None:
        """Fold turns that no longer reach the model into the rolling summary (a Venice call).

        `turns` is the window the prompt was built from and `dropped` how many of its oldest turns
        did not fit. Everything not yet summarised that is older than the first kept turn is folded,
        oldest first and at most FOLD_BATCH turns per call, so a long backlog (older than the
        loaded window) is caught up over a few turns instead of being silently forgotten.
        """
        if not turns:
            return
        first_kept = turns[dropped].id if dropped < len(turns) else turns[-1].id + 1
        old = await self.conversations.unsummarised(scene.conversation, before_id=first_kept, limit=FOLD_BATCH)
        if not old:
            return
        messages = build_summary_request(
            scene.conversation.summary or "", [Turn(t.role, t.content, t.author_name, t.id) for t in old],  # type: ignore[arg-type]
            scene.character.name, where.user_name,
        )
        try:
            result = await self.services.venice.chat(messages, model=scene.model, max_tokens=600)
        except VeniceError as exc:
            log.warning("summary of conversation %s failed: %s", scene.conversation.id, exc)
            return
        summary = result.text.strip()
        if summary:
            await self.conversations.set_summary(scene.conversation.id, summary, old[-1].id)
            scene.conversation.summary = summary
            scene.conversation.summary_upto = old[-1].id
        await self.services.limits.record(
            user_id=where.user_id, guild_id=where.guild_id, kind="summary",
            prompt_tokens=result.usage.prompt_tokens if result.usage else 0,
            completion_tokens=result.usage.completion_tokens if result.usage else 0,
            cost_usd=(result.cost.usd or 0.0) if result.cost else 0.0,
        )


class _Withheld(Exception):
    """The model's output broke the content policy; nothing more of it is shown."""


class _Stopped(Exception):
    """The stop button was pressed while the stream was not waiting for Venice."""


def _stopped(text: str) -> tuple[str, str]:
    return ("cut", "stopped") if text.strip() else ("failed", "stopped before any text arrived")


def _message_id(handle: object) -> int | None:
    value = getattr(handle, "message_id", None) or getattr(handle, "id", None)
    return int(value) if value is not None else None
