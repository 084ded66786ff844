"""The chat service: every use case of a conversation, for every entry point.

A slash command, a mention, a DM, a button, the edit form and the terminal chat all call these
methods, so each one screens, limits and stores the same way. Each method waits for the channel's
turn itself (a channel is answered in order) and shows what happens through a `Renderer`
(`bot.chat.render`); it knows nothing of Discord. Who may press what is decided by the plain
functions in `bot.chat.rules`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.characters.lore_match import LoreCompiler
from bot.characters.lore_settings import LoreSettings
from bot.characters.lore_state import LoreState
from bot.characters.lorebooks import LorebookService
from bot.characters.service import CharacterService, ref_of
from bot.chat import pictures, rules
from bot.chat.generation import WITHHELD, Generator, Outcome, OutputGate
from bot.chat.personas import Personas
from bot.chat.prompt import (
    SCENE_TURNS,
    Prompt,
    PromptInput,
    Turn,
    build_prompt,
)
from bot.chat.prompt_lore import AuthorNote, LoreBooks, note_of
from bot.chat.queue import ChannelQueue
from bot.chat.render import Controls, Renderer
from bot.chat.scenes import Scene, Scenes
from bot.chat.screening import ChatScreen
from bot.chat.summaries import fold_summary
from bot.chat.tokens import TokenCalibrator
from bot.errors import LimitReached, UserError
from bot.limits import Limits
from bot.offload import Busy, Offload
from bot.settings import SettingsStore
from bot.store.conversations import Conversations, TurnRow
from bot.store.models import Conversation
from bot.store.processes import Process
from bot.venice.client import VeniceClient
from bot.venice.errors import VeniceError
from bot.where import Where

T = TypeVar("T")

__all__ = ["MAX_INPUT", "WITHHELD", "ChatService", "Deleted", "Outcome", "Scene"]

log = logging.getLogger(__name__)

MAX_INPUT = 4000
EMPTY_INPUT = "Say something, and I'll answer."
TOO_LONG = f"That message is too long for me: please keep it under {MAX_INPUT:,} characters."
DEFAULT_CONTEXT = 32_000


@dataclass(frozen=True, slots=True)
class Deleted:
    """A reply that left the story, and the messages that showed the words it answered."""

    reply: TurnRow
    asked_ids: list[int]


class ChatService:
    """Conversations in channels: turns, regenerations, swipes, edits, deletions, scene pictures."""

    def __init__(
        self, *, sessions: async_sessionmaker[AsyncSession], venice: VeniceClient, settings: SettingsStore,
        limits: Limits, characters: CharacterService, screen: ChatScreen, process: Process | None = None,
        clock: Callable[[], float] = time.monotonic, lorebooks: LorebookService | None = None,
        offload: Offload | None = None,
    ) -> None:
        self.sessions = sessions
        self.venice = venice
        self.limits = limits
        self.screen = screen
        # `process` owns the turns this service writes, so start-up recovery settles only its own.
        self.conversations = Conversations(sessions, owner=process)
        self.scenes = Scenes(conversations=self.conversations, characters=characters, settings=settings, clock=clock)
        self.queue = ChannelQueue()
        self.generator = Generator(venice=venice, limits=limits, conversations=self.conversations)
        self.personas = Personas(sessions=sessions, clock=clock)
        self.lorebooks = lorebooks  # standalone books attached to conversations, characters, servers
        self.offload = offload  # large lorebooks are compiled in its threads, off the event loop
        self.lore_compiler = LoreCompiler()  # compiled lorebooks, kept between turns

    # -- who is speaking ------------------------------------------------------------------------

    async def persona(self, user_id: int) -> tuple[str, str] | None:
        """(name, description) of the user's persona, or None."""
        return await self.personas.persona(user_id)

    async def set_persona(self, user_id: int, name: str, description: str) -> None:
        """Store who the user is in stories (the caller has screened the text)."""
        await self.personas.set(user_id, name, description)

    async def clear_persona(self, user_id: int) -> bool:
        """Forget the user's persona; False when there was none."""
        return await self.personas.clear(user_id)

    def forget_user(self, user_id: int) -> None:
        """A user's data was deleted: drop what this process remembers of them."""
        self.personas.forget(user_id)
        self.scenes.forget()
        self.scenes.characters.forget()

    async def speaker(self, where: Where) -> Where:
        """`where` with the speaker's story name: their persona's, else the name they came with."""
        return await self.personas.named(where)

    # -- a turn -----------------------------------------------------------------------------------

    async def take_turn(self, where: Where, text: str, renderer: Renderer) -> Outcome:
        """Answer what someone said: screened beside the generation, limited, streamed, stored.

        Raises UserError (empty, too long), LimitReached, or Refused (the words broke the policy;
        nothing of a reply was shown and the turn is not kept).
        """
        text = text.strip()
        if not text:
            raise UserError(EMPTY_INPUT)
        if len(text) > MAX_INPUT:
            raise UserError(TOO_LONG)
        assert where.channel_id is not None and where.user_id is not None
        spot = self.queue.line_up(where.channel_id)  # answered in the order said, whatever is awaited first
        try:
            where = await self.speaker(where)
            clearing = asyncio.create_task(self._clear(text, where, renderer), name=f"chat-clear-{where.channel_id}")
            if self.screen.refuses_at_once(text):
                await clearing  # raises the refusal (audited): a clear-cut case never reaches Venice
            try:
                lease = await self.limits.acquire(user_id=where.user_id, guild_id=where.guild_id,
                                                  channel_id=where.channel_id, parent_id=where.parent_id, kind="chat")
            except LimitReached:
                await clearing  # a refusal of the words comes first (and is audited); then the limit
                raise
            except BaseException:
                clearing.cancel()
                raise
        except BaseException:
            spot.leave()
            raise
        try:
            async with spot:
                return await self._turn(where, text, renderer, clearing)
        finally:
            with contextlib.suppress(Exception):
                await renderer.close()
            await self.limits.release(lease)

    async def _clear(self, text: str, where: Where, renderer: Renderer) -> int | None:
        await self.screen.check_input(text, where)
        return await renderer.cleared()

    async def _turn(self, where: Where, text: str, renderer: Renderer,
                    clearing: asyncio.Task[int | None]) -> Outcome:
        if clearing.done():
            clearing.result()  # refused while waiting in line: raise it before anything is stored
        scene = await self.scenes.of(where)
        assert scene is not None
        await renderer.prepare(scene.look, [])
        conv = scene.conversation
        user, reply = await self.conversations.begin(
            conv.id, author_id=where.user_id, author_name=where.user_name, content=text, model=scene.model,
        )
        turns = await self.conversations.window(conv, before_id=user.id)
        turns.append(user)
        prompt = await self.prompt_for(scene, where, turns)
        outcome = await self.generator.run(scene=scene, where=where, reply=reply, prompt=prompt, renderer=renderer,
                                           gate=OutputGate(self.screen, where), clearing=clearing, new_turn=True)
        await fold_summary(venice=self.venice, limits=self.limits, conversations=self.conversations, scene=scene,
                           turns=turns, dropped=prompt.dropped_turns, where=where)
        return outcome

    # -- the controls under a reply ---------------------------------------------------------------

    async def regenerate(self, where: Where, reply_id: int, renderer: Renderer) -> Outcome:
        """A new swipe for the latest reply (earlier swipes are kept)."""
        return await self._rerun(where, reply_id, renderer, continuing=False)

    async def continue_reply(self, where: Where, reply_id: int, renderer: Renderer) -> Outcome:
        """Carry the latest reply on from where it stopped."""
        return await self._rerun(where, reply_id, renderer, continuing=True)

    async def _rerun(self, where: Where, reply_id: int, renderer: Renderer, *, continuing: bool) -> Outcome:
        where = await self.speaker(where)
        reply, conv = await self._access(where, reply_id)
        if continuing and not reply.content.strip():
            raise UserError(rules.NOTHING_TO_CONTINUE)
        await self._require_latest(reply, conv)
        assert where.user_id is not None
        lease = await self.limits.acquire(user_id=where.user_id, guild_id=where.guild_id,
                                          channel_id=where.channel_id, parent_id=where.parent_id, kind="chat")
        try:
            await renderer.cleared()
            async with self._turn_of(conv):
                await self._require_latest(reply, conv)
                fresh = await self._fresh(reply.id)
                scene = await self.scenes.of_conversation(conv, where)
                await renderer.prepare(scene.look, fresh.discord_ids)
                turns = await self.conversations.window(conv, before_id=fresh.id)
                if continuing:
                    await self.conversations.mark_streaming(fresh.id)
                    prompt = await self.prompt_for(scene, where, turns, continue_text=fresh.content)
                    return await self.generator.run(scene=scene, where=where, reply=fresh, prompt=prompt,
                                                    renderer=renderer, gate=OutputGate(self.screen, where),
                                                    existing=fresh.content)
                swiping = await self.conversations.begin_swipe(fresh.id)
                prompt = await self.prompt_for(scene, where, turns)
                return await self.generator.run(scene=scene, where=where, reply=swiping, prompt=prompt,
                                                renderer=renderer, gate=OutputGate(self.screen, where))
        finally:
            with contextlib.suppress(Exception):
                await renderer.close()
            await self.limits.release(lease)

    async def swipe(self, where: Where, reply_id: int, step: int, renderer: Renderer) -> TurnRow:
        """Show the previous (`step` -1) or next (+1) swipe of the latest reply."""
        reply, conv = await self._access(where, reply_id)
        await self._require_latest(reply, conv)
        await renderer.cleared()
        async with self._turn_of(conv):
            await self._require_latest(reply, conv)
            fresh = await self._fresh(reply.id)
            updated = await self.conversations.set_swipe(fresh.id, fresh.swipe_index + step) or fresh
            await self._show(where, conv, updated, updated.content, renderer, latest=True)
            return updated

    async def reply_to_edit(self, where: Where, reply_id: int) -> TurnRow:
        """The reply a person may open the edit form for (checked like every control)."""
        reply, _conv = await self._access(where, reply_id)
        if self.generator.is_streaming(reply.id):
            raise UserError(rules.STILL_WRITING)
        if len(reply.content) > rules.EDIT_MAX:
            raise UserError(f"That reply is longer than {rules.EDIT_MAX:,} characters, too long to edit in a form.")
        return reply

    async def edit_reply(self, where: Where, reply_id: int, text: str, renderer: Renderer) -> TurnRow:
        """What the character said becomes `text` (screened like anything a person writes).

        Checked again on submit: the reply must be in this place and this person its owner or a
        moderator here, whatever the form's custom id says.
        """
        reply, conv = await self._access(where, reply_id)
        text = rules.check_edit(text)
        await self.screen.check_input(text, where.at("chat edit"))
        await renderer.cleared()
        async with self._turn_of(conv):
            updated = await self.conversations.edit_content(reply.id, text)
            if updated is None:
                raise UserError(rules.GONE)
            latest = not conv.archived and await self.conversations.latest_reply_id(conv.id) == reply.id
            await self._show(where, conv, updated, updated.content, renderer, latest=latest)
            return updated

    async def delete_reply(self, where: Where, reply_id: int, renderer: Renderer) -> Deleted:
        """The reply and the words it answered leave the story, and the reply's messages go."""
        reply, conv = await self._access(where, reply_id)
        self.generator.stop(reply.id)  # before waiting for the turn, which the streaming reply holds
        await renderer.cleared()
        async with self._turn_of(conv):
            fresh = await self._fresh(reply.id)
            await self.conversations.delete_turn(fresh.id)
            scene = await self.scenes.of_conversation(conv, where)
            await renderer.prepare(scene.look, fresh.discord_ids)
            await renderer.remove()
            asked = await self.conversations.turn(fresh.reply_to) if fresh.reply_to is not None else None
            return Deleted(fresh, list(asked.discord_ids) if asked is not None else [])

    async def stop(self, where: Where, reply_id: int, renderer: Renderer) -> bool:
        """Stop a streaming reply (True). A reply left streaming by a crash gets its controls back."""
        reply, conv = await self._access(where, reply_id)
        await renderer.cleared()
        if self.generator.stop(reply.id):
            return True
        async with self._turn_of(conv):
            fresh = await self._fresh(reply.id)
            latest = not conv.archived and await self.conversations.latest_reply_id(conv.id) == reply.id
            await self._show(where, conv, fresh, fresh.content or "*(interrupted)*", renderer, latest=latest)
        return False

    async def describe_scene(self, where: Where, reply_id: int, acknowledge: Callable[[], Awaitable[object]]
                             ) -> pictures.ScenePicture:
        """Venice describes the scene at this reply as an image prompt, screened for images.

        `acknowledge` is awaited once the request passed its checks. Raises UserError when
        pictures are off, the description is refused (audited, no strike: Venice wrote it) or
        Venice fails.
        """
        reply, conv = await self._access(where, reply_id)
        scene = await self.scenes.of_conversation(conv, where)
        if not scene.images:
            raise UserError(pictures.PICTURES_OFF)
        await acknowledge()
        where = await self.speaker(where)
        async with self._turn_of(conv):  # a consistent story: not while a reply is being written
            rows = await self.conversations.window(conv, before_id=reply.id + 1, limit=SCENE_TURNS)
        prompt = await pictures.describe(venice=self.venice, limits=self.limits, sessions=self.sessions,
                                         scene=scene, rows=rows, where=where)
        return pictures.ScenePicture(prompt, scene.character, conv.character_ref)

    # -- conversations ----------------------------------------------------------------------------

    async def new_conversation(self, where: Where, renderer: Renderer, *, character_ref: str | None = None) -> Scene:
        """Archive the channel's conversation and start afresh with the channel's character (or
        `character_ref`); the greeting is shown with its controls."""
        assert where.channel_id is not None
        where = await self.speaker(where)
        async with self.queue.turn(where.channel_id):
            scene, greeting = await self.scenes.start(where, character_ref)
            if greeting is not None:
                await self._show(where, scene.conversation, greeting, greeting.content, renderer, latest=True,
                                 scene=scene)
            return scene

    async def resume_conversation(self, where: Where, conversation_id: int) -> Conversation | None:
        """Make an earlier conversation of this channel the active one (None: it is gone)."""
        assert where.channel_id is not None
        async with self.queue.turn(where.channel_id):
            conv = await self.conversations.resume(where.channel_id, conversation_id)
            self.scenes.forget(where.channel_id)
            return conv

    async def delete_conversation(self, where: Where, conversation_id: int) -> None:
        """Delete one of this channel's conversations (its starter or a moderator)."""
        conv = await self.conversations.get(conversation_id)
        if conv is None or conv.channel_id != where.channel_id:
            raise UserError("There is no conversation with that number in this channel.")
        assert where.user_id is not None
        if not rules.may_delete_conversation(conv.created_by, where.user_id, moderator=where.moderator):
            raise UserError(rules.NOT_YOUR_CONVERSATION)
        async with self.queue.turn(conv.channel_id):
            await self.conversations.delete(conv.id)
            self.scenes.forget(conv.channel_id)

    # -- messages changed in Discord --------------------------------------------------------------

    async def edit_said(self, where: Where, discord_message_id: int, text: str) -> bool:
        """A person edited their message: the story takes the new words once screened (Refused
        otherwise). False when the message is not part of a story or nothing changed."""
        turn = await self.conversations.by_discord_id(discord_message_id)
        if turn is None or turn.role != "user" or turn.status == "deleted" or turn.content == text:
            return False
        await self.screen.check_input(text, where.at("chat edit"))
        await self.conversations.edit_content(turn.id, text)
        return True

    async def forget_said(self, discord_message_id: int) -> TurnRow | None:
        """A message was deleted in Discord: a person's words leave the story (see the store)."""
        return await self.conversations.forget_discord_message(discord_message_id)

    async def is_story_reply(self, discord_message_id: int) -> bool:
        """Is this Discord message a character's reply in a stored story?"""
        turn = await self.conversations.by_discord_id(discord_message_id)
        return turn is not None and turn.role == "assistant"

    # -- prompts ----------------------------------------------------------------------------------

    async def prompt_for(self, scene: Scene, where: Where, turns: list[TurnRow], *,
                         continue_text: str | None = None) -> Prompt:
        persona = await self.personas.persona(where.user_id) if where.user_id is not None else None
        calibrator = self.generator.calibrators.setdefault(scene.model, TokenCalibrator())
        user_name = persona[0] if persona else where.user_name
        books = await self._books(scene, where)
        await self.lore_compiler.prepare(books.tiers(scene.character.lorebook), LoreSettings(),
                                         (scene.character.name, user_name), self._compile)
        return build_prompt(PromptInput(
            character=scene.character,
            user_name=user_name,
            persona=persona[1] if persona else "",
            summary=scene.conversation.summary or "",
            turns=[Turn(t.role, t.content, t.author_name, t.id, t.tokens or None) for t in turns],  # type: ignore[arg-type]
            context_tokens=await self._context_tokens(scene.model),
            reply_tokens=scene.reply_tokens,
            multi_user=where.multi_user,
            continue_text=continue_text,
            calibrator=calibrator,
            lore_state=LoreState.from_json(scene.conversation.lore_state, seed=scene.conversation.id),
            author_note=note_of(scene.conversation.author_note),
            lore_books=books,
            lore_compiler=self.lore_compiler,
        ))

    async def _compile(self, fn: Callable[..., T], *args: object) -> T:
        """Compile lorebooks in a worker thread; on the loop only when there is no room there."""
        if self.offload is not None:
            try:
                return await self.offload.in_thread(fn, *args)
            except Busy:
                log.info("chat: worker threads busy; compiling a lorebook on the event loop")
        return fn(*args)

    async def _books(self, scene: Scene, where: Where) -> LoreBooks:
        """The standalone lorebooks of this turn (none without the lorebook service)."""
        if self.lorebooks is None:
            return LoreBooks()
        found = await self.lorebooks.for_turn(
            conversation_id=scene.conversation.id, character_ref=ref_of(scene.character),
            character=scene.character, guild_id=scene.conversation.guild_id,
        )
        return LoreBooks(chat=found.chat, character=found.character, server=found.server)

    async def set_author_note(self, where: Where, note: AuthorNote | None) -> Conversation:
        """Set (None: clear) the Author's Note of the channel's conversation; the caller screened it."""
        conv = await self.conversations.active(where.channel_id or 0)
        if conv is None:
            raise UserError("There is no conversation in this channel yet: say something first.")
        async with self.queue.turn(conv.channel_id):
            value = None if note is None else {"text": note.text, "depth": note.depth, "every": note.every,
                                               "by": where.user_id}  # privacy: whose words it is
            await self.conversations.set_author_note(conv.id, value)
            conv.author_note = value
            self.scenes.forget(conv.channel_id)
        return conv

    async def _context_tokens(self, model: str) -> int:
        try:
            info = await self.venice.get_model(model, "text")
        except VeniceError:
            info = None
        return (info.context_tokens if info and info.context_tokens else None) or DEFAULT_CONTEXT

    # -- plumbing ---------------------------------------------------------------------------------

    def is_streaming(self, reply_id: int) -> bool:
        return self.generator.is_streaming(reply_id)

    def _turn_of(self, conv: Conversation) -> contextlib.AbstractAsyncContextManager[None]:
        return self.queue.turn(conv.channel_id)

    async def _access(self, where: Where, reply_id: int) -> tuple[TurnRow, Conversation]:
        """The reply and its conversation, if this person may use its controls here (UserError if not)."""
        reply = await self.conversations.turn(reply_id)
        if reply is None or reply.status == "deleted" or reply.role != "assistant":
            raise UserError(rules.GONE)
        conv = await self.conversations.get(reply.conversation_id)
        if conv is None:
            raise UserError(rules.CONVERSATION_GONE)
        asked = await self.conversations.turn(reply.reply_to) if reply.reply_to is not None else None
        rules.check_access(
            reply_exists=True, channel_id=conv.channel_id, guild_id=conv.guild_id,
            owner_id=rules.owner_of(asked.author_id if asked else None, conv.created_by),
            user_id=where.user_id, where_channel=where.channel_id, where_guild=where.guild_id,
            moderator=where.moderator,
        )
        return reply, conv

    async def _require_latest(self, reply: TurnRow, conv: Conversation) -> None:
        rules.check_latest(archived=conv.archived, latest_id=await self.conversations.latest_reply_id(conv.id),
                           reply_id=reply.id, streaming=self.generator.is_streaming(reply.id))

    async def _fresh(self, reply_id: int) -> TurnRow:
        """The reply as stored now (after waiting for the turn, another one may have changed it)."""
        fresh = await self.conversations.turn(reply_id)
        if fresh is None or fresh.status == "deleted":
            raise UserError(rules.GONE)
        return fresh

    async def _show(self, where: Where, conv: Conversation, reply: TurnRow, content: str, renderer: Renderer, *,
                    latest: bool, scene: Scene | None = None) -> None:
        """Rewrite a stored reply's messages with `content` and its controls; remember the messages."""
        scene = scene or await self.scenes.of_conversation(conv, where)
        try:
            await renderer.prepare(scene.look, reply.discord_ids)
            controls = Controls(reply.id, reply.swipe_index, max(1, len(reply.swipes)), latest=latest,
                                pictures=scene.images)
            ids = await renderer.show(content, controls)
        finally:
            with contextlib.suppress(Exception):
                await renderer.close()
        await self.conversations.link_discord(reply.id, conv.channel_id, ids)
