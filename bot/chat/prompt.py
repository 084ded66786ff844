"""Prompt assembly within the model's context budget.

The prompt is built SillyTavern-style: one system message (system prompt, lorebook "before",
character definition, lorebook "after", persona, example dialogue, rolling summary), then as many
of the newest turns as fit, then the card's post-history instructions last. Turns that do not fit
are reported, never silently lost, so the chat service can fold them into the summary and tell
the user (llmcord's honesty: "only the last N messages were used").

Token counts are local estimates (`bot.chat.tokens`); with a calibrator every budget is converted
once into raw-estimate units, so the arithmetic stays in one unit and `adjust` is applied once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from bot.characters.lorebook import format_lore, select_entries
from bot.characters.model import Character, LoreEntry
from bot.chat.macros import expand
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

# Scan depth when the lorebook sets none (SillyTavern's default is similar), and the most texts we
# hand the lorebook when it does set one, so a huge depth cannot make every reply scan everything.
DEFAULT_SCAN_DEPTH = 4
MAX_SCAN_TEXTS = 100
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
    lore_budget_ratio: float = 0.15
    example_budget_ratio: float = 0.15
    base_system_prompt: str = DEFAULT_SYSTEM_PROMPT
    multi_user: bool = False
    continue_text: str | None = None
    calibrator: TokenCalibrator | None = None


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

    tail = _tail_messages(inp, char, user)
    tail_cost = sum(_cost(m["content"]) for m in tail)
    sections = _Sections.build(inp, char, user)
    notices: list[str] = []
    if sections.clip_definition(int(budget * MAX_SYSTEM_SHARE) - tail_cost):
        notices.append(CLIPPED_NOTICE)

    lore_budget = min(int(budget * inp.lore_budget_ratio), budget - tail_cost - sections.cost())
    lore = _pick_lore(inp, turns[max(0, end - MAX_SCAN_TEXTS) : end], lore_budget)
    before, after = format_lore(lore)
    sections.lore_before = expand(before, char=char, user=user)
    sections.lore_after = expand(after, char=char, user=user)
    sections.add_examples(inp, char, user, int(budget * inp.example_budget_ratio), budget - tail_cost)
    system = sections.text()

    used_cost = REPLY_PRIMING + _cost(system) + tail_cost
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

    messages = [{"role": "system", "content": system}]
    messages += [_render_turn(t, inp.multi_user, char, user) for t in kept]
    messages += tail
    used_ids = [t.id for t in kept if t.id is not None]
    if continued is not None and continued.id is not None:
        used_ids.append(continued.id)
    return Prompt(
        messages=messages,
        used_turns=len(kept) + (continued is not None),
        used_turn_ids=used_ids,
        dropped_turns=dropped,
        lore=lore,
        estimated_tokens=calibrator.adjust(used_cost),
        notice=" ".join(notices) or None,
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
    def build(cls, inp: PromptInput, char: str, user: str) -> _Sections:
        card = inp.character
        base = expand(inp.base_system_prompt, char=char, user=user)
        system = expand(card.system_prompt, char=char, user=user, original=base) if card.system_prompt.strip() else base
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
            definition=expand(definition, char=char, user=user),
            persona=expand(persona, char=char, user=user),
            summary=expand(summary, char=char, user=user),
        )

    def text(self) -> str:
        parts = (
            self.system,
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

    def clip_definition(self, allowed: int) -> bool:
        """Shorten the character definition so the sections cost about `allowed`; True if clipped."""
        overflow = self.cost() - max(0, allowed)
        if overflow <= 0 or not self.definition:
            return False
        self.definition = clip_to_tokens(self.definition, estimate(self.definition) - overflow)
        return True

    def add_examples(self, inp: PromptInput, char: str, user: str, own_budget: int, budget: int) -> None:
        """Add the example dialogue only if it fits both its own share and the whole budget."""
        examples = format_examples(inp.character.mes_example, char=char, user=user)
        if not examples:
            return
        cost = estimate(examples) + 1  # +1: the blank line joining it to the other sections
        if cost <= own_budget and self.cost() + cost <= budget:
            self.examples = examples


def format_examples(mes_example: str, *, char: str, user: str) -> str:
    """The card's example dialogue with `<START>` markers turned into plain separators."""
    blocks = [b.strip() for b in _START_RE.split(mes_example)]
    blocks = [b for b in blocks if b]
    if not blocks:
        return ""
    return expand("Example dialogue:\n" + "\n---\n".join(blocks), char=char, user=user)


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


def _render_turn(turn: Turn, multi_user: bool, char: str, user: str) -> dict[str, str]:
    content = expand(turn.content, char=char, user=user)
    if multi_user and turn.role == "user":
        content = f"{turn.author or user}: {content}"
    return {"role": turn.role, "content": content}


def _tail_messages(inp: PromptInput, char: str, user: str) -> list[dict[str, str]]:
    """What follows the history: post-history instructions, then the continue nudge and partial."""
    tail: list[dict[str, str]] = []
    phi = inp.character.post_history_instructions
    if phi.strip():
        original = expand(DEFAULT_POST_HISTORY, char=char, user=user)
        tail.append({"role": "system", "content": expand(phi, char=char, user=user, original=original)})
    if inp.continue_text is not None:
        tail.append({"role": "system", "content": expand(CONTINUE_NUDGE, char=char, user=user)})
        tail.append({"role": "assistant", "content": inp.continue_text})
    return tail


def _pick_lore(inp: PromptInput, turns: list[Turn], budget: int) -> list[LoreEntry]:
    """Lorebook entries whose keys appear in the recent `turns`, within the lore budget."""
    book = inp.character.lorebook
    if book is None or not book.entries or budget <= 0:
        return []
    # The lorebook cuts to its own scan_depth; without one, only the last few turns count.
    depth = MAX_SCAN_TEXTS if book.scan_depth is not None else DEFAULT_SCAN_DEPTH
    texts = [t.content for t in turns[-depth:]]
    if inp.continue_text:
        texts.append(inp.continue_text)
    return select_entries(book, texts, budget_tokens=budget, estimate=estimate)


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
