"""What an Alluxio pair reports: cache states, storage figures, metadata, idle passes.

The in-memory cluster and stand-in CLIs are ``tests.unit.cache_cluster``; the ``cluster`` and ``bound``
fixtures are in conftest."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from engines.alluxio.engine import AlluxioEngine
from engines.alluxio.kind import KIND_SPEC as ALLUXIO
from engines.cache.status import REPORT_JOB
from lifecycle.k8s.gateway import NODE, ExecResult
from lifecycle.local.standin import cache as standin
from tests.unit.cache_cluster import (
    NAME,
    NS,
    FakeCluster,
    alluxio_manifest,
    context,
    dataset_manifest,
    queued_engines,
)


def test_cache_states_come_from_the_report_in_the_reference_formats(bound: FakeCluster) -> None:
    state = bound.state_dir("imagenet-master-0")
    standin.set_cached(state, {"/train/a.jpg": 3000, "/train/b.jpg": 2000})
    standin.set_metrics(state, BytesReadLocal=600, BytesReadRemote=200, BytesReadUfsAll=200,
                        BytesReadLocalThroughput=3 * 1024**2, BytesReadUfsThroughput=1024**2)
    bound.settle(passes=2)
    states = bound.dataset()["status"]["cacheStates"]
    assert states == {
        "cached": "4.88KiB", "cacheCapacity": "2.00GiB", "cachedPercentage": "50.0%",
        "cacheHitRatio": "80.0%", "localHitRatio": "60.0%", "remoteHitRatio": "20.0%",
        "cacheThroughputRatio": "75.0%", "localThroughputRatio": "75.0%", "remoteThroughputRatio": "0.0%",
    }
    assert bound.get(ALLUXIO.resource, NAME)["status"]["cacheStates"] == states


def test_cache_reports_run_once_per_interval_and_the_figures_stand_between(bound: FakeCluster) -> None:
    bound.reconciler.settings["sync_intervals"]["cache_report"] = 120
    bound.settle(passes=1)
    reports = [argv for _, _, argv in bound.execs if argv[:3] == ["alluxio", "fsadmin", "report"]]
    standin.set_cached(bound.state_dir("imagenet-master-0"), {"/train/a.jpg": 3000})
    before = bound.dataset()["status"]["cacheStates"]["cached"]
    for _ in range(5):
        bound.time += timedelta(seconds=20)
        bound.reconcile()
    assert [argv for _, _, argv in bound.execs if argv[:3] == ["alluxio", "fsadmin", "report"]] == reports
    assert bound.dataset()["status"]["cacheStates"]["cached"] == before
    bound.time += timedelta(seconds=21)
    bound.reconcile()  # due: the report runs beside this pass, whose figures still stand
    assert bound.dataset()["status"]["cacheStates"]["cached"] == before
    assert len([argv for _, _, argv in bound.execs if argv[:3] == ["alluxio", "fsadmin", "report"]]) > len(reports)
    bound.reconcile()  # the pair's next pass takes the finished report's figures
    assert bound.dataset()["status"]["cacheStates"]["cached"] == "2.93KiB"


def test_a_finished_background_report_wakes_no_pass_of_its_own(bound: FakeCluster) -> None:
    """Its figures wait for the pair's next pass (the resync): at 1,000 pairs a pass per report was
    idle work the resync does anyway."""
    woken: list[object] = []
    bound.reconciler.background.wake = woken.append
    bound.reconciler.settings["sync_intervals"].update(cache_report=120, sync_metadata=3600)  # no sync to wake it
    bound.settle(passes=1)
    bound.time += timedelta(seconds=121)
    bound.reconcile()
    job = bound.reconciler.background.job((REPORT_JOB, bound.get(ALLUXIO.resource, NAME)["metadata"]["uid"]))
    assert job is not None
    ended = threading.Event()
    job.future.add_done_callback(lambda _: ended.set())  # runs after the callbacks added before it
    assert ended.wait(10)
    assert woken == []


class HeldReports:
    """Holds every `fsadmin report` until released, like a master slow to answer under load."""

    def __init__(self, cluster: FakeCluster):
        self.inner, self.release, self.started = cluster.exec, threading.Event(), threading.Event()
        self.fail, self.calls = False, 0

    def __call__(self, namespace: str, pod: str, container: str | None, argv: list[str]) -> ExecResult:
        if argv[:3] == ["alluxio", "fsadmin", "report"]:
            self.calls += 1
            self.started.set()
            assert self.release.wait(30), "the test never released the report"
            if self.fail:
                return ExecResult(1, "", "connection refused")
        return self.inner(namespace, pod, container, argv)


def pass_without_waiting(cluster: FakeCluster, seconds: float = 1) -> None:
    cluster.time += timedelta(seconds=seconds)
    cluster.kubelet()
    assert cluster.reconciler.reconcile(NS, NAME).failure is None


def test_a_due_report_runs_beside_the_passes_and_a_scale_is_not_held_behind_it(bound: FakeCluster) -> None:
    bound.reconciler.settings["sync_intervals"]["cache_report"] = 120
    bound.settle(passes=1)
    held = HeldReports(bound)
    bound.gw.exec_handler = held
    try:
        standin.set_cached(bound.state_dir("imagenet-master-0"), {"/train/a.jpg": 3000})
        pass_without_waiting(bound, seconds=121)  # the report is due: started, and this pass returns
        assert held.started.wait(10), "the due report was not started"
        bound.patch_spec(ALLUXIO.resource, NAME, {"replicas": 1})
        for _ in range(3):  # the scale goes through while the report still hangs
            pass_without_waiting(bound)
        status = bound.get(ALLUXIO.resource, NAME)["status"]
        assert status["desiredWorkerNumberScheduled"] == 1 and status["cacheStates"]["cached"] == "0.00B"
    finally:
        held.release.set()
        bound.reconciler.background.drain(10)
    pass_without_waiting(bound)
    assert bound.dataset()["status"]["cacheStates"]["cached"] == "2.93KiB"


def test_a_queued_report_holds_none_of_the_objects_its_pass_read(bound: FakeCluster) -> None:
    bound.reconciler.settings["sync_intervals"].update(cache_report=120, sync_metadata=3600)
    bound.settle(passes=1)
    queued = queued_engines(bound.reconciler.background)
    pass_without_waiting(bound, seconds=121)  # the report is due: started in the background
    bound.reconciler.background.drain(10)
    assert queued and all(engine._live == {} and engine.mount_table is None for engine in queued)


def test_a_failed_background_report_keeps_the_figures_and_waits_an_interval(bound: FakeCluster) -> None:
    bound.reconciler.settings["sync_intervals"]["cache_report"] = 120
    bound.settle(passes=1)
    before = bound.dataset()["status"]["cacheStates"]
    held = HeldReports(bound)
    held.fail = True
    held.release.set()
    bound.gw.exec_handler = held
    bound.time += timedelta(seconds=121)
    bound.settle(passes=2)  # started, then collected: the failure is logged, the figures stand
    assert held.calls == 1
    bound.settle(passes=5)
    assert bound.dataset()["status"]["cacheStates"] == before
    assert held.calls == 1, "a failed report is not retried on every pass"
    bound.time += timedelta(seconds=121)
    bound.settle(passes=2)
    assert held.calls == 2, "it is tried again an interval later"


def test_an_idle_pass_writes_nothing(bound: FakeCluster) -> None:
    bound.settle(passes=3)
    before, events = bound.writes(), len(bound.gw.events)
    for _ in range(3):
        outcome = bound.reconcile()
        assert outcome.failure is None
    assert bound.writes() == before
    assert len(bound.gw.events) == events


def test_storage_hooks_return_integers(bound: FakeCluster) -> None:
    standin.set_cached(bound.state_dir("imagenet-master-0"), {"/val/c.jpg": 2000})
    engine = AlluxioEngine(context(bound))
    assert engine.used_storage_bytes() == 2000
    assert engine.free_storage_bytes() == 2 * 1024**3 - 2000
    assert engine.total_storage_bytes() == 10000
    assert engine.total_file_nums() == 3


def test_nodes_for_the_cache_leave_out_other_datasets_exclusive_nodes(bound: FakeCluster) -> None:
    bound.gw.patch(NODE, None, "node-1", {"metadata": {"labels": {"fluid_exclusive": "other_ds"}}})
    bound.gw.patch(NODE, None, "node-2", {"spec": {"unschedulable": True}})
    engine = AlluxioEngine(context(bound))
    assert engine.assign_nodes_to_cache(5) == 1
    assert engine.assign_nodes_to_cache(0) == 0


def test_auto_sync_off_loads_no_metadata(cluster: FakeCluster) -> None:
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest(management={"metadataSyncPolicy": {"autoSync": False}}))
    cluster.settle()
    status = cluster.dataset()["status"]
    assert status["phase"] == "Bound" and "ufsTotal" not in status and "fileNum" not in status
    assert not cluster.commands("loadMetadata") and not cluster.commands("count")


def test_a_failed_metadata_sync_is_a_condition_not_a_stuck_calculating(cluster: FakeCluster) -> None:
    cluster.failing.add("count")
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest())
    cluster.settle()
    status = cluster.dataset()["status"]
    assert status["phase"] == "Bound" and "ufsTotal" not in status
    synced = next(c for c in status["conditions"] if c["type"] == "MetadataSynced")
    assert synced["status"] == "False" and "alluxio fs count /" in synced["message"]
    assert cluster.event_reasons().count("MetadataSyncFailed") == 1
    cluster.failing.clear()
    cluster.settle(passes=2)
    assert cluster.dataset()["status"]["ufsTotal"] == "9.77KiB"


def reports(cluster: FakeCluster) -> list[str]:
    return [argv[3] for _, _, argv in cluster.execs if argv[:3] == ["alluxio", "fsadmin", "report"]]


def test_the_report_made_before_the_volume_exists_gives_zero_hits_without_asking(cluster: FakeCluster) -> None:
    cluster.reconciler.settings["sync_intervals"]["cache_report"] = 120
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest())
    cluster.settle()
    assert reports(cluster) == ["summary"]  # at setup: no volume, so nothing has read through the cache
    states = cluster.dataset()["status"]["cacheStates"]
    assert states["cacheHitRatio"] == states["localHitRatio"] == states["cacheThroughputRatio"] == "0.0%"
    standin.set_metrics(cluster.state_dir("imagenet-master-0"), BytesReadLocal=300, BytesReadUfsAll=100)
    cluster.time += timedelta(seconds=121)
    cluster.settle(passes=2)
    assert reports(cluster) == ["summary", "summary", "metrics"]  # the volume is there: hits are asked for
    assert cluster.dataset()["status"]["cacheStates"]["cacheHitRatio"] == "75.0%"


def test_the_storage_hooks_ask_for_capacity_and_use_only(bound: FakeCluster) -> None:
    before = len(reports(bound))
    engine = AlluxioEngine(context(bound))
    engine.used_storage_bytes()
    engine.free_storage_bytes()
    assert reports(bound)[before:] == ["summary", "summary"]


def test_a_due_report_waits_for_the_next_pass_while_the_report_lane_is_full(bound: FakeCluster,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    bound.reconciler.settings["sync_intervals"]["cache_report"] = 120
    bound.settle(passes=1)
    before = len(reports(bound))
    background = bound.reconciler.background
    monkeypatch.setattr(background, "has_room", lambda lane: False)
    bound.time += timedelta(seconds=121)
    bound.settle(passes=3)
    assert len(reports(bound)) == before, "queued although the lane was full"
    monkeypatch.undo()
    bound.settle(passes=2)
    assert len(reports(bound)) > before, "started once the lane had room"
