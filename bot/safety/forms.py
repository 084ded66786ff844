"""Normalised text forms and what the rules ask of them: sexual context, safe phrases, negation.

"Sexual context" means a word from `lexicon.SEXUAL` within `SEXUAL_WINDOW` characters of the
minor-coded word or setting, not anywhere in the text. The bot is adult, so nearly every long
text has a sexual word somewhere; the window keeps "grew up as a kid in Ohio" in a character's
backstory from condemning the whole card, while "a kid ... naked" in one passage is refused.
Image prompts skip the sexual-context test (see `bot.safety.rules`).
"""

from __future__ import annotations

import re
from bisect import bisect_left

from bot.safety import lexicon as lx

SEXUAL_WINDOW = 200

_EMOJI = f"|[{lx.SEXUAL_EMOJI}]"
_SEXUAL = re.compile(lx.words(lx.SEXUAL) + _EMOJI)
_SEXUAL_IMAGE = re.compile(lx.words(lx.SEXUAL + lx.SEXUAL_IMAGE_EXTRA) + _EMOJI)
_SAFE = re.compile(r"(?<![a-z0-9])(?:" + "|".join(lx.SAFE_PHRASES) + r")(?![a-z0-9])")


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


def snippet(text: str, m: re.Match[str]) -> str:
    """What matched, for `explain()` and test messages (never for users)."""
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


def negated(text: str, start: int, end: int) -> bool:
    """Is the word at [start, end) negated ("no minors", "not a kid"), per the comment above?"""
    if not _NEG_BEFORE.search(text, max(0, start - 60), start):
        return False
    return not _NEG_CANCEL.match(text, end)
