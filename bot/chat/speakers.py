"""Who speaks next in a group scene: pure functions of plain values and a random generator.

**Addressed characters answer first.** A character named in the user's message answers, by full
name, V3 `nickname`, or any word of its name (first name, surname), case-insensitive and as a
whole word; several named answer in the order they are named; writing `@Name` always counts.
Names that are also ordinary words ("Will", "May", "Hope", "Rose", "Hunter"…, the short list
`ORDINARY_WORDS`) only count when they look like a name: written with a capital letter and not
as the first word of a sentence ("I told Will"), or as a call at the start ("Will, come here"),
or with `@`. So "I hope you will come" wakes nobody, while "Hope, will you come?" wakes Hope.
Titles and particles ("Lady", "Captain", "von"…) never count alone, and a word two members share
("Smith") addresses neither. Names in scripts without spaces between words (Chinese, Japanese)
match anywhere in the text. When nobody is named, a user replying to a character's message is
answered by that character.

**Otherwise the mode decides:**
- *natural*: SillyTavern's group "natural order" (`activateNaturalOrder` in
  `public/scripts/group-chats.js`), with these deviations:
  - SillyTavern lets everyone whose talkativeness roll succeeds answer one message; here one
    character answers (the first to succeed, in shuffled order), because every reply is a
    billed Venice call and counts against the user's quota. "⏭ Next" lets another speak.
  - SillyTavern bans the last speaker only when no user message came in between; here the last
    speaker never answers first unless named or alone, so a scene does not become a duet.
  - A member silent for `patience` replies (twice the number of others) speaks next, so nobody
    with a talkativeness above zero is silent forever. Talkativeness 0 means "only when named".
  - SillyTavern rolls `talkativeness >= roll`; here `roll < talkativeness`, so 0 truly never wins.
- *round robin*: the member after the last speaker in cast order, one per message.
- *everyone*: every member, in cast order (SillyTavern's "list order"); the last speaker moves
  to the end so it does not speak twice in a row.
- *manual* (SillyTavern's "manual"): only a member named (or replied to) answers by itself;
  otherwise nobody does, and the "who answers" select (or "⏭ Next", in cast order) picks.

**Chains are capped.** Characters speaking without a new user message ("⏭ Next", the "who
answers" select) count against `limit` (`DEFAULT_CHAIN_LIMIT`) until the next user message.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.characters.model import Character
from bot.store.cast import CastView

Mode = Literal["natural", "round_robin", "everyone", "manual"]
MODES: tuple[Mode, ...] = ("natural", "round_robin", "everyone", "manual")
MODE_LABELS: dict[str, str] = {"natural": "natural", "round_robin": "round robin", "everyone": "everyone",
                               "manual": "manual"}
DEFAULT_TALKATIVENESS = 0.5  # SillyTavern's talkativeness_default
DEFAULT_CHAIN_LIMIT = 3
MAX_REF_CHARS = 100  # a select option's value carries the reference; Discord allows 100 characters


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# English words that are also given names or nicknames: only a capitalised, non-initial use (or a
# call, or @) counts as addressing such a name. Kept short on purpose: the rule is for the
# common collisions, not a dictionary.
ORDINARY_WORDS = _word_set("""
a an and the of to in on at by for with from as or but not no yes so if is be are was am i you me my we us it
will may can might must shall should would could did do does
hope faith grace joy charity chastity patience prudence honor honour mercy trinity destiny harmony melody
serenity liberty justice trust
rose lily daisy ivy holly heather iris violet jasmine poppy fern hazel olive ginger pepper honey sugar candy
cookie cherry peach
summer autumn winter spring april june august dawn eve sky rain storm river brook sunny star
angel baby babe bunny kitty kit pet doll dolly sweetie
bill pat sue rob mark jack frank grant rich chase hunter drew dean miles art guy ray sandy rusty buck
gray grey black white brown green red blue amber ruby crystal jade pearl
""")
# Words that never address anyone on their own.
TITLES = _word_set("""
the a an of and von van der den de la le el del da di du dos des
mr mrs ms miss mister dr sir dame lady lord captain capt professor prof doctor queen king prince princess
saint st sister brother aunt uncle mistress master madam madame officer agent detective nurse jr sr ii iii
""")

_WORD = re.compile(r"\w+", re.UNICODE)
_NO_SPACE_SCRIPTS = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_OPENERS = " \t\"'*_~([{“‘«>-"
_SENTENCE_END = ".!?…\n"
_CALL_MARKS = ",!?"


@dataclass(frozen=True, slots=True)
class Speaker:
    """A cast member as the speaking order sees it."""

    ref: str
    name: str
    position: int
    talkativeness: float = DEFAULT_TALKATIVENESS
    nickname: str = ""
    silence: int = 0  # cast replies since it last spoke


@dataclass(frozen=True, slots=True)
class Order:
    """The speaking state the order needs (stored with the cast)."""

    last_speaker: str | None = None
    last_position: int | None = None
    chained: int = 0


# -- reading cards ----------------------------------------------------------------------------------


def talkativeness_of(character: Character) -> float:
    """The card's `extensions.talkativeness` (SillyTavern writes it as a string), within 0..1."""
    raw = character.extensions.get("talkativeness")
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_TALKATIVENESS
    if math.isnan(value):
        return DEFAULT_TALKATIVENESS
    return min(1.0, max(0.0, value))


def nickname_of(character: Character) -> str:
    """The V3 card's `nickname` ("used in place of the name in {{char}}"), or ""."""
    value = character.card_extra.get("nickname")
    return value.strip() if isinstance(value, str) else ""


def speaker(character: Character, *, ref: str, position: int, silence: int = 0) -> Speaker:
    """A `Speaker` from a resolved character and its stored cast entry."""
    return Speaker(ref=ref, name=character.name, position=position, talkativeness=talkativeness_of(character),
                   nickname=nickname_of(character), silence=silence)


def cast_speakers(view: CastView, characters: Mapping[str, Character]) -> list[Speaker]:
    """The stored cast as speakers, in cast order; members whose character is gone are left out."""
    return [
        speaker(characters[m.ref], ref=m.ref, position=m.position, silence=m.silence)
        for m in view.members if m.ref in characters
    ]


def order_of(view: CastView) -> Order:
    """The stored speaking state."""
    return Order(last_speaker=view.last_speaker, last_position=view.last_position, chained=view.chained)


def join_problem(cast: Sequence[Speaker], *, ref: str, name: str, max_cast: int) -> str | None:
    """Why a character cannot join this cast (user wording), or None when it can."""
    if any(m.ref == ref for m in cast):
        return f"**{name}** is already in this scene."
    if len(cast) >= max_cast:
        return f"This scene already has {max_cast} characters. Remove one first with `/scene remove`."
    if any(m.name.casefold() == name.strip().casefold() for m in cast):
        return (f"There is already a **{name}** in this scene. Two characters with one name can't be "
                "told apart when someone speaks to them; pick another character.")
    if len(ref) > MAX_REF_CHARS:
        return "That character can't join a scene (its reference is too long)."
    return None


# -- who is addressed -------------------------------------------------------------------------------


def name_forms(member: Speaker) -> list[str]:
    """The ways a member can be named: full name, nickname, and each word of the name but titles."""
    forms = [member.name.strip(), member.nickname.strip()]
    forms += [w for w in _WORD.findall(member.name) if w.casefold() not in TITLES and len(w) >= 2]
    seen: set[str] = set()
    out = []
    for form in forms:
        key = form.casefold()
        if form and key not in seen:
            seen.add(key)
            out.append(form)
    return out


def addressed(text: str, cast: Sequence[Speaker], *, replied_to: str | None = None) -> list[str]:
    """Refs of the members the text speaks to, in the order they are named.

    `replied_to` is the member whose message the user replied to in Discord: it answers when
    nobody is named.
    """
    forms = {m.ref: name_forms(m) for m in cast}
    owners: dict[str, set[str]] = {}
    for ref, member_forms in forms.items():
        for form in member_forms:
            owners.setdefault(form.casefold(), set()).add(ref)
    first_at: dict[str, int] = {}
    for member in cast:
        for form in forms[member.ref]:
            if len(owners[form.casefold()]) > 1 and form.casefold() != member.name.strip().casefold():
                continue  # a word two members share ("Smith") names neither
            at = _first_mention(text, form)
            if at is not None and at < first_at.get(member.ref, len(text) + 1):
                first_at[member.ref] = at
    named = sorted(first_at, key=lambda ref: (first_at[ref], _position(cast, ref)))
    if not named and replied_to is not None and any(m.ref == replied_to for m in cast):
        return [replied_to]
    return named


def _position(cast: Sequence[Speaker], ref: str) -> int:
    return next(m.position for m in cast if m.ref == ref)


def _first_mention(text: str, form: str) -> int | None:
    """Where `form` first addresses someone in `text`, or None."""
    if _NO_SPACE_SCRIPTS.search(form):
        at = text.casefold().find(form.casefold())
        return at if at >= 0 else None
    ordinary = all(w.casefold() in ORDINARY_WORDS | TITLES for w in _WORD.findall(form))
    for match in re.finditer(rf"(?<!\w){re.escape(form)}(?!\w)", text, re.IGNORECASE):
        start = match.start()
        if start > 0 and text[start - 1] == "@":
            return start - 1
        if not ordinary or _looks_like_a_name(text, match):
            return start
    return None


def _looks_like_a_name(text: str, match: re.Match[str]) -> bool:
    """An ordinary word used as a name: capitalised and inside a sentence, or a call ("Will, …")."""
    if not match.group()[0].isupper():
        return False
    i = match.start() - 1
    while i >= 0 and text[i] in _OPENERS:
        i -= 1
    sentence_start = i < 0 or text[i] in _SENTENCE_END
    if not sentence_start:
        return True
    rest = text[match.end():].lstrip(" \t")
    return bool(rest) and rest[0] in _CALL_MARKS


# -- the order --------------------------------------------------------------------------------------


def answer_user(
    text: str, cast: Sequence[Speaker], mode: str, order: Order, rng: random.Random, *,
    replied_to: str | None = None,
) -> list[str]:
    """Who answers a user's message, in order: the addressed members, else the mode's choice."""
    if not cast:
        return []
    named = addressed(text, cast, replied_to=replied_to)
    if named:
        return named
    if mode == "manual":
        return []
    if mode == "everyone":
        return everyone(cast, order.last_speaker)
    if mode == "round_robin":
        return [round_robin(cast, order.last_position)]
    return [natural(cast, rng, banned=order.last_speaker)]


def next_speaker(
    cast: Sequence[Speaker], mode: str, order: Order, rng: random.Random, *, last_reply: str = "",
    limit: int = DEFAULT_CHAIN_LIMIT,
) -> str | None:
    """Who speaks on "⏭ Next" (no new user message), or None when the chain cap is reached.

    Natural mode reads the last reply as SillyTavern's auto mode does: a member it names answers.
    """
    if not cast or not may_chain(order.chained, limit):
        return None
    if mode == "natural":
        return natural(cast, rng, banned=order.last_speaker, text=last_reply)
    return round_robin(cast, order.last_position)


def may_chain(chained: int, limit: int = DEFAULT_CHAIN_LIMIT) -> bool:
    """Whether another character may speak before the next user message."""
    return chained < limit


def patience(cast_size: int) -> int:
    """Replies a talkative member may stay silent before it is next: twice the number of others."""
    return max(2, 2 * (cast_size - 1))


def natural(cast: Sequence[Speaker], rng: random.Random, *, banned: str | None = None, text: str = "") -> str:
    """One speaker by SillyTavern's natural order (see the module docstring for the deviations)."""
    candidates = [m for m in cast if m.ref != banned] or list(cast)
    if text:
        named = addressed(text, candidates)
        if named:
            return named[0]
    overdue = [m for m in candidates if m.talkativeness > 0 and m.silence >= patience(len(cast))]
    if overdue:
        return max(overdue, key=lambda m: (m.silence, -m.position)).ref
    shuffled = list(candidates)
    rng.shuffle(shuffled)
    for member in shuffled:
        if rng.random() < member.talkativeness:
            return member.ref
    chatty = [m for m in candidates if m.talkativeness > 0] or candidates
    return rng.choice(chatty).ref


def round_robin(cast: Sequence[Speaker], last_position: int | None) -> str:
    """The member after `last_position` in cast order, wrapping round."""
    ordered = sorted(cast, key=lambda m: m.position)
    if last_position is None:
        return ordered[0].ref
    return next((m.ref for m in ordered if m.position > last_position), ordered[0].ref)


def everyone(cast: Sequence[Speaker], last_speaker: str | None) -> list[str]:
    """Every member in cast order; the last speaker goes last rather than twice in a row."""
    refs = [m.ref for m in sorted(cast, key=lambda m: m.position)]
    if len(refs) > 1 and refs[0] == last_speaker:
        refs = [*refs[1:], refs[0]]
    return refs


def after_reply(cast: Sequence[Speaker], order: Order, ref: str, *, answers_user: bool) -> tuple[list[Speaker], Order]:
    """The cast and state once `ref` has spoken (what `bot.store.cast.record_reply` stores)."""
    position = next((m.position for m in cast if m.ref == ref), order.last_position)
    members = [
        Speaker(m.ref, m.name, m.position, m.talkativeness, m.nickname, 0 if m.ref == ref else m.silence + 1)
        for m in cast
    ]
    chained = 0 if answers_user else order.chained
    return members, Order(last_speaker=ref, last_position=position, chained=chained)
