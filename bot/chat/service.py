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
import dataclasses
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.characters.lore_match import LoreCompiler
from bot.characters.lore_settings import LoreSettings, strategy_of
from bot.characters.lore_state import LoreState
from bot.characters.lorebooks import LorebookService
from bot.characters.model import Character
from bot.characters.service import CharacterService, ref_of
from bot.chat import cast_export, cast_prompt, pictures, rules, scene_cast, speakers
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
from bot.chat.scene_cast import SceneCast, Staged
from bot.chat.scenes import Scene, Scenes
from bot.chat.screening import JUDGE_TURNS, ChatScreen, chat_background
from bot.chat.summaries import fold_summary
from bot.chat.tokens import TokenCalibrator
from bot.errors import LimitReached, UserError
from bot.judge import JudgeContext
from bot.limits import LIMIT_KEYS, Limits
from bot.offload import Busy, Offload
from bot.settings import Resolved, SettingsStore
from bot.store import cast
from bot.store.conversations import Conversations, TurnRow
from bot.store.models import Conversation
from bot.store.processes import Process
from bot.venice.client import VeniceClient
from bot.venice.errors import VeniceError
from bot.vision import VisionImage, vision_user_message
from bot.where import Where

T = TypeVar("T")

__all__ = ["MAX_INPUT", "WITHHELD", "ChatService", "Deleted", "Outcome", "Scene"]

log = logging.getLogger(__name__)

MAX_INPUT = 4000
EMPTY_INPUT = "Say something, and I'll answer."
TOO_LONG = f"That message is too long for me: please keep it under {MAX_INPUT:,} characters."
DEFAULT_CONTEXT = 32_000
SUMMARY_WITHHELD = "*(The summary was withheld: it broke the content policy.)*"
SUMMARY_UNCHECKED = "*(The summary couldn't be checked right now. Try again in a moment.)*"


@dataclass(slots=True)
class _Played:
    """The first reply to a person's words, and who else answers them (a group scene)."""

    outcome: Outcome
    scene: Scene | None = None
    staged: Staged | None = None
    user: TurnRow | None = None
    more: list[str] = field(default_factory=list)


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
        self.cast = SceneCast(sessions=sessions, characters=characters, clock=clock)
        self.rng = random.Random()  # who speaks next in natural mode (tests seed it)
        self.chain_limit = speakers.DEFAULT_CHAIN_LIMIT
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
        self.cast.changed()
        self.scenes.characters.forget()

    async def speaker(self, where: Where) -> Where:
        """`where` with the speaker's story name: their persona's, else the name they came with."""
        return await self.personas.named(where)

    # -- a turn -----------------------------------------------------------------------------------

    async def take_turn(self, where: Where, text: str, renderer: Renderer, *,
                        more: Callable[[], Renderer] | None = None, replying_to: int | None = None,
                        pictures: Sequence[VisionImage] = (), model: str | None = None) -> Outcome:
        """Answer what someone said: screened beside the generation, limited, streamed, stored.

        In a group scene several characters may answer (several named, *everyone* mode): each
        further reply is shown through a renderer from `more` (default: `renderer` again), one after
        another in the channel's line, each screened and counted against the person's quota like a
        turn of its own. `replying_to` is the Discord message the words reply to (that character
        answers when nobody is named). `pictures` (already judged, `bot.senses.Seeing`) go to the
        model with the words, which then is `model` (one that can see); only `text` is stored.

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
        released = False
        try:
            async with spot:
                try:
                    played = await self._turn(where, text, renderer, clearing, replying_to, more,
                                              pictures=pictures, model=model)
                finally:
                    with contextlib.suppress(Exception):
                        await renderer.close()
                    released = True
                    await self.limits.release(lease)
                if played.more:  # the others the words ask for, still in this turn's place in line
                    await self._more_replies(where, played, more or (lambda: renderer))
                return played.outcome
        finally:
            if not released:
                with contextlib.suppress(Exception):
                    await renderer.close()
                await self.limits.release(lease)

    async def _clear(self, text: str, where: Where, renderer: Renderer) -> int | None:
        async def background() -> JudgeContext:  # only when the judge reads the words
            return await self._channel_background(where)

        await self.screen.check_input(text, where, background=background)
        return await renderer.cleared()

    async def _turn(self, where: Where, text: str, renderer: Renderer, clearing: asyncio.Task[int | None],
                    replying_to: int | None = None, more: Callable[[], Renderer] | None = None, *,
                    pictures: Sequence[VisionImage] = (), model: str | None = None) -> _Played:
        if clearing.done():
            clearing.result()  # refused while waiting in line: raise it before anything is stored
        scene = await self.scenes.of(where)
        assert scene is not None
        if model is not None and model != scene.model:
            scene = dataclasses.replace(scene, model=model)  # this turn only: the scene is shared
        conv = scene.conversation
        staged = await self.cast.stage(conv.id, where)
        refs: list[str] = []
        if staged is not None:
            refs = await self._who_answers(staged, text, replying_to)
            if not refs:
                return await self._unanswered(where, scene, text, clearing)
        speaking = staged.speaking(scene, refs[0]) if staged is not None else scene
        await renderer.prepare(speaking.look, [])
        previous = await self.conversations.latest_reply_id(conv.id) if staged is not None else None
        user, reply = await self.conversations.begin(
            conv.id, author_id=where.user_id, author_name=where.user_name, content=text, model=scene.model,
        )
        if staged is not None:  # the order moves once the words are cleared and the reply kept (below)
            await cast.name_speaker(self.sessions, reply.id, refs[0])
        turns = await self.conversations.window(conv, before_id=user.id)
        turns.append(user)
        prompt, stop = await self._prompt(speaking, staged, refs[0] if refs else None, where, turns)
        if pictures:
            _show_pictures(prompt, pictures)
        gate = OutputGate(self.screen, where, lambda: self._background(speaking, where, turns))
        outcome = await self.generator.run(scene=speaking, where=where, reply=reply, prompt=prompt, renderer=renderer,
                                           gate=gate, clearing=clearing, new_turn=True, stop=stop)
        if staged is not None and outcome.reply.status != "deleted":
            await cast.record_reply(self.sessions, conv.id, reply_id=reply.id, ref=refs[0], answers_user=True)
        outcome = await self._tidy(outcome, speaking, where, renderer)
        if previous is not None and more is not None:
            await self._retire_controls(where, conv, previous, more())
        await fold_summary(venice=self.venice, limits=self.limits, conversations=self.conversations, scene=scene,
                           turns=turns, dropped=prompt.dropped_turns, where=where, screen=self.screen,
                           background=gate.background)
        if staged is None or (outcome.status == "failed" and not outcome.withheld):
            return _Played(outcome)
        return _Played(outcome, scene, staged, user, refs[1:])

    # -- group scenes -----------------------------------------------------------------------------

    async def _who_answers(self, staged: Staged, text: str, replying_to: int | None) -> list[str]:
        replied_ref = None
        if replying_to is not None:
            replied = await self.conversations.by_discord_id(replying_to)
            if replied is not None and replied.role == "assistant":
                replied_ref = await cast.speaker_of(self.sessions, replied.id)
        view = staged.view
        refs = speakers.answer_user(text, staged.members, view.mode, speakers.order_of(view), self.rng,
                                    replied_to=replied_ref)
        if not refs and view.mode == "manual" and view.last_speaker is None:
            refs = [speakers.round_robin(staged.members, view.last_position)]  # nothing to pick under yet
        return refs

    async def _unanswered(self, where: Where, scene: Scene, text: str, clearing: asyncio.Task[int | None]) -> _Played:
        """Manual mode, nobody named: the words join the story; the "who answers" select picks."""
        conv = scene.conversation
        user, reply = await self.conversations.begin(
            conv.id, author_id=where.user_id, author_name=where.user_name, content=text, model=scene.model,
        )
        await self.conversations.discard(reply.id)
        try:
            origin = await clearing
        except BaseException:
            await asyncio.shield(self.conversations.discard(user.id))
            raise
        if origin is not None:
            assert where.channel_id is not None
            await self.conversations.link(where.channel_id, [(origin, user.id)])
        await cast.settle_words(self.sessions, user.id)
        return _Played(Outcome(user, "", "unanswered", "Pick who answers with the select under the latest reply."))

    async def _more_replies(self, where: Where, played: _Played, renderers: Callable[[], Renderer]) -> None:
        """The other characters a person's words ask for, one after another (each one a chat turn
        for the person's quota; the cooldown does not hold them: the person said one thing)."""
        assert played.scene is not None and played.staged is not None and played.user is not None
        assert where.user_id is not None
        config = await self._followup_limits(where)
        for ref in played.more:
            staged = await self.cast.stage(played.scene.conversation.id, where)
            if staged is None or not staged.has(ref):
                continue  # left the scene meanwhile
            try:
                lease = await self.limits.acquire(user_id=where.user_id, guild_id=where.guild_id,
                                                  channel_id=where.channel_id, parent_id=where.parent_id,
                                                  kind="chat", config=config)
            except LimitReached as exc:
                log.info("scene replies stop in channel %s: %s", where.channel_id, exc.user_message)
                return
            renderer = renderers()
            try:
                outcome = await self._speak(where, played.scene, staged, ref, renderer, reply_to=played.user.id,
                                            answers_user=True, renderers=renderers)
            finally:
                with contextlib.suppress(Exception):
                    await renderer.close()
                await self.limits.release(lease)
            if outcome.status == "failed" and not outcome.withheld:
                return  # Venice failed: the others would fail too (a withheld reply is that speaker's alone)

    async def _followup_limits(self, where: Where) -> dict[str, Resolved]:
        config = await self.limits.settings.resolve_all(guild_id=where.guild_id, channel_id=where.channel_id,
                                                        parent_id=where.parent_id, keys=LIMIT_KEYS)
        return {**config, "chat_cooldown": Resolved(0, "scene")}

    async def _speak(self, where: Where, scene: Scene, staged: Staged, ref: str, renderer: Renderer, *,
                     reply_to: int | None, answers_user: bool, renderers: Callable[[], Renderer] | None = None
                     ) -> Outcome:
        """One character's reply without words of its own (the others answering, ⏭ Next, the select).
        The caller holds the channel's turn. `renderers` rewrite the reply that carried the scene
        controls until now (they move to the new one)."""
        conv = scene.conversation
        speaking = staged.speaking(scene, ref)
        await renderer.prepare(speaking.look, [])
        previous = await self.conversations.latest_reply_id(conv.id)
        reply = await cast.begin_reply(self.sessions, conv.id, ref=ref, name=speaking.character.name,
                                       reply_to=reply_to, model=scene.model, answers_user=answers_user)
        turns = await self.conversations.window(conv, before_id=reply.id)
        prompt, stop = await self._prompt(speaking, staged, ref, where, turns)
        outcome = await self.generator.run(scene=speaking, where=where, reply=reply, prompt=prompt, renderer=renderer,
                                           gate=OutputGate(self.screen, where,
                                                           lambda: self._background(speaking, where, turns)),
                                           stop=stop)
        outcome = await self._tidy(outcome, speaking, where, renderer)
        if previous is not None and renderers is not None:
            await self._retire_controls(where, conv, previous, renderers())
        return outcome

    async def _retire_controls(self, where: Where, conv: Conversation, reply_id: int, renderer: Renderer) -> None:
        """⏭ Next and "who answers" move to the newest reply: the reply that carried them keeps
        its other controls. Best effort: the story is stored whatever Discord answers."""
        try:
            row = await self.conversations.turn(reply_id)
            if row is None or row.status not in ("complete", "cut") or not row.discord_ids:
                return
            scene, _staged, _ref = await self._speaking_scene(conv, where, reply_id)
            if not scene.cast:
                return
            latest = await self._in_latest_round(conv, reply_id)
            await self._show(where, conv, row, row.content, renderer, latest=latest, scene=replace(scene, cast=()))
        except Exception:
            log.warning("could not move the scene controls off reply %s", reply_id, exc_info=True)

    async def _tidy(self, outcome: Outcome, speaking: Scene, where: Where, renderer: Renderer) -> Outcome:
        """A scene's reply without the speaker's own name in front ("Alice: …"), which models copy
        from the named history: stored and shown without it."""
        if not speaking.cast or outcome.reply.status not in ("complete", "cut"):
            return outcome
        text = cast_prompt.strip_speaker_prefix(outcome.reply.content, speaking.character.name)
        if text == outcome.reply.content or not text.strip():
            return outcome
        stored = await self.conversations.edit_content(outcome.reply.id, text)
        if stored is None:
            return outcome
        await self._show(where, speaking.conversation, stored, text, renderer, latest=True, scene=speaking)
        return Outcome(stored, text, outcome.status, outcome.note, outcome.notice, outcome.withheld)

    async def scene_next(self, where: Where, reply_id: int, renderer: Renderer, *, ref: str | None = None,
                         renderers: Callable[[], Renderer] | None = None) -> Outcome:
        """⏭ Next (`ref` None: the mode picks) or the "who answers" select (`ref`): a character
        speaks without new words, within the cap on characters answering each other."""
        where = await self.speaker(where)
        reply, conv = await self._access(where, reply_id)
        staged = await self.cast.stage(conv.id, where)
        scene_cast.check_pick(staged, ref)
        assert staged is not None and where.user_id is not None
        await self._require_newest(reply, conv)
        if not speakers.may_chain(staged.view.chained, self.chain_limit) and not await self._unanswered_after(reply):
            raise UserError(scene_cast.CHAIN_CAPPED)  # said at once; the claim below is what holds
        lease = await self.limits.acquire(user_id=where.user_id, guild_id=where.guild_id,
                                          channel_id=where.channel_id, parent_id=where.parent_id, kind="chat")
        claimed = False
        try:
            await renderer.cleared()
            async with self._turn_of(conv):
                await self._require_newest(reply, conv)
                staged = await self.cast.stage(conv.id, where)
                scene_cast.check_pick(staged, ref)
                assert staged is not None
                asked = await self._unanswered_after(reply)
                answers_user = asked is not None  # manual mode: words nobody answered yet
                if not answers_user:
                    if not await cast.claim_chain(self.sessions, conv.id, self.chain_limit):
                        raise UserError(scene_cast.CHAIN_CAPPED)
                    claimed = True
                view = staged.view
                if ref is None:
                    order = speakers.order_of(view)
                    order = speakers.Order(order.last_speaker, order.last_position, 0)  # the claim was the check
                    ref = speakers.next_speaker(staged.members, view.mode, order, self.rng,
                                                last_reply=reply.content, limit=self.chain_limit
                                                ) or staged.members[0].ref
                scene = await self.scenes.of_conversation(conv, where)
                outcome = await self._speak(where, scene, staged, ref, renderer, renderers=renderers,
                                            reply_to=asked if answers_user else None, answers_user=answers_user)
                if claimed and outcome.status == "failed" and not outcome.text:
                    await cast.release_chain(self.sessions, conv.id)  # nothing was said: the claim is given back
                return outcome
        finally:
            with contextlib.suppress(Exception):
                await renderer.close()
            await self.limits.release(lease)

    async def _unanswered_after(self, reply: TurnRow) -> int | None:
        """The person's words after `reply` that no character answered yet (manual mode), if any."""
        asked = await self.conversations.latest_user_id(reply.conversation_id)
        return asked if asked is not None and asked > reply.id else None

    async def scene_add(self, where: Where, ref: str, character_name: str) -> cast.Added:
        """A character (already chosen and checked as `/character set` does) joins the channel's scene.

        The conversation's own character joins first when the cast is still empty."""
        assert where.channel_id is not None
        async with self.queue.turn(where.channel_id):
            scene = await self.scenes.of(where)
            assert scene is not None
            conv = scene.conversation
            founder = (conv.character_ref, conv.character_name or scene.character.name)
            problem = scene_cast.join_problem(await cast.load(self.sessions, conv.id), founder=founder, ref=ref,
                                              name=character_name)
            if problem is not None:
                raise UserError(problem)
            added = await cast.add(self.sessions, conv.id, ref=ref, name=character_name, added_by=where.user_id,
                                   founder=founder)
            self.cast.changed(conv.id)
            return added

    async def scene_remove(self, where: Where, ref: str) -> bool:
        """A character leaves the channel's scene (False: it was not in it)."""
        assert where.channel_id is not None
        async with self.queue.turn(where.channel_id):
            conv = await self.scenes.active(where.channel_id)
            if conv is None:
                return False
            return await cast.remove(self.sessions, conv.id, ref)

    async def scene_mode(self, where: Where, mode: str) -> None:
        """How the channel's scene picks who answers."""
        if mode not in cast.MODES:
            raise UserError("Pick natural, round robin, everyone or manual.")
        assert where.channel_id is not None
        async with self.queue.turn(where.channel_id):
            scene = await self.scenes.of(where)
            assert scene is not None
            view = await cast.load(self.sessions, scene.conversation.id)
            if view is None or not view.members:
                raise UserError(scene_cast.NO_CAST)
            await cast.set_mode(self.sessions, scene.conversation.id, mode)

    async def group_chat_jsonl(self, conv: Conversation, summary: str | None = None) -> str | None:
        """A group scene as SillyTavern group chat JSONL (None: the conversation has no cast);
        `summary` as it may be shown (`shown_summary`), else the stored one."""
        view = await cast.load(self.sessions, conv.id)
        if view is None or not view.members:
            return None
        turns = await cast.transcript(self.sessions, conv.id)
        user_name = next((t.author_name for t in turns if t.role == "user" and t.author_name), "User")
        return cast_export.group_chat_jsonl(
            title=conv.title or "Scene", created_at=conv.created_at, members=[m.name for m in view.members],
            mode=view.mode, summary=(conv.summary or "") if summary is None else summary, turns=turns,
            user_name=user_name,
        )

    async def cast_member(self, where: Where, wanted: str | None = None) -> tuple[Character, str] | None:
        """A member of the channel's scene (by reference or name; default the last speaker), with its
        reference (which keys its stable picture seed); None outside a scene or for someone absent."""
        assert where.channel_id is not None
        conv = await self.scenes.active(where.channel_id)
        staged = await self.cast.stage(conv.id, where) if conv is not None else None
        if staged is None:
            return None
        if wanted is None:
            ref = staged.view.last_speaker if staged.has(staged.view.last_speaker or "") else staged.members[0].ref
        else:
            needle = wanted.strip().casefold()
            ref = next((m.ref for m in staged.members
                        if m.ref == wanted or staged.characters[m.ref].name.casefold() == needle), "")
            if not ref:
                return None
        return staged.characters[ref], ref

    async def scene_view(self, where: Where) -> cast.CastView | None:
        """The channel's cast as stored (None: no scene here)."""
        assert where.channel_id is not None
        conv = await self.scenes.active(where.channel_id)
        return await cast.load(self.sessions, conv.id) if conv is not None else None

    async def _prompt(self, scene: Scene, staged: Staged | None, ref: str | None, where: Where, turns: list[TurnRow],
                      *, continue_text: str | None = None,
                      generation: tuple[str, ...] = ("normal",)) -> tuple[Prompt, list[str] | None]:
        """The prompt (and stop sequences) for the scene's character, or a group scene's speaker.
        `generation` is the kind of turn, as lore entries' `triggers` name them."""
        if staged is None or ref is None or not staged.has(ref):
            return await self.prompt_for(scene, where, turns, continue_text=continue_text,
                                         generation=generation), None
        others = staged.others(ref)
        inp = await self._prompt_input(scene, where, turns, continue_text=continue_text, others=others,
                                       generation=generation)
        out = cast_prompt.build_cast_prompt(inp, others=others)
        return out.prompt, out.stop

    async def _speaking_scene(self, conv: Conversation, where: Where, reply_id: int
                              ) -> tuple[Scene, Staged | None, str | None]:
        """The scene a stored reply is shown and regenerated in: its speaker's, in a group scene."""
        scene = await self.scenes.of_conversation(conv, where)
        staged = await self.cast.stage(conv.id, where)
        ref = await cast.speaker_of(self.sessions, reply_id) if staged is not None else None
        if staged is None or ref is None:
            return scene, None, None
        if not staged.has(ref):  # it left the scene since: its reply is still its own
            found = await self.scenes.characters.resolve(ref, user_id=where.user_id, guild_id=where.guild_id)
            if found is None:
                return scene, None, None
            staged = replace(staged, characters={**staged.characters, ref: found})
        return staged.speaking(scene, ref), staged, ref

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
                scene, staged, ref = await self._speaking_scene(conv, where, fresh.id)
                scene = await self._latest_controls(scene, conv, fresh.id)
                await renderer.prepare(scene.look, fresh.discord_ids)
                turns = await self.conversations.window(conv, before_id=fresh.id)
                gate = OutputGate(self.screen, where, lambda: self._background(scene, where, turns))
                if continuing:
                    await self.conversations.mark_streaming(fresh.id)
                    prompt, stop = await self._prompt(scene, staged, ref, where, turns, continue_text=fresh.content,
                                                      generation=("continue",))
                    outcome = await self.generator.run(scene=scene, where=where, reply=fresh, prompt=prompt,
                                                       renderer=renderer, gate=gate,
                                                       existing=fresh.content, stop=stop)
                    return outcome
                swiping = await self.conversations.begin_swipe(fresh.id)
                prompt, stop = await self._prompt(scene, staged, ref, where, turns,
                                                  generation=("regenerate", "swipe"))
                outcome = await self.generator.run(scene=scene, where=where, reply=swiping, prompt=prompt,
                                                   renderer=renderer, gate=gate, stop=stop)
                return await self._tidy(outcome, scene, where, renderer)
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
            scene, _staged, _ref = await self._speaking_scene(conv, where, fresh.id)
            scene = await self._latest_controls(scene, conv, fresh.id)
            await self._show(where, conv, updated, updated.content, renderer, latest=True, scene=scene)
            return updated

    async def reply_to_edit(self, where: Where, reply_id: int) -> TurnRow:
        """The reply a person may open the edit form for (checked like every control)."""
        reply, _conv = await self._access(where, reply_id)
        if self.generator.is_streaming(reply.id):
            raise UserError(rules.STILL_WRITING)
        if len(reply.content) > rules.EDIT_MAX:
            raise UserError(f"That reply is longer than {rules.EDIT_MAX:,} characters, too long to edit in a form.")
        return reply

    async def reply_to_hear(self, where: Where, reply_id: int) -> tuple[TurnRow, str]:
        """The reply a person may have read aloud (checked like every control), and the reference
        of the character who said it."""
        reply, conv = await self._access(where, reply_id)
        if self.generator.is_streaming(reply.id):
            raise UserError(rules.STILL_WRITING)
        return reply, conv.character_ref

    async def edit_reply(self, where: Where, reply_id: int, text: str, renderer: Renderer) -> TurnRow:
        """What the character said becomes `text` (screened like anything a person writes).

        Checked again on submit: the reply must be in this place and this person its owner or a
        moderator here, whatever the form's custom id says.
        """
        reply, conv = await self._access(where, reply_id)
        text = rules.check_edit(text)
        where = await self.speaker(where)
        await self.screen.check_input(text, where.at("chat edit"),
                                      background=lambda: self._background_at(where, conv, reply.id))
        await renderer.cleared()
        async with self._turn_of(conv):
            updated = await self.conversations.edit_content(reply.id, text)
            if updated is None:
                raise UserError(rules.GONE)
            latest = not conv.archived and await self._in_latest_round(conv, reply.id)
            scene, _staged, _ref = await self._speaking_scene(conv, where, reply.id)
            scene = await self._latest_controls(scene, conv, reply.id)
            await self._show(where, conv, updated, updated.content, renderer, latest=latest, scene=scene)
            return updated

    async def delete_reply(self, where: Where, reply_id: int, renderer: Renderer) -> Deleted:
        """The reply and the words it answered leave the story, and the reply's messages go."""
        reply, conv = await self._access(where, reply_id)
        self.generator.stop(reply.id)  # before waiting for the turn, which the streaming reply holds
        await renderer.cleared()
        async with self._turn_of(conv):
            fresh = await self._fresh(reply.id)
            scene, _staged, _ref = await self._speaking_scene(conv, where, fresh.id)
            await self.conversations.delete_turn(fresh.id)
            await renderer.prepare(scene.look, fresh.discord_ids)
            await renderer.remove()
            asked = await self.conversations.turn(fresh.reply_to) if fresh.reply_to is not None else None
            # In a scene the words stay while another character's reply still answers them.
            gone = asked is not None and asked.status == "deleted"
            return Deleted(fresh, list(asked.discord_ids) if gone and asked is not None else [])

    async def stop(self, where: Where, reply_id: int, renderer: Renderer) -> bool:
        """Stop a streaming reply (True). A reply left streaming by a crash gets its controls back."""
        reply, conv = await self._access(where, reply_id)
        await renderer.cleared()
        if self.generator.stop(reply.id):
            return True
        async with self._turn_of(conv):
            fresh = await self._fresh(reply.id)
            latest = not conv.archived and await self._in_latest_round(conv, reply.id)
            scene, _staged, _ref = await self._speaking_scene(conv, where, fresh.id)
            scene = await self._latest_controls(scene, conv, fresh.id)
            await self._show(where, conv, fresh, fresh.content or "*(interrupted)*", renderer, latest=latest,
                             scene=scene)
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
        prompt = await pictures.describe(venice=self.venice, limits=self.limits, screen=self.screen,
                                         scene=scene, rows=rows, where=where,
                                         background=await self._background(scene, where, rows))
        staged = await self.cast.stage(conv.id, where)
        if staged is not None:  # a group scene: everyone present is in the picture, each with its own seed
            members = tuple((staged.characters[m.ref], m.ref) for m in staged.members)
            return pictures.ScenePicture(prompt, members[0][0], members[0][1], cast=members)
        return pictures.ScenePicture(prompt, scene.character, conv.character_ref)

    async def shown_summary(self, where: Where, conv: Conversation) -> str:
        """The conversation's rolling summary as it may be shown (`/conversation memory`, exports):
        checked like model output (summaries stored before the judge existed were not), or a note
        that it was withheld."""
        summary = conv.summary or ""
        if not summary.strip():
            return ""
        scene = await self.scenes.of_conversation(conv, where)
        decision = await self.screen.check_output(
            summary, where.at("conversation memory"),
            background=chat_background(scene.character, user_name=where.user_name))
        if decision.allowed:
            return summary
        return SUMMARY_UNCHECKED if decision.unavailable else SUMMARY_WITHHELD

    # -- conversations ----------------------------------------------------------------------------

    async def new_conversation(self, where: Where, renderer: Renderer, *, character_ref: str | None = None,
                               keep_cast: bool = False, more: Callable[[], Renderer] | None = None) -> Scene:
        """Archive the channel's conversation and start afresh with the channel's character (or
        `character_ref`); the greeting is shown with its controls.

        `keep_cast` (/reset): a group scene keeps its cast and mode, and each member greets in cast
        order (its group greetings when its card has some), through renderers from `more`.
        """
        assert where.channel_id is not None
        where = await self.speaker(where)
        async with self.queue.turn(where.channel_id):
            old = await self.scenes.active(where.channel_id) if keep_cast else None
            old_cast = await cast.load(self.sessions, old.id) if old is not None else None
            if old is None or old_cast is None or not old_cast.members:
                scene, greeting = await self.scenes.start(where, character_ref)
                if greeting is not None:
                    await self._show(where, scene.conversation, greeting, greeting.content, renderer, latest=True,
                                     scene=scene)
                return scene
            scene, _ = await self.scenes.start(where, character_ref or old.character_ref, greet=False)
            conv = scene.conversation
            await cast.copy(self.sessions, old.id, conv.id)
            self.cast.changed(conv.id)
            await self._greet(where, scene, renderer, more or (lambda: renderer))
            return scene

    async def _greet(self, where: Where, scene: Scene, renderer: Renderer, renderers: Callable[[], Renderer]) -> None:
        """A new scene's members greet, in cast order; the last greeting carries the scene controls."""
        conv = scene.conversation
        staged = await self.cast.stage(conv.id, where)
        if staged is None:
            return
        members = [(m.ref, staged.characters[m.ref]) for m in staged.members]
        rows = await cast.add_greetings(self.sessions, conv.id, cast_prompt.scene_greetings(members, where.user_name))
        for i, row in enumerate(rows):
            ref = await cast.speaker_of(self.sessions, row.id)
            assert ref is not None
            await cast.record_reply(self.sessions, conv.id, reply_id=row.id, ref=ref, answers_user=True)
            last = i == len(rows) - 1
            speaking = staged.speaking(scene, ref)
            await self._show(where, conv, row, row.content, renderer if i == 0 else renderers(), latest=True,
                             scene=speaking if last else replace(speaking, cast=()))

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
        where = await self.speaker(where)

        conversation_id, turn_id = turn.conversation_id, turn.id

        async def background() -> JudgeContext:
            conv = await self.conversations.get(conversation_id)
            return await self._background_at(where, conv, turn_id) if conv is not None else JudgeContext()

        await self.screen.check_input(text, where.at("chat edit"), background=background)
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
                         continue_text: str | None = None, generation: tuple[str, ...] = ("normal",)) -> Prompt:
        return build_prompt(await self._prompt_input(scene, where, turns, continue_text=continue_text,
                                                     generation=generation))

    async def _prompt_input(self, scene: Scene, where: Where, turns: list[TurnRow], *,
                            continue_text: str | None = None,
                            others: Sequence[Character] | None = None,
                            generation: tuple[str, ...] = ("normal",)) -> PromptInput:
        """What the prompt is built from. With `others` (a group scene's other members), the books
        compiled ahead in a worker thread are the tiers the cast prompt will scan: the merged
        lorebook of the cast (`cast_prompt.merged_lorebook`), under the same cache key, so no scene
        turn compiles a large book on the event loop."""
        persona = await self.personas.persona(where.user_id) if where.user_id is not None else None
        calibrator = self.generator.calibrators.setdefault(scene.model, TokenCalibrator())
        user_name = persona[0] if persona else where.user_name
        books = await self._books(scene, where)
        own = cast_prompt.merged_lorebook(scene.character, others) if others else scene.character.lorebook
        lore_settings = LoreSettings(generation=generation, character_name=scene.character.name,
                                     character_tags=tuple(scene.character.tags),
                                     min_activations=scene.lore_min_activations,
                                     min_activations_depth_max=scene.lore_min_activations_depth_max)
        await self.lore_compiler.prepare(books.tiers(own), lore_settings,
                                         (scene.character.name, user_name), self._compile)
        return PromptInput(
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
            lore_settings=lore_settings,
        )

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
            character=scene.character, guild_id=scene.conversation.guild_id, user_id=where.user_id,
        )
        return LoreBooks(chat=found.chat, character=found.character, server=found.server, persona=found.persona,
                         strategy=strategy_of(scene.lore_strategy))

    async def set_author_note(self, where: Where, note: AuthorNote | None) -> Conversation:
        """Set (None: clear) the Author's Note of the channel's conversation; the caller screened it."""
        conv = await self.conversations.active(where.channel_id or 0)
        if conv is None:
            raise UserError("There is no conversation in this channel yet: say something first.")
        async with self.queue.turn(conv.channel_id):
            value = None if note is None else {**note.stored(), "by": where.user_id}  # privacy: whose words
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

    # -- the judge's context ----------------------------------------------------------------------

    async def _background(self, scene: Scene, where: Where, turns: list[TurnRow]) -> JudgeContext:
        """What the judge sees beside a text of this scene: the character, the speaker's persona,
        the rolling summary and the last few of `turns`."""
        persona = await self.personas.persona(where.user_id) if where.user_id is not None else None
        return chat_background(scene.character, persona=persona, turns=turns[-JUDGE_TURNS:],
                               summary=scene.conversation.summary or "", user_name=where.user_name)

    async def _background_at(self, where: Where, conv: Conversation, before_id: int) -> JudgeContext:
        """The judge's context for a text at one point of `conv` (an edit): the turns before it."""
        scene = await self.scenes.of_conversation(conv, where)
        turns = await self.conversations.window(conv, before_id=before_id, limit=JUDGE_TURNS)
        return await self._background(scene, where, turns)

    async def _channel_background(self, where: Where) -> JudgeContext:
        """The judge's context for new words in the channel: its conversation's latest turns (or,
        before the first turn, the channel's character)."""
        scene = await self.scenes.of(where, create=False)
        if scene is None:
            character, _ref, _source = await self.scenes.for_channel(where)
            persona = await self.personas.persona(where.user_id) if where.user_id is not None else None
            return chat_background(character, persona=persona, user_name=where.user_name)
        turns = await self.conversations.window(scene.conversation, limit=JUDGE_TURNS)
        return await self._background(scene, where, turns)

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
        latest_id = await self.conversations.latest_reply_id(conv.id)
        if latest_id != reply.id and await self._in_latest_round(conv, reply.id):
            latest_id = reply.id  # a group scene: every reply to the latest words may be swiped
        rules.check_latest(archived=conv.archived, latest_id=latest_id,
                           reply_id=reply.id, streaming=self.generator.is_streaming(reply.id))

    async def _require_newest(self, reply: TurnRow, conv: Conversation) -> None:
        """⏭ Next and "who answers" only under the conversation's very latest reply."""
        try:
            rules.check_latest(archived=conv.archived, latest_id=await self.conversations.latest_reply_id(conv.id),
                               reply_id=reply.id, streaming=self.generator.is_streaming(reply.id))
        except UserError as exc:
            if exc.user_message == rules.NOT_LATEST:
                raise UserError(scene_cast.NOT_NEWEST) from None
            raise

    async def _in_latest_round(self, conv: Conversation, reply_id: int) -> bool:
        """The latest reply, or in a group scene any reply that came after the latest words
        (the characters answering one message; the words after it start a new round)."""
        latest = await self.conversations.latest_reply_id(conv.id)
        if latest == reply_id:
            return True
        if latest is None or await cast.load(self.sessions, conv.id) is None:
            return False
        asked = await self.conversations.latest_user_id(conv.id)
        return asked is None or reply_id > asked

    async def _latest_controls(self, scene: Scene, conv: Conversation, reply_id: int) -> Scene:
        """The scene controls ("who answers", ⏭) ride only on the conversation's latest reply."""
        if scene.cast and await self.conversations.latest_reply_id(conv.id) != reply_id:
            return replace(scene, cast=())
        return scene

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


def _show_pictures(prompt: Prompt, pictures: Sequence[VisionImage]) -> None:
    """The newest user message (what was just said) carries the pictures as `image_url` parts (not
    an Author's or Character's Note sent as a user message after it)."""
    if prompt.user_at is not None:
        message = prompt.messages[prompt.user_at]
        prompt.messages[prompt.user_at] = vision_user_message(str(message.get("content") or ""), pictures)  # type: ignore[assignment]
        return
    for index in range(len(prompt.messages) - 1, -1, -1):
        message = prompt.messages[index]
        if message.get("role") == "user":
            prompt.messages[index] = vision_user_message(str(message.get("content") or ""), pictures)  # type: ignore[assignment]
            return
