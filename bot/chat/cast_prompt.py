"""The prompt for one speaker of a group scene, built on `bot.chat.prompt.build_prompt`.

The chat service builds the `PromptInput` it builds for a single character, with the speaker as
`character` and the shared scene history as `turns`; `build_cast_prompt` turns it into the
speaker's prompt the way SillyTavern does a group chat ("swap character cards" generation mode):
- the speaking character's full card (description, personality, scenario, examples, system
  prompt, post-history instructions);
- a short description of every other member, in the scenario, so the speaker knows who is there;
- every message starts with the name of who wrote it ("Bob: …"), the speaker's own included,
  so the shared history says who said what;
- the lorebooks of every member, merged (SillyTavern also activates all members' books in a
  group); others' `{{char}}` means that member, not the speaker;
- SillyTavern's group nudge, word for word, after the history: `[Write the next reply only as
  {{char}}.]` (it rides with the card's post-history instructions, so the budget counts it);
- stop sequences at the other members' names (`"\\nBob:"`), as SillyTavern's
  `getStoppingStrings`, so the model does not write their lines.

Budgets, clipping, the adult rule and the summary stay `build_prompt`'s; nothing here edits it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.characters.model import Character, Lorebook
from bot.chat.macros import expand
from bot.chat.prompt import Prompt, PromptInput, Turn, build_prompt, clip_to_tokens
from bot.chat.tokens import estimate

GROUP_NUDGE = "[Write the next reply only as {{char}}.]"  # SillyTavern's group_nudge_prompt
SCENE_NOTE = (
    "This is a group scene with {members}. Every message in the story starts with the name of who "
    "speaks or acts (\"Name: …\"). Write only {{{{char}}}}'s reply, without the name in front."
)
OTHERS_HEADING = "Also in the scene:"
OTHER_TOKENS = 80  # each other member's description, at most
MAX_STOP = 4  # Venice accepts at most four stop sequences


@dataclass(slots=True)
class CastPrompt:
    """The speaker's prompt and the stop sequences to send with it."""

    prompt: Prompt
    stop: list[str]


def build_cast_prompt(inp: PromptInput, *, others: Sequence[Character]) -> CastPrompt:
    """The prompt for `inp.character` speaking in a scene with `others` (cast order, speaker left out).

    `inp.turns` is the shared history, each turn's `author` its speaker's name (the character's name
    on replies, the person's display name on user messages).
    """
    speaker = inp.character
    user = inp.user_name
    staged = replace(
        speaker,
        scenario=_scenario(speaker, others, user),
        post_history_instructions=_with_nudge(speaker.post_history_instructions),
        lorebook=merged_lorebook(speaker, others),
    )
    turns = named_turns(inp.turns, user_name=user, continue_text=inp.continue_text)
    prompt = build_prompt(replace(inp, character=staged, turns=turns, multi_user=False))
    return CastPrompt(prompt=prompt, stop=stop_sequences(speaker.name, [o.name for o in others], user))


def named_turns(turns: Sequence[Turn], *, user_name: str, continue_text: str | None = None) -> list[Turn]:
    """Each turn with its speaker's name in front, except a reply being continued (sent as it is)."""
    out = []
    last = len(turns) - 1
    for i, turn in enumerate(turns):
        if i == last and continue_text is not None and turn.role == "assistant" and turn.content == continue_text:
            out.append(turn)
            continue
        name = turn.author or (user_name if turn.role == "user" else "")
        if not name:
            out.append(turn)
            continue
        prefix = f"{name}: "
        tokens = turn.tokens + estimate(prefix) if turn.tokens is not None else None
        out.append(Turn(turn.role, prefix + turn.content, turn.author, turn.id, tokens))
    return out


def short_description(character: Character, user_name: str) -> str:
    """A member as the others see it: the first paragraph of its description, clipped."""
    text = next((t for t in (character.description, character.personality, character.appearance) if t.strip()), "")
    first = text.strip().split("\n\n", 1)[0]
    return clip_to_tokens(expand(first, char=character.name, user=user_name).strip(), OTHER_TOKENS)


def _scenario(speaker: Character, others: Sequence[Character], user_name: str) -> str:
    members = ", ".join([speaker.name, *(o.name for o in others)])
    note = SCENE_NOTE.format(members=f"{members} and {{{{user}}}}")
    lines = [f"{o.name}: {d}" if (d := short_description(o, user_name)) else o.name for o in others]
    roster = "\n".join([note, OTHERS_HEADING, *lines]) if lines else note
    return f"{speaker.scenario.strip()}\n\n{roster}" if speaker.scenario.strip() else roster


def _with_nudge(post_history: str) -> str:
    return f"{post_history.rstrip()}\n{GROUP_NUDGE}" if post_history.strip() else GROUP_NUDGE


def merged_lorebook(speaker: Character, others: Sequence[Character]) -> Lorebook | None:
    """Every member's lorebook as one book: the speaker's entries first, then the others' in cast order.

    The scan depth is the deepest any book asks for, the token budget the sum of those set, and
    recursion is on when any book has it. Others' `{{char}}` is replaced by their own name first,
    and their entries get uids of their own (`member:name:uid`), so they sort after the speaker's
    and never share a timed-effect key with them.
    """
    books = [(c, c.lorebook) for c in (speaker, *others) if c.lorebook is not None and c.lorebook.entries]
    if not books:
        return None
    if len(books) == 1 and books[0][0] is speaker:
        return speaker.lorebook
    entries = []
    for number, (owner, book) in enumerate(books):
        for index, entry in enumerate(book.entries):  # type: ignore[union-attr]
            if owner is not speaker:
                # Each member's book is its own world in SillyTavern (`${world}.${uid}`): an uid of
                # their own keeps two members' entry 0 apart in the one merged book.
                uid = entry.id if entry.id is not None else index
                entry = replace(entry, content=expand(entry.content, char=owner.name, user="{{user}}"),
                                id=f"{number}:{owner.name}:{uid}")
            entries.append(entry)
    depths = [b.scan_depth for _, b in books if b is not None and b.scan_depth is not None]
    budgets = [b.token_budget for _, b in books if b is not None and b.token_budget is not None]
    return Lorebook(
        entries=entries,
        name=speaker.lorebook.name if speaker.lorebook is not None else "",
        scan_depth=max(depths) if depths else None,
        token_budget=sum(budgets) if budgets else None,
        recursive_scanning=any(b.recursive_scanning for _, b in books if b is not None),
    )


def stop_sequences(speaker: str, others: Sequence[str], user_name: str) -> list[str]:
    """`"\\nName:"` for the other members, then the user, at most four (Venice's limit)."""
    out: list[str] = []
    for name in [*others, user_name]:
        stop = f"\n{name.strip()}:"
        if name.strip() and name.strip().casefold() != speaker.strip().casefold() and stop not in out:
            out.append(stop)
    return out[:MAX_STOP]


def strip_speaker_prefix(text: str, name: str) -> str:
    """The reply without the speaker's own name in front ("Alice: …", "**Alice:** …"), which
    models tend to copy from the named history."""
    pattern = rf"^\s*(?:\*\*)?{re.escape(name.strip())}(?:\*\*)?\s*:(?:\*\*)?[ \t]*"
    return re.sub(pattern, "", text, count=1, flags=re.IGNORECASE)


# -- greetings ------------------------------------------------------------------------------------


def group_greetings(character: Character) -> list[str]:
    """What a member says when a scene starts: its V3 `group_only_greetings` (written for groups)
    when it has any, else its usual greetings (first message and alternates)."""
    group = character.card_extra.get("group_only_greetings")
    if isinstance(group, list):
        texts = [g for g in group if isinstance(g, str) and g.strip()]
        if texts:
            return texts
    return character.greetings


def scene_greetings(members: Sequence[tuple[str, Character]], user_name: str) -> list[tuple[str, str, list[str]]]:
    """(ref, name, greetings with macros expanded) for each member that has something to say,
    in cast order: what `bot.store.cast.add_greetings` stores."""
    out = []
    for ref, character in members:
        texts = [expand(g, char=character.name, user=user_name) for g in group_greetings(character)]
        if texts:
            out.append((ref, character.name, texts))
    return out
