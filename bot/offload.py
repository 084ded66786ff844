"""Run CPU-heavy work (audio transcoding, image decoding) off the event loop.

One function so that every caller goes through the same door: when the shared worker pool lands,
only this body changes. A thread is enough today because PyAV and Pillow release the GIL while
they decode and encode.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

__all__ = ["run_cpu"]

P = ParamSpec("P")
T = TypeVar("T")


async def run_cpu(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Await `fn(*args, **kwargs)` computed in a worker thread."""
    return await asyncio.to_thread(fn, *args, **kwargs)
