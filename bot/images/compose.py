"""Image prompt composition: what the user asked for, plus what the bot adds, within the model's limit.

Order of the positive prompt: the user's words, an adult anchor and the character's appearance
(when the image is of the character), the scene, a style hint, then quality tags. When the result
is longer than the model's `promptCharacterLimit`, the least important parts go first (quality
tags, style hint, scene, then appearance clause by clause); the user's words are shortened only
when nothing else is left to drop. The adult anchor is never dropped.

The negative prompt always leads with `MINOR_NEGATIVE_TERMS`. It leads, rather than trails,
because SDXL text encoders weigh early tokens most and some pipelines cut long prompts at 77
tokens; being first means these terms survive any such cut. Trimming never touches them.

Composition does not judge content: `bot.safety.screen(..., for_image=True)` decides whether a
prompt may be sent at all, and runs before this.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.safety import MINOR_NEGATIVE_TERMS

# MINOR_NEGATIVE_TERMS (the terms every image request carries against minor features) is owned
# by the content policy, `bot.safety`; it is re-exported here for the composer's callers.
QUALITY_NEGATIVE = (
    "lowres, worst quality, low quality, bad anatomy, bad hands, extra fingers, extra limbs, "
    "deformed, blurry, jpeg artifacts, watermark, text, signature"
)
NEGATIVE_BASE = f"{MINOR_NEGATIVE_TERMS}, {QUALITY_NEGATIVE}"
QUALITY_TAGS = "masterpiece, best quality, highly detailed, sharp focus"
ADULT_ANCHOR = "adult"

# Below this the mandatory parts may not fit; every Venice image model allows 1500 or more.
MIN_LIMIT = 300

# Which optional parts of the positive prompt go first when it is too long.
_DROP_ORDER = ("quality", "style", "scene", "appearance")
_SEP = ", "

# Phrases that already state the subject is an adult, so no anchor is needed.
_AGE_NUMBER = re.compile(
    r"\b(\d{1,3})\s*(?:-|\s)?\s*(?:years?|yrs?|y/?o)\b|\bage[ds]?\s*:?\s*(\d{1,3})\b", re.IGNORECASE
)
_AGE_WORDS = re.compile(
    r"\b(?:adult|mature|middle-aged|(?:twenties|thirties|forties|fifties|sixties)|[2-6]0s)\b",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s+")
_COMMAS = re.compile(r"\s*,[\s,]*")


@dataclass(slots=True)
class ComposedPrompt:
    """The prompts to send and an honest account of what was changed to fit.

    `parts` lists the (kind, text) pieces kept, in prompt order; kinds are "user", "adult",
    "appearance", "scene", "style" and "quality". `dropped` names kinds removed entirely and
    `shortened` kinds cut down (including "user" when the user's words had to be shortened).
    """

    prompt: str
    negative: str
    parts: list[tuple[str, str]]
    dropped: list[str] = field(default_factory=list)
    trimmed: bool = False
    shortened: list[str] = field(default_factory=list)
    negative_trimmed: bool = False


@dataclass(slots=True)
class _Part:
    kind: str
    clauses: list[str]

    @property
    def text(self) -> str:
        return _SEP.join(self.clauses)


def compose_prompt(
    user_prompt: str,
    *,
    appearance: str = "",
    scene: str = "",
    style_hint: str = "",
    quality: str = QUALITY_TAGS,
    limit: int = 1500,
    user_negative: str = "",
    adult_anchor: bool = True,
) -> ComposedPrompt:
    """Compose the positive and negative prompt for one image within `limit` characters each.

    `appearance` is the character's look, given only when the image is of the character; it gets
    an adult anchor unless it already states an adult age. Raises ValueError("empty prompt") when
    the user's words are blank, and ValueError when `limit` is below MIN_LIMIT.
    """
    if limit < MIN_LIMIT:
        raise ValueError(f"prompt limit must be at least {MIN_LIMIT} characters")
    user = clean(user_prompt)
    if not user:
        raise ValueError("empty prompt")

    parts = [_Part("user", [user])]
    look = split_clauses(clean(appearance))
    if look:
        marker = [c for c in look if states_adult(c)]
        if marker:
            # The clauses that state the age act as the anchor, so they are kept like one.
            parts.append(_Part("adult", marker))
            look = [c for c in look if c not in marker]
        elif adult_anchor:
            parts.append(_Part("adult", [ADULT_ANCHOR]))
        parts.append(_Part("appearance", look))
    parts.append(_Part("scene", split_clauses(clean(scene))))
    parts.append(_Part("style", split_clauses(clean(style_hint))))
    parts.append(_Part("quality", split_clauses(clean(quality))))
    _dedupe(parts)
    original = {p.kind: p.text for p in parts if p.clauses}

    prompt = _fit_positive(parts, limit)
    kept = [p for p in parts if p.clauses]
    dropped = [kind for kind in original if not any(p.kind == kind for p in kept)]
    shortened = [p.kind for p in kept if p.text != original[p.kind] and p.kind != "adult"]
    if _part(parts, "adult").text != original.get("adult", "") and "appearance" not in dropped:
        # The age-stating appearance clauses gave way to the plain anchor: appearance is gone.
        dropped.append("appearance")
    negative, negative_trimmed = _compose_negative(user_negative, limit)
    return ComposedPrompt(
        prompt=prompt,
        negative=negative,
        parts=[(p.kind, p.text) for p in kept],
        dropped=dropped,
        trimmed=bool(dropped or shortened),
        shortened=shortened,
        negative_trimmed=negative_trimmed,
    )


def selfie_prompt(character_name: str, appearance: str, scene: str = "") -> str:
    """The user part of a /selfie prompt: "portrait selfie of <appearance>, <scene>".

    `character_name` is deliberately not used: a character may be named after a real person,
    and sexual imagery of real, named people is not allowed, so the image is described by
    appearance alone. Pass the result as `user_prompt` and leave `appearance` empty, since the
    appearance (with its adult anchor) is already in it.
    """
    look = clean(appearance)
    if not look:
        subject = "an adult"
    elif any(states_adult(c) for c in split_clauses(look)):
        subject = look
    else:
        subject = f"{ADULT_ANCHOR}{_SEP}{look}"
    return clean(f"portrait selfie of {subject}, {clean(scene) or 'looking at the camera'}")


def cast_appearance(looks: Sequence[str]) -> str:
    """Several characters' appearances as one `appearance` for `compose_prompt`: "N adults", then
    each look in parentheses, each with its own adult anchor unless it states an adult age.

    The parentheses keep each person one clause, so trimming drops a whole person rather than
    mixing features between them. Names are never used (see `selfie_prompt`). One look is
    returned as it is, so a scene of one is composed exactly like today's character pictures.
    """
    cleaned = [_balanced(clean(look)) for look in looks]
    if len(cleaned) == 1:
        return cleaned[0] or ADULT_ANCHOR
    people = []
    for look in cleaned:
        if not look:
            people.append(f"({ADULT_ANCHOR})")
        elif any(states_adult(c) for c in split_clauses(look)):
            people.append(f"({look})")
        else:
            people.append(f"({ADULT_ANCHOR}{_SEP}{look})")
    return _SEP.join([f"{len(people)} adults", *people])


def _balanced(text: str) -> str:
    """`text` without its brackets when they do not pair up: an open bracket would swallow the
    commas after it, merging the next people into this one."""
    depth = 0
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                break
    if depth == 0:
        return text
    return clean(re.sub(r"[()\[\]{}]", "", text))


def states_adult(text: str) -> bool:
    """True when `text` says the subject is an adult: an age of 18 or more, or an adult word."""
    for match in _AGE_NUMBER.finditer(text):
        age = int(match.group(1) or match.group(2))
        if age >= 18:
            return True
    return bool(_AGE_WORDS.search(text))


def clean(text: str) -> str:
    """Collapse whitespace and runs of commas, and strip stray commas at the ends."""
    text = _SPACES.sub(" ", text or "")
    return _COMMAS.sub(_SEP, text).strip(" ,")


def split_clauses(text: str) -> list[str]:
    """Split at top-level commas; commas inside (), [] or {} belong to prompt weighting syntax."""
    clauses: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            clauses.append(text[start:i])
            start = i + 1
    clauses.append(text[start:])
    return [c.strip() for c in clauses if c.strip()]


def _dedupe(parts: list[_Part]) -> None:
    """Drop clauses already said by a more important part (e.g. "masterpiece" typed by the user)."""
    seen: set[str] = set()
    for part in parts:
        if part.kind in ("user", "adult"):
            seen.update(c.casefold() for c in split_clauses(part.text))
            continue
        unique = []
        for clause in part.clauses:
            key = clause.casefold()
            if key not in seen:
                seen.add(key)
                unique.append(clause)
        part.clauses = unique


def _render(parts: list[_Part]) -> str:
    return _SEP.join(p.text for p in parts if p.clauses)


def _part(parts: list[_Part], kind: str) -> _Part:
    """The part of this kind; an empty stand-in when the prompt has none (e.g. no anchor)."""
    return next((p for p in parts if p.kind == kind), _Part(kind, []))


def _fit_positive(parts: list[_Part], limit: int) -> str:
    """Trim `parts` in place until they render within `limit`, least important first."""
    prompt = _render(parts)
    while len(prompt) > limit:
        victim = next((p for kind in _DROP_ORDER for p in parts if p.kind == kind and p.clauses), None)
        if victim is None:
            break
        victim.clauses.pop()
        prompt = _render(parts)
    if len(prompt) <= limit:
        return prompt

    anchor = next((p for p in parts if p.kind == "adult"), None)
    user = _part(parts, "user")
    if anchor is not None and anchor.clauses != [ADULT_ANCHOR]:
        # The age-stating clauses are appearance text; give them up for the plain anchor
        # before cutting into the user's words.
        anchor.clauses = [ADULT_ANCHOR]
        prompt = _render(parts)
        if len(prompt) <= limit:
            return prompt
    rest = len(prompt) - len(user.text)
    user.clauses = [shorten(user.text, limit - rest)]
    return _render(parts)


def shorten(text: str, budget: int) -> str:
    """`text` cut to at most `budget` characters, at a word boundary when there is one."""
    if len(text) <= budget:
        return text
    if budget <= 0:
        return ""
    cut = text[:budget]
    if not text[budget].isspace():
        head, space, _ = cut.rpartition(" ")
        # One giant "word" (no spaces at all) can only be cut mid-word.
        cut = head if space and head.strip() else cut
    return cut.rstrip(" ,;:-")


def _compose_negative(user_negative: str, limit: int) -> tuple[str, bool]:
    """Minor terms, then the user's negative, then quality negatives; trimmed from the end.

    Quality negatives go before the user's own terms, for the same reason the user's positive
    words outlast the bot's additions. The minor terms are never trimmed.
    """
    minor = split_clauses(MINOR_NEGATIVE_TERMS)
    seen = {c.casefold() for c in minor}
    user = []
    for clause in split_clauses(clean(user_negative)):
        if clause.casefold() not in seen:
            seen.add(clause.casefold())
            user.append(clause)
    quality = [c for c in split_clauses(QUALITY_NEGATIVE) if c.casefold() not in seen]

    def render() -> str:
        return _SEP.join(minor + user + quality)

    trimmed = False
    while len(render()) > limit and (quality or len(user) > 1):
        (quality or user).pop()
        trimmed = True
    if len(render()) > limit:
        # A single oversized user clause: keep as many of its words as fit.
        budget = limit - len(MINOR_NEGATIVE_TERMS) - len(_SEP)
        user = [s for s in [shorten(user[0], budget)] if s]
        trimmed = True
    return render(), trimmed
