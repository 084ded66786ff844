"""The buttons under a reply and the edit form: regenerate, swipes, continue, edit, picture, delete, stop.

Every control re-asks the gate first (before anything is read or written), then checks that the
presser is the person whose turn it was or a moderator of the channel. Controls that change the
story wait for the channel's turn queue, so they never interleave with a reply being written;
they acknowledge Discord before waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord

from bot import policy, safety
from bot.chat.prompt import SCENE_TURNS, Turn, build_scene_prompt_request
from bot.chat.service import Scene
from bot.chat.writer import EMPTY, Posted
from bot.errors import UserError
from bot.store.conversations import TurnRow
from bot.ui.chat_views import EDIT_MAX, EditReplyModal
from bot.ui.errors import reply_ephemeral, user_message_for
from bot.ui.gating import NOT_YOURS, component_allowed, is_moderator
from bot.ui.image_surface import InteractionSurface, post_scene_image
from bot.venice.errors import VeniceError
from bot.where import Where

if TYPE_CHECKING:
    from cogs.chat import Chat

log = logging.getLogger(__name__)

GONE = "That reply no longer exists."
NOT_LATEST = "Only the latest reply can be regenerated, continued or swiped."
ARCHIVED = "That conversation is archived: `/conversation resume` brings it back."
STILL_WRITING = "That reply is still being written: wait for it, or press ⏹️ Stop."
GENERIC = "Something went wrong on my side. It has been logged; please try again."
DELETED = "Deleted: that exchange has left the story."
SCENE_REFUSED = "I can't draw this scene: its description broke the content policy. Try again as the story moves on."

Handler = Callable[[discord.Interaction, TurnRow], Awaitable[None]]


class ChatControls:
    """What each button and the edit form do; owned by the chat cog."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat
        self.engine = chat.engine
        self.services = chat.services
        self.conversations = chat.engine.conversations

    async def on_button(self, interaction: discord.Interaction, action: str, reply_id: int) -> None:
        if not await component_allowed(interaction):
            return
        handlers: dict[str, Handler] = {
            "stop": self._stop, "prev": self._previous, "next": self._next, "regen": self._regenerate,
            "cont": self._continue, "edit": self._edit, "del": self._delete, "pic": self._picture,
        }
        try:
            reply = await self._mine(interaction, reply_id)
            if reply is None:
                return
            handler = handlers.get(action)
            if handler is None:
                raise UserError("That button is not in use any more.")
            await handler(interaction, reply)
        except Exception as exc:
            await self._report(interaction, exc, f"chat button {action} on reply {reply_id}")

    async def on_edit_submit(self, interaction: discord.Interaction, reply_id: int, text: str) -> None:
        if not await component_allowed(interaction):
            return
        try:
            reply = await self._mine(interaction, reply_id)
            if reply is None:
                return
            text = text.strip()
            if not text:
                raise UserError("The reply can't be empty: use 🗑️ Delete to remove it.")
            if len(text) > EDIT_MAX:  # the form stops this; a forged submit must not get past it
                raise UserError(f"That's too long: an edited reply can be at most {EDIT_MAX:,} characters.")
            where, scene, latest = await self._context(interaction, reply)
            await self.chat._screen(text, where, "chat edit")
            await interaction.response.defer()
            async with self.engine.queue.turn(where.channel_id):
                updated = await self.conversations.edit_content(reply.id, text)
                if updated is None:
                    raise UserError(GONE)
                await self._show(interaction, scene, updated, updated.content, latest=latest)
        except Exception as exc:
            await self._report(interaction, exc, f"editing reply {reply_id}")

    # -- who and what ---------------------------------------------------------------------------

    async def _mine(self, interaction: discord.Interaction, reply_id: int) -> TurnRow | None:
        """The reply, if it exists and the presser may touch it; otherwise answered privately."""
        reply = await self.conversations.turn(reply_id)
        if reply is None or reply.status == "deleted" or reply.role != "assistant":
            await reply_ephemeral(interaction, GONE)
            return None
        owner = await self._owner_of(reply)
        if owner is not None and interaction.user.id != owner and not is_moderator(interaction):
            await reply_ephemeral(interaction, NOT_YOURS)
            return None
        return reply

    async def _owner_of(self, reply: TurnRow) -> int | None:
        """Whose turn it was: the author of the message it answers, else who started the conversation."""
        if reply.reply_to is not None:
            asked = await self.conversations.turn(reply.reply_to)
            if asked is not None and asked.author_id is not None:
                return asked.author_id
        conv = await self.conversations.get(reply.conversation_id)
        return conv.created_by if conv else None

    async def _context(self, interaction: discord.Interaction, reply: TurnRow) -> tuple[Where, Scene, bool]:
        """Where we are, the reply's conversation (a deleted character falls back to the default), and
        whether the reply is the latest of an active conversation."""
        conv = await self.conversations.get(reply.conversation_id)
        if conv is None:
            raise UserError("That conversation was deleted.")
        where = await self.chat.where(interaction.channel, interaction.guild_id, interaction.user)
        character = await self.engine.resolve(conv.character_ref, where)
        scene = await self.engine.scene_of(conv, character, where)
        latest = not conv.archived and await self.conversations.latest_reply_id(conv.id) == reply.id
        return where, scene, latest

    async def _require_latest(self, reply: TurnRow, scene: Scene) -> None:
        if scene.conversation.archived:
            raise UserError(ARCHIVED)
        if await self.conversations.latest_reply_id(scene.conversation.id) != reply.id:
            raise UserError(NOT_LATEST)
        if self.engine.is_streaming(reply.id):
            raise UserError(STILL_WRITING)

    def _messages(self, interaction: discord.Interaction, reply: TurnRow, scene: Scene) -> list[Posted]:
        """The reply's messages as stored; how they were posted is read from the pressed message.

        The pressed message is the reply's even when it was never linked (a crash between posting
        it and storing its id), since its button carries the reply's id.
        """
        message = interaction.message
        ids = list(reply.discord_ids)
        if message is not None:
            via_webhook = message.webhook_id is not None
            if message.id not in ids:
                ids.append(message.id)
        else:
            via_webhook = scene.personas and interaction.guild_id is not None
        return [Posted(mid, via_webhook) for mid in ids]

    async def _show(self, interaction: discord.Interaction, scene: Scene, reply: TurnRow, content: str, *,
                    latest: bool = True) -> None:
        """Rewrite the reply's messages in place with `content` and its buttons."""
        writer = self.chat.writer(interaction.channel, scene, reuse=self._messages(interaction, reply, scene))
        ids = await writer.replace_all(content or EMPTY, self.chat.view_for(reply, scene, latest=latest))
        await self.conversations.link_discord(reply.id, scene.conversation.channel_id, ids)

    async def _fresh(self, reply: TurnRow) -> TurnRow:
        """The reply as stored now (after waiting for the queue, another turn may have changed it)."""
        fresh = await self.conversations.turn(reply.id)
        if fresh is None or fresh.status == "deleted":
            raise UserError(GONE)
        return fresh

    # -- the buttons ----------------------------------------------------------------------------

    async def _stop(self, interaction: discord.Interaction, reply: TurnRow) -> None:
        await interaction.response.defer()
        if self.engine.stop(reply.id):
            return
        # Not streaming here: a reply left with a stop button by a crash gets its real buttons back.
        where, scene, latest = await self._context(interaction, reply)
        async with self.engine.queue.turn(where.channel_id):
            fresh = await self._fresh(reply)
            await self._show(interaction, scene, fresh, fresh.content or "*(interrupted)*", latest=latest)

    async def _previous(self, interaction: discord.Interaction, reply: TurnRow) -> None:
        await self._swipe(interaction, reply, -1)

    async def _next(self, interaction: discord.Interaction, reply: TurnRow) -> None:
        await self._swipe(interaction, reply, +1)

    async def _swipe(self, interaction: discord.Interaction, reply: TurnRow, step: int) -> None:
        where, scene, _ = await self._context(interaction, reply)
        await self._require_latest(reply, scene)
        await interaction.response.defer()
        async with self.engine.queue.turn(where.channel_id):
            await self._require_latest(reply, scene)
            fresh = await self._fresh(reply)
            updated = await self.conversations.set_swipe(fresh.id, fresh.swipe_index + step)
            if updated is not None:
                await self._show(interaction, scene, updated, updated.content)

    async def _regenerate(self, interaction: discord.Interaction, reply: TurnRow) -> None:
        await self._rerun(interaction, reply, continuing=False)

    async def _continue(self, interaction: discord.Interaction, reply: TurnRow) -> None:
        if not reply.content.strip():
            raise UserError("There is nothing to continue yet: press 🔄 Regenerate instead.")
        await self._rerun(interaction, reply, continuing=True)

    async def _rerun(self, interaction: discord.Interaction, reply: TurnRow, *, continuing: bool) -> None:
        """Regenerate (a new swipe; the old ones are kept) or continue the latest reply."""
        where, scene, _ = await self._context(interaction, reply)
        await self._require_latest(reply, scene)
        limits = self.services.limits
        ticket = await limits.acquire(user_id=where.user_id, guild_id=where.guild_id, channel_id=where.channel_id,
                                      parent_id=where.parent_id, kind="chat")
        try:
            await interaction.response.defer()
            async with self.engine.queue.turn(where.channel_id):
                await self._require_latest(reply, scene)
                fresh = await self._fresh(reply)
                messages = self._messages(interaction, fresh, scene)
                turns = await self.conversations.window(scene.conversation, before_id=fresh.id)
                if continuing:
                    await self.conversations.mark_streaming(fresh.id)
                    prompt = await self.engine.prompt_for(scene, where, turns, continue_text=fresh.content)
                    await self.chat.run_turn(interaction.channel, scene, where, fresh, prompt, reuse=messages,
                                             existing=fresh.content)
                else:
                    swiping = await self.conversations.begin_swipe(fresh.id)
                    prompt = await self.engine.prompt_for(scene, where, turns)
                    await self.chat.run_turn(interaction.channel, scene, where, swiping, prompt, reuse=messages)
        finally:
            await limits.release(ticket)

    async def _edit(self, interaction: discord.Interaction, reply: TurnRow) -> None:
        if self.engine.is_streaming(reply.id):
            raise UserError(STILL_WRITING)
        if len(reply.content) > EDIT_MAX:
            raise UserError(f"That reply is longer than {EDIT_MAX:,} characters, too long to edit in a form.")
        await interaction.response.send_modal(EditReplyModal(reply.id, reply.content))

    async def _delete(self, interaction: discord.Interaction, reply: TurnRow) -> None:
        """The reply and the message it answered leave the story, and the reply leaves Discord."""
        self.engine.stop(reply.id)  # before waiting for the queue, which the streaming reply holds
        where, scene, _ = await self._context(interaction, reply)
        await interaction.response.defer(ephemeral=True, thinking=True)
        async with self.engine.queue.turn(where.channel_id):
            fresh = await self._fresh(reply)
            await self.conversations.delete_turn(fresh.id)
            writer = self.chat.writer(interaction.channel, scene)
            for posted in self._messages(interaction, fresh, scene):
                await writer.delete(posted)
            if fresh.reply_to is not None:
                await self._delete_echo(interaction, fresh.reply_to)
        await interaction.edit_original_response(content=DELETED)

    async def _delete_echo(self, interaction: discord.Interaction, user_turn_id: int) -> None:
        """A /chat acknowledgement (the bot's copy of what was said) goes too; a user's own message stays."""
        asked = await self.conversations.turn(user_turn_id)
        channel = interaction.channel
        me = interaction.client.user
        if asked is None or not asked.discord_ids or me is None or not isinstance(channel, discord.abc.Messageable):
            return
        try:
            message = await channel.fetch_message(asked.discord_ids[0])
            if message.author.id == me.id:
                await message.delete()
        except discord.HTTPException as exc:
            log.info("could not remove the acknowledgement of turn %s: %s", user_turn_id, exc)

    async def _picture(self, interaction: discord.Interaction, reply: TurnRow) -> None:
        """A scene image: Venice describes the scene from the last turns, the image service draws it."""
        where, scene, _ = await self._context(interaction, reply)
        if not self.chat.pictures_on(scene):
            raise UserError("Pictures are turned off in this channel.")
        await interaction.response.defer(thinking=True)
        surface = InteractionSurface(interaction)
        rows = await self.conversations.window(scene.conversation, before_id=reply.id + 1, limit=SCENE_TURNS)
        turns = [Turn(t.role, t.content, t.author_name, t.id) for t in rows]  # type: ignore[arg-type]
        request = build_scene_prompt_request(scene.character, turns, where.user_name)
        try:
            result = await self.services.venice.chat(request, model=scene.model, max_tokens=200)
        except VeniceError as exc:
            await surface.refused(exc.user_message)
            return
        await self.services.limits.record(
            user_id=where.user_id, guild_id=where.guild_id, kind="scene",
            prompt_tokens=result.usage.prompt_tokens if result.usage else 0,
            completion_tokens=result.usage.completion_tokens if result.usage else 0,
            cost_usd=(result.cost.usd or 0.0) if result.cost else 0.0,
        )
        prompt = result.text.strip()
        if not prompt:
            await surface.refused("I couldn't describe this scene; please try again.")
            return
        verdict = safety.screen(prompt, for_image=True)
        if not verdict.allowed:
            # Venice's words, not the presser's: audited, but no strike against them.
            venice_wrote = where.anonymous("chat scene")
            await policy.audit(self.services.sessions, venice_wrote, kind="refusal", rule=verdict.rule,
                               detail="chat scene (written by Venice)")
            await surface.refused(SCENE_REFUSED)
            return
        await post_scene_image(interaction, scene_prompt=prompt, character=scene.character,
                               character_ref=scene.conversation.character_ref)

    # -- errors ---------------------------------------------------------------------------------

    @staticmethod
    async def _report(interaction: discord.Interaction, exc: BaseException, what: str) -> None:
        text = user_message_for(exc)
        if text is None:
            log.error("%s failed", what, exc_info=exc)
            text = GENERIC
        if interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
            # A "thinking…" message is showing: it becomes the answer instead of staying forever.
            try:
                await interaction.edit_original_response(content=text)
                return
            except discord.HTTPException:
                pass
        await reply_ephemeral(interaction, text)
