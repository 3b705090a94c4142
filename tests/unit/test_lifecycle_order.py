"""The order the lifecycle promises while a pair is set up, synced and repaired, one bug class at a
time: what must wait for what.

Each test puts one pair where a table row's guard, source or position is what stands between the
user and a known kind of failure (a status that lies, setup on a lost master, a Dataset served from
a lost volume), and checks what a user or the engine would see. They were written against the table
mutants of ``make mutants`` that the rest of the suite let through; the deletion path's are in
``test_deletion_order``.
"""

from __future__ import annotations

from typing import Any

import pytest

from lifecycle.k8s.gateway import DATASET, PV, PVC, STATEFUL_SET
from lifecycle.k8s.naming import pv_name, reference_key
from lifecycle.machine.tables import RuntimeState
from tests.unit.test_reconcile import NAME, NS, RT, World


def bound_world() -> World:
    world = World()
    world.dataset()
    world.runtime()
    world.settle()
    assert world.ds()["status"]["phase"] == "Bound"
    return world


@pytest.fixture
def bound() -> World:
    return bound_world()


def state(world: World) -> str:
    return str(world.rt()["status"]["lifecycle"]["state"])


def runtime_moves(outcome: Any) -> list[tuple[str, Any, Any]]:
    return [(m.trigger, m.source, m.dest) for m in outcome.moves if m.machine == "Runtime"]


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


def test_a_migration_ending_as_the_volume_is_lost_fails_the_dataset_before_it_is_bound(bound: World) -> None:
    migrating(bound, True)
    bound.reconciler.reconcile(NS, NAME)
    migrating(bound, False)
    bound.gw.delete(PVC, NS, NAME)
    moves = dataset_moves(bound.reconciler.reconcile(NS, NAME))
    assert moves[0] == ("fail", "Failed"), moves


def test_a_bound_dataset_whose_mounts_change_as_its_volume_is_lost_fails_first(bound: World) -> None:
    bound.gw.patch(DATASET, NS, NAME, {"spec": {"mounts": [{"mountPoint": "s3://bucket/demo", "name": "demo"},
                                                          {"mountPoint": "s3://bucket/more", "name": "more"}]}})
    bound.gw.delete(PVC, NS, NAME)
    moves = dataset_moves(bound.reconciler.reconcile(NS, NAME))
    assert moves[0] == ("fail", "Failed"), moves
