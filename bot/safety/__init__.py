"""Content policy, stage 1 (DESIGN §5): one local, linear-time `screen()` for every text.

`screen(text)` is the first of two stages. It refuses outright only what is clear-cut, and marks
what it cannot clear for the second stage, a judge model that reads the text with its context:

- ``allowed=False``: a decisive refusal (a strike may follow; the rule says why);
- ``allowed=True, judge=True``: not cleared, the judge decides (``signals`` say why);
- ``allowed=True, judge=False``: cleared by stage 1 (this is `ALLOW`).

    >>> screen("a 15-year-old whisky, neat") == ALLOW
    True
    >>> screen("she's 15 and naked").rule
    'minor_age'
    >>> v = screen("Mia is 15. Later that night she slips into his bed.")
    >>> (v.allowed, v.judge, v.signals)
    (True, True, ('sexual', 'youth_number'))

The rules (ids are stable: they are stored in the audit log and counted as strikes):

- ``minor_age``: a minor age stated explicitly for a person (an age unit, an age key, a compound
  age word, "she's/I'm" + number, a bare "N years" attached to a person — "she is 14 years",
  "girl, 14 years" — in any covered language) with explicit sexual words nearby; in an image
  prompt, any such age;
- ``minor_term``: a hard term (loli, shota, jailbait, preteen, pedo, child porn… and their
  equivalents in every covered language); in an image prompt, any minor-coded word;
- ``school_sexual``: a school-age setting in an image prompt (in chat it is a judge signal);
- ``real_person_image``: an image prompt naming or pointing to a real person;
- ``too_long``: more text than the screen will read.

Signals (`Verdict.signals`; codes, never the text): ``youth_number`` (a number 1–17 in an age
position, number words, Roman numerals, super/subscript, full-width and keycap digits, Chinese,
Japanese and Korean numerals), ``birth_year`` (a year or date of birth that makes someone under 18
this year, from `today`), ``school_level`` (school years and settings outside and inside the US
pattern), ``minor_word`` (child, teen, niña, Kind, 少女…), ``developmental`` (descriptions of an
undeveloped body), ``age_phrase`` ("under 16", "almost legal", "years younger than", "born the
year…"), ``sexual`` (explicit or suggestive words, euphemisms), ``uncovered_language``.

When stage 1 asks for the judge:

- ``context="character"`` and ``context="image"`` (or ``for_image=True``): always, unless refused
  (character definitions and image prompts are always judged);
- ``"chat"`` and ``"output"``: when a youth signal and a sexual word are both in the text
  (anywhere in it: ages are often stated sentences before the request); when a child age is
  stated outright ("she's 15", "a 13-year-old", "Age: 14") in a short text with no sexual word and no
  plainly non-sexual cue (a family, a memory, a thing) — its context is the conversation, which
  the judge sees; and when a sizeable part of
  the text is in a language the word lists do not cover (``uncovered_language``: stage 1 cannot
  read its sexual words, so all such text is judged; pieces under `langid.MIN_LETTERS` letters are
  too short to identify and are read like any other text).

Languages covered by the word lists: English, Spanish, Portuguese, French, German, Italian,
Dutch, Polish, Russian, Japanese (kana, kanji and romaji), Chinese, Korean. Where each decision is
made: `bot.safety.rules` (the decisions and their order), `bot.safety.lexicon` and
`bot.safety.sexual` (the word lists and why they look as they do), `bot.safety.numbers` (number
words, generated with num2words), `bot.safety.normalize` (undoing obfuscation: spacing,
leetspeak, look-alike letters, invisible characters, stretched letters), `bot.safety.scan` (one
Aho-Corasick automaton for every list), `bot.safety.langid` (offline language identification),
`bot.safety.people` (real names for image prompts).

Linear time: no regular expression runs on user text. Tokens come from `str.translate` and
`str.split`, words from one automaton pass per token stream, numbers from one loop over the
tokens with constant work per token.

A refusal's `reason` is fixed per rule and never quotes the text: it may be shown in a channel,
and repeating the content would post what was refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from bot.safety import rules
from bot.safety.langid import languages
from bot.safety.lexicon import MINOR_NEGATIVE_TERMS

__all__ = [
    "ALLOW",
    "CONTEXTS",
    "IMAGE_NEGATIVE_MINOR_TERMS",
    "MAX_CHARS",
    "MAX_TOTAL_CHARS",
    "MINOR_NEGATIVE_TERMS",
    "RULES",
    "SIGNALS",
    "Rule",
    "Verdict",
    "explain",
    "screen",
    "screen_many",
]

# Screening is linear in the text, but unbounded input is still unbounded work; Discord messages
# are at most 4,000 characters and card fields rarely pass 10,000.
MAX_CHARS = 20_000
# Total for `screen_many` (a character card has a handful of fields).
MAX_TOTAL_CHARS = 5 * MAX_CHARS

# The negative-prompt terms every image request carries (the single copy lives in
# `bot.safety.lexicon`; `bot.images.compose` imports it from here). The old name stays an alias.
IMAGE_NEGATIVE_MINOR_TERMS: str = MINOR_NEGATIVE_TERMS

SIGNALS = (
    "youth_number", "birth_year", "school_level", "minor_word", "developmental", "age_phrase", "sexual",
    "uncovered_language",
)
_YOUTH = frozenset(SIGNALS) - {"sexual", "uncovered_language"}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The screen's answer. `rule` is "" when allowed; `reason` is for the user, never the text.

    `judge=True` (with `allowed=True`) means stage 1 did not clear the text: the judge decides.
    `signals` are short codes of what made it suspicious (see `SIGNALS`), never the text.
    """

    allowed: bool
    rule: str
    reason: str
    judge: bool = False
    signals: tuple[str, ...] = ()


ALLOW = Verdict(True, "", "")


@dataclass(frozen=True, slots=True)
class Rule:
    """Documentation of one rule: what it catches (for developers and the audit log) and the
    fixed sentence shown to users."""

    id: str
    description: str
    reason: str


_MINORS = "This bot never writes sexual content involving anyone under 18."
RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "minor_age",
            "A minor age stated explicitly for a person ('15 years old', '15yo', 'Age: 15', 'she's 15', "
            "'15 años', '15 ans', 'fünfzehnjährige', '15歳', '열다섯 살'…) with explicit sexual words nearby; "
            "in an image prompt, any such age. Adult ages elsewhere in the text do not cancel it.",
            f"{_MINORS} An age under 18 was mentioned. Make every character clearly an adult.",
        ),
        Rule(
            "minor_term",
            "A word with no adult reading that codes a minor (loli, shota, jailbait, preteen, pedo, child porn, "
            "underage… in every covered language), anywhere; in an image prompt also child, kid, teen, "
            "schoolgirl and the like.",
            f"{_MINORS} A word that refers to a minor was used. Describe adults as adults.",
        ),
        Rule(
            "school_sexual",
            "A school-age setting (middle school, high school, Year 8, collège, Gymnasium, 中学…) in an image "
            "prompt. In chat, a school setting with sexual words goes to the judge.",
            f"{_MINORS} A school-age setting was combined with sexual content. "
            "College and adult settings are fine.",
        ),
        Rule(
            "real_person_image",
            "An image prompt that names a listed real person, asks for a deepfake or face swap, "
            "or points to a real person (a celebrity, 'my coworker', an @handle) with sexual content.",
            "This bot never makes images of real, named people. Use a fictional character instead.",
        ),
        Rule(
            "too_long",
            f"Text over {MAX_CHARS:,} characters (or {MAX_TOTAL_CHARS:,} in total for a "
            "character's fields); screening must stay bounded.",
            f"This is too long to check (the limit is {MAX_CHARS:,} characters). Shorten it and try again.",
        ),
    )
}

# How a refusal begins, by where the text came from; the rule's reason follows.
CONTEXTS: dict[str, str] = {
    "chat": "",
    "character": "This character can't be used. ",
    "image": "This image can't be made. ",
    "output": "The reply was withheld. ",
}
# Contexts whose every text goes to the judge unless refused.
ALWAYS_JUDGED = frozenset({"character", "image"})


def _refuse(rule: str, context: str, signals: Iterable[str] = ()) -> Verdict:
    return Verdict(False, rule, CONTEXTS[context] + RULES[rule].reason, False, tuple(sorted(set(signals))))


def _check_args(text: object, context: str) -> None:
    if not isinstance(text, str):
        raise TypeError(f"screen() takes str, not {type(text).__name__}")
    if context not in CONTEXTS:
        raise ValueError(f"unknown context {context!r}; expected one of {sorted(CONTEXTS)}")


def _decide(text: str, *, image: bool, context: str, today: date) -> tuple[Verdict, str]:
    """The verdict for one text within the size limit, and the evidence (for `explain`)."""
    langs, uncovered = languages(text)
    found = rules.analyse(text, image=image, today=today, langs=langs)
    signals = set(found.signals)
    if uncovered:
        signals.add("uncovered_language")
    if found.hard:
        return _refuse("minor_term", context, signals), found.hard
    if found.decisive_age:
        return _refuse("minor_age", context, signals), found.decisive_age
    if image:
        for rule, evidence in (
            ("minor_age", found.image_age),
            ("minor_term", found.image_minor),
            ("school_sexual", found.image_school),
            ("real_person_image", found.real_person),
        ):
            if evidence:
                return _refuse(rule, context, signals), evidence
    youth = bool(signals & _YOUTH)
    judge = (
        image
        or context in ALWAYS_JUDGED
        or uncovered
        or (youth and found.sexual)
        or (found.declared_age and not found.nonsexual_cue and len(text) <= rules.SHORT_TEXT)
    )
    if not judge:
        return ALLOW, ""
    return Verdict(True, "", "", True, tuple(sorted(signals))), ""


def screen(text: str, *, for_image: bool = False, context: str = "chat", today: date | None = None) -> Verdict:
    """Stage 1 of the content screen: decide, or hand `text` to the judge.

    `for_image` applies the image rules: minor-coded words, school settings and minor ages are
    refused without needing sexual words (the image model is an adult model), and real people
    are refused. `context` ("chat", "character", "image", "output") changes the wording of a
    refusal and when the judge is asked (see the module docstring); "image" implies `for_image`.
    `today` is the date birth years are counted from (default: the clock, at call time).
    """
    _check_args(text, context)
    if len(text) > MAX_CHARS:
        return _refuse("too_long", context)
    if not text.strip():
        return Verdict(True, "", "", True) if context in ALWAYS_JUDGED or for_image else ALLOW
    image = for_image or context == "image"
    return _decide(text, image=image, context=context, today=today or date.today())[0]


def screen_many(
    texts: Iterable[str], *, for_image: bool = False, context: str = "character", today: date | None = None
) -> Verdict:
    """Screen several fields of one thing (a character's description, personality, scenario,
    greetings…); the first refusal wins, otherwise the judge is asked if any field (or all of
    them read together) needs it.

    Each field is screened alone, then all fields together, because a minor-coded word in one
    field and sexual words in the next describe the same character. Empty fields are skipped.
    """
    fields = [t for t in texts if _check_args(t, context) is None and t]
    if any(len(t) > MAX_CHARS for t in fields) or sum(map(len, fields)) > MAX_TOTAL_CHARS:
        return _refuse("too_long", context)
    day = today or date.today()
    image = for_image or context == "image"
    pieces = fields + (["\n\n".join(fields)] if len(fields) > 1 else [])
    judged: list[Verdict] = []
    for text in pieces:  # each within MAX_CHARS, all together within MAX_TOTAL_CHARS
        verdict = _decide(text, image=image, context=context, today=day)[0]
        if not verdict.allowed:
            return verdict
        if verdict.judge:
            judged.append(verdict)
    if not judged:
        return Verdict(True, "", "", True) if context in ALWAYS_JUDGED and fields else ALLOW
    return Verdict(True, "", "", True, tuple(sorted({s for v in judged for s in v.signals})))


def explain(text: str, *, for_image: bool = False, today: date | None = None) -> tuple[str, str] | None:
    """`(rule, matched words)` for developers and tests: why `screen` refuses `text`.

    Never show the matched words to users or write them to the audit log; they are the content.
    """
    _check_args(text, "chat")
    if len(text) > MAX_CHARS:
        return ("too_long", "")
    verdict, evidence = _decide(text, image=for_image, context="chat", today=today or date.today())
    return None if verdict.allowed else (verdict.rule, evidence)
