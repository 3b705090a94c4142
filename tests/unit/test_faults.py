"""The fault-injecting gateway, and the in-memory half of the perturbation run: a crash after every
single write of a pair's life (create, Bound, delete, gone), then a restarted reconcile, ends where
a run without faults ends, with nothing left behind. tests/cluster/test_faults.py does the same to
the operator process on the real API server."""

from __future__ import annotations

from typing import Any

import pytest

from lifecycle.engine.registry import Registry
from lifecycle.k8s.faults import Crash, EventDropper, FaultPlan, FaultyGateway
from lifecycle.k8s.gateway import CONFIG_MAP, DAEMON_SET, DATASET, STATEFUL_SET, Obj
from lifecycle.k8s.memory import MemoryGateway
from lifecycle.reconcile.reconciler import Reconciler
from lifecycle.testing import scripted
from lifecycle.testing.conformance import seen_by_user
from tests.tally import TALLY

NS, NAME = "team", "demo"
RT = scripted.KIND.resource
FAST = {"sync_intervals": {"sync_metadata": 0, "check_and_update_runtime_status": 0, "update_on_ufs_change": 0}}
PASSES = 30


def configmap(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NS}, "data": {}}


def test_a_plan_is_json_and_a_bad_one_says_how_to_write_it() -> None:
    assert FaultPlan.parse('{"crash_after_write": 3, "drop_every": 2}') == FaultPlan(crash_after_write=3, drop_every=2)
    for bad in ("crash", '{"crash_after": 1}', '{"crash_after_write": 0}'):
        with pytest.raises(ValueError, match="FLUIDLC_FAULTS"):
            FaultPlan.parse(bad)


def test_the_crash_comes_right_after_the_planned_write() -> None:
    inner = MemoryGateway()
    gw = FaultyGateway(inner, FaultPlan(crash_after_write=2))
    gw.create(configmap("one"))
    with pytest.raises(Crash):
        gw.create(configmap("two"))
    assert inner.get(CONFIG_MAP, NS, "two") is not None, "the planned write itself is made"
    gw.create(configmap("three"))  # a plan crashes once
    assert gw.writes == 3


def test_a_stale_view_lags_by_up_to_its_seconds() -> None:
    now = [0.0]
    inner = MemoryGateway()
    inner.create(configmap("cm"))
    gw = FaultyGateway(inner, FaultPlan(stale_seconds=2), clock=lambda: now[0])
    first = gw.get(CONFIG_MAP, NS, "cm")
    inner.patch(CONFIG_MAP, NS, "cm", {"data": {"k": "v"}})
    now[0] = 1.5
    assert gw.get(CONFIG_MAP, NS, "cm") == first and gw.list(CONFIG_MAP, NS)[0].get("data") == {"k": "v"}, \
        "a read of a key not seen before is fresh"
    now[0] = 2.5
    assert (gw.get(CONFIG_MAP, NS, "cm") or {}).get("data") == {"k": "v"}


def test_every_kth_event_is_dropped() -> None:
    dropper = EventDropper(3)
    assert [dropper.drop() for _ in range(7)] == [False, False, True, False, False, True, False]
    assert dropper.dropped == 2 and not EventDropper(0).drop()


# -- the perturbation run, in memory -------------------------------------------------------------


class Life:
    """One pair's whole life against the in-memory API server, with a reconcile that may crash."""

    def __init__(self, plan: FaultPlan | None = None):
        self.registry = Registry()
        scripted.register(self.registry)
        self.api = MemoryGateway((RT,))
        for i in range(2):
            self.api.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{i}"}})
        self.passes = 0  # the clock of a stale view: it lags by passes
        self.gw = FaultyGateway(self.api, plan or FaultPlan(), clock=lambda: float(self.passes))
        self.crashes = 0
        self.restart()

    def restart(self) -> None:
        """A new operator process: nothing of the last one's memory survives."""
        self.reconciler = Reconciler(self.gw, self.registry, settings=FAST)

    def kubelet(self) -> None:
        for sts in self.api.list(STATEFUL_SET, NS):
            self.api.set_status(STATEFUL_SET, NS, sts["metadata"]["name"], {"readyReplicas": sts["spec"]["replicas"]})
        for ds in self.api.list(DAEMON_SET, NS):
            self.api.set_status(DAEMON_SET, NS, ds["metadata"]["name"], {"numberReady": 0, "desiredNumberScheduled": 0})

    def until(self, done: Any) -> None:
        for _ in range(PASSES):
            if done():
                return
            self.kubelet()
            self.passes += 1
            try:
                self.reconciler.reconcile(NS, NAME)
            except Crash:
                self.crashes += 1
                self.restart()
        assert done(), f"not converged after {PASSES} passes"

    def phase(self) -> str | None:
        return ((self.api.get(DATASET, NS, NAME) or {}).get("status") or {}).get("phase")

    def live(self) -> None:
        self.api.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
                         "metadata": {"name": NAME, "namespace": NS},
                         "spec": {"mounts": [{"mountPoint": "s3://bucket/demo", "name": "demo"}]}})
        self.api.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "ScriptedRuntime",
                         "metadata": {"name": NAME, "namespace": NS}, "spec": {"replicas": 1}})
        self.until(lambda: self.phase() == "Bound")
        self.bound = self.world()
        self.api.delete(DATASET, NS, NAME)
        self.until(lambda: self.api.get(DATASET, NS, NAME) is None and self.api.get(RT, NS, NAME) is None)

    def world(self) -> dict[str, Any]:
        return seen_by_user(self.api, NS, (RT,))


def test_a_crash_after_any_write_of_a_pairs_life_ends_where_a_run_without_faults_ends() -> None:
    clean = Life()
    clean.live()
    writes, end = clean.gw.writes, clean.world()
    assert writes > 10 and clean.bound["PVs"] and not end["PVs"] and not end["node labels"]
    diverged = []
    for n in range(1, writes + 1):
        life = Life(FaultPlan(crash_after_write=n))
        life.live()
        if life.crashes != 1 or life.bound != clean.bound or life.world() != end:
            diverged.append(n)
    assert diverged == [], f"crashing after these writes changed the outcome: {diverged}"
    TALLY["crash points run in memory"] += writes
    TALLY["crash points that diverged in memory"] += len(diverged)


def test_a_view_two_passes_stale_still_binds_and_deletes_leaving_nothing() -> None:
    clean, stale = Life(), Life(FaultPlan(stale_seconds=2))
    clean.live()
    stale.live()
    assert stale.bound == clean.bound and stale.world() == clean.world()
