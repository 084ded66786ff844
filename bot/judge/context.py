"""What the judge is shown beside the text: the character, the persona, the last few turns.

Ages are often stated long before the sentence that asks for something sexual ("she is 15" in the
card, "now undress her" ten turns later), so the judge must see the text with its context. The
context is bounded (`MAX_CONTEXT_CHARS` in total) so one judge call costs about the same whatever
the conversation: callers may pass everything they have, and `bounded()` keeps what fits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_CHARACTER_CHARS",
    "MAX_CONTEXT_CHARS",
    "MAX_FIELD_CHARS",
    "MAX_PERSONA_CHARS",
    "MAX_TURNS",
    "MAX_TURN_CHARS",
    "JudgeContext",
    "character_summary",
    "clip",
    "windows",
]

MAX_CHARACTER_CHARS = 2_000
MAX_FIELD_CHARS = 700  # per field of a character summary
MAX_PERSONA_CHARS = 600
MAX_TURNS = 6
MAX_TURN_CHARS = 600
MAX_CONTEXT_CHARS = 5_000
_ELLIPSIS = " … "


def clip(text: str, limit: int) -> str:
    """`text` within `limit` characters, keeping its start and its end (ages and names tend to
    open a description; the request tends to close a turn)."""
    text = text.strip()
    if len(text) <= limit:
        return text
    keep = max(0, limit - len(_ELLIPSIS))
    head = keep - keep // 3
    return text[:head] + _ELLIPSIS + text[len(text) - (keep - head):]


def character_summary(
    name: str,
    *,
    description: str = "",
    personality: str = "",
    scenario: str = "",
    first_message: str = "",
    appearance: str = "",
) -> str:
    """A bounded summary of a character's definition for `JudgeContext.character`: each field
    clipped to `MAX_FIELD_CHARS`, the whole to `MAX_CHARACTER_CHARS`."""
    fields = (
        ("Name", name), ("Description", description), ("Personality", personality),
        ("Scenario", scenario), ("Appearance", appearance), ("First message", first_message),
    )
    lines = [f"{label}: {clip(value, MAX_FIELD_CHARS)}" for label, value in fields if value and value.strip()]
    return clip("\n".join(lines), MAX_CHARACTER_CHARS)


@dataclass(frozen=True, slots=True)
class JudgeContext:
    """Background for one judged text; every part is optional.

    - `character`: who the user is talking to or drawing (`character_summary(...)` builds it);
    - `persona`: who the user plays in the story (`{{user}}`);
    - `recent`: the last turns before the text, oldest first, each as "Speaker: text".
    """

    character: str = ""
    persona: str = ""
    recent: tuple[str, ...] = ()

    def bounded(self) -> JudgeContext:
        """This context within the limits: each part clipped, the last `MAX_TURNS` turns, and the
        oldest turns dropped until the whole fits `MAX_CONTEXT_CHARS`."""
        character = clip(self.character, MAX_CHARACTER_CHARS)
        persona = clip(self.persona, MAX_PERSONA_CHARS)
        turns = [clip(t, MAX_TURN_CHARS) for t in self.recent[-MAX_TURNS:] if t and t.strip()]
        room = MAX_CONTEXT_CHARS - len(character) - len(persona)
        while turns and sum(map(len, turns)) > room:
            turns.pop(0)
        return JudgeContext(character, persona, tuple(turns))

    def as_dict(self) -> dict[str, Any]:
        """The parts that are set, as the judge's request shows them (and its cache key hashes)."""
        out: dict[str, Any] = {}
        if self.character:
            out["character"] = self.character
        if self.persona:
            out["persona"] = self.persona
        if self.recent:
            out["recent_turns"] = list(self.recent)
        return out

    def size(self) -> int:
        """Characters of context (for tests and benchmarks)."""
        return len(self.character) + len(self.persona) + sum(map(len, self.recent))


def windows(text: str, size: int, overlap: int) -> Iterator[str]:
    """`text` in pieces of at most `size` characters that overlap by `overlap`, so a phrase cut
    at one boundary is whole in the next piece."""
    if len(text) <= size:
        yield text
        return
    step = size - overlap
    for start in range(0, len(text), step):
        yield text[start:start + size]
        if start + size >= len(text):
            return
