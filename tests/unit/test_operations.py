"""Data operations through their reconcile, as a user watching phases, conditions and Jobs sees it."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lifecycle.engine.registry import Registry
from lifecycle.k8s.gateway import DATASET, JOB, STATEFUL_SET
from lifecycle.k8s.memory import MemoryGateway
from lifecycle.reconcile.operations import OperationReconciler
from lifecycle.reconcile.oppass import operation_resource
from lifecycle.reconcile.reconciler import Reconciler
from lifecycle.testing import scripted
from tests.property.test_lifecycle_machine import Crash, CrashingGateway

NS, NAME = "default", "demo"
RT = scripted.KIND.resource
KINDS = ("DataLoad", "DataBackup", "DataMigrate", "DataProcess")
OPS = tuple(operation_resource(k) for k in KINDS)
FAST = {"sync_intervals": {"sync_metadata": 0, "check_and_update_runtime_status": 0, "update_on_ufs_change": 0}}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 10, 0, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def iso(self) -> str:
        return self.now.strftime("%Y-%m-%dT%H:%M:%SZ")


class World:
    def __init__(self) -> None:
        self.clock = Clock()
        self.registry = Registry()
        self.script = scripted.register(self.registry)
        self.gw = MemoryGateway((RT, *OPS), clock=self.clock.iso)
        self.pairs = Reconciler(self.gw, self.registry, settings=FAST, now=self.clock)
        self.ops = OperationReconciler(self.gw, self.registry, now=self.clock)

    def bind(self) -> None:
        self.gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
                        "metadata": {"name": NAME, "namespace": NS},
                        "spec": {"mounts": [{"mountPoint": "s3://bucket/demo", "name": "demo"}]}})
        self.gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "ScriptedRuntime",
                        "metadata": {"name": NAME, "namespace": NS}, "spec": {"replicas": 1}})
        self.pair_passes()
        assert self.phase_of_dataset() == "Bound"

    def pair_passes(self, n: int = 8) -> None:
        for _ in range(n):
            for sts in self.gw.list(STATEFUL_SET, NS):
                ready = {"readyReplicas": sts["spec"]["replicas"]}
                self.gw.set_status(STATEFUL_SET, NS, sts["metadata"]["name"], ready)
            self.pairs.reconcile(NS, NAME)

    def phase_of_dataset(self) -> str:
        return str((self.ds().get("status") or {}).get("phase"))

    def ds(self) -> dict[str, Any]:
        found = self.gw.get(DATASET, NS, NAME)
        assert found is not None
        return found

    def create(self, kind: str, name: str, **spec: Any) -> None:
        if kind == "DataMigrate":
            spec.setdefault("from", {"externalStorage": {"uri": "s3://elsewhere/x"}})
            spec.setdefault("to", {"dataset": {"name": NAME, "namespace": NS}})
        elif kind == "DataBackup":
            spec.setdefault("dataset", NAME)
        elif kind == "DataProcess":
            spec.setdefault("dataset", {"name": NAME, "namespace": NS, "mountPath": "/data"})
            spec.setdefault("processor", {"script": {"image": "bash", "command": ["bash", "-c"], "source": "ls"}})
        else:
            spec.setdefault("dataset", {"name": NAME, "namespace": NS})
        self.gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": kind,
                        "metadata": {"name": name, "namespace": NS}, "spec": spec})

    def run(self, kind: str, name: str, passes: int = 3) -> str:
        state = ""
        for _ in range(passes):
            state = self.ops.reconcile(kind, NS, name).state or ""
        return state

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        return self.gw.get(operation_resource(kind), NS, name)

    def status(self, kind: str, name: str) -> dict[str, Any]:
        found = self.get(kind, name)
        assert found is not None
        return dict(found.get("status") or {})

    def jobs(self) -> list[str]:
        return sorted(j["metadata"]["name"] for j in self.gw.list(JOB, NS))

    def finish_job(self, name: str, ok: bool = True) -> None:
        condition = {"type": "Complete" if ok else "Failed", "status": "True", "message": "BackoffLimitExceeded"}
        self.gw.set_status(JOB, NS, name, {"succeeded": 1 if ok else 0, "conditions": [condition]})

    def lock(self) -> dict[str, str]:
        return dict((self.ds().get("status") or {}).get("operationRef") or {})


@pytest.fixture
def world() -> World:
    w = World()
    w.bind()
    return w


def test_a_dataload_takes_the_lock_runs_its_job_and_completes(world: World) -> None:
    world.create("DataLoad", "warm", target=[{"path": "/demo"}])
    assert world.run("DataLoad", "warm") == "Executing"
    assert world.lock() == {"DataLoad": "warm"}
    assert world.jobs() == ["warm-load-1"]
    assert world.status("DataLoad", "warm")["phase"] == "Executing"
    world.clock.now += timedelta(seconds=75)
    world.finish_job("warm-load-1")
    assert world.run("DataLoad", "warm") == "Complete"
    status = world.status("DataLoad", "warm")
    assert status["conditions"][0]["type"] == "Complete" and status["duration"] == "1m15s"
    assert status["progress"] == "1/1" and world.lock() == {}


def test_a_second_load_waits_for_the_lock_and_names_the_holder(world: World) -> None:
    world.create("DataLoad", "first")
    world.create("DataLoad", "second")
    world.run("DataLoad", "first")
    assert world.run("DataLoad", "second") == "Pending"
    lifecycle = world.status("DataLoad", "second")["lifecycle"]
    assert lifecycle["reason"] == "DatasetLocked" and "DataLoad default/first is running" in lifecycle["message"]
    world.finish_job("first-load-1")
    world.run("DataLoad", "first")
    assert world.run("DataLoad", "second") == "Executing" and world.lock() == {"DataLoad": "second"}


def test_runafter_waits_for_its_predecessor_and_a_missing_one_is_named(world: World) -> None:
    world.create("DataLoad", "after", runAfter={"kind": "DataBackup", "name": "backup"})
    assert world.run("DataLoad", "after") == "Pending"
    assert world.status("DataLoad", "after")["lifecycle"]["reason"] == "PrecedingOperationNotFound"
    world.create("DataBackup", "backup", backupPath="local:///backups")
    world.run("DataBackup", "backup")
    assert world.run("DataLoad", "after") == "Pending"
    assert world.status("DataLoad", "after")["lifecycle"]["reason"] == "WaitingForPrecedingOperation"
    world.finish_job("backup-backup-1")
    world.run("DataBackup", "backup")
    assert world.run("DataLoad", "after") == "Executing"
    assert world.status("DataLoad", "after")["waitingFor"] == {"operationComplete": True}


def test_a_runafter_cycle_fails_with_the_chain(world: World) -> None:
    world.create("DataLoad", "a", runAfter={"kind": "DataLoad", "name": "b"})
    world.create("DataLoad", "b", runAfter={"kind": "DataLoad", "name": "a"})
    assert world.run("DataLoad", "a") == "Failed"
    (condition,) = world.status("DataLoad", "a")["conditions"]
    assert condition["reason"] == "RunAfterCycle"
    assert "DataLoad default/a -> DataLoad default/b -> DataLoad default/a" in condition["message"]


def test_invalid_and_unsupported_operations_fail_with_a_reason(world: World) -> None:
    world.create("DataLoad", "bad", policy="Cron")
    assert world.run("DataLoad", "bad") == "Failed"
    assert world.status("DataLoad", "bad")["conditions"][0]["reason"] == "InvalidSpec"
    world.script.kinds = ("DataLoad",)
    world.create("DataBackup", "save")
    assert world.run("DataBackup", "save") == "Failed"
    (condition,) = world.status("DataBackup", "save")["conditions"]
    assert condition["reason"] == "NotSupported"
    assert "ScriptedRuntime default/demo cannot run DataBackup (it runs DataLoad, DataProcess)" in condition["message"]
    assert world.jobs() == [] and world.lock() == {}


def test_a_dataprocess_runs_on_a_third_party_runtime_without_a_line_of_its_own(world: World) -> None:
    world.create("DataProcess", "count")
    assert world.run("DataProcess", "count") == "Executing"
    assert world.jobs() == ["count-process-1"] and world.lock() == {"DataProcess": "count"}


def test_deleting_an_executing_operation_releases_the_lock_and_removes_the_job(world: World) -> None:
    world.create("DataLoad", "warm")
    world.run("DataLoad", "warm")
    assert world.lock() and world.jobs()
    world.gw.delete(operation_resource("DataLoad"), NS, "warm")
    assert world.get("DataLoad", "warm") is not None  # held by our finalizer until released
    world.run("DataLoad", "warm", passes=1)
    assert world.get("DataLoad", "warm") is None
    assert world.lock() == {} and world.jobs() == []


def test_a_datamigrate_holds_the_dataset_in_datamigrating(world: World) -> None:
    world.create("DataMigrate", "copy")
    world.run("DataMigrate", "copy")
    world.pair_passes(2)
    assert world.phase_of_dataset() == "DataMigrating"
    world.finish_job("copy-migrate-1")
    assert world.run("DataMigrate", "copy") == "Complete"
    world.pair_passes(2)
    assert world.phase_of_dataset() == "Bound"


def test_cron_runs_once_per_tick(world: World) -> None:
    world.create("DataLoad", "nightly", policy="Cron", schedule="*/2 * * * *")
    assert world.run("DataLoad", "nightly") == "Pending"
    assert world.status("DataLoad", "nightly")["lifecycle"]["reason"] == "WaitingForSchedule"
    world.clock.now = world.clock.now.replace(minute=2, second=1)
    assert world.run("DataLoad", "nightly") == "Executing"
    world.finish_job("nightly-load-1")
    assert world.run("DataLoad", "nightly") == "Pending"  # done with this tick; waits for the next
    assert world.jobs() == []
    world.clock.now += timedelta(seconds=30)
    assert world.run("DataLoad", "nightly") == "Pending"
    world.clock.now = world.clock.now.replace(minute=4, second=0)
    assert world.run("DataLoad", "nightly") == "Executing" and world.jobs() == ["nightly-load-2"]
    assert world.status("DataLoad", "nightly")["lastScheduleTime"] == "2026-03-01T10:04:00Z"


def test_onevent_runs_again_when_the_dataset_changes(world: World) -> None:
    world.create("DataLoad", "follow", policy="OnEvent")
    world.run("DataLoad", "follow")
    world.finish_job("follow-load-1")
    assert world.run("DataLoad", "follow") == "Complete"
    assert world.run("DataLoad", "follow") == "Complete"  # nothing changed: no new run
    ds = world.ds()
    ds["spec"]["mounts"].append({"mountPoint": "s3://bucket/more", "name": "more"})
    world.gw.patch(DATASET, NS, NAME, {"spec": ds["spec"]})
    world.pair_passes(3)
    assert world.run("DataLoad", "follow") == "Executing" and world.jobs() == ["follow-load-2"]


def test_ttl_deletes_a_finished_operation(world: World) -> None:
    world.create("DataLoad", "short", ttlSecondsAfterFinished=30)
    world.run("DataLoad", "short")
    world.finish_job("short-load-1")
    assert world.run("DataLoad", "short") == "Complete"
    world.clock.now += timedelta(seconds=31)
    world.run("DataLoad", "short", passes=2)
    assert world.get("DataLoad", "short") is None and world.jobs() == []


@pytest.mark.parametrize("step", ["start", "finish", "delete"])
def test_a_crash_after_any_write_never_leaves_a_job_running_without_its_lock(step: str) -> None:
    """The operator dies after each write of a pass in turn; the world as left, and after a clean
    pass, never has a running Job whose operation does not hold the lock, nor a lock of a deleted one."""
    for crash_at in range(6):
        world = World()
        world.gw = CrashingGateway((RT, *OPS), clock=world.clock.iso)
        world.pairs = Reconciler(world.gw, world.registry, settings=FAST, now=world.clock)
        world.ops = OperationReconciler(world.gw, world.registry, now=world.clock)
        world.bind()
        world.create("DataLoad", "warm")
        if step != "start":
            world.run("DataLoad", "warm")
            if step == "finish":
                world.finish_job("warm-load-1")
            else:
                world.gw.delete(operation_resource("DataLoad"), NS, "warm")
        world.gw.crash_after = crash_at
        with contextlib.suppress(Crash):
            world.ops.reconcile("DataLoad", NS, "warm")
        world.gw.crash_after = None
        for when in ("crashed", "recovered"):
            running = [j["metadata"]["name"] for j in world.gw.list(JOB, NS) if not (j.get("status") or {}).get(
                "conditions")]
            assert not running or world.lock() == {"DataLoad": "warm"}, (crash_at, when, running, world.lock())
            world.run("DataLoad", "warm")
        if step == "delete":
            assert world.get("DataLoad", "warm") is None and world.jobs() == [] and world.lock() == {}
        else:
            assert world.status("DataLoad", "warm")["phase"] == ("Executing" if step == "start" else "Complete")


def test_an_operation_a_crash_left_holding_the_lock_gives_it_back_while_it_waits() -> None:
    """The operator dies after taking the lock, before the Job; the operation then waits for a
    predecessor that does not exist: it must not keep the kind's other operations off the Dataset
    (found by the model check of the operation table)."""
    world = World()
    world.gw = CrashingGateway((RT, *OPS), clock=world.clock.iso)
    world.pairs = Reconciler(world.gw, world.registry, settings=FAST, now=world.clock)
    world.ops = OperationReconciler(world.gw, world.registry, now=world.clock)
    world.bind()
    world.create("DataLoad", "warm")
    world.gw.crash_after = 2  # the finalizer, the lock, then the crash
    with pytest.raises(Crash):
        world.ops.reconcile("DataLoad", NS, "warm")
    assert world.lock() == {"DataLoad": "warm"} and world.jobs() == []
    world.gw.patch(operation_resource("DataLoad"), NS, "warm",
                   {"spec": {"runAfter": {"kind": "DataLoad", "name": "missing"}}})
    assert world.run("DataLoad", "warm") == "Pending"
    assert world.status("DataLoad", "warm")["lifecycle"]["reason"] == "PrecedingOperationNotFound"
    assert world.lock() == {} and world.jobs() == []
    world.create("DataLoad", "other")
    assert world.run("DataLoad", "other") == "Executing" and world.lock() == {"DataLoad": "other"}


@pytest.mark.parametrize("crash_at", range(5))
def test_a_crash_while_the_ttl_deletes_never_runs_the_operation_again(crash_at: int) -> None:
    """The pass that finds the Job done and the TTL passed (a zero TTL) dies after each of its writes
    in turn: the next passes still delete the operation, its Job and lock gone, and no second run
    starts (found by the model check of the operation table)."""
    world = World()
    world.gw = CrashingGateway((RT, *OPS), clock=world.clock.iso)
    world.pairs = Reconciler(world.gw, world.registry, settings=FAST, now=world.clock)
    world.ops = OperationReconciler(world.gw, world.registry, now=world.clock)
    world.bind()
    world.create("DataLoad", "short", ttlSecondsAfterFinished=0)
    world.run("DataLoad", "short", passes=1)
    world.finish_job("short-load-1")
    world.gw.crash_after = crash_at
    with contextlib.suppress(Crash):
        world.ops.reconcile("DataLoad", NS, "short")
    world.gw.crash_after = None
    world.run("DataLoad", "short", passes=2)
    assert world.get("DataLoad", "short") is None and world.jobs() == [] and world.lock() == {}
    assert "short-load-2" not in [j["metadata"]["name"] for j in world.gw.list(JOB, NS)]
