"""The order the lifecycle promises on the way out: nothing deleted while in use, nothing left
behind, nothing deleted twice, and a deletion that wins over whatever setup was doing.

Like ``test_lifecycle_order``, each test stands where a table row's guard, source or position keeps
a known kind of failure away (data deleted while a pod reads it, a volume leaked, a Dataset gone
before its runtime cleaned up), and was written against a table mutant the suite let through.
"""

from __future__ import annotations

import pytest

from lifecycle.k8s.gateway import DATASET, POD, PVC, STATEFUL_SET
from lifecycle.k8s.naming import DATASET_ID_LABEL
from lifecycle.machine.tables import RuntimeState
from tests.unit.test_lifecycle_order import bound_world, dataset_moves, state
from tests.unit.test_reconcile import NAME, NS, RT, World


@pytest.fixture
def bound() -> World:
    return bound_world()


def deleting_reason(world: World) -> str | None:
    """The reason of the Dataset's Deleting condition: what its deletion waits for."""
    found = [c for c in world.ds()["status"].get("conditions") or [] if c["type"] == "Deleting"]
    return str(found[0]["reason"]) if found else None


def both_gone(world: World) -> bool:
    return world.gw.get(DATASET, NS, NAME) is None and world.gw.get(RT, NS, NAME) is None


def reader(world: World) -> None:
    world.gw.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reader", "namespace": NS},
                     "spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": NAME}}]},
                     "status": {"phase": "Running"}})


def test_the_runtime_is_not_deleted_while_a_pod_uses_the_volume(bound: World) -> None:
    reader(bound)
    bound.gw.delete(DATASET, NS, NAME)
    bound.settle(4)
    assert not bound.rt()["metadata"].get("deletionTimestamp") and state(bound) == RuntimeState.READY
    assert bound.gw.get(PVC, NS, NAME) is not None
    bound.gw.delete(POD, NS, "reader")
    bound.settle(4)
    assert both_gone(bound)


def test_a_deleted_dataset_stays_until_its_runtime_has_cleaned_up(bound: World) -> None:
    bound.script.failing.add("shutdown")
    bound.gw.delete(DATASET, NS, NAME)
    bound.settle(4)
    assert state(bound) == RuntimeState.SHUTTING_DOWN
    assert deleting_reason(bound) == "WaitingForRuntime", bound.ds()["status"]
    bound.script.failing.clear()
    bound.settle(4)
    assert both_gone(bound)


def test_shutdown_waits_until_the_volume_is_really_gone(bound: World) -> None:
    """A PVC another controller still holds (its protection finalizer) keeps the workloads up."""
    bound.gw.patch(PVC, NS, NAME, {"metadata": {"finalizers": ["kubernetes.io/pvc-protection"]}})
    bound.gw.delete(RT, NS, NAME)
    bound.settle(4)
    assert state(bound) == RuntimeState.DELETING_VOLUME
    assert bound.gw.get(STATEFUL_SET, NS, f"{NAME}-master") is not None, "shut down before the volume went"
    assert bound.events("VolumeInUse")
    bound.gw.patch(PVC, NS, NAME, {"metadata": {"finalizers": None}})
    bound.settle(4)
    assert bound.gw.get(RT, NS, NAME) is None and bound.gw.get(STATEFUL_SET, NS, f"{NAME}-master") is None


STUCK_AT = {  # a setup stage, and the hook whose failure keeps the runtime there
    RuntimeState.NEW: None,  # no Dataset to claim
    RuntimeState.SETTING_UP_MASTER: "setup_master",
    RuntimeState.PREPARING_UFS: "prepare_ufs",
    RuntimeState.SETTING_UP_WORKERS: "check_workers_ready",
    RuntimeState.CREATING_VOLUME: "create_volume",
    RuntimeState.BINDING: "bind_to_dataset",
}


@pytest.mark.parametrize("stage", list(STUCK_AT))
def test_deleting_a_runtime_stuck_in_setup_wins_over_setup(stage: RuntimeState) -> None:
    """Whatever stage setup hangs in, deleting the runtime deletes it, and sets up nothing more."""
    world = World()
    if stage != RuntimeState.NEW:
        world.dataset()
    world.gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "ScriptedRuntime",
                     "metadata": {"name": NAME, "namespace": NS, "finalizers": ["example.com/hold"]},
                     "spec": {"replicas": 1}})
    hook = STUCK_AT[stage]
    if hook:
        world.script.failing.add(hook)
    world.settle(5)
    assert state(world) == stage
    world.gw.delete(RT, NS, NAME)
    world.script.calls.clear()
    world.settle(5)
    assert world.rt()["metadata"]["finalizers"] == ["example.com/hold"], "ours is removed: released"
    if stage == RuntimeState.NEW:  # a Dataset that comes now is not claimed by a runtime on its way out
        world.dataset()
        world.settle(3)
        assert DATASET_ID_LABEL not in (world.ds()["metadata"].get("labels") or {}), world.ds()["metadata"]
        assert not world.events("ClaimDataset"), "claimed, then let go, by a runtime being deleted"
    left = [o["kind"] for o in world.gw.all_objects()
            if o["kind"] not in ("Node", "Event", "Dataset", "ScriptedRuntime")]
    assert left == [], left
    assert not {"setup_master", "prepare_ufs", "setup_workers", "create_volume", "bind_to_dataset"} \
        & set(world.script.calls), world.script.calls


def test_a_dataset_deleted_before_the_operator_saw_it_is_released_without_our_finalizer() -> None:
    """Another controller's finalizer holds it; Kubernetes refuses a new finalizer on an object being
    deleted, so adding ours first would fail every pass."""
    world = World()
    world.gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
                     "metadata": {"name": NAME, "namespace": NS, "finalizers": ["example.com/hold"]},
                     "spec": {"mounts": [{"mountPoint": "s3://bucket/demo", "name": "demo"}]}})
    world.runtime()
    world.gw.delete(DATASET, NS, NAME)
    outcomes = [world.reconciler.reconcile(NS, NAME) for _ in range(3)]
    assert [o.failure for o in outcomes] == [None] * 3
    assert outcomes[0].moves[0].trigger == "delete" and outcomes[-1].dataset_state == "Deleted"
    ds = world.ds()
    assert ds["metadata"]["finalizers"] == ["example.com/hold"]
    assert [c["type"] for c in ds["status"]["conditions"]] == ["Deleting"]
    assert world.gw.get(RT, NS, NAME) is None


def test_the_runtime_of_a_dataset_another_dataset_mounts_is_kept_until_that_one_goes(bound: World) -> None:
    bound.gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
                     "metadata": {"name": "referrer", "namespace": NS},
                     "spec": {"mounts": [{"mountPoint": f"dataset://{NS}/{NAME}", "name": "ref"}]}})
    bound.gw.delete(DATASET, NS, NAME)
    bound.settle(4)
    assert not bound.rt()["metadata"].get("deletionTimestamp"), "the runtime was deleted while mounted"
    assert deleting_reason(bound) == "ReferencedByDatasets", bound.ds()["status"]
    bound.gw.delete(DATASET, NS, "referrer")
    bound.settle(4)
    assert both_gone(bound)


def test_a_dataset_deleted_after_its_runtime_does_not_delete_the_runtime_again(bound: World) -> None:
    bound.script.failing.add("shutdown")
    bound.gw.delete(RT, NS, NAME)
    bound.settle(4)
    assert state(bound) == RuntimeState.SHUTTING_DOWN
    bound.gw.delete(DATASET, NS, NAME)
    deletes = bound.gw.writes["delete"]
    bound.settle(4)
    assert bound.gw.writes["delete"] == deletes, "a delete request for a runtime already being deleted"
    bound.script.failing.clear()
    bound.settle(4)
    assert both_gone(bound)


def test_a_failed_dataset_is_deleted_from_where_it_is(bound: World) -> None:
    bound.script.failing.add("create_volume")
    bound.gw.delete(PVC, NS, NAME)
    bound.settle(2)
    assert bound.ds()["status"]["phase"] == "Failed"
    bound.gw.delete(DATASET, NS, NAME)
    moves = dataset_moves(bound.reconciler.reconcile(NS, NAME))
    assert moves[0] == ("delete", "Deleting"), moves


def test_a_dataset_deleted_with_its_runtime_goes_to_deleting_first(bound: World) -> None:
    bound.gw.delete(RT, NS, NAME)
    bound.gw.delete(DATASET, NS, NAME)
    moves = dataset_moves(bound.reconciler.reconcile(NS, NAME))
    assert moves[0] == ("delete", "Deleting"), moves
    bound.settle(4)
    assert both_gone(bound)


def test_a_dataset_is_moved_to_deleted_only_when_it_is_released(bound: World) -> None:
    bound.script.failing.add("shutdown")
    bound.gw.delete(DATASET, NS, NAME)
    for _ in range(4):
        moves = dataset_moves(bound.reconciler.reconcile(NS, NAME))
        assert ("release_runtime", "Deleted") not in moves and all(dest != "Deleted" for _, dest in moves), moves
    assert bound.gw.get(DATASET, NS, NAME) is not None
    bound.script.failing.clear()
    bound.settle(4)
    assert bound.gw.get(DATASET, NS, NAME) is None

