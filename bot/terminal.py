"""`python -m bot chat`: talk to a character in the terminal, with the bot's own engine and database.

For operators trying a key, a model or a character card before going live. It takes turns through
the same `ChatService.take_turn` as Discord, so the typed line is screened, limited and stored
the same way. Conversations are kept under a pseudo channel id (default 0), so `/reset`-like
behaviour is `:reset` here.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TextIO

from bot.characters.cards import CardError, parse_card
from bot.characters.model import DEFAULT_CHARACTER, Character
from bot.chat.render import Controls, Look, OutputCheck, Withheld
from bot.chat.service import ChatService
from bot.config import Env
from bot.errors import UserError
from bot.services import build_services
from bot.venice.client import VeniceClient
from bot.venice.errors import VeniceError
from bot.where import Where

HELP = "Type a message and press Enter. Commands: :reset (new conversation), :quit."
FLUSH_EVERY = 200  # characters; text is printed (after the output check) at line ends or this often


class TerminalRenderer:
    """Prints a reply as it arrives (`bot.chat.render.Renderer`), each piece checked first."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.name = "Character"
        self._check: OutputCheck | None = None
        self._text = ""
        self._printed = 0

    async def prepare(self, look: Look, existing: list[int]) -> None:
        self.name = look.name

    async def cleared(self) -> int | None:
        return None

    async def begin(self, controls: Controls, check: OutputCheck, existing: str = "") -> None:
        self._check = check
        self._text = existing
        self.out.write(f"{self.name}: ")

    async def feed(self, delta: str) -> None:
        self._text += delta
        pending = self._text[self._printed:]
        if "\n" in pending or len(pending) >= FLUSH_EVERY:
            await self._print(self._text.rfind("\n") + 1 if "\n" in pending else len(self._text))

    def message_ids(self) -> list[int]:
        return []

    async def finish(self, footer: str | None, controls: Controls) -> list[int]:
        await self._print(len(self._text))
        self.out.write("\n" + (f"({footer.removeprefix('-# ')})\n" if footer else ""))
        return []

    async def fail(self, note: str, controls: Controls) -> list[int]:
        await self._print(len(self._text))
        self.out.write(f"\n[{note}]\n")
        return []

    async def show(self, content: str, controls: Controls | None) -> list[int]:
        self.out.write(f"\n{self.name}: {content}\n" if self._printed else f"{self.name}: {content}\n")
        return []

    async def remove(self) -> None:
        return

    async def close(self) -> None:
        self.out.flush()

    async def _print(self, upto: int) -> None:
        """Print the text up to `upto`, once the output check allowed everything shown by then."""
        if upto <= self._printed:
            return
        if self._check is not None and not await self._check(self._text[:upto]):
            raise Withheld
        self.out.write(self._text[self._printed:upto])
        self.out.flush()
        self._printed = upto


async def load_character(venice: VeniceClient, spec: str | None) -> tuple[Character, str]:
    """The character to talk to: a card file, a Venice catalogue slug, or the built-in default."""
    if not spec:
        return DEFAULT_CHARACTER, "builtin:scarlett"
    path = Path(spec)
    if await asyncio.to_thread(path.exists):
        try:
            return parse_card(await asyncio.to_thread(path.read_bytes), path.name), f"file:{path.name}"
        except CardError as exc:
            raise UserError(f"{path.name}: {exc}") from None
    found = await venice.get_character(spec)
    return Character(name=found.name, description=found.description or "", source="venice",
                     venice_slug=found.slug, avatar_url=found.photo_url), f"venice:{found.slug}"


async def run_terminal_chat(env: Env, *, character: str | None, channel: int = 0) -> str | None:
    """Chat until :quit or end of input; returns what went wrong, or None."""
    services = await build_services(env)
    chat = services.chat
    try:
        card, ref = await load_character(services.venice, character)
        chat.scenes.pin(ref, card)  # a card file is no stored character: this process knows it by its reference
        where = Where(0, None, channel, "terminal chat", user_name="You")
        conv = await chat.scenes.active(channel)
        if conv is None or conv.character_ref != ref:
            await start(chat, where, ref)
        print(f"Talking with {card.name} on {env.text_model}. {HELP}")
        while True:
            line = (await asyncio.to_thread(input, "> ")).strip()
            if line in (":quit", ":q"):
                break
            if line == ":reset":
                await start(chat, where, ref)
                continue
            if not line:
                continue
            try:
                await chat.take_turn(where, line, TerminalRenderer())
            except UserError as exc:  # the line was refused or too long: say so, keep going
                print(f"[{exc.user_message}]")
    except (EOFError, KeyboardInterrupt):
        print()
    except (UserError, VeniceError) as exc:
        return exc.user_message
    finally:
        await services.close()
    return None


async def start(chat: ChatService, where: Where, ref: str) -> None:
    """A new conversation with the pinned character; its greeting is printed."""
    renderer = TerminalRenderer()
    scene = await chat.new_conversation(where, renderer, character_ref=ref)
    if not scene.character.greetings:
        print("(new conversation)")
