"""The reaction row names its slowest probe and when it was sent, so it can be found in the
operator's debug log (TRACE=<file>)."""

from __future__ import annotations

import time

from tests.bench.cluster_run import _reaction
from tests.bench.reaction import PATIENCE, Probe


def test_the_row_gives_the_percentiles_and_names_the_slowest_probe_with_its_time() -> None:
    at = time.mktime((2026, 12, 6, 23, 41, 2, 0, 0, -1)) + 0.123
    row = _reaction([Probe("pair-00010", at - 5, 0.05), Probe("pair-00020", at, 2.4),
                     Probe("pair-00030", at + 5, 0.07)])
    assert row.startswith("p50 70 ms, p95 2400 ms, max 2400 ms (3 pairs, one at a time")
    assert row.endswith("; slowest pair-00020, sent at 23:41:02.123)")


def test_a_probe_never_answered_counts_as_missing_and_as_the_slowest() -> None:
    row = _reaction([Probe("pair-00010", 0.0, 0.05), Probe("pair-00020", 0.0, None)])
    assert f"1 not within {PATIENCE:.0f} s; slowest pair-00020" in row


def test_the_machine_row_says_how_busy_the_machine_was_and_whose_the_busy_time_was() -> None:
    from tests.bench.cluster_run import _machine

    figures = {"machine_cpu": (90.0, 120.0), "cpu": 16.0, "platform_cpu": {"kube-apiserver": 43.0, "kwok": 6.0}}
    assert _machine(figures) == ("90 of 120 core-seconds busy (75%): operator 16, control plane and stand-ins 49, "
                                 "the rest (this bench, other processes) 25")


def test_the_cpu_of_a_process_s_children_and_of_the_machine_are_read_from_proc() -> None:
    import os
    import subprocess

    from tests.bench.watchers import children_cpu_seconds, machine_cpu

    before = children_cpu_seconds(os.getpid())
    subprocess.run(["python3", "-c", "sum(range(30_000_000))"], check=True)
    assert children_cpu_seconds(os.getpid()) - before > 0.1  # a child's CPU counts once it is waited for
    busy, every = machine_cpu()
    assert 0 < busy <= every
