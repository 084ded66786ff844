"""How the chat service shows a reply, without knowing where: the `Renderer` protocol.

The chat service owns every turn (what is screened, limited, generated and stored) and drives a
renderer through it; the renderer only shows. `bot/ui/chat_reply.py` renders into Discord (persona
webhooks, throttled edits, buttons), `bot/terminal.py` prints. The values here are plain: a
renderer turns `Controls` into its own buttons.

Screening contract: a renderer awaits `check(text)` before every write of model text, `text`
being all of the reply that will be visible after the write. `check` may take a while (the judge)
and may refuse; a refusal means nothing more of the reply is written and `feed`/`finish` raise
`Withheld`, after which the service replaces the reply with a notice through `show`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

OutputCheck = Callable[[str], Awaitable[bool]]  # True: this text may be shown
# What is shown of a reply's text: (text so far, whether it is the whole reply) -> text to show.
# The card's regex scripts (`regex_scripts.shown_text`); a renderer applies it before every write.
DisplayTransform = Callable[[str, bool], str]


class Withheld(Exception):
    """The output check refused text that was about to be shown; nothing of it was."""


@dataclass(frozen=True, slots=True)
class Look:
    """Who the reply is shown as: the character's name and avatar, through a webhook or not."""

    name: str
    avatar_url: str | None
    webhook: bool
    display: DisplayTransform | None = field(default=None, compare=False)  # None: the text as it is


@dataclass(frozen=True, slots=True)
class Controls:
    """The controls a shown reply carries.

    While it is being written (`streaming`) only "stop"; then swipes (when there are several),
    regenerate and continue on the latest reply, edit, picture (when the channel allows images)
    and delete. In a group scene the latest reply also carries "who answers next" (one choice per
    member of `cast`, (reference, name) in cast order) and "⏭ Next".
    """

    reply_id: int
    swipe_index: int = 0
    swipes: int = 1
    latest: bool = True
    pictures: bool = False
    streaming: bool = False
    cast: tuple[tuple[str, str], ...] = ()


class Renderer(Protocol):
    """What the chat service calls to show a reply. One renderer serves one reply."""

    async def prepare(self, look: Look, existing: list[int]) -> None:
        """Get ready while Venice thinks (e.g. the persona webhook, "typing…"); must not wait for it.

        `existing` are the ids of messages that show this reply now (a regenerate rewrites them).
        """

    async def cleared(self) -> int | None:
        """The request passed its checks (for a turn: the input check): acknowledge it (e.g.
        /chat's echo, or a button's deferral). Called before waiting for the channel's turn.

        Returns the id of the message that shows the person's words, if there is one, so the turn
        can be found from it later. Nothing of a reply is shown before this is called.
        """

    async def begin(self, controls: Controls, check: OutputCheck, existing: str = "") -> None:
        """A reply starts streaming; `existing` is the text a continue carries on from."""

    async def feed(self, delta: str) -> None:
        """More of the reply. Raises `Withheld` once the check refused (nothing more is shown)."""

    def message_ids(self) -> list[int]:
        """The messages written so far, oldest first."""

    async def finish(self, footer: str | None, controls: Controls) -> list[int]:
        """The whole reply, with an optional footer line and its controls. Raises `Withheld`."""

    async def fail(self, note: str, controls: Controls) -> list[int]:
        """Keep what arrived and say why the reply stopped."""

    async def show(self, content: str, controls: Controls | None) -> list[int]:
        """Replace whatever the reply shows with `content` (a swipe, an edit, a greeting, a notice)."""

    async def remove(self) -> None:
        """Delete the reply's messages."""

    async def close(self) -> None:
        """The service is done with this reply (always called): stop "typing…" and the like."""
