"""From raw text to the token streams the rules read, in linear time and without regular expressions.

Everything people do to slip a word past a filter is undone here, once, so the word lists in
`bot.safety.lexicon` are written plainly:

- compatibility forms (fullwidth `ｌｏｌｉ`, mathematical `𝐥𝐨𝐥𝐢`, circled `ⓛⓞⓛⓘ`, superscript `¹⁵`,
  mathematical digits `𝟏𝟓`): NFKC; circled and dingbat numbers (`⑮`, `➓`, `🔟`) become digits;
- keycap digits (`1️⃣5️⃣`): the variation selector and the enclosing keycap are dropped;
- case: `casefold()`;
- accents, strike-throughs and "zalgo" marks: NFKD, combining marks dropped, NFC again (kana
  voicing marks and Hangul are kept intact, so Japanese and Korean still read correctly);
- zero-width and other invisible characters: dropped;
- look-alike letters from other scripts (Cyrillic `а` in `lоli`): mapped to the Latin letter
  they imitate, inside words that also hold Latin letters (all-Cyrillic words stay Russian);
- letters spaced or punctuated apart (`l o l i`, `k.i.d`): joined (`streams`);
- leetspeak inside words (`l0l1`, `$h0ta`, `k!d`): mapped to letters (`streams`);
- stretched letters (`lolliii`, `kiiid`): matched by `bot.safety.scan`, which compares words
  with their repeated letters squeezed and then checks that no letter was dropped.

Tokens are runs of letters, runs of digits, and single punctuation marks; an apostrophe joins
(`she's` → `shes`, `l'âge` → `lage`), hyphens, slashes and underscores separate. Every step is a
C-level string method (`translate`, `split`, `normalize`) or a Python loop over tokens with a
constant amount of work per token, so the cost is linear in the text whatever it contains.
"""

from __future__ import annotations

import unicodedata

__all__ = ["Stream", "fold", "join_spaced", "streams", "tokenize", "unreverse"]

# Kana voicing marks are combining marks (Mn) but change the word (カ/ガ); keep them.
# The token a line break becomes.
LINE_BREAK = "¶"
_KEEP_MARKS = frozenset({0x3099, 0x309A})
_DROP_CATEGORIES = frozenset({"Mn", "Me", "Cf"})
# Invisible characters Unicode does not class as Cf: Hangul fillers (dropped), Braille blank (space).
_INVISIBLE: dict[int, str | None] = {0x115F: None, 0x1160: None, 0x3164: None, 0xFFA0: None, 0x2800: " "}

# Look-alikes that survive NFKC + casefold, "<look-alike><latin>".
_SCRIPT_PAIRS = (
    "аa бb вb гr дd еe ёe ԑe жx зe иu йu іi їi јj кk лn мm нh оo пn рp сc тt уy ўy фf хx цu чy"
    " шw щw ъb ыbi ьb эe юio яr ѕs ԁd ԛq ԝw ӏl ҝk һh ҫc ґr"
    " αa βb γy δd εe ζz ηn θo ιi κk λl μu νv ξe οo πn ρp σo ςc τt υu φf χx ψw ωw άa έe ήn ίi όo ύu ώw"
    " օo սu հh ոn ցg ժd"
)
# Latin small capitals and variants: never a word of a covered language, so always mapped.
_LATIN_PAIRS = (
    "ıi ɩi ɪi łl ƚl ʟl ɫl øo ɵo ᴏo đd ɖd ᴅd ħh ʜh ɑa ᴀa ʙb ᴄc ᴇe ꜰf ɢg ɡg ᴊj ᴋk ᴍm ɴn ᴘp ʀr ꜱs ᴛt"
    " ᴜu ᴠv ᴡw ʏy ᴢz ƅb ɓb ƈc ɗd ɛe ɠg ɦh ɨi ɱm ɲn ɳn ɔo ƥp ʠq ɽr ʂs ƭt ʉu ʋv ⱳw ƴy ȥz"
)
_HOMOGLYPHS = {ord(p[0]): p[1:] for p in (_SCRIPT_PAIRS + _LATIN_PAIRS).split()}
_LATIN_LOOKALIKES = {ord(p[0]): p[1:] for p in _LATIN_PAIRS.split()}
# Letters of Polish, German... that are not look-alikes but have no decomposition: fold them
# the same way in text and word lists.
_LATIN_EXTRA = {ord("ł"): "l", ord("ø"): "o", ord("đ"): "d", ord("ħ"): "h", ord("ı"): "i", ord("ß"): "ss"}

# Enclosed letters without a compatibility decomposition (squared, negative circled/squared,
# regional indicators): each runs A..Z from a base code point.
_ENCLOSED_ALPHABETS = (0x1F130, 0x1F150, 0x1F170, 0x1F1E6)
# Numbers drawn as symbols that NFKC leaves alone: dingbat circled digits, keycap ten.
_NUMBER_SYMBOLS = (range(0x2776, 0x2794), range(0x24EB, 0x2500), range(0x3251, 0x32C0), range(0x1F100, 0x1F10D))

# Punctuation that becomes its own token; the others of its kind are folded onto it.
_SENTENCE_END = ".?;…。！？；"
_OWN_TOKEN = ",:()[]{}\"=*~+<>#%€£¥&、，：（）「」『』【】《》🍆💦🍑🔞👅"
_SEPARATORS = "-_/\\‐‑‒–—―⁄·•"
_JOINERS = "'’‘ʼ′`´"


def _base_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for base in _ENCLOSED_ALPHABETS:
        table.update({base + i: chr(ord("a") + i) for i in range(26)})
    for block in _NUMBER_SYMBOLS:
        for cp in block:
            value = unicodedata.numeric(chr(cp), None)
            if value is not None and value == int(value):
                table[cp] = f" {int(value)} "
    table[0x1F51F] = " 10 "  # 🔟
    table.update(_INVISIBLE)
    table.update(_LATIN_EXTRA)
    table.update(_LATIN_LOOKALIKES)
    table.update({ord(ch): " " for ch in _SEPARATORS})
    table.update({ord(ch): "" for ch in _JOINERS})
    # A line break ends a sentence or a card field ("I'm 14\nwanna sext?", "age: 14\nlikes: …").
    table.update({ord(ch): f" {LINE_BREAK} " for ch in "\n\u2028\u2029"})
    table[ord("\r")] = " "
    return table


def _punct_table() -> dict[int, str]:
    table = {ord(ch): " . " for ch in _SENTENCE_END}
    table.update({ord(ch): f" {ch} " for ch in _OWN_TOKEN})
    return table


_TABLE = _base_table()
_PUNCT = _punct_table()
# ASCII-only text skips Unicode work; this is the part of _TABLE that concerns ASCII.
_ASCII_TABLE = {k: v for k, v in _TABLE.items() if k < 128}


def fold(text: str) -> str:
    """`text` in one canonical form: NFKC, case-folded, marks and invisibles dropped, numbers as
    digits, hyphens as spaces, apostrophes joined. Punctuation stays in place (see `tokenize`);
    look-alike letters are not mapped here, so Cyrillic stays Cyrillic."""
    if text.isascii():
        return text.lower().translate(_ASCII_TABLE)
    text = unicodedata.normalize("NFKC", text).casefold()
    text = unicodedata.normalize("NFKD", text)
    # One category lookup per distinct character, not per character: linear however long.
    drop = {
        ord(ch): None
        for ch in set(text)
        if ord(ch) not in _KEEP_MARKS and unicodedata.category(ch) in _DROP_CATEGORIES
    }
    text = unicodedata.normalize("NFC", text.translate(drop))
    return text.translate(_TABLE)


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x3040 <= cp <= 0x30FF  # kana
        or 0x3400 <= cp <= 0x9FFF  # CJK ideographs
        or 0xAC00 <= cp <= 0xD7AF  # Hangul syllables
        or 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F  # Hangul jamo
        or 0xF900 <= cp <= 0xFAFF or 0xFF66 <= cp <= 0xFF9F
    )


def _split_mixed(token: str) -> list[str]:
    """Split a token at every change between digits, Latin/Cyrillic letters and CJK characters
    ("15yo" → "15", "yo"; "15歳" → "15", "歳"). Only called for tokens that mix them."""
    out: list[str] = []
    start = 0
    kind = None
    for i, ch in enumerate(token):
        k = 0 if ch.isdigit() else (1 if _is_cjk(ch) else (2 if ch.isalpha() else 3))
        if kind is not None and k != kind:
            out.append(token[start:i])
            start = i
        kind = k
    out.append(token[start:])
    return [t for t in out if t]


def _latinise(token: str) -> str:
    """Map look-alike letters to Latin in a word that also holds Latin letters ("lоli")."""
    if token.isascii():
        return token
    has_latin = any("a" <= ch <= "z" for ch in token)
    return token.translate(_HOMOGLYPHS) if has_latin else token


def _split(piece: str) -> list[str]:
    if not piece.isascii() and _mostly_latin(piece):
        # In Latin text, a short word made only of look-alike letters ("а", "уо") is an
        # obfuscation too; longer ones may be Russian words quoted in it.
        # (The map has no ASCII keys: an ASCII word, most of them, is left as it is without a look-up.)
        return [t.translate(_HOMOGLYPHS) if len(t) <= 3 and not t.isascii() else _latinise(t)
                for t in piece.translate(_PUNCT).split()]
    return [_latinise(t) for t in piece.translate(_PUNCT).split()]


def _mostly_latin(text: str) -> bool:
    letters = sum(map(str.isalpha, text))
    ascii_letters = sum(map(str.isalpha, text.encode("ascii", "ignore").decode()))
    return ascii_letters * 2 > letters


def tokenize(text: str) -> list[str]:
    """The raw tokens of `text` (see the module docstring); leet characters stay inside words."""
    return _split(fold(text))


# --- spaced letters ----------------------------------------------------------------------------
_RUN_SEPARATORS = frozenset(".,*~+:|\"")
_RUN_CHARS = frozenset("@$!")


_TRAILING = ".,*~:;?"


def _lone(piece: str) -> bool:
    """A single character, possibly followed by punctuation that ends the run ("d," in "k i d,")."""
    return (piece[0].isalnum() or piece[0] in _RUN_CHARS) and (len(piece) == 1 or not piece[1:].strip(_TRAILING))


def _dotted(piece: str) -> str | None:
    """"l.o.l.i", "k.i.d.", "c.p" as "loli", "kid", "cp": single characters between punctuation."""
    if len(piece) < 3 or (piece[1] not in _RUN_SEPARATORS and piece[0] not in _RUN_SEPARATORS):
        return None
    body = piece.strip(".,*~:")
    if len(body) < 3 or len(body) % 2 == 0:
        return None
    letters, seps = body[::2], body[1::2]
    if any(ch.isalpha() for ch in letters) and all(ch.isalnum() or ch in _RUN_CHARS for ch in letters) and all(
        ch in _RUN_SEPARATORS for ch in seps
    ):
        return letters
    return None


def _join_runs(pieces: list[str]) -> tuple[list[str], list[str]]:
    """Join letters spaced apart ("l o l i") or punctuated apart ("l.o.l.i") into one word.

    `pieces` are the whitespace-separated pieces of the folded text. Returns the new pieces and
    every joined run (the hard terms are also looked for inside runs, where a stray letter
    removes the word boundary: "x l o l i" → "xloli"). Runs of two letters join only across
    punctuation ("c.p"): two lone letters with a space are ordinary. A run of four or more that
    starts with "a" or "i" keeps that letter apart ("a k i d" → "a kid").
    """
    out: list[str] = []
    runs: list[str] = []
    i, n = 0, len(pieces)
    while i < n:
        piece = pieces[i]
        if (dotted := _dotted(piece)) is not None:
            runs.append(dotted)
            out.append(dotted)
            i += 1
            continue
        if len(piece) > 4 or not _lone(piece):
            out.append(piece)
            i += 1
            continue
        j = i
        while j < n and _lone(pieces[j]):
            j += 1
            if len(pieces[j - 1]) > 1:
                break  # punctuation after the letter ends the run
            if j + 1 < n and pieces[j] == LINE_BREAK and _lone(pieces[j + 1]):
                j += 1  # letters one per line ("l\no\nl\ni") are a run too
        tail = pieces[j - 1][1:]
        chars = [p[0] for p in pieces[i:j] if p != LINE_BREAK]
        if len(chars) < 3:
            out.extend(pieces[i:j])  # (a line break inside needs three letters around it to join)
            i = j
            continue
        joined = "".join(chars)
        runs.append(joined)
        if len(chars) >= 4 and chars[0].translate(_HOMOGLYPHS) in ("a", "i"):
            out.extend((chars[0], joined[1:]))
        else:
            out.append(joined)
        if tail:
            out.append(tail)
        i = j
    return out, runs


# --- leetspeak ----------------------------------------------------------------------------------
_LEET_BASE = {
    "0": "o", "3": "e", "4": "a", "5": "s", "6": "g", "7": "t", "8": "b", "9": "g", "@": "a", "$": "s", "|": "l",
}
_LEET_I = str.maketrans({**_LEET_BASE, "1": "i", "!": "i"})
_LEET_L = str.maketrans({**_LEET_BASE, "1": "l", "!": "i"})
_LEET_CHARS = frozenset("0123456789@$!|")
_SYMBOLS = frozenset("@$!|")


def _plain(token: str) -> list[str]:
    """A raw token as words and numbers: leet symbols become separators, mixed runs split."""
    if len(token) == 1 or token.isdigit() or (token.isalpha() and token.isascii()):
        return [token]
    if token.isalpha():
        return _split_mixed(token)  # Latin beside CJK ("jkとエッチ")
    if any(ch in _SYMBOLS for ch in token):
        pieces: list[str] = []
        current = ""
        for ch in token:
            if ch in _SYMBOLS:
                if current:
                    pieces.append(current)
                pieces.append(ch)
                current = ""
            else:
                current += ch
        if current:
            pieces.append(current)
        return [p for piece in pieces for p in (_split_mixed(piece) if len(piece) > 1 else [piece])]
    return _split_mixed(token)


def _leet(token: str, table: dict[int, str]) -> str:
    if token.isalpha() or token.isdigit() or not any(ch in _LEET_CHARS for ch in token):
        return token
    if not any(ch.isalpha() for ch in token):
        return token  # bare numbers stay numbers ("4 kids", "room 15")
    stripped = token.rstrip("!")  # a trailing "!" is punctuation
    return stripped.translate(table) + " ." * (len(stripped) != len(token))


def _needs_leet(token: str) -> bool:
    if token.isalpha() or token.isdigit() or len(token) < 2:
        return False
    return any(ch in _LEET_CHARS for ch in token) and any(ch.isalpha() for ch in token)


class Stream:
    """One reading of the text as a token list (see `streams`)."""

    __slots__ = ("leet", "tokens")

    def __init__(self, tokens: list[str], *, leet: bool) -> None:
        self.tokens = tokens
        self.leet = leet


def _flatten(tokens: list[str], *, cjk: bool) -> list[str]:
    # Most tokens are plain words or numbers; only the others go through `_plain`. Without any
    # Chinese, Japanese or Korean in the text, a word of letters needs no splitting.
    simple = _simple_with_cjk if cjk else _simple
    if all(map(simple, tokens)):
        return tokens
    # Each distinct token is split once (text repeats its words).
    split = {t: [t] if simple(t) else _plain(t) for t in set(tokens)}
    return [p for t in tokens for p in split[t]]


def _simple(token: str) -> bool:
    return len(token) == 1 or token.isalpha() or token.isdigit()


def _simple_with_cjk(token: str) -> bool:
    return len(token) == 1 or token.isdigit() or (token.isalpha() and token.isascii())


_RLO, _PDF = "\u202e", "\u202c"


def unreverse(text: str) -> str:
    """Text after U+202E (right-to-left override) is stored backwards and shown forwards, up to
    U+202C or the end of the line: read it the way people see it."""
    out: list[str] = []
    start = text.find(_RLO)
    while start != -1:
        end = len(text)
        for stop in (text.find(_PDF, start + 1), text.find("\n", start + 1), text.find(_RLO, start + 1)):
            if stop != -1:
                end = min(end, stop)
        out.append(text[start + 1 : end][::-1])
        start = text.find(_RLO, end)
    return "\n".join(out)


def streams(text: str) -> tuple[list[Stream], list[str]]:
    """The distinct readings of `text` the rules check, and the joined spaced-letter runs.

    1. the tokens as written; 2. with spaced letters joined; 3 and 4. that, with leetspeak read
    as letters ("1" as i, then as l). Readings equal to an earlier one are dropped, so ordinary
    text is read once.
    """
    if _RLO in text:
        text = f"{text}\n{unreverse(text)}"
    folded = fold(text)
    cjk = not folded.isascii() and any(map(_is_cjk, set(folded)))
    pieces = folded.split()
    joined_pieces, runs = _join_runs(pieces)
    raw = _split(" ".join(pieces))
    joined = _split(" ".join(joined_pieces)) if runs else raw
    flat_raw = _flatten(raw, cjk=cjk)
    candidates = [(flat_raw, False), (_flatten(joined, cjk=cjk) if runs else flat_raw, False)]
    distinct = set(joined)
    if any(map(_needs_leet, distinct)):
        for table in (_LEET_I, _LEET_L):
            mapped = {t: _leet(t, table) for t in distinct}
            candidates.append((" ".join(map(mapped.__getitem__, joined)).split(), True))
    out: list[Stream] = []
    seen: set[tuple[str, ...]] = set()
    for tokens, leet in candidates:
        key = tuple(tokens)
        if key not in seen:
            seen.add(key)
            out.append(Stream(tokens, leet=leet))
    leet_runs = [r.translate(table) for r in runs for table in (_LEET_I, _LEET_L)]
    return out, list(dict.fromkeys(runs + leet_runs))


def join_spaced(text: str) -> str:
    """`text` as tokens with spaced-out letters joined ("l o l i" → "loli"), for tests and docs."""
    joined, _ = _join_runs(fold(text).split())
    return " ".join(_split(" ".join(joined)))
