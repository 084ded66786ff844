"""Lorebook entries, the Character's Note and the Author's Note in the prompt, as SillyTavern lays them out.

`plan_lore` runs the world-info scan (`bot.characters.lorebook.select_lore`) and gathers what goes
where: text before and after the character definition, example-message blocks before and after
the card's own, and messages injected into the history at a depth. `inject` places those messages
the way SillyTavern's `populationInjectionPrompts` (openai.js) does for chat completions: counted
from the newest history message (depth 0 = after it), one message per role at each depth, in the
order assistant, user, system (system closest to the end), each joining, in SillyTavern's order,
the Author's Note, the Character's Note (`extensions.depth_prompt`) and the at-depth entries.

The Author's Note sits at its depth (4 by default) as a system message, or as the role and in the
place its settings say (`NotePosition`: in the chat at its depth, before or after the main prompt,
or not sent, as `authors-note.js` and openai.js' `getPromptPosition` place it); lore entries for
its top and bottom wrap the note and go with it, and are injected at its depth even while no note
is set. A note with a
frequency N is added only on every Nth user message (`authors-note.js`: the user-message count
modulo N is 0; 0 never), and the lore entries for its top and bottom go with it
(`shouldWIAddPrompt`).

Several books share the scan and its budget (`LoreBooks`): the conversation's books first, then
the speaking person's persona's, then the character's (its card's own book, the world its card
links, books attached to it) and the server's in the order the `lore_strategy` setting picks, as
SillyTavern's `getSortedEntries` orders chat, persona, character and global lore.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from bot.characters.lore_match import LoreCompiler
from bot.characters.lore_settings import MAX_INJECTION_DEPTH, LoreSettings, Position, Role, Strategy
from bot.characters.lore_state import LoreState
from bot.characters.lorebook import LoreResult, ScanText, select_lore
from bot.characters.model import Character, Lorebook, LoreEntry
from bot.characters.regex_scripts import Placement, RegexScript, apply
from bot.chat.macros import MacroContext, fill_outlets, render

AUTHOR_NOTE_DEPTH = 4
DEPTH_PROMPT_DEPTH = 4  # depth_prompt_depth_default in script.js
LEFT_OUT_NOTICE = "Lorebook: {n} entr{ies} didn't fit the lore budget and {were} left out ({names})."
CUT_SHORT_NOTICE = "This lorebook is very large: scanning stopped early, so some entries may not have fired."
_ROLE_NAMES = {Role.SYSTEM: "system", Role.USER: "user", Role.ASSISTANT: "assistant"}


class NotePosition(IntEnum):
    """Where the Author's Note goes: SillyTavern's `extension_prompt_types`."""

    NONE = -1  # kept, not sent
    IN_PROMPT = 0  # after the main prompt (`getPromptPosition`: the end of the "main" prompt)
    IN_CHAT = 1  # in the chat history at its depth (the default)
    BEFORE_PROMPT = 2  # before the main prompt (the start of "main")


NOTE_POSITIONS = {"none": NotePosition.NONE, "after_prompt": NotePosition.IN_PROMPT,
                  "in_chat": NotePosition.IN_CHAT, "before_prompt": NotePosition.BEFORE_PROMPT}
NOTE_POSITION_NAMES = {v: k for k, v in NOTE_POSITIONS.items()}
ROLES = {"system": Role.SYSTEM, "user": Role.USER, "assistant": Role.ASSISTANT}


@dataclass(frozen=True, slots=True)
class AuthorNote:
    """The conversation's Author's Note (`/conversation authorsnote`): text, depth, every Nth user
    message, the role it is sent as and where it goes (`authors-note.js`' `note_role`, `note_position`)."""

    text: str = ""
    depth: int = AUTHOR_NOTE_DEPTH
    every: int = 1
    role: Role = Role.SYSTEM
    position: NotePosition = NotePosition.IN_CHAT

    def stored(self) -> dict[str, Any]:
        """As the conversation stores it (the author is added by the caller)."""
        return {"text": self.text, "depth": self.depth, "every": self.every, "role": _ROLE_NAMES[self.role],
                "position": NOTE_POSITION_NAMES[self.position]}

    def due(self, user_messages: int) -> bool:
        """`setFloatingPrompt`: is the note added on this turn?"""
        if self.every <= 0:
            return False
        if user_messages >= self.every:
            return user_messages % self.every == 0
        return self.every - user_messages == 0


def note_settings(note: AuthorNote) -> str:
    """The note's settings in words, as `/conversation authorsnote` shows them."""
    every = "never added" if note.every == 0 else (
        "every message" if note.every == 1 else f"every {note.every} messages of yours")
    place = {NotePosition.IN_CHAT: f"depth {note.depth}", NotePosition.BEFORE_PROMPT: "before the main prompt",
             NotePosition.IN_PROMPT: "after the main prompt", NotePosition.NONE: "not sent"}[note.position]
    return f"{place}, {every}, as a {_ROLE_NAMES[note.role]} message"


def note_of(stored: Any) -> AuthorNote:
    """The Author's Note as the conversation stores it (a JSON object), or none."""
    if not isinstance(stored, dict) or not isinstance(stored.get("text"), str):
        return AuthorNote()
    depth, every = stored.get("depth"), stored.get("every")
    return AuthorNote(
        stored["text"],
        depth if isinstance(depth, int) and not isinstance(depth, bool) and depth >= 0 else AUTHOR_NOTE_DEPTH,
        every if isinstance(every, int) and not isinstance(every, bool) and every >= 0 else 1,
        ROLES.get(str(stored.get("role")), Role.SYSTEM),
        NOTE_POSITIONS.get(str(stored.get("position")), NotePosition.IN_CHAT),
    )


@dataclass(frozen=True, slots=True)
class LoreBooks:
    """Standalone books that join the card's own for a turn, by SillyTavern tier, and how the
    character's and the global tiers are ordered (the `lore_strategy` setting)."""

    chat: tuple[Lorebook, ...] = ()  # attached to the conversation (chat lore)
    character: tuple[Lorebook, ...] = ()  # the card's linked world, books attached to the character
    server: tuple[Lorebook, ...] = ()  # attached to the server (global lore)
    persona: tuple[Lorebook, ...] = ()  # attached to the speaking person's persona (persona lore)
    strategy: Strategy = Strategy.CHARACTER_FIRST

    def tiers(self, own: Lorebook | None) -> list[list[Lorebook]]:
        """The books in scan order (`getSortedEntries`): chat lore always first, then persona lore,
        then character (the card's own book first) and global lore as the strategy says: character
        first, global first, or "evenly" (one tier, global books ahead of the character's, so an
        equal `order` keeps global entries first, as `[...globalLore, ...characterLore].sort`).

        A book in two tiers counts once, where SillyTavern keeps it: global wins over all
        (`getChatLore`, `getPersonaLore` and `getCharacterLore` skip a world active globally), then
        chat lore (persona and character lore skip the chat world), then persona lore."""
        seen: set[int] = set()
        kept: dict[str, list[Lorebook]] = {"server": [], "chat": [], "persona": [], "character": []}
        character = ((own,) if own is not None else ()) + self.character
        for name, books in (("server", self.server), ("chat", self.chat), ("persona", self.persona),
                            ("character", character)):
            for book in books:
                if id(book) not in seen:
                    seen.add(id(book))
                    kept[name].append(book)
        head = [kept["chat"], kept["persona"]]
        if self.strategy == Strategy.EVENLY:
            return [*head, kept["server"] + kept["character"]]
        if self.strategy == Strategy.GLOBAL_FIRST:
            return [*head, kept["server"], kept["character"]]
        return [*head, kept["character"], kept["server"]]


@dataclass(slots=True)
class LorePlan:
    """The lore of one turn, placed."""

    before: str = ""
    after: str = ""
    examples_top: list[str] = field(default_factory=list)
    examples_bottom: list[str] = field(default_factory=list)
    injections: dict[int, list[dict[str, str]]] = field(default_factory=dict)  # depth -> messages in order
    before_prompt: list[dict[str, str]] = field(default_factory=list)  # the Author's Note before the main prompt
    after_prompt: list[dict[str, str]] = field(default_factory=list)  # the Author's Note after the main prompt
    lore: list[LoreEntry] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    state: LoreState = field(default_factory=LoreState)
    notices: list[str] = field(default_factory=list)
    outlets: dict[str, str] = field(default_factory=dict)  # `{{outlet::name}}` -> its entries' text

    def injection_messages(self) -> list[dict[str, str]]:
        """Every message the lore adds beside the system message (for the budget)."""
        return [m for messages in self.injections.values() for m in messages] + self.before_prompt + self.after_prompt


def depth_prompt(character: Character) -> tuple[str, int, Role]:
    """The card's Character's Note (`extensions.depth_prompt`): text, depth, role."""
    note = character.extensions.get("depth_prompt") if isinstance(character.extensions, dict) else None
    if not isinstance(note, dict) or not isinstance(note.get("prompt"), str):
        return "", DEPTH_PROMPT_DEPTH, Role.SYSTEM
    depth = note.get("depth")
    depth = depth if isinstance(depth, int) and not isinstance(depth, bool) and depth >= 0 else DEPTH_PROMPT_DEPTH
    role = note.get("role")
    roles = {"system": Role.SYSTEM, "user": Role.USER, "assistant": Role.ASSISTANT}
    return note["prompt"].strip(), min(depth, MAX_INJECTION_DEPTH), roles.get(str(role).lower(), Role.SYSTEM)


def plan_lore(
    character: Character,
    scan: ScanText,
    *,
    state: LoreState,
    settings: LoreSettings,
    budget: int,
    ctx: MacroContext,
    rng: Any,
    estimate: Callable[[str], int],
    scripts: Sequence[RegexScript],
    author_note: str | AuthorNote = "",
    books: LoreBooks | None = None,
    compiler: LoreCompiler | None = None,
) -> LorePlan:
    """Scan the lorebooks and place everything that goes around and into the history."""
    note = author_note if isinstance(author_note, AuthorNote) else AuthorNote(author_note)
    note_due = note.due(state.user_messages) if note.text else True
    macros = _macros(ctx)

    def transform(content: str, depth: int | None) -> str:
        return apply(content, scripts, Placement.WORLD_INFO, depth=depth, prompt=True, macros=macros)

    tiers = (books or LoreBooks()).tiers(character.lorebook)
    result = select_lore(
        tiers, scan, state=state, budget_tokens=budget, settings=settings, rng=rng,
        estimate=estimate, substitute=macros, transform=transform if scripts else None,
        names=(ctx.char, ctx.user), compiler=compiler,
    )
    result.state.fired = result.why() + [
        {"name": e.name, "book": result.books[e.book].name if e.book < len(result.books) else "",
         "why": "matched, but left out: over the lore budget"} for e in result.left_out]
    plan = LorePlan(
        before="\n".join(result.before),
        after="\n".join(result.after),
        lore=[result.books[e.book].entries[e.index] for e in result.activated],
        names=result.names,
        state=result.state,
        notices=_notices(result),
        outlets=result.outlets,
    )
    if not note_due:
        result.an_top, result.an_bottom = [], []
    for position, content in result.examples:
        (plan.examples_top if position == Position.EM_TOP else plan.examples_bottom).append(content)
    note_text, note_depth, note_role = depth_prompt(character)
    # checkWorldInfo: the entries for the Author's Note's top and bottom wrap it, and all of it
    # goes where the note goes, as the note's role (`setExtensionPrompt(NOTE_MODULE_NAME, ANWithWI, …)`).
    note_words = fill_outlets(macros(note.text), result.outlets) if note.text and note_due else ""
    an = "\n".join(result.an_top) + "\n" + note_words + "\n" + \
        "\n".join(result.an_bottom)
    an = an.removeprefix("\n").removesuffix("\n").strip()
    if an and note.position == NotePosition.BEFORE_PROMPT:
        plan.before_prompt = [{"role": _ROLE_NAMES[note.role], "content": an}]
    elif an and note.position == NotePosition.IN_PROMPT:
        plan.after_prompt = [{"role": _ROLE_NAMES[note.role], "content": an}]
    in_chat = an if note.position == NotePosition.IN_CHAT else ""
    note_text = fill_outlets(macros(note_text), result.outlets) if note_text else ""
    plan.injections = _injections(result, note_text, note_depth, note_role,
                                  in_chat, min(max(0, note.depth), MAX_INJECTION_DEPTH), note.role)
    return plan


def inject(history: list[dict[str, str]], injections: dict[int, list[dict[str, str]]]) -> list[dict[str, str]]:
    """`populationInjectionPrompts`: insert each depth's messages `depth` places from the end."""
    if not injections:
        return history
    reversed_history = list(reversed(history))
    inserted = 0
    for depth in sorted(injections):
        messages = injections[depth]
        # The history is newest-first here; SillyTavern splices [system, user, assistant] in and
        # reverses back, which puts them in the order assistant, user, system.
        at = min(depth + inserted, len(reversed_history))
        reversed_history[at:at] = list(reversed(messages))
        inserted += len(messages)
    return list(reversed(reversed_history))


def _injections(result: LoreResult, note: str, note_depth: int, note_role: Role,
                an: str, author_depth: int = AUTHOR_NOTE_DEPTH,
                author_role: Role = Role.SYSTEM) -> dict[int, list[dict[str, str]]]:
    # Extension prompts by (depth, role), in the order getExtensionPrompt sorts their names:
    # "2_floating_prompt" (Author's Note, with its lore entries), "DEPTH_PROMPT" (Character's Note),
    # "customDepthWI-…".
    parts: dict[tuple[int, Role], list[str]] = {}
    if an:
        parts.setdefault((author_depth, author_role), []).append(an)
    if note:
        parts.setdefault((note_depth, note_role), []).append(note)
    for group in result.depth:
        joined = "\n".join(group.contents).strip()
        if joined:
            parts.setdefault((group.depth, group.role), []).append(joined)
    injections: dict[int, list[dict[str, str]]] = {}
    for depth in sorted({d for d, _ in parts}):
        messages = []
        for role in (Role.ASSISTANT, Role.USER, Role.SYSTEM):
            texts = parts.get((depth, role))
            if texts:
                messages.append({"role": _ROLE_NAMES[role], "content": "\n".join(texts)})
        injections[depth] = messages
    return injections


def _notices(result: LoreResult) -> list[str]:
    notices = []
    if result.left_out:
        count = len(result.left_out)
        names = ", ".join(e.name for e in result.left_out[:5]) + (", …" if count > 5 else "")
        notices.append(LEFT_OUT_NOTICE.format(
            n=count, ies="y" if count == 1 else "ies", were="was" if count == 1 else "were", names=names,
        ))
    if result.cut_short:
        notices.append(CUT_SHORT_NOTICE)
    return notices


def _macros(ctx: MacroContext) -> Callable[[str], str]:
    def macros(text: str) -> str:
        return render(text, ctx)

    return macros
