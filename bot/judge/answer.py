"""The judge's answer: read strictly, because anything but a well-formed answer is a failed check.

The model is asked for a JSON object (`prompt.TEXT_FLAGS` or `IMAGE_FLAGS`, `confidence`,
`reason`). Prose, a refusal, truncated JSON, a missing field or a field of the wrong type
(`"minor_sexual": "no"`) raises `JudgeUnavailable`: the caller then refuses the content (fail
closed) instead of guessing what the model meant. `confidence` may also come as a number from 0
to 1 (some models ignore the enum): 0.85 and above is high, 0.5 and above medium.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from bot.judge.prompt import CONFIDENCES, REASONS

__all__ = ["JudgeUnavailable", "Judgement", "combine", "parse_answer"]


class JudgeUnavailable(Exception):
    """The judge could not give a verdict; `cause` is a short code for the audit log:
    "timeout", "venice_error", "refused" (Venice declined), "unparseable", "ill_typed",
    "unreadable_image"."""

    def __init__(self, cause: str, detail: str = "") -> None:
        super().__init__(f"judge unavailable ({cause}){': ' + detail if detail else ''}")
        self.cause = cause


@dataclass(frozen=True, slots=True)
class Judgement:
    """One verdict. `minor` and `real_person` are the two policy questions (for images: an
    apparent minor at all, a sexualised real person). `cost_usd` is what Venice reported for the
    calls behind it (0 when it came from the cache)."""

    minor: bool
    real_person: bool
    confidence: str
    reason: str
    model: str
    cached: bool = False
    calls: int = 1
    cost_usd: float = 0.0

    @property
    def flagged(self) -> bool:
        """The content breaks the policy."""
        return self.minor or self.real_person

    @property
    def decisive(self) -> bool:
        """Flagged for minors with high confidence: the only judge verdict that counts as a strike."""
        return self.minor and self.confidence == "high"


def _confidence(value: Any) -> str:
    if isinstance(value, str) and value.strip().lower() in CONFIDENCES:
        return value.strip().lower()
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
        return "high" if value >= 0.85 else "medium" if value >= 0.5 else "low"
    raise JudgeUnavailable("ill_typed", "confidence")


def parse_answer(content: str, flags: tuple[str, str], *, model: str) -> Judgement:
    """Read the model's message `content`; raise `JudgeUnavailable` unless it is a well-typed answer."""
    text = content.strip()
    if text.startswith("```"):
        # Some models fence JSON even when asked for a schema; the fence is not the answer.
        text = text.strip("`").removeprefix("json").strip()
    try:
        data = json.loads(text)
    except ValueError:
        raise JudgeUnavailable("unparseable", f"{len(content)} characters of non-JSON") from None
    if not isinstance(data, dict):
        raise JudgeUnavailable("ill_typed", "not an object")
    minor, real = (data.get(flag) for flag in flags)
    if not isinstance(minor, bool) or not isinstance(real, bool):
        raise JudgeUnavailable("ill_typed", "flags are not booleans")
    reason = data.get("reason", "other")
    if not isinstance(reason, str):
        raise JudgeUnavailable("ill_typed", "reason")
    reason = reason if reason in REASONS else "other"
    return Judgement(minor, real, _confidence(data.get("confidence")), reason, model)


def combine(parts: Iterable[Judgement]) -> Judgement:
    """One verdict for a text judged in several windows: flagged if any window is, with the most
    confident flagging window's confidence and reason; allowed with the least confidence seen."""
    items = list(parts)
    if len(items) == 1:
        return items[0]
    order = {c: i for i, c in enumerate(CONFIDENCES)}
    flagged = [j for j in items if j.flagged]
    if flagged:
        first = max(flagged, key=lambda j: (j.minor, order[j.confidence]))
        base = replace(first, minor=any(j.minor for j in items), real_person=any(j.real_person for j in items))
    else:
        base = min(items, key=lambda j: order[j.confidence])
    return replace(
        base,
        cached=all(j.cached for j in items),
        calls=sum(j.calls for j in items),
        cost_usd=sum(j.cost_usd for j in items),
    )
