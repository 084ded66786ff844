"""A file someone attached, as the services see it: what it declares, and a way to fetch it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["Upload"]


@dataclass(frozen=True, slots=True)
class Upload:
    """An attachment: its declared size, type, name (and length, for a voice message), and
    `read` to download it — called only once the declared values passed their checks."""

    filename: str
    size: int
    content_type: str | None
    read: Callable[[], Awaitable[bytes]]
    duration_secs: float | None = None
    voice_message: bool = False
