"""Chat: /chat, /reset, @mentions and replies, DM chat, and messages edited or deleted in Discord.

Thin on purpose: it turns Discord events into `Where` values and renderers for `ChatService`,
which owns every turn (screening, limits, streaming, storing). The gate runs on every path: the
tree check for commands, `place_of_message` for plain messages and their edits and deletions,
the component router for the buttons and the edit form (`bot/ui/chat_controls.py`).
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
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import gate
from bot.chat.service import MAX_INPUT, TOO_LONG, ChatService, Outcome
from bot.errors import LimitReached, UserError
from bot.images.service import ImageService
from bot.senses import Hearing, Seeing, Upload
from bot.senses.seeing import is_picture, picture_note
from bot.services import services_of
from bot.settings import SettingsStore
from bot.store import users
from bot.ui import recovery
from bot.ui.chat_controls import ChatControls
from bot.ui.chat_reply import DiscordReply, Echo
from bot.ui.errors import user_message_for
from bot.ui.names import shown
from bot.ui.personas import PersonaPoster
from bot.ui.places import where_of_channel, where_of_interaction, where_of_message
from bot.ui.voice_controls import VoiceControls
from bot.where import Where
from cogs.chat_admin import ConversationCog
from cogs.chat_scene import SceneCog

__all__ = ["DM_LOCKED", "DM_OFF", "EDIT_REFUSED", "EMPTY", "TOO_LONG", "UNREADABLE", "Chat", "plain_text"]

log = logging.getLogger(__name__)

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
EDIT_REFUSED = "I kept your earlier words in the story: the edit can't be used. {reason}"
VOICE_HIDDEN = (
    "Discord doesn't let me hear voice messages that answer the character's messages here. Send yours as a "
    "reply to one of my 🔊 voice messages (press 🔊 Listen) or to my 🎙️ lines, or talk to me in our DM."
)
GENERIC = "Something went wrong on my side. It has been logged; please try again."
NOT_A_PICTURE = "I can only look at pictures (PNG, JPEG, WebP or GIF)."
TRANSCRIPT_SHOWN = 300  # characters of a transcript shown under the voice message
_CUSTOM_EMOJI = re.compile(r"<a?:(\w+):\d+>")


def upload_of(attachment: discord.Attachment) -> Upload:
    """A Discord attachment as the services see it (nothing is downloaded until `read`)."""
    return Upload(filename=attachment.filename, size=attachment.size, content_type=attachment.content_type,
                  read=attachment.read, duration_secs=attachment.duration,
                  voice_message=attachment.is_voice_message())


def transcript_line(text: str) -> str:
    """`-# 🎙️ …`: what was heard, in Discord's small type, without markdown or mentions taking effect."""
    shown_text = text if len(text) <= TRANSCRIPT_SHOWN else text[: TRANSCRIPT_SHOWN - 1].rstrip() + "…"
    safe = discord.utils.escape_mentions(discord.utils.escape_markdown(shown_text))
    return f"-# 🎙️ {safe}"


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


class Chat(commands.Cog):
    """Talk with the channel's character."""

    def __init__(self, bot: commands.Bot, *, chat: ChatService, settings: SettingsStore,
                 sessions: async_sessionmaker[AsyncSession], poster: PersonaPoster, images: ImageService,
                 voice: VoiceControls | None = None, hearing: Hearing | None = None,
                 seeing: Seeing | None = None) -> None:
        self.bot = bot
        self.chat = chat
        self.settings = settings
        self.sessions = sessions
        self.poster = poster
        self.voice = voice
        self.hearing = hearing
        self.seeing = seeing
        # Seconds between two edits of a streaming message: Discord allows about 5 edits per 5 s
        # on a webhook message, so exactly 1.0 s fills the bucket and the next message waits ~2 s.
        self.edit_interval = 1.25
        self.controls = ChatControls(chat=chat, poster=poster, images=images, edit_interval=lambda: self.edit_interval,
                                     voice=voice)
        self._recovery: asyncio.Task[None] | None = None  # rewriting what a crash left in Discord

    async def cog_load(self) -> None:
        settled = await self.chat.conversations.recover_interrupted()
        if settled:
            log.info("settled %d replies interrupted by the last shutdown", len(settled))
            self._recovery = asyncio.create_task(recovery.rewrite(
                self.bot, settled, conversations=self.chat.conversations, settings=self.settings,
                poster=self.poster, pictures=True,  # the image service runs beside the chat
                screen=self.chat.screen,
            ), name="chat-recovery")

    async def cog_unload(self) -> None:
        if self._recovery is not None:
            self._recovery.cancel()
        if self.voice is not None:
            self.voice.cancel()

    def reply(self, channel: Any, **options: Any) -> DiscordReply:
        return DiscordReply(poster=self.poster, channel=channel, edit_interval=self.edit_interval, **options)

    # -- entry points ---------------------------------------------------------------------------

    @app_commands.command(name="chat", description="Say something to the channel's character", nsfw=True)
    @app_commands.describe(message="What you say or do", image="A picture for the character to look at")
    async def chat_command(self, interaction: discord.Interaction,
                           message: app_commands.Range[str, 1, MAX_INPUT],
                           image: discord.Attachment | None = None) -> None:
        where = await self.chat.speaker(where_of_interaction(interaction, "chat"))
        pictures: list[Any] = []
        model = None
        text = message
        if image is not None:
            upload = upload_of(image)
            if not is_picture(upload):
                raise UserError(NOT_A_PICTURE)
            await interaction.response.defer(thinking=True)  # judging a picture can take longer than 3 s
            try:
                model, pictures = await self._look(where, [upload])
            except Exception:
                # The refusal is said privately: the public "thinking…" goes first, or Discord
                # would turn the private answer into that public message.
                with contextlib.suppress(discord.HTTPException):
                    await interaction.delete_original_response()
                raise
            text = f"{message.strip()}\n{picture_note(len(pictures))}"
        # The acknowledgement shows what was said once it passed the screen; the character answers below.
        echo = Echo(interaction, message.strip(), where.user_name)
        if image is not None:
            echo.embed.set_footer(text="🖼️ with a picture")
        try:
            outcome = await self.chat.take_turn(where, text, self.reply(interaction.channel, acknowledge=echo,
                                                                        typing=True),
                                                more=lambda: self.reply(interaction.channel, typing=True),
                                                pictures=pictures, model=model)
        except LimitReached:
            await echo.withdraw()  # the limit is said privately; the channel keeps no echo without an answer
            raise
        finally:
            echo.cancel()
        await self._speak_if_asked(where, outcome)

    @app_commands.command(name="reset", description="Start a new conversation in this channel", nsfw=True)
    async def reset(self, interaction: discord.Interaction) -> None:
        where = where_of_interaction(interaction, "chat")
        await interaction.response.defer(thinking=True)
        scene = await self.chat.new_conversation(where, self.reply(interaction.channel), keep_cast=True,
                                                 more=lambda: self.reply(interaction.channel))
        await interaction.edit_original_response(
            content=f"New conversation with **{shown(scene.character.name)}**. "
                    "The previous one is archived (`/conversation list`)."
        )

    @commands.Cog.listener()
    async def on_character_changed(self, channel: Any, user: discord.abc.User) -> None:
        """A new character for the channel starts a fresh story with its greeting (the old one is
        archived and stays in /conversation list), as /reset does."""
        if channel is None:
            return
        try:
            await self.chat.new_conversation(where_of_channel(channel, user, "chat"), self.reply(channel))
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
        return await self.chat.is_story_reply(ref.message_id)  # a character's webhook message

    async def _handle_message(self, message: discord.Message) -> None:
        decision = gate.decide(await gate.place_of_message(self.bot, message))
        if not decision.allowed:
            await self._say(message, decision.reason)
            return
        user_id = message.author.id
        if message.guild is None:
            if not await self.settings.get("dm_chat", guild_id=None, channel_id=None):
                await self._say(message, DM_OFF)
                return
            if not await users.dm_unlocked(self.sessions, user_id):
                await self._say(message, DM_LOCKED)
                return
        until = await users.blocked_until(self.sessions, user_id)
        if until is not None:
            await self._say(message, f"You're blocked from this bot until {discord.utils.format_dt(until, 'f')}.")
            return
        assert self.bot.user is not None
        text = plain_text(message, self.bot.user.id)
        uploads = [upload_of(a) for a in message.attachments]
        spoken = next((u for u in uploads if u.voice_message), None)
        shown_pictures = [u for u in uploads if is_picture(u)]
        if not text and spoken is None and not shown_pictures:
            if self._content_hidden(message):
                # Without the Message Content intent Discord blanks what a reply to a webhook
                # (persona) message carries, attachments too; the voice flag survives.
                await self._say(message, VOICE_HIDDEN if message.flags.voice else UNREADABLE)
            else:
                await self._say(message, EMPTY)
            return
        where = where_of_message(message, "chat")
        heard: str | None = None
        if spoken is not None and self.hearing is not None:
            # A voice message has no text of its own: what was heard is what was said, and the
            # turn screens it like typed words before anything of it is shown.
            heard = await self.hearing.transcribe(where, spoken)
            text = heard
        pictures: list[Any] = []
        model = None
        if shown_pictures and self.seeing is not None:
            model, pictures = await self._look(where, shown_pictures)
            text = f"{text}\n{picture_note(len(pictures))}".strip()

        async def acknowledge() -> int:
            if heard is not None:  # cleared by the screen: now the words may be shown
                await self._say(message, transcript_line(heard))
            return message.id  # the person's own message shows their words

        ref = message.reference
        replying_to = ref.message_id if ref is not None and ref.type is discord.MessageReferenceType.reply else None
        outcome = await self.chat.take_turn(where, text,
                                            self.reply(message.channel, acknowledge=acknowledge, typing=True),
                                            more=lambda: self.reply(message.channel, typing=True),
                                            replying_to=replying_to, pictures=pictures, model=model)
        await self._speak_if_asked(where, outcome)

    async def _look(self, where: Where, uploads: list[Upload]) -> tuple[str | None, list[Any]]:
        """The model that will look and the pictures, checked and judged (UserError / Refused)."""
        if self.seeing is None:
            return None, []
        sight = await self.seeing.sight(where)
        if len(uploads) > sight.limit:
            plural = "picture" if sight.limit == 1 else "pictures"
            raise UserError(f"`{sight.model}` can look at {sight.limit} {plural} at a time.")
        return sight.model, list(await self.seeing.look(where, uploads))

    async def _speak_if_asked(self, where: Where, outcome: Outcome) -> None:
        """"Speak every reply" (channel setting; the person may have turned it off for themselves)."""
        if self.voice is None or outcome.status != "complete" or outcome.withheld or not outcome.reply.discord_ids:
            return
        if not await self.voice.speaking.speaks_every_reply(where):
            return
        assert where.channel_id is not None
        self.voice.speak_reply(self.bot, where, where.channel_id, outcome.reply.id, outcome.reply.discord_ids[-1])

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

    # -- messages edited or deleted in Discord --------------------------------------------------

    async def _gated(self, channel_id: int, guild_id: int | None) -> bool:
        """May this place still hold adult content? Asked before anything else is done with an
        edit or a deletion there (a channel may have lost its age restriction since)."""
        return gate.decide(await gate.place_of_channel_id(self.bot, channel_id, guild_id=guild_id)).allowed

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if await self._gated(payload.channel_id, payload.guild_id):
            await self._forget(payload.message_id)

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        if await self._gated(payload.channel_id, payload.guild_id):
            for message_id in payload.message_ids:
                await self._forget(message_id)

    async def _forget(self, message_id: int) -> None:
        try:
            turn = await self.chat.forget_said(message_id)
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
        if not await self._gated(payload.channel_id, payload.guild_id):
            return
        try:
            await self.chat.edit_said(where_of_message(message, "chat edit"), message.id, text)
        except UserError as exc:
            await self._say(message, EDIT_REFUSED.format(reason=exc.user_message))


async def setup(bot: commands.Bot) -> None:
    services = services_of(bot)
    assert services.personas is not None
    voice = VoiceControls(speaking=services.speaking)
    voice.register(services.router)
    cog = Chat(bot, chat=services.chat, settings=services.settings, sessions=services.sessions,
               poster=services.personas, images=services.images, voice=voice, hearing=services.hearing,
               seeing=services.seeing)
    cog.controls.register(services.router)
    await bot.add_cog(cog)
    await bot.add_cog(ConversationCog(bot, services.chat))
    await bot.add_cog(SceneCog(bot, chat=services.chat, characters=services.characters))
