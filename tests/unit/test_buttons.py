"""Every control says what it does: a label and an emoji, within Discord's 5 buttons × 5 rows.

Built from the same functions the bot sends messages with (no Discord needed).
"""

from __future__ import annotations

from typing import Any

import discord
import pytest

from bot.characters.catalogue import Page
from bot.chat.render import Controls
from bot.ui.character_views import browse_message, delete_view
from bot.ui.chat_views import controls_view
from bot.ui.image_views import cancel_view, image_view
from bot.ui.voice_controls import preview_view
from bot.venice.types import VeniceCharacter
from cogs.privacy import confirm_view

LUNA = VeniceCharacter(id="1", slug="luna", name="Luna", adult=True, share_url="https://venice.ai/c/luna")


def rows(view: discord.ui.View) -> list[list[dict[str, Any]]]:
    return [row["components"] for row in view.to_components()]


def buttons(view: discord.ui.View) -> list[dict[str, Any]]:
    return [c for row in rows(view) for c in row]


VIEWS = {
    "reply while streaming": controls_view(Controls(7, streaming=True)),
    "latest reply, one swipe": controls_view(Controls(7, latest=True, pictures=True)),
    "latest reply, swipes": controls_view(Controls(7, swipe_index=1, swipes=3, latest=True, pictures=True)),
    "older reply": controls_view(Controls(7, latest=False, pictures=True)),
    "image": image_view(42, kind="imagine"),
    "upscaled image": image_view(42, kind="upscale"),
    "edited picture": image_view(42, kind="alter"),
    "voice preview": preview_view(5),
    "queued image": cancel_view(42),
    "catalogue page": browse_message(Page(LUNA, 1, 3, True), "", "")[1],
    "character delete": delete_view(5),
    "privacy delete": confirm_view(),
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_every_control_has_a_label_and_an_emoji(name: str) -> None:
    controls = [b for b in buttons(VIEWS[name]) if ":count:" not in b.get("custom_id", "")]  # the swipe counter
    assert controls, name
    unnamed = [b.get("custom_id") or b.get("url") for b in controls if not (b.get("label") and b.get("emoji"))]
    assert unnamed == []


@pytest.mark.parametrize("name", list(VIEWS))
def test_no_row_passes_discords_limits(name: str) -> None:
    layout = rows(VIEWS[name])
    assert len(layout) <= 5 and all(len(row) <= 5 for row in layout)


def test_the_swipe_counter_sits_between_the_arrows() -> None:
    first_row = rows(VIEWS["latest reply, swipes"])[0]
    assert [b.get("label") for b in first_row[:3]] == ["Previous", "2/3", "Next"]
    assert first_row[1]["disabled"] and first_row[1]["custom_id"] == "chat:count:7"


def test_next_swipe_and_continue_read_differently() -> None:
    labels = {b["custom_id"].split(":")[1]: b["label"] for b in buttons(VIEWS["latest reply, swipes"])}
    assert labels["next"] == "Next" and labels["cont"] == "Continue" and labels["regen"] == "Regenerate"
    assert {labels["edit"], labels["pic"], labels["del"]} == {"Edit", "Picture", "Delete"}
    assert labels["listen"] == "Listen"


def test_image_controls_are_named() -> None:
    labels = [b["label"] for b in buttons(VIEWS["image"])]
    assert labels == ["Reroll", "Same seed", "Edit picture", "Upscale", "Lock seed", "Delete"]
    assert [b["label"] for b in buttons(VIEWS["queued image"])] == ["Cancel"]
    assert [b["label"] for b in buttons(VIEWS["edited picture"])] == ["Edit picture", "Upscale", "Delete"]
