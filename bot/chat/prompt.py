"""Prompt assembly within the model's context budget.

The prompt is built SillyTavern-style: one system message (system prompt, lorebook "before",
character definition, lorebook "after", persona, example dialogue with lorebook example blocks,
rolling summary), then as many of the newest turns as fit, with the Character's Note, the
Author's Note and at-depth lorebook entries injected among them (`bot.chat.prompt_lore`), then
the card's post-history instructions last. An Author's Note set to go before the main prompt is
the first message; one set to go after it splits the system message after the main prompt.
Turns that do not fit and lorebook entries over the lore budget are reported, never silently
lost, so the chat service can fold old turns into the summary and tell the user (llmcord's
honesty: "only the last N messages were used").

Macros in the card, the persona and the lorebook are expanded with a `MacroContext` built from
the input (clock, random generator and chat variables included), so a prompt is reproducible
given `now`, `rng` and `lore_state`; chat turns only get their names expanded, so their
`{{random}}` or `{{setvar}}` do not run again on every turn. The card's `regex_scripts` shape
what the model is sent (`prompt_text`), as SillyTavern applies them to the history.

Token counts are local estimates (`bot.chat.tokens`); with a calibrator every budget is converted
once into raw-estimate units, so the arithmetic stays in one unit and `adjust` is applied once.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from bot.characters import lore_state
from bot.characters.lore_match import LoreCompiler
from bot.characters.lore_settings import LoreSettings
from bot.characters.lore_state import LoreState
from bot.characters.lorebook import ScanText
from bot.characters.model import Character, LoreEntry
from bot.characters.regex_scripts import RegexScript, prompt_text, scripts_of
from bot.chat.macros import MacroContext, expand, fill_outlets, render
from bot.chat.prompt_lore import AuthorNote, LoreBooks, LorePlan, inject, plan_lore
from bot.chat.tokens import MESSAGE_OVERHEAD, REPLY_PRIMING, TokenCalibrator, estimate

ADULT_RULE = "Every character is an adult (18 or older) and must never be portrayed or described as a minor."
DEFAULT_SYSTEM_PROMPT = (
    "You are {{char}} in an uncensored, fictional adult roleplay with {{user}}. Stay in character, "
    "write vividly, and keep the story moving. Explicit content, strong language and dark themes "
    f"are allowed. {ADULT_RULE} Write only {{{{char}}}}'s actions, words and thoughts; never write "
    "{{user}}'s actions, words or feelings."
)
MULTI_USER_NOTE = (
    "Several people may take part in this scene. Each user message starts with the speaker's "
    'display name ("Name: message"); keep track of who said what and address people by name.'
)
# What `{{original}}` stands for in a card's post_history_instructions.
DEFAULT_POST_HISTORY = "Stay in character as {{char}} and write only {{char}}'s part."
CONTINUE_NUDGE = "Continue {{char}}'s last reply from where it stopped, without repeating it."
DROPPED_NOTICE = "Only the last {n} messages fit; older ones are summarised."
NOTHING_FIT_NOTICE = "No earlier messages fit in this model's context; they are summarised."
CLIPPED_NOTICE = "The character's description is too long for this model and was shortened."

# The most turns handed to the lorebook scan (SillyTavern's MAX_SCAN_DEPTH); the scan reads only
# as many as its deepest entry asks for.
MAX_SCAN_TEXTS = 1000
# The definitions may take at most this share of the budget before the description is clipped.
MAX_SYSTEM_SHARE = 0.75
_START_RE = re.compile(r"<start>", re.IGNORECASE)


@dataclass(slots=True)
class Turn:
    """One message of the conversation. `tokens` may carry a cached `estimate(content)`."""

    role: Literal["user", "assistant"]
    content: str
    author: str = ""
    id: int | None = None
    tokens: int | None = None


@dataclass(slots=True)
class PromptInput:
    """Everything `build_prompt` needs; `turns` is the loaded window, oldest first."""

    character: Character
    user_name: str
    persona: str = ""
    summary: str = ""
    turns: list[Turn] = field(default_factory=list)
    # Required and keyword-only: a silent default context would hide a caller that forgot the model's.
    context_tokens: int = field(kw_only=True)
    reply_tokens: int = field(kw_only=True)
    # SillyTavern's default world-info budget: 25% of the context left after the reply.
    lore_budget_ratio: float = 0.25
    example_budget_ratio: float = 0.15
    base_system_prompt: str = DEFAULT_SYSTEM_PROMPT
    multi_user: bool = False
    continue_text: str | None = None
    calibrator: TokenCalibrator | None = None
    # Per-conversation lorebook and macro state (timed effects, variables); None starts afresh.
    lore_state: LoreState | None = None
    lore_settings: LoreSettings = field(default_factory=LoreSettings)
    author_note: AuthorNote = field(default_factory=AuthorNote)
    lore_books: LoreBooks = field(default_factory=LoreBooks)  # standalone books attached, beside the card's
    lore_compiler: LoreCompiler | None = None  # the service's compiled-book cache
    now: datetime | None = None  # the clock for {{time}} and friends; None: the real time
    rng: random.Random | None = None  # for {{random}}, {{roll}}, probability and group rolls


@dataclass(slots=True)
class Prompt:
    """The messages for Venice and what went into them."""

    messages: list[dict[str, str]]
    used_turns: int
    used_turn_ids: list[int]
    dropped_turns: int  # the oldest turns that did not fit, for the caller to summarise
    lore: list[LoreEntry]
    estimated_tokens: int  # calibrated when a calibrator was given
    notice: str | None = None
    lore_state: LoreState = field(default_factory=LoreState)  # to store with the conversation
    lore_names: list[str] = field(default_factory=list)  # which entries fired, for "why" displays
    # Index in `messages` of the newest history message a person wrote (where pictures they sent go):
    # an Author's Note or Character's Note sent as a user message may come after it.
    user_at: int | None = None


def build_prompt(inp: PromptInput) -> Prompt:
    """Assemble the prompt: system definitions, the newest turns that fit, post-history last.

    Cost is linear in the text actually used: turns are walked newest first and the walk stops at
    the first turn that does not fit, so a middle turn is never skipped.
    """
    char, user = inp.character.name, inp.user_name
    calibrator = inp.calibrator or TokenCalibrator()
    real_budget = inp.context_tokens - inp.reply_tokens - safety_margin(inp.context_tokens)
    budget = calibrator.unadjust(max(0, real_budget))  # in raw-estimate units from here on

    turns, end = inp.turns, len(inp.turns)  # history is turns[:end]; indexes avoid copying
    continued: Turn | None = None
    last = turns[-1] if turns else None
    if last is not None and last.role == "assistant" and last.content == inp.continue_text:
        continued, end = last, end - 1  # the partial reply is passed once, not twice

    state, ctx, rng = _macro_context(inp, turns[:end])
    scripts = scripts_of(inp.character.extensions)
    tail = _tail_messages(inp, ctx)
    tail_cost = sum(_cost(m["content"]) for m in tail)
    sections = _Sections.build(inp, ctx)
    notices: list[str] = []
    if sections.clip_definition(int(budget * MAX_SYSTEM_SHARE) - tail_cost):
        notices.append(CLIPPED_NOTICE)

    room = budget - tail_cost - sections.cost() - 4 * MESSAGE_OVERHEAD
    lore_budget = min(max(1, round(inp.lore_budget_ratio * (inp.context_tokens - inp.reply_tokens))), room)
    plan = _plan_lore(inp, turns[max(0, end - MAX_SCAN_TEXTS) : end], state, ctx, rng, lore_budget, scripts)
    notices += plan.notices
    sections.lore_before = plan.before
    sections.lore_after = plan.after
    sections.fill_outlets(plan.outlets)
    injected = plan.injection_messages()
    injected_cost = sum(_cost(m["content"]) for m in injected)
    sections.add_examples(inp, ctx, plan, int(budget * inp.example_budget_ratio), budget - tail_cost - injected_cost)
    system = sections.text()

    used_cost = REPLY_PRIMING + _cost(system) + tail_cost + injected_cost
    first = end  # index of the oldest turn kept
    for i in range(end - 1, -1, -1):
        cost = _turn_cost(turns[i], inp.multi_user, user)
        if used_cost + cost > budget:
            break
        used_cost += cost
        first = i
    kept = turns[first:end]
    dropped = first
    if dropped:
        notices.append(DROPPED_NOTICE.format(n=len(kept)) if kept else NOTHING_FIT_NOTICE)

    history = [_render_turn(t, inp.multi_user, char, user, scripts, end - 1 - i) for i, t in enumerate(kept, first)]
    head = [{"role": "system", "content": system}]
    if plan.after_prompt:  # the Author's Note right after the main prompt, before the definitions
        rest = sections.text(main=False)
        head = [{"role": "system", "content": sections.system}, *plan.after_prompt,
                *([{"role": "system", "content": rest}] if rest else [])]
        used_cost += MESSAGE_OVERHEAD if rest else 0
    messages = [*plan.before_prompt, *head, *inject(history, plan.injections), *tail]
    newest_user = next((m for m in reversed(history) if m["role"] == "user"), None)
    user_at = next((i for i, m in enumerate(messages) if m is newest_user), None) if newest_user else None
    used_ids = [t.id for t in kept if t.id is not None]
    if continued is not None and continued.id is not None:
        used_ids.append(continued.id)
    return Prompt(
        messages=messages,
        used_turns=len(kept) + (continued is not None),
        used_turn_ids=used_ids,
        dropped_turns=dropped,
        lore=plan.lore,
        estimated_tokens=calibrator.adjust(used_cost),
        notice=" ".join(notices) or None,
        lore_state=plan.state,
        lore_names=plan.names,
        user_at=user_at,
    )


def _macro_context(inp: PromptInput, history: list[Turn]) -> tuple[LoreState, MacroContext, random.Random]:
    """The conversation's state brought up to this turn, and the macro context built on it."""
    now = inp.now or datetime.now(UTC)
    rng = inp.rng or random.Random()
    state = lore_state.advance(inp.lore_state or LoreState(), [t.id for t in history], fallback_length=len(history))
    last_user = next((t for t in reversed(history) if t.role == "user"), None)
    lore_state.note_user_turn(state, last_user.id if last_user else None, now)
    card, char, user = inp.character, inp.character.name, inp.user_name
    last_char = next((t for t in reversed(history) if t.role == "assistant"), None)
    names = MacroContext(char=char, user=user)
    ctx = MacroContext(
        char=char, user=user,
        persona=render(inp.persona.strip(), names),
        description=render(card.description, names),
        personality=render(card.personality, names),
        scenario=render(card.scenario, names),
        mes_examples=render(card.mes_example, names),
        last_message=history[-1].content if history else "",
        last_user_message=last_user.content if last_user else "",
        last_char_message=last_char.content if last_char else "",
        now=now,
        idle_since=datetime.fromisoformat(state.previous_user_at) if state.previous_user_at else None,
        rng=rng,
        seed=state.seed,
        variables=state.variables,
    )
    return state, ctx, rng


def _plan_lore(inp: PromptInput, turns: list[Turn], state: LoreState, ctx: MacroContext, rng: random.Random,
               budget: int, scripts: list[RegexScript]) -> LorePlan:
    """Lorebook entries for the recent `turns`, placed, within the lore budget."""
    card, char, user = inp.character, inp.character.name, inp.user_name
    include_names = inp.lore_settings.include_names
    texts = []
    for depth, turn in enumerate(reversed(turns)):
        content = prompt_text(turn.content, scripts, depth=depth, user=turn.role == "user") if scripts else turn.content
        speaker = char if turn.role == "assistant" else (turn.author or user)
        texts.append(f"{speaker}: {content}" if include_names else content)
    texts.reverse()
    if inp.continue_text:
        texts.append(f"{char}: {inp.continue_text}" if include_names else inp.continue_text)
    scan = ScanText(
        messages=texts, persona=ctx.persona, description=ctx.description, personality=ctx.personality,
        depth_prompt=str((card.extensions.get("depth_prompt") or {}).get("prompt") or "")
        if isinstance(card.extensions.get("depth_prompt"), dict) else "",
        scenario=ctx.scenario, creator_notes=card.creator_notes,
    )
    if budget <= 0:
        state.fired = []
        return LorePlan(state=state)
    return plan_lore(
        card, scan, state=state, settings=inp.lore_settings, budget=budget, ctx=ctx, rng=rng,
        estimate=estimate, scripts=scripts, author_note=inp.author_note, books=inp.lore_books,
        compiler=inp.lore_compiler,
    )


def safety_margin(context_tokens: int) -> int:
    """Tokens kept free for estimate error: 2% of the context plus a fixed 64."""
    return int(context_tokens * 0.02) + 64


@dataclass(slots=True)
class _Sections:
    """The parts of the system message, kept apart so each can be budgeted on its own."""

    system: str
    definition: str
    persona: str
    summary: str
    lore_before: str = ""
    lore_after: str = ""
    examples: str = ""

    @classmethod
    def build(cls, inp: PromptInput, ctx: MacroContext) -> _Sections:
        card, char = inp.character, inp.character.name
        base = render(inp.base_system_prompt, ctx)
        system = render(card.system_prompt, ctx.with_original(base)) if card.system_prompt.strip() else base
        if ADULT_RULE not in system:  # a card or server prompt may replace ours; this rule stays
            system = f"{system.rstrip()}\n{ADULT_RULE}"
        if inp.multi_user:
            system = f"{system}\n{MULTI_USER_NOTE}"
        definition = "\n\n".join(
            part
            for part in (
                f"{char}'s description:\n{card.description.strip()}" if card.description.strip() else "",
                f"{char}'s personality: {card.personality.strip()}" if card.personality.strip() else "",
                f"Scenario: {card.scenario.strip()}" if card.scenario.strip() else "",
            )
            if part
        )
        persona = f"{{{{user}}}} is: {inp.persona.strip()}" if inp.persona.strip() else ""
        summary = f"Story so far: {inp.summary.strip()}" if inp.summary.strip() else ""
        return cls(
            system=system,
            definition=render(definition, ctx),
            persona=render(persona, ctx),
            summary=expand(summary, char=char, user=ctx.user),
        )

    def text(self, *, main: bool = True) -> str:
        """The system message (`main=False`: without the main prompt, what follows it)."""
        parts = (
            self.system if main else "",
            self.lore_before,
            self.definition,
            self.lore_after,
            self.persona,
            self.examples,
            self.summary,
        )
        return "\n\n".join(p for p in parts if p)

    def cost(self) -> int:
        return _cost(self.text())

    def fill_outlets(self, outlets: dict[str, str]) -> None:
        """`{{outlet::name}}` in the card's fields and the persona: the entries placed there."""
        self.system = fill_outlets(self.system, outlets)
        self.definition = fill_outlets(self.definition, outlets)
        self.persona = fill_outlets(self.persona, outlets)

    def clip_definition(self, allowed: int) -> bool:
        """Shorten the character definition so the sections cost about `allowed`; True if clipped."""
        overflow = self.cost() - max(0, allowed)
        if overflow <= 0 or not self.definition:
            return False
        self.definition = clip_to_tokens(self.definition, estimate(self.definition) - overflow)
        return True

    def add_examples(self, inp: PromptInput, ctx: MacroContext, plan: LorePlan, own_budget: int, budget: int) -> None:
        """Add the example dialogue only if it fits both its own share and the whole budget.

        Lorebook entries for the example messages come as blocks of their own, top ones before
        the card's, bottom ones after (as SillyTavern unshifts and pushes them).
        """
        card_blocks = _example_blocks(render(inp.character.mes_example, ctx))
        top = [b for text in reversed(plan.examples_top) for b in _example_blocks(text)]
        bottom = [b for text in plan.examples_bottom for b in _example_blocks(text)]
        blocks = [*top, *card_blocks, *bottom]
        if not blocks:
            return
        examples = "Example dialogue:\n" + "\n---\n".join(blocks)
        cost = estimate(examples) + 1  # +1: the blank line joining it to the other sections
        if cost <= own_budget and self.cost() + cost <= budget:
            self.examples = examples


def format_examples(mes_example: str, *, char: str, user: str) -> str:
    """The card's example dialogue with `<START>` markers turned into plain separators."""
    blocks = _example_blocks(mes_example)
    if not blocks:
        return ""
    return expand("Example dialogue:\n" + "\n---\n".join(blocks), char=char, user=user)


def _example_blocks(text: str) -> list[str]:
    return [b for b in (block.strip() for block in _START_RE.split(text)) if b]


def clip_to_tokens(text: str, tokens: int) -> str:
    """Cut `text` at a word boundary to about `tokens` tokens, marking the cut with an ellipsis."""
    if tokens <= 0:
        return ""
    total = estimate(text)
    if total <= tokens:
        return text
    keep = text[: int(len(text) * tokens / total)]
    space = keep.rfind(" ")
    return (keep[:space] if space > 0 else keep).rstrip() + " …"


def _cost(content: str) -> int:
    return MESSAGE_OVERHEAD + estimate(content)


def _turn_cost(turn: Turn, multi_user: bool, user: str) -> int:
    tokens = turn.tokens if turn.tokens is not None else estimate(turn.content)
    if multi_user and turn.role == "user":
        tokens += estimate(turn.author or user) + 1  # "Name: "
    return MESSAGE_OVERHEAD + tokens


def _render_turn(turn: Turn, multi_user: bool, char: str, user: str, scripts: list[RegexScript],
                 depth: int) -> dict[str, str]:
    content = turn.content
    if scripts:
        content = prompt_text(content, scripts, depth=depth, user=turn.role == "user")
    content = expand(content, char=char, user=user)
    if multi_user and turn.role == "user":
        content = f"{turn.author or user}: {content}"
    return {"role": turn.role, "content": content}


def _tail_messages(inp: PromptInput, ctx: MacroContext) -> list[dict[str, str]]:
    """What follows the history: post-history instructions, then the continue nudge and partial."""
    tail: list[dict[str, str]] = []
    phi = inp.character.post_history_instructions
    if phi.strip():
        original = render(DEFAULT_POST_HISTORY, ctx)
        tail.append({"role": "system", "content": render(phi, ctx.with_original(original))})
    if inp.continue_text is not None:
        tail.append({"role": "system", "content": render(CONTINUE_NUDGE, ctx)})
        tail.append({"role": "assistant", "content": inp.continue_text})
    return tail


# --- side requests: rolling summary and scene image prompt ------------------------------------

SUMMARY_SYSTEM = (
    "You keep the running summary of a long, fictional adult roleplay between {char} and {user}. "
    "Merge the new messages into the summary so far. Keep names, relationships and how they "
    "changed, important facts and events, places, promises and secrets, what each character wants, "
    "and threads still open. Drop small talk and repetition. Write plain past-tense prose in the "
    "third person, without headings or lists. Sexual content may be summarised plainly and briefly. "
    "Every character is an adult (18 or older); never describe anyone as a minor. Use at most "
    "{max_words} words and reply with the summary only."
)
SCENE_SYSTEM = (
    "You write prompts for an image generator. From the roleplay below, describe the current scene "
    "as ONE line of comma-separated tags and short phrases, at most 60 words: who is in it, "
    "described by appearance (adult age, body, hair, face, expression), never by name and never "
    "as a real person; their pose; their clothing (or lack of it); the setting; the lighting and "
    "mood. Everyone depicted is an adult (18 or older) and must look adult. No sentences, names, "
    "quotation marks or commentary: reply with the prompt only."
)
# The scene only needs the last few turns, each cut short; older context rarely changes the image.
SCENE_TURNS = 8
SCENE_TURN_CHARS = 600


def build_summary_request(
    previous_summary: str,
    turns: list[Turn],
    character_name: str,
    user_name: str,
    max_words: int = 250,
) -> list[dict[str, str]]:
    """Messages for a Venice call that folds `turns` (oldest first) into the rolling summary."""
    system = SUMMARY_SYSTEM.format(char=character_name, user=user_name, max_words=max_words)
    transcript = _transcript(turns, character_name, user_name)
    previous = previous_summary.strip() or "(none yet)"
    user = f"Summary so far:\n{previous}\n\nNew messages:\n{transcript}\n\nWrite the updated summary."
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def build_scene_prompt_request(character: Character, turns: list[Turn], user_name: str) -> list[dict[str, str]]:
    """Messages asking for the current scene as a single comma-separated image prompt."""
    looks = character.appearance.strip() or clip_to_tokens(
        expand(character.description, char=character.name, user=user_name).strip(), 200
    )
    recent = [Turn(t.role, _clip_chars(t.content, SCENE_TURN_CHARS), t.author) for t in turns[-SCENE_TURNS:]]
    parts = [
        f"{character.name} looks like: {looks}" if looks else "",
        "Recent roleplay:\n" + _transcript(recent, character.name, user_name),
        "Describe the scene as it is now.",
    ]
    user = "\n\n".join(p for p in parts if p)
    return [{"role": "system", "content": SCENE_SYSTEM}, {"role": "user", "content": user}]


def _transcript(turns: list[Turn], char: str, user: str) -> str:
    """Turns as "Name: text" lines, with macros expanded."""
    lines = []
    for turn in turns:
        name = turn.author or (char if turn.role == "assistant" else user)
        lines.append(f"{name}: {expand(turn.content, char=char, user=user).strip()}")
    return "\n".join(lines) or "(no messages)"


def _clip_chars(text: str, limit: int) -> str:
    """Keep the end of a long message: in a scene, what happened last matters most."""
    return text if len(text) <= limit else "…" + text[-limit:]
