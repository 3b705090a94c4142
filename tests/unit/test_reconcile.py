"""One pair through the reconcile, as a user watching events, conditions and phases sees it."""

from __future__ import annotations

from typing import Any

import pytest

from lifecycle.api import from_json
from lifecycle.api.runtime import RuntimeStatus
from lifecycle.engine.kind import RuntimeKind
from lifecycle.engine.registry import Registry
from lifecycle.k8s.gateway import DATASET, POD, STATEFUL_SET
from lifecycle.k8s.memory import MemoryGateway
from lifecycle.machine.tables import RuntimeState
from lifecycle.reconcile.reconciler import Reconciler, restore_runtime_state
from lifecycle.testing import scripted

NS, NAME = "default", "demo"
RT = scripted.KIND.resource
FAST = {"sync_intervals": {"sync_metadata": 0, "check_and_update_runtime_status": 0, "update_on_ufs_change": 0}}


class World:
    def __init__(self) -> None:
        self.registry = Registry()
        self.script = scripted.register(self.registry)
        self.gw = MemoryGateway((RT,))
        self.reconciler = Reconciler(self.gw, self.registry, settings=FAST)

    def dataset(self, **spec: Any) -> None:
        spec.setdefault("mounts", [{"mountPoint": "s3://bucket/demo", "name": "demo"}])
        self.gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
                        "metadata": {"name": NAME, "namespace": NS}, "spec": spec})

    def runtime(self, **spec: Any) -> None:
        self.gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "ScriptedRuntime",
                        "metadata": {"name": NAME, "namespace": NS}, "spec": {"replicas": 1, **spec}})

    def ready(self) -> None:
        for sts in self.gw.list(STATEFUL_SET, NS):
            self.gw.set_status(STATEFUL_SET, NS, sts["metadata"]["name"], {"readyReplicas": sts["spec"]["replicas"]})

    def settle(self, passes: int = 8) -> Any:
        outcome = None
        for _ in range(passes):
            self.ready()
            outcome = self.reconciler.reconcile(NS, NAME)
        return outcome

    def ds(self) -> dict[str, Any]:
        obj = self.gw.get(DATASET, NS, NAME)
        assert obj is not None
        return obj

    def rt(self) -> dict[str, Any]:
        obj = self.gw.get(RT, NS, NAME)
        assert obj is not None
        return obj

    def events(self, reason: str) -> list[str]:
        return [e.message for e in self.gw.events if e.reason == reason]


@pytest.fixture
def world() -> World:
    return World()


def test_pair_binds_and_an_idle_pass_writes_nothing(world: World) -> None:
    world.dataset()
    world.runtime()
    outcome = world.settle()
    assert world.ds()["status"]["phase"] == "Bound" and outcome.runtime_state == RuntimeState.READY
    assert world.rt()["status"]["lifecycle"] == {"state": "Ready"}
    assert outcome.requeue_after == 60.0
    writes = sum(world.gw.writes.values())
    world.reconciler.reconcile(NS, NAME)
    assert sum(world.gw.writes.values()) == writes


def test_runtime_without_dataset_waits_and_says_so_once(world: World) -> None:
    world.runtime()
    first = world.reconciler.reconcile(NS, NAME)
    world.reconciler.reconcile(NS, NAME)
    assert first.requeue_after == 5.0 and first.runtime_state == "New"
    assert world.rt()["status"]["lifecycle"]["reason"] == "DatasetNotFound"
    assert len(world.events("DatasetNotFound")) == 1
    world.dataset()
    assert world.settle().runtime_state == RuntimeState.READY


def test_hook_failure_is_a_condition_an_event_and_a_retry(world: World) -> None:
    world.dataset()
    world.runtime()
    world.script.failing.add("setup_master")
    outcome = world.reconciler.reconcile(NS, NAME)
    world.reconciler.reconcile(NS, NAME)
    assert outcome.failed and "setup_master" in (outcome.failure or "") and outcome.requeue_after is None
    lifecycle = world.rt()["status"]["lifecycle"]
    assert lifecycle["reason"] == "FailedSetupMaster" and lifecycle["attempts"] == 2
    not_ready = [c for c in world.ds()["status"]["conditions"] if c["type"] == "NotReady"]
    assert not_ready[0]["status"] == "True" and not_ready[0]["reason"] == "DatasetFailedToSetup"
    assert len(world.events("FailedSetupMaster")) == 1
    world.script.failing.clear()
    world.settle()
    assert world.ds()["status"]["phase"] == "Bound" and "attempts" not in world.rt()["status"]["lifecycle"]


def test_lost_workload_fails_the_dataset_and_setup_repairs_it(world: World) -> None:
    world.dataset()
    world.runtime()
    world.settle()
    world.gw.delete(STATEFUL_SET, NS, f"{NAME}-worker")
    outcome = world.reconciler.reconcile(NS, NAME)
    assert world.ds()["status"]["phase"] == "Failed"
    assert {"health_lost", "fail"} <= {m.trigger for m in outcome.moves}
    world.settle()
    assert world.ds()["status"]["phase"] == "Bound" and world.gw.get(STATEFUL_SET, NS, f"{NAME}-worker")
    assert world.events("Recover")


def test_changed_mounts_go_through_updating(world: World) -> None:
    world.dataset()
    world.runtime()
    world.settle()
    world.gw.patch(DATASET, NS, NAME, {"spec": {"mounts": [{"mountPoint": "hdfs://nn:9000/x", "name": "x"}]}})
    outcome = world.reconciler.reconcile(NS, NAME)
    assert [m.trigger for m in outcome.moves] == ["update", "updated"]
    assert world.ds()["status"]["mounts"] == [{"mountPoint": "hdfs://nn:9000/x", "name": "x"}]


def test_deletion_waits_for_pods_and_names_them(world: World) -> None:
    world.dataset()
    world.runtime()
    world.settle()
    world.gw.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "trainer", "namespace": NS},
                     "spec": {"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": NAME}}]},
                     "status": {"phase": "Running"}})
    world.gw.delete(DATASET, NS, NAME)
    world.settle(3)
    deleting = next(c for c in world.ds()["status"]["conditions"] if c["type"] == "Deleting")
    assert deleting["reason"] == "PodsUsingVolume" and "trainer" in deleting["message"]
    assert any("trainer" in m for m in world.events("PodsUsingVolume"))
    world.gw.set_status(POD, NS, "trainer", {"phase": "Succeeded"})
    world.settle(3)
    assert world.gw.get(DATASET, NS, NAME) is None and world.gw.get(RT, NS, NAME) is None


def test_deletion_waits_while_another_dataset_refers_to_it(world: World) -> None:
    world.dataset()
    world.gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
                     "metadata": {"name": "ref", "namespace": "team"},
                     "spec": {"mounts": [{"mountPoint": f"dataset://{NS}/{NAME}"}]}})
    world.reconciler.reconcile(NS, NAME)
    world.gw.delete(DATASET, NS, NAME)
    world.reconciler.reconcile(NS, NAME)
    deleting = next(c for c in world.ds()["status"]["conditions"] if c["type"] == "Deleting")
    assert deleting["reason"] == "ReferencedByDatasets" and "team/ref" in deleting["message"]


def test_invalid_runtime_spec_is_reported_and_nothing_is_created(world: World) -> None:
    world.dataset()
    world.runtime(replicas=-2)
    outcome = world.reconciler.reconcile(NS, NAME)
    assert outcome.runtime_state == "New" and not world.gw.list(STATEFUL_SET, NS)
    message = world.events("ErrorValidateSpecFields")[0]
    assert "spec.replicas" in message and "0 or more" in message


def test_malformed_object_is_an_event_not_a_crash(world: World) -> None:
    world.runtime(replicas="three")
    outcome = world.reconciler.reconcile(NS, NAME)
    assert outcome.failed and "spec.replicas: expected an integer" in (outcome.failure or "")
    assert world.events("ErrorValidateSpecFields")


def test_a_second_runtime_kind_for_the_same_dataset_is_refused(world: World) -> None:
    other = RuntimeKind(kind="OtherRuntime", runtime_type="other", model=scripted.ScriptedRuntime)
    world.registry.register(other, lambda ctx: scripted.ScriptedEngine(ctx, world.script))
    world.gw.add_resource(other.resource)
    world.dataset()
    world.runtime()
    world.settle()
    world.gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "OtherRuntime",
                     "metadata": {"name": NAME, "namespace": NS}, "spec": {"replicas": 1}})
    world.reconciler.reconcile(NS, NAME)
    assert any("served by a ScriptedRuntime" in m for m in world.events("DatasetBoundToOther"))
    assert world.ds()["status"]["runtimes"][0]["type"] == "scripted"


def test_runtimes_made_by_the_reference_resume_as_ready() -> None:
    legacy = from_json(RuntimeStatus, {"masterPhase": "Ready", "setupDuration": "2m30s"})
    assert restore_runtime_state(legacy) == RuntimeState.READY
    assert restore_runtime_state(from_json(RuntimeStatus, {})) == "New"
    assert restore_runtime_state(from_json(RuntimeStatus, {"lifecycle": {"state": "Bogus"}})) == "New"


def test_a_conflicting_write_reruns_the_pass_on_fresh_objects(world: World) -> None:
    world.dataset()
    world.runtime()
    real = world.gw.replace_status
    conflicts = []

    def someone_else_wrote_first(obj: dict[str, Any]) -> dict[str, Any]:
        if not conflicts:
            conflicts.append(obj["kind"])
            world.gw.patch(DATASET, NS, NAME, {"metadata": {"labels": {"touched": "yes"}}})
            from lifecycle.k8s.gateway import Conflict

            raise Conflict("the object has been modified")
        return real(obj)

    world.gw.replace_status = someone_else_wrote_first  # type: ignore[method-assign]
    outcome = world.reconciler.reconcile(NS, NAME)
    assert conflicts and not outcome.failed
    assert world.ds()["status"]["phase"] == "NotBound" and world.ds()["metadata"]["labels"]["touched"] == "yes"
