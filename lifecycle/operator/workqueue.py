"""A work queue with the semantics of client-go's rate-limited queue.

One entry per key however often it is added; a key being processed is never handed to a second
worker (adds during processing mark it dirty and it comes back once ``done``); failures back off
per key exponentially (5 ms doubling, capped at 1000 s); waiting states come back after a delay,
and a key waits on one timer only (the earliest), so repeated requeues do not multiply.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Hashable

BASE_DELAY = 0.005
MAX_DELAY = 1000.0


class ShutDown(Exception):
    """The queue was shut down: the worker should return."""


class WorkQueue:
    def __init__(self, base_delay: float = BASE_DELAY, max_delay: float = MAX_DELAY,
                 clock: Callable[[], float] = time.monotonic,
                 on_depth: Callable[[int], None] | None = None, on_add: Callable[[], None] | None = None,
                 on_retry: Callable[[], None] | None = None):
        self.base_delay, self.max_delay, self._clock = base_delay, max_delay, clock
        self._queue: list[Hashable] = []
        self._dirty: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._failures: dict[Hashable, int] = {}
        self._waiting: list[tuple[float, int, Hashable]] = []  # (ready at, tie breaker, key)
        self._ready_at: dict[Hashable, float] = {}  # the one pending time per waiting key
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._shutting_down = False
        self._on_depth = on_depth or (lambda depth: None)
        self._on_add = on_add or (lambda: None)
        self._on_retry = on_retry or (lambda: None)

    # -- adding ---------------------------------------------------------------------------------

    def add(self, key: Hashable) -> None:
        with self._cond:
            self._add_locked(key)

    def _add_locked(self, key: Hashable) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._on_add()
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._on_depth(len(self._queue))
            self._cond.notify()

    def add_after(self, key: Hashable, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            if self._shutting_down:
                return
            ready = self._clock() + delay
            if self._ready_at.get(key, float("inf")) <= ready:
                return  # already coming back sooner: one timer per key, or requeues multiply
            self._ready_at[key] = ready
            heapq.heappush(self._waiting, (ready, next(self._seq), key))
            self._cond.notify()

    def add_rate_limited(self, key: Hashable) -> float:
        """Back off: the n-th consecutive failure of a key waits base * 2**n (capped)."""
        with self._cond:
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
        self._on_retry()
        delay = float(min(self.base_delay * 2**failures, self.max_delay))
        self.add_after(key, delay)
        return delay

    def forget(self, key: Hashable) -> None:
        """The key succeeded: its next failure starts the backoff over."""
        with self._cond:
            self._failures.pop(key, None)

    def failures(self, key: Hashable) -> int:
        with self._cond:
            return self._failures.get(key, 0)

    # -- taking ---------------------------------------------------------------------------------

    def get(self, timeout: float | None = None) -> Hashable:
        """The next key to process; blocks. Raises ShutDown, or TimeoutError after ``timeout``."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while True:
                self._promote_due_locked()
                if self._queue:
                    key = self._queue.pop(0)
                    self._on_depth(len(self._queue))
                    self._processing.add(key)
                    self._dirty.discard(key)
                    return key
                if self._shutting_down:
                    raise ShutDown()
                wait = None if not self._waiting else max(0.0, self._waiting[0][0] - self._clock())
                if deadline is not None:
                    left = deadline - self._clock()
                    if left <= 0:
                        raise TimeoutError()
                    wait = left if wait is None else min(wait, left)
                self._cond.wait(wait)

    def _promote_due_locked(self) -> None:
        now = self._clock()
        while self._waiting and self._waiting[0][0] <= now:
            ready, _, key = heapq.heappop(self._waiting)
            if self._ready_at.get(key) != ready:
                continue  # superseded by an earlier time
            del self._ready_at[key]
            self._add_locked(key)

    def done(self, key: Hashable) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._queue.append(key)
                self._on_depth(len(self._queue))
                self._cond.notify()

    # -- state ----------------------------------------------------------------------------------

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue)

    def shut_down(self) -> None:
        """No new work; ``get`` drains what is queued now, then raises ShutDown."""
        with self._cond:
            self._shutting_down = True
            self._waiting.clear()
            self._ready_at.clear()
            self._cond.notify_all()

    def idle(self) -> bool:
        with self._cond:
            return not self._queue and not self._processing
