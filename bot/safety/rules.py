"""The content rules: each function finds one kind of violation in normalised text.

Every rule returns a short piece of evidence (what matched) for developers and tests, or None.
The evidence is never shown to users; `bot.safety.screen` turns a rule id into a fixed reason.

"Sexual context" means a word from `lexicon.SEXUAL` within `SEXUAL_WINDOW` characters of the
minor-coded word or setting, not anywhere in the text. The bot is adult, so nearly every long
text has a sexual word somewhere; the window keeps "grew up as a kid in Ohio" in a character's
backstory from condemning the whole card, while "a kid ... naked" in one passage is refused.
Image prompts skip the sexual-context test: the image model is an adult model and sexualises by
default, so minor-coded words and school settings are refused in any image prompt.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator, Sequence

from bot.safety import lexicon as lx
from bot.safety.normalize import normalize, spaced_runs, variants
from bot.safety.people import REAL_PEOPLE

SEXUAL_WINDOW = 200

_EMOJI = f"|[{lx.SEXUAL_EMOJI}]"
_SEXUAL = re.compile(lx.words(lx.SEXUAL) + _EMOJI)
_SEXUAL_IMAGE = re.compile(lx.words(lx.SEXUAL + lx.SEXUAL_IMAGE_EXTRA) + _EMOJI)
_HARD = lx.compile_words(lx.HARD_MINOR)
_SOFT = re.compile(lx.words(lx.SOFT_MINOR) + "|" + lx.MINOR_NOUN)
_IMAGE_ONLY = lx.compile_words(lx.IMAGE_ONLY_MINOR)
_SCHOOL = lx.compile_words(lx.SCHOOL)
_SAFE = re.compile(r"(?<![a-z0-9])(?:" + "|".join(lx.SAFE_PHRASES) + r")(?![a-z0-9])")
_REAL_ALWAYS = re.compile(lx.REAL_PERSON_ALWAYS)
_REAL_SEXUAL = re.compile(lx.REAL_PERSON_SEXUAL)


class Form:
    """One normalised form of the input, with its sexual-word positions computed on demand."""

    __slots__ = ("_masked", "_sexual", "image", "text")

    def __init__(self, text: str, *, image: bool) -> None:
        self.text = text
        self.image = image
        self._sexual: list[int] | None = None
        self._masked: str | None = None

    @property
    def masked(self) -> str:
        """The text with safe phrases blanked (same length, so offsets still line up)."""
        if self._masked is None:
            self._masked = _SAFE.sub(lambda m: " " * len(m.group(0)), self.text)
        return self._masked

    def _sexual_starts(self) -> list[int]:
        if self._sexual is None:
            pattern = _SEXUAL_IMAGE if self.image else _SEXUAL
            self._sexual = [m.start() for m in pattern.finditer(self.text)]
        return self._sexual

    def any_sexual(self) -> bool:
        return bool(self._sexual_starts())

    def near_sexual(self, start: int, end: int) -> bool:
        """True if a sexual word starts within SEXUAL_WINDOW characters of [start, end)."""
        starts = self._sexual_starts()
        i = bisect_left(starts, start - SEXUAL_WINDOW)
        return i < len(starts) and starts[i] <= end + SEXUAL_WINDOW


def _snippet(text: str, m: re.Match[str]) -> str:
    return text[m.start() : m.end()].strip()


# --- Negation -------------------------------------------------------------------------------
# "no minors", "she is not a child", "nobody here is underage" state that no minor is present.
# Only a negation directly before the word (an article may sit between) counts, so "isn't she a
# cute little girl" is not a negation; "not a little girl anymore" is the grooming trope and
# stays refused.
_NEG_BEFORE = re.compile(
    r"(?:(?<![a-z])(?:no|not|never|nobody|none|without|zero|isn'?t|aren'?t|wasn'?t|weren'?t|ain'?t)"
    r"\s+(?:(?:a|an|any|the|one|single|real|actual|in|at)\s+)?"
    r"|(?<![a-z])(?:nobody|no\s+one|none|none\s+of\s+(?:us|them|the\s+characters)|no\s+characters?)"
    r"\s+(?:here\s+)?(?:is|are|was|were)\s+(?:(?:a|an|in|at)\s+)?"
    r"|(?<![a-z])(?:nothing|no\s+[a-z]+)\s+(?:involving|with|about|featuring)\s+(?:(?:a|an|any)\s+)?)$"
)
_NEG_CANCEL = re.compile(r"\s*(?:any\s*more|any\s+longer|yet)(?![a-z])")


def _negated(text: str, start: int, end: int) -> bool:
    if not _NEG_BEFORE.search(text, max(0, start - 60), start):
        return False
    return not _NEG_CANCEL.match(text, end)


# Disclaimers around "under 18": "no one under 18", "if you're under 18, leave", "anyone under 18
# must leave". The negator may be a few words back, but not across a pronoun ("not that I care
# she's under 18" is not a disclaimer) or a clause break.
_DISCLAIM_NEGATOR = re.compile(
    r"(?<![a-z])(?:no|not|never|nobody|none|no\s+one|if\s+(?:you'?re|you\s+are|u\s+r|ur))"
    r"((?:\s+[a-z']+){0,4})\s+$"
)
_PRONOUNS = frozenset({"i", "i'm", "she", "she's", "he", "he's", "you", "they", "they're", "we", "her", "him"})
_DISCLAIM_AFTER = re.compile(
    r"[\s,]*(?:must|should|please|can'?t|cannot|may\s+not|(?:are|is)\s+(?:not|banned)|aren'?t|isn'?t|"
    r"not\s+allowed|banned|forbidden|prohibited|leave|gtfo|get\s+out|do\s+not|don'?t|go\s+away)(?![a-z])"
)


def _disclaimer(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 50) : start]
    clause = re.split(r"[.,;:!?()\[\]*]", before)[-1]
    m = _DISCLAIM_NEGATOR.search(clause + " ")
    if m and not (set(m.group(1).split()) & _PRONOUNS):
        return True
    return bool(_DISCLAIM_AFTER.match(text, end))


# --- minor_age ------------------------------------------------------------------------------
# An age under 18 attached to a person. Strong forms are refused in any context: "15 years old",
# "15yo", "15 y/o", "a fifteen-year-old", "age: 15", "aged 15", "she's 15", "turned 15", "looks 12".
# An adult age elsewhere never cancels them ("she's 18 but looks 12", "a 16-year-old who is really
# a 1000-year-old dragon"). Exceptions: an age that belongs to a thing ("a 15-year-old whisky",
# "my car is 15 years old"), and numbers that are not ages ("15 years ago", "15 minutes",
# "room 15", "15 years younger", "twenty five years old").
# Weak forms need sexual context: "when I was 15", "at 15, she...", "Mia is 15.", "16th birthday",
# "sweet sixteen", "under 18", "almost legal".
_NUMW = "|".join(sorted(lx.NUMBER_WORDS, key=len, reverse=True))
_NUMW_NO_ONE = "|".join(sorted(set(lx.NUMBER_WORDS) - {"one"}, key=len, reverse=True))
_DIGITS = r"(?<![\w.,$£€#%+'/-])\d{1,4}(?!\d)"


def _num(words: str) -> str:
    first = rf"(?:{_DIGITS}|(?<![\w-])(?:{words})(?![a-z]))"
    second = rf"(?:\d{{1,4}}(?!\d)|(?:{words})(?![a-z]))"  # after the range's "-", no lookbehind
    return rf"(?P<num>{first}(?:\s*(?:-|to|or|/)\s*{second})?)"


_NUM = _num(_NUMW)
_NUM_BE = _num(_NUMW_NO_ONE)
_UNIT = (
    r"\s*-?\s*(?:and[\s-]+a[\s-]+half\s*-?\s*)?(?P<unit>(?:years?|yrs?|yr|y)\.?\s*-?\s*(?:olds?|young|of\s+age)"
    r"|y\s*/\s*o|y\.\s*o\.?|yo|(?:months?|mos?|weeks?|wks?)\s*-?\s*olds?)(?![a-z])"
)
# What may follow a bare age ("she's 15", "turned 15"): a pause, the end, or a word that
# continues a sentence about age. Units ("15 minutes", "12 inches") and heights (5'4) do not.
_FOLLOW = (
    r"(?=\s*(?:$|[!?;()\[\]\"…~*]|[.,](?!\d))|\s+(?:and(?!\s+a\s+half\s+(?:inch|inches|foot|feet|cm|hours?"
    r"|minutes?))|but|now|yet|when|already|today|tonight|tomorrow|though|tho|btw|lol|lmao|haha|so|too|soon|"
    r"next|this\s+(?:year|month|week)|(?:years?|yrs?)(?!\s+(?:older|younger|ago|later|earlier|of|since|into|in|"
    r"away|apart|together|married|clean|sober))|going\s+on|turning|in\s+(?:this|the)\s+(?:story|rp|"
    r"roleplay|scene|game))(?![a-z]))"
)
_NOT_UNIT = (
    r"(?!\s*(?:%|percent|feet|foot|ft|inch|inches|cm|mm|m\b|meters?|metres?|kg|kgs|kilos?|lbs?|"
    r"pounds?|stone|minutes?|mins?|hours?|hrs?|seconds?|secs?|days?|weeks?|months?|times?|x\b|out\s+of|"
    r"/|:|\.\d|'|\"|,\d|degrees?|°|years?\s+(?:younger|older|ago|later|earlier)|(?:st|nd|rd|th)\b|\+|"
    r"and\s+(?:up|over|older)|or\s+(?:older|over|above)))"
)
_BE = (
    r"(?<![a-z])(?:i\s*(?:'m|m)|i\s+am|(?:she|he)\s*(?:'s|s)|(?:she|he)\s+is|(?:you|u)\s*(?:'re|re|r)"
    r"|(?:you|u)\s+are|ur)(?![a-z])"
)
_QUAL = r"(?:(?:only|just|barely|almost|nearly|about|around|like|maybe|literally|actually|still|now|already)\s+)?"

_PEOPLE_WORDS = "|".join(sorted(lx.PEOPLE, key=len, reverse=True))
_ORDINALS_TO_12 = "|".join(lx.ORDINAL_WORDS[:12])
_GRADE = (
    rf"(?:[1-9]|1[0-2])(?:st|nd|rd|th)\s*grade|(?:{_ORDINALS_TO_12})\s*grade|grade\s+(?:[1-9]|1[0-2])(?!\d)"
    r"|middle\s*school|junior\s+high|elementary(?:\s+school)?|grade\s+school|primary\s+school"
    r"|high\s*school|kindergarten|preschool"
)
_STRONG_AGE = tuple(
    re.compile(p)
    for p in (
        _NUM + _UNIT,
        rf"(?<![a-z])(?:ages?|aged)\s*(?:[:=-]|is|was|of)?\s*{_NUM}{_NOT_UNIT}",
        rf"{_BE}\s+{_QUAL}{_NUM_BE}{_FOLLOW}",
        rf"(?<![a-z])(?:just\s+)?turn(?:s|ed|ing)?\s+{_NUM_BE}{_FOLLOW}",
        rf"(?<![a-z])(?:girl|boy|child|kid|lad|lass|daughter|son)\s+of\s+{_QUAL}{_NUM}{_NOT_UNIT}",
        # An age as an aside to a person word: "the daughter, only 11, ...", "his niece (14)".
        rf"(?<![a-z])(?:{_PEOPLE_WORDS})\s*(?:,|\()\s*{_QUAL}{_NUM}\s*(?:,|\)|$)",
        # Profile shorthand: "bio: 14", "asl 14/f".
        rf"(?<![a-z])(?:bio|about\s+me|asl|a/s/l)\s*[:=-]?\s*{_NUM}{_NOT_UNIT}",
        # The answer to "how old are you?" within a few words.
        rf"(?<![a-z])how\s+old\s+(?:are|is|r)\s+(?:you|u|she|he)\W+(?:[a-z']+\W+){{0,3}}?{_NUM}{_NOT_UNIT}",
        # "she's in 7th grade", "I'm in middle school": a school stage is an age.
        rf"{_BE}\s+(?:only\s+|just\s+|still\s+|now\s+)?in\s+(?:the\s+)?(?P<grade>{_GRADE})",
        rf"(?<![a-z])(?:looks?|looking|looked|appears?|passes?\s+for|pass\s+(?:for|as)|seems?)\s+"
        rf"(?:like\s+)?(?:(?:she'?s|he'?s|she\s+is|he\s+is|a|an)\s+)?{_QUAL}{_NUM_BE}{_NOT_UNIT}",
    )
)
_NOT_PERSON_SUBJECTS = (
    "it|this|that|there|here|what|which|score|number|room|size|total|count|price|rating|level|answer|"
    "time|temperature|result|page|chapter|tip|bill|code|pin|dick|cock|mine|yours"
)
_ORDINALS = "|".join(lx.ORDINAL_WORDS)
_WEAK_AGE = tuple(
    re.compile(p)
    for p in (
        rf"(?<![a-z])(?:when|since|until|till)\s+(?:i|she|he|we|they|you)\s+(?:was|were)\s+{_QUAL}"
        rf"{_NUM}{_NOT_UNIT}",
        rf"(?<![a-z])(?:i|she|he)\s+(?:was|were)\s+{_QUAL}{_NUM_BE}{_FOLLOW}",
        # "at 15, she..."; only 13-17, because "at seven" and "at 11" are usually clock times.
        r"(?<![a-z])at\s+(?:only\s+|just\s+|age\s+)?(?P<num>1[3-7]|thirteen|fourteen|fifteen|sixteen|seventeen)"
        r"(?![\d:.])(?=\s*,|\s+(?:she|he|i|they|we|you)(?![a-z]))",
        rf"(?<![a-z])(?!(?:{_NOT_PERSON_SUBJECTS})\s)[a-z]+\s+(?:is|was)\s+(?:only\s+|just\s+|barely\s+)?"
        rf"{_NUM_BE}(?=\s*(?:$|[!;]|[.,](?!\d))|\s+and(?![a-z]))",
        # Age/sex shorthand ("14 f", "14/f", "14, female") and a bare age beside a name
        # ("Lily, 15, ...", "Lily (15)"): too common as other numbers to refuse without sex.
        rf"{_NUM}\s*[/,|]?\s*(?:f|m|female|male|nb|ftm|mtf)(?![a-z])",
        rf"(?<![a-z])[a-z]+,\s*{_QUAL}{_NUM}\s*,",
        rf"(?<![a-z])[a-z]+\s*\(\s*{_NUM}\s*\)",
        rf"(?<![\w.])(?:[1-9]|1[0-7])(?:st|nd|rd|th)\s+birthday|(?<![a-z])(?:{_ORDINALS})\s+birthday"
        r"|(?<![a-z])sweet\s+(?:16|sixteen)(?![a-z0-9])|(?<![a-z])quincea(?:n|ny)?era",
    )
)
# "under 16", "younger than 14": any bound up to 18 (checked in code); not "under 21".
_UNDER_N = re.compile(
    rf"(?<![a-z])(?:under|below|younger\s+than|less\s+than)\s+(?:the\s+age\s+of\s+|age\s+)?"
    rf"(?P<num>\d{{1,2}}(?!\d)|{_NUMW}|eighteen)(?![+a-z]){_NOT_UNIT}"
)
_UNDER_18 = re.compile(
    r"(?<![a-z])(?:not\s+yet|not\s+quite|almost|nearly|not)\s+"
    r"(?:the\s+age\s+of\s+)?(?:18|eighteen)(?![\d+a-z])"
    r"|(?<![a-z])(?:almost|not\s+yet|not\s+quite|nearly)\s+legal(?![a-z])"
    r"|(?<![a-z])(?:under|below)\s+the\s+age\s+of\s+consent"
)
_THING_WORDS = "|".join(sorted(lx.THINGS, key=len, reverse=True))
_THING_BEFORE = re.compile(
    rf"(?:(?<![a-z])(?:{_THING_WORDS})(?:'s|s)?|(?<![a-z])(?:it|this|that)(?:'s)?)\s*,?\s*"
    r"(?:(?:which|that)\s+)?(?:(?:is|was|are|were|'s|has\s+been|had\s+been|now)\s+)*"
    r"(?:(?:now|about|around|roughly|nearly|almost|over|at\s+least|easily|only|just|well\s+over)\s+)?$"
)
_WORD = re.compile(r"[a-z]+")
_POSSESSIVES = "her|his|their|my|your|its|our"
_PEOPLE_AFTER = re.compile(
    r"\s*(?:[a-z]+[\s-]+)?(?:" + "|".join(sorted(lx.PEOPLE, key=len, reverse=True)) + r")(?![a-z])"
)
_THING_AFTER = re.compile(rf"\s*(?:(?!(?:{_POSSESSIVES})\s)[a-z]+[\s-]+)?(?:{_THING_WORDS})(?![a-z])")
_NUMBER = re.compile(rf"\d+|{_NUMW}|eighteen")


def _ages(num: str) -> list[int]:
    return [int(n) if n.isdigit() else lx.NUMBER_WORDS.get(n, 18) for n in _NUMBER.findall(num)]


def _is_minor(m: re.Match[str], text: str) -> bool:
    """Is the number in `m` a person's age under 18 (not a thing's age, not part of 25)?"""
    groups = m.groupdict()
    if "num" not in groups:
        return True  # a structural age such as "she's in 7th grade"
    unit = groups.get("unit") or ""
    ages = _ages(m.group("num"))
    if not ages:
        return False
    # Any age counted in months or weeks is a baby's (or a thing's, handled below).
    if not unit.startswith(("mo", "we", "wk")) and min(ages) >= 18:
        return False
    before_words = _WORD.findall(text[max(0, m.start("num") - 20) : m.start("num")])
    if before_words and before_words[-1] in lx.TENS_WORDS:
        return False  # "twenty five years old"
    if _PEOPLE_AFTER.match(text, m.end()):
        return True  # "a 15-year-old girl", even "a 15-year-old girl's car"
    if _THING_AFTER.match(text, m.end()):
        return False  # "a 15-year-old whisky", "a 12yo single malt"
    return not _THING_BEFORE.search(text, max(0, m.start() - 60), m.start())


def minor_age(forms: list[Form]) -> str | None:
    """Rule "minor_age": an age under 18 for a person (see the comment above for the forms)."""
    for form in forms:
        text = form.text
        for pattern in _STRONG_AGE:
            for m in pattern.finditer(text):
                if _is_minor(m, text):
                    return _snippet(text, m)
        for pattern in _WEAK_AGE:
            for m in pattern.finditer(text):
                if "num" in m.groupdict() and not _is_minor(m, text):
                    continue
                if form.image or form.near_sexual(m.start(), m.end()):
                    return _snippet(text, m)
        unders = [m for m in _UNDER_N.finditer(text) if max(_ages(m.group("num")), default=18) <= 18]
        for m in (*unders, *_UNDER_18.finditer(text)):
            if not _disclaimer(text, m.start(), m.end()) and (form.image or form.near_sexual(m.start(), m.end())):
                return _snippet(text, m)
    return None


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
            if lx.NEGATABLE_HARD.fullmatch(m.group(0)) and _negated(form.text, m.start(), m.end()):
                continue
            return _snippet(form.text, m)
    for run in runs:
        if m := lx.HARD_IN_RUNS.search(run):
            return m.group(0)
    for form in forms:
        masked = form.masked
        for m in _SOFT.finditer(masked):
            if _negated(masked, m.start(), m.end()):
                continue
            if form.image or form.near_sexual(m.start(), m.end()):
                return _snippet(masked, m)
        if form.image and (m := _IMAGE_ONLY.search(masked)):
            return _snippet(masked, m)
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
            if _negated(masked, m.start(), m.end()):
                continue
            if form.image or form.near_sexual(m.start(), m.end()):
                return _snippet(masked, m)
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
            return _snippet(form.text, m)
        if (m := _REAL_SEXUAL.search(form.text)) and form.any_sexual():
            return _snippet(form.text, m)
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
