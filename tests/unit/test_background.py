"""Background work: a job's end wakes its owner, a job waiting for a worker is not counted as
running, and short jobs have workers of their own; the metadata sync's progress moves on in steps that grow."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engines.cache.metadata import PROGRESS_STEPS, progress_step
from lifecycle.engine.background import LONG_LANE, SHORT_LANE, Background

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_a_finished_job_wakes_its_owner_and_only_its_owner() -> None:
    bg = Background(workers=2)
    woken: list[object] = []
    done = threading.Event()
    bg.wake = lambda owner: (woken.append(owner), done.set())
    bg.start("quiet", lambda: 1, T0)
    bg.start("sync", lambda: 2, T0, owner=("team", "imagenet"))
    assert done.wait(5)
    bg.drain(5)
    assert woken == [("team", "imagenet")]
    assert bg.collect("sync", T0) == 2


def test_a_job_waiting_for_a_free_worker_is_not_yet_running() -> None:
    bg = Background(workers=1)
    release = threading.Event()
    first = bg.start("first", lambda: release.wait(5), T0, clock=lambda: T0 + timedelta(seconds=3))
    second = bg.start("second", lambda: None, T0, clock=lambda: T0 + timedelta(seconds=9))
    assert second.running_since is None, "counted as running while it waits for the only worker"
    release.set()
    bg.drain(5)
    assert first.running_since == T0 + timedelta(seconds=3) and second.running_since == T0 + timedelta(seconds=9)


def test_a_short_job_does_not_wait_behind_long_ones() -> None:
    bg = Background(workers=1, short_workers=1)
    release = threading.Event()
    bg.start("sync", lambda: release.wait(5), T0)
    bg.start("another sync", lambda: None, T0)
    report = bg.start("report", lambda: 3, T0, lane=SHORT_LANE)
    try:
        assert report.future.result(timeout=5) == 3, "the report waited for the only long-lane worker"
    finally:
        release.set()
    bg.drain(5)


def test_a_failing_wake_does_not_lose_the_result() -> None:
    bg = Background(workers=1)

    def gone(owner: object) -> None:
        raise RuntimeError("queue shut down")

    bg.wake = gone
    bg.start("sync", lambda: 7, T0, owner="pair")
    bg.drain(5)
    assert bg.collect("sync", T0) == 7


def test_progress_steps_grow_so_a_long_sync_writes_a_few_times_an_hour() -> None:
    assert progress_step(0) == (0, 10) and progress_step(9.5) == (0, 10)
    assert progress_step(25) == (20, 30) and progress_step(61) == (60, 120)
    last = PROGRESS_STEPS[-1]
    assert progress_step(3 * last + 5) == (3 * last, 4 * last)
    shown = {progress_step(s)[0] for s in range(0, 3600)}
    assert len(shown) <= 14, sorted(shown)


def test_jobs_run_at_most_workers_at_once_and_all_finish() -> None:
    bg = Background(workers=3)
    running, most = [0], [0]
    lock = threading.Lock()

    def work() -> None:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        threading.Event().wait(0.02)
        with lock:
            running[0] -= 1

    for i in range(12):
        bg.start(i, work, T0)
    bg.drain(10)
    assert most[0] == 3
    assert all(bg.job(i) is not None and bg.job(i).done() for i in range(12))  # type: ignore[union-attr]


def test_shutdown_cancels_waiting_jobs_refuses_new_ones_and_lets_a_running_one_end() -> None:
    bg = Background(workers=1)
    release = threading.Event()
    running = bg.start("running", lambda: release.wait(5), T0)
    waiting = bg.start("waiting", lambda: "never", T0)
    bg.shutdown()
    assert waiting.future.cancelled()
    with pytest.raises(RuntimeError, match="after shutdown"):
        bg.start("late", lambda: None, T0)
    release.set()
    assert running.future.result(5) is True


def test_a_process_told_to_stop_does_not_wait_for_a_running_job() -> None:
    script = ("import threading, datetime\n"
              "from lifecycle.engine.background import Background\n"
              "bg = Background(workers=1)\n"
              "started = threading.Event()\n"
              "bg.start('sync', lambda: (started.set(), threading.Event().wait(600)), datetime.datetime.now())\n"
              "started.wait(10)\n"
              "bg.shutdown()\n"
              "print('stopping')\n")
    # The timeout only stops a hang: a pool that joins its threads at exit waits the job's 600 s.
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])
    assert (done.returncode, done.stdout) == (0, "stopping\n"), done.stderr


def test_a_lane_has_room_while_fewer_calls_wait_than_it_has_workers() -> None:
    bg = Background(workers=1, short_workers=1)
    release = threading.Event()
    try:
        bg.start("running", lambda: release.wait(5), T0, lane=SHORT_LANE)
        deadline = time.monotonic() + 5
        while bg.job("running").running_since is None and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.01)
        assert bg.has_room(SHORT_LANE), "a running call does not wait"
        bg.start("waiting", lambda: None, T0, lane=SHORT_LANE)
        assert not bg.has_room(SHORT_LANE)
        assert bg.has_room(LONG_LANE), "the other lane's room is its own"
    finally:
        release.set()
    bg.drain(5)
    assert bg.has_room(SHORT_LANE)
