"""What of a reply is spoken, and in which pieces (Venice takes at most 4,096 characters a request).

A roleplay reply is written to be read: markdown, actions between asterisks, out-of-character
notes, Discord mentions and emoji. Read aloud as typed, a voice would say "asterisk" or spell out
a URL. The rules, in order:

- Not spoken at all: fenced code blocks; out-of-character notes — `((…))`, `(OOC: …)`,
  `[OOC …]` — and any other `[bracketed]` or `{braced}` block (status lines, stat blocks, system
  notes); angle-bracket tags (`<think>` leftovers, Discord mentions `<@…>`, `<#…>`, custom emoji
  `<:name:id>`, timestamps `<t:…>`); bare URLs; emoji pictographs; heading marks; table rules.
- Spoken without their marks: emphasis (`*actions*`, `**bold**`, `_italics_`, `~~strike~~`,
  `||spoilers||`), inline code, `[text](url)` links (the text), quote and list markers.
- Quotation marks are kept: they carry the dialogue, and TTS voices read them naturally.
- `mode="dialogue"` speaks only what is inside quotation marks (SillyTavern's "only narrate
  quotes"), for people who want to hear the character and not the narration.

`split_for_speech` then cuts the text at sentence ends into pieces of at most `limit`
characters, falling back to clause and word boundaries for a sentence longer than that.
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["TTS_INPUT_LIMIT", "speakable", "split_for_speech"]

TTS_INPUT_LIMIT = 4096  # Venice CreateSpeechRequestSchema.input maxLength

Mode = Literal["all", "dialogue"]

_CODE_BLOCK = re.compile(r"```.*?(?:```|\Z)", re.S)
_OOC_PARENS = re.compile(r"\(\(.*?\)\)|\(\s*ooc\b[^)]*\)", re.S | re.I)
_BRACKETED = re.compile(r"\[[^\[\]\n]*\](?!\()|\{[^{}\n]*\}")
_LINK = re.compile(r"\[([^\]\n]*)\]\((?:[^()\s]|\([^()\s]*\))*\)")
_TAG = re.compile(r"<[^<>\n]{1,200}>")
_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.I)
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.M)
_QUOTE_MARK = re.compile(r"^\s{0,3}>+\s?", re.M)
_LIST_MARK = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+", re.M)
_RULE = re.compile(r"^\s*(?:[-*_=|:]\s*){3,}$", re.M)
_EMPHASIS = re.compile(r"(\*{1,3}|_{1,3}|~~|\|\||`)")
# Pictographs, dingbats, flags, variation selectors, zero-width joiners and keycaps.
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f1e6-\U0001f1ff\U0000fe0e\U0000fe0f\U0000200d\U000020e3]"
)
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANKS = re.compile(r"\n\s*\n+")
_DIALOGUE = re.compile(r"\"([^\"\n]+)\"|“([^”\n]+)”|«([^»\n]+)»|„([^“”\n]+)[“”]")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”’»)\]]*\s+|\n+")
_CLAUSE_END = re.compile(r"(?<=[,;:—–])\s+")


def speakable(text: str, *, mode: Mode = "all") -> str:
    """The part of `text` a voice should say, as plain sentences (empty when nothing is left)."""
    text = _CODE_BLOCK.sub(" ", text)
    text = _OOC_PARENS.sub(" ", text)
    text = _LINK.sub(r"\1", text)
    text = _BRACKETED.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _RULE.sub(" ", text)
    text = _HEADING.sub("", text)
    text = _QUOTE_MARK.sub("", text)
    text = _LIST_MARK.sub("", text)
    text = _EMPHASIS.sub("", text)
    text = _EMOJI.sub("", text)
    if mode == "dialogue":
        lines = ["".join(groups).strip() for groups in _DIALOGUE.findall(text)]
        text = "\n".join(f"“{line}”" for line in lines if line)
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.splitlines())
    return _BLANKS.sub("\n\n", text).strip()


def split_for_speech(text: str, limit: int = TTS_INPUT_LIMIT) -> list[str]:
    """Cut `text` into pieces of at most `limit` characters, at sentence ends where possible."""
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    current = ""
    for sentence in _pieces(text, _SENTENCE_END):
        for part in _fit(sentence, limit):
            joined = f"{current} {part}" if current else part
            if len(joined) <= limit:
                current = joined
            else:
                pieces.append(current)
                current = part
    if current:
        pieces.append(current)
    return pieces


def _pieces(text: str, pattern: re.Pattern[str]) -> list[str]:
    out, start = [], 0
    for match in pattern.finditer(text):
        out.append(text[start : match.start()] + match.group(0).rstrip())
        start = match.end()
    out.append(text[start:])
    return [p.strip() for p in out if p.strip()]


def _fit(sentence: str, limit: int) -> list[str]:
    """A sentence as parts of at most `limit` characters: whole, by clauses, by words, by force."""
    if len(sentence) <= limit:
        return [sentence]
    parts: list[str] = []
    for clause in _pieces(sentence, _CLAUSE_END):
        if len(clause) <= limit:
            parts.append(clause)
            continue
        word_run = ""
        for word in clause.split():
            while len(word) > limit:
                if word_run:
                    parts.append(word_run)
                    word_run = ""
                parts.append(word[:limit])
                word = word[limit:]
            joined = f"{word_run} {word}" if word_run else word
            if len(joined) <= limit:
                word_run = joined
            else:
                parts.append(word_run)
                word_run = word
        if word_run:
            parts.append(word_run)
    return parts
