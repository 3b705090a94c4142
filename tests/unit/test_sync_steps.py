"""Sync as the engine sees it: which of its hooks run in Ready, in which order, how often.

The order is the reference's (its base engine's Sync: metadata, replicas, runtime, which ends Sync
when it changed something, the runtime status, the Dataset's cache, mounts if the engine says so,
the UFS if the engine says so, node schedule info); an engine written for it relies on that order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lifecycle.engine.contract import EngineContext
from lifecycle.engine.registry import Registry
from lifecycle.k8s.gateway import DATASET, STATEFUL_SET
from lifecycle.k8s.memory import MemoryGateway
from lifecycle.reconcile.reconciler import Reconciler
from lifecycle.testing import scripted
from tests.unit.test_reconcile import FAST, NAME, NS, RT

SYNC_HOOKS = ("sync_metadata", "sync_replicas", "sync_runtime", "check_and_update_runtime_status",
              "update_cache_of_dataset", "should_sync_dataset_mounts", "sync_dataset_mounts", "should_update_ufs",
              "update_on_ufs_change", "sync_schedule_info_to_cache_nodes")
REFERENCE_ORDER = ["sync_metadata", "sync_replicas", "sync_runtime", "check_and_update_runtime_status",
                   "update_cache_of_dataset", "should_sync_dataset_mounts", "should_update_ufs", "update_on_ufs_change",
                   "sync_schedule_info_to_cache_nodes"]


class Recording(scripted.ScriptedEngine):
    """Records every Sync hook; each step says it changed something, sync_runtime as told."""

    runtime_changed = False
    drifted = True  # what should_update_ufs answers
    seen: list[str]

    def _rec(self, name: str, result: Any) -> Any:
        self.seen.append(name)
        return result

    def sync_metadata(self) -> Any:
        return self._rec("sync_metadata", True)

    def sync_replicas(self) -> Any:
        super().sync_replicas()
        return self._rec("sync_replicas", True)

    def sync_runtime(self) -> bool:
        return bool(self._rec("sync_runtime", self.runtime_changed))

    def check_and_update_runtime_status(self) -> bool:
        ready = super().check_and_update_runtime_status()
        if self.ctx.runtime.status is not None and self.ctx.runtime.status.lifecycle is not None \
                and self.ctx.runtime.status.lifecycle.state == "Ready":
            self.seen.append("check_and_update_runtime_status")
        return ready

    def update_cache_of_dataset(self) -> Any:
        super().update_cache_of_dataset()
        return self._rec("update_cache_of_dataset", True)

    def should_sync_dataset_mounts(self) -> bool:
        return bool(self._rec("should_sync_dataset_mounts", super().should_sync_dataset_mounts()))

    def sync_dataset_mounts(self) -> Any:
        super().sync_dataset_mounts()
        return self._rec("sync_dataset_mounts", True)

    def should_update_ufs(self) -> bool:
        return bool(self._rec("should_update_ufs", self.drifted))

    def update_on_ufs_change(self) -> Any:
        return self._rec("update_on_ufs_change", True)

    def sync_schedule_info_to_cache_nodes(self) -> Any:
        super().sync_schedule_info_to_cache_nodes()
        return self._rec("sync_schedule_info_to_cache_nodes", True)


class Pair:
    def __init__(self, settings: dict[str, Any] | None, runtime_changed: bool = False, drifted: bool = True):
        self.seen: list[str] = []
        self.history: list[str] = []  # every Sync hook called since the pair was made
        self.time = datetime(2026, 3, 1, tzinfo=UTC)
        script = scripted.Script()
        registry = Registry()

        def build(ctx: EngineContext) -> Recording:
            engine = Recording(ctx, script)
            engine.seen, engine.runtime_changed, engine.drifted = self.seen, runtime_changed, drifted
            return engine

        registry.register(scripted.KIND, build)
        self.gw = MemoryGateway((RT,))
        self.reconciler = Reconciler(self.gw, registry, now=lambda: self.time, settings=settings)
        self.gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
                        "metadata": {"name": NAME, "namespace": NS},
                        "spec": {"mounts": [{"mountPoint": "s3://bucket/demo", "name": "demo"}]}})
        self.gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "ScriptedRuntime",
                        "metadata": {"name": NAME, "namespace": NS}, "spec": {"replicas": 1}})
        for _ in range(6):
            self.step(1)
        assert (self.gw.get(DATASET, NS, NAME) or {})["status"]["phase"] == "Bound"

    def step(self, seconds: float) -> list[str]:
        """One pass ``seconds`` after the last: the Sync hooks it called, in order."""
        self.time += timedelta(seconds=seconds)
        for sts in self.gw.list(STATEFUL_SET, NS):
            self.gw.set_status(STATEFUL_SET, NS, sts["metadata"]["name"], {"readyReplicas": sts["spec"]["replicas"]})
        self.seen.clear()
        self.reconciler.reconcile(NS, NAME)
        self.history += [h for h in self.seen if h in SYNC_HOOKS]
        return [h for h in self.seen if h in SYNC_HOOKS]


def test_sync_calls_the_engine_in_the_references_order_asking_its_should_hooks() -> None:
    """Every step said it changed something: only sync_runtime's change ends Sync early."""
    pair = Pair(FAST)
    assert pair.step(1) == REFERENCE_ORDER
    assert pair.step(1) == REFERENCE_ORDER, "and again on the next pass: nothing here is rate limited"


def test_a_changed_runtime_ends_sync_at_sync_runtime() -> None:
    pair = Pair(FAST, runtime_changed=True)
    assert pair.step(1) == REFERENCE_ORDER[:3]


def test_mounts_are_synced_when_the_engine_says_they_differ_and_sync_goes_on() -> None:
    pair = Pair(FAST)
    for mounts in ([{"mountPoint": "hdfs://nn:9000/x", "name": "x"}], [{"mountPoint": "s3://b/y", "name": "y"}]):
        pair.gw.patch(DATASET, NS, NAME, {"spec": {"mounts": mounts}})
        seen = pair.step(1)  # the second change a second after the first: mounts are not rate limited
        at = REFERENCE_ORDER.index("should_sync_dataset_mounts") + 1
        assert seen == [*REFERENCE_ORDER[:at], "sync_dataset_mounts", *REFERENCE_ORDER[at:]], seen


@pytest.mark.parametrize(("hook", "interval"), [("check_and_update_runtime_status", 5), ("update_on_ufs_change", 300)])
def test_a_rate_limited_step_runs_once_per_interval_and_the_others_every_pass(hook: str, interval: int) -> None:
    pair = Pair({})
    pair.step(interval)
    assert hook in pair.step(interval), "due again once its interval has passed"
    second = pair.step(1)
    assert hook not in second, f"{hook} ran again within {interval}s"
    assert [h for h in REFERENCE_ORDER if h not in ("check_and_update_runtime_status", "update_on_ufs_change",
                                                      "should_update_ufs")] == \
        [h for h in second if h not in ("check_and_update_runtime_status", "update_on_ufs_change",
                                        "should_update_ufs")]


def test_a_rate_limited_check_that_finds_nothing_waits_its_interval_too() -> None:
    """The drift check is itself the cost (an exec in the master): a check that found no drift is
    not asked again before the interval has passed, however many events wake the pair."""
    pair = Pair({}, drifted=False)
    pair.step(300)
    assert "should_update_ufs" in pair.step(300)
    for _ in range(5):
        assert "should_update_ufs" not in pair.step(10)
    assert "should_update_ufs" in pair.step(300)


def test_a_drift_check_waits_its_first_interval_after_setup() -> None:
    """Setup has just mounted what the check would list: the first check comes an interval later."""
    pair = Pair({}, drifted=False)  # set up and Synced for a few seconds
    assert "sync_replicas" in pair.history and "should_update_ufs" not in pair.history
    assert all("should_update_ufs" not in pair.step(40) for _ in range(7))
    assert "should_update_ufs" in pair.step(40)
