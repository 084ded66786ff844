"""Undoing obfuscation before the content rules run.

The rules in `bot.safety.rules` are written once, against lower-case Latin text. Everything people
do to slip a word past a filter is undone here instead:

- compatibility forms (fullwidth `ｌｏｌｉ`, mathematical `𝐥𝐨𝐥𝐢`, circled `ⓛⓞⓛⓘ`): NFKC;
- case: `casefold()` (also folds `ß` and friends);
- accents, combining strike-throughs and "zalgo" marks: NFKD, then combining marks are dropped;
- zero-width and other invisible characters (Unicode category Cf, Hangul fillers): dropped;
- look-alike letters from other scripts (Cyrillic `а`, Greek `ο`, small capitals `ᴋ`, squared and
  regional-indicator letters): mapped to the Latin letter they imitate;
- letters spaced or punctuated apart (`l o l i`, `k.i.d`, `c-h-i-l-d`): joined;
- leetspeak inside words (`l0l1`, `$h0ta`, `k!d`): mapped to letters.

Repeated letters (`lolliii`) are not collapsed here, because doubling is meaningful in ordinary
words; the rule patterns allow repeats instead (`l+o+l+i+`).

`variants()` returns the few forms the rules check. Ages are read from the forms that keep digits,
because leetspeak mapping turns `15yo` into `isyo`.
"""

from __future__ import annotations

import re
import unicodedata

from bot.safety.lexicon import NUMBER_WORDS

# Combining marks (Mn, Me) are dropped after NFKD so that accents and strike-through/zalgo
# decorations vanish; Cf covers zero-width spaces/joiners, soft hyphens, bidi controls, tags.
_DROP_CATEGORIES = frozenset({"Mn", "Me", "Cf"})

# Invisible characters that Unicode does not class as Cf but people use as blanks between
# letters. Hangul fillers are dropped; the Braille blank is treated as a space.
_INVISIBLE = {0x115F: None, 0x1160: None, 0x3164: None, 0xFFA0: None, 0x2800: " "}

# Look-alikes that survive NFKC + casefold. Pairs are "<look-alike><latin>". Only letters that
# a reader would take for the Latin one are listed; text in those scripts becomes gibberish, but
# the screen only looks for Latin words, so gibberish cannot match anything.
_HOMOGLYPH_PAIRS = (
    # Cyrillic
    "аa бb вb гr дd еe ёe ԑe жx зe иu йu іi їi јj кk лn мm нh оo пn рp сc тt уy ўy фf хx цu чy"
    " шw щw ъb ыbi ьb эe юio яr ѕs ԁd ԛq ԝw ӏl ҝk һh ҫc ґr"
    # Greek
    " αa βb γy δd εe ζz ηn θo ιi κk λl μu νv ξe οo πn ρp σo ςc τt υu φf χx ψw ωw άa έe ήn ίi όo ύu ώw"
    # Armenian
    " օo սu հh ոn ցg ժd"
    # Latin extensions and small capitals
    " ıi ɩi ɪi łl ƚl ʟl ɫl øo ɵo ᴏo đd ɖd ᴅd ħh ʜh ɑa ᴀa ʙb ᴄc ᴇe ꜰf ɢg ɡg ᴊj ᴋk ᴍm ɴn ᴘp ʀr ꜱs ᴛt"
    " ᴜu ᴠv ᴡw ʏy ᴢz ƅb ɓb ƈc ɗd ɛe ɠg ɦh ɨi ɱm ɲn ɳn ɔo ƥp ʠq ɽr ʂs ƭt ʉu ʋv ⱳw ƴy ȥz"
    # Typographic punctuation that NFKC leaves alone
    " ’' ‘' ʼ' ′' “\" ”\" ‐- ‑- ‒- –- —- ―- ⁄/"
)
# Enclosed letters without a compatibility decomposition: squared, negative circled and negative
# squared capitals and regional indicators (🅻🅾🅻🅸, 🇱🇴🇱🇮) each run A..Z from a base code point.
_ENCLOSED_ALPHABETS = (0x1F130, 0x1F150, 0x1F170, 0x1F1E6)


def _translation_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {ord(pair[0]): pair[1:] for pair in _HOMOGLYPH_PAIRS.split()}
    table.update(_INVISIBLE)
    for base in _ENCLOSED_ALPHABETS:
        table.update({base + i: chr(ord("a") + i) for i in range(26)})
    return table


_HOMOGLYPHS = _translation_table()

_WHITESPACE = re.compile(r"\s+")

# Letters spaced apart: a run of single characters (letters, digits, and the leet symbols @ $)
# separated by one to three spacing/punctuation characters; the lookarounds make every member of
# the run a lone character. "!" and "|" are not separators: they are leet letters ("k!d", "|o|i").
_CHAR = r"[a-z0-9@$]"
_SEP = r"[\s._\-*~+,:;/\\'\"`^=]"
_SPACED_RUN = re.compile(rf"(?<![a-z0-9@$]){_CHAR}(?:{_SEP}{{1,3}}{_CHAR}(?![a-z0-9@$]))+")
_SPACED_MEMBER = re.compile(_CHAR)

# Leetspeak is mapped only inside tokens that also hold a letter, so bare numbers ("4 kids",
# "room 15") stay numbers. "1" is ambiguous (i or l), so two variants are produced.
_LEET_BASE = {"0": "o", "3": "e", "4": "a", "5": "s", "6": "g", "7": "t", "8": "b", "9": "g", "@": "a", "$": "s"}
_LEET_I = str.maketrans({**_LEET_BASE, "1": "i"})
_LEET_L = str.maketrans({**_LEET_BASE, "1": "l"})
# Whole tokens that hold at least one leet character (the lookahead scans one token only, so
# this stays linear); most tokens hold none and are skipped without a Python call.
_LEET_TOKEN = re.compile(r"(?<!\S)(?=[^\s0-9@$!|]*[0-9@$!|])\S+")
_HAS_LETTER = re.compile(r"[a-z]")
# "!" stands for i only between letters ("k!d"): a trailing "!" is punctuation, and mapping it
# would break the word it ends. "|" stands for l next to any letter ("|o|i").
_INNER_BANG = re.compile(r"(?<=[a-z])!(?=[a-z])")
_INNER_PIPE = re.compile(r"(?<=[a-z])\||\|(?=[a-z])")


def normalize(text: str) -> str:
    """Return `text` folded to plain lower-case Latin: look-alikes mapped, invisibles removed.

    Punctuation and digits are kept; runs of whitespace become one space. Offsets are not kept
    (the rules only need positions within one normalised form).
    """
    if text.isascii():
        # Fast path: nothing to fold but case; most chat text takes it.
        return _WHITESPACE.sub(" ", text.lower())
    folded = unicodedata.normalize("NFKC", text).casefold()
    decomposed = unicodedata.normalize("NFKD", folded)
    kept = "".join(ch for ch in decomposed if unicodedata.category(ch) not in _DROP_CATEGORIES)
    mapped = kept.translate(_HOMOGLYPHS)
    return _WHITESPACE.sub(" ", mapped)


def join_spaced(text: str) -> str:
    """Join letters spaced or punctuated apart: `l o l i` → `loli`, `k.i.d` → `kid`.

    Runs of three or more lone characters are joined. Runs of two are joined only when the
    separator is punctuation (`c.p`), because two lone letters with a space ("i a") are ordinary.
    A leading "a" or "i" followed by a space may be an ordinary word ("a k i d"), so the run is
    also emitted without it; both forms are kept side by side.
    """

    def join(match: re.Match[str]) -> str:
        run = match.group(0)
        chars = _SPACED_MEMBER.findall(run)
        if len(chars) == 2 and any(ch.isspace() for ch in run):
            return run
        joined = "".join(chars)
        if len(chars) >= 4 and chars[0] in "ai" and run[1].isspace():
            return f"{joined} {chars[0]} {joined[1:]}"
        return joined

    return _SPACED_RUN.sub(join, text)


def spaced_runs(text: str) -> list[str]:
    """The joined forms of the spaced-out runs in normalised `text`, each in every leet reading.

    A stray letter next to a spaced word ("x l o l i") joins into one token ("xloli") that the
    whole-word rules miss, so the rules also look inside these runs for the few terms that are
    never part of an ordinary word.
    """
    runs = ["".join(_SPACED_MEMBER.findall(m.group(0))) for m in _SPACED_RUN.finditer(text)]
    runs = [r for r in runs if len(r) >= 4]
    return list(dict.fromkeys(form for r in runs for form in (r, r.translate(_LEET_I), r.translate(_LEET_L))))


def _leet(text: str, table: dict[int, str]) -> str:
    def token(match: re.Match[str]) -> str:
        tok = match.group(0)
        if not _HAS_LETTER.search(tok):
            return tok
        tok = tok.translate(table)
        tok = _INNER_BANG.sub("i", tok)
        return _INNER_PIPE.sub("l", tok)

    return _LEET_TOKEN.sub(token, text)


_ALNUM_TOKEN = re.compile(r"[a-z0-9]+")


def _leet_number_words(text: str) -> str:
    """Spell out number words hidden in leetspeak ("f1fteen" → "fifteen") for the age rules.

    Only tokens that mix letters and digits and whose leet reading contains a number word change,
    so digit ages ("15yo") stay digits for the rules that read them.
    """

    def token(match: re.Match[str]) -> str:
        tok = match.group(0)
        if tok.isdigit() or tok.isalpha():
            return tok
        for table in (_LEET_I, _LEET_L):
            mapped = tok.translate(table)
            if any(word in mapped for word in NUMBER_WORDS):
                return mapped
        return tok

    return _ALNUM_TOKEN.sub(token, text)


_BIDI_SPAN = re.compile("\u202e([^\u202a-\u202e\n]*)(?:\u202c|$)", re.MULTILINE)


def unreverse(text: str) -> str:
    """Text after U+202E is typed backwards and shown forwards: read it the way people see it."""
    return _BIDI_SPAN.sub(lambda m: m.group(1)[::-1], text)


def variants(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return `(with_digits, all_forms)` for the rules to check.

    `with_digits` holds the normalised text and its spaced-letters-joined form (for ages);
    `all_forms` adds the two leetspeak readings (for words). Duplicates are removed, so ordinary
    text costs one or two passes per rule.
    """
    if "\u202e" in text:
        text = f"{text}\n{unreverse(text)}"
    plain = normalize(text)
    joined = join_spaced(plain)
    with_digits = tuple(dict.fromkeys((plain, joined, _leet_number_words(plain), _leet_number_words(joined))))
    all_forms = tuple(dict.fromkeys((*with_digits, _leet(joined, _LEET_I), _leet(joined, _LEET_L))))
    return with_digits, all_forms
