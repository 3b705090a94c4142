"""Turns a table of ``lifecycle.tables`` into a ``transitions`` machine and runs it.

A machine is built per reconcile around a model whose ``state`` was restored from the object;
nothing here keeps state between reconciles. ``advance`` fires the triggers of the current
state in table order until none moves. Guards that say "not yet" and hooks that raise are both
normal outcomes: the first ends the advance quietly, the second is returned as a ``Failure``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
from transitions import Machine

from lifecycle.tables import MachineTable, Step, Transition

# Enough for the longest legal path through a table several times over; hitting it is a bug in
# a table (a loop whose guards never turn false), reported instead of spinning forever.
MAX_MOVES = 64


Hooks = Callable[[str], Callable[[], Any]]


class _Model:
    """The object ``transitions`` binds triggers to; kept apart so no trigger shadows a hook."""

    def __init__(self, state: str, hooks: Hooks):
        self.state = state
        self.hook = hooks


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

    def wrap(self, name: str, fn: Callable[[], Any]) -> Callable[..., Any]:
        def call(*_: Any, **__: Any) -> Any:
            self.current = name
            return fn()

        return call


def _step(model: _Model, step: Step, tracker: HookTracker) -> Callable[..., None]:
    def run(*_: Any, **__: Any) -> None:
        if step.should is None or tracker.wrap(step.should, model.hook(step.should))():
            tracker.wrap(step.do, model.hook(step.do))()

    return run


def build(table: MachineTable, model: _Model, tracker: HookTracker) -> Machine:
    """A ``transitions`` machine for ``table`` bound to ``model``, starting at ``model.state``."""
    if model.state not in table.state_names:
        raise ValueError(f"{table.name} state {model.state!r} is not one of {', '.join(table.state_names)}")
    start = model.state
    machine = Machine(
        model=model,
        states=[{"name": s.name, "final": s.final} for s in table.states],
        initial=start,
        auto_transitions=False,
        ignore_invalid_triggers=True,
        model_override=False,
    )
    for t in table.transitions:
        machine.add_transition(**_transition_kwargs(t, model, tracker))
    return machine


def _transition_kwargs(t: Transition, model: _Model, tracker: HookTracker) -> dict[str, Any]:
    return {
        "trigger": t.trigger,
        "source": list(t.source),
        "dest": t.dest,
        "prepare": [_step(model, t.step, tracker)] if t.step else None,
        "conditions": [tracker.wrap(n, model.hook(n)) for n in t.when] or None,
        "unless": [tracker.wrap(n, model.hook(n)) for n in t.unless] or None,
        "before": [tracker.wrap(t.do, model.hook(t.do))] if t.do else None,
    }


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

    def __init__(self, table: MachineTable, state: str, hooks: Hooks):
        self.table = table
        self.tracker = HookTracker()
        self._model = _Model(state, hooks)
        self._internal = {t.trigger for t in table.transitions if t.dest is None}
        self._fired_internal: set[str] = set()
        build(table, self._model, self.tracker)

    @property
    def state(self) -> str:
        return self._model.state

    def advance(self) -> Advance:
        """Fire triggers until none moves; an internal transition fires once per pass and ends it."""
        table, model, result = self.table, self._model, Advance()
        for _ in range(MAX_MOVES):
            source = model.state
            if source in table.finals:
                return result
            for trigger in table.triggers_from(source):
                if trigger in self._internal and trigger in self._fired_internal:
                    continue
                self.tracker.current = ""
                try:
                    moved = getattr(model, trigger)()
                except Exception as error:  # a hook failed: a normal outcome, reported to the caller
                    hook = getattr(error, "hook", None) or self.tracker.current or trigger
                    cause = getattr(error, "cause", None) or error
                    result.failure = Failure(table.name, source, trigger, hook, cause)
                    return result
                if not moved:
                    continue
                if trigger in self._internal:  # work done in place ends this advance
                    self._fired_internal.add(trigger)
                    result.internal.append(trigger)
                    return result
                result.moves.append(Move(table.name, trigger, source, model.state))
                break
            else:
                return result
        raise RuntimeError(f"{table.name} machine did not settle after {MAX_MOVES} moves: {result.moves[-4:]}")
