"""CPU-heavy work run away from the event loop, in bounded pools: nobody's file stalls everyone.

One event loop serves every channel, so a few seconds of parsing or screening on it freeze every
conversation. `Offload` owns two small pools, made in the bot's start-up and closed in `close`:

- **a process pool** (`in_process`) for pure-Python work that holds the GIL: parsing character
  cards (PNG chunk walks, JSON, .charx zips), screening long texts, checking uploaded images
  (Pillow walks PNG chunks in Python). A thread would not help there: the loop thread would get
  the GIL back only every switch interval (5 ms) and share the CPU with the job. A process also
  lets a job be stopped: one that overruns its time limit is killed (Pebble restarts the worker)
  and the caller gets `TooSlow`, never a half-checked result.
- **a thread pool** (`in_thread`) for work that releases the GIL, such as Pillow decoding and
  re-encoding Venice's images (its codecs run in C without the GIL).

Both are bounded: a fixed number of workers, a queue bound (`Busy` when it is full, so one user
cannot fill it) and at most `per_owner` jobs of one owner (a user id) at a time. Workers are forked
from a clean fork server (no threads copied from the bot) that imports `preload` once, so a new
worker starts in milliseconds, and run at a lower CPU priority (`nice`), so that on a busy machine
the operating system gives the event loop's process the CPU first.

Call sites pass module-level functions and plain arguments (they are pickled):

    character, avatar = await offload.in_process(cards.parse_card_with_avatar, data, name, owner=user_id)
    fitted = await offload.in_thread(encode.fit_to_limit, data, content_type, limit)

The pools are per process, like the CPU they share out; limits that must hold across processes
(cooldowns, caps) live in the database.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Any, ParamSpec, TypeVar

import pebble

from bot.errors import UserError

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_TIMEOUT = 20.0  # seconds one process job may run; generous for the largest honest card
DEFAULT_QUEUE = 8  # jobs waiting beyond the busy workers, per pool
TASKS_PER_WORKER = 50  # a worker is replaced after this many jobs, so memory from big cards goes back

BUSY = "I'm busy with other people's files and characters right now. Please try again in a minute."
YOURS_BUSY = "I'm still working on your previous request. Try again once it's done."
TOO_SLOW = "That took too long to process, so I stopped. Try something smaller or simpler."
FAILED = "Something went wrong while processing that. Please try again."


class Busy(UserError):
    """The pool's queue is full, or this owner already has as many jobs running as allowed."""


class TooSlow(UserError):
    """A process job ran past its time limit and was stopped (its worker was killed)."""


def default_processes() -> int:
    """One process per spare core, at most two: the event loop keeps a core of its own."""
    return max(1, min(2, (os.cpu_count() or 2) - 1))


class _Admission:
    """How many jobs a pool holds (running and queued), and how many per owner."""

    def __init__(self, limit: int, per_owner: int) -> None:
        self.limit = limit
        self.per_owner = per_owner
        self.held = 0
        self.owners: Counter[int] = Counter()

    def take(self, owner: int | None) -> Callable[[], None]:
        """Hold a place (raising `Busy` when there is none); call what it returns to give it back."""
        if owner is not None and self.owners[owner] >= self.per_owner:
            raise Busy(YOURS_BUSY)
        if self.held >= self.limit:
            raise Busy(BUSY)
        self.held += 1
        if owner is not None:
            self.owners[owner] += 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self.held -= 1
            if owner is not None:
                self.owners[owner] -= 1
                if self.owners[owner] <= 0:
                    del self.owners[owner]

        return release


WORKER_NICENESS = 10  # workers yield the CPU to the event loop's process when both want it


def _worker_start() -> None:
    """In each new worker: a lower CPU priority, so a long job never slows the bot's own process."""
    os.nice(WORKER_NICENESS)


def _warm() -> int:
    """Run once in a new pool so its first worker (and the fork server) exist before real work."""
    return os.getpid()


class Offload:
    """The bot's worker pools. `start()` in the start-up, `await close()` at shutdown."""

    def __init__(
        self,
        *,
        processes: int | None = None,
        threads: int = 2,
        queue: int = DEFAULT_QUEUE,
        per_owner: int = 1,
        timeout: float = DEFAULT_TIMEOUT,
        preload: Sequence[str] = (),
    ) -> None:
        self.processes = processes or default_processes()
        self.threads = threads
        self.timeout = timeout
        self.preload = list(preload)
        self._process_slots = _Admission(self.processes + queue, per_owner)
        self._thread_slots = _Admission(threads + queue, per_owner)
        self._process_pool: pebble.ProcessPool | None = None
        self._thread_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._ready: asyncio.Task[None] | None = None
        self._closed = False

    # -- life cycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Create the pools (also done on first use). The process workers start on first use, in
        the background (a thread forks them, never the loop), so a bot that reads no file runs no
        extra process."""
        if self._thread_pool is None and not self._closed:
            self._thread_pool = concurrent.futures.ThreadPoolExecutor(self.threads,
                                                                      thread_name_prefix="lustify-offload")

    async def _start_processes(self) -> None:
        context = multiprocessing.get_context("forkserver")
        if self.preload:
            context.set_forkserver_preload(self.preload)
        pool = pebble.ProcessPool(self.processes, max_tasks=TASKS_PER_WORKER, initializer=_worker_start,
                                  context=context)
        self._process_pool = pool
        # `schedule` starts the pool (and the fork server) in the calling thread: not the loop's.
        warm = await asyncio.to_thread(pool.schedule, _warm)
        await asyncio.wrap_future(warm)

    async def close(self) -> None:
        """Stop the pools; running process jobs are killed, running thread jobs are left to end."""
        self._closed = True
        if self._ready is not None:
            # Not cancelled: a pool half started in its thread could not be stopped. It takes a moment.
            await asyncio.wait([self._ready], timeout=15)
        pool, self._process_pool = self._process_pool, None
        if pool is not None:
            pool.stop()
            await asyncio.to_thread(pool.join, 10)
        if self._thread_pool is not None:
            self._thread_pool.shutdown(wait=False, cancel_futures=True)
            self._thread_pool = None

    # -- running work ----------------------------------------------------------------------------

    async def in_process(
        self, fn: Callable[..., T], /, *args: Any, owner: int | None = None, time_limit: float | None = None,
        **kwargs: Any,
    ) -> T:
        """`fn(*args, **kwargs)` in a worker process; its exceptions are raised here.

        `fn` and the arguments must pickle (a module-level function, plain values). Raises `Busy`
        when the pool is full or `owner` has a job running, `TooSlow` once the job has run for
        `time_limit` seconds (default: the pool's `timeout`), and UserError if the worker died.
        """
        release = self._process_slots.take(owner)
        try:
            pool = await self._processes()
            # Cancelling the wrapped future cancels the job; Pebble kills a running one.
            future = pool.schedule(fn, args=args, kwargs=kwargs, timeout=time_limit or self.timeout)
            return await asyncio.wrap_future(future)
        except TimeoutError:
            log.warning("offload: %s ran past %.0f s and was stopped", _name(fn), time_limit or self.timeout)
            raise TooSlow(TOO_SLOW) from None
        except (pebble.ProcessExpired, BrokenProcessPool) as exc:
            log.error("offload: a worker died running %s: %s", _name(fn), exc)
            self._replace_broken()
            raise UserError(FAILED) from None
        finally:
            release()

    async def in_thread(self, fn: Callable[..., T], /, *args: Any, owner: int | None = None, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` in the thread pool, for work that releases the GIL. Raises `Busy`
        when the pool is full or `owner` has a job running."""
        self._check_open()
        assert self._thread_pool is not None
        release = self._thread_slots.take(owner)
        try:
            future = self._thread_pool.submit(fn, *args, **kwargs)
        except BaseException:
            release()
            raise
        # A thread cannot be stopped: its place is given back when it ends, not when the caller
        # stops waiting, so cancelled callers cannot pile up more work than the bound.
        loop = asyncio.get_running_loop()
        future.add_done_callback(lambda _: loop.call_soon_threadsafe(release))
        return await asyncio.wrap_future(future)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("Offload is closed")
        self.start()

    async def _processes(self) -> pebble.ProcessPool:
        self._check_open()
        if self._ready is None:
            self._ready = _background(self._start_processes())
        await asyncio.shield(self._ready)
        if self._process_pool is None or not self._process_pool.active:
            self._replace_broken()  # its manager gave up (e.g. a worker could not start): a fresh pool
            await asyncio.shield(self._ready)
        if self._process_pool is None:
            raise RuntimeError("Offload is closed")
        return self._process_pool

    def _replace_broken(self) -> None:
        """Start a new process pool in place of one that is broken (only one replacement at a time)."""
        if self._closed or (self._ready is not None and not self._ready.done()):
            return
        broken, self._process_pool = self._process_pool, None
        if broken is not None:
            broken.stop()
        self._ready = _background(self._start_processes())


async def run_cpu(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Await `fn(*args, **kwargs)` computed in a worker thread (asyncio's default executor).

    For callers that have no `Offload` yet (voice and picture input on main use it for PyAV and
    Pillow work, which releases the GIL). Not bounded per user: move such call sites to the bot's
    `Offload.in_thread` (or `in_process` for pure-Python work) when they are given one.
    """
    return await asyncio.to_thread(fn, *args, **kwargs)


def _background(starting: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    task = asyncio.get_running_loop().create_task(starting, name="lustify-offload-start")
    # A failed start is reported here, and again to each caller that waits for the pool.
    task.add_done_callback(lambda t: t.cancelled() or t.exception() is None
                           or log.error("offload: the worker pool did not start", exc_info=t.exception()))
    return task


def _name(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
