"""Deleting an operation wins in every state: its one move is Delete, whatever else was due (being
accepted or refused, starting, its Job having ended or been lost, a broken engine), and it leaves
no Job and no lock behind."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lifecycle.k8s.gateway import JOB
from lifecycle.reconcile.oppass import operation_resource
from tests.unit.test_operation_moves import one_pass
from tests.unit.test_operations import NS, World

HOLD = "example.com/hold"  # another controller's finalizer: keeps a deleted operation visible


def new_valid(world: World) -> str:
    world.gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "DataLoad",
                     "metadata": {"name": "op", "namespace": NS, "finalizers": [HOLD]},
                     "spec": {"dataset": {"name": "demo", "namespace": NS}}})
    return "New"


def new_invalid(world: World) -> str:
    world.gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "DataLoad",
                     "metadata": {"name": "op", "namespace": NS, "finalizers": [HOLD]},
                     "spec": {"dataset": {"name": "demo", "namespace": NS}, "policy": "Cron"}})
    return "New"


def pending_free_to_start(world: World) -> str:
    world.create("DataLoad", "first")
    world.create("DataLoad", "op")
    world.run("DataLoad", "first", passes=1)
    assert world.run("DataLoad", "op", passes=1) == "Pending"  # the lock is first's
    world.finish_job("first-load-1")
    world.run("DataLoad", "first", passes=1)
    return "Pending"


def executing(end: Callable[[World], None]) -> Callable[[World], str]:
    def setup(world: World) -> str:
        world.create("DataLoad", "op")
        world.run("DataLoad", "op", passes=1)
        end(world)
        return "Executing"

    return setup


SCENARIOS = {
    "new": new_valid,
    "new-invalid": new_invalid,
    "pending-free-to-start": pending_free_to_start,
    "job-succeeded": executing(lambda w: w.finish_job("op-load-1")),
    "job-failed": executing(lambda w: w.finish_job("op-load-1", ok=False)),
    "job-lost": executing(lambda w: w.gw.delete(JOB, NS, "op-load-1")),
    "progress-unreadable": executing(lambda w: w.script.failing.add("operation_progress")),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_deleting_an_operation_only_releases_it(scenario: str) -> None:
    world = World()
    world.bind()
    state = SCENARIOS[scenario](world)
    world.gw.delete(operation_resource("DataLoad"), NS, "op")
    assert one_pass(world, "DataLoad", "op") == [f"Delete: {state} -> Deleted"]
    left = world.get("DataLoad", "op")
    assert left is None or left["metadata"]["finalizers"] == [HOLD]
    assert not [j for j in world.jobs() if j.startswith("op-")] and world.lock() == {}
