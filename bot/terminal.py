"""`python -m bot chat`: talk to a character in the terminal, with the bot's own engine and database.

For operators trying a key, a model or a character card before going live. Conversations are kept
under a pseudo channel id (default 0), so `/reset`-like behaviour is `:reset` here.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.characters.cards import CardError, parse_card
from bot.characters.model import DEFAULT_CHARACTER, Character
from bot.chat.service import Scene
from bot.config import Env
from bot.errors import UserError
from bot.services import build_services
from bot.venice.errors import VeniceError
from bot.where import Where

HELP = "Type a message and press Enter. Commands: :reset (new conversation), :quit."


class TerminalRenderer:
    """The renderer interface the engine streams into, printing as text arrives."""

    def __init__(self, out=sys.stdout) -> None:  # type: ignore[no-untyped-def]
        self.out = out
        self._text = ""

    @property
    def text(self) -> str:
        return self._text

    @property
    def handles(self) -> list[object]:
        return []

    async def feed(self, delta: str) -> None:
        self._text += delta
        self.out.write(delta)
        self.out.flush()

    async def finish(self, final_footer: str | None = None) -> list[object]:
        self.out.write("\n" + (f"({final_footer.removeprefix('-# ')})\n" if final_footer else ""))
        return []

    async def fail(self, note: str) -> list[object]:
        self.out.write(f"\n[{note}]\n")
        return []


async def load_character(services: object, spec: str | None) -> tuple[Character, str]:
    if not spec:
        return DEFAULT_CHARACTER, "builtin:scarlett"
    path = Path(spec)
    if await asyncio.to_thread(path.exists):
        try:
            return parse_card(await asyncio.to_thread(path.read_bytes), path.name), f"file:{path.name}"
        except CardError as exc:
            raise UserError(f"{path.name}: {exc}") from None
    venice = services.venice  # type: ignore[attr-defined]
    found = await venice.get_character(spec)
    return Character(name=found.name, description=found.description or "", source="venice",
                     venice_slug=found.slug, avatar_url=found.photo_url), f"venice:{found.slug}"


async def run_terminal_chat(env: Env, *, character: str | None, channel: int = 0) -> str | None:
    """Chat until :quit or end of input; returns what went wrong, or None."""
    services = await build_services(env)
    engine = services.chat
    try:
        card, ref = await load_character(services, character)
        where = Where(0, None, channel, "terminal chat", user_name="You")
        conv = await engine.conversations.active(channel)
        if conv is None or conv.character_ref != ref:
            conv, greeting = await engine.conversations.start(
                channel_id=channel, guild_id=None, character_ref=ref, character_name=card.name, created_by=0,
                greetings=[engine._macros(g, card, "You") for g in card.greetings],
            )
            if greeting is not None:
                print(f"{card.name}: {greeting.content}\n")
        scene = Scene(conv, card, env.text_model, 700, personas=False)
        print(f"Talking with {card.name} on {env.text_model}. {HELP}")
        while True:
            line = await asyncio.to_thread(input, "> ")
            if line.strip() in (":quit", ":q"):
                break
            if line.strip() == ":reset":
                conv, greeting = await engine.conversations.start(
                    channel_id=channel, guild_id=None, character_ref=ref, character_name=card.name, created_by=0,
                    greetings=[engine._macros(g, card, "You") for g in card.greetings],
                )
                scene.conversation = conv
                print(f"{card.name}: {greeting.content}\n" if greeting else "(new conversation)")
                continue
            if not line.strip():
                continue
            user_row, reply_row = await engine.conversations.begin_turn(
                conv.id, author_id=0, author_name="You", content=line, discord_message_id=None,
                channel_id=channel, model=scene.model,
            )
            turns = await engine.conversations.window(scene.conversation, before_id=user_row.id)
            turns.append(user_row)
            prompt = await engine.prompt_for(scene, where, turns)
            sys.stdout.write(f"{card.name}: ")
            await engine.stream(scene=scene, where=where, reply=reply_row, prompt=prompt,
                                renderer=TerminalRenderer())  # type: ignore[arg-type]
            await engine.fold_summary(scene, turns, prompt.dropped_turns, where)
    except (EOFError, KeyboardInterrupt):
        print()
    except (UserError, VeniceError) as exc:
        return exc.user_message
    finally:
        await services.close()
    return None
