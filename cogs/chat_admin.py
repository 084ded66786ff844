"""/conversation list | resume | export | delete | memory: several conversations per channel."""

from __future__ import annotations

import io
import json

import discord
from discord import app_commands
from discord.ext import commands

from bot.chat.prompt_lore import NOTE_POSITIONS, ROLES, AuthorNote, note_of, note_settings
from bot.chat.rules import NOT_YOUR_CONVERSATION, may_delete_conversation
from bot.chat.service import ChatService
from bot.errors import UserError
from bot.store.conversations import TurnRow
from bot.store.models import Conversation
from bot.ui.names import shown
from bot.ui.places import where_of_interaction


def export_text(conv: Conversation, turns: list[TurnRow], summary: str | None = None) -> str:
    """A readable transcript: who said what, in order, without deleted or failed turns.

    `summary`: the rolling summary as it may be shown (checked); the stored one when not given."""
    summary = conv.summary if summary is None else summary
    lines = [f"# {conv.title or 'Conversation'} with {conv.character_name}",
             f"# started {conv.created_at:%Y-%m-%d %H:%M} UTC", ""]
    if summary:
        lines += ["Story so far:", summary, ""]
    for t in turns:
        if t.status not in ("complete", "cut"):
            continue
        name = t.author_name or (conv.character_name if t.role == "assistant" else "User")
        lines += [f"{name}:", t.content, ""]
    return "\n".join(lines)


def export_jsonl(conv: Conversation, turns: list[TurnRow], summary: str | None = None) -> str:
    """SillyTavern's chat format: a metadata line, then one line per message with its swipes."""
    summary = conv.summary if summary is None else summary
    user_name = next((t.author_name for t in turns if t.role == "user"), "User")
    out = [json.dumps({"user_name": user_name, "character_name": conv.character_name,
                       "create_date": conv.created_at.isoformat(), "chat_metadata": {"note_prompt": summary}})]
    for t in turns:
        if t.status not in ("complete", "cut"):
            continue
        entry: dict[str, object] = {
            "name": t.author_name or (conv.character_name if t.role == "assistant" else user_name),
            "is_user": t.role == "user", "is_system": False, "mes": t.content, "send_date": "",
        }
        if t.role == "assistant" and len(t.swipes) > 1:
            entry["swipes"] = t.swipes
            entry["swipe_id"] = t.swipe_index
        out.append(json.dumps(entry, ensure_ascii=False))
    return "\n".join(out) + "\n"


NOTE_ROLES = [app_commands.Choice(name=name, value=name) for name in ROLES]
NOTE_PLACES = [
    app_commands.Choice(name="in the chat at its depth", value="in_chat"),
    app_commands.Choice(name="before the main prompt", value="before_prompt"),
    app_commands.Choice(name="after the main prompt", value="after_prompt"),
    app_commands.Choice(name="nowhere (kept, not sent)", value="none"),
]


class ConversationCog(commands.Cog, name="Conversations"):
    conversation = app_commands.Group(
        name="conversation", description="Your conversations in this channel", nsfw=True,
    )

    def __init__(self, bot: commands.Bot, chat: ChatService) -> None:
        self.bot = bot
        self.chat = chat

    async def _mine(self, interaction: discord.Interaction, conversation_id: int) -> Conversation:
        conv = await self.chat.conversations.get(conversation_id)
        if conv is None or conv.channel_id != interaction.channel_id:
            raise UserError("There is no conversation with that number in this channel.")
        return conv

    async def conversation_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        rows = await self.chat.conversations.list_for_channel(interaction.channel_id or 0)
        choices = []
        for conv, count in rows:
            label = f"#{conv.id} {conv.title or 'untitled'} — {conv.character_name} ({count} messages)"
            if current.lower() in label.lower():
                choices.append(app_commands.Choice(name=label[:100], value=conv.id))
        return choices[:25]

    @conversation.command(name="list", description="Conversations in this channel")
    async def list_(self, interaction: discord.Interaction) -> None:
        rows = await self.chat.conversations.list_for_channel(interaction.channel_id or 0)
        if not rows:
            await interaction.response.send_message("No conversations here yet: say hello with `/chat`.",
                                                    ephemeral=True)
            return
        lines = []
        for conv, count in rows:
            marker = "▶️" if not conv.archived else "▫️"
            lines.append(f"{marker} `#{conv.id}` **{discord.utils.escape_markdown(conv.title or 'untitled')}** "
                         f"with {shown(conv.character_name)} — {count} messages, "
                         f"{discord.utils.format_dt(conv.created_at, 'R')}")
        embed = discord.Embed(title="Conversations in this channel", description="\n".join(lines)[:4000])
        embed.set_footer(text="▶️ is the current one. /conversation resume switches.")
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @conversation.command(name="resume", description="Switch back to an earlier conversation")
    @app_commands.describe(conversation="Which conversation")
    @app_commands.autocomplete(conversation=conversation_autocomplete)
    async def resume(self, interaction: discord.Interaction, conversation: int) -> None:
        await self._mine(interaction, conversation)
        await interaction.response.defer(thinking=True)  # a reply being written holds the channel's turn
        conv = await self.chat.resume_conversation(where_of_interaction(interaction, "conversation"), conversation)
        if conv is None:
            await interaction.edit_original_response(content="That conversation was deleted meanwhile.")
            return
        await interaction.edit_original_response(
            content=f"Resumed `#{conv.id}` with **{shown(conv.character_name)}**. "
                    "Talk with `/chat` or mention me."
        )

    @conversation.command(name="export", description="Download a conversation as text and SillyTavern JSONL")
    @app_commands.describe(conversation="Which conversation (default: the current one)")
    @app_commands.autocomplete(conversation=conversation_autocomplete)
    async def export(self, interaction: discord.Interaction, conversation: int | None = None) -> None:
        if conversation is None:
            conv = await self.chat.conversations.active(interaction.channel_id or 0)
            if conv is None:
                raise UserError("There is no conversation in this channel yet.")
        else:
            conv = await self._mine(interaction, conversation)
        await interaction.response.defer(ephemeral=True, thinking=True)  # the summary's check may ask the judge
        summary = await self.chat.shown_summary(where_of_interaction(interaction, "conversation"), conv)
        turns = await self.chat.conversations.all_turns(conv.id)
        group = await self.chat.group_chat_jsonl(conv, summary)  # a group scene: SillyTavern's group chat file
        jsonl = group if group is not None else export_jsonl(conv, turns, summary)
        files = [
            discord.File(io.BytesIO(export_text(conv, turns, summary).encode()),
                         filename=f"conversation-{conv.id}.txt"),
            discord.File(io.BytesIO(jsonl.encode()), filename=f"conversation-{conv.id}.jsonl"),
        ]
        await interaction.followup.send(f"Conversation `#{conv.id}` with {conv.character_name}:", files=files,
                                        ephemeral=True)

    @conversation.command(name="delete", description="Delete a conversation for good")
    @app_commands.describe(conversation="Which conversation")
    @app_commands.autocomplete(conversation=conversation_autocomplete)
    async def delete(self, interaction: discord.Interaction, conversation: int) -> None:
        where = where_of_interaction(interaction, "conversation")
        conv = await self._mine(interaction, conversation)
        if not may_delete_conversation(conv.created_by, interaction.user.id, moderator=where.moderator):
            raise UserError(NOT_YOUR_CONVERSATION)
        await interaction.response.defer(ephemeral=True, thinking=True)  # a reply being written holds the turn
        await self.chat.delete_conversation(where, conv.id)
        await interaction.edit_original_response(content=f"Deleted conversation `#{conv.id}`.")

    @conversation.command(name="authorsnote", description="The Author's Note: a standing instruction near the end")
    @app_commands.describe(
        text="What the note says (leave out to see it; 'clear' removes it)",
        depth="How many messages from the end it goes (default 4)",
        frequency="Add it every Nth message of yours (default 1: always; 0: never)",
        role="Sent as a system (default), user or assistant message",
        position="Where it goes (default: in the chat at its depth)",
    )
    @app_commands.choices(role=NOTE_ROLES, position=NOTE_PLACES)
    async def authorsnote(self, interaction: discord.Interaction,
                          text: app_commands.Range[str, 1, 2000] | None = None,
                          depth: app_commands.Range[int, 0, 100] | None = None,
                          frequency: app_commands.Range[int, 0, 100] | None = None,
                          role: str | None = None, position: str | None = None) -> None:
        conv = await self.chat.conversations.active(interaction.channel_id or 0)
        if conv is None:
            raise UserError("There is no conversation in this channel yet: say something first.")
        current = note_of(conv.author_note)
        if text is None and depth is None and frequency is None and role is None and position is None:
            shown_note = (f"**Author's Note** ({note_settings(current)}):\n{shown(current.text)}" if current.text
                          else "This conversation has no Author's Note. `/conversation authorsnote text:…` sets one.")
            await interaction.response.send_message(shown_note[:2000], ephemeral=True)
            return
        where = where_of_interaction(interaction, "authors note")
        if text is not None and text.strip().lower() == "clear":
            await interaction.response.defer(ephemeral=True, thinking=True)
            await self.chat.set_author_note(where, None)
            await interaction.edit_original_response(content="Author's Note cleared.")
            return
        new_text = text.strip() if text is not None else current.text
        if not new_text:
            raise UserError("Give the note some text first.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        if text is not None:
            await self.chat.screen.check_input(new_text, where)
        note = AuthorNote(new_text, current.depth if depth is None else depth,
                          current.every if frequency is None else frequency,
                          ROLES.get(role or "", current.role),
                          NOTE_POSITIONS.get(position or "", current.position))
        await self.chat.set_author_note(where, note)
        await interaction.edit_original_response(
            content=f"📝 Author's Note set: {note_settings(note)}.\n>>> {shown(new_text)}"[:2000])

    @conversation.command(name="memory", description="What the character remembers of this conversation")
    async def memory(self, interaction: discord.Interaction) -> None:
        conv = await self.chat.conversations.active(interaction.channel_id or 0)
        if conv is None:
            raise UserError("There is no conversation in this channel yet.")
        await interaction.response.defer(ephemeral=True, thinking=True)  # the summary's check may ask the judge
        summary = await self.chat.shown_summary(where_of_interaction(interaction, "conversation"), conv)
        turns = await self.chat.conversations.window(conv)
        embed = discord.Embed(title=f"What {conv.character_name} remembers")
        embed.add_field(name="Story so far (rolling summary)",
                        value=(summary or "Nothing summarised yet: every message still fits.")[:1024],
                        inline=False)
        embed.add_field(name="Recent messages kept word for word", value=str(len(turns)), inline=True)
        if conv.lore_fired:
            embed.add_field(name="Lore used last", value=", ".join(conv.lore_fired)[:1024], inline=False)
        await interaction.edit_original_response(embed=embed)
