"""Chat: /chat, @mentions and replies, DM chat, and what happens to a turn in Discord.

Thin on purpose: it turns Discord events into `Where`/`Scene` values for `ChatService`, and the
service's outcomes back into messages. The gate runs on every path: the tree check for commands,
`place_of_message` for plain messages, `component_allowed` for buttons and the edit form (those
live in `cogs/chat_buttons.py`). Messages edited or deleted in Discord update the stored turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import gate, policy
from bot.chat.service import WITHHELD, ChatService, Outcome, Scene, Where
from bot.chat.writer import Posted, ReplyRenderer, ReplyWriter
from bot.client import LustifyBot, user_message_for
from bot.errors import LimitReached, UserError
from bot.store import users
from bot.store.conversations import TurnRow
from bot.ui import recovery
from bot.ui.chat_views import ChatButton, edit_submission, reply_view, stop_view
from cogs.chat_admin import ConversationCog
from cogs.chat_buttons import ChatControls

log = logging.getLogger(__name__)

MAX_INPUT = 4000
DM_LOCKED = (
    "🔞 To chat here, first run any of my slash commands in this DM (for example `/chat`). "
    "Discord only lets adults who allowed age-restricted commands do that."
)
DM_OFF = "Chat in DMs is turned off by the bot's owner."
EMPTY = "Say something after mentioning me, and I'll answer."
UNREADABLE = (
    "I can't read replies that don't mention me. Keep the @mention on when you reply to me, "
    "or use `/chat`."
)
TOO_LONG = f"That message is too long for me: please keep it under {MAX_INPUT:,} characters."
EDIT_REFUSED = "I kept your earlier words in the story: the edit can't be used. {reason}"
GENERIC = "Something went wrong on my side. It has been logged; please try again."
TYPING_EVERY = 8.0  # seconds; Discord shows "typing…" for 10 s per call
_CUSTOM_EMOJI = re.compile(r"<a?:(\w+):\d+>")


def where_of(channel: Any, *, guild_id: int | None, user: discord.abc.User, name: str | None = None) -> Where:
    parent_id = channel.parent_id if isinstance(channel, discord.Thread) else None
    return Where(
        channel_id=channel.id, guild_id=guild_id, parent_id=parent_id, user_id=user.id,
        user_name=name or getattr(user, "display_name", user.name), multi_user=guild_id is not None,
    )


def plain_text(message: discord.Message, bot_id: int) -> str:
    """What the user said, as the model should read it: our mention dropped, others by name."""
    text = re.sub(rf"<@!?{bot_id}>", "", message.content)
    for user in message.mentions:
        if user.id != bot_id:
            text = re.sub(rf"<@!?{user.id}>", f"@{user.display_name}", text)
    for role in message.role_mentions:
        text = text.replace(role.mention, f"@{role.name}")
    for channel in message.channel_mentions:
        text = text.replace(channel.mention, f"#{channel.name}")
    return _CUSTOM_EMOJI.sub(r":\1:", text).strip()


def _shown_safely(text: str) -> bool:
    """May this (part of a) reply be written to Discord? The same screen as the stored text."""
    return policy.output_verdict(text).allowed


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


class Chat(commands.Cog):
    """Talk with the channel's character."""

    def __init__(self, bot: LustifyBot) -> None:
        self.bot = bot
        assert bot.services is not None
        self.services = bot.services
        self.engine: ChatService = bot.services.chat
        # Seconds between two edits of a streaming message: Discord allows about 5 edits per 5 s
        # on a webhook message, so exactly 1.0 s fills the bucket and the next message waits ~2 s.
        self.edit_interval = 1.25
        self.controls = ChatControls(self)
        self._recovery: asyncio.Task[None] | None = None  # rewriting what a crash left in Discord

    async def cog_load(self) -> None:
        settled = await self.engine.conversations.recover_interrupted()
        if settled:
            log.info("settled %d replies interrupted by the last shutdown", len(settled))
            self._recovery = asyncio.create_task(recovery.rewrite(
                self.bot, settled, conversations=self.engine.conversations, config=self.services.config,
                poster=self.services.personas, pictures=getattr(self.services, "images", None) is not None,
            ), name="chat-recovery")

    async def cog_unload(self) -> None:
        if self._recovery is not None:
            self._recovery.cancel()

    # -- entry points ---------------------------------------------------------------------------

    @app_commands.command(name="chat", description="Say something to the channel's character", nsfw=True)
    @app_commands.describe(message="What you say or do")
    async def chat(self, interaction: discord.Interaction, message: app_commands.Range[str, 1, MAX_INPUT]) -> None:
        text = message.strip()
        if not text:
            raise UserError("Say something, and I'll answer.")
        if len(text) > MAX_INPUT:
            raise UserError(TOO_LONG)
        where = await self.where(interaction.channel, interaction.guild_id, interaction.user)
        await self._screen(text, where, "chat")  # before the echo: refused words are never shown
        # The acknowledgement shows what was said; the character answers below it. It goes out
        # before the quota check, which writes to the database and must not eat the 3 s deadline.
        echo = discord.Embed(description=text, colour=discord.Colour.dark_purple())
        echo.set_author(name=where.user_name, icon_url=interaction.user.display_avatar.url)
        callback = await interaction.response.send_message(embed=echo)
        origin = callback.message_id or (await interaction.original_response()).id
        try:
            ticket = await self.services.limits.acquire(
                user_id=where.user_id, guild_id=where.guild_id, channel_id=where.channel_id,
                parent_id=where.parent_id, kind="chat",
            )
        except LimitReached as exc:
            with contextlib.suppress(discord.HTTPException):
                await interaction.delete_original_response()
            await interaction.followup.send(exc.message, ephemeral=True)
            return
        try:
            await self.converse(interaction.channel, where, text, origin)
        finally:
            await self.services.limits.release(ticket)

    @app_commands.command(name="reset", description="Start a new conversation in this channel", nsfw=True)
    async def reset(self, interaction: discord.Interaction) -> None:
        where = await self.where(interaction.channel, interaction.guild_id, interaction.user)
        await interaction.response.defer(thinking=True)
        async with self.engine.queue.turn(where.channel_id):
            scene, greeting = await self.engine.new_conversation(where)
            await interaction.edit_original_response(
                content=f"New conversation with **{discord.utils.escape_markdown(scene.character.name)}**. "
                        "The previous one is archived (`/conversation list`)."
            )
            if greeting is not None:
                await self.post_existing(interaction.channel, scene, greeting)

    @commands.Cog.listener()
    async def on_character_changed(self, channel: Any, user: discord.abc.User) -> None:
        """A new character for the channel starts a fresh story with its greeting (the old one is
        archived and stays in /conversation list), as /reset does."""
        if channel is None:
            return
        guild = getattr(channel, "guild", None)
        try:
            where = await self.where(channel, guild.id if guild else None, user)
            async with self.engine.queue.turn(where.channel_id):
                scene, greeting = await self.engine.new_conversation(where)
                if greeting is not None:
                    await self.post_existing(channel, scene, greeting)
        except Exception:
            log.exception("starting a conversation for the new character in channel %s failed", channel.id)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.webhook_id is not None or self.bot.user is None:
            return
        if not await self._addressed_to_us(message):
            return
        try:
            await self._handle_message(message)
        except Exception as exc:
            text = user_message_for(exc)
            if text is None:
                log.exception("chat message in channel %s failed", message.channel.id)
                text = GENERIC
            await self._say(message, text)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        submitted = edit_submission(interaction.data)
        if submitted is not None:
            await self.controls.on_edit_submit(interaction, *submitted)

    async def on_button(self, interaction: discord.Interaction, action: str, reply_id: int) -> None:
        """Called by `ChatButton` (a DynamicItem, so it works on messages from before a restart)."""
        await self.controls.on_button(interaction, action, reply_id)

    # -- plain messages -------------------------------------------------------------------------

    async def _addressed_to_us(self, message: discord.Message) -> bool:
        """A DM, a mention of the bot, or a reply to one of its (or its characters') messages."""
        me = self.bot.user
        assert me is not None
        if message.guild is None:
            return isinstance(message.channel, discord.DMChannel)
        if any(user.id == me.id for user in message.mentions):
            return True
        ref = message.reference
        if ref is None or ref.message_id is None or ref.type is not discord.MessageReferenceType.reply:
            return False
        resolved = ref.resolved
        if isinstance(resolved, discord.Message):
            if resolved.author.id == me.id:
                return True
            if resolved.webhook_id is None:
                return False  # someone's own message: no need to ask the database
        linked = await self.engine.conversations.by_discord_id(ref.message_id)  # a character's webhook message
        return linked is not None and linked.role == "assistant"

    async def _handle_message(self, message: discord.Message) -> None:
        decision = gate.decide(await gate.place_of_message(self.bot, message))
        if not decision.allowed:
            await self._say(message, decision.reason)
            return
        user_id = message.author.id
        if message.guild is None:
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
        assert self.bot.user is not None
        text = plain_text(message, self.bot.user.id)
        if not text:
            await self._say(message, UNREADABLE if self._content_hidden(message) else EMPTY)
            return
        if len(text) > MAX_INPUT:
            await self._say(message, TOO_LONG)
            return
        where = await self.where(message.channel, message.guild.id if message.guild else None, message.author)
        await self._screen(text, where, "chat")
        ticket = await self.services.limits.acquire(
            user_id=user_id, guild_id=where.guild_id, channel_id=where.channel_id, parent_id=where.parent_id,
            kind="chat",
        )
        try:
            await self.converse(message.channel, where, text, message.id)
        finally:
            await self.services.limits.release(ticket)

    def _content_hidden(self, message: discord.Message) -> bool:
        """Without the Message Content intent Discord blanks a guild message that does not mention us."""
        me = self.bot.user
        mentioned = me is not None and any(user.id == me.id for user in message.mentions)
        return message.guild is not None and not mentioned and not self.bot.intents.message_content

    async def _say(self, message: discord.Message, text: str) -> None:
        try:
            await message.reply(text, mention_author=False, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as exc:
            log.info("could not answer message %s: %s", message.id, exc)

    async def _screen(self, text: str, where: Where, entry: str) -> None:
        await policy.check_text(
            self.services.sessions, text, policy.Where(where.user_id, where.guild_id, where.channel_id, entry)
        )

    # -- messages edited or deleted in Discord --------------------------------------------------

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        await self._forget(payload.message_id)

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        for message_id in payload.message_ids:
            await self._forget(message_id)

    async def _forget(self, message_id: int) -> None:
        try:
            turn = await self.engine.conversations.forget_discord_message(message_id)
        except Exception:
            log.exception("could not forget deleted message %s", message_id)
            return
        if turn is not None and turn.role == "user":
            log.info("turn %s left the story: its message was deleted in Discord", turn.id)

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        message = payload.message
        # Our own streaming edits come back here too: leave them before touching the database.
        if message.author.bot or message.webhook_id is not None or self.bot.user is None:
            return
        # Without the Message Content intent an edit carries text only when it mentions us.
        text = plain_text(message, self.bot.user.id) if message.content else ""
        if not text or len(text) > MAX_INPUT:
            return
        turn = await self.engine.conversations.by_discord_id(message.id)
        if turn is None or turn.role != "user" or turn.status == "deleted" or turn.content == text:
            return
        where = await self.where(message.channel, payload.guild_id, message.author)
        try:
            await self._screen(text, where, "chat edit")
        except UserError as exc:
            await self._say(message, EDIT_REFUSED.format(reason=exc.message))
            return
        await self.engine.conversations.edit_content(turn.id, text)

    # -- a turn ---------------------------------------------------------------------------------

    async def where(self, channel: Any, guild_id: int | None, user: discord.abc.User) -> Where:
        """Who speaks and where; the speaker's name is their persona's, else their display name."""
        persona = await self.engine.persona(user.id)
        return where_of(channel, guild_id=guild_id, user=user, name=persona[0] if persona else None)

    def pictures_on(self, scene: Scene) -> bool:
        return getattr(self.services, "images", None) is not None and scene.images

    def view_for(self, reply: TurnRow, scene: Scene, *, latest: bool = True) -> discord.ui.View:
        return reply_view(reply, latest=latest, pictures=self.pictures_on(scene))

    def writer(self, channel: Any, scene: Scene, *, first_view: discord.ui.View | None = None,
               reuse: list[Posted] | None = None) -> ReplyWriter:
        character = scene.character
        return ReplyWriter(
            poster=self.services.personas, channel=channel, name=character.name, avatar_url=character.avatar_url,
            use_webhook=scene.personas, first_view=first_view, reuse=list(reuse or []),
        )

    async def converse(self, channel: Any, where: Where, text: str, discord_message_id: int | None) -> Outcome:
        """Answer one message: in order behind earlier ones in this channel, streamed, then stored."""
        async with self.engine.queue.turn(where.channel_id):
            scene = await self.engine.scene(where)
            assert scene is not None
            user_row, reply_row = await self.engine.conversations.begin_turn(
                scene.conversation.id, author_id=where.user_id, author_name=where.user_name, content=text,
                discord_message_id=discord_message_id, channel_id=where.channel_id, model=scene.model,
            )
            turns = await self.engine.conversations.window(scene.conversation, before_id=user_row.id)
            turns.append(user_row)
            prompt = await self.engine.prompt_for(scene, where, turns)
            outcome = await self.run_turn(channel, scene, where, reply_row, prompt)
            await self.engine.fold_summary(scene, turns, prompt.dropped_turns, where)
            return outcome

    async def run_turn(self, channel: Any, scene: Scene, where: Where, reply: TurnRow, prompt: Any, *,
                       reuse: list[Posted] | None = None, existing: str = "") -> Outcome:
        """Stream a reply into `channel` (rewriting `reuse`, the reply's old messages), buttons at the end."""
        writer = self.writer(channel, scene, first_view=stop_view(reply.id), reuse=reuse)
        writer.final_view = self.view_for(reply, scene)
        writer.screen = _shown_safely
        renderer = ReplyRenderer(writer, min_interval=self.edit_interval)
        shown = asyncio.Event()

        async def link(handles: list[object]) -> None:
            shown.set()
            ids = [h.message_id for h in handles if isinstance(h, Posted)]
            await self.engine.conversations.link_discord(reply.id, where.channel_id, ids)

        typing = asyncio.create_task(keep_typing(channel, shown), name=f"chat-typing-{reply.id}")
        try:
            outcome = await self.engine.stream(
                scene=scene, where=where, reply=reply, prompt=prompt, renderer=renderer, existing=existing,
                on_first_message=link,
            )
        finally:
            shown.set()
            typing.cancel()
        if outcome.withheld or writer.flagged:
            if not outcome.withheld:  # the screen refused a part but not the whole: should not happen
                log.warning("reply %s: a part was refused while the whole text passed the screen", reply.id)
            ids = await writer.rewrite(WITHHELD, writer.final_view)
        elif outcome.status == "failed" and outcome.reply.status == "complete":
            # A regenerate that failed before any text: the previous swipe is shown again.
            note = f"\n-# Regenerating failed: {outcome.note}" if outcome.note else ""
            ids = await writer.rewrite(outcome.reply.content + note, self.view_for(outcome.reply, scene))
        else:
            ids = await writer.finalize()
        await self.engine.conversations.link_discord(reply.id, where.channel_id, ids)
        return outcome

    async def post_existing(self, channel: Any, scene: Scene, turn: TurnRow) -> None:
        """Post a stored turn (a greeting) with its buttons; alternate greetings are its swipes."""
        writer = self.writer(channel, scene)
        ids = await writer.replace_all(turn.content, self.view_for(turn, scene))
        await self.engine.conversations.link_discord(turn.id, channel.id, ids)


async def setup(bot: LustifyBot) -> None:
    bot.add_dynamic_items(ChatButton)
    await bot.add_cog(Chat(bot))
    await bot.add_cog(ConversationCog(bot))
