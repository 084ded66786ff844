"""Speaking as the character: one bot-owned webhook per channel, or an embed where that can't be.

Replies are posted through a webhook with the character's name and avatar (Tupperbox/PluralKit
style). One webhook per channel is enough because name and avatar are set per message; threads and
forum posts use their parent's webhook with `thread=`. The webhook is found by listing the
channel's webhooks (ours: made by our bot user, with a token) and only created when there is none,
so every bot process converges on the same one (the lowest id) and nothing needs to be shared in
memory. A moderator deleting it costs one 404: it is recreated and the send is retried once. A cold
start lists the whole server's webhooks once and creates the missing ones one at a time.

Where webhooks are impossible (DMs, no Manage Webhooks permission, the `personas` setting off) the
bot posts a normal message whose embed author carries the character's name and avatar and whose
description carries the text (4,096 characters there, so the chat engine's 2,000-char split holds).

Every send and edit passes `AllowedMentions.none()` explicitly: model output must never ping.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import discord
from discord.utils import MISSING

log = logging.getLogger(__name__)

WEBHOOK_NAME = "lustify personas"
NO_MENTIONS = discord.AllowedMentions.none()
CONTENT_LIMIT = 2000
EMBED_LIMIT = 4096
PLACEHOLDER = "…"  # Discord refuses empty messages; a stream's first send may have no text yet
UNKNOWN_WEBHOOK = 10015
WEBHOOK_LIMITS = (30007, 30058)  # too many webhooks in the channel / in the server
RETRY_PERMISSION_AFTER = 600.0  # seconds before asking again for webhooks where we were refused
# A server's webhook listing is trusted this long: within it, a channel without our webhook gets one
# created at once (channels are served by one process, so nobody else is creating it meanwhile).
SERVER_LISTING_FRESH = 30.0
_UNKNOWN = object()

# Channel types that own webhooks; threads and forum posts borrow their parent's.
_HOSTS = (discord.TextChannel, discord.VoiceChannel, discord.StageChannel, discord.ForumChannel)
_BANNED = re.compile(r"(disc)(ord)|(cl)(yde)", re.IGNORECASE)
Host = discord.TextChannel | discord.VoiceChannel | discord.StageChannel | discord.ForumChannel


def webhook_username(name: str) -> str:
    """A name Discord accepts for a webhook message: 1–80 chars, no "discord"/"clyde".

    A hair space inside the banned words keeps the name readable (PluralKit does the same).
    """
    cleaned = " ".join(name.split())
    cleaned = _BANNED.sub(lambda m: "\u200a".join(g for g in m.groups() if g), cleaned)
    cleaned = cleaned[:80].strip()
    return cleaned or "Character"


def safe_url(url: str | None) -> str | None:
    """Only http(s) URLs may be avatars; anything else would make Discord reject the message."""
    if url and url.startswith(("https://", "http://")) and len(url) <= 2048:
        return url
    return None


def persona_embed(name: str, avatar_url: str | None, content: str) -> discord.Embed:
    """The fallback look: the character as the embed author, the text as its description."""
    colour = discord.Colour(zlib.crc32(name.encode()) & 0xFFFFFF)  # stable colour per character
    embed = discord.Embed(description=(content or PLACEHOLDER)[:EMBED_LIMIT], colour=colour)
    embed.set_author(name=name[:256] or "Character", icon_url=safe_url(avatar_url))
    return embed


@dataclass
class Sent:
    """A message posted as a character, with what later edits and deletes need.

    `edit` may replace the message (when the webhook that posted it was deleted mid-stream), so
    read `message_id` again after editing.
    """

    message_id: int
    channel_id: int  # where the message is: the thread for thread posts
    via_webhook: bool
    message: discord.Message | None = None
    webhook: discord.Webhook | None = None
    thread: discord.abc.Snowflake | None = None
    channel: Any = None  # the messageable it was posted in
    name: str = ""
    avatar_url: str | None = None


class PersonaPoster:
    """Posts, edits and deletes messages as a character. One per bot."""

    def __init__(self, bot: discord.Client, *, clock: Any = time.monotonic) -> None:
        self.bot = bot
        self._clock = clock
        self._hooks: dict[int, discord.Webhook] = {}  # host channel id -> our webhook
        self._hook_ids: set[int] = set()  # every webhook id we have known as ours
        self._locks: dict[int, asyncio.Lock] = {}
        # Creating webhooks is rate limited per server: a cold start with many channels creates
        # them one after another instead of drawing 429s.
        self._creating: dict[int, asyncio.Lock] = {}
        self._server_hooks: dict[int, tuple[float, dict[int, discord.Webhook]]] = {}  # guild -> (when, ours)
        self._server_refused: set[int] = set()  # guilds we may not list as a whole
        self._refused: dict[int, float] = {}  # host channel id -> when to try webhooks again
        # Embed author of recent plain messages, so edits by id need no fetch to keep it.
        self._authors: OrderedDict[int, tuple[str, str | None]] = OrderedDict()

    def _remember(self, message_id: int, name: str, avatar_url: str | None) -> None:
        self._authors[message_id] = (name, avatar_url)
        if len(self._authors) > 5000:
            self._authors.popitem(last=False)

    # -- where to post ----------------------------------------------------------------------------

    async def _host(self, channel: Any) -> tuple[Host | None, discord.Thread | None]:
        """(channel that owns the webhook, thread to post into) or (None, None) without webhooks."""
        if isinstance(channel, discord.Thread):
            parent = channel.parent or self.bot.get_channel(channel.parent_id)
            if parent is None:
                try:
                    parent = await self.bot.fetch_channel(channel.parent_id)
                except discord.HTTPException as exc:
                    log.info("personas: parent of thread %s not reachable (%s)", channel.id, exc)
                    return None, None
            return (parent if isinstance(parent, _HOSTS) else None), channel
        if isinstance(channel, _HOSTS):
            return channel, None
        return None, None

    async def _find(self, host: Host) -> discord.Webhook | None:
        me = self.bot.user
        hooks = await host.webhooks()
        mine = [h for h in hooks if h.user is not None and me is not None and h.user.id == me.id and h.token]
        for hook in mine:
            self._hook_ids.add(hook.id)
        # Lowest id: several processes that raced to create one still settle on the same webhook.
        return min(mine, key=lambda h: h.id) if mine else None

    async def _hook_for(self, host: Host, *, fresh: bool = False) -> discord.Webhook:
        """Our webhook on `host`: cached, else found by listing, else created (once per channel).

        Finding and creating take turns per server: a cold start in many channels makes one
        listing of the server's webhooks and then one creation at a time, not a burst of both
        per channel (Discord answers bursts with 429s).
        """
        lock = self._locks.setdefault(host.id, asyncio.Lock())
        async with lock:
            hook = None if fresh else self._hooks.get(host.id)
            if hook is None:
                async with self._creating.setdefault(host.guild.id, asyncio.Lock()):
                    listed = _UNKNOWN if fresh else await self._in_server_listing(host)
                    hook = await self._find(host) if listed is _UNKNOWN else listed
                    if hook is None:
                        hook = await host.create_webhook(name=WEBHOOK_NAME, reason="replies posted as characters")
                        log.info("personas: created webhook %s in channel %s", hook.id, host.id)
                self._hooks[host.id] = hook
                self._hook_ids.add(hook.id)
            return hook

    async def _in_server_listing(self, host: Host) -> Any:
        """Our webhook on `host` per a recent listing of the whole server (one request for all its
        channels); `_UNKNOWN` when the server can't be listed (no server-wide Manage Webhooks)."""
        guild = host.guild
        listing = self._server_hooks.get(guild.id)
        if listing is None or listing[0] + SERVER_LISTING_FRESH <= self._clock():
            if guild.id in self._server_refused:
                return _UNKNOWN
            try:
                hooks = await guild.webhooks()
            except discord.Forbidden:
                self._server_refused.add(guild.id)
                return _UNKNOWN
            me = self.bot.user
            mine: dict[int, discord.Webhook] = {}
            for hook in hooks:
                if hook.user is None or me is None or hook.user.id != me.id or not hook.token:
                    continue
                self._hook_ids.add(hook.id)
                if hook.channel_id is not None and (hook.channel_id not in mine or hook.id < mine[hook.channel_id].id):
                    mine[hook.channel_id] = hook  # lowest id, as `_find` picks
            listing = (self._clock(), mine)
            self._server_hooks[guild.id] = listing
        return listing[1].get(host.id)

    def _forget(self, host_id: int) -> None:
        self._hooks.pop(host_id, None)

    def _webhooks_refused(self, host_id: int) -> bool:
        until = self._refused.get(host_id)
        if until is None:
            return False
        if until <= self._clock():
            del self._refused[host_id]
            return False
        return True

    async def warm(self, channel: Any) -> None:
        """Find or create the channel's webhook ahead of the first send (while Venice thinks), so a
        channel's first reply shows as fast as its later ones. Never raises: a failure here is met
        again, and handled, by the send itself."""
        host, _thread = await self._host(channel)
        if host is None or self._webhooks_refused(host.id):
            return
        try:
            await self._hook_for(host)
        except discord.HTTPException as exc:
            if isinstance(exc, discord.Forbidden) or exc.code in WEBHOOK_LIMITS:
                self._give_up_webhooks(host.id, exc)  # the send would fail the same way: use embeds
            else:
                log.info("personas: webhook for channel %s not ready yet (%s %s)", host.id, exc.status, exc.code)
        except Exception:
            log.warning("personas: preparing the webhook for channel %s failed", host.id, exc_info=True)

    # -- sending ----------------------------------------------------------------------------------

    async def send(
        self,
        channel: Any,
        *,
        name: str,
        avatar_url: str | None,
        content: str,
        view: discord.ui.View | None = None,
        use_webhook: bool = True,
    ) -> Sent:
        """Post `content` as the character in `channel` (any messageable, threads included)."""
        if use_webhook:
            host, thread = await self._host(channel)
            if host is not None and not self._webhooks_refused(host.id):
                try:
                    return await self._send_webhook(host, thread, channel, name, avatar_url, content, view)
                except discord.HTTPException as exc:
                    self._give_up_webhooks(host.id, exc)
        return await self._send_plain(channel, name, avatar_url, content, view)

    def _give_up_webhooks(self, host_id: int, exc: discord.HTTPException) -> None:
        """No Manage Webhooks here, the channel/server is full of webhooks, or webhooks fail for any
        other reason: the reply matters more than the costume, so post normally and leave webhooks
        alone in this channel for a while."""
        level = logging.INFO if isinstance(exc, discord.Forbidden) or exc.code in WEBHOOK_LIMITS else logging.WARNING
        log.log(level, "personas: webhooks failed in channel %s (%s %s); using embeds", host_id, exc.status, exc.code)
        self._refused[host_id] = self._clock() + RETRY_PERMISSION_AFTER

    async def _execute(
        self, hook: discord.Webhook, thread: discord.Thread | None, name: str, avatar_url: str | None,
        content: str, view: discord.ui.View | None,
    ) -> discord.WebhookMessage:
        extra: dict[str, Any] = {}
        if thread is not None:
            extra["thread"] = thread  # never pass thread=None: discord.py reads `.id` from it
        if view is not None:
            extra["view"] = view
        return await hook.send(
            (content or PLACEHOLDER)[:CONTENT_LIMIT], username=webhook_username(name),
            avatar_url=safe_url(avatar_url) or MISSING, allowed_mentions=NO_MENTIONS, wait=True, **extra,
        )

    async def _send_webhook(
        self, host: Host, thread: discord.Thread | None, channel: Any, name: str, avatar_url: str | None,
        content: str, view: discord.ui.View | None,
    ) -> Sent:
        hook = await self._hook_for(host)
        try:
            message = await self._execute(hook, thread, name, avatar_url, content, view)
        except discord.NotFound:
            # A moderator deleted the webhook: recreate it and try once more.
            log.info("personas: webhook %s in channel %s is gone; recreating it", hook.id, host.id)
            self._forget(host.id)
            hook = await self._hook_for(host, fresh=True)
            message = await self._execute(hook, thread, name, avatar_url, content, view)
        return Sent(message.id, message.channel.id if thread is None else thread.id, True, message, hook,
                    thread, channel, name, avatar_url)

    async def _send_plain(
        self, channel: Any, name: str, avatar_url: str | None, content: str, view: discord.ui.View | None
    ) -> Sent:
        extra: dict[str, Any] = {"view": view} if view is not None else {}
        message = await channel.send(embed=persona_embed(name, avatar_url, content),
                                     allowed_mentions=NO_MENTIONS, **extra)
        self._remember(message.id, name, avatar_url)
        return Sent(message.id, message.channel.id, False, message, None, None, channel, name, avatar_url)

    # -- editing ----------------------------------------------------------------------------------

    async def edit(self, sent: Sent, *, content: str, view: discord.ui.View | None = MISSING) -> None:
        """Change the text (and optionally the buttons; None removes them) of a sent message."""
        if not sent.via_webhook:
            embed = persona_embed(sent.name, sent.avatar_url, content)
            target = sent.message or sent.channel.get_partial_message(sent.message_id)
            await target.edit(embed=embed, view=view, allowed_mentions=NO_MENTIONS)
            return
        assert sent.webhook is not None
        try:
            await sent.webhook.edit_message(
                sent.message_id, content=(content or PLACEHOLDER)[:CONTENT_LIMIT], view=view,
                allowed_mentions=NO_MENTIONS, thread=sent.thread or MISSING,
            )
        except discord.NotFound as exc:
            if exc.code != UNKNOWN_WEBHOOK:
                raise  # the message itself was deleted: the caller decides what that means
            await self._repost(sent, content, view)

    async def _repost(self, sent: Sent, content: str, view: discord.ui.View | None) -> None:
        """The webhook vanished mid-stream: post the text again through a new one, drop the orphan."""
        host, thread = await self._host(sent.channel)
        if host is None:
            raise RuntimeError("webhook message outside a webhook channel")
        self._forget(host.id)
        hook = await self._hook_for(host, fresh=True)
        message = await self._execute(hook, thread, sent.name, sent.avatar_url, content,
                                      None if view is MISSING else view)
        try:
            await self.bot.http.delete_message(sent.channel_id, sent.message_id, reason="persona webhook replaced")
        except discord.HTTPException as exc:
            log.info("personas: could not remove the orphaned message %s (%s)", sent.message_id, exc)
        sent.message_id, sent.message, sent.webhook = message.id, message, hook

    async def edit_by_id(
        self,
        channel: Any,
        message_id: int,
        via_webhook: bool,
        content: str,
        view: discord.ui.View | None = MISSING,
        *,
        name: str | None = None,
        avatar_url: str | None = None,
    ) -> None:
        """Edit a message known only by id (after a restart). Embed messages keep their author
        unless `name` is given. Raises discord.NotFound if the message (or its webhook) is gone."""
        # After a restart the Sent object is gone; ids and the channel are all that is stored.
        if via_webhook:
            host, thread = await self._host(channel)
            if host is None:
                raise ValueError("webhook messages only exist in guild channels and their threads")
            hook = await self._hook_for(host)
            await hook.edit_message(message_id, content=(content or PLACEHOLDER)[:CONTENT_LIMIT], view=view,
                                    allowed_mentions=NO_MENTIONS, thread=thread or MISSING)
            return
        if name is None and message_id in self._authors:
            name, avatar_url = self._authors[message_id]
        if name is None:
            old = await channel.fetch_message(message_id)
            author = old.embeds[0].author if old.embeds else None
            name = (author.name if author else None) or "Character"
            avatar_url = author.icon_url if author else None
            self._remember(message_id, name, avatar_url)
        embed = persona_embed(name, avatar_url, content)
        await channel.get_partial_message(message_id).edit(embed=embed, view=view, allowed_mentions=NO_MENTIONS)

    # -- deleting ---------------------------------------------------------------------------------

    async def delete(self, sent: Sent) -> bool:
        """Delete a sent message; True when it is gone (also if it already was)."""
        if sent.via_webhook and sent.webhook is not None:
            try:
                await sent.webhook.delete_message(sent.message_id, thread=sent.thread or MISSING)
                return True
            except discord.NotFound:
                pass  # webhook or message gone: try as the bot below
        return await self._delete_as_bot(sent.channel_id, sent.message_id)

    async def delete_by_id(self, channel: Any, message_id: int, via_webhook: bool) -> bool:
        """Delete a message known only by id (after a restart); True when it is gone."""
        if via_webhook:
            host, thread = await self._host(channel)
            if host is not None and not self._webhooks_refused(host.id):
                try:
                    hook = await self._hook_for(host)
                    await hook.delete_message(message_id, thread=thread or MISSING)
                    return True
                except (discord.NotFound, discord.Forbidden):
                    pass
        return await self._delete_as_bot(channel.id, message_id)

    async def _delete_as_bot(self, channel_id: int, message_id: int) -> bool:
        try:
            await self.bot.http.delete_message(channel_id, message_id)
        except discord.NotFound:
            return True
        except discord.Forbidden as exc:
            log.info("personas: not allowed to delete message %s (%s)", message_id, exc.code)
            return False
        return True

    # -- recognising our messages ----------------------------------------------------------------

    async def is_our_message(self, message: discord.Message) -> bool:
        """Whether `message` was posted by this bot, directly or through one of our persona webhooks.

        A reply to such a message continues the conversation.
        """
        me = self.bot.user
        if message.webhook_id is None:
            return me is not None and message.author.id == me.id
        if message.webhook_id in self._hook_ids:
            return True
        # Messages from webhooks our application made carry its id.
        if message.application_id is not None and message.application_id == self.bot.application_id:
            return True
        host, _ = await self._host(message.channel)
        if host is None or self._webhooks_refused(host.id):
            return False
        try:
            found = await self._find(host)
        except discord.HTTPException:
            return False
        return found is not None and message.webhook_id in self._hook_ids

