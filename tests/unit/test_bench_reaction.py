"""The reaction row names its slowest probe and when it was sent, so it can be found in the
operator's debug log (TRACE=<file>)."""

from __future__ import annotations

import time

from tests.bench.cluster_run import _reaction
from tests.bench.reaction import PATIENCE, Probe


def test_the_row_gives_the_percentiles_and_names_the_slowest_probe_with_its_time() -> None:
    at = time.mktime((2026, 12, 6, 23, 41, 2, 0, 0, -1)) + 0.123
    row = _reaction([Probe("pair-00010", at - 5, 0.05), Probe("pair-00020", at, 2.4), Probe("pair-00030", at + 5, 0.07)])
    assert row.startswith("p50 70 ms, p95 2400 ms, max 2400 ms (3 pairs, one at a time")
    assert row.endswith("; slowest pair-00020, sent at 23:41:02.123)")


def test_a_probe_never_answered_counts_as_missing_and_as_the_slowest() -> None:
    row = _reaction([Probe("pair-00010", 0.0, 0.05), Probe("pair-00020", 0.0, None)])
    assert f"1 not within {PATIENCE:.0f} s; slowest pair-00020" in row
