"""The conformance kit: what every engine must do for the lifecycle to keep its promises.

The lifecycle's invariants hold only if the engine's hooks tell the truth (a master is ready when
``check_master_ready`` says so, ``shutdown`` removes what setup made, a hook can be called again after
a crash). These checks drive one Dataset/runtime pair of any registered kind through its life on a
``SimulatedCluster`` and hold the engine to the invariants the property suite and the fault run
check for the scripted engine:

- ``binds``: the pair reaches Bound, and after every pass a Bound Dataset has a Ready runtime, a
  PV and a PVC (a status that lies is the bug);
- ``idle_writes_nothing``: a settled pair, and the same pair after an operator restart, writes
  nothing and sends no event (an engine that reports a change every time keeps the API busy);
- ``in_use_blocks_deletion``: while a pod uses the volume, deleting the Dataset deletes neither the
  volume nor the runtime; once the pod is gone both go;
- ``deletion_leaves_nothing``: after deletion no object, PV or node label of the pair is left;
- ``deletion_in_order``: the PVC and PV go before the cache's workloads, the workloads the engine
  deletes go before the runtime, and the Dataset goes last (its finalizer is the last thing removed);
- ``crash_after_every_write`` (deep): the operator dies right after each single write of the
  pair's life in turn and restarts; every such life ends where a run without a crash ends.

``run`` returns one ``Result`` per check; ``fluidlc conformance KIND`` prints them.
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Callable
from typing import Any

import attrs

from lifecycle.engine.kind import RuntimeKind
from lifecycle.engine.registry import Registry
from lifecycle.k8s.faults import Crash, FaultPlan, FaultyGateway
from lifecycle.k8s.gateway import (
    CONFIG_MAP,
    DAEMON_SET,
    DATASET,
    NODE,
    POD,
    PV,
    PVC,
    SERVICE,
    STATEFUL_SET,
    Obj,
    Resource,
)
from lifecycle.k8s.memory import ExecHandler, MemoryGateway
from lifecycle.k8s.naming import pv_name, reference_key
from lifecycle.testing.world import SimulatedCluster

NS, NAME = "conformance", "pair"
PASSES = 40  # enough for setup from nothing, with room; a pair that needs more is stuck
FAST = ("binds", "idle_writes_nothing", "in_use_blocks_deletion", "deletion_leaves_nothing", "deletion_in_order")
DEEP = ("crash_after_every_write",)
ExecFactory = Callable[[MemoryGateway], ExecHandler]


@attrs.frozen
class Result:
    check: str
    passed: bool
    detail: str = ""
    figures: dict[str, int] = attrs.field(factory=dict)


class Stuck(AssertionError):
    pass


@attrs.define
class Kit:
    """The checks for one runtime kind. ``exec_handler`` answers the commands the engine runs in
    its pods; ``dataset_spec`` and ``runtime_spec`` are what the pair is made from."""

    kind: RuntimeKind
    registry: Registry
    exec_handler: ExecFactory | None = None
    dataset_spec: dict[str, Any] = attrs.field(factory=lambda: {"mounts": [
        {"mountPoint": "s3://conformance/data", "name": "data"}]})
    runtime_spec: dict[str, Any] = attrs.field(factory=lambda: {"replicas": 1})

    # -- one pair's life -------------------------------------------------------------------------

    def world(self, plan: FaultPlan | None = None) -> SimulatedCluster:
        cluster = SimulatedCluster(self.registry, (self.kind,), exec_handler=self.exec_handler)
        if plan is not None:
            cluster.gateway = FaultyGateway(cluster.api, plan)
            cluster.restart()
        return cluster

    def create(self, cluster: SimulatedCluster) -> None:
        cluster.api.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
                            "metadata": {"name": NAME, "namespace": NS}, "spec": copy.deepcopy(self.dataset_spec)})
        cluster.api.create({"apiVersion": self.kind.resource.api_version, "kind": self.kind.kind,
                            "metadata": {"name": NAME, "namespace": NS}, "spec": copy.deepcopy(self.runtime_spec)})

    def until(self, cluster: SimulatedCluster, done: Callable[[], bool], what: str) -> int:
        """Passes (each with the controllers' turn, a crash restarting the operator) until ``done``;
        the invariant of ``binds`` is checked after every one. Returns the crashes seen."""
        crashes = 0
        for _ in range(PASSES):
            if done():
                return crashes
            cluster.kubelet()
            try:
                cluster.reconcile(NS, NAME)
            except Crash:
                crashes += 1
                cluster.restart()
            bound_means_ready_with_volume(cluster.api, self.kind)
        if not done():
            raise Stuck(f"{self.kind.kind} {NS}/{NAME}: not {what} after {PASSES} passes; "
                        f"events: {[e.reason + ': ' + e.message for e in cluster.api.events][-5:]}")
        return crashes

    def bound(self, cluster: SimulatedCluster) -> int:
        return self.until(cluster, lambda: phase(cluster.api) == "Bound", "Bound")

    def gone(self, cluster: SimulatedCluster) -> int:
        return self.until(cluster, lambda: cluster.api.get(DATASET, NS, NAME) is None
                          and cluster.api.get(self.kind.resource, NS, NAME) is None, "deleted")

    def life(self, plan: FaultPlan | None = None) -> tuple[SimulatedCluster, int, dict[str, Any], dict[str, Any]]:
        """Created, Bound, Dataset deleted, all gone: (world, crashes, what a user saw Bound and at the end)."""
        cluster = self.world(plan)
        self.create(cluster)
        crashes = self.bound(cluster)
        at_bound = seen_by_user(cluster.api, NS, (self.kind.resource,))
        cluster.api.delete(DATASET, NS, NAME)
        crashes += self.gone(cluster)
        return cluster, crashes, at_bound, seen_by_user(cluster.api, NS, (self.kind.resource,))

    # -- the checks ------------------------------------------------------------------------------

    def binds(self) -> dict[str, int]:
        cluster = self.world()
        self.create(cluster)
        self.bound(cluster)
        state = (cluster.api.get(self.kind.resource, NS, NAME) or {})["status"]["lifecycle"]["state"]
        assert state == "Ready", f"Dataset Bound but the runtime is {state}"
        return {"writes to Bound": sum(cluster.api.writes.values())}

    def idle_writes_nothing(self) -> dict[str, int]:
        cluster = self.world()
        self.create(cluster)
        self.bound(cluster)
        for _ in range(3):  # settle what follows Bound (the first Sync, the cache's status)
            cluster.kubelet()
            cluster.reconcile(NS, NAME)
        for restart in (False, True):
            if restart:
                cluster.restart()
                cluster.kubelet()
                cluster.reconcile(NS, NAME)  # a new process may refresh what it cannot know is current
            writes, events = dict(cluster.api.writes), len(cluster.api.events)
            for _ in range(2):
                cluster.kubelet()
                cluster.reconcile(NS, NAME)
            assert (dict(cluster.api.writes), len(cluster.api.events)) == (writes, events), \
                f"an idle pass {'after a restart ' if restart else ''}wrote: " \
                f"{ {k: v - writes.get(k, 0) for k, v in cluster.api.writes.items()} }, " \
                f"events {[e.reason for e in cluster.api.events[events:]]}"
        return {}

    def in_use_blocks_deletion(self) -> dict[str, int]:
        cluster = self.world()
        self.create(cluster)
        self.bound(cluster)
        cluster.api.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reader", "namespace": NS},
                            "spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": NAME}}]},
                            "status": {"phase": "Running"}})
        cluster.api.delete(DATASET, NS, NAME)
        for _ in range(8):
            cluster.kubelet()
            cluster.reconcile(NS, NAME)
            runtime = cluster.api.get(self.kind.resource, NS, NAME)
            assert runtime is not None and not runtime["metadata"].get("deletionTimestamp"), \
                "the runtime was deleted while a pod uses its volume"
            assert cluster.api.get(PVC, NS, NAME) is not None, "the PVC was deleted while a pod uses it"
            assert cluster.api.get(PV, None, pv_name(reference_key(NS, NAME))) is not None, \
                "the PV was deleted while a pod uses it"
            assert cluster.api.get(DATASET, NS, NAME) is not None, "the Dataset went while a pod uses it"
        cluster.api.delete(POD, NS, "reader")
        self.gone(cluster)
        return {}

    def deletion_leaves_nothing(self) -> dict[str, int]:
        cluster, _, _, _ = self.life()
        leftovers = [f"{o['kind']} {o['metadata']['name']}" for o in cluster.api.all_objects()
                     if o["kind"] not in ("Node", "Pod", "Event")]
        labels = [k for n in cluster.api.list(NODE) for k in (n["metadata"].get("labels") or {})
                  if k != "kubernetes.io/hostname"]
        assert not leftovers and not labels, f"left behind: {leftovers} node labels {labels}"
        return {}

    def deletion_in_order(self) -> dict[str, int]:
        cluster, _, _, _ = self.life()
        gone = [g for g in cluster.api.gone if g[0] != "Pod"]
        at = {g: i for i, g in reversed(list(enumerate(gone)))}  # where each first went
        runtime, dataset = at.get((self.kind.kind, NAME)), at.get(("Dataset", NAME))
        volume = [i for (kind, _), i in at.items() if kind in ("PersistentVolumeClaim", "PersistentVolume")]
        workloads = [i for (kind, _), i in at.items() if kind in ("StatefulSet", "DaemonSet")]
        assert runtime is not None and dataset is not None and len(volume) == 2, f"not all gone: {gone}"
        assert dataset == len(gone) - 1, f"the Dataset went before the rest: {gone}"
        assert max(volume) < runtime and all(max(volume) < w for w in workloads), \
            f"the cache or the runtime went while the volume was still there: {gone}"
        assert all(w < runtime for w in workloads), f"the runtime went before its cache: {gone}"
        return {"objects gone": len(gone)}

    def crash_after_every_write(self) -> dict[str, int]:
        clean, _, at_bound, end = self.life(FaultPlan())
        writes = getattr(clean.gateway, "writes", 0)
        diverged = []
        for n in range(1, writes + 1):
            _, crashes, bound_n, end_n = self.life(FaultPlan(crash_after_write=n))
            if crashes != 1 or bound_n != at_bound or end_n != end:
                diverged.append(n)
        assert not diverged, f"a crash right after these writes changed the outcome: {diverged}"
        return {"crash points": writes, "diverged": len(diverged)}


def phase(api: MemoryGateway) -> str | None:
    return ((api.get(DATASET, NS, NAME) or {}).get("status") or {}).get("phase")


def bound_means_ready_with_volume(api: MemoryGateway, kind: RuntimeKind) -> None:
    """A Dataset is Bound only while its runtime is Ready and its PV and PVC exist."""
    if phase(api) != "Bound" or (api.get(DATASET, NS, NAME) or {})["metadata"].get("deletionTimestamp"):
        return
    runtime = api.get(kind.resource, NS, NAME)
    state = (((runtime or {}).get("status") or {}).get("lifecycle") or {}).get("state")
    assert state == "Ready", f"Dataset Bound while its runtime is {state}"
    assert api.get(PVC, NS, NAME) is not None, "Dataset Bound without its PVC"
    assert api.get(PV, None, pv_name(reference_key(NS, NAME))) is not None, "Dataset Bound without its PV"


def seen_by_user(api: MemoryGateway, namespace: str, kinds: tuple[Resource, ...]) -> dict[str, Any]:
    """What a user can see of a namespace's pairs, without what differs between any two runs (UIDs, times)."""
    seen: dict[str, Any] = {}
    for res in (STATEFUL_SET, DAEMON_SET, CONFIG_MAP, SERVICE, PVC, *kinds, DATASET):
        for obj in api.list(res, namespace):
            meta: Obj = obj["metadata"]
            status = obj.get("status") or {}
            seen[f"{obj['kind']} {meta['name']}"] = (
                sorted((meta.get("labels") or {}).items()), sorted(meta.get("finalizers") or []),
                sorted(r["kind"] + "/" + r["name"] for r in meta.get("ownerReferences") or []),
                status.get("phase"), (status.get("lifecycle") or {}).get("state"),
                # What holds now; a condition that went back to False records a past failure.
                sorted(c["type"] for c in status.get("conditions") or [] if c["status"] == "True"))
    seen["PVs"] = sorted(pv["metadata"]["name"] for pv in api.list(PV))
    seen["node labels"] = sorted(k for n in api.list(NODE) for k in (n["metadata"].get("labels") or {})
                                 if k != "kubernetes.io/hostname")
    return seen


def run(kit: Kit, checks: tuple[str, ...] = FAST) -> list[Result]:
    """Every check of ``checks``, each on a world of its own; a failing check does not stop the rest."""
    results = []
    for name in checks:
        try:
            figures = getattr(kit, name)()
        except AssertionError as failed:
            results.append(Result(name, False, str(failed)))
        except Exception as error:  # an engine that raises is a finding to report, not a crash of the kit
            results.append(Result(name, False, "".join(traceback.format_exception_only(error)).strip()))
        else:
            results.append(Result(name, True, "", figures))
    return results


__all__ = ["DEEP", "FAST", "Kit", "Result", "bound_means_ready_with_volume", "run", "seen_by_user"]
