"""The content rules: each function finds one kind of violation in normalised text.

Every rule returns a short piece of evidence (what matched) for developers and tests, or None.
The evidence is never shown to users; `bot.safety.screen` turns a rule id into a fixed reason.

- minor_age: `bot.safety.ages`;
- minor_term, school_sexual, real_person_image: here;
- sexual context, safe phrases and negation, shared by the rules: `bot.safety.forms`;
- undoing obfuscation before any rule runs: `bot.safety.normalize`.

Image prompts skip the sexual-context test: the image model is an adult model and sexualises by
default, so minor-coded words and school settings are refused in any image prompt.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from bot.safety import lexicon as lx
from bot.safety.ages import minor_age
from bot.safety.forms import Form, negated, snippet
from bot.safety.normalize import normalize, spaced_runs, variants
from bot.safety.people import REAL_PEOPLE

__all__ = ["find", "minor_age", "minor_term", "real_person_image", "school_sexual"]

_HARD = lx.compile_words(lx.HARD_MINOR)
_SOFT = re.compile(lx.words(lx.SOFT_MINOR) + "|" + lx.MINOR_NOUN)
_IMAGE_ONLY = lx.compile_words(lx.IMAGE_ONLY_MINOR)
_SCHOOL = lx.compile_words(lx.SCHOOL)
_REAL_ALWAYS = re.compile(lx.REAL_PERSON_ALWAYS)
_REAL_SEXUAL = re.compile(lx.REAL_PERSON_SEXUAL)


# --- minor_term -----------------------------------------------------------------------------
def minor_term(forms: list[Form], runs: Sequence[str] = ()) -> str | None:
    """Rule "minor_term": a minor-coded word.

    `lexicon.HARD_MINOR` (loli, shota, jailbait, preteen, pedo, underage…) is refused anywhere;
    only "underage" may be negated. `lexicon.SOFT_MINOR` (child, kid, teen, little girl,
    schoolgirl, middle schooler, 8th grader…) is refused near sexual context unless negated or
    inside a safe phrase. Image prompts refuse soft words outright, plus `IMAGE_ONLY_MINOR`.
    `runs` are spaced-out letter runs (`normalize.spaced_runs`), searched for `HARD_IN_RUNS`.
    """
    for form in forms:
        for m in _HARD.finditer(form.text):
            if lx.NEGATABLE_HARD.fullmatch(m.group(0)) and negated(form.text, m.start(), m.end()):
                continue
            return snippet(form.text, m)
    for run in runs:
        if m := lx.HARD_IN_RUNS.search(run):
            return m.group(0)
    for form in forms:
        masked = form.masked
        for m in _SOFT.finditer(masked):
            if negated(masked, m.start(), m.end()):
                continue
            if form.image or form.near_sexual(m.start(), m.end()):
                return snippet(masked, m)
        if form.image and (m := _IMAGE_ONLY.search(masked)):
            return snippet(masked, m)
    return None


# --- school_sexual ---------------------------------------------------------------------------
def school_sexual(forms: list[Form]) -> str | None:
    """Rule "school_sexual": a school-age setting (`lexicon.SCHOOL`) near sexual context.

    Colleges, universities and teacher/student roleplay without a school-age marker are fine.
    "High school reunion" and having left high school are adult settings (safe phrases); any
    other mention of high school near sexual words is refused, including "high school teacher".
    """
    for form in forms:
        masked = form.masked
        for m in _SCHOOL.finditer(masked):
            if negated(masked, m.start(), m.end()):
                continue
            if form.image or form.near_sexual(m.start(), m.end()):
                return snippet(masked, m)
    return None


# --- real_person_image -----------------------------------------------------------------------
def _name_key(name: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(normalize(name)))


_TOKEN = re.compile(r"[a-z0-9]+")
_NAMES: frozenset[tuple[str, ...]] = frozenset(
    key
    for line in REAL_PEOPLE.splitlines()
    if line.strip()
    for key in (_name_key(line), ("".join(_name_key(line)),))
)
_NAME_LENGTHS = sorted({len(k) for k in _NAMES}, reverse=True)


def _ngrams(tokens: list[str]) -> Iterator[tuple[str, ...]]:
    for i in range(len(tokens)):
        for n in _NAME_LENGTHS:
            if i + n <= len(tokens):
                yield tuple(tokens[i : i + n])


def real_person_image(forms: list[Form]) -> str | None:
    """Rule "real_person_image" (image prompts only): a listed real person (`people.REAL_PEOPLE`)
    in any image prompt, a deepfake/face swap request, or a pointer to a real person
    ("celebrity", "my coworker", "@handle") with sexual context."""
    for form in forms:
        for gram in _ngrams(_TOKEN.findall(form.text)):
            if gram in _NAMES:
                return " ".join(gram)
        if m := _REAL_ALWAYS.search(form.text):
            return snippet(form.text, m)
        if (m := _REAL_SEXUAL.search(form.text)) and form.any_sexual():
            return snippet(form.text, m)
    return None


def find(text: str, *, for_image: bool) -> tuple[str, str] | None:
    """Return `(rule, evidence)` for the first rule `text` breaks, or None.

    Order: minor_age, minor_term, school_sexual, real_person_image. The order only decides which
    reason is shown when several rules apply.
    """
    with_digits, all_forms = variants(text)
    forms = {t: Form(t, image=for_image) for t in all_forms}
    digit_forms = [forms[t] for t in with_digits]
    word_forms = list(forms.values())
    if hit := minor_age(digit_forms):
        return "minor_age", hit
    if hit := minor_term(word_forms, spaced_runs(with_digits[0])):
        return "minor_term", hit
    if hit := school_sexual(word_forms):
        return "school_sexual", hit
    if for_image and (hit := real_person_image(word_forms)):
        return "real_person_image", hit
    return None
