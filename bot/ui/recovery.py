"""After a crash: the replies it cut off are rewritten in Discord as cut, with their normal buttons.

Start-up recovery (`Conversations.recover_interrupted`) settles the stored turns; the messages the
crashed process was streaming still say "✍️ writing…" with a Stop button that nothing answers.
`rewrite` edits each of them into what the reply is now: the text that arrived and a note that the
bot restarted, or the previous swipe of an interrupted regenerate, with continue / regenerate and
the rest. It runs in the background once per start, using stored ids only.

A new reply's text is only stored when it ends, so after a crash the database has none and the
turn stays out of the story (DESIGN §6: a crash leaves no half-written turn for the model). What
the crashed process had already shown stays on screen (read back from its messages, screened
again as a whole) with a note that it was cut off and is not part of the story; 🔄 Regenerate
writes a full reply in its place. Only the messages linked to the reply are known: the first one,
and all of them once it ended.

That partial text is model output shown again, so it passes the output check (both stages: the
judge reads it with the turns before it when stage 1 asks); withheld, or not checkable right now,
it is replaced by the plain "cut off" note, never shown.
"""

from __future__ import annotations

import logging

import discord

from bot.chat.render import Controls
from bot.chat.screening import JUDGE_TURNS, ChatScreen
from bot.judge import JudgeContext
from bot.settings import SettingsStore
from bot.store.conversations import Conversations, Settled, TurnRow
from bot.ui.chat_views import controls_view
from bot.ui.personas import PLACEHOLDER, PersonaPoster
from bot.ui.reply_writer import Posted, ReplyWriter
from bot.ui.split import FENCE, open_fence
from bot.ui.stream import DEFAULT_MARKER
from bot.where import Where

log = logging.getLogger(__name__)

RESTARTED = "the bot restarted"


def shown_text(messages: list[discord.Message]) -> str:
    """The reply text a crashed stream had shown, without the "writing…" marker."""
    parts = []
    for message in messages:
        body = message.content if message.webhook_id is not None or not message.embeds else (
            message.embeds[0].description or "")
        body = body.removesuffix(DEFAULT_MARKER).removesuffix(DEFAULT_MARKER.strip()).strip()
        if body and body != PLACEHOLDER:
            parts.append(body)
    return "\n".join(parts)


def cut_text(reply: TurnRow, shown: str = "") -> str:
    """What a settled reply shows: its text and why it stopped (notes are not stored as story).

    `shown`: for a reply with no stored text, what the crashed process had already written.
    """
    if reply.status == "failed" or not reply.content.strip():
        if shown:
            closing = "\n" + FENCE if open_fence(shown) is not None else ""
            return (f"{shown}{closing}\n*(cut off: {RESTARTED}, so this part is not in the story. "
                    "Press 🔄 Regenerate for a full reply.)*")
        return f"*(cut off: {RESTARTED} before the reply began. Press 🔄 Regenerate to try again.)*"
    if reply.status == "complete":  # an interrupted regenerate: the previous swipe is back
        return f"{reply.content}\n-# Regenerating was cut off: {RESTARTED}."
    closing = "\n" + FENCE if open_fence(reply.content) is not None else ""
    return f"{reply.content}{closing}\n*(cut off: {RESTARTED})*"


async def rewrite(bot: discord.Client, settled: list[Settled], *, conversations: Conversations,
                  settings: SettingsStore, poster: PersonaPoster, pictures: bool, screen: ChatScreen) -> None:
    """Rewrite each settled reply's Discord messages; one that fails is logged and skipped.

    `poster` is the persona poster; `pictures` whether the image service runs (the "picture this"
    button is shown where the channel allows images); `screen` checks the partial text shown again.
    """
    for item in settled:
        if not item.reply.discord_ids:
            continue  # it crashed before its first message was linked: nothing shows it
        try:
            await _rewrite_one(bot, item, conversations, settings, poster, pictures, screen)
        except (discord.HTTPException, ValueError) as exc:
            log.info("could not rewrite interrupted reply %s: %s", item.reply.id, exc)
        except Exception:
            log.exception("rewriting interrupted reply %s failed", item.reply.id)


async def _rewrite_one(bot: discord.Client, item: Settled, conversations: Conversations, settings: SettingsStore,
                       poster: PersonaPoster, pictures: bool, screen: ChatScreen) -> None:
    reply = item.reply
    channel = bot.get_channel(item.channel_id) or await bot.fetch_channel(item.channel_id)
    shown = [await channel.fetch_message(i) for i in reply.discord_ids]
    first = shown[0]
    via_webhook = first.webhook_id is not None
    partial = shown_text(shown) if reply.status == "failed" else ""
    if partial:
        partial = await _checked(partial, item, conversations, screen)
    author = first.embeds[0].author if first.embeds and not via_webhook else None
    name = (author.name if author else None) or item.character_name
    avatar = author.icon_url if author else None
    latest = not item.archived and await conversations.latest_reply_id(reply.conversation_id) == reply.id
    pictures = pictures and bool(await settings.get("images", guild_id=item.guild_id, channel_id=item.channel_id))
    writer = ReplyWriter(poster=poster, channel=channel, name=name, avatar_url=avatar,
                         use_webhook=via_webhook, reuse=[Posted(i, via_webhook) for i in reply.discord_ids])
    controls = Controls(reply.id, reply.swipe_index, max(1, len(reply.swipes)), latest=latest, pictures=pictures)
    ids = await writer.replace_all(cut_text(reply, partial), controls_view(controls))
    if ids != reply.discord_ids:
        await conversations.link_discord(reply.id, item.channel_id, ids)
    log.info("rewrote reply %s, interrupted by the last shutdown, in channel %s", reply.id, item.channel_id)


async def _checked(partial: str, item: Settled, conversations: Conversations, screen: ChatScreen) -> str:
    """`partial` if the output check lets it be shown again, else "" (the plain cut-off note)."""

    async def background() -> JudgeContext:  # only when stage 1 hands the text to the judge
        conv = await conversations.get(item.reply.conversation_id)
        turns = await conversations.window(conv, before_id=item.reply.id, limit=JUDGE_TURNS) if conv else []
        return JudgeContext(character=f"Name: {item.character_name}",
                            recent=tuple(f"{t.author_name or item.character_name}: {t.content}" for t in turns))

    where = Where(None, item.guild_id, item.channel_id, "chat recovery")
    decision = await screen.check_output(partial, where, background=background)
    return partial if decision.allowed else ""
