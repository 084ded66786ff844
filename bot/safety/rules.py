"""Stage 1's reading of a text: what it finds (signals) and what it decides.

`analyse(text)` reads every token stream of the text (`bot.safety.normalize.streams`) with one
automaton pass each (`bot.safety.scan`) and one loop over the tokens for numbers
(`bot.safety.numbers`), and returns `Findings`. `decide` turns findings into a rule to refuse
by, a judge flag and signal codes. Everything is linear in the text.

Decisive refusals (clear-cut only):

- ``minor_term``: a hard term (`lexicon.HARD`) anywhere, in any language; "underage" and its
  equivalents unless negated ("no underage characters").
- ``minor_age``: a minor age stated explicitly (with an age unit, an age key such as a card's
  `Age: 15`, a compound age word, or "she's/I'm/sie ist/ей" + number) for a person, not a thing,
  in the present tense, with a `sexual.STRONG` word within `WINDOW` tokens. A bare "N years"
  (`lexicon.YEARS`: years, años, Jahre, ans, лет…) counts only when attached to a person ("she is
  14 years", "a 14 years girl", "girl, 14 years", "una chica de 14 años"; `_years_attached`); next
  to a duration word it is a length of time ("14 years ago", "married 14 years"); otherwise it is
  a youth signal for the judge ("14 years, naked").
- in image prompts: any minor word (`minor_term`), school setting (`school_sexual`), explicit
  minor age (`minor_age`), listed real person, deepfake or real-person pointer with sexual words
  (`real_person_image`).

Judged (allowed, `judge=True`): a youth signal anywhere in the text together with sexual words
anywhere in it (an age stated in the first sentence and the request in the fifth is one text);
an explicit child age in a short text with no sexual word and no plainly non-sexual cue (a
family, a memory, a thing), whose context is the conversation the judge sees; text in a language
the word lists do not cover (`bot.safety.langid`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import ahocorasick

from bot.safety import lexicon as lx
from bot.safety import sexual as sx
from bot.safety.normalize import LINE_BREAK, _plain, streams, tokenize
from bot.safety.numbers import (
    CARDINALS,
    CJK_UNITS,
    FIRST_WORDS,
    ROMAN,
    cjk_number_before,
    compound_age,
    korean_number,
    number_at,
)
from bot.safety.numbers import COMPOUND_SUFFIXES as _COMPOUND_SUFFIXES
from bot.safety.people import REAL_PEOPLE
from bot.safety.scan import Hit, Matcher, Phrases, squeeze

__all__ = ["WINDOW", "Findings", "analyse"]

# How near (in tokens) a sexual word must be to a stated age for a decisive refusal.
WINDOW = 40
# Texts up to this long with an explicit child age and nothing else are judged (context unclear).
SHORT_TEXT = 280

# Words searched for everywhere in the text (one automaton pass).
_CATEGORIES: dict[str, list[str]] = {
    "hard": lx.HARD,
    "hard_neg": lx.HARD_NEGATABLE,
    "minor": lx.MINOR,
    "image_minor": lx.IMAGE_ONLY_MINOR,
    "school": lx.SCHOOL,
    "developmental": lx.DEVELOPMENTAL,
    "age_phrase": lx.AGE_PHRASE,
    "safe": lx.SAFE,
    "family": lx.FAMILY,
    "past": lx.PAST,
    "real_always": lx.REAL_PERSON_ALWAYS,
    "real_sexual": lx.REAL_PERSON_SEXUAL,
    "strong": sx.STRONG,
    "setting": sx.SETTING,
    "image_extra": sx.IMAGE_EXTRA,
}
# Words that only matter next to a number or a minor word: looked up at that position.
CONTEXT: dict[str, Phrases] = {
    name: Phrases(words)
    for name, words in {
        "disclaimer": lx.DISCLAIMER_AFTER,
        "negation": lx.NEGATION,
        "negation_cancel": lx.NEGATION_CANCEL,
        "age_unit": lx.AGE_UNIT,
        "years": lx.YEARS,
        "years_after": lx.YEARS_AFTER,
        "years_at": lx.YEARS_AT,
        "years_duration_before": lx.YEARS_DURATION_BEFORE,
        "years_duration_after": lx.YEARS_DURATION_AFTER,
        "age_key": lx.AGE_KEY,
        "copula": lx.COPULA,
        "copula_past": lx.COPULA_PAST,
        "after_ok": lx.AFTER_OK,
        "non_age_before": lx.NON_AGE_BEFORE,
        "duration_before": lx.DURATION_BEFORE,
        "duration_after": lx.DURATION_AFTER,
        "birthday": lx.BIRTHDAY,
        "birth": lx.BIRTH,
        "school_before": lx.SCHOOL_NUMBER_BEFORE,
        "school_after": lx.SCHOOL_NUMBER_AFTER,
        "under": lx.UNDER,
    }.items()
}


def _matcher() -> Matcher:
    matcher = Matcher()
    for category, words in _CATEGORIES.items():
        matcher.add(category, words)
    for category, word, langs in lx.GATED:
        matcher.add(category, [word], data=langs)
    people = [line.strip() for line in REAL_PEOPLE.splitlines() if line.strip()]
    matcher.add("real_name", people)
    matcher.add("real_name", [name.replace(" ", "").replace("-", "") for name in people])
    matcher.build()
    return matcher


MATCHER = _matcher()
# Number words under 18 long enough not to hide inside other letters by chance.
_RUN_NUMBERS = ahocorasick.Automaton()
for _word in {k[0] for k, v in CARDINALS.items() if len(k) == 1 and v < 18 and len(k[0]) >= 5}:
    _RUN_NUMBERS.add_word(_word, _word)
_RUN_NUMBERS.make_automaton()

_BOUNDARY = frozenset(
    {".", ",", ")", "(", ";", ":", "!", "?", "*", "~", "\"", "]", "[", "|", "#", LINE_BREAK, *sx.EMOJI}
)
_KEY_FILLERS = frozenset({
    LINE_BREAK, ":", "=", "(", "\"", "[", "{", "of", "is", "de", "di", "von", "van", "w", "в", ",", "-", "was", "del",
    "da", "du", "d", ".", "only", "just", "a", "an",
})
_QUALIFIERS = frozenset({
    "only", "just", "barely", "almost", "nearly", "about", "around", "like", "maybe", "literally", "actually", "still",
    "now", "already", "solo", "sólo", "apenas", "seulement", "nur", "erst", "tylko", "только", "всего", "ещё", "еще",
    "pas", "encore", "so", "tipo", "quasi", "bijna", "prawie", "почти", "really", "technically", "totally",
})
_ARTICLES = frozenset({"a", "an", "any", "the", "one", "single", "real", "actual", "un", "una", "une", "ein", "eine",
                       "uno", "een", "um", "uma", "de", "des", "la", "le", "el"})
_NEGATION_FILLERS = _ARTICLES | frozenset({
    "here", "is", "are", "was", "were", "be", "being", "of", "us", "them", "characters", "character", "es", "está",
    "son", "ist", "sind", "è", "sono", "jest", "są", "in", "at", "involving", "with", "about", "featuring",
})
_SCHOOL_FILLERS = frozenset({"in", "en", "la", "de"})
_GENDER = frozenset({"f", "m", "female", "male", "nb", "ftm", "mtf", "w", "k", "ж", "м"})
_CJK_SCHOOL_END = ("中", "高", "小", "初")
_FRENCH_YEAR_BEFORE = frozenset({"en", "de", "eleve", "classe", "la", "une", "un"})  # "en 4e", "élève de 5e"
_PRONOUNS = frozenset({"she", "he", "i", "you", "shes", "hes", "im", "youre", "ur", "u", "ella", "él", "elle", "il",
                       "sie", "er", "lei", "lui", "ze", "zij", "hij", "ona", "on", "она", "он", "ей", "ему", "мне"})
_ORDINAL_SUFFIXES = frozenset({"st", "nd", "rd", "th", "e", "eme", "er", "re", "o", "a", "º", "ª", "te", "de", "ste"})
_IF = frozenset({"if", "si", "wenn", "se", "als", "jesli", "если"})
# `lexicon.PEOPLE` folded like the text ("mädchen" → "madchen", "niña" → "nina").
_PEOPLE = frozenset(p for word in lx.PEOPLE for t in tokenize(word) for p in _plain(t))
# Before a person word, these make "<person>, N years" a relationship's length ("my girl of 14 years").
_POSSESSIVES = frozenset({"my", "our", "his", "your", "their", "mi", "mis", "nuestra", "nuestro", "mon", "ma", "notre",
                          "mein", "meine", "unser", "unsere", "mio", "mia", "mijn", "onze", "moja", "мой", "моя",
                          "minha", "meu", "nossa"})
# Between a person word and "<number> years": "girl, 14 years", "girl: 14 years", "girl (14 years)".
_PERSON_MARKS = frozenset({",", ":", "(", "-", LINE_BREAK})


@dataclass(slots=True)
class Findings:
    """What stage 1 found in a text. `evidence` is for developers and tests only: never shown."""

    hard: str = ""
    decisive_age: str = ""
    signals: set[str] = field(default_factory=set)
    strong: bool = False
    sexual: bool = False
    declared_age: bool = False  # "she's 15", "a 15-year-old", "Age: 14": a person's age, stated outright
    nonsexual_cue: bool = False
    image_minor: str = ""
    image_school: str = ""
    image_age: str = ""
    real_person: str = ""
    uncovered: bool = False


def _index(hits: list[Hit], *, by: str) -> dict[int, Hit]:
    out: dict[int, Hit] = {}
    for hit in hits:
        key = hit.start if by == "start" else hit.end
        if key not in out or (hit.end - hit.start) > (out[key].end - out[key].start):
            out[key] = hit
    return out


class _Reader:
    """One token stream with its word-list hits, and the questions the rules ask of it."""

    def __init__(self, tokens: list[str], langs: frozenset[str]) -> None:
        self.tokens = tokens
        found = MATCHER.find(tokens)
        self.hits: dict[str, list[Hit]] = {
            cat: [h for h in hits if h.data is None or (isinstance(h.data, frozenset) and h.data & langs)]
            for cat, hits in found.items()
        }
        self.safe = self._covered("safe")
        self.distinct = distinct = set(tokens)
        self._present = {name: phrases.possible(distinct) for name, phrases in CONTEXT.items()}
        self._starts: dict[str, dict[int, Hit]] = {}
        self._ends: dict[str, dict[int, Hit]] = {}

    def _covered(self, category: str) -> set[int]:
        return {i for h in self.hits.get(category, ()) for i in range(h.start, h.end)}

    def starting(self, category: str, i: int) -> Hit | None:
        if category in CONTEXT:
            if not self._present[category]:
                return None
            span = CONTEXT[category].starting(self.tokens, i)
            return None if span is None else Hit(category, span[0], span[1], "")
        if category not in self._starts:
            self._starts[category] = _index(self.hits.get(category, []), by="start")
        return self._starts[category].get(i)

    def ending(self, category: str, i: int) -> Hit | None:
        """A hit of `category` whose last token is i - 1 (it ends right before token i)."""
        if category in CONTEXT:
            if not self._present[category]:
                return None
            span = CONTEXT[category].ending(self.tokens, i)
            return None if span is None else Hit(category, span[0], span[1], "")
        if category not in self._ends:
            self._ends[category] = _index(self.hits.get(category, []), by="end")
        return self._ends[category].get(i)

    def ending_within(self, category: str, i: int, back: int, skip: frozenset[str] = frozenset()) -> Hit | None:
        """A hit ending before token i, with at most `back` tokens from `skip` in between."""
        j = i
        for _ in range(back + 1):
            if hit := self.ending(category, j):
                return hit
            if j == 0 or (skip and self.tokens[j - 1] not in skip):
                return None
            j -= 1
        return None

    def negated(self, start: int, end: int) -> bool:
        """Is the word at [start, end) negated ("no kids", "not a child"), per `lexicon.NEGATION`?"""
        j = start
        while j > 0 and start - j < 4 and self.tokens[j - 1] in _NEGATION_FILLERS:
            if self.ending("negation", j):
                break
            j -= 1
        if not self.ending("negation", j):
            return False
        return not any(self.starting("negation_cancel", k) for k in range(end, min(end + 3, len(self.tokens))))


def _sexual_positions(reader: _Reader, *, image: bool) -> tuple[list[int], list[int]]:
    strong = [h.start for h in reader.hits.get("strong", ()) if h.start not in reader.safe]
    if not set(sx.EMOJI).isdisjoint(reader.distinct):
        strong += [i for i, t in enumerate(reader.tokens) if t in sx.EMOJI]
    setting = [h.start for h in reader.hits.get("setting", ())]
    if image:
        setting += [h.start for h in reader.hits.get("image_extra", ())]
    return sorted(strong), sorted(setting)


def _near(positions: list[int], i: int, window: int = WINDOW) -> bool:
    from bisect import bisect_left

    k = bisect_left(positions, i - window)
    return k < len(positions) and positions[k] <= i + window


def _is_thing(reader: _Reader, i: int, after: int) -> bool:
    """Is the age at tokens [i, after) a thing's ("a 15-year-old whisky", "the house is 15 years old")?"""
    tokens = reader.tokens
    nxt = tokens[after : after + 2]
    if any(t in _PEOPLE for t in nxt):
        return False
    if any(t in lx.THINGS for t in nxt):
        return True
    for k in range(i - 1, max(-1, i - 6), -1):  # back to the start of the clause
        t = tokens[k]
        if t in _BOUNDARY or t in _PEOPLE or t in _PRONOUNS:
            return False
        if t in lx.THINGS:
            return True
    return False


def _may_be_number(tok: str) -> bool:
    return (
        tok.isdigit()
        or tok in FIRST_WORDS
        or tok in ROMAN
        or tok.endswith(_COMPOUND_SUFFIXES)
        or tok.endswith(_CJK_SCHOOL_END)
        or (not tok.isascii() and any(u in tok for u in CJK_UNITS))
    )


def _read_numbers(reader: _Reader, findings: Findings, strong: list[int], today: date, *, image: bool) -> None:
    tokens = reader.tokens
    n = len(tokens)
    consumed = 0
    # Tokens that can start a number or an age, decided once per distinct token.
    candidates = {t for t in set(tokens) if _may_be_number(t)}
    year_tokens = {t for t in candidates if _is_year(t)}
    years = [k for k, t in enumerate(tokens) if t in year_tokens] if year_tokens else []
    for i, tok in enumerate(tokens):
        if i < consumed or tok not in candidates:
            continue
        compound = tok.endswith(_COMPOUND_SUFFIXES) and compound_age(tok)
        if compound:
            _age(reader, findings, strong, i, i + 1, compound, explicit=True, image=image)
            continue
        if not tok.isascii() and any(u in tok for u in CJK_UNITS):
            _cjk_ages(reader, findings, strong, i, image=image)
        if tok.endswith(_CJK_SCHOOL_END) and i + 1 < n and tokens[i + 1] in ("1", "2", "3", "4", "5", "6"):
            findings.signals.add("school_level")
            findings.image_school = findings.image_school or f"{tok} {tokens[i + 1]}"
        if not (tok.isdigit() or tok.isalpha()):
            continue
        num = number_at(tokens, i)
        if num is None:
            continue
        value, size, kind = num
        j = i + size
        consumed = j
        if kind == "digits" and j < n and tokens[j] in _ORDINAL_SUFFIXES:
            kind, j = "ordinal", j + 1  # 16th, 2nd, 4e, 4ème, 1º
        if tok.isdigit() and len(tok) in (2, 4):
            _birth_year(reader, findings, i, value, today)
        if value == 18 and reader.ending("under", i):
            _under(reader, findings, i, j)  # "under 18", "not yet eighteen"
            continue
        if value < 1 or value >= 18:
            continue
        if kind == "digits" and i > 0 and tokens[i - 1].isdigit():
            continue  # the second number of "10/10", "4 3 2 1"
        if kind == "digits" and j < n and tokens[j].isdigit():
            # A range ("13-14 year old", "ages 13-15") is read as one age; other runs of numbers
            # ("1 1 1", a phone number) are not ages.
            if len(tokens[j]) > 2 or not (
                reader.starting("age_unit", j + 1) or reader.ending_within("age_key", i, 4, _KEY_FILLERS)
            ):
                continue
            value, j = min(value, int(tokens[j])), j + 1
            consumed = j
        if kind == "digits" and (
            (j + 1 < n and tokens[j] in (".", ":", ",") and tokens[j + 1].isdigit() and not _is_year(tokens[j + 1]))
            or (years and _near(years, i, 4))
        ):
            continue  # 1.6 m, 11:30, 1,5; a day or month in a date (1990-05-12)
        unit = reader.starting("age_unit", j)
        if unit is None and j < n and not tokens[j].isascii() and tokens[j].startswith(CJK_UNITS):
            unit = Hit("age_unit", j, j + 1, tokens[j])  # 15歳, 15살
        key = reader.ending_within("age_key", i, 4, _KEY_FILLERS)
        copula = reader.ending_within("copula", i, 1, _QUALIFIERS)
        past = reader.ending_within("copula_past", i, 2, _QUALIFIERS)
        bare = reader.starting("years", j) if unit is None and kind != "ordinal" else None
        if bare:  # "14 years", "14 años", "14 лет": an age, a length of time, or unclear
            attached = _years_attached(reader, i, bare.end, key=key is not None, stated=bool(copula or past))
            if attached is None or (not attached and kind == "roman"):
                continue  # "14 years ago", "married 14 years", "for X years"
            if not attached:
                if kind == "digits" or value > 1:
                    _age(reader, findings, strong, i, bare.end, value, explicit=False, image=image)
                continue
            unit = bare  # then read like "14 years old": "she is 14 years", "a 14 years girl"
        end = unit.end if unit else j
        after_ok = end >= n or tokens[end] in _BOUNDARY or reader.starting("after_ok", end) is not None
        gender = end < n and tokens[end] in _GENDER and unit is None
        if unit and not key and (reader.ending("duration_before", i) or reader.starting("duration_after", unit.end)):
            continue  # "for 15 years", "hace 15 años", "15 years ago"
        if kind == "ordinal":
            french_year = (
                i + 1 < n and tokens[i + 1] in ("e", "eme") and i > 0 and tokens[i - 1] in _FRENCH_YEAR_BEFORE
            )
            if reader.starting("birthday", j):
                findings.signals.add("youth_number")
            elif french_year or reader.starting("school_after", j) or reader.ending_within("school_before", i, 1):
                findings.signals.add("school_level")
            continue
        if kind == "roman" and not (unit or key or (copula and after_ok)):
            continue
        if value <= 13 and not (unit or key or copula) and reader.ending_within("school_before", i, 1, _SCHOOL_FILLERS):
            findings.signals.add("school_level")  # "Year 8", "grade 7", "Klasse 8"
            findings.image_school = findings.image_school or f"{tokens[i - 1]} {tok}"
            continue
        after_dot = j + 1 if j + 1 < n and tokens[j] == "." else j  # "8. Klasse"
        school_after = reader.starting("school_after", j) or reader.starting("school_after", after_dot)
        if value <= 13 and not unit and school_after:  # "7th grade", "8. Klasse", "3º de la ESO"
            findings.signals.add("school_level")
            findings.image_school = findings.image_school or f"{tok} {tokens[j] if j < n else ''}"
            continue
        if reader.starting("birthday", j):
            findings.signals.add("youth_number")
            continue
        if unit or key or gender or (copula and after_ok):
            _age(reader, findings, strong, i, end, value, explicit=not past, image=image)
        elif past and after_ok:
            _age(reader, findings, strong, i, end, value, explicit=False, image=image)
        elif reader.ending("under", i):
            _under(reader, findings, i, j)
        elif after_ok and (kind == "digits" or value > 1) and not reader.ending("non_age_before", i):
            findings.signals.add("youth_number")  # a bare number where an age would stand


def _years_attached(reader: _Reader, i: int, end: int, *, key: bool, stated: bool) -> bool | None:
    """Is "<number> years" at tokens [i, end) someone's age (True), a length of time (None), or
    unclear (False)?

    An age: after an age key ("Age: 14 years", "aged 14 years"); before a person word ("a 14 years
    girl"); after a copula ("she is 14 years", "tiene 14 años", "ей 14 лет") when the statement
    ends there (`lexicon.YEARS_AFTER`, punctuation, the end of the text); after a person word and
    "of"/"de"/"von" ("una chica de 14 años"), or a comma ("girl, 14 years,"), or right after it
    when the text or clause ends ("девушка 14 лет."); after an "at" ("a los 14 años", "mit 14
    Jahren"). A length of time: a duration word before or after ("for 14 years", "married 14
    years", "14 years ago", "14 years apart"), and "N-year" before a word other than a person ("a
    10-year reunion"). Anything else ("14 years, naked", "these 14 years")
    is unclear.
    """
    tokens = reader.tokens
    n = len(tokens)
    if not key and (
        reader.ending("duration_before", i)
        or reader.ending("years_duration_before", i)
        or reader.starting("duration_after", end)
        or reader.starting("years_duration_after", end)
    ):
        return None
    if key or (end < n and tokens[end] in _PEOPLE) or reader.starting("minor", end):
        return True
    if (
        end + 1 < n
        and tokens[end] not in _BOUNDARY
        and not reader.starting("years_after", end)
        and (tokens[end + 1] in _PEOPLE or reader.starting("minor", end + 1))
    ):
        return True  # "a 14 years young girl", "a 14 years little girl"
    clause_ends = end >= n or tokens[end] in _BOUNDARY
    closed = clause_ends or reader.starting("years_after", end) is not None
    if closed and not clause_ends and end + 1 < n and number_at(tokens, end + 1) is not None:
        return False  # "5 years and 3 months": an age or a length of time
    if not closed and tokens[end - 1] in ("year", "yr"):
        return None  # "our 10-year reunion", "a 14-year contract": a length of time
    if (stated and closed) or reader.ending("years_at", i):
        return True
    k = i
    mark = tokens[k - 1] if k > 0 and (tokens[k - 1] in _PERSON_MARKS or tokens[k - 1] in lx.YEARS_OF) else ""
    if mark:
        k -= 1
    person = k > 0 and (
        tokens[k - 1] in _PEOPLE or tokens[k - 1] in _PRONOUNS or reader.ending("minor", k) is not None
    )
    if person and k > 1 and tokens[k - 2] in _POSSESSIVES:
        return False  # "my girl, 14 years and still…", "my woman of 14 years": a relationship's length
    return person and (mark in lx.YEARS_OF or (bool(mark) and closed) or (not mark and clause_ends))


def _is_year(token: str) -> bool:
    return len(token) == 4 and token.isdigit() and 1900 <= int(token) <= 2100


def _age(
    reader: _Reader, findings: Findings, strong: list[int], i: int, end: int, value: int, *, explicit: bool,
    image: bool,
) -> None:
    if _is_thing(reader, i, end):
        return
    findings.signals.add("youth_number")
    evidence = " ".join(reader.tokens[max(0, i - 3) : end])
    if explicit:
        findings.declared_age = True
        findings.image_age = findings.image_age or evidence
        if _near(strong, i) and not findings.decisive_age:
            findings.decisive_age = evidence


def _under(reader: _Reader, findings: Findings, i: int, j: int) -> None:
    """"under 16", "younger than 18": a youth signal unless it is a disclaimer."""
    hit = reader.ending("under", i)
    start = hit.start if hit else i
    if any(reader.ending("negation", k) for k in range(max(0, start - 1), start + 1)) or any(
        reader.tokens[k] in _IF for k in range(max(0, start - 4), start)
    ):
        return
    if any(reader.starting("disclaimer", k) for k in range(j, min(j + 4, len(reader.tokens)))):
        return
    findings.signals.add("age_phrase")


def _cjk_ages(reader: _Reader, findings: Findings, strong: list[int], i: int, *, image: bool) -> None:
    tok = reader.tokens[i]
    for unit in CJK_UNITS:
        at = tok.find(unit)
        while at > 0:
            value = cjk_number_before(tok, at)
            if value is None and unit in ("살", "세"):
                value = korean_number(tok[:at])
            if value is not None and 0 < value < 18:
                _age(reader, findings, strong, i, i + 1, value, explicit=True, image=image)
                return
            at = tok.find(unit, at + 1)
        if at == 0 and i > 0 and unit in ("살", "세"):
            prev = reader.tokens[i - 1]
            value = korean_number(prev)
            if value is not None and 0 < value < 18:
                _age(reader, findings, strong, i - 1, i + 1, value, explicit=True, image=image)
                return


def _birth_year(reader: _Reader, findings: Findings, i: int, value: int, today: date) -> None:
    """A year of birth that makes someone under 18 this year ("born in 2011", "DOB 2011-04-02")."""
    tokens = reader.tokens
    year = value
    if len(tokens[i]) == 2:
        year = 2000 + value if value <= today.year % 100 else 1900 + value
    if not 1900 <= year <= today.year:
        return
    before = any(reader.ending("birth", k) for k in range(max(0, i - 4), i + 1))
    after = reader.starting("birth", i + 1) is not None
    if len(tokens[i]) == 2 and not reader.ending("birth", i):
        return  # a two-digit year only right after "born in" ("born in '11")
    if (before or after) and today.year - year <= 18:
        findings.signals.add("birth_year")


def _words(reader: _Reader, findings: Findings) -> None:
    tokens = reader.tokens
    for hit in reader.hits.get("hard", ()):
        if not any(t in lx.NEVER_MINOR for t in tokens[hit.start : hit.end]):
            findings.hard = findings.hard or hit.text
    for hit in reader.hits.get("hard_neg", ()):
        if not reader.negated(hit.start, hit.end):
            findings.hard = findings.hard or hit.text
    for hit in reader.hits.get("minor", ()):
        if hit.start in reader.safe or any(t in lx.NEVER_MINOR for t in tokens[hit.start : hit.end]):
            continue
        if reader.negated(hit.start, hit.end):
            continue
        findings.signals.add("minor_word")
        findings.image_minor = findings.image_minor or hit.text
    for hit in reader.hits.get("image_minor", ()):
        if not reader.negated(hit.start, hit.end):
            findings.image_minor = findings.image_minor or hit.text
    for hit in reader.hits.get("school", ()):
        if hit.start in reader.safe or reader.negated(hit.start, hit.end):
            continue
        findings.signals.add("school_level")
        findings.image_school = findings.image_school or hit.text
    if reader.hits.get("developmental"):
        findings.signals.add("developmental")
    if any(not reader.negated(h.start, h.end) for h in reader.hits.get("age_phrase", ())):
        findings.signals.add("age_phrase")
    if reader.hits.get("family") or reader.hits.get("past"):
        findings.nonsexual_cue = True


def _numbers_in_runs(runs: list[str]) -> bool:
    """A number word inside a joined run ("s h e i s f o u r t e e n" → "sheisfourteen")."""
    return any(next(_RUN_NUMBERS.iter(run), None) is not None for run in runs if len(run) >= 5)


def _hard_in_runs(runs: list[str]) -> str:
    """Hard terms inside joined spaced-letter runs, where a stray letter removed the boundary."""
    for run in runs:
        squeezed = squeeze(run)
        for term in lx.HARD_IN_RUNS:
            if term in squeezed:
                return term
    return ""


def _real_person(reader: _Reader, findings: Findings) -> None:
    if names := reader.hits.get("real_name"):
        findings.real_person = names[0].text
    elif always := reader.hits.get("real_always"):
        findings.real_person = always[0].text
    elif findings.sexual:
        if pointer := reader.hits.get("real_sexual"):
            findings.real_person = pointer[0].text
        else:
            tokens = reader.tokens
            for k, tok in enumerate(tokens[:-1]):
                if tok == "@" and tokens[k + 1].isalnum() and len(tokens[k + 1]) >= 3:
                    findings.real_person = f"@{tokens[k + 1]}"
                    break


def analyse(text: str, *, image: bool, today: date, langs: frozenset[str] = frozenset()) -> Findings:
    """Read `text` (already known to be within the size limit) and return what stage 1 found."""
    findings = Findings()
    token_streams, runs = streams(text)
    findings.hard = _hard_in_runs(runs)
    if _numbers_in_runs(runs):
        findings.signals.add("youth_number")
    for stream in token_streams:
        reader = _Reader(stream.tokens, langs)
        strong, setting = _sexual_positions(reader, image=image)
        if strong:
            findings.strong = True
        if strong or setting:
            findings.sexual = True
        _words(reader, findings)
        if findings.hard:
            break  # refused whatever else the text holds
        _read_numbers(reader, findings, strong, today, image=image)
        if image and not findings.real_person:
            _real_person(reader, findings)
        if findings.hard or findings.decisive_age:
            break
    if findings.sexual:
        findings.signals.add("sexual")
    return findings
