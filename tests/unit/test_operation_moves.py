"""The way an operation goes, move by move, as its events tell a user, with the phase, conditions,
lock and Job each move leaves: the ways out of Executing, the re-runs of Cron and OnEvent, the TTL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from lifecycle.k8s.gateway import DATASET, JOB
from lifecycle.machine.tables import OperationState
from lifecycle.reconcile.oppass import operation_resource
from tests.unit.test_operations import NAME, NS, World

MOVE = re.compile(r": (\w+) -> (\w+)$")
STATES = {s.value for s in OperationState}


@pytest.fixture
def world() -> World:
    w = World()
    w.bind()
    return w


def moves(world: World, name: str, since: int = 0) -> list[str]:
    """The moves the operation's events announce, since event number ``since``."""
    out = []
    for event in world.gw.events[since:]:
        found = MOVE.search(event.message)
        if event.name == name and event.kind.startswith("Data") and found and {found[1], found[2]} <= STATES:
            out.append(f"{event.reason}: {found[1]} -> {found[2]}")
    return out


def one_pass(world: World, kind: str, name: str) -> list[str]:
    """One reconcile of the operation; the moves it announced."""
    since = len(world.gw.events)
    world.ops.reconcile(kind, NS, name)
    return moves(world, name, since)


def test_a_new_operation_is_accepted_into_pending_and_starts_from_there(world: World) -> None:
    world.create("DataLoad", "warm")
    assert one_pass(world, "DataLoad", "warm") == ["Accept: New -> Pending", "Start: Pending -> Executing"]
    assert world.jobs() == ["warm-load-1"] and world.lock() == {"DataLoad": "warm"}


def test_an_operation_waits_for_its_dataset_and_for_its_runtime_to_be_ready() -> None:
    """Made before its Dataset, it waits (no runtime yet cannot mean "unsupported"); while the runtime
    is still setting up, it waits too; it starts once the Dataset is Bound."""
    world = World()
    world.create("DataLoad", "early")
    assert one_pass(world, "DataLoad", "early") == ["Accept: New -> Pending"]
    assert world.status("DataLoad", "early")["lifecycle"]["reason"] == "DatasetNotFound"
    world.gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
                     "metadata": {"name": NAME, "namespace": NS},
                     "spec": {"mounts": [{"mountPoint": "s3://bucket/demo", "name": "demo"}]}})
    world.gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "ScriptedRuntime",
                     "metadata": {"name": NAME, "namespace": NS}, "spec": {"replicas": 1}})
    for _ in range(3):  # its workloads never get ready: the runtime stays in setup
        world.pairs.reconcile(NS, NAME)
    assert world.phase_of_dataset() == "NotBound"
    assert one_pass(world, "DataLoad", "early") == []
    assert world.status("DataLoad", "early")["lifecycle"]["reason"] == "DatasetNotBound"
    assert world.jobs() == [] and world.lock() == {}
    world.pair_passes()
    assert world.phase_of_dataset() == "Bound"
    assert one_pass(world, "DataLoad", "early") == ["Start: Pending -> Executing"]


def test_what_an_operation_waits_for_first_is_its_predecessor() -> None:
    """Waiting for several things, it names the first of its order: predecessor, schedule, Dataset."""
    world = World()
    world.create("DataLoad", "after", runAfter={"kind": "DataLoad", "name": "missing"})
    world.run("DataLoad", "after", passes=1)
    assert world.status("DataLoad", "after")["lifecycle"]["reason"] == "PrecedingOperationNotFound"


@pytest.mark.parametrize("succeeded_pods", [0, 1])
def test_a_failed_job_fails_the_operation_even_after_some_pods_succeeded(world: World, succeeded_pods: int) -> None:
    world.create("DataLoad", "warm")
    world.run("DataLoad", "warm", passes=1)
    world.gw.set_status(JOB, NS, "warm-load-1", {"succeeded": succeeded_pods, "conditions": [
        {"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]})
    assert one_pass(world, "DataLoad", "warm") == ["Failed: Executing -> Failed"]
    status = world.status("DataLoad", "warm")
    assert status["phase"] == "Failed" and world.lock() == {}
    (condition,) = status["conditions"]
    assert (condition["type"], condition["reason"]) == ("Failed", "JobFailed")
    assert "BackoffLimitExceeded" in condition["message"]
    (event,) = [e for e in world.gw.events if e.reason == "Failed"]
    assert event.type == "Warning"


def test_a_job_deleted_under_a_running_operation_is_made_again(world: World) -> None:
    world.create("DataLoad", "warm")
    world.run("DataLoad", "warm", passes=1)
    world.gw.delete(JOB, NS, "warm-load-1")
    assert one_pass(world, "DataLoad", "warm") == ["JobLost: Executing -> Pending", "Start: Pending -> Executing"]
    assert world.status("DataLoad", "warm")["phase"] == "Executing"
    assert world.jobs() == ["warm-load-2"] and world.lock() == {"DataLoad": "warm"}


def test_a_cron_run_whose_job_is_deleted_waits_for_the_next_tick_as_it_was_left(world: World) -> None:
    """No Job to name, no lock, and the run's duration as last measured: nothing times a Job that is gone."""
    world.create("DataLoad", "nightly", policy="Cron", schedule="*/2 * * * *")
    world.clock.now = world.clock.now.replace(minute=2, second=1)
    assert world.run("DataLoad", "nightly", passes=1) == "Executing"
    world.clock.now += timedelta(seconds=30)
    world.gw.delete(JOB, NS, "nightly-load-1")
    assert one_pass(world, "DataLoad", "nightly") == ["JobLost: Executing -> Pending"]
    status = world.status("DataLoad", "nightly")
    assert status["lifecycle"]["reason"] == "WaitingForSchedule" and status["lifecycle"].get("job") is None
    assert status["duration"] == "0s" and world.lock() == {} and world.jobs() == []
    world.clock.now = world.clock.now.replace(minute=4, second=0)
    assert world.run("DataLoad", "nightly", passes=1) == "Executing" and world.jobs() == ["nightly-load-2"]


def test_cron_goes_back_to_pending_after_every_run_failed_or_not_and_whatever_its_ttl(world: World) -> None:
    world.create("DataLoad", "nightly", policy="Cron", schedule="*/2 * * * *", ttlSecondsAfterFinished=0)
    for minute, ok, job in ((2, True, "nightly-load-1"), (4, False, "nightly-load-2"), (6, True, "nightly-load-3")):
        world.clock.now = world.clock.now.replace(minute=minute, second=1)
        world.run("DataLoad", "nightly", passes=1)
        assert world.jobs() == [job]
        world.finish_job(job, ok=ok)
        end = "Complete" if ok else "Failed"
        assert one_pass(world, "DataLoad", "nightly") == [f"{'Succeeded' if ok else 'Failed'}: Executing -> {end}",
                                                          f"NextTick: {end} -> Pending"]
        status = world.status("DataLoad", "nightly")
        assert (status["phase"], status["lifecycle"]["reason"]) == ("Pending", "WaitingForSchedule")
        assert world.jobs() == [] and world.lock() == {}


def test_onevent_runs_again_after_a_failed_run_and_a_change_wins_over_the_ttl(world: World) -> None:
    world.create("DataLoad", "follow", policy="OnEvent", ttlSecondsAfterFinished=60)
    world.run("DataLoad", "follow", passes=1)
    world.finish_job("follow-load-1", ok=False)
    assert one_pass(world, "DataLoad", "follow") == ["Failed: Executing -> Failed"]
    mounts = [{"mountPoint": "s3://bucket/demo", "name": "demo"}]
    for extra in ("more", None):
        world.gw.patch(DATASET, NS, NAME, {"spec": {"mounts": mounts + (
            [{"mountPoint": f"s3://bucket/{extra}", "name": extra}] if extra else [])}})
        world.pair_passes(3)
        world.clock.now += timedelta(seconds=61)  # the TTL has passed, but the Dataset changed first
        end = world.status("DataLoad", "follow")["phase"]
        assert one_pass(world, "DataLoad", "follow") == [f"Changed: {end} -> Pending", "Start: Pending -> Executing"]
        job = world.status("DataLoad", "follow")["lifecycle"]["job"]
        assert world.jobs() == [job] and world.lock() == {"DataLoad": "follow"}
        world.finish_job(job)
        world.run("DataLoad", "follow", passes=1)
    assert world.jobs() == ["follow-load-3"]


@pytest.mark.parametrize("ok", [True, False])
def test_the_ttl_deletes_a_finished_operation_whichever_way_it_ended(world: World, ok: bool) -> None:
    world.create("DataLoad", "short", ttlSecondsAfterFinished=30)
    world.run("DataLoad", "short", passes=1)
    world.finish_job("short-load-1", ok=ok)
    end = "Complete" if ok else "Failed"
    assert world.run("DataLoad", "short", passes=1) == end
    world.clock.now += timedelta(seconds=31)
    assert one_pass(world, "DataLoad", "short") == [f"Expire: {end} -> Deleted"]
    assert world.get("DataLoad", "short") is None and world.jobs() == [] and world.lock() == {}


def test_a_runafter_cycle_fails_first_and_waits_for_nothing(world: World) -> None:
    """A cycle is the operation's own problem: it is reported before the runtime's (this runtime
    cannot run DataProcess), and the failed operation does not claim to wait for its predecessor."""
    world.create("DataProcess", "a", runAfter={"kind": "DataProcess", "name": "b"})
    world.create("DataProcess", "b", runAfter={"kind": "DataProcess", "name": "a"})
    assert one_pass(world, "DataProcess", "a") == ["Accept: New -> Pending", "Block: Pending -> Failed"]
    status = world.status("DataProcess", "a")
    assert [c["reason"] for c in status["conditions"]] == ["RunAfterCycle"] and "waitingFor" not in status


def test_a_runafter_chain_that_reaches_a_complete_operation_is_no_cycle(world: World) -> None:
    """``first`` ran, then ``second`` after it; ``first`` made again to run after ``second`` (which is
    Complete) can start: nothing in its chain waits."""
    world.create("DataLoad", "first")
    world.run("DataLoad", "first", passes=1)
    world.finish_job("first-load-1")
    world.run("DataLoad", "first", passes=1)
    world.create("DataLoad", "second", runAfter={"kind": "DataLoad", "name": "first"})
    world.run("DataLoad", "second", passes=1)
    world.finish_job("second-load-1")
    assert world.run("DataLoad", "second", passes=1) == "Complete"
    world.gw.delete(operation_resource("DataLoad"), NS, "first")
    world.run("DataLoad", "first", passes=1)
    world.create("DataLoad", "first", runAfter={"kind": "DataLoad", "name": "second"})
    assert world.run("DataLoad", "first", passes=1) == "Executing"
    assert world.lock() == {"DataLoad": "first"}


@pytest.mark.parametrize("ok", [True, False])
def test_a_run_whose_job_ended_while_its_progress_is_unreadable_waits_to_be_finished(world: World, ok: bool) -> None:
    """Finishing a run records its progress: while the engine cannot read it the operation stays
    Executing, holding the lock, and says the run could not be finished; it finishes once it can."""
    world.create("DataLoad", "warm")
    world.run("DataLoad", "warm", passes=1)
    world.finish_job("warm-load-1", ok=ok)
    world.script.failing.add("operation_progress")
    assert one_pass(world, "DataLoad", "warm") == []
    lifecycle = world.status("DataLoad", "warm")["lifecycle"]
    assert (lifecycle["state"], lifecycle["reason"]) == ("Executing", "FailedFinishRun")
    assert world.lock() == {"DataLoad": "warm"}
    world.script.failing.clear()
    assert world.run("DataLoad", "warm", passes=1) == ("Complete" if ok else "Failed") and world.lock() == {}
