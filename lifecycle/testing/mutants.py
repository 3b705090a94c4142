"""Table mutants: one plausible bug in the lifecycle tables at a time, for mutation testing.

The tables promise that the lifecycle is data that tests can hold to account. Mutation testing
checks that promise: each mutant here is the tables with exactly one change a person could make by
mistake (a guard dropped or moved between ``when`` and ``unless``, a step's ``should`` hook or the
step itself dropped, an action dropped, a destination changed, a source state dropped, a row
deleted, two rows that compete for a state swapped, a Sync step's flag flipped, a Sync step
dropped or moved). ``applied`` swaps a mutant's tables into every loaded module that holds the
real ones, so the whole reconcile runs the mutant in-process; a test suite that passes against a
mutant has let that bug through. ``tests/mutants`` runs the behavioural tests against each one
(``make mutants``).

A mutant that no behaviour can tell from the real tables is declared in ``EQUIVALENT`` with the
reason; everything else must be killed by a test.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs

from lifecycle.machine import tables
from lifecycle.machine.table import MachineTable, Step, SyncStep, Transition

Table = MachineTable[Any, Any]
Row = Transition[Any, Any]
Steps = tuple[SyncStep[Any], ...]

# The operators, in the order they are reported.
GUARD_DROPPED = "guard dropped"
GUARD_INVERTED = "guard inverted"
SHOULD_DROPPED = "step's should dropped"
STEP_DROPPED = "step dropped"
ACTION_DROPPED = "action dropped"
DEST_CHANGED = "destination changed"
SOURCE_DROPPED = "source dropped"
ROW_DELETED = "row deleted"
ROWS_SWAPPED = "rows swapped"
SYNC_FLAG_FLIPPED = "sync flag flipped"
SYNC_STEP_DROPPED = "sync step dropped"
SYNC_STEPS_SWAPPED = "sync steps swapped"
OPERATORS = (GUARD_DROPPED, GUARD_INVERTED, SHOULD_DROPPED, STEP_DROPPED, ACTION_DROPPED, DEST_CHANGED,
             SOURCE_DROPPED, ROW_DELETED, ROWS_SWAPPED, SYNC_FLAG_FLIPPED, SYNC_STEP_DROPPED, SYNC_STEPS_SWAPPED)

# An interval given to a Sync step that has none: long enough that a test's passes fall inside it.
FLIPPED_INTERVAL = 60.0


@attrs.frozen
class Mutant:
    key: str  # stable: names the table, the row (by trigger and position) and the change
    operator: str
    runtime: Table
    dataset: Table
    operation: Table
    sync: Steps
    # (machine, state): only a machine that tries its triggers in one of these states can behave
    # differently under this mutant, so only tests that get there need to run against it.
    states: frozenset[tuple[str, str]]

    @property
    def equivalent(self) -> str | None:
        """Why no behaviour can tell this mutant from the real tables, if it is so declared."""
        return EQUIVALENT.get(self.key)


# Mutants that cannot change behaviour, each with the reason. Keys are ``Mutant.key``.
EQUIVALENT: dict[str, str] = {
    "dataset.release_runtime:swapped-with-release":
        "release_runtime needs runtime_running (the runtime exists and is not being deleted) and release "
        "runtime_gone (it is absent or being deleted), never both; release_runtime stays in Deleting, so either "
        "order tries both in the pass and the same guard reports the same wait",
    "dataset.fail#1:swapped-with-fail#2":
        "the two fail rows share trigger, sources and destination and have no action: either makes the same move",
    "sync.sync_schedule_info_to_cache_nodes:stop_if_changed=True":
        "it is the last Sync step: stopping Sync after it skips nothing",
    "runtime.released:when-dataset_unbound":
        "the Dataset goes first in every round and unbinds (in memory) as soon as its runtime is being deleted, "
        "so the guard is true whenever the runtime reaches the row; the finalizer write precedes the Dataset's "
        "status write in the same pass either way",
    "operation.accept:swapped-with-refuse":
        "accept needs spec_valid and refuse needs it false, and spec_valid only reads the spec: from one read "
        "exactly one of the two can fire, whichever is tried first",
    "operation.refuse:unless-spec_valid":
        "accept is tried before refuse from New and fires whenever spec_valid holds (a failing add_finalizer "
        "ends the pass before refuse is tried), so refuse is only reached when its guard is true anyway",
    "operation.succeeded:swapped-with-job_lost":
        "job_lost fires only when the run's Job cannot be read (and none was made in this pass), succeeded only on "
        "a Job read as done; both guards only read the same Job, so at most one can fire (failed stays first)",
    "operation.next_tick:swapped-with-changed":
        "repeats needs policy Cron and event_seen policy OnEvent, and both only read: never both true, and "
        "the row that fires does the same rearm to the same Pending",
}


def _row_name(table: Table, index: int) -> str:
    row = table.transitions[index]
    same = [i for i, t in enumerate(table.transitions) if t.trigger == row.trigger]
    suffix = f"#{same.index(index) + 1}" if len(same) > 1 else ""
    return f"{table.name.lower()}.{row.trigger}{suffix}"


def _row_mutations(table: Table, index: int) -> Iterator[tuple[str, str, Row | None]]:
    """(operator, change, the mutated row or None for "deleted") for one row."""
    row = table.transitions[index]
    for guard in row.when:
        rest = tuple(g for g in row.when if g != guard)
        yield GUARD_DROPPED, f"when-{guard}", attrs.evolve(row, when=rest)
        yield GUARD_INVERTED, f"when->unless-{guard}", attrs.evolve(row, when=rest, unless=(*row.unless, guard))
    for guard in row.unless:
        rest = tuple(g for g in row.unless if g != guard)
        yield GUARD_DROPPED, f"unless-{guard}", attrs.evolve(row, unless=rest)
        yield GUARD_INVERTED, f"unless->when-{guard}", attrs.evolve(row, unless=rest, when=(*row.when, guard))
    if row.step is not None:
        if row.step.should is not None:
            yield SHOULD_DROPPED, f"should-{row.step.should}", attrs.evolve(row, step=Step(row.step.do))
        yield STEP_DROPPED, f"step-{row.step.do}", attrs.evolve(row, step=None)
    if row.do is not None:
        yield ACTION_DROPPED, f"do-{row.do}", attrs.evolve(row, do=None)
    for dest in (None, *table.state_names):
        if dest != row.dest and not (dest is None and row.source == (row.dest,)):
            yield DEST_CHANGED, f"dest={dest or 'in-place'}", attrs.evolve(row, dest=dest)
    if len(row.source) > 1:
        for source in row.source:
            rest_sources = tuple(s for s in row.source if s != source)
            yield SOURCE_DROPPED, f"source-{source}", attrs.evolve(row, source=rest_sources)
    yield ROW_DELETED, "deleted", None


def _at(table: Table, *rows: Row) -> frozenset[tuple[str, str]]:
    return frozenset((table.name, str(s)) for row in rows for s in row.source)


def _table_mutants(table: Table) -> Iterator[tuple[str, str, Table, frozenset[tuple[str, str]]]]:
    rows = table.transitions
    for i in range(len(rows)):
        for operator, change, row in _row_mutations(table, i):
            new_rows = rows[:i] + ((row,) if row is not None else ()) + rows[i + 1:]
            yield (f"{_row_name(table, i)}:{change}", operator, attrs.evolve(table, transitions=new_rows),
                   _at(table, rows[i]))
    # Order only matters between rows that can fire from one state: swap every such pair.
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            if set(rows[i].source) & set(rows[j].source):
                swapped = list(rows)
                swapped[i], swapped[j] = swapped[j], swapped[i]
                key = f"{_row_name(table, i)}:swapped-with-{_row_name(table, j).partition('.')[2]}"
                yield key, ROWS_SWAPPED, attrs.evolve(table, transitions=tuple(swapped)), _at(table, rows[i], rows[j])


def _sync_mutants(steps: Steps) -> Iterator[tuple[str, str, Steps]]:
    for i, step in enumerate(steps):
        def put(new: SyncStep[Any], i: int = i) -> Steps:
            return (*steps[:i], new, *steps[i + 1:])

        name = f"sync.{step.hook}"
        yield f"{name}:stop_if_changed={not step.stop_if_changed}", SYNC_FLAG_FLIPPED, \
            put(attrs.evolve(step, stop_if_changed=not step.stop_if_changed))
        flipped = None if step.interval is not None else FLIPPED_INTERVAL
        yield f"{name}:interval={flipped}", SYNC_FLAG_FLIPPED, put(attrs.evolve(step, interval=flipped))
        if step.should is not None:
            yield f"{name}:should-{step.should}", SYNC_FLAG_FLIPPED, put(attrs.evolve(step, should=None, also=None))
        if step.also is not None:
            yield f"{name}:also-{step.also}", SYNC_FLAG_FLIPPED, put(attrs.evolve(step, also=None))
        yield f"{name}:dropped", SYNC_STEP_DROPPED, steps[:i] + steps[i + 1:]
        if i + 1 < len(steps):
            swapped = list(steps)
            swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
            yield f"{name}:swapped-with-{steps[i + 1].hook}", SYNC_STEPS_SWAPPED, tuple(swapped)


def generate(runtime: Table = tables.RUNTIME, dataset: Table = tables.DATASET,
             operation: Table = tables.OPERATION, sync: Steps = tables.SYNC_STEPS) -> list[Mutant]:
    """Every mutant of the tables, in a stable order."""
    out = [Mutant(key, op, t, dataset, operation, sync, at) for key, op, t, at in _table_mutants(runtime)]
    out += [Mutant(key, op, runtime, t, operation, sync, at) for key, op, t, at in _table_mutants(dataset)]
    out += [Mutant(key, op, runtime, dataset, t, sync, at) for key, op, t, at in _table_mutants(operation)]
    sync_at = frozenset((runtime.name, str(t.source[0])) for t in runtime.transitions if t.do == "sync")
    out += [Mutant(key, op, runtime, dataset, operation, s, sync_at) for key, op, s in _sync_mutants(sync)]
    return out


def replacements(mutant: Mutant) -> dict[int, Any]:
    """id of each real table object -> the mutant's version of it."""
    tables_of = {id(tables.RUNTIME): mutant.runtime, id(tables.DATASET): mutant.dataset,
                 id(tables.OPERATION): mutant.operation}
    return {**tables_of, id(tables.SYNC_STEPS): mutant.sync,
            id(tables.MACHINES): tuple(tables_of.get(id(t), t) for t in tables.MACHINES)}


@contextmanager
def applied(mutant: Mutant) -> Iterator[None]:
    """Run with ``mutant``'s tables wherever the real ones are held: every loaded module's global
    that *is* a real table (``from ... import RUNTIME`` copies included) is replaced, and put back
    after. Machines are built per table object, so the reconcile builds the mutant's."""
    swaps = replacements(mutant)
    originals = {id(t): t for t in (tables.RUNTIME, tables.DATASET, tables.OPERATION, tables.SYNC_STEPS,
                                    tables.MACHINES)}
    undo: list[tuple[Any, str, Any]] = []
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for name, value in list(namespace.items()):
            if id(value) in swaps and value is originals[id(value)]:
                undo.append((module, name, value))
                setattr(module, name, swaps[id(value)])
    try:
        yield
    finally:
        for module, name, value in undo:
            setattr(module, name, value)


__all__ = ["EQUIVALENT", "OPERATORS", "Mutant", "applied", "generate", "replacements"]
