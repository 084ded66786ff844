"""Chat: /chat, @mentions and replies, DM chat, and the buttons under every reply.

Thin on purpose: it turns Discord events into `Where`/`Scene` values for `ChatService`, and the
service's outcomes back into messages. The gate runs on every path (the tree check for commands,
`place_of_message` for plain messages, `component_allowed` for buttons and modals).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import gate, policy
from bot.chat.service import WITHHELD, ChatService, Outcome, Scene, Where
from bot.chat.writer import Posted, ReplyWriter
from bot.client import LustifyBot, reply_ephemeral, user_message_for
from bot.errors import UserError
from bot.store import users
from bot.store.conversations import TurnRow
from bot.ui.chat_views import EDIT_MAX, ChatButton, EditReplyModal, reply_view, stop_view
from bot.ui.gating import component_allowed
from bot.ui.stream import StreamRenderer
from cogs.chat_admin import ConversationCog

log = logging.getLogger(__name__)

MAX_INPUT = 4000
DM_LOCKED = (
    "🔞 To chat here, first run any of my slash commands in this DM (for example `/chat`). "
    "Discord only lets adults who allowed age-restricted commands do that."
)
DM_OFF = "Chat in DMs is turned off by the bot's owner."
EMPTY = "Say something after mentioning me, and I'll answer."
TOO_LONG = f"That message is too long for me: please keep it under {MAX_INPUT:,} characters."
NOT_LATEST = "Only the latest reply can be regenerated, continued or swiped."


def where_of(channel: Any, *, guild_id: int | None, user: discord.abc.User) -> Where:
    parent_id = channel.parent_id if isinstance(channel, discord.Thread) else None
    return Where(
        channel_id=channel.id, guild_id=guild_id, parent_id=parent_id, user_id=user.id,
        user_name=getattr(user, "display_name", user.name), multi_user=guild_id is not None,
    )


class Chat(commands.Cog):
    """Talk with the channel's character."""

    def __init__(self, bot: LustifyBot) -> None:
        self.bot = bot
        assert bot.services is not None
        self.services = bot.services
        self.engine: ChatService = bot.services.chat  # type: ignore[attr-defined]

    async def cog_load(self) -> None:
        recovered = await self.engine.conversations.recover_interrupted()
        if recovered:
            log.info("marked %d replies interrupted by the last shutdown as failed", recovered)

    # -- entry points ---------------------------------------------------------------------------

    @app_commands.command(name="chat", description="Say something to the channel's character", nsfw=True)
    @app_commands.describe(message="What you say or do")
    async def chat(self, interaction: discord.Interaction, message: app_commands.Range[str, 1, MAX_INPUT]) -> None:
        where = where_of(interaction.channel, guild_id=interaction.guild_id, user=interaction.user)
        await self._screen(message, where, "chat")
        echo = discord.Embed(description=message, colour=discord.Colour.dark_purple())
        echo.set_author(name=where.user_name, icon_url=interaction.user.display_avatar.url)
        ticket = await self.services.limits.acquire(
            user_id=where.user_id, guild_id=where.guild_id, channel_id=where.channel_id,
            parent_id=where.parent_id, kind="chat",
        )
        try:
            await interaction.response.send_message(embed=echo)
            origin = await interaction.original_response()
            await self.converse(interaction.channel, where, message, origin.id)
        finally:
            await self.services.limits.release(ticket)

    @app_commands.command(name="reset", description="Start a new conversation in this channel", nsfw=True)
    async def reset(self, interaction: discord.Interaction) -> None:
        where = where_of(interaction.channel, guild_id=interaction.guild_id, user=interaction.user)
        await interaction.response.defer(thinking=True)
        async with self.engine.queue.turn(where.channel_id):
            scene, greeting = await self.engine.new_conversation(where)
        await interaction.edit_original_response(
            content=f"New conversation with **{scene.character.name}**. The previous one is archived "
                    "(`/conversation list`)."
        )
        if greeting is not None:
            await self.post_existing(interaction.channel, scene, greeting)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.webhook_id is not None or self.bot.user is None:
            return
        if not await self._addressed_to_us(message):
            return
        try:
            await self._handle_message(message)
        except UserError as exc:
            await self._say(message, exc.message)
        except Exception as exc:
            text = user_message_for(exc)
            if text is None:
                log.exception("chat message in channel %s failed", message.channel.id)
                text = "Something went wrong on my side. It has been logged; please try again."
            await self._say(message, text)

    async def _addressed_to_us(self, message: discord.Message) -> bool:
        assert self.bot.user is not None
        if isinstance(message.channel, discord.DMChannel):
            return True
        if message.guild is None:
            return False
        if self.bot.user.id in message.raw_mentions:
            return True
        ref = message.reference
        if ref is None or ref.message_id is None:
            return False
        resolved = ref.resolved
        if isinstance(resolved, discord.Message) and resolved.author.id == self.bot.user.id:
            return True
        linked = await self.engine.conversations.by_discord_id(ref.message_id)
        return linked is not None and linked.role == "assistant"

    async def _handle_message(self, message: discord.Message) -> None:
        decision = gate.decide(await gate.place_of_message(self.bot, message))
        if not decision.allowed:
            await self._say(message, decision.reason)
            return
        user_id = message.author.id
        if isinstance(message.channel, discord.DMChannel):
            if not await self.services.config.get("dm_chat", guild_id=None, channel_id=None):
                await self._say(message, DM_OFF)
                return
            if not await users.dm_unlocked(self.services.sessions, user_id):
                await self._say(message, DM_LOCKED)
                return
        until = await users.blocked_until(self.services.sessions, user_id)
        if until is not None:
            await self._say(message, f"You're blocked from this bot until {discord.utils.format_dt(until, 'f')}.")
            return
        text = self._content(message)
        if not text.strip():
            await self._say(message, EMPTY)
            return
        if len(text) > MAX_INPUT:
            await self._say(message, TOO_LONG)
            return
        where = where_of(message.channel, guild_id=message.guild.id if message.guild else None, user=message.author)
        await self._screen(text, where, "chat")
        ticket = await self.services.limits.acquire(
            user_id=user_id, guild_id=where.guild_id, channel_id=where.channel_id, parent_id=where.parent_id,
            kind="chat",
        )
        try:
            await self.converse(message.channel, where, text, message.id)
        finally:
            await self.services.limits.release(ticket)

    def _content(self, message: discord.Message) -> str:
        assert self.bot.user is not None
        text = re.sub(rf"<@!?{self.bot.user.id}>", "", message.content)
        for user in message.mentions:
            if user.id != self.bot.user.id:
                text = re.sub(rf"<@!?{user.id}>", f"@{user.display_name}", text)
        return text.strip()

    async def _say(self, message: discord.Message, text: str) -> None:
        try:
            await message.reply(text, mention_author=False, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as exc:
            log.info("could not answer message %s: %s", message.id, exc)

    async def _screen(self, text: str, where: Where, entry: str) -> None:
        await policy.check_text(
            self.services.sessions, text, policy.Where(where.user_id, where.guild_id, where.channel_id, entry)
        )

    # -- a turn ---------------------------------------------------------------------------------

    def writer(self, channel: Any, scene: Scene, *, first_view: discord.ui.View | None = None,
               initial: list[Posted] | None = None) -> ReplyWriter:
        personas = getattr(self.services, "personas", None)
        character = scene.character
        return ReplyWriter(
            poster=personas, channel=channel, name=character.name, avatar_url=character.avatar_url,
            use_webhook=scene.personas, first_view=first_view, initial=list(initial or []),
        )

    def _pictures(self) -> bool:
        return getattr(self.services, "images", None) is not None

    async def converse(self, channel: Any, where: Where, text: str, discord_message_id: int | None) -> Outcome:
        """Answer one message: in order behind earlier ones in this channel, streamed, then stored."""
        async with self.engine.queue.turn(where.channel_id):
            scene = await self.engine.scene(where)
            assert scene is not None
            user_row, reply_row = await self.engine.conversations.begin_turn(
                scene.conversation.id, author_id=where.user_id, author_name=where.user_name, content=text,
                discord_message_id=discord_message_id, channel_id=where.channel_id, model=scene.model,
            )
            await self.engine.conversations.set_title_if_empty(scene.conversation.id, text[:60])
            turns = await self.engine.conversations.window(scene.conversation, before_id=user_row.id)
            turns.append(user_row)
            prompt = await self.engine.prompt_for(scene, where, turns)
            writer = self.writer(channel, scene, first_view=stop_view(reply_row.id))
            outcome = await self._run(scene, where, reply_row, prompt, writer, channel)
            await self.engine.fold_summary(scene, turns, prompt.dropped_turns, where)
            return outcome

    async def _run(self, scene: Scene, where: Where, reply: TurnRow, prompt: Any, writer: ReplyWriter,
                   channel: Any, existing: str = "") -> Outcome:
        renderer = StreamRenderer(writer.send, writer.edit)

        async def link(handles: list[object]) -> None:
            ids = [h.message_id for h in handles if isinstance(h, Posted)]
            await self.engine.conversations.link_discord(reply.id, where.channel_id, ids)

        typing = channel.typing() if hasattr(channel, "typing") else None
        try:
            if typing is not None:
                await typing.__aenter__()
            outcome = await self.engine.stream(
                scene=scene, where=where, reply=reply, prompt=prompt, renderer=renderer, existing=existing,
                on_first_message=link,
            )
        finally:
            if typing is not None:
                await typing.__aexit__(None, None, None)
        if outcome.withheld:
            for posted in writer.posted[1:]:
                await writer.delete(posted)
            writer.posted[1:] = []
            if writer.posted:
                await writer.edit(writer.posted[0], WITHHELD)
        latest = True
        await writer.finalize(reply_view(outcome.reply, latest=latest, pictures=self._pictures()))
        return outcome

    async def post_existing(self, channel: Any, scene: Scene, turn: TurnRow) -> None:
        """Post a stored turn (a greeting) with its buttons; alternate greetings are its swipes."""
        writer = self.writer(channel, scene)
        ids = await writer.replace_all(turn.content, reply_view(turn, latest=True, pictures=self._pictures()))
        await self.engine.conversations.link_discord(turn.id, channel.id, ids)

    # -- buttons --------------------------------------------------------------------------------

    async def on_button(self, interaction: discord.Interaction, action: str, reply_id: int) -> None:
        reply = await self.engine.conversations.turn(reply_id)
        owner = await self._owner_of(reply)
        if not await component_allowed(interaction, owner_id=owner):
            return
        if reply is None or reply.status == "deleted":
            await reply_ephemeral(interaction, "That reply no longer exists.")
            return
        try:
            handler = {
                "stop": self._stop, "prev": self._swipe, "next": self._swipe, "regen": self._regenerate,
                "cont": self._continue, "edit": self._edit, "del": self._delete, "pic": self._picture,
            }.get(action)
            if handler is None:
                await reply_ephemeral(interaction, "That button is not in use any more.")
                return
            await handler(interaction, reply, action)
        except Exception as exc:
            text = user_message_for(exc)
            if text is None:
                log.exception("chat button %s on reply %s failed", action, reply_id)
                text = "Something went wrong on my side. It has been logged; please try again."
            await reply_ephemeral(interaction, text)

    async def _owner_of(self, reply: TurnRow | None) -> int | None:
        if reply is None:
            return None
        if reply.reply_to is not None:
            asked = await self.engine.conversations.turn(reply.reply_to)
            if asked is not None and asked.author_id is not None:
                return asked.author_id
        conv = await self.engine.conversations.get(reply.conversation_id)
        return conv.created_by if conv else None

    async def _context(self, interaction: discord.Interaction, reply: TurnRow) -> tuple[Where, Scene, bool]:
        where = where_of(interaction.channel, guild_id=interaction.guild_id, user=interaction.user)
        conv = await self.engine.conversations.get(reply.conversation_id)
        if conv is None:
            raise UserError("That conversation was deleted.")
        character = await self.engine.resolve(conv.character_ref, where)
        scene = await self.engine.scene(where, create=False)
        if scene is None or scene.conversation.id != conv.id:
            cfg_scene = await self.engine.scene(where)
            assert cfg_scene is not None
            scene = Scene(conv, character, cfg_scene.model, cfg_scene.reply_tokens, cfg_scene.personas)
        latest = await self.engine.conversations.latest_reply_id(conv.id) == reply.id and not conv.archived
        return where, scene, latest

    def _existing_messages(self, interaction: discord.Interaction, reply: TurnRow) -> list[Posted]:
        via_webhook = interaction.message is not None and interaction.message.webhook_id is not None
        return [Posted(mid, via_webhook) for mid in reply.discord_ids]

    async def _stop(self, interaction: discord.Interaction, reply: TurnRow, _action: str) -> None:
        await interaction.response.defer()
        if not self.engine.stop(reply.id):
            await interaction.followup.send("That reply has already finished.", ephemeral=True)

    async def _swipe(self, interaction: discord.Interaction, reply: TurnRow, action: str) -> None:
        where, scene, latest = await self._context(interaction, reply)
        if not latest:
            raise UserError(NOT_LATEST)
        await interaction.response.defer()
        index = reply.swipe_index + (1 if action == "next" else -1)
        async with self.engine.queue.turn(where.channel_id):
            updated = await self.engine.conversations.set_swipe(reply.id, index)
            if updated is None:
                return
            writer = self.writer(interaction.channel, scene, initial=self._existing_messages(interaction, reply))
            ids = await writer.replace_all(updated.content, reply_view(updated, latest=True, pictures=self._pictures()))
            await self.engine.conversations.link_discord(reply.id, where.channel_id, ids)

    async def _regenerate(self, interaction: discord.Interaction, reply: TurnRow, _action: str) -> None:
        where, scene, latest = await self._context(interaction, reply)
        if not latest:
            raise UserError(NOT_LATEST)
        if self.engine.is_streaming(reply.id):
            raise UserError("That reply is still being written.")
        ticket = await self.services.limits.acquire(
            user_id=where.user_id, guild_id=where.guild_id, channel_id=where.channel_id, parent_id=where.parent_id,
            kind="chat",
        )
        await interaction.response.defer()
        try:
            async with self.engine.queue.turn(where.channel_id):
                swiping = await self.engine.conversations.begin_swipe(reply.id)
                turns = await self.engine.conversations.window(scene.conversation, before_id=reply.id)
                prompt = await self.engine.prompt_for(scene, where, turns)
                writer = self.writer(interaction.channel, scene, first_view=stop_view(reply.id),
                                     initial=self._existing_messages(interaction, reply))
                await self._run(scene, where, swiping, prompt, writer, interaction.channel)
        finally:
            await self.services.limits.release(ticket)

    async def _continue(self, interaction: discord.Interaction, reply: TurnRow, _action: str) -> None:
        where, scene, latest = await self._context(interaction, reply)
        if not latest:
            raise UserError(NOT_LATEST)
        if not reply.content.strip():
            raise UserError("There is nothing to continue yet: regenerate instead.")
        ticket = await self.services.limits.acquire(
            user_id=where.user_id, guild_id=where.guild_id, channel_id=where.channel_id, parent_id=where.parent_id,
            kind="chat",
        )
        await interaction.response.defer()
        try:
            async with self.engine.queue.turn(where.channel_id):
                await self.engine.conversations.mark_streaming(reply.id)
                turns = await self.engine.conversations.window(scene.conversation, before_id=reply.id)
                prompt = await self.engine.prompt_for(scene, where, turns, continue_text=reply.content)
                writer = self.writer(interaction.channel, scene, first_view=stop_view(reply.id),
                                     initial=self._existing_messages(interaction, reply))
                await self._run(scene, where, reply, prompt, writer, interaction.channel, existing=reply.content)
        finally:
            await self.services.limits.release(ticket)

    async def _edit(self, interaction: discord.Interaction, reply: TurnRow, _action: str) -> None:
        if len(reply.content) > EDIT_MAX:
            raise UserError(f"That reply is longer than {EDIT_MAX:,} characters, too long to edit in a form.")
        await interaction.response.send_modal(EditReplyModal(reply.id, reply.content))

    async def on_edit_submit(self, interaction: discord.Interaction, reply_id: int, text: str) -> None:
        reply = await self.engine.conversations.turn(reply_id)
        if not await component_allowed(interaction, owner_id=await self._owner_of(reply)):
            return
        try:
            if reply is None or reply.status == "deleted":
                raise UserError("That reply no longer exists.")
            where, scene, latest = await self._context(interaction, reply)
            await self._screen(text, where, "chat edit")
            await interaction.response.defer()
            async with self.engine.queue.turn(where.channel_id):
                updated = await self.engine.conversations.edit_content(reply.id, text)
                if updated is None:
                    raise UserError("That reply no longer exists.")
                writer = self.writer(interaction.channel, scene, initial=self._existing_messages(interaction, reply))
                ids = await writer.replace_all(updated.content,
                                               reply_view(updated, latest=latest, pictures=self._pictures()))
                await self.engine.conversations.link_discord(reply.id, where.channel_id, ids)
        except Exception as exc:
            text_out = user_message_for(exc)
            if text_out is None:
                log.exception("editing reply %s failed", reply_id)
                text_out = "Something went wrong on my side. It has been logged; please try again."
            await reply_ephemeral(interaction, text_out)

    async def _delete(self, interaction: discord.Interaction, reply: TurnRow, _action: str) -> None:
        where, scene, _ = await self._context(interaction, reply)
        await interaction.response.defer(ephemeral=True, thinking=True)
        async with self.engine.queue.turn(where.channel_id):
            self.engine.stop(reply.id)
            await self.engine.conversations.delete_turn(reply.id)
            writer = self.writer(interaction.channel, scene)
            for posted in self._existing_messages(interaction, reply):
                await writer.delete(posted)
        await interaction.followup.send("Deleted: the reply (and the message it answered) left the story.",
                                        ephemeral=True)

    async def _picture(self, interaction: discord.Interaction, reply: TurnRow, _action: str) -> None:
        images = getattr(self.services, "images", None)
        if images is None:
            raise UserError("Pictures are not available right now.")
        where, scene, _ = await self._context(interaction, reply)
        turns = await self.engine.conversations.window(scene.conversation, before_id=reply.id + 1, limit=12)
        await images.picture_this(interaction, scene=scene, where=where, turns=turns)


async def setup(bot: LustifyBot) -> None:
    bot.add_dynamic_items(ChatButton)
    await bot.add_cog(Chat(bot))
    await bot.add_cog(ConversationCog(bot))
