"""The work queue's promises: one entry per key, one worker per key, backoff, delays."""

from __future__ import annotations

import threading
import time

import pytest

from lifecycle.operator.workqueue import ShutDown, WorkQueue


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_key_added_many_times_is_queued_once() -> None:
    q = WorkQueue()
    for _ in range(5):
        q.add("a")
    q.add("b")
    assert len(q) == 2 and q.get() == "a" and q.get() == "b"


def test_a_key_in_progress_is_not_handed_out_again_until_done() -> None:
    q = WorkQueue()
    q.add("a")
    assert q.get() == "a"
    q.add("a")  # an event while processing
    with pytest.raises(TimeoutError):
        q.get(timeout=0.05)
    q.done("a")
    assert q.get(timeout=1) == "a"


def test_failures_back_off_exponentially_and_forget_resets() -> None:
    clock = FakeClock()
    q = WorkQueue(clock=clock)
    delays = [q.add_rate_limited("a") for _ in range(4)]
    assert delays == [0.005, 0.01, 0.02, 0.04]
    q.forget("a")
    assert q.add_rate_limited("a") == 0.005
    capped = WorkQueue(clock=clock)
    for _ in range(30):
        last = capped.add_rate_limited("k")
    assert last == 1000.0


def test_delayed_keys_come_back_when_due() -> None:
    clock = FakeClock()
    q = WorkQueue(clock=clock)
    q.add_after("later", 10)
    with pytest.raises(TimeoutError):
        q.get(timeout=0)
    clock.now = 10.0
    assert q.get(timeout=0.1) == "later"


def test_no_two_workers_ever_hold_one_key() -> None:
    q = WorkQueue()
    holding: set[str] = set()
    overlap: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        while True:
            try:
                key = q.get()
            except ShutDown:
                return
            with lock:
                if key in holding:
                    overlap.append(key)
                holding.add(key)
            time.sleep(0.001)
            with lock:
                holding.discard(key)
            q.done(key)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(400):
        q.add(f"k{i % 5}")
    while not q.idle():
        time.sleep(0.01)
    q.shut_down()
    for t in threads:
        t.join(5)
    assert overlap == []


def test_shut_down_releases_waiting_workers() -> None:
    q = WorkQueue()
    errors: list[BaseException] = []

    def wait() -> None:
        try:
            q.get()
        except ShutDown as exc:
            errors.append(exc)

    t = threading.Thread(target=wait)
    t.start()
    q.shut_down()
    t.join(2)
    assert len(errors) == 1


def test_a_key_waits_on_one_timer_the_earliest() -> None:
    clock = FakeClock()
    q = WorkQueue(clock=clock)
    for delay in (60, 30, 60, 45):  # every reconcile asks to come back later
        q.add_after("pair", delay)
    clock.now = 30.0
    assert q.get(timeout=0) == "pair"
    q.done("pair")
    clock.now = 100.0
    with pytest.raises(TimeoutError):  # the later timers were folded into the first
        q.get(timeout=0)


def test_an_event_goes_before_routine_work_even_for_a_key_queued_as_routine() -> None:
    clock = FakeClock()
    q = WorkQueue(clock=clock)
    for key in ("poll-a", "poll-b", "poll-c"):
        q.add_after(key, 5)  # waiting states and periodic refreshes
    q.add("resynced", routine=True)
    clock.now = 5.0
    q.add("event")
    q.add("poll-c")  # an event for a key already queued as routine moves it up, once
    assert [q.get(timeout=0) for _ in range(5)] == ["event", "poll-c", "resynced", "poll-a", "poll-b"]


def test_a_retry_and_an_event_during_processing_come_back_in_the_event_lane() -> None:
    clock = FakeClock()
    q = WorkQueue(clock=clock)
    q.add("routine", routine=True)
    q.add("busy")
    assert q.get(timeout=0) == "busy"
    q.add("busy")  # an event while it is processed
    q.done("busy")
    assert q.get(timeout=0) == "busy"
    q.done("busy")
    q.add_rate_limited("failed")
    clock.now = 1.0
    assert [q.get(timeout=0) for _ in range(2)] == ["failed", "routine"]


def test_the_time_a_key_waited_counts_from_its_first_add_including_a_pass_under_way() -> None:
    clock, waits = FakeClock(), []
    q = WorkQueue(clock=clock, on_wait=waits.append)
    q.add("a", routine=True)
    clock.now = 2.0
    q.add("a")  # an event for it: the wait still counts from the first add, and it is no longer routine
    clock.now = 3.0
    assert q.get(timeout=0) == "a" and q.taken("a") == (3.0, False)
    q.add("a", routine=True)  # added while its pass runs
    clock.now = 7.5
    q.done("a")
    assert q.taken("a") is None
    clock.now = 8.0
    assert q.get(timeout=0) == "a" and q.taken("a") == (5.0, True)
    assert waits == [3.0, 5.0]


def test_routine_work_holds_at_most_its_limit_of_workers_so_an_event_finds_one_free() -> None:
    q = WorkQueue(routine_limit=2)
    for key in ("report-a", "report-b", "report-c"):
        q.add(key, routine=True)
    assert q.get(timeout=0) == "report-a" and q.get(timeout=0) == "report-b"
    with pytest.raises(TimeoutError):
        q.get(timeout=0)  # two routine passes run: the third waits although a worker is free
    q.add("scaled")
    assert q.get(timeout=0) == "scaled"
    q.done("scaled")  # an event's pass frees no routine slot
    with pytest.raises(TimeoutError):
        q.get(timeout=0)
    q.done("report-a")
    assert q.get(timeout=0) == "report-c"


def test_a_worker_waiting_for_a_routine_slot_is_woken_when_one_frees() -> None:
    q = WorkQueue(routine_limit=1)
    q.add("report-a", routine=True)
    q.add("report-b", routine=True)
    assert q.get(timeout=0) == "report-a"
    got: list[object] = []
    waiter = threading.Thread(target=lambda: got.append(q.get(timeout=5)))
    waiter.start()
    time.sleep(0.05)
    assert got == []
    q.done("report-a")
    waiter.join(timeout=5)
    assert got == ["report-b"]


def test_the_operator_keeps_a_quarter_of_its_workers_for_events() -> None:
    from lifecycle.operator.manager import routine_limit

    assert [routine_limit(n) for n in (1, 2, 4, 16, 32)] == [1, 1, 3, 12, 24]
