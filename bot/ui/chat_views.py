"""Buttons under a character's reply, and the edit modal.

Each button is a `DynamicItem` whose custom_id carries the action and the stored reply's id
(`chat:regen:123`), so the buttons keep working on a new bot process: nothing is kept in memory.
Callbacks hand over to the chat cog, which re-checks the gate and who may press.
"""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.chat.render import Controls
from bot.chat.rules import EDIT_MAX

ACTIONS = {
    "prev": ("◀", "Previous swipe"),
    "next": ("▶", "Next swipe"),
    "regen": ("🔄", "Regenerate"),
    "cont": ("➡️", "Continue"),
    "edit": ("✏️", "Edit"),
    "pic": ("🖼️", "Picture this"),
    "del": ("🗑️", "Delete"),
    "stop": ("⏹️", "Stop"),
}


class ChatButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"chat:(?P<action>[a-z]+):(?P<id>[0-9]+)"):
    def __init__(
        self,
        action: str,
        reply_id: int,
        *,
        label: str | None = None,
        disabled: bool = False,
        row: int | None = None,
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    ) -> None:
        emoji, title = ACTIONS.get(action, ("", action))
        super().__init__(
            discord.ui.Button(
                custom_id=f"chat:{action}:{reply_id}",
                emoji=emoji or None,
                label=label,
                style=style,
                disabled=disabled,
                row=row,
            )
        )
        self.action = action
        self.reply_id = reply_id
        self.title = title

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ChatButton:
        return cls(match["action"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        cog = interaction.client.get_cog("Chat")  # type: ignore[attr-defined]
        if cog is None:
            await interaction.response.send_message("Chat is not available right now.", ephemeral=True)
            return
        await cog.on_button(interaction, self.action, self.reply_id)


def controls_view(controls: Controls) -> discord.ui.View:
    """The buttons for `controls`: Stop while streaming; then swipes, regenerate and continue on
    the latest reply, edit, picture (when allowed) and delete."""
    view = discord.ui.View(timeout=None)
    reply_id = controls.reply_id
    if controls.streaming:
        view.add_item(ChatButton("stop", reply_id, label="Stop", style=discord.ButtonStyle.danger))
        return view
    count = max(1, controls.swipes)
    if controls.latest and count > 1:
        view.add_item(ChatButton("prev", reply_id, disabled=controls.swipe_index <= 0, row=0))
        view.add_item(ChatButton("count", reply_id, label=f"{controls.swipe_index + 1}/{count}", disabled=True, row=0))
        view.add_item(ChatButton("next", reply_id, disabled=controls.swipe_index >= count - 1, row=0))
    if controls.latest:
        view.add_item(ChatButton("regen", reply_id, row=0))
        view.add_item(ChatButton("cont", reply_id, row=0))
    view.add_item(ChatButton("edit", reply_id, row=1))
    if controls.pictures:
        view.add_item(ChatButton("pic", reply_id, row=1))
    view.add_item(ChatButton("del", reply_id, row=1))
    return view


EDIT_PREFIX = "chatedit:"
EDIT_FIELD = "chatedit:text"
EDIT_TIMEOUT = 15 * 60.0  # Discord keeps a form open this long at most (the token's lifetime)


class EditReplyModal(discord.ui.Modal):
    """The form for editing what the character said; the custom_id carries the reply id.

    Submissions are handled by the chat cog's interaction listener, not here, so a form opened
    before a restart still works: the modal object only describes the form.
    """

    def __init__(self, reply_id: int, current: str) -> None:
        super().__init__(title="Edit the reply", custom_id=f"{EDIT_PREFIX}{reply_id}", timeout=EDIT_TIMEOUT)
        self.reply_id = reply_id
        self.text: discord.ui.TextInput[EditReplyModal] = discord.ui.TextInput(
            label="Reply",
            style=discord.TextStyle.long,
            custom_id=EDIT_FIELD,
            default=current[:EDIT_MAX],
            max_length=EDIT_MAX,
            required=True,
        )
        self.add_item(self.text)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        return  # see the class docstring


def edit_submission(data: Any) -> tuple[int, str] | None:
    """(reply id, text) from a modal submit's `interaction.data`, or None if it is not our form."""
    custom_id = str((data or {}).get("custom_id", ""))
    if not custom_id.startswith(EDIT_PREFIX) or not custom_id[len(EDIT_PREFIX):].isdigit():
        return None
    for component in data.get("components") or []:
        # Inputs arrive in action rows, or (newer layouts) inside a label.
        inner = component.get("components") or [component.get("component") or {}]
        for field in inner:
            if field.get("custom_id") == EDIT_FIELD:
                return int(custom_id[len(EDIT_PREFIX):]), str(field.get("value") or "")
    return None
