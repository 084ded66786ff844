"""Buttons under a character's reply, and the edit form.

A button's custom id carries the action and the stored reply's id (`chat:regen:123`), the form's
the reply's id (`chatedit:123`), so both work on a new bot process: nothing is kept in memory.
`bot.ui.chat_controls` registers what they do with the component router.
"""

from __future__ import annotations

from typing import Any

import discord

from bot.chat.render import Controls
from bot.chat.rules import EDIT_MAX
from bot.ui.router import RoutedModal, view

BUTTON_PREFIX = "chat"
BUTTON_PATTERN = r"(?P<action>[a-z]+):(?P<id>[0-9]+)"  # after "chat:"
FORM_PREFIX = "chatedit"
FORM_PATTERN = r"(?P<id>[0-9]+)"  # after "chatedit:"
EDIT_FIELD = "chatedit:text"
SCENE_PREFIX = "scene"
SCENE_PATTERN = r"(?P<action>next|pick):(?P<id>[0-9]+)"  # after "scene:"
PICK_PLACEHOLDER = "Who answers next?"
EDIT_TIMEOUT = 15 * 60.0  # Discord keeps a form open this long at most (the token's lifetime)

# Every control says what it does in words (screen readers, and ▶ next swipe vs ➡️ continue).
ACTIONS = {
    "prev": ("◀", "Previous"),
    "next": ("▶", "Next"),
    "regen": ("🔄", "Regenerate"),
    "cont": ("➡️", "Continue"),
    "edit": ("✏️", "Edit"),
    "pic": ("🖼️", "Picture"),
    "listen": ("🔊", "Listen"),
    "del": ("🗑️", "Delete"),
    "stop": ("⏹️", "Stop"),
}


class ChatButton(discord.ui.Button[Any]):
    """One control under a reply: `chat:<action>:<reply id>`, with its emoji and its name."""

    def __init__(self, action: str, reply_id: int, *, label: str | None = None, disabled: bool = False,
                 row: int | None = None, style: discord.ButtonStyle = discord.ButtonStyle.secondary) -> None:
        emoji, title = ACTIONS.get(action, ("", action))
        super().__init__(custom_id=f"{BUTTON_PREFIX}:{action}:{reply_id}", emoji=emoji or None,
                         label=label or title, style=style, disabled=disabled, row=row)
        self.action = action
        self.reply_id = reply_id
        self.title = title


def controls_view(controls: Controls) -> discord.ui.View:
    """The buttons for `controls`: Stop while streaming; then swipes, regenerate and continue on
    the latest reply, edit, picture (when allowed), listen and delete."""
    reply_id = controls.reply_id
    if controls.streaming:
        return view(ChatButton("stop", reply_id, style=discord.ButtonStyle.danger))
    items: list[discord.ui.Item[Any]] = []
    count = max(1, controls.swipes)
    if controls.latest and count > 1:
        items.append(ChatButton("prev", reply_id, disabled=controls.swipe_index <= 0, row=0))
        # The swipe counter between ◀ and ▶: a disabled button, so it sits in the row (never pressed).
        items.append(ChatButton("count", reply_id, label=f"{controls.swipe_index + 1}/{count}", disabled=True, row=0))
        items.append(ChatButton("next", reply_id, disabled=controls.swipe_index >= count - 1, row=0))
    if controls.latest:
        items.append(ChatButton("regen", reply_id, row=0))
        items.append(ChatButton("cont", reply_id, row=0))
    items.append(ChatButton("edit", reply_id, row=1))
    if controls.pictures:
        items.append(ChatButton("pic", reply_id, row=1))
    items.append(ChatButton("listen", reply_id, row=1))
    items.append(ChatButton("del", reply_id, row=1))
    if controls.latest and controls.cast:
        items.append(discord.ui.Button(custom_id=f"{SCENE_PREFIX}:next:{reply_id}", emoji="⏭", label="Next",
                                       style=discord.ButtonStyle.primary, row=1))
        items.append(speaker_select(reply_id, controls.cast))
    return view(*items)


def speaker_select(reply_id: int, cast: tuple[tuple[str, str], ...]) -> discord.ui.Select[Any]:
    """"Who answers next?": one option per member of the scene (the value is its reference)."""
    options = [discord.SelectOption(label=name[:100] or "?", value=ref[:100]) for ref, name in cast[:25]]
    return discord.ui.Select(custom_id=f"{SCENE_PREFIX}:pick:{reply_id}", placeholder=PICK_PLACEHOLDER,
                             options=options, min_values=1, max_values=1, row=2)


class EditReplyModal(RoutedModal):
    """The form for editing what the character said; the custom id carries the reply id."""

    def __init__(self, reply_id: int, current: str) -> None:
        super().__init__(title="Edit the reply", custom_id=f"{FORM_PREFIX}:{reply_id}", timeout=EDIT_TIMEOUT)
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
