"""Turns a table of ``lifecycle.machine.tables`` into a ``transitions`` machine and runs it.

Each reconcile makes a model whose ``state`` was restored from the object and fires the events
of the table's machine (one per table and thread, built once) on it; nothing here keeps state
between reconciles. ``advance`` fires the triggers of the current
state in table order until none moves. Guards that say "not yet" and hooks that raise are both
normal outcomes: the first ends the advance quietly, the second is returned as a ``Failure``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import attrs
from transitions import Machine

from lifecycle.machine.table import MachineTable, Step, Transition

# Enough for the longest legal path through a table several times over; hitting it is a bug in
# a table (a loop whose guards never turn false), reported instead of spinning forever.
MAX_MOVES = 64


Hooks = Callable[[str], Callable[[], Any]]


class _Model:
    """What a machine's events act on: the state, and the hooks of this pass."""

    def __init__(self, state: str, hooks: Hooks, tracker: HookTracker):
        self.state = state
        self.hooks = hooks
        self.tracker = tracker

    def call(self, name: str) -> Any:
        self.tracker.current = name
        return self.hooks(name)()


@attrs.frozen
class Move:
    machine: str
    trigger: str
    source: str
    dest: str


@attrs.frozen
class Failure:
    machine: str
    state: str
    trigger: str
    hook: str
    error: BaseException

    def __str__(self) -> str:
        return f"{self.hook} failed in {self.machine} state {self.state}: {self.error}"


class HookTracker:
    """Remembers which hook runs, so a failure can name it (for events and conditions)."""

    def __init__(self) -> None:
        self.current = ""


# Callbacks receive the event (send_event=True) and find the hooks through its model, so one
# machine per table serves every pass; building one per pass cost about a millisecond.

def _hook(name: str) -> Callable[[Any], Any]:
    def call(event: Any) -> Any:
        return event.model.call(name)

    return call


def _step(step: Step[Any]) -> Callable[[Any], None]:
    def run(event: Any) -> None:
        model = event.model
        if step.should is None or model.call(step.should):
            model.call(step.do)

    return run


def _transition_kwargs(t: Transition[Any, Any]) -> dict[str, Any]:
    return {
        "trigger": t.trigger,
        "source": [str(s) for s in t.source],
        "dest": None if t.dest is None else str(t.dest),
        "prepare": [_step(t.step)] if t.step else None,
        "conditions": [_hook(n) for n in t.when] or None,
        "unless": [_hook(n) for n in t.unless] or None,
        "before": [_hook(t.do)] if t.do else None,
    }


def build(table: MachineTable[Any, Any]) -> Machine:
    """A ``transitions`` machine for ``table``, without models; see ``Runner``."""
    machine = Machine(
        model=None,
        states=[{"name": str(s.name), "final": s.final} for s in table.states],
        initial=str(table.initial),
        auto_transitions=False,
        ignore_invalid_triggers=True,
        send_event=True,
    )
    for t in table.transitions:
        machine.add_transition(**_transition_kwargs(t))
    return machine


_machines = threading.local()


def machine_for(table: MachineTable[Any, Any]) -> Machine:
    """This thread's machine for ``table`` (transitions machines are not meant to be shared by threads)."""
    cache: dict[str, tuple[MachineTable[Any, Any], Machine]] = _machines.__dict__.setdefault("by_table", {})
    if table.name not in cache or cache[table.name][0] is not table:
        cache[table.name] = (table, build(table))
    return cache[table.name][1]


@attrs.define
class Advance:
    """What one call of ``Runner.advance`` did."""

    moves: list[Move] = attrs.field(factory=list)
    internal: list[str] = attrs.field(factory=list)
    failure: Failure | None = None

    @property
    def progressed(self) -> bool:
        return bool(self.moves or self.internal)


class Runner:
    """One machine for one reconcile pass: restored at ``state``, hooks looked up by name."""

    def __init__(self, table: MachineTable[Any, Any], state: str, hooks: Hooks):
        self.table = table
        self.tracker = HookTracker()
        self._model = _Model(str(table.state(state)), hooks, self.tracker)
        self._internal = {t.trigger for t in table.transitions if t.internal}
        self._fired_internal: set[str] = set()
        # Events fire for any object with a ``state``: binding the model (add_model) is not needed.
        self._events = machine_for(table).events

    @property
    def state(self) -> Any:
        """The current state, as a member of the table's state enum."""
        return self.table.state(self._model.state)

    def advance(self) -> Advance:
        """Fire triggers until none moves; an internal transition fires once per pass and ends it."""
        table, model, result = self.table, self._model, Advance()
        for _ in range(MAX_MOVES):
            source = self.state
            if source in table.finals:
                return result
            for trigger in table.triggers_from(source):
                if trigger in self._internal and trigger in self._fired_internal:
                    continue
                self.tracker.current = ""
                try:
                    moved = self._events[trigger].trigger(model)
                except Exception as error:  # a hook failed: a normal outcome, reported to the caller
                    hook = getattr(error, "hook", None) or self.tracker.current or trigger
                    cause = getattr(error, "cause", None) or error
                    result.failure = Failure(table.name, source, trigger, hook, cause)
                    return result
                if not moved:
                    continue
                # Work done in place (an internal row fired: the state stayed) ends this advance; a trigger
                # that also has rows to other states moves like any other when one of those fired.
                if trigger in self._internal and self.state == source:
                    self._fired_internal.add(trigger)
                    result.internal.append(trigger)
                    return result
                result.moves.append(Move(table.name, trigger, source, self.state))
                break
            else:
                return result
        raise RuntimeError(f"{table.name} machine did not settle after {MAX_MOVES} moves: {result.moves[-4:]}")
