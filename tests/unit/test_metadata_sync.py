"""Metadata sync runs in the background, shows its progress, and survives an operator restart."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import engines.alluxio
from engines.alluxio.kind import KIND_SPEC as ALLUXIO
from lifecycle.engine.registry import Registry
from lifecycle.k8s.gateway import ExecResult
from lifecycle.reconcile.reconciler import Reconciler
from tests.unit.cache_cluster import (
    NAME,
    NS,
    FakeCluster,
    alluxio_manifest,
    dataset_manifest,
    queued_engines,
    seed,
)


class SlowLoad:
    """Holds every `loadMetadata` until released, like a UFS with millions of files."""

    def __init__(self, cluster: FakeCluster):
        self.cluster, self.release, self.started = cluster, threading.Event(), threading.Event()
        self.inner = cluster.exec

    def __call__(self, namespace: str, pod: str, container: str | None, argv: list[str]) -> ExecResult:
        if "loadMetadata" in argv:
            self.started.set()
            assert self.release.wait(30), "the test never released the load"
        return self.inner(namespace, pod, container, argv)


def metadata_condition(cluster: FakeCluster) -> dict[str, Any]:
    return next(c for c in cluster.dataset()["status"]["conditions"] if c["type"] == "MetadataSynced")


def pass_without_waiting(cluster: FakeCluster, seconds: int = 1) -> Any:
    cluster.time += timedelta(seconds=seconds)
    cluster.kubelet()
    return cluster.reconciler.reconcile(NS, NAME)


@pytest.fixture
def slow_pair(tmp_path: Path) -> Iterator[tuple[FakeCluster, SlowLoad]]:
    """A pair being created on a cluster whose metadata loads wait for the test's word."""
    cluster = FakeCluster(tmp_path)
    seed(cluster)
    slow = SlowLoad(cluster)
    cluster.gw.exec_handler = slow
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest())
    yield cluster, slow
    slow.release.set()
    cluster.reconciler.background.drain(10)


def test_a_slow_load_runs_beside_the_reconcile_and_shows_its_progress(slow_pair: tuple[FakeCluster, SlowLoad]) -> None:
    cluster, slow = slow_pair
    for _ in range(12):
        outcome = pass_without_waiting(cluster)
        if slow.started.is_set():
            break
    status = cluster.dataset()["status"]
    assert status["phase"] == "Bound" and status["ufsTotal"] == "[Calculating]"
    assert "cachedPercentage" not in status["cacheStates"]  # no percentage of an unknown size
    assert metadata_condition(cluster)["reason"] == "MetadataSyncing"
    assert outcome.requeue_after is not None and outcome.requeue_after <= 10  # back by the first progress step

    pass_without_waiting(cluster, seconds=25)
    progress = metadata_condition(cluster)
    assert progress["status"] == "False" and progress["message"].endswith("running for 20s")

    # From here the status check is paced as in production (every 5 s), so the percentage below
    # cannot come from a fresh cache report.
    cluster.reconciler.settings["sync_intervals"].pop("check_and_update_runtime_status")
    slow.release.set()
    cluster.reconciler.background.drain(10)
    pass_without_waiting(cluster)
    status = cluster.dataset()["status"]
    assert status["ufsTotal"] == "9.77KiB" and status["fileNum"] == "3"
    assert metadata_condition(cluster)["reason"] == "MetadataSynced"
    # The percentage column follows in the same pass, from the cached bytes already known.
    assert "cachedPercentage" in status["cacheStates"]
    assert status["cacheStates"]["cachedPercentage"].endswith("%")


def test_an_operator_restart_during_the_sync_starts_it_again(slow_pair: tuple[FakeCluster, SlowLoad]) -> None:
    cluster, slow = slow_pair
    while not slow.started.is_set():
        pass_without_waiting(cluster)
    loads_before = len(cluster.commands("loadMetadata"))

    # A new process: its Reconciler knows of no background job, only what the status says.
    registry = Registry()
    engines.alluxio.register(registry)
    old = cluster.reconciler
    cluster.reconciler = Reconciler(cluster.gw, registry, now=cluster.now, settings=old.settings)
    slow.release.set()
    old.background.drain(10)  # the dead process's job finishes, but nobody collects it
    pass_without_waiting(cluster)
    cluster.reconciler.background.drain(10)
    pass_without_waiting(cluster)
    assert len(cluster.commands("loadMetadata")) > loads_before, "the sync must start again"
    status = cluster.dataset()["status"]
    assert status["ufsTotal"] == "9.77KiB" and metadata_condition(cluster)["reason"] == "MetadataSynced"


def test_waiting_for_a_sync_writes_nothing_between_progress_steps(slow_pair: tuple[FakeCluster, SlowLoad]) -> None:
    cluster, slow = slow_pair
    while not slow.started.is_set():
        pass_without_waiting(cluster)
    pass_without_waiting(cluster)
    writes = sum(cluster.gw.writes.values())
    for _ in range(4):  # two-second polls inside one ten-second progress step
        pass_without_waiting(cluster, seconds=2)
    assert sum(cluster.gw.writes.values()) == writes


def test_synced_counts_are_refreshed_once_per_interval_not_on_every_pass(tmp_path: Path) -> None:
    cluster = FakeCluster(tmp_path)
    seed(cluster)
    cluster.reconciler.settings["sync_intervals"] = {**cluster.reconciler.settings["sync_intervals"],
                                                     "sync_metadata": 300}
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest())
    cluster.settle()
    counts = len(cluster.commands("count"))
    cluster.settle(passes=5)
    assert len(cluster.commands("count")) == counts, "no refresh within the interval"
    cluster.time += timedelta(seconds=300)
    cluster.settle(passes=6)  # the refresh finds the same counts: the condition does not move
    assert len(cluster.commands("count")) == counts + 1, "one refresh per interval"


def test_a_deleted_runtime_leaves_nothing_behind_in_the_background_runner(tmp_path: Path) -> None:
    cluster = FakeCluster(tmp_path)
    seed(cluster)
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest())
    cluster.settle()
    uid = cluster.get(ALLUXIO.resource, NAME)["metadata"]["uid"]
    background = cluster.reconciler.background
    assert any(key[1] == uid for key in background.remembered()), "the sync's finish time is remembered for pacing"
    cluster.gw.delete(ALLUXIO.resource, NS, NAME)
    cluster.settle(passes=6)
    assert cluster.gw.get(ALLUXIO.resource, NS, NAME) is None
    assert not [key for key in background.remembered() if key[1] == uid]


def test_a_queued_sync_holds_none_of_the_objects_its_pass_read(slow_pair: tuple[FakeCluster, SlowLoad]) -> None:
    """A job waits for a worker holding its engine: at 1,000 pairs hundreds waited, so the engine
    it gets keeps nothing the pass read (and shares no reads with the pass running on)."""
    cluster, slow = slow_pair
    background = cluster.reconciler.background
    queued = queued_engines(background)
    for _ in range(12):
        pass_without_waiting(cluster)
        if slow.started.is_set():
            break
    assert queued and all(engine._live == {} and engine.mount_table is None for engine in queued)
    slow.release.set()
    background.drain(10)
    pass_without_waiting(cluster)
    assert metadata_condition(cluster)["reason"] == "MetadataSynced"  # the detached engine did the sync
