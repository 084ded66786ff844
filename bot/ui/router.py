"""One router for every button, select and form of the bot.

Each feature registers its controls here, beside the UI that draws them: a prefix (the custom id
up to its first colon: `chat`, `chatedit`, `img`, `imgedit`, `lcb`, `lcu`, `lcdel`, `lcform`,
`privacy`), the pattern of the rest, and a handler. Every component and form submission then takes
one path, on any bot process (nothing about a control is kept in memory):

1. `allowed`: the age gate (Discord's own gate does not cover controls on old messages), then
   admission (blocked users; DM unlocks). The slash-command tree asks the same function.
2. For forms, every field within the length the form declared (a forged submission is refused).
3. The handler; whatever it raises is answered by the one error reporter (`bot.ui.errors`).

Views built with `view()` are never kept by discord.py (they are marked finished), since the
router dispatches from the interaction itself: a control works the same before and after a restart.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import discord
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import gate
from bot.ui.errors import report
from bot.ui.gating import admit

log = logging.getLogger(__name__)

ButtonHandler = Callable[[discord.Interaction, re.Match[str]], Awaitable[None]]
FormHandler = Callable[[discord.Interaction, re.Match[str], dict[str, str]], Awaitable[None]]
NOT_IN_USE = "That button is not in use any more."
TOO_LONG = "That's too long for this form: at most {limit:,} characters per field."


@dataclass(frozen=True, slots=True)
class ButtonRoute:
    pattern: re.Pattern[str]
    handler: ButtonHandler


@dataclass(frozen=True, slots=True)
class FormRoute:
    pattern: re.Pattern[str]
    handler: FormHandler
    fields: dict[str, int]  # custom id of each text input -> the longest value the form allows


class ComponentRouter:
    """Dispatches components and forms by custom id, after one check, with one error reporter."""

    def __init__(self, *, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._buttons: dict[str, ButtonRoute] = {}
        self._forms: dict[str, FormRoute] = {}

    # -- registering ----------------------------------------------------------------------------

    def button(self, prefix: str, pattern: str, handler: ButtonHandler) -> None:
        """Handle components whose custom id is `prefix:<pattern>` (a select counts as a button)."""
        self._buttons[prefix] = ButtonRoute(re.compile(pattern), handler)

    def form(self, prefix: str, pattern: str, handler: FormHandler, *, fields: dict[str, int]) -> None:
        """Handle forms whose custom id is `prefix:<pattern>`; `fields` bound each input's length."""
        self._forms[prefix] = FormRoute(re.compile(pattern), handler, dict(fields))

    # -- checking -------------------------------------------------------------------------------

    async def allowed(self, interaction: discord.Interaction) -> bool:
        """The one check for commands, autocomplete, components and forms: the gate, then admission.

        On refusal the interaction has been answered privately and nothing else may happen.
        """
        if not await gate.enforce(interaction):
            return False
        return await admit(interaction, self.sessions)

    # -- dispatching ----------------------------------------------------------------------------

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """The listener for every interaction; components and forms are handled here."""
        if interaction.type is discord.InteractionType.component:
            await self._dispatch_button(interaction)
        elif interaction.type is discord.InteractionType.modal_submit:
            await self._dispatch_form(interaction)

    async def _dispatch_button(self, interaction: discord.Interaction) -> None:
        prefix, match = self._match(interaction, self._buttons)
        if prefix is None:
            return  # not ours (or not any more): Discord shows "interaction failed"
        if not await self.allowed(interaction):
            return
        try:
            if match is None:
                raise _NotInUse
            await self._buttons[prefix].handler(interaction, match)
        except _NotInUse:
            await interaction.response.send_message(NOT_IN_USE, ephemeral=True)
        except Exception as exc:
            await report(interaction, exc, f"button {_custom_id(interaction)}")

    async def _dispatch_form(self, interaction: discord.Interaction) -> None:
        prefix, match = self._match(interaction, self._forms)
        if prefix is None:
            return
        if not await self.allowed(interaction):
            return
        route = self._forms[prefix]
        try:
            if match is None:
                raise _NotInUse
            values = form_values(interaction.data)
            for field, value in values.items():
                limit = route.fields.get(field)
                if limit is not None and len(value) > limit:
                    await interaction.response.send_message(TOO_LONG.format(limit=limit), ephemeral=True)
                    return
            await route.handler(interaction, match, values)
        except _NotInUse:
            await interaction.response.send_message(NOT_IN_USE, ephemeral=True)
        except Exception as exc:
            await report(interaction, exc, f"form {_custom_id(interaction)}")

    @staticmethod
    def _match(interaction: discord.Interaction, routes: dict[str, Any]) -> tuple[str | None, re.Match[str] | None]:
        prefix, colon, rest = _custom_id(interaction).partition(":")
        if not colon or prefix not in routes:
            return None, None
        return prefix, routes[prefix].pattern.fullmatch(rest)


class _NotInUse(Exception):
    """A custom id with a known prefix whose rest matches nothing any more."""


def _custom_id(interaction: discord.Interaction) -> str:
    return str((interaction.data or {}).get("custom_id", ""))


def form_values(data: Any) -> dict[str, str]:
    """{input custom id: value} from a form submission (inputs in action rows, or inside labels)."""
    values: dict[str, str] = {}
    for component in (data or {}).get("components") or []:
        inner = component.get("components") or [component.get("component") or {}]
        for field in inner:
            if "custom_id" in field:
                values[str(field["custom_id"])] = str(field.get("value") or "")
    return values


class RoutedModal(discord.ui.Modal):
    """A form the router handles: the object only describes the form. discord.py keeps a modal it
    sent until its timeout and would dispatch to it; this one declines (the router, which handles
    the same submission on any process, is the only path)."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return False


def view(*items: discord.ui.Item[Any]) -> discord.ui.View:
    """A view for routed controls. discord.py does not keep it (it is already finished): the router
    finds the handler from the custom id, on this process or any later one."""
    built = discord.ui.View(timeout=None)
    for item in items:
        built.add_item(item)
    built.stop()
    return built
