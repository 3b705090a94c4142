"""The shape of a lifecycle table: states, rows and their meaning, typed per machine.

Read a row as: on ``trigger``, from any of ``source``, first run ``step`` (if its ``should`` hook
says so, or always when there is none), then move to ``dest`` if every ``when`` guard is true
and every ``unless`` guard is false, running ``do`` on the way. A trigger with several rows from
one state tries them in order. A row whose ``dest`` is None is an internal transition: the state
stays, the work is done in place, and it ends the pass (it fires once per pass). A guard that is
false or a hook that fails leaves the state as it was, and the reconcile retries later.

States are per-machine enums and hook names per-machine ``Literal`` types, so a row that names a
state of the other machine, or a guard that does not exist, is a type error.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Generic, Literal, TypeVar

import attrs

S = TypeVar("S", bound=StrEnum)  # the states of one machine
H = TypeVar("H", bound=str)  # the hook names of one machine (a Literal type)

# A state's requeue: seconds until the pair is looked at again while it rests there, RESYNC for the
# operator's resync period, or None for "only when something it watches changes".
RESYNC: Literal["resync"] = "resync"
Requeue = float | Literal["resync"] | None


@attrs.frozen
class State(Generic[S]):
    name: S
    doc: str
    final: bool = False
    requeue: Requeue = None
    # The ``.status.phase`` written for this state; None: worked out by the table's phase rule.
    phase: str | None = None


@attrs.frozen
class Step(Generic[H]):
    """Work a transition does before its guards: ``do``, gated by ``should`` when given."""

    do: H
    should: H | None = None


@attrs.frozen
class Transition(Generic[S, H]):
    trigger: str
    source: tuple[S, ...]
    dest: S | None  # None: an internal transition, the state stays
    step: Step[H] | None = None
    when: tuple[H, ...] = ()
    unless: tuple[H, ...] = ()
    do: H | None = None
    doc: str = ""

    @property
    def internal(self) -> bool:
        return self.dest is None

    @property
    def hooks(self) -> tuple[H, ...]:
        """Every hook the row names, in the order it may call them."""
        step = (*((self.step.should,) if self.step.should else ()), self.step.do) if self.step else ()
        return (*step, *self.when, *self.unless, *((self.do,) if self.do else ()))


@attrs.frozen
class MachineTable(Generic[S, H]):
    name: str
    states: tuple[State[S], ...]
    transitions: tuple[Transition[S, H], ...]
    initial: S
    # Guards that write as well as read (the reference's check-and-update hooks): drawn with a mark,
    # and the only exception to "guards only read".
    writing_guards: frozenset[H] = frozenset()

    @property
    def state_names(self) -> tuple[S, ...]:
        return tuple(s.name for s in self.states)

    @property
    def finals(self) -> frozenset[S]:
        return frozenset(s.name for s in self.states if s.final)

    def state(self, name: str) -> S:
        """The state called ``name``; ValueError naming the table's states otherwise."""
        for s in self.states:
            if s.name == name:
                return s.name
        raise ValueError(f"{self.name} state {name!r} is not one of {', '.join(self.state_names)}")

    def info(self, name: S) -> State[S]:
        return next(s for s in self.states if s.name == name)

    def triggers_from(self, state: S) -> tuple[str, ...]:
        """Triggers that can fire in ``state``, in table order, each once."""
        seen: dict[str, None] = {}
        for t in self.transitions:
            if state in t.source:
                seen.setdefault(t.trigger)
        return tuple(seen)

    def requeue(self, state: S, resync: float) -> float | None:
        value = self.info(state).requeue
        return resync if value == RESYNC else value


class Rows(Generic[S, H]):
    """The typed row constructor of one machine: ``row(trigger, source, dest, when=(...), ...)``."""

    def __call__(self, trigger: str, source: S | tuple[S, ...], dest: S | None, *, step: Step[H] | None = None,
                 when: tuple[H, ...] = (), unless: tuple[H, ...] = (), do: H | None = None,
                 doc: str = "") -> Transition[S, H]:
        sources = source if isinstance(source, tuple) else (source,)
        return Transition(trigger, sources, dest, step, when, unless, do, doc)


@attrs.frozen
class SyncStep(Generic[H]):
    """One step of Sync. A step with an ``interval`` (seconds, overridable per operator) runs at
    most once per interval; if it has a ``should`` (a check, such as a drift check by command), its
    first interval starts at the runtime's first Sync: setup has just made what it would check.
    ``also`` names a check of the template engine that makes the step run
    even when the engine's ``should`` says no: the lifecycle's own record is behind (an operator
    died between the engine's work and the status write that records it)."""

    hook: H
    should: H | None = None
    also: str | None = None
    interval: float | None = None
    stop_if_changed: bool = False

    @property
    def rate_limited(self) -> bool:
        return self.interval is not None

    @property
    def flags(self) -> tuple[str, ...]:
        """How the diagrams describe the step."""
        out = []
        if self.should:
            out.append(f"if {self.should}" + (f" or {self.also}" if self.also else ""))
        if self.interval is not None:
            out.append(f"at most every {self.interval:g}s")
        if self.stop_if_changed:
            out.append("stops Sync if it changed anything")
        return tuple(out)


def event_reason(trigger: str) -> str:
    """The reason of the event a move sends: the trigger in CamelCase (``master_ready`` -> MasterReady)."""
    return "".join(part.capitalize() for part in trigger.split("_"))


__all__ = ["RESYNC", "MachineTable", "Requeue", "Rows", "State", "Step", "SyncStep", "Transition",
           "event_reason"]
