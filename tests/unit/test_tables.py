"""Static properties of the lifecycle tables: what a reader of tables.py can rely on."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from lifecycle.engine.contract import IMPLEMENT_HOOKS, Implement
from lifecycle.machine.runner import Runner, machine_for
from lifecycle.machine.table import MachineTable
from lifecycle.machine.tables import (
    DATASET,
    MACHINES,
    OPERATION,
    RUNTIME,
    SYNC_STEPS,
    DatasetHook,
    OperationHook,
    RuntimeHook,
)
from lifecycle.reconcile.dataset import DatasetLifecycle
from lifecycle.reconcile.operation import OperationHooks
from lifecycle.reconcile.template import TemplateEngine

Table = MachineTable[Any, Any]


def reachable(table: Table) -> set[str]:
    seen, frontier = {table.initial}, [table.initial]
    while frontier:
        state = frontier.pop()
        for t in table.transitions:
            dest = t.dest or state
            if state in t.source and dest not in seen:
                seen.add(dest)
                frontier.append(dest)
    return seen


@pytest.mark.parametrize("table", MACHINES, ids=lambda t: t.name)
def test_every_state_is_reachable(table: Table) -> None:
    assert reachable(table) == set(table.state_names)


@pytest.mark.parametrize("table", MACHINES, ids=lambda t: t.name)
def test_every_non_final_state_has_a_way_out(table: Table) -> None:
    for state in set(table.state_names) - table.finals:
        assert any(state in t.source and t.dest not in (None, state) for t in table.transitions), state


@pytest.mark.parametrize("table", MACHINES, ids=lambda t: t.name)
def test_nothing_leaves_a_final_state_and_every_state_can_end(table: Table) -> None:
    for t in table.transitions:
        assert not set(t.source) & table.finals, t
    for state in table.state_names:  # deletion is always possible: a final state is reachable from anywhere
        start: Table = MachineTable(table.name, table.states, table.transitions, state)
        assert reachable(start) & table.finals, state


@pytest.mark.parametrize("table", MACHINES, ids=lambda t: t.name)
def test_machines_have_only_the_tables_triggers(table: Table) -> None:
    machine = machine_for(table)
    assert machine.auto_transitions is False
    assert set(machine.events) == {t.trigger for t in table.transitions}, "no to_<state> or other extra triggers"


def test_runtime_hooks_are_engine_hooks_or_generic() -> None:
    generic = set(TemplateEngine.GENERIC_HOOKS)
    for t in RUNTIME.transitions:
        names = [*t.when, *t.unless, *([t.do] if t.do else []),
                 *([t.step.do] + ([t.step.should] if t.step.should else []) if t.step else [])]
        for name in names:
            assert name in IMPLEMENT_HOOKS or name in generic, f"{t.trigger} uses unknown hook {name}"
    for step in SYNC_STEPS:
        assert step.hook in IMPLEMENT_HOOKS and (step.should is None or step.should in IMPLEMENT_HOOKS)
        assert step.also is None or callable(getattr(TemplateEngine, step.also, None)), step.also


def test_dataset_hooks_exist() -> None:
    for t in DATASET.transitions:
        for name in (*t.when, *t.unless, *([t.do] if t.do else []), *([t.step.do] if t.step else [])):
            assert name in DatasetLifecycle.HOOKS and callable(getattr(DatasetLifecycle, name)), name


def test_setup_order_is_master_then_ufs_then_workers() -> None:
    order = [t.step.do for t in RUNTIME.transitions if t.step is not None]
    assert order.index("setup_master") < order.index("prepare_ufs") < order.index("setup_workers") \
        < order.index("create_volume")


def test_the_contract_has_every_reference_hook() -> None:
    seed = {"check_master_ready", "check_workers_ready", "should_setup_master", "should_setup_workers",
            "should_check_ufs", "setup_master", "setup_workers", "update_dataset_status", "prepare_ufs",
            "assign_nodes_to_cache", "check_runtime_healthy", "update_cache_of_dataset", "bind_to_dataset",
            "check_and_update_runtime_status", "create_volume", "sync_replicas", "sync_metadata", "delete_volume",
            "used_storage_bytes", "free_storage_bytes", "total_storage_bytes", "total_file_nums"}
    later = {"validate", "check_runtime_ready", "sync_runtime", "should_sync_dataset_mounts", "sync_dataset_mounts",
             "should_update_ufs", "update_on_ufs_change", "sync_schedule_info_to_cache_nodes", "shutdown"}
    assert len(seed) == 22
    assert set(IMPLEMENT_HOOKS) == seed | later
    assert all(callable(getattr(Implement, h)) for h in IMPLEMENT_HOOKS)


def test_the_hook_types_name_exactly_the_hooks_that_exist() -> None:
    """A typo in a table row is a type error because these Literal types list every real hook."""
    assert set(get_args(RuntimeHook)) == set(IMPLEMENT_HOOKS) | set(TemplateEngine.GENERIC_HOOKS)
    assert set(get_args(DatasetHook)) == set(DatasetLifecycle.HOOKS)


def test_writing_guards_are_guards_of_the_table() -> None:
    for table in MACHINES:
        guards = {g for t in table.transitions for g in (*t.when, *t.unless)}
        assert table.writing_guards <= guards


def test_a_move_of_a_trigger_that_also_has_an_internal_row_is_a_move() -> None:
    """``unbind`` has a row to NotBound and an internal one: leaving Bound is a move (an event, a metric),
    and the advance goes on from NotBound; the internal row fires once and ends the advance."""
    answers = {"runtime_released": True, "has_binding": True}
    runner = Runner(DATASET, "Bound", lambda name: lambda: answers.get(name, False))
    result = runner.advance()
    assert [(m.trigger, m.source, m.dest) for m in result.moves] == [("unbind", "Bound", "NotBound")]
    assert result.internal == ["unbind"]  # then, from NotBound, the internal row clears what is left
    assert runner.state == "NotBound"


def test_operation_hooks_exist_and_are_the_tables() -> None:
    named = {h for t in OPERATION.transitions for h in t.hooks}
    assert named == set(OperationHooks.HOOKS) == set(get_args(OperationHook))
