"""The order the lifecycle promises, one bug class at a time: what must wait for what.

Each test puts one pair where a table row's guard, source or position is what stands between the
user and a known kind of failure (deleted while in use, out-of-order deletion, a status that lies,
setup on a lost master), and checks what a user or the engine would see. They were written
against the table mutants of ``make mutants`` that the rest of the suite let through.
"""

from __future__ import annotations

from typing import Any

import pytest

from lifecycle.k8s.gateway import DATASET, POD, PV, PVC, STATEFUL_SET
from lifecycle.k8s.naming import DATASET_ID_LABEL, pv_name, reference_key
from lifecycle.machine.tables import RuntimeState
from tests.unit.test_reconcile import NAME, NS, RT, World


@pytest.fixture
def bound() -> World:
    world = World()
    world.dataset()
    world.runtime()
    world.settle()
    assert world.ds()["status"]["phase"] == "Bound"
    return world


def state(world: World) -> str:
    return str(world.rt()["status"]["lifecycle"]["state"])


def runtime_moves(outcome: Any) -> list[tuple[str, Any, Any]]:
    return [(m.trigger, m.source, m.dest) for m in outcome.moves if m.machine == "Runtime"]


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
    assert bound.gw.get(DATASET, NS, NAME) is None and bound.gw.get(RT, NS, NAME) is None


def test_a_deleted_dataset_stays_until_its_runtime_has_cleaned_up(bound: World) -> None:
    bound.script.failing.add("shutdown")
    bound.gw.delete(DATASET, NS, NAME)
    bound.settle(4)
    assert state(bound) == RuntimeState.SHUTTING_DOWN
    ds = bound.ds()
    deleting = [c for c in ds["status"]["conditions"] if c["type"] == "Deleting"]
    assert deleting and deleting[0]["reason"] == "WaitingForRuntime", ds["status"]
    bound.script.failing.clear()
    bound.settle(4)
    assert bound.gw.get(DATASET, NS, NAME) is None and bound.gw.get(RT, NS, NAME) is None


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


@pytest.mark.parametrize("stage", [RuntimeState.PREPARING_UFS, RuntimeState.SETTING_UP_WORKERS])
def test_a_master_lost_during_setup_sends_setup_back_to_the_master(stage: RuntimeState) -> None:
    world = World()
    world.dataset()
    world.runtime()
    world.script.failing.add("prepare_ufs" if stage == RuntimeState.PREPARING_UFS else "check_workers_ready")
    world.settle(4)
    assert state(world) == stage
    world.gw.delete(STATEFUL_SET, NS, f"{NAME}-master")
    outcome = world.reconciler.reconcile(NS, NAME)
    assert state(world) == RuntimeState.SETTING_UP_MASTER
    assert runtime_moves(outcome) == [("master_lost", stage, RuntimeState.SETTING_UP_MASTER)], "not straight back"
    assert all(master for master, _ in world.script.worker_setups), "workers set up without a master"
    world.script.failing.clear()
    world.settle()
    assert world.ds()["status"]["phase"] == "Bound"


def test_workers_are_set_up_once_while_the_engine_says_they_need_nothing_more() -> None:
    world = World()
    world.dataset()
    world.runtime()
    for _ in range(5):  # the master gets ready; the workers never do
        master = world.gw.get(STATEFUL_SET, NS, f"{NAME}-master")
        if master is not None:
            world.gw.set_status(STATEFUL_SET, NS, f"{NAME}-master", {"readyReplicas": 1})
        world.reconciler.reconcile(NS, NAME)
    assert state(world) == RuntimeState.SETTING_UP_WORKERS
    assert world.script.calls.count("setup_workers") == 1, world.script.calls


def test_an_updating_dataset_whose_runtime_breaks_is_failed() -> None:
    world = World()
    world.dataset()
    world.runtime()
    world.settle()
    world.script.failing.add("sync_dataset_mounts")  # the change is never applied: it stays Updating
    world.gw.patch(DATASET, NS, NAME, {"spec": {"mounts": [{"mountPoint": "hdfs://nn:9000/x", "name": "x"}]}})
    world.settle(2)
    assert world.ds()["status"]["phase"] == "Updating"
    world.gw.delete(STATEFUL_SET, NS, f"{NAME}-worker")
    outcome = world.reconciler.reconcile(NS, NAME)
    assert ("Dataset", "fail") in {(m.machine, m.trigger) for m in outcome.moves}
    assert world.ds()["status"]["phase"] == "Failed"


def test_an_updating_dataset_that_loses_its_volume_fails_until_it_is_made_again() -> None:
    world = World()
    world.dataset()
    world.runtime()
    world.settle()
    world.script.failing.add("sync_dataset_mounts")
    world.gw.patch(DATASET, NS, NAME, {"spec": {"mounts": [{"mountPoint": "hdfs://nn:9000/x", "name": "x"}]}})
    world.settle(2)
    assert world.ds()["status"]["phase"] == "Updating"
    world.gw.delete(PVC, NS, NAME)
    outcome = world.reconciler.reconcile(NS, NAME)
    moves = [(m.machine, m.trigger) for m in outcome.moves]
    assert ("Dataset", "fail") in moves and moves.index(("Dataset", "fail")) < moves.index(("Runtime", "volume_lost"))


def test_a_broken_runtime_is_repaired_before_it_is_synced_or_rebound(bound: World) -> None:
    """Lost workers and a lost volume at once: setup repairs the workload first; Sync (scaling,
    remounting) and binding wait for a healthy runtime."""
    bound.gw.delete(STATEFUL_SET, NS, f"{NAME}-worker")
    bound.gw.delete(PVC, NS, NAME)
    bound.gw.delete(PV, None, pv_name(reference_key(NS, NAME)))
    bound.script.calls.clear()
    outcome = bound.reconciler.reconcile(NS, NAME)
    runtime_moves = [m.trigger for m in outcome.moves if m.machine == "Runtime"]
    assert runtime_moves[0] == "health_lost", runtime_moves
    calls = bound.script.calls
    assert "sync_replicas" not in calls or calls.index("sync_replicas") > calls.index("setup_workers"), calls
    bound.settle()
    assert bound.ds()["status"]["phase"] == "Bound"


def test_a_dataset_binds_only_once_its_volume_is_back() -> None:
    """A Dataset whose phase was reset (NotBound) while its PVC was gone waits for the runtime to
    make the volume again before it says Bound: the Bind event comes after VolumeCreated."""
    world = World()
    world.dataset()
    world.runtime()
    world.settle()
    status = world.ds()["status"]
    world.gw.set_status(DATASET, NS, NAME, {**status, "phase": "NotBound"})
    world.gw.delete(PVC, NS, NAME)
    world.gw.events.clear()
    world.reconciler.reconcile(NS, NAME)
    reasons = [e.reason for e in world.gw.events]
    assert "Bind" not in reasons or reasons.index("Bind") > reasons.index("VolumeCreated"), reasons


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


def test_a_data_migration_holds_the_dataset_in_data_migrating_until_it_ends(bound: World) -> None:
    """A DataMigrate operation (another controller records it in operationRef) shows as the phase
    DataMigrating, on every pass while it runs; when it ends the Dataset is Bound again."""
    status = bound.ds()["status"]
    bound.gw.set_status(DATASET, NS, NAME, {**status, "operationRef": {"DataMigrate": "move-it"}})
    outcome = bound.reconciler.reconcile(NS, NAME)
    assert [(m.trigger, m.dest) for m in outcome.moves if m.machine == "Dataset"] == [("migrate", "DataMigrating")]
    assert bound.ds()["status"]["phase"] == "DataMigrating"
    bound.settle(2)
    assert bound.ds()["status"]["phase"] == "DataMigrating"
    status = bound.ds()["status"]
    bound.gw.set_status(DATASET, NS, NAME, {**status, "operationRef": None})
    outcome = bound.reconciler.reconcile(NS, NAME)
    assert [(m.trigger, m.dest) for m in outcome.moves if m.machine == "Dataset"] == [("migrated", "Bound")]
    assert bound.ds()["status"]["phase"] == "Bound"


def migrating(world: World, running: bool) -> None:
    status = world.ds()["status"]
    world.gw.set_status(DATASET, NS, NAME, {**status, "operationRef": {"DataMigrate": "move-it"} if running else None})


SAME_PASS = {  # something else that happens in the pass where a migration starts, and what it makes the Dataset
    "deleted": (lambda w: w.gw.delete(DATASET, NS, NAME), [("delete", "Deleting")]),
    "runtime deleted": (lambda w: w.gw.delete(RT, NS, NAME), [("fail", "Failed")]),  # not ready, then unbound
    "volume lost": (lambda w: w.gw.delete(PVC, NS, NAME), [("fail", "Failed")]),
    "mounts changed": (lambda w: w.gw.patch(DATASET, NS, NAME, {"spec": {"mounts": [
        {"mountPoint": "hdfs://nn:9000/x", "name": "x"}]}}), [("update", "Updating")]),
}


@pytest.mark.parametrize("other", list(SAME_PASS))
def test_a_migration_starting_in_the_same_pass_as_another_change_yields_to_it(bound: World, other: str) -> None:
    """Deletion, unbinding, failure and spec updates say more about the Dataset than a migration
    does: the first move of the pass is theirs."""
    bound.script.failing.add("create_volume")  # a lost volume stays lost for this pass
    do, first = SAME_PASS[other]
    migrating(bound, running=True)
    do(bound)
    outcome = bound.reconciler.reconcile(NS, NAME)
    assert [(m.trigger, m.dest) for m in outcome.moves if m.machine == "Dataset"][:1] == first


def test_a_migration_ending_as_the_dataset_is_deleted_goes_straight_to_deleting(bound: World) -> None:
    migrating(bound, running=True)
    bound.reconciler.reconcile(NS, NAME)
    migrating(bound, running=False)
    bound.gw.delete(DATASET, NS, NAME)
    outcome = bound.reconciler.reconcile(NS, NAME)
    assert [(m.trigger, m.dest) for m in outcome.moves if m.machine == "Dataset"][:1] == [("delete", "Deleting")]



def test_the_master_is_set_up_once_while_the_engine_says_it_needs_nothing_more() -> None:
    world = World()
    world.dataset()
    world.runtime()
    for _ in range(4):  # the master never gets ready
        world.reconciler.reconcile(NS, NAME)
    assert state(world) == RuntimeState.SETTING_UP_MASTER
    assert world.script.calls.count("setup_master") == 1, world.script.calls


def test_a_new_pair_goes_through_every_setup_stage_once_in_order() -> None:
    """What a user watching the runtime's events sees while a pair sets up without trouble."""
    world = World()
    world.dataset()
    world.runtime()
    world.settle()
    moves = [e.reason for e in world.gw.events if e.reason in (
        "ClaimDataset", "MasterReady", "MasterLost", "UfsPrepared", "WorkersReady", "VolumeCreated", "Bound",
        "HealthLost", "VolumeLost")]
    assert moves == ["ClaimDataset", "MasterReady", "UfsPrepared", "WorkersReady", "VolumeCreated", "Bound"], moves


def test_a_failed_dataset_recovers_straight_to_bound(bound: World) -> None:
    """A Dataset whose runtime is repaired says Recover and nothing else: it does not pass through
    NotBound, New, Updating or DataMigrating on its way back (each would send its own event, and
    a watcher would see a phase that is not true)."""
    bound.gw.delete(STATEFUL_SET, NS, f"{NAME}-worker")
    bound.reconciler.reconcile(NS, NAME)
    assert bound.ds()["status"]["phase"] == "Failed"
    bound.gw.events.clear()
    bound.settle()
    assert bound.ds()["status"]["phase"] == "Bound"
    dataset_moves = [e.reason for e in bound.gw.events
                     if e.reason in ("Recover", "Bind", "Initialize", "Unbind", "Update", "Updated", "Migrate",
                                     "Migrated", "Fail")]
    assert dataset_moves == ["Recover"], dataset_moves


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
    deleting = [c for c in bound.ds()["status"]["conditions"] if c["type"] == "Deleting"]
    assert deleting and deleting[0]["reason"] == "ReferencedByDatasets", bound.ds()["status"]
    bound.gw.delete(DATASET, NS, "referrer")
    bound.settle(4)
    assert bound.gw.get(DATASET, NS, NAME) is None and bound.gw.get(RT, NS, NAME) is None


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
    assert bound.gw.get(DATASET, NS, NAME) is None and bound.gw.get(RT, NS, NAME) is None


def test_a_dataset_without_a_runtime_waits_quietly() -> None:
    world = World()
    world.dataset()
    world.settle(2)
    assert world.ds()["status"]["phase"] == "NotBound"
    writes, events = sum(world.gw.writes.values()), len(world.gw.events)
    outcome = world.settle(3)
    assert outcome.moves == () and sum(world.gw.writes.values()) == writes and len(world.gw.events) == events


def test_a_lost_volume_is_made_again_without_setting_up_the_cache_again(bound: World) -> None:
    bound.gw.delete(PVC, NS, NAME)
    outcome = bound.reconciler.reconcile(NS, NAME)
    R = RuntimeState
    assert runtime_moves(outcome) == [("volume_lost", R.READY, R.CREATING_VOLUME),
                                      ("volume_created", R.CREATING_VOLUME, R.BINDING), ("bound", R.BINDING, R.READY)]
    assert bound.gw.get(PVC, NS, NAME) is not None and bound.ds()["status"]["phase"] == "Bound"


def test_a_lost_master_sends_a_ready_runtime_back_to_the_master(bound: World) -> None:
    bound.gw.delete(STATEFUL_SET, NS, f"{NAME}-master")
    outcome = bound.reconciler.reconcile(NS, NAME)
    assert runtime_moves(outcome)[0] == ("health_lost", RuntimeState.READY, RuntimeState.SETTING_UP_MASTER)
    bound.settle()
    assert state(bound) == RuntimeState.READY and bound.ds()["status"]["phase"] == "Bound"


def dataset_moves(outcome: Any) -> list[tuple[str, Any]]:
    return [(m.trigger, m.dest) for m in outcome.moves if m.machine == "Dataset"]


def test_a_migrating_dataset_whose_volume_is_lost_fails_before_it_is_served_again(bound: World) -> None:
    migrating(bound, True)
    bound.reconciler.reconcile(NS, NAME)
    assert bound.ds()["status"]["phase"] == "DataMigrating"
    bound.gw.delete(PVC, NS, NAME)
    moves = dataset_moves(bound.reconciler.reconcile(NS, NAME))
    assert moves[0] == ("fail", "Failed"), moves


def test_a_migrating_dataset_whose_runtime_is_not_ready_fails(bound: World) -> None:
    migrating(bound, True)
    bound.reconciler.reconcile(NS, NAME)
    bound.gw.delete(STATEFUL_SET, NS, f"{NAME}-master")
    moves = dataset_moves(bound.reconciler.reconcile(NS, NAME))
    assert ("fail", "Failed") in moves and bound.ds()["status"]["phase"] == "Failed", moves


def test_a_failed_dataset_is_deleted_from_where_it_is(bound: World) -> None:
    bound.script.failing.add("create_volume")
    bound.gw.delete(PVC, NS, NAME)
    bound.settle(2)
    assert bound.ds()["status"]["phase"] == "Failed"
    bound.gw.delete(DATASET, NS, NAME)
    moves = dataset_moves(bound.reconciler.reconcile(NS, NAME))
    assert moves[0] == ("delete", "Deleting"), moves


def test_a_migration_ending_as_the_volume_is_lost_fails_the_dataset_before_it_is_bound(bound: World) -> None:
    migrating(bound, True)
    bound.reconciler.reconcile(NS, NAME)
    migrating(bound, False)
    bound.gw.delete(PVC, NS, NAME)
    moves = dataset_moves(bound.reconciler.reconcile(NS, NAME))
    assert moves[0] == ("fail", "Failed"), moves


def test_a_dataset_deleted_with_its_runtime_goes_to_deleting_first(bound: World) -> None:
    bound.gw.delete(RT, NS, NAME)
    bound.gw.delete(DATASET, NS, NAME)
    moves = dataset_moves(bound.reconciler.reconcile(NS, NAME))
    assert moves[0] == ("delete", "Deleting"), moves
    bound.settle(4)
    assert bound.gw.get(DATASET, NS, NAME) is None and bound.gw.get(RT, NS, NAME) is None


def test_a_bound_dataset_whose_mounts_change_as_its_volume_is_lost_fails_first(bound: World) -> None:
    bound.gw.patch(DATASET, NS, NAME, {"spec": {"mounts": [{"mountPoint": "s3://bucket/demo", "name": "demo"},
                                                          {"mountPoint": "s3://bucket/more", "name": "more"}]}})
    bound.gw.delete(PVC, NS, NAME)
    moves = dataset_moves(bound.reconciler.reconcile(NS, NAME))
    assert moves[0] == ("fail", "Failed"), moves


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
