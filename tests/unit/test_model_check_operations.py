"""The model check of the operation table proves it, and bites: each broken table is caught with a trace.

The broken tables are the product's OPERATION with one plausible bug put in (a guard dropped, a hook
dropped); the checker must name the invariant that guards against it and give the trace that shows it.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from lifecycle.cli.main import main
from lifecycle.machine import tables
from lifecycle.machine.check.explore import Report
from lifecycle.machine.check.operations import CONFIGS, LIVENESS, SAFETY, check_operations, describe_all
from lifecycle.machine.table import MachineTable
from lifecycle.machine.tables import OPERATION
from tests.tally import TALLY

Table = MachineTable[Any, Any]
FAST_DEPTH = 2


def changed(table: Table, trigger: str, **fields: Any) -> Table:
    """``table`` with the (first) row of ``trigger`` changed."""
    assert any(t.trigger == trigger for t in table.transitions), trigger
    done = False
    rows = []
    for t in table.transitions:
        if t.trigger == trigger and not done:
            rows.append(attrs.evolve(t, **fields))
            done = True
        else:
            rows.append(t)
    return attrs.evolve(table, transitions=tuple(rows))


def report(capsys: pytest.CaptureFixture[str], r: Report, what: str) -> None:
    if r.held:  # the product's tables: their state count also reaches the run's summary (and xdist's)
        TALLY[f"model check of {what}, depth {r.depth}: states"] = r.states
    with capsys.disabled():
        print(f"\n[model check] {what}: depth {r.depth}, {r.states} states, {r.passes} passes, {r.seconds:.1f}s, "
              + ("all invariants held" if r.held else f"violated {r.violation.invariant if r.violation else ''}"))


def violated(capsys: pytest.CaptureFixture[str], what: str, table: Table, depth: int = FAST_DEPTH) -> Any:
    r = check_operations(depth, table=table)
    report(capsys, r, what)
    assert r.violation is not None, f"{what}: no invariant caught it within {depth} moves"
    with capsys.disabled():
        print(r.violation)
    return r.violation


def test_the_operation_table_holds_every_invariant_within_two_moves(capsys: pytest.CaptureFixture[str]) -> None:
    r = check_operations(FAST_DEPTH)
    report(capsys, r, "tables.py OPERATION")
    assert r.violation is None, str(r.violation)
    assert r.states > check_operations(FAST_DEPTH - 1, liveness=False).states > len(CONFIGS), "each move opens more"


def test_every_operation_invariant_names_the_bug_class_it_guards_against() -> None:
    names = [i.name for i in SAFETY] + list(LIVENESS)
    assert len(set(names)) == len(names) == len(describe_all())
    for doc in [i.doc for i in SAFETY] + list(LIVENESS.values()):
        assert "Guards against" in doc, doc


def test_start_without_taking_the_lock_makes_an_orphan_job(capsys: pytest.CaptureFixture[str]) -> None:
    start = next(t for t in OPERATION.transitions if t.trigger == "start")
    broken = changed(OPERATION, "start", when=tuple(g for g in start.when if g != "take_lock"))
    v = violated(capsys, "start without take_lock", broken)
    assert v.invariant in ("no_orphan_job", "one_runner"), v
    assert "Job of A created" in "\n".join(v.trace), v.trace
    assert "lock taken" not in "\n".join(v.trace), v.trace


def test_deletion_that_does_not_release_leaks_the_lock(capsys: pytest.CaptureFixture[str]) -> None:
    v = violated(capsys, "delete without release", changed(OPERATION, "delete", do=None))
    assert v.invariant == "no_lock_leak", v
    assert "the lock is held by" in v.message, v.message
    assert any("deletion is requested" in s for s in v.trace), v.trace
    assert "lock taken by" in "\n".join(v.trace), v.trace


def test_finishing_without_releasing_the_lock_is_a_leak(capsys: pytest.CaptureFixture[str]) -> None:
    v = violated(capsys, "succeeded without finish_run", changed(OPERATION, "succeeded", do=None))
    assert v.invariant == "no_lock_leak", v
    assert "recorded Complete" in v.message, v.message


def test_a_pending_state_with_no_way_out_is_a_deadlock(capsys: pytest.CaptureFixture[str]) -> None:
    rows = tuple(t for t in OPERATION.transitions
                 if not (tables.OperationState.PENDING in t.source and t.dest != tables.OperationState.PENDING))
    v = violated(capsys, "no row out of Pending", attrs.evolve(OPERATION, transitions=rows))
    assert v.invariant == "op_way_out", v
    assert "state Pending has no transition" in v.message


def test_fluidlc_check_reports_the_operation_machine(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "operation machine" in out
    for name, _ in describe_all():
        assert f"held  {name}:" in out


def test_the_operation_checker_reads_the_table_when_called(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tables, "OPERATION", changed(OPERATION, "delete", do=None))
    r = check_operations(1, liveness=False)
    assert r.violation is not None and r.violation.invariant == "no_lock_leak"
