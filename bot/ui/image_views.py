"""Buttons under generated images, the "edit prompt" modal, and the image embed.

Each button's custom id carries the action and the image record's id (`img:reroll:42`), the edit
form's the record's id (`imgedit:42`), so both work on any bot process, including one started
after the image was posted: nothing about the image is kept in memory, everything comes from the
record. The images cog registers what they do with the component router.
"""

from __future__ import annotations

from typing import Any

import discord

from bot.images.jobs import Delivery
from bot.images.seeds import SOURCE_RANDOM
from bot.ui.router import RoutedModal, view

BUTTON_PREFIX = "img"
BUTTON_PATTERN = r"(?P<action>reroll|edit|alter|upscale|lock|delete|cancel):(?P<id>[0-9]+)"  # after "img:"
FORM_PREFIX = "imgedit"
FORM_PATTERN = r"(?P<id>[0-9]+)"  # after "imgedit:"
PROMPT_FIELD = "prompt"
ALTER_PREFIX = "imgalter"  # the "edit the picture" form (Venice /image/edit): `imgalter:<record id>`
ALTER_PATTERN = r"(?P<id>[0-9]+)"
ALTER_FIELD = "instruction"
ALTER_INPUT_MAX = 1500  # Venice's edit models take ~1,500 characters (`promptCharacterLimit`)
ACTIONS: dict[str, tuple[str, str, discord.ButtonStyle]] = {
    "reroll": ("🎲", "Reroll", discord.ButtonStyle.secondary),
    "edit": ("✏️", "Same seed", discord.ButtonStyle.secondary),
    "alter": ("🪄", "Edit picture", discord.ButtonStyle.secondary),
    "upscale": ("⬆️", "Upscale", discord.ButtonStyle.secondary),
    "lock": ("🔒", "Lock seed", discord.ButtonStyle.secondary),
    "delete": ("🗑️", "Delete", discord.ButtonStyle.danger),
    "cancel": ("❌", "Cancel", discord.ButtonStyle.danger),
}
TITLES = {
    "imagine": "🎨 Image", "reroll": "🎲 Reroll", "edit": "✏️ Edited prompt", "upscale": "⬆️ Upscaled ×2",
    "selfie": "🤳 Selfie", "scene": "🖼️ Scene", "alter": "🪄 Edited picture",
}
PROMPT_INPUT_MAX = 4000  # a modal text input holds at most 4,000 characters
_DESCRIPTION_MAX = 1000
_FIELD_MAX = 1024
_TRIM_NAMES = {"quality": "quality tags", "style": "style hint", "scene": "scene", "appearance": "appearance",
               "user": "your words"}


class ImageButton(discord.ui.Button[Any]):
    """One control under an image (or under a queued request, for ❌ cancel): `img:<action>:<record id>`."""

    def __init__(self, action: str, record_id: int, *, row: int | None = None) -> None:
        emoji, label, style = ACTIONS[action]
        super().__init__(custom_id=f"{BUTTON_PREFIX}:{action}:{record_id}", emoji=emoji, label=label, style=style,
                         row=row)
        self.action = action
        self.record_id = record_id


def image_view(record_id: int, *, kind: str) -> discord.ui.View:
    """The controls under a finished image. An upscale can't be upscaled again; an edited picture
    has no prompt or seed of its own to reroll from, only further edits."""
    if kind == "alter":
        return view(*(ImageButton(action, record_id) for action in ("alter", "upscale", "delete")))
    actions = [a for a in ("reroll", "edit", "alter", "upscale", "lock", "delete")
               if not (a == "upscale" and kind == "upscale")]
    return view(*(ImageButton(action, record_id) for action in actions))


def cancel_view(record_id: int) -> discord.ui.View:
    """❌ under a request that is waiting in the queue."""
    return view(ImageButton("cancel", record_id))


class EditPromptModal(RoutedModal):
    """"Same seed, new prompt": prefilled with the image's description; the custom id carries the id."""

    def __init__(self, record_id: int, current: str) -> None:
        super().__init__(title="Same seed, new prompt", custom_id=f"{FORM_PREFIX}:{record_id}", timeout=900)
        self.record_id = record_id
        self.prompt: discord.ui.TextInput[EditPromptModal] = discord.ui.TextInput(
            label="Prompt", custom_id=PROMPT_FIELD, style=discord.TextStyle.long,
            default=current[:PROMPT_INPUT_MAX] or None, max_length=PROMPT_INPUT_MAX, required=True,
        )
        self.add_item(self.prompt)


class AlterPictureModal(RoutedModal):
    """"Edit picture": what to change, in words; the custom id carries the image record's id."""

    def __init__(self, record_id: int) -> None:
        super().__init__(title="Edit the picture", custom_id=f"{ALTER_PREFIX}:{record_id}", timeout=900)
        self.record_id = record_id
        self.instruction: discord.ui.TextInput[AlterPictureModal] = discord.ui.TextInput(
            label="What should change?", custom_id=ALTER_FIELD, style=discord.TextStyle.long,
            placeholder="e.g. make her dress red and the sky a sunset", max_length=ALTER_INPUT_MAX, required=True,
        )
        self.add_item(self.instruction)


def clip(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut at a word where possible, marked with an ellipsis."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    head, space, _ = cut.rpartition(" ")
    return (head if space and len(head) > limit // 2 else cut).rstrip(" ,") + "…"


def seed_text(seed: int | None, source: str) -> str:
    """The seed in a code span (one tap to copy on mobile), and where it came from."""
    if seed is None:
        return "unknown"
    return f"`{seed}`" if source == SOURCE_RANDOM else f"`{seed}` ({source})"


def image_embed(delivery: Delivery, *, requester: str) -> discord.Embed:
    """Everything needed to understand and redo the image, beside the image itself."""
    embed = discord.Embed(
        title=TITLES.get(delivery.kind, "🎨 Image"), description=clip(delivery.user_prompt, _DESCRIPTION_MAX),
        colour=discord.Colour.dark_magenta(),
    )
    embed.add_field(name="Seed", value=seed_text(delivery.seed, delivery.seed_source))
    model = delivery.model
    if delivery.model_name not in ("", delivery.model):
        model = f"{delivery.model_name} ({delivery.model})"
    embed.add_field(name="Model", value=clip(model, 100))
    embed.add_field(name="Style", value=clip(delivery.style or "none", 100))
    embed.add_field(name="Size", value=f"{delivery.width}×{delivery.height}")
    embed.add_field(name="Time", value=f"{delivery.seconds:.1f} s")
    if delivery.kind != "upscale":
        note = ""
        if delivery.trimmed:
            cut = ", ".join(_TRIM_NAMES.get(t, t) for t in delivery.trimmed)
            note = f"\n*Shortened to fit the model's prompt limit ({cut}).*"
        value = clip(delivery.prompt, _FIELD_MAX - len(note)) + note
        embed.add_field(name="Prompt sent", value=value, inline=False)
    embed.set_image(url=f"attachment://{delivery.filename}")
    footer = f"Image #{delivery.record_id}"
    if delivery.parent_id:
        footer += f" · from #{delivery.parent_id}"
    embed.set_footer(text=clip(f"{footer} · for {requester}", 200))
    return embed
