"""Split text for Discord's 2,000-character message limit.

Cuts fall at the most natural boundary available: a paragraph, else a line, else a sentence, else
a word; a word is cut only when it alone is longer than a message. A cut that has to fall inside a
``` code block closes the fence at the end of the chunk and reopens it, with the same language, at
the start of the next, so both halves still render as code. The same cutting rule serves streaming
(`StreamSplitter`), so a reply rolled over mid-stream breaks where `split_message` would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DISCORD_LIMIT = 2000
FENCE = "```"
_CLOSE = "\n" + FENCE
# A fence line: optional indentation, three backticks, then an optional info string (the language).
_FENCE_LINE_RE = re.compile(r"^[ \t]*```([^\n`]*)", re.MULTILINE)
# A sentence ends with . ! ? or …, possibly followed by closing quotes, brackets or the `*`/`_` that
# close roleplay actions ("*She smiles.*"), and then whitespace.
_SENTENCE_END_RE = re.compile(r"[.!?…][\"'”’*_)\]]*(?=[ \t])")
# Smallest limit that leaves room for a reopened fence, a closing fence and some content.
_MIN_LIMIT = 32


@dataclass(frozen=True, slots=True)
class _Span:
    """One fenced block inside a window, as character offsets into that window."""

    open_start: int  # where the opening fence line starts (-1: opened before the window)
    open_end: int  # end of the opening fence line (its newline)
    close_end: int  # end of the closing fence line, or past the window when still open
    lang: str


@dataclass(frozen=True, slots=True)
class _Cut:
    end: int  # the chunk is window[:end] (trailing whitespace is trimmed)
    start: int  # the next chunk starts here (before whitespace skipping)
    lang: str | None  # the open fence's language when the cut falls inside a code block


def _fence_spans(window: str, lang: str | None) -> list[_Span]:
    """The fenced blocks in `window`, given whether it starts inside one (`lang` is not None)."""
    spans: list[_Span] = []
    open_start, open_end, current = -1, -1, lang
    for m in _FENCE_LINE_RE.finditer(window):
        line_end = window.find("\n", m.end())
        line_end = len(window) if line_end == -1 else line_end
        if current is None:
            open_start, open_end, current = m.start(), line_end, m.group(1).strip()
        else:
            spans.append(_Span(open_start, open_end, line_end, current))
            current = None
    if current is not None:
        spans.append(_Span(open_start, open_end, len(window) + 1, current))
    return spans


def _classify(end: int, spans: list[_Span]) -> str | bool | None:
    """Where a cut at `end` falls: None outside code, the language inside a block, False if unusable.

    Cutting within or right after an opening fence line is unusable: it would leave an empty block.
    """
    for span in spans:
        if span.open_start < end <= span.open_end:
            return False
        if span.open_end < end < span.close_end:
            return span.lang
    return None


def _last_cut(window: str, spans: list[_Span], min_fill: int) -> _Cut | None:
    """The best boundary at or after `min_fill`: paragraph, line, sentence, then word."""
    i = window.rfind("\n\n")
    while i >= min_fill and i > 0:
        if _classify(i, spans) is None:  # inside code a blank line is not a paragraph
            return _Cut(i, i + 2, None)
        i = window.rfind("\n\n", 0, i)
    i = window.rfind("\n")
    while i >= min_fill and i > 0:
        where = _classify(i, spans)
        if where is not False:
            return _Cut(i, i + 1, where)
        i = window.rfind("\n", 0, i)
    sentence: _Cut | None = None
    for m in _SENTENCE_END_RE.finditer(window, min_fill):
        if m.end() > 0 and _classify(m.end(), spans) is None:
            sentence = _Cut(m.end(), m.end(), None)
    if sentence is not None:
        return sentence
    i = window.rfind(" ")
    while i >= min_fill and i > 0:
        where = _classify(i, spans)
        if where is not False and window[:i].strip():
            return _Cut(i, i + 1, where)
        i = window.rfind(" ", 0, i)
    return None


def _intact_block_cut(text: str, pos: int, window: str, spans: list[_Span], limit: int) -> _Cut | None:
    """Cut just before a code block that starts in this window if the whole block fits in one message.

    Without this a short block near the end of a message would be split in two for no reason.
    """
    if not spans or spans[-1].close_end <= len(window) or spans[-1].open_start <= 0:
        return None
    block = spans[-1]
    if not window[: block.open_start].strip():
        return None
    close = _FENCE_LINE_RE.search(text, pos + block.open_end + 1)
    if close is None:
        return None  # still streaming, or never closed: we cannot know that it fits
    close_end = text.find("\n", close.end())
    close_end = len(text) if close_end == -1 else close_end
    if close_end - (pos + block.open_start) > limit:
        return None
    return _Cut(block.open_start, block.open_start, None)


def _hard_cut(full: int, short: int, spans: list[_Span]) -> _Cut:
    """Cut a boundary-less run: at `full` outside code, at `short` (room for a fence) inside it."""
    if _classify(full, spans) in (None, False):
        return _Cut(full, full, None)
    where = _classify(short, spans)
    return _Cut(short, short, None if where is False else where)


def _take_chunk(
    text: str, pos: int, limit: int, lang: str | None, *, final: bool = True
) -> tuple[str, int, str | None]:
    """Take one chunk of at most `limit` characters from `text[pos:]`, which does not fit whole.

    Returns the chunk, where the rest starts, and the open fence's language at the cut (if any).
    `final` is False while the text is still streaming in: its last line may be incomplete.
    """
    prefix = f"{FENCE}{lang}\n" if lang is not None else ""
    budget = limit - len(prefix)
    window = text[pos : pos + budget]
    spans = _fence_spans(window, lang)
    cut = _intact_block_cut(text, pos, window, spans, limit)
    if cut is None:
        cut = _last_cut(window, spans, budget // 2) or _last_cut(window, spans, 0)
    if cut is None or (cut.lang is not None and cut.end + len(_CLOSE) > budget):
        # Inside code the chunk needs room for the closing fence: look again in a shorter window.
        short = window[: budget - len(_CLOSE)]
        short_spans = _fence_spans(short, lang)
        cut = _last_cut(short, short_spans, len(short) // 2) or _last_cut(short, short_spans, 0)
        if cut is None:  # one giant word: no boundary at all, so cut it hard
            cut = _hard_cut(len(window), len(short), spans)
    body = text[pos : pos + cut.end].rstrip()
    nxt = pos + cut.start
    if cut.lang is None:
        return prefix + body, _skip(text, nxt, " \t\n"), None
    nxt = _skip(text, nxt, "\n")
    closing = _FENCE_LINE_RE.match(text, nxt)
    if closing is not None:
        end = text.find("\n", closing.end())
        if end == -1 and not final:
            return prefix + body + _CLOSE, nxt, cut.lang  # "```" may yet grow into "```py"
        end = len(text) if end == -1 else end
        if not text[closing.start() : end].strip().strip("`"):
            # The block ends right here: use its own closing fence rather than closing this one
            # and reopening an empty block in the next chunk.
            return prefix + body + _CLOSE, _skip(text, end, " \t\n"), None
    return prefix + body + _CLOSE, nxt, cut.lang


def _skip(text: str, pos: int, chars: str) -> int:
    """The first position at or after `pos` whose character is not in `chars`."""
    n = len(text)
    while pos < n and text[pos] in chars:
        pos += 1
    return pos


def split_message(text: str, limit: int = DISCORD_LIMIT) -> list[str]:
    """Split `text` into non-empty chunks of at most `limit` characters at natural boundaries.

    Surrounding whitespace is dropped (Discord drops it anyway); every non-whitespace character
    is kept, and code fences are closed and reopened around cuts inside code blocks.
    """
    if limit < _MIN_LIMIT:
        raise ValueError(f"limit must be at least {_MIN_LIMIT}")
    text = text.strip()
    chunks: list[str] = []
    pos, lang = 0, None
    while pos < len(text):
        prefix = f"{FENCE}{lang}\n" if lang is not None else ""
        if len(prefix) + len(text) - pos <= limit:
            chunks.append(prefix + text[pos:])
            break
        chunk, pos, lang = _take_chunk(text, pos, limit, lang)
        chunks.append(chunk)
    return chunks


def open_fence(text: str) -> str | None:
    """The language of the code block still open at the end of `text`, or None if none is open.

    The stream renderer uses it to close the block before its "writing…" marker, so the marker
    renders as text rather than as code.
    """
    lang: str | None = None
    for m in _FENCE_LINE_RE.finditer(text):
        lang = m.group(1).strip() if lang is None else None
    return lang


class StreamSplitter:
    """Incremental splitting of a growing text, for streaming into several messages.

    `update(text)` takes the whole text so far (it only ever grows) and returns the chunks that are
    final, plus the tail still being written. A chunk becomes final, cut at the best boundary in
    the tail, once the tail passes `limit - reserve` characters. A reserve rolls over early enough to
    keep room for a marker; `StreamRenderer` uses none, so its messages break exactly where
    `split_message` breaks the finished text. Each update only looks at the unfinalised tail.
    """

    def __init__(self, limit: int = DISCORD_LIMIT, reserve: int = 0) -> None:
        if limit - reserve < _MIN_LIMIT:
            raise ValueError("limit minus reserve is too small to split into")
        self.threshold = limit - reserve
        self._chunks: list[str] = []
        self._pos = 0
        self._lang: str | None = None

    @property
    def chunks(self) -> list[str]:
        """The chunks finalised so far."""
        return list(self._chunks)

    def update(self, text: str) -> tuple[list[str], str]:
        """Roll over as often as needed; return (all finalised chunks, current tail)."""
        while True:
            # Leading whitespace, and whitespace arriving after a cut, belongs to no message.
            self._pos = _skip(text, self._pos, "\n" if self._lang is not None else " \t\n")
            if len(self._prefix()) + len(text) - self._pos <= self.threshold:
                break
            chunk, self._pos, self._lang = _take_chunk(text, self._pos, self.threshold, self._lang, final=False)
            self._chunks.append(chunk)
        return list(self._chunks), self.tail(text)

    def tail(self, text: str) -> str:
        """The part of `text` not yet in a finalised chunk, with a reopened fence if needed."""
        return self._prefix() + text[self._pos :]

    def _prefix(self) -> str:
        return f"{FENCE}{self._lang}\n" if self._lang is not None else ""
