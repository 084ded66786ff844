"""Content policy (DESIGN §5): one `screen()` used for every text the bot accepts or produces.

`screen(text)` refuses sexual or sexualised content involving minors and, for image prompts,
imagery of real, named people. It is used on user messages, character definitions (custom or
imported, via `screen_many`), image prompts (including what the bot adds) and Venice output.

    >>> screen("a 15-year-old whisky, neat").allowed
    True
    >>> screen("she's 15").rule
    'minor_age'

The rules (ids are stable: they are stored in the audit log and counted as strikes):

- ``minor_age``: an age under 18 attached to a person, in digits or words;
- ``minor_term``: a minor-coded word (always for loli/shota/jailbait…, near sexual words for
  child/kid/teen…);
- ``school_sexual``: a school-age setting (middle school, high school, 7th grade…) near sexual words;
- ``real_person_image``: an image prompt naming or pointing to a real person;
- ``too_long``: more text than the screen will read.

How each rule decides is documented where it is written: `bot.safety.ages` (minor_age),
`bot.safety.rules` (the others, and their order), `bot.safety.forms` (what "near sexual words",
safe phrases and negation mean). The word lists and the reasoning behind each choice are in
`bot.safety.lexicon`, real names in `bot.safety.people`; undoing obfuscation (spacing,
leetspeak, look-alike letters, invisible characters) is in `bot.safety.normalize`.

A refusal's `reason` is fixed per rule and never quotes the text: it may be shown in a channel,
and repeating the content would post what was refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.images.compose import MINOR_NEGATIVE_TERMS
from bot.safety import rules

__all__ = [
    "ALLOW",
    "CONTEXTS",
    "IMAGE_NEGATIVE_MINOR_TERMS",
    "MAX_CHARS",
    "MAX_TOTAL_CHARS",
    "RULES",
    "Rule",
    "Verdict",
    "explain",
    "screen",
    "screen_many",
]

# Screening is linear in the text, but unbounded input is still unbounded work on the event
# loop; Discord messages are at most 4,000 characters and card fields rarely pass 10,000.
MAX_CHARS = 20_000
# Total for `screen_many` (a character card has a handful of fields).
MAX_TOTAL_CHARS = 5 * MAX_CHARS

# Negative-prompt terms against minor features, for every image request. The image composer
# owns the single copy (it leads every negative prompt); it is re-exported here so callers that
# only know the policy module find it.
IMAGE_NEGATIVE_MINOR_TERMS: str = MINOR_NEGATIVE_TERMS


@dataclass(frozen=True, slots=True)
class Verdict:
    """The screen's answer. `rule` is "" when allowed; `reason` is for the user, never the text."""

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
            "An age under 18 attached to a person (digits or words: '15', 'fifteen', '15yo', "
            "'15 y/o', 'aged 15', 'looks 12'), or 'under 18' / a birthday under 18 near sexual "
            "content. Adult ages elsewhere in the text do not cancel it.",
            f"{_MINORS} An age under 18 was mentioned. Make every character clearly an adult.",
        ),
        Rule(
            "minor_term",
            "A word that codes a minor: always for terms with no adult use (loli, shota, "
            "jailbait, preteen, underage…), near sexual content for child, kid, teen, minor, "
            "little girl, schoolgirl, middle schooler and the like; any of them in an image prompt.",
            f"{_MINORS} A word that refers to a minor was used. Describe adults as adults.",
        ),
        Rule(
            "school_sexual",
            "A school-age setting (middle school, high school, elementary school, 7th grade, "
            "homeroom, prom…) near sexual content, or in an image prompt. College and "
            "university settings are fine.",
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


def _refuse(rule: str, context: str) -> Verdict:
    return Verdict(False, rule, CONTEXTS[context] + RULES[rule].reason)


def _check_args(text: object, context: str) -> None:
    if not isinstance(text, str):
        raise TypeError(f"screen() takes str, not {type(text).__name__}")
    if context not in CONTEXTS:
        raise ValueError(f"unknown context {context!r}; expected one of {sorted(CONTEXTS)}")


def screen(text: str, *, for_image: bool = False, context: str = "chat") -> Verdict:
    """Decide whether `text` may be used.

    `for_image` applies the image rules: minor-coded words and school settings are refused
    without needing sexual words (the image model is an adult model), and real people are
    refused. `context` ("chat", "character", "image", "output") only changes the wording of the
    reason; "image" also implies `for_image`.
    """
    _check_args(text, context)
    if len(text) > MAX_CHARS:
        return _refuse("too_long", context)
    hit = rules.find(text, for_image=for_image or context == "image")
    return ALLOW if hit is None else _refuse(hit[0], context)


def screen_many(texts: Iterable[str], *, for_image: bool = False, context: str = "character") -> Verdict:
    """Screen several fields of one thing (a character's description, personality, scenario,
    greetings…); the first refusal wins.

    Each field is screened alone, then all fields together, because a minor-coded word in one
    field and sexual words in the next describe the same character. Empty fields are skipped.
    """
    fields = [t for t in texts if _check_args(t, context) is None and t]
    if any(len(t) > MAX_CHARS for t in fields) or sum(map(len, fields)) > MAX_TOTAL_CHARS:
        return _refuse("too_long", context)
    image = for_image or context == "image"
    for text in fields:
        if hit := rules.find(text, for_image=image):
            return _refuse(hit[0], context)
    if len(fields) > 1 and (hit := rules.find("\n\n".join(fields), for_image=image)):
        return _refuse(hit[0], context)
    return ALLOW


def explain(text: str, *, for_image: bool = False) -> tuple[str, str] | None:
    """`(rule, matched words)` for developers and tests: why `screen` refuses `text`.

    Never show the matched words to users or write them to the audit log; they are the content.
    """
    _check_args(text, "chat")
    if len(text) > MAX_CHARS:
        return ("too_long", "")
    return rules.find(text, for_image=for_image)
