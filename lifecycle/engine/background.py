"""Long engine work off the reconcile's path: started by one pass, collected by a later one.

Loading the metadata of a big UFS takes minutes to hours (the reference's "[Calculating]" that
never ends). A hook starts such work here under a key, records in the object's status that it
runs, and asks to be looked at again soon (``EngineContext.requeue_after``); later passes find
the job by its key and collect the result. Jobs live in this process only: the status an engine
writes is what survives a restart, and it must be enough to start the job again.

A job started for an ``owner`` (the operator's key of the pair) wakes it when it ends, through
``wake``, which the operator points at its work queue: the pass that collects the result comes at
once, and nothing polls a job that may run for hours.

Two lanes, each with its own workers: ``LONG_LANE`` for work that may run for hours (metadata syncs)
and ``SHORT_LANE`` for commands of a second or two (cache reports), so a report never waits behind a
sync of a big UFS, and a pass never waits for a report.

The workers are daemon threads: a process told to stop does not wait for a sync that may run for
hours (``concurrent.futures``' pool joins its threads at exit). An abandoned job is safe to lose,
as when the process is killed: the next leader's pass starts it again from the status.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future, wait
from datetime import datetime
from typing import Any

import attrs

log = logging.getLogger("lifecycle.background")


@attrs.define
class Job:
    started_at: datetime  # when it was asked for
    future: Future[Any]
    running_since: datetime | None = None  # when a worker took it up (it may wait for a free one)

    def done(self) -> bool:
        return self.future.done()


WORKERS = 8  # jobs are mostly commands run in other pods: waiting, not computing
SHORT_WORKERS = 8  # reports due at once: at 1,000 pairs about 8 a second, each a second or two
LONG_LANE, SHORT_LANE = "long", "short"

Call = tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]


class DaemonPool:
    """Daemon threads running submitted calls in order: one is started per call until there are
    ``workers``, and they run every later call."""

    def __init__(self, workers: int, name: str):
        self.workers, self.name = workers, name
        self._calls: queue.SimpleQueue[Call | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot start background work after shutdown")
            self._calls.put((future, fn, args))
            if len(self._threads) < self.workers:
                thread = threading.Thread(target=self._work, name=f"{self.name}_{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
        return future

    def waiting(self) -> int:
        """Calls submitted and not yet taken up by a worker."""
        return self._calls.qsize()

    def _work(self) -> None:
        while True:
            call = self._calls.get()
            if call is None:
                return
            future, fn, args = call
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # handed to whoever collects the job
                    future.set_exception(exc)

    def shutdown(self) -> None:
        """Cancel the calls not yet started; those running end on their own (or with the process)."""
        with self._lock:
            self._closed = True
            while True:
                try:
                    call = self._calls.get_nowait()
                except queue.Empty:
                    break
                if call is not None:
                    call[0].cancel()
            for _ in self._threads:
                self._calls.put(None)


class Background:
    def __init__(self, workers: int = WORKERS, short_workers: int = SHORT_WORKERS):
        self._pools = {LONG_LANE: DaemonPool(workers, "background"), SHORT_LANE: DaemonPool(short_workers, "reports")}
        self._jobs: dict[Hashable, Job] = {}
        self._finished: dict[Hashable, datetime] = {}
        self._lock = threading.Lock()
        self.wake: Callable[[Hashable], None] = lambda owner: None

    def start(self, key: Hashable, work: Callable[[], Any], now: datetime,
              replaces: Callable[[Hashable], bool] = lambda key: False, owner: Hashable | None = None,
              clock: Callable[[], datetime] | None = None, lane: str = LONG_LANE) -> Job:
        """Run ``work`` in ``lane`` unless a job of this key already runs; the job either way. Jobs
        whose keys ``replaces`` accepts are forgotten: their results, when they come, are not wanted.
        The ``owner`` is woken when the job ends; ``clock`` stamps when a worker takes the job up."""
        with self._lock:
            for old in [k for k in self._jobs if k != key and replaces(k)]:
                self._jobs.pop(old).future.cancel()
            for old in [k for k in self._finished if k != key and replaces(k)]:
                del self._finished[old]
            job = self._jobs.get(key)
            if job is None:
                job = self._jobs[key] = Job(now, Future())
                job.future = self._pools[lane].submit(self._run, job, work, clock)
                if owner is not None:
                    job.future.add_done_callback(lambda _done: self._woken(owner))
            return job

    def has_room(self, lane: str) -> bool:
        """Whether ``lane`` takes up new work soon: fewer calls wait for its workers than it has
        workers. A job holds its pass's objects until it runs, so work that can wait for the next
        pass (a cache report) is not queued beyond this: each waiting report holds some 60 KiB, and at
        1,000 pairs on a busy machine the reports were due faster than they ran."""
        pool = self._pools[lane]
        return pool.waiting() < pool.workers

    @staticmethod
    def _run(job: Job, work: Callable[[], Any], clock: Callable[[], datetime] | None) -> Any:
        job.running_since = clock() if clock is not None else job.started_at
        return work()

    def _woken(self, owner: Hashable) -> None:
        try:
            self.wake(owner)
        except Exception as exc:  # a queue shut down meanwhile: the next resync looks at the owner anyway
            log.debug("could not wake %s: %s", owner, exc)

    def job(self, key: Hashable) -> Job | None:
        with self._lock:
            return self._jobs.get(key)

    def collect(self, key: Hashable, now: datetime) -> Any:
        """The finished job's result (or its exception, raised); the key is free again."""
        with self._lock:
            job = self._jobs.pop(key)
            self._finished[key] = now
        return job.future.result()

    def finished_at(self, key: Hashable) -> datetime | None:
        """When a job of this key was last collected by this process (pacing; lost on restart)."""
        with self._lock:
            return self._finished.get(key)

    def forget(self, matches: Callable[[Hashable], bool]) -> None:
        """Drop the jobs and finish times of keys ``matches`` accepts (their owner is gone)."""
        with self._lock:
            for key in [k for k in self._jobs if matches(k)]:
                self._jobs.pop(key).future.cancel()
            for key in [k for k in self._finished if matches(k)]:
                del self._finished[key]

    def remembered(self) -> set[Hashable]:
        """Every key this runner remembers: running jobs and finish times."""
        with self._lock:
            return set(self._jobs) | set(self._finished)

    def drain(self, timeout: float | None = None) -> None:
        """Wait until every running job has finished (for tests and orderly shutdown)."""
        with self._lock:
            futures = [j.future for j in self._jobs.values()]
        wait(futures, timeout=timeout)

    def shutdown(self) -> None:
        """No new jobs; those waiting for a worker are cancelled, those running are abandoned."""
        for pool in self._pools.values():
            pool.shutdown()
