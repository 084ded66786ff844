"""A watch on the event loop: a warning that names the task holding it when it stalls.

Every channel shares one event loop, so anything that keeps it busy for a quarter of a second is
felt by everyone. A **watchdog** thread looks at the loop thread every `interval` seconds:

- when the loop thread waits in its selector (`selectors.*.select`), the loop is idle: nothing to
  do, and the loop is not woken (an idle bot pays a few thread wake-ups a second, not ~30 loop
  and thread wake-ups as a 10 Hz heartbeat did: measured 3.2 → well under 1 ms of CPU a second);
- otherwise it posts a **probe** (`call_soon_threadsafe`) and remembers when. A probe that has
  not run `threshold` seconds later means the loop is stalled: the thread samples the loop
  thread's stack (`sys._current_frames`) and the loop's current task, and logs one warning naming
  the task, its coroutine and where it is (the innermost frame, and the innermost frame of our own
  code rather than a library's). When the probe finally runs it logs how long the stall lasted.

(asyncio's debug mode reports slow callbacks too, but it slows every callback down.)
"""

from __future__ import annotations

import asyncio
import logging
import sys
import sysconfig
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

log = logging.getLogger(__name__)

THRESHOLD = 0.25  # seconds of stall worth a warning
INTERVAL = 0.1  # heartbeat period
_ROOT = str(Path(__file__).resolve().parents[1]) + "/"
# Frames in these are the standard library's or a package's; the first frame outside them is ours.
_LIBRARIES = tuple(sorted({sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}))


@dataclass(frozen=True, slots=True)
class Culprit:
    """What the loop was doing when the watchdog looked."""

    task: str  # the task's name, or "" outside any task (a callback)
    coroutine: str  # the task's coroutine, qualified
    where: str  # "file:line in function" of the innermost frame
    ours: str  # the same for the innermost frame of our code (not the stdlib's or a package's)

    def describe(self) -> str:
        who = f"task {self.task!r} ({self.coroutine})" if self.task else "a callback outside any task"
        place = self.where if not self.ours or self.ours == self.where else f"{self.where}, called from {self.ours}"
        return f"{who} at {place}"


def _frame_text(frame: FrameType) -> str:
    code = frame.f_code
    return f"{_short(code.co_filename)}:{frame.f_lineno} in {code.co_name}"


def _short(filename: str) -> str:
    return filename.removeprefix(_ROOT)


def sample(loop: asyncio.AbstractEventLoop, thread_id: int) -> Culprit:
    """What `loop` (running in thread `thread_id`) is doing right now; safe from another thread."""
    task = asyncio.current_task(loop)
    frame = sys._current_frames().get(thread_id)
    where = ours = ""
    if frame is not None:
        where = _frame_text(frame)
        probe: FrameType | None = frame
        while probe is not None:
            if not probe.f_code.co_filename.startswith(_LIBRARIES):
                ours = _frame_text(probe)
                break
            probe = probe.f_back
    if task is None:
        return Culprit("", "", where, ours)
    coro = task.get_coro()
    name = getattr(coro, "__qualname__", type(coro).__name__)
    return Culprit(task.get_name(), name, where, ours)


class LoopWatch:
    """Start in the loop (`start()`), stop with `await stop()`. `worst` is the longest stall seen,
    measured from the probe posted when the loop was found busy: short of the real stall by up to
    `interval` (more when the machine is so busy that the watchdog thread wakes late)."""

    def __init__(self, *, threshold: float = THRESHOLD, interval: float = INTERVAL) -> None:
        self.threshold = threshold
        self.interval = interval
        self.worst = 0.0
        self.checks = 0  # the watchdog's looks at the loop
        self.probes = 0  # probes posted to the loop (only when it was found busy)
        self._sent: float | None = None  # when the probe still waiting for the loop was posted
        self._culprit: Culprit | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._sent = None
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="lustify-loop-watch", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5)
            self._thread = None

    def _idle(self) -> bool:
        """Whether the loop thread is waiting in its selector (no Python code of the loop running)."""
        frame = sys._current_frames().get(self._loop_thread)
        return frame is not None and frame.f_code.co_name == "select" and frame.f_code.co_filename.endswith(
            "selectors.py")

    def _probe(self, sent: float) -> None:
        """On the loop: how late the probe posted at `sent` ran, i.e. how long the loop was held."""
        stall = time.monotonic() - sent
        culprit, self._culprit = self._culprit, None
        self._sent = None
        if stall > self.worst:
            self.worst = stall
        if stall > self.threshold:
            what = culprit.describe() if culprit is not None else "a task that ended before it could be seen"
            log.warning("event loop was blocked for %.2f s by %s", stall, what)

    def _watch(self) -> None:
        reported: float | None = None  # the probe whose stall was already reported
        loop = self._loop
        assert loop is not None
        while not self._stop.is_set():
            time.sleep(self.interval)  # one syscall; `Event.wait(timeout)` costs several times more
            self.checks += 1
            sent = self._sent
            if sent is None:
                if self._idle():
                    continue
                self.probes += 1
                self._sent = sent = time.monotonic()
                try:
                    loop.call_soon_threadsafe(self._probe, sent)
                except RuntimeError:  # the loop closed under us
                    return
                continue
            late = time.monotonic() - sent
            if late <= self.threshold or sent == reported:
                continue
            reported = sent
            culprit = sample(loop, self._loop_thread)
            self._culprit = culprit
            log.warning("event loop blocked for over %.2f s by %s", late, culprit.describe())
