"""Numbers as people write them: digits, number words in every covered language, Roman numerals,
Chinese/Japanese numerals and Korean native numbers.

Number words are generated with `num2words` at import (cardinals 1–99 and ordinals 1–20, with
the feminine ordinals that school years use), folded like the text, and kept in dictionaries:
reading a number is a dictionary lookup per token. Compound age words are read by their stem:
German "fünfzehnjährige", Dutch "vijftienjarige", Polish "piętnastoletnia", Russian
"пятнадцатилетняя", Italian "quindicenne" are a number stem followed by an age suffix.
"""

from __future__ import annotations

from functools import cache

from num2words import num2words

from bot.safety.normalize import _plain, tokenize

__all__ = [
    "CARDINALS",
    "CJK_UNITS",
    "COMPOUND_SUFFIXES",
    "FIRST_WORDS",
    "ORDINALS",
    "ROMAN",
    "cjk_number_before",
    "compound_age",
    "korean_number",
    "number_at",
]

LANGS = ("en", "es", "pt", "pt_BR", "fr", "de", "it", "nl", "pl", "ru", "ja", "ko")
MAX_WORDS = 3  # the longest number phrase read ("treinta y cinco", "vingt et un")


def _fold(text: str) -> tuple[str, ...]:
    return tuple(p for t in tokenize(text) for p in _plain(t))


def _feminine(word: str, lang: str) -> list[str]:
    """Feminine ordinals for school years ("terza media", "siódma klasa", "segunda")."""
    if lang in ("es", "pt", "it") and word.endswith("o"):
        return [word[:-1] + "a"]
    if lang == "pl" and word.endswith("y"):
        return [word[:-1] + "a"]
    return []


@cache
def _tables() -> tuple[dict[tuple[str, ...], int], dict[tuple[str, ...], int], dict[str, int]]:
    cardinals: dict[tuple[str, ...], int] = {}
    ordinals: dict[tuple[str, ...], int] = {}
    stems: dict[str, int] = {}
    for lang in LANGS:
        for n in range(1, 100):
            try:
                word = num2words(n, lang=lang)
            except (NotImplementedError, OverflowError, ValueError):
                continue
            key = _fold(word)
            if key and 0 < len(key) <= MAX_WORDS:
                cardinals.setdefault(key, n)
                if len(key) == 1 and len(key[0]) >= 4:
                    stems.setdefault(key[0], n)
        for n in range(1, 100 if lang == "ko" else 21):
            try:
                word = num2words(n, lang=lang, to="ordinal")
            except (NotImplementedError, OverflowError, ValueError, AttributeError):
                continue
            if lang == "ko":
                word = word.replace("번째", "").strip()  # 열다섯 번째 → 열다섯 (native Korean)
                key = _fold(word)
                if key:
                    cardinals.setdefault(key, n)
                continue
            if lang == "ja":
                continue
            for form in (word, *_feminine(word, lang)):
                key = _fold(form)
                if key and len(key) <= MAX_WORDS:
                    ordinals.setdefault(key, n)
                    if len(key) == 1 and len(key[0]) >= 5:
                        stems.setdefault(key[0], n)
    # Feminine/alternative cardinals num2words does not list.
    for word, n in (("una", 1), ("une", 1), ("eine", 1), ("una", 1), ("jedna", 1), ("одна", 1), ("две", 2),
                    ("duas", 2), ("dwie", 2), ("dieciseis", 16), ("dezesseis", 16), ("dezessete", 17)):
        cardinals.setdefault(_fold(word), n)
    # Korean native numbers used for ages: 한 살, 두 살, 세 살, 네 살, 스무 살.
    for word, n in (("하나", 1), ("한", 1), ("둘", 2), ("두", 2), ("셋", 3), ("세", 3), ("넷", 4), ("네", 4),
                    ("열한", 11), ("열두", 12), ("열세", 13), ("열네", 14), ("스무", 20), ("스물", 20)):
        cardinals.setdefault((word,), n)
    return cardinals, ordinals, stems


CARDINALS, ORDINALS, _STEMS = _tables()
# Number words that never start anything else, for a quick test per token.
FIRST_WORDS = frozenset(k[0] for k in (*CARDINALS, *ORDINALS))


def _roman(n: int) -> str:
    out = ""
    for value, letters in ((10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
        while n >= value:
            out += letters
            n -= value
    return out


ROMAN = {_roman(n): n for n in range(1, 40)}


def number_at(tokens: list[str], i: int) -> tuple[int, int, str] | None:
    """The number that starts at token `i`: (value, tokens used, kind) or None.

    kind: "digits", "word", "ordinal" or "roman" (Roman numerals are only numbers where the
    caller sees an age unit or key, since "I", "V" and "X" are ordinary words).
    """
    tok = tokens[i]
    if tok.isdigit():
        if len(tok) > 6:
            return None
        return int(tok), 1, "digits"
    if tok in FIRST_WORDS:
        for size in range(min(MAX_WORDS, len(tokens) - i), 0, -1):
            key = tuple(tokens[i : i + size])
            if key in CARDINALS:
                return CARDINALS[key], size, "word"
            if key in ORDINALS:
                return ORDINALS[key], size, "ordinal"
    if tok in ROMAN:
        return ROMAN[tok], 1, "roman"
    return None


# Suffixes of compound age words, with the linking letters that may precede them.
_RAW_SUFFIXES = (
    "jahrige", "jahriger", "jahriges", "jahrigen", "jahrig", "jarige", "jarig", "letnia", "letni", "letnie",
    "letniej", "latka", "latek", "летняя", "летний", "летнего", "летней", "летнюю", "летние", "летка", "enne", "enni",
    "anera", "anero", "añera", "añero", "yearold",
)
# Folded like the text ("летней" loses its breve: "летнеи").
COMPOUND_SUFFIXES = tuple(dict.fromkeys("".join(_fold(s)) for s in _RAW_SUFFIXES))


def _stem_index() -> dict[str, int]:
    """Every number word cut short by up to two letters, longest words first ("pietnast" of
    "pietnasty" is 15, "quindic" of "quindici" is 15), for reading compound age words."""
    index: dict[str, int] = {}
    for word, n in sorted(_STEMS.items(), key=lambda kv: -len(kv[0])):
        for cut in range(len(word), max(3, len(word) - 3), -1):
            index.setdefault(word[:cut], n)
    return index


_STEM_INDEX = _stem_index()


def compound_age(token: str) -> int | None:
    """The age in a compound word ("fünfzehnjährige" → 15, "пятнадцатилетняя" → 15), or None.

    A constant number of dictionary lookups per token: the stem before the age suffix, cut by up
    to three letters (linking vowels: "piętnasto-latka", "пятнадцати-летняя").
    """
    if len(token) < 6:
        return None
    for suffix in COMPOUND_SUFFIXES:
        if token.endswith(suffix) and len(token) > len(suffix):
            stem = token[: -len(suffix)]
            if stem.isdigit():
                return int(stem)
            for cut in range(len(stem), max(3, len(stem) - 4), -1):
                value = _STEM_INDEX.get(stem[:cut])
                if value is not None:
                    return value
            return None
    return None


# --- Chinese, Japanese and Korean ---------------------------------------------------------------
CJK_UNITS = ("歳", "才", "岁", "歲", "さい", "살", "세")
_CJK_DIGITS = {
    "〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
    "十": 10,
}
_SINO_KOREAN = {"일": 1, "이": 2, "삼": 3, "사": 4, "오": 5, "육": 6, "칠": 7, "팔": 8, "구": 9, "십": 10}


def _cjk_value(chars: str, table: dict[str, int]) -> int | None:
    """Read 十五, 二十五, 五, 십오 (a ten marker with optional digits either side)."""
    if not chars:
        return None
    ten = next((c for c, v in table.items() if v == 10), "十")
    if ten in chars:
        left, _, right = chars.partition(ten)
        tens = table.get(left, 0) if left else 1
        ones = table.get(right, 0) if right else 0
        if (left and left not in table) or (right and right not in table):
            return None
        return tens * 10 + ones
    if len(chars) == 1:
        return table.get(chars)
    return None


def cjk_number_before(token: str, unit_at: int) -> int | None:
    """The Chinese/Japanese/Korean number that ends just before position `unit_at` of `token`."""
    for table in (_CJK_DIGITS, _SINO_KOREAN):
        start = unit_at
        while start > 0 and token[start - 1] in table and unit_at - start < 4:
            start -= 1
        value = _cjk_value(token[start:unit_at], table)
        if value is not None:
            return value
    return korean_number(token[:unit_at])


def korean_number(text: str) -> int | None:
    """A native Korean number word that ends `text` ("열다섯" → 15)."""
    for size in range(min(4, len(text)), 0, -1):
        key = (text[-size:],)
        if key in CARDINALS and not text[-size:].isascii():
            return CARDINALS[key]
    return None
