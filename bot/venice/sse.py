"""Incremental Server-Sent Events parser (the WHATWG event-stream rules, fed raw bytes).

Network reads split the stream anywhere: inside a line, between `\\r` and `\\n`, even inside a
multi-byte UTF-8 character. The parser keeps whatever is incomplete until the next `feed`.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

__all__ = ["DONE", "SSEEvent", "SSEParser"]

DONE = "[DONE]"


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event: its data (lines joined by `\\n`) and optional event name and id."""

    data: str
    event: str = "message"
    id: str | None = None

    @property
    def is_done(self) -> bool:
        """True for the OpenAI-style `data: [DONE]` terminator."""
        return self.data.strip() == DONE


class SSEParser:
    """Feed bytes in, get complete events out.

    After a `[DONE]` event the parser sets `done` and ignores anything that follows, because
    Venice (like OpenAI) may still send trailing bytes that mean nothing.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._first_line = True
        self.done = False
        self.comments = 0

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Add bytes; return the events completed by them (possibly none)."""
        if self.done:
            return []
        return self._consume(self._decoder.decode(chunk), final=False)

    def close(self) -> list[SSEEvent]:
        """The stream ended: flush what is left.

        The spec drops an event that was not closed by a blank line; we dispatch it anyway, since
        a final `data: [DONE]` without its blank line is common and harmless to accept.
        """
        if self.done:
            return []
        events = self._consume(self._decoder.decode(b"", final=True), final=True)
        if not self.done and self._data:
            events.extend(self._dispatch())
        return events

    def _consume(self, text: str, *, final: bool) -> list[SSEEvent]:
        self._buffer += text
        events: list[SSEEvent] = []
        if "\r" not in self._buffer and not self._first_line:
            # The usual read (LF line ends only): one split instead of a search and a slice per line.
            *lines, self._buffer = self._buffer.split("\n")
            for line in lines:
                events.extend(self._process(line))
                if self.done:
                    return events
            if not final or not self._buffer:
                return events
        while not self.done:
            line, found = self._next_line(final)
            if not found:
                break
            events.extend(self._process(line))
        return events

    def _next_line(self, final: bool) -> tuple[str, bool]:
        buf = self._buffer
        cr, lf = buf.find("\r"), buf.find("\n")
        if cr == -1 and lf == -1:
            if final and buf:
                self._buffer = ""
                return buf, True
            return "", False
        if cr != -1 and (lf == -1 or cr < lf):
            if cr == len(buf) - 1 and not final:
                # A lone trailing CR may be the first half of CRLF: wait for the next read.
                return "", False
            end = cr + 2 if buf.startswith("\n", cr + 1) else cr + 1
            self._buffer = buf[end:]
            return buf[:cr], True
        self._buffer = buf[lf + 1 :]
        return buf[:lf], True

    def _process(self, line: str) -> list[SSEEvent]:
        if self._first_line:
            self._first_line = False
            line = line.removeprefix("\ufeff")
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            self.comments += 1
            return []
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        # "retry" and unknown fields are ignored: the client does its own reconnect policy.
        return []

    def _dispatch(self) -> list[SSEEvent]:
        if not self._data:
            self._event = ""
            return []
        event = SSEEvent(data="\n".join(self._data), event=self._event or "message", id=self._id)
        self._data = []
        self._event = ""
        if event.is_done:
            self.done = True
        return [event]
