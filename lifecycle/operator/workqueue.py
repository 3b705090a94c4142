"""A work queue with the semantics of client-go's rate-limited queue.

One entry per key however often it is added; a key being processed is never handed to a second
worker (adds during processing mark it dirty and it comes back once ``done``); failures back off
per key exponentially (5 ms doubling, capped at 1000 s); waiting states come back after a delay,
and a key waits on one timer only (the earliest), so repeated requeues do not multiply.

Two lanes: what an event or a retry brings is handed out before routine work (a timer's poll or
periodic refresh, a resync), as controller-runtime's priority queue puts its resyncs last. At
1,000 pairs the cache reports due every 120 s kept 750 keys queued in an otherwise idle operator,
and a user's change waited behind all of them; now it waits for a free worker only. Routine work
waits while events keep coming, which is what it is for. And routine work holds at most
``routine_limit`` workers at once: at 100 pairs a burst of cache reports (an exec of a second or
two each on a busy machine) took all 16, and a user's scale waited 0.75 s for one to finish.
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
                 on_retry: Callable[[], None] | None = None, on_wait: Callable[[float], None] | None = None,
                 routine_limit: int | None = None):
        self.base_delay, self.max_delay, self._clock = base_delay, max_delay, clock
        self.routine_limit = routine_limit  # None: routine work may take every worker
        self._urgent: list[Hashable] = []
        self._routine: list[Hashable] = []
        self._dirty: set[Hashable] = set()
        self._is_routine: dict[Hashable, bool] = {}  # the lane of each dirty key
        self._processing: set[Hashable] = set()
        self._since: dict[Hashable, float] = {}  # when each dirty key was first added
        self._taken: dict[Hashable, tuple[float, bool]] = {}  # (seconds queued, routine) of each key in process
        self._failures: dict[Hashable, int] = {}
        self._waiting: list[tuple[float, int, Hashable]] = []  # (ready at, tie breaker, key)
        self._ready_at: dict[Hashable, float] = {}  # the one pending time per waiting key
        self._timer_routine: dict[Hashable, bool] = {}  # the lane it goes to when due
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._shutting_down = False
        self._on_depth = on_depth or (lambda depth: None)
        self._on_add = on_add or (lambda: None)
        self._on_retry = on_retry or (lambda: None)
        self._on_wait = on_wait or (lambda seconds: None)

    # -- adding ---------------------------------------------------------------------------------

    def add(self, key: Hashable, routine: bool = False) -> None:
        with self._cond:
            self._add_locked(key, routine)

    def _add_locked(self, key: Hashable, routine: bool) -> None:
        if self._shutting_down:
            return
        if key in self._dirty:
            if not routine and self._is_routine[key]:  # an event for a key queued as routine: it goes first
                self._is_routine[key] = False
                if key not in self._processing:
                    self._routine.remove(key)
                    self._urgent.append(key)
            return
        self._on_add()
        self._dirty.add(key)
        self._since[key] = self._clock()
        self._is_routine[key] = routine
        if key not in self._processing:
            (self._routine if routine else self._urgent).append(key)
            self._on_depth(self._depth())
            self._cond.notify()

    def _depth(self) -> int:
        return len(self._urgent) + len(self._routine)

    def add_after(self, key: Hashable, delay: float, routine: bool = True) -> None:
        """``key`` again after ``delay`` seconds, as routine work unless told otherwise."""
        if delay <= 0:
            self.add(key, routine)
            return
        with self._cond:
            if self._shutting_down:
                return
            ready = self._clock() + delay
            if self._ready_at.get(key, float("inf")) <= ready:
                return  # already coming back sooner: one timer per key, or requeues multiply
            self._ready_at[key] = ready
            self._timer_routine[key] = routine
            heapq.heappush(self._waiting, (ready, next(self._seq), key))
            self._cond.notify()

    def add_rate_limited(self, key: Hashable) -> float:
        """Back off: the n-th consecutive failure of a key waits base * 2**n (capped)."""
        with self._cond:
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
        self._on_retry()
        delay = float(min(self.base_delay * 2**failures, self.max_delay))
        self.add_after(key, delay, routine=False)  # a retry of work under way
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
                lane = self._urgent or (self._routine if self._routine_may_start() else None)
                if lane:
                    key = lane.pop(0)
                    self._on_depth(self._depth())
                    self._processing.add(key)
                    self._dirty.discard(key)
                    waited, routine = self._clock() - self._since.pop(key), self._is_routine.pop(key)
                    self._taken[key] = (waited, routine)
                    self._on_wait(waited)
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

    def _routine_may_start(self) -> bool:
        if self.routine_limit is None:
            return True
        return sum(routine for _, routine in self._taken.values()) < self.routine_limit  # one entry per worker

    def _promote_due_locked(self) -> None:
        now = self._clock()
        while self._waiting and self._waiting[0][0] <= now:
            ready, _, key = heapq.heappop(self._waiting)
            if self._ready_at.get(key) != ready:
                continue  # superseded by an earlier time
            del self._ready_at[key]
            self._add_locked(key, self._timer_routine.pop(key))

    def done(self, key: Hashable) -> None:
        with self._cond:
            self._processing.discard(key)
            taken = self._taken.pop(key, None)
            if taken is not None and taken[1] and self._routine:
                self._cond.notify()  # a routine slot is free for a worker waiting on one
            if key in self._dirty:
                (self._routine if self._is_routine[key] else self._urgent).append(key)
                self._on_depth(self._depth())
                self._cond.notify()

    # -- state ----------------------------------------------------------------------------------

    def taken(self, key: Hashable) -> tuple[float, bool] | None:
        """For a key being processed: the seconds it waited since it was added, and whether it came
        as routine work; what tells a slow answer to an event from a slow pass."""
        with self._cond:
            return self._taken.get(key)

    def __len__(self) -> int:
        with self._cond:
            return self._depth()

    def shut_down(self) -> None:
        """No new work; ``get`` drains what is queued now, then raises ShutDown."""
        with self._cond:
            self._shutting_down = True
            self._waiting.clear()
            self._ready_at.clear()
            self._timer_routine.clear()
            self._cond.notify_all()

    def idle(self) -> bool:
        with self._cond:
            return not self._urgent and not self._routine and not self._processing
