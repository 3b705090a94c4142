"""The model checker proves the tables, and bites: each broken table is caught with a short trace.

The broken tables are the product's with one plausible bug put in (a guard dropped, a source state
dropped, a row removed), each of a class that has burnt Fluid's users; the checker must name the
invariant that guards against it and give the trace that shows it.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from lifecycle.cli.check import print_report
from lifecycle.cli.main import main
from lifecycle.machine import tables
from lifecycle.machine.check import LIVENESS, SAFETY, World, check, describe_all
from lifecycle.machine.check.explore import Report
from lifecycle.machine.table import MachineTable
from lifecycle.machine.tables import DATASET, RUNTIME, SYNC_STEPS, RuntimeState
from tests.tally import TALLY

Table = MachineTable[Any, Any]
FAST_DEPTH = 2
DEEP_DEPTH = 4


def changed(table: Table, trigger: str, nth: int = 0, **fields: Any) -> Table:
    """``table`` with the ``nth`` row of ``trigger`` changed (``drop=True`` removes it)."""
    rows, seen, hit = [], 0, False
    for t in table.transitions:
        if t.trigger == trigger:
            if seen == nth:
                hit = True
                seen += 1
                if not fields.get("drop"):
                    rows.append(attrs.evolve(t, **fields))
                continue
            seen += 1
        rows.append(t)
    assert hit, f"{table.name} has no row {nth} of {trigger}"
    return attrs.evolve(table, transitions=tuple(rows))


def without_guard(table: Table, trigger: str, guard: str, nth: int = 0) -> Table:
    row = [t for t in table.transitions if t.trigger == trigger][nth]
    assert guard in row.when or guard in row.unless, (trigger, guard)
    return changed(table, trigger, nth, when=tuple(g for g in row.when if g != guard),
                   unless=tuple(g for g in row.unless if g != guard))


def report(capsys: pytest.CaptureFixture[str], r: Report, what: str) -> None:
    if r.held:  # the product's tables: their state count also reaches the run's summary (and xdist's)
        TALLY[f"model check of {what}, depth {r.depth}: states"] = r.states
    with capsys.disabled():
        print(f"\n[model check] {what}: depth {r.depth}, {r.states} states, {r.passes} passes, {r.seconds:.1f}s, "
              + ("all invariants held" if r.held else f"violated {r.violation.invariant if r.violation else ''}"))


def violated(capsys: pytest.CaptureFixture[str], what: str, depth: int = FAST_DEPTH, **tables: Any) -> Any:
    r = check(depth, **tables)
    report(capsys, r, what)
    assert r.violation is not None, f"{what}: no invariant caught it within {depth} moves"
    with capsys.disabled():
        print(r.violation)
    return r.violation


def env_steps(trace: tuple[str, ...]) -> list[str]:
    return [s for s in trace if not s.startswith("reconcile") and not s.startswith("Kubernetes")]


# -- the product's tables --------------------------------------------------------------------------

def test_the_tables_hold_every_invariant_within_two_moves(capsys: pytest.CaptureFixture[str]) -> None:
    r = check(FAST_DEPTH)
    report(capsys, r, "tables.py")
    assert r.violation is None, str(r.violation)
    assert r.states > check(FAST_DEPTH - 1).states > check(0).states > 1, "each move opens more states"


@pytest.mark.deep
def test_the_tables_hold_every_invariant_within_four_moves(capsys: pytest.CaptureFixture[str]) -> None:
    r = check(DEEP_DEPTH)
    report(capsys, r, "tables.py")
    assert r.violation is None, str(r.violation)


def test_every_invariant_names_the_bug_class_it_guards_against() -> None:
    names = [i.name for i in SAFETY] + list(LIVENESS)
    assert len(set(names)) == len(names)
    for doc in [i.doc for i in SAFETY] + list(LIVENESS.values()):
        assert "Guards against" in doc, doc


def test_a_pair_left_alone_reaches_bound_and_a_deleted_one_disappears() -> None:
    from_start = check(0)  # no environment move: the passes alone
    assert from_start.held and from_start.states >= 2
    deleting = check(0, initial=World(ds_del=True, ds_fin=True))
    assert deleting.held


# -- broken tables: each caught, with a shortest trace ---------------------------------------------

def test_bind_without_volume_ready_is_a_status_that_lies(capsys: pytest.CaptureFixture[str]) -> None:
    v = violated(capsys, "bind without volume_ready", dataset=without_guard(DATASET, "bind", "volume_ready"))
    assert v.invariant == "bound_is_true"
    assert "the Dataset was made Bound without the PV" in v.message, v.message
    assert any("deletes the PV" in s for s in env_steps(v.trace)), v.trace


def test_release_runtime_without_volume_unused_deletes_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    v = violated(capsys, "release_runtime without volume_unused",
                 dataset=without_guard(DATASET, "release_runtime", "volume_unused"))
    assert v.invariant == "nothing_deleted_in_use"
    assert "runtime deleted while a pod uses the PVC" in v.message
    assert sorted(env_steps(v.trace)) == ["a pod starts using the PVC", "the Dataset's deletion is requested"], v.trace


def test_release_without_runtime_gone_removes_the_finalizer_first(capsys: pytest.CaptureFixture[str]) -> None:
    v = violated(capsys, "release without runtime_gone", dataset=without_guard(DATASET, "release", "runtime_gone"))
    assert v.invariant == "finalizer_goes_last"
    assert "the Dataset's finalizer was removed while the runtime" in v.message
    assert env_steps(v.trace) == ["the Dataset's deletion is requested"], v.trace


def test_released_without_dataset_unbound_lets_the_runtime_go_first(capsys: pytest.CaptureFixture[str]) -> None:
    v = violated(capsys, "released without dataset_unbound",
                 runtime=without_guard(RUNTIME, "released", "dataset_unbound"))
    assert v.invariant == "finalizer_goes_last"
    assert "still holds the binding" in v.message
    assert "the runtime's deletion is requested" in env_steps(v.trace), v.trace
    assert "Runtime Releasing->Deleted (released)" in v.trace[-1], v.trace


def test_volume_deleted_without_volume_released_shuts_down_too_early(capsys: pytest.CaptureFixture[str]) -> None:
    v = violated(capsys, "volume_deleted without volume_released",
                 runtime=without_guard(RUNTIME, "volume_deleted", "volume_released"))
    assert v.invariant == "released_in_order"
    assert "cache was shut down while the PV or PVC still exists" in v.message


def test_master_lost_not_watching_setting_up_workers_gets_stuck(capsys: pytest.CaptureFixture[str]) -> None:
    v = violated(capsys, "master_lost without SettingUpWorkers",
                 runtime=changed(RUNTIME, "master_lost", source=(RuntimeState.PREPARING_UFS,)))
    assert v.invariant == "setup_reaches_ready"
    assert "runtime SettingUpWorkers" in v.message or "SettingUpWorkers" in "\n".join(v.trace)
    assert "the master workload is lost" in env_steps(v.trace), v.trace


def test_a_state_with_no_way_out_is_a_deadlock(capsys: pytest.CaptureFixture[str]) -> None:
    v = violated(capsys, "no shut_down row", runtime=changed(RUNTIME, "shut_down", drop=True))
    assert v.invariant == "way_out"
    assert "Runtime state ShuttingDown has no transition" in v.message
    assert env_steps(v.trace)[:1] == ["the runtime's deletion is requested"], v.trace


def test_a_sync_that_stops_before_the_mounts_leaves_updating_forever(capsys: pytest.CaptureFixture[str]) -> None:
    steps = tuple(attrs.evolve(s, stop_if_changed=True) if s.hook == "check_and_update_runtime_status" else s
                  for s in SYNC_STEPS)
    v = violated(capsys, "stop_if_changed on check_and_update_runtime_status", sync_steps=steps)
    assert v.invariant == "setup_reaches_ready"
    assert "the Dataset's mounts are changed" in env_steps(v.trace), v.trace


def test_a_loop_between_states_is_caught_inside_one_pass(capsys: pytest.CaptureFixture[str]) -> None:
    looping = changed(RUNTIME, "health_lost", unless=())  # Ready always goes back through setup
    v = violated(capsys, "health_lost without its guard", runtime=looping)
    assert v.invariant == "passes_settle"
    assert "did not settle" in v.message


# -- fluidlc check -------------------------------------------------------------------------------

def test_fluidlc_check_prints_states_time_and_every_invariant(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "within 1 environment moves" in out and "states" in out
    for name, _ in describe_all():
        assert f"held  {name}:" in out


def test_fluidlc_check_exits_1_with_the_trace_on_a_violation(capsys: pytest.CaptureFixture[str]) -> None:
    broken = check(1, runtime=changed(RUNTIME, "shut_down", drop=True))
    assert print_report(broken) == 1
    out = capsys.readouterr().out
    assert "VIOLATED way_out" in out and "shortest trace" in out and "held" not in out


def test_the_checker_reads_the_tables_when_called(monkeypatch: pytest.MonkeyPatch) -> None:
    """A harness that changes the tables module in place gets the changed table checked."""
    monkeypatch.setattr(tables, "RUNTIME", changed(RUNTIME, "shut_down", drop=True))
    r = check(1, liveness=False)
    assert r.violation is not None and r.violation.invariant == "way_out"
