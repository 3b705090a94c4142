"""Random interleavings of user actions, controller progress, faults and operator restarts.

Hypothesis drives a Dataset/runtime pair on the in-memory API server with the scripted engine.
Each invariant of the lifecycle is a named check below; ``converge`` heals every fault and
proves the pair reaches the same end state as a clean run, and then stays quiet.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from lifecycle.engine.registry import Registry
from lifecycle.k8s.gateway import CONFIG_MAP, DAEMON_SET, DATASET, NODE, POD, PV, PVC, STATEFUL_SET
from lifecycle.k8s.memory import MemoryGateway
from lifecycle.k8s.naming import pv_name, reference_key
from lifecycle.k8s.ownership import OWNER_LABEL
from lifecycle.machine.tables import RuntimeState
from lifecycle.reconcile.reconciler import Reconciler
from lifecycle.testing import scripted

NS, NAME = "default", "demo"
RUNTIME = scripted.KIND.resource
NO_RATE_LIMITS = {"sync_intervals": {"sync_metadata": 0, "check_and_update_runtime_status": 0,
                                     "update_on_ufs_change": 0, "cache_report": 0}}
FAULTABLE = ("setup_master", "prepare_ufs", "setup_workers", "check_and_update_runtime_status", "create_volume",
             "bind_to_dataset", "sync_replicas", "sync_dataset_mounts", "sync_schedule_info_to_cache_nodes",
             "shutdown", "delete_volume", "check_runtime_healthy")
PAIR_LABEL_PREFIXES = ("fluid.io/s-scripted-default-demo", "fluid.io/s-default-demo")
MOUNT_SETS = (
    [{"mountPoint": "s3://bucket/demo", "name": "demo"}],
    [{"mountPoint": "s3://bucket/demo", "name": "demo"}, {"mountPoint": "hdfs://nn:9000/logs", "name": "logs"}],
    [{"mountPoint": "oss://other/data", "name": "data", "readOnly": True}],
)


class Crash(BaseException):
    """The operator process dies: not an error a hook could catch."""


class CrashingGateway(MemoryGateway):
    """Dies after a number of writes, leaving the world half-changed, like a killed operator."""

    crash_after: int | None = None

    def _tick(self) -> None:
        if self.crash_after is not None:
            self.crash_after -= 1
            if self.crash_after < 0:
                self.crash_after = None
                raise Crash()

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._tick()
        return super().create(obj)

    def patch(self, res: Any, namespace: Any, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        self._tick()
        return super().patch(res, namespace, name, patch)

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        if self.get(self._res_of(obj), meta.get("namespace"), meta["name"]) is not None:
            self._tick()  # an apply that creates is counted by create
        return super().apply(obj)

    def replace_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._tick()
        return super().replace_status(obj)

    def delete(self, res: Any, namespace: Any, name: str, uid: str | None = None) -> bool:
        self._tick()
        return super().delete(res, namespace, name, uid)


def new_world() -> tuple[CrashingGateway, Registry, scripted.Script]:
    registry = Registry()
    script = scripted.register(registry)
    gw = CrashingGateway((RUNTIME,))
    for i in range(4):
        gw.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{i}"}})
    return gw, registry, script


def dataset_manifest(mounts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
            "metadata": {"name": NAME, "namespace": NS}, "spec": {"mounts": copy.deepcopy(mounts)}}


def runtime_manifest(replicas: int) -> dict[str, Any]:
    return {"apiVersion": "data.fluid.io/v1alpha1", "kind": "ScriptedRuntime",
            "metadata": {"name": NAME, "namespace": NS}, "spec": {"replicas": replicas}}


def play_controllers(gw: MemoryGateway) -> None:
    """What the StatefulSet controller and kubelets would do: every replica becomes ready."""
    for sts in gw.list(STATEFUL_SET, NS):
        want = sts["spec"].get("replicas", 1)
        if (sts.get("status") or {}).get("readyReplicas") != want:
            gw.set_status(STATEFUL_SET, NS, sts["metadata"]["name"], {"readyReplicas": want})


# -- the invariants, each a named check ----------------------------------------------------------

def check_bound_means_ready_with_volume(gw: MemoryGateway) -> None:
    """A Dataset is Bound only when its runtime is Ready and the PV and PVC exist."""
    ds = gw.get(DATASET, NS, NAME)
    if ds is None or (ds.get("status") or {}).get("phase") != "Bound":
        return
    rt = gw.get(RUNTIME, NS, NAME)
    assert rt is not None, "Bound dataset without a runtime"
    assert rt["status"]["lifecycle"]["state"] == RuntimeState.READY, f"Bound but runtime is {rt['status']['lifecycle']}"
    assert gw.get(PVC, NS, NAME) is not None, "Bound without its PVC"
    assert gw.get(PV, None, pv_name(reference_key(NS, NAME))) is not None, "Bound without its PV"


def check_workers_after_master_and_ufs(script: scripted.Script) -> None:
    """Workers are never set up before the master is ready and the UFS is prepared."""
    assert all(master and ufs for master, ufs in script.worker_setups), script.worker_setups


def check_nothing_left(gw: MemoryGateway) -> None:
    """Once both objects are gone, nothing they owned remains: objects, volume, node labels."""
    leftovers = [(o["kind"], o["metadata"]["name"]) for o in gw.all_objects()
                 if o["kind"] not in ("Node", "Pod")]
    assert not leftovers, f"left behind: {leftovers}"
    for node in gw.list(NODE):
        labels = node["metadata"].get("labels") or {}
        assert not [k for k in labels if k.startswith(PAIR_LABEL_PREFIXES)], f"leaked node labels {labels}"


def normalised(gw: MemoryGateway) -> dict[str, Any]:
    """The end state that matters: objects and their specs, phases, node labels; no timestamps, no history."""
    out: dict[str, Any] = {}
    runtime = gw.get(RUNTIME, NS, NAME)
    runtime_uid = runtime["metadata"]["uid"] if runtime else None
    for obj in gw.all_objects():
        if obj["kind"] in ("Event", "Pod"):
            continue
        meta = obj["metadata"]
        if OWNER_LABEL in (meta.get("labels") or {}):  # UIDs differ between worlds; whose it is does not
            meta["labels"][OWNER_LABEL] = "runtime" if meta["labels"][OWNER_LABEL] == runtime_uid else "another"
        status = copy.deepcopy(obj.get("status"))
        if obj["kind"] in ("Dataset", "ScriptedRuntime") and status:
            status.pop("conditions", None)
            status.get("lifecycle", {}).pop("attempts", None)
        out[f"{obj['kind']}/{meta.get('namespace', '')}/{meta['name']}"] = {
            "labels": meta.get("labels") or {}, "finalizers": meta.get("finalizers"),
            "owners": sorted((r["kind"], r["name"]) for r in meta.get("ownerReferences") or []),
            "spec": obj.get("spec"), "data": obj.get("data"),
            "status": None if obj["kind"] == "StatefulSet" else status,  # set by the simulated controller
        }
    return out


def run_to_quiet(gw: CrashingGateway, reconciler: Reconciler, passes: int = 40) -> None:
    quiet = 0
    for _ in range(passes):
        play_controllers(gw)
        outcome = reconciler.reconcile(NS, NAME)
        check_bound_means_ready_with_volume(gw)
        quiet = quiet + 1 if not outcome.moves and not outcome.failure else 0
        if quiet >= 2:
            return
    raise AssertionError(f"did not settle in {passes} passes; last outcome {outcome}")


class PairLifecycle(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.gw, self.registry, self.script = new_world()
        self.reconciler = self._operator()
        self.mounts = MOUNT_SETS[0]
        self.replicas = 1

    def _operator(self) -> Reconciler:
        return Reconciler(self.gw, self.registry, settings=NO_RATE_LIMITS)

    def _exists(self, res: Any) -> bool:
        return self.gw.get(res, NS, NAME) is not None

    def _deleting(self, res: Any) -> bool:
        obj = self.gw.get(res, NS, NAME)
        return bool(obj and obj["metadata"].get("deletionTimestamp"))

    # -- users -------------------------------------------------------------------------------------

    @precondition(lambda self: not self._exists(DATASET))
    @rule(mounts=st.sampled_from(MOUNT_SETS))
    def create_dataset(self, mounts: list[dict[str, Any]]) -> None:
        self.mounts = mounts
        self.gw.create(dataset_manifest(mounts))

    @precondition(lambda self: not self._exists(RUNTIME))
    @rule(replicas=st.integers(0, 3))
    def create_runtime(self, replicas: int) -> None:
        self.replicas = replicas
        self.gw.create(runtime_manifest(replicas))

    @precondition(lambda self: self._exists(DATASET) and not self._deleting(DATASET))
    @rule(mounts=st.sampled_from(MOUNT_SETS))
    def change_mounts(self, mounts: list[dict[str, Any]]) -> None:
        self.mounts = mounts
        self.gw.patch(DATASET, NS, NAME, {"spec": {"mounts": copy.deepcopy(mounts)}})

    @precondition(lambda self: self._exists(RUNTIME) and not self._deleting(RUNTIME))
    @rule(replicas=st.integers(0, 3))
    def scale(self, replicas: int) -> None:
        self.replicas = replicas
        self.gw.patch(RUNTIME, NS, NAME, {"spec": {"replicas": replicas}})

    @precondition(lambda self: self._exists(DATASET))
    @rule()
    def delete_dataset(self) -> None:
        self.gw.delete(DATASET, NS, NAME)

    @precondition(lambda self: self._exists(DATASET))
    @rule()
    def dataset_vanishes(self) -> None:
        """Someone strips the finalizer: the Dataset is gone at once, whatever its runtime is doing."""
        self.gw.patch(DATASET, NS, NAME, {"metadata": {"finalizers": None}})
        self.gw.delete(DATASET, NS, NAME)

    @precondition(lambda self: self._exists(RUNTIME))
    @rule()
    def delete_runtime(self) -> None:
        self.gw.delete(RUNTIME, NS, NAME)

    @precondition(lambda self: self.gw.get(POD, NS, "reader") is None)
    @rule()
    def pod_mounts_volume(self) -> None:
        self.gw.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reader", "namespace": NS},
                        "spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": NAME}}]},
                        "status": {"phase": "Running"}})

    @precondition(lambda self: self.gw.get(POD, NS, "reader") is not None)
    @rule()
    def pod_finishes(self) -> None:
        self.gw.delete(POD, NS, "reader")

    # -- the world moving on its own ----------------------------------------------------------

    @rule()
    def controllers_progress(self) -> None:
        play_controllers(self.gw)

    @precondition(lambda self: bool(self.gw.list(STATEFUL_SET, NS)))
    @rule(role=st.sampled_from(["master", "worker"]))
    def pods_become_unready(self, role: str) -> None:
        if self.gw.get(STATEFUL_SET, NS, f"{NAME}-{role}") is not None:
            self.gw.set_status(STATEFUL_SET, NS, f"{NAME}-{role}", {"readyReplicas": 0})

    @rule(what=st.sampled_from(["master", "worker", "fuse", "pv", "pvc"]))
    def workload_lost(self, what: str) -> None:
        target = {"master": (STATEFUL_SET, NS, f"{NAME}-master"), "worker": (STATEFUL_SET, NS, f"{NAME}-worker"),
                  "fuse": (DAEMON_SET, NS, f"{NAME}-fuse"), "pv": (PV, None, pv_name(reference_key(NS, NAME))),
                  "pvc": (PVC, NS, NAME)}[what]
        obj = self.gw.get(*target)
        if obj is not None:
            # Lost means gone: finalizers of other controllers are not part of this story.
            self.gw.patch(target[0], target[1], target[2], {"metadata": {"finalizers": None}})
            self.gw.delete(*target)

    # -- the operator --------------------------------------------------------------------------

    @rule()
    def reconcile(self) -> None:
        self.reconciler.reconcile(NS, NAME)
        check_bound_means_ready_with_volume(self.gw)

    @rule(hook=st.sampled_from(FAULTABLE))
    def hook_fails(self, hook: str) -> None:
        self.script.failing.add(hook)

    @rule()
    def hooks_heal(self) -> None:
        self.script.failing.clear()

    @rule()
    def restart(self) -> None:
        self.reconciler = self._operator()

    @rule(writes=st.integers(0, 6))
    def crash_during_reconcile(self, writes: int) -> None:
        self.gw.crash_after = writes
        try:
            self.reconciler.reconcile(NS, NAME)
        except Crash:
            self.reconciler = self._operator()
        finally:
            self.gw.crash_after = None

    # -- convergence ---------------------------------------------------------------------------

    @rule()
    def converge(self) -> None:
        """Heal everything: the pair reaches the end state of a clean run, then writes nothing."""
        self.script.failing.clear()
        if self.gw.get(POD, NS, "reader") is not None:
            self.gw.delete(POD, NS, "reader")
        run_to_quiet(self.gw, self.reconciler)
        ds, rt = self.gw.get(DATASET, NS, NAME), self.gw.get(RUNTIME, NS, NAME)
        if ds is None and rt is None:
            check_nothing_left(self.gw)
            return
        if ds is not None and rt is not None:
            assert ds["status"]["phase"] == "Bound", ds["status"]
            assert rt["status"]["lifecycle"]["state"] == RuntimeState.READY, rt["status"]["lifecycle"]
        elif ds is not None:
            assert ds["status"]["phase"] == "NotBound", ds["status"]
        else:
            assert rt is not None and rt["status"]["lifecycle"]["state"] == "New", rt["status"]
        self.check_same_as_clean_run(ds, rt)
        self.check_idle_writes_nothing()

    def check_same_as_clean_run(self, ds: dict[str, Any] | None, rt: dict[str, Any] | None) -> None:
        """A restart (or crash, or fault) at any point ends where a run without any would."""
        clean, registry, _ = new_world()
        if ds is not None:
            clean.create(dataset_manifest(ds["spec"].get("mounts") or []))
        if rt is not None:
            clean.create(runtime_manifest(rt["spec"].get("replicas", 1)))
        run_to_quiet(clean, Reconciler(clean, registry, settings=NO_RATE_LIMITS))
        assert normalised(self.gw) == normalised(clean)

    def check_idle_writes_nothing(self) -> None:
        """A sync with nothing changed writes nothing: no object, no status, no event."""
        writes, events = sum(self.gw.writes.values()), len(self.gw.events)
        for _ in range(2):
            self.reconciler.reconcile(NS, NAME)
        assert (sum(self.gw.writes.values()), len(self.gw.events)) == (writes, events), self.gw.writes

    @invariant()
    def workers_after_master_and_ufs(self) -> None:
        if hasattr(self, "script"):
            check_workers_after_master_and_ufs(self.script)

    @invariant()
    def deletion_leaves_nothing(self) -> None:
        if hasattr(self, "gw") and not self._exists(DATASET) and not self._exists(RUNTIME) \
                and not self.gw.list(STATEFUL_SET, NS) and not self.gw.list(CONFIG_MAP, NS):
            check_nothing_left(self.gw)


PairLifecycle.TestCase.settings = settings(  # max_examples comes from the profile (tests/conftest.py)
    stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestPairLifecycle = PairLifecycle.TestCase


def test_a_crash_after_the_engine_applied_changed_mounts_still_ends_updating() -> None:
    """Found by the machine above: the engine applied the new mounts, the operator died before the
    status write, and its restart saw nothing left to do for the engine, so Updating never ended."""
    pair = PairLifecycle()
    pair.start()
    pair.create_dataset(mounts=MOUNT_SETS[0])
    pair.create_runtime(replicas=0)
    pair.converge()
    pair.change_mounts(mounts=MOUNT_SETS[1])
    pair.crash_during_reconcile(writes=1)  # the mount table's apply lands, the status writes do not
    pair.converge()
    assert pair.gw.get(DATASET, NS, NAME)["status"]["phase"] == "Bound"
