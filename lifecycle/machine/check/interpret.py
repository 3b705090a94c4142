"""A table run as ``lifecycle.machine.runner.Runner`` runs it, without the ``transitions`` library.

The model checker runs a reconcile pass millions of times; building and firing ``transitions``
machines costs about 20 µs a trigger, this costs one. The semantics are the runner's, read from
the same table data: in the current state, the triggers listed for it in table order; a trigger
with several rows tries them in order, each running its step (``should`` first when given), then
its ``when`` guards (all true, the first false one ends the row) and ``unless`` guards (all false),
then its ``do``; the first row that passes moves and starts the triggers of the new state again.
A trigger whose internal row fired (the state stayed) fires once per pass and ends the advance
(the runner's rule). A hook that raises ends the advance as a failure.
A test compares this with the real runner on random tables and random hook answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from lifecycle.machine.runner import MAX_MOVES
from lifecycle.machine.table import MachineTable, Transition


class HookFailed(Exception):
    """A hook raised: the advance ends, naming it, as the runner's ``Failure`` does."""

    def __init__(self, hook: str):
        super().__init__(hook)
        self.hook = hook


@attrs.frozen
class Compiled:
    """A table arranged for the interpreter: per state, its triggers and each trigger's rows."""

    table: MachineTable[Any, Any]
    rows: dict[str, tuple[tuple[str, tuple[Transition[Any, Any], ...]], ...]]
    internal: frozenset[str]
    finals: frozenset[str]

    @classmethod
    def of(cls, table: MachineTable[Any, Any]) -> Compiled:
        rows = {}
        for state in table.state_names:
            rows[str(state)] = tuple(
                (trigger, tuple(t for t in table.transitions if t.trigger == trigger and state in t.source))
                for trigger in table.triggers_from(state))
        internal = frozenset(t.trigger for t in table.transitions if t.internal)
        return cls(table, rows, internal, frozenset(str(s) for s in table.finals))


class Advanced:
    """What one advance did: moves as (trigger, source, dest), internal triggers, the hook that raised."""

    __slots__ = ("failure", "internal", "moves")

    def __init__(self) -> None:
        self.moves: list[tuple[str, str, str]] = []
        self.internal: list[str] = []
        self.failure: str | None = None

    @property
    def progressed(self) -> bool:
        return bool(self.moves or self.internal)


class Machine:
    """One machine for one pass, like ``Runner``: restored at ``state``, hooks through ``call``."""

    def __init__(self, compiled: Compiled, state: str, call: Callable[[str], Any]):
        self.compiled = compiled
        self.state = state
        self.call = call
        self.fired: set[str] = set()

    def advance(self) -> Advanced:
        c, result = self.compiled, Advanced()
        for _ in range(MAX_MOVES):
            source = self.state
            if source in c.finals:
                return result
            for trigger, rows in c.rows[source]:
                if trigger in c.internal and trigger in self.fired:
                    continue
                try:
                    moved = self._trigger(rows)
                except HookFailed as failed:
                    result.failure = failed.hook
                    return result
                if not moved:
                    continue
                if trigger in c.internal and self.state == source:
                    self.fired.add(trigger)
                    result.internal.append(trigger)
                    return result
                result.moves.append((trigger, source, self.state))
                break
            else:
                return result
        raise RuntimeError(f"{c.table.name} machine did not settle after {MAX_MOVES} moves: {result.moves[-4:]}")

    def _trigger(self, rows: tuple[Transition[Any, Any], ...]) -> bool:
        call = self.call
        for row in rows:
            step = row.step
            if step is not None and (step.should is None or call(step.should)):
                call(step.do)
            if any(not call(name) for name in row.when) or any(call(name) for name in row.unless):
                continue
            if row.do is not None:
                call(row.do)
            if row.dest is not None:
                self.state = str(row.dest)
            return True
        return False


__all__ = ["Advanced", "Compiled", "HookFailed", "Machine"]
