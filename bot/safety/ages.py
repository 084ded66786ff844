"""Rule "minor_age": an age under 18 attached to a person, in digits or words.

Strong forms are refused in any context, because every conversation on this bot is adult and a
person stated to be under 18 has no place in one: "15 years old", "15yo", "15 y/o",
"a fifteen-year-old", "age: 15", "aged 15", "she's 15", "I'm 15", "turned 15", "looks 12",
"a girl of 12", "the daughter, only 11,", "bio: 14", "how old are you? fourteen", "she's in
7th grade". An adult age elsewhere never cancels them ("she's 18 but looks 12", "a 16-year-old
who is really a 1000-year-old dragon").

Weak forms are refused near sexual words (`forms.SEXUAL_WINDOW`) or in image prompts: "when I was
15", "at 15, she...", "Mia is 13.", "Lily, 15, ...", "Lily (15)", "14 f", "16th birthday",
"sweet sixteen", "quinceañera", "under 16", "under 18", "not yet 18", "almost legal", "under the
age of consent"; "under 18" is not refused inside a disclaimer ("no one under 18", "if you're
under 18, leave").

Not ages: an age that belongs to a thing ("a 15-year-old whisky", "my car is 15 years old",
"scotch aged 12 years"), and numbers that are not ages ("15 years ago", "15 years of
experience", "15 minutes", "room 15", "12 inches", "5'4", "15 years younger", "twenty five
years old", "at seven" as a clock time).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.safety import lexicon as lx
from bot.safety.forms import Form, snippet

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
        rf"(?<![a-z])(?!(?:{_NOT_PERSON_SUBJECTS})\s)[a-z]{{1,30}}\s+(?:is|was)\s+(?:only\s+|just\s+|barely\s+)?"
        rf"{_NUM_BE}(?=\s*(?:$|[!;]|[.,](?!\d))|\s+and(?![a-z]))",
        # Age/sex shorthand ("14 f", "14/f", "14, female") and a bare age beside a name
        # ("Lily, 15, ...", "Lily (15)"): too common as other numbers to refuse without sex.
        rf"{_NUM}\s*[/,|]?\s*(?:f|m|female|male|nb|ftm|mtf)(?![a-z])",
        rf"(?<![a-z])[a-z]{{1,30}},\s*{_QUAL}{_NUM}\s*,",
        rf"(?<![a-z])[a-z]{{1,30}}\s*\(\s*{_NUM}\s*\)",
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


# Every age pattern contains one of these within a few words of both its ends. The patterns are
# only run in windows around them, so long prose without numbers costs one cheap scan instead of
# thirty. The margin is wider than any pattern reaches from its anchor, and runs of whitespace are
# single spaces after normalisation, so a window end can never pass for the end of the text.
_AGE_ANCHOR = re.compile(
    rf"\d|(?<![a-z])(?:{_NUMW}|eighteen|{_ORDINALS}|grade|school|highschool|middleschool|kindergarten|"
    r"preschool|elementary|junior|quincea[a-z]*|legal|consent)(?![a-z])"
)
_AGE_MARGIN = 120


def _windows(text: str) -> list[tuple[int, int]]:
    windows: list[tuple[int, int]] = []
    for m in _AGE_ANCHOR.finditer(text):
        start, end = max(0, m.start() - _AGE_MARGIN), min(len(text), m.end() + _AGE_MARGIN)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return windows


def _in_windows(pattern: re.Pattern[str], text: str, windows: list[tuple[int, int]]) -> Iterator[re.Match[str]]:
    for start, end in windows:
        yield from pattern.finditer(text, start, end)


def minor_age(forms: list[Form]) -> str | None:
    """Rule "minor_age": an age under 18 for a person (the forms are listed in the module docstring)."""
    for form in forms:
        text = form.text
        windows = _windows(text)
        for pattern in _STRONG_AGE:
            for m in _in_windows(pattern, text, windows):
                if _is_minor(m, text):
                    return snippet(text, m)
        for pattern in _WEAK_AGE:
            for m in _in_windows(pattern, text, windows):
                if "num" in m.groupdict() and not _is_minor(m, text):
                    continue
                if form.image or form.near_sexual(m.start(), m.end()):
                    return snippet(text, m)
        unders = [m for m in _in_windows(_UNDER_N, text, windows) if max(_ages(m.group("num")), default=18) <= 18]
        for m in (*unders, *_in_windows(_UNDER_18, text, windows)):
            if not _disclaimer(text, m.start(), m.end()) and (form.image or form.near_sexual(m.start(), m.end())):
                return snippet(text, m)
    return None


