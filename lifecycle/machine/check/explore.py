"""Every reachable state of a Dataset/runtime pair, up to a number of environment moves.

From a Dataset and a runtime just created, the search takes every next step: a reconcile pass
(free), Kubernetes finishing a deletion (free), and, while the bound allows, one environment
move: a fact or spec changed, a deletion requested, a hook failing in a pass, a pass crashing
after any of its writes (the next pass restores from what was written), a pass soon after the
last (rate-limited Sync steps not due). States are explored in order of environment moves, then
of steps, so the first violation found comes with a shortest trace. Then, from every reachable
state, the world is made good and left alone, and the passes must reach the goal of
``invariants.goal_of``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import attrs

from lifecycle.machine import tables
from lifecycle.machine.check.interpret import Compiled
from lifecycle.machine.check.invariants import LIVENESS, SAFETY, goal_of
from lifecycle.machine.check.passes import Model, Pass
from lifecycle.machine.check.search import layered, path_to
from lifecycle.machine.check.world import World, cluster_moves, describe, env_moves
from lifecycle.machine.table import MachineTable, SyncStep

SHOWN = 12  # steps of a good world's run shown after a liveness violation
SETTLE_LIMIT = 40  # passes a good world may take to reach its goal (a clean setup takes 2)

Step = tuple[str, Any, Any]  # ("pass", fail_at, quick) | ("crash", write index, None) | ("env"|"cluster", label, None)


@attrs.frozen
class Violation:
    invariant: str
    doc: str
    message: str
    trace: tuple[str, ...]  # the steps from the pair just created, shortest first found

    def __str__(self) -> str:
        steps = "\n".join(f"  {i + 1:>2}. {s}" for i, s in enumerate(self.trace))
        return f"VIOLATED {self.invariant}: {self.message}\n  ({self.doc})\n  shortest trace:\n{steps}"


@attrs.frozen
class Report:
    depth: int
    states: int
    passes: int
    seconds: float
    violation: Violation | None

    @property
    def held(self) -> bool:
        return self.violation is None


class _Found(Exception):
    def __init__(self, name: str, message: str, before: World, step: Step, after: list[str] | None = None):
        self.name, self.message, self.before, self.step, self.after = name, message, before, step, after or []


class Checker:
    def __init__(self, dataset: MachineTable[Any, Any] | None = None, runtime: MachineTable[Any, Any] | None = None,
                 sync_steps: tuple[SyncStep[Any], ...] | None = None):
        # Read from the tables module when called, so a table changed in place is checked as changed.
        self.model = Model(Compiled.of(dataset or tables.DATASET), Compiled.of(runtime or tables.RUNTIME),
                           tuple(tables.SYNC_STEPS if sync_steps is None else sync_steps))
        self.parent: dict[World, tuple[World, Step] | None] = {}
        self.passes = 0
        self._settled: dict[World, World | None] = {}

    # -- passes -------------------------------------------------------------------------------

    def run(self, w: World, fail_at: int | None = None, quick: bool = False) -> Pass:
        self.passes += 1
        try:
            return Pass(self.model, w, fail_at=fail_at, quick=quick).run()
        except RuntimeError as exc:  # the interpreter's move limit
            raise _Found("passes_settle", str(exc), w, ("pass", fail_at, quick)) from exc

    def _checked(self, w: World, fail_at: int | None = None, quick: bool = False) -> Pass:
        p = self.run(w, fail_at, quick)
        for inv in SAFETY:
            problem = None
            if inv.on_write is not None:
                problem = next((m for x in p.writes if (m := inv.on_write(x))), None)
            if inv.after_pass is not None and problem is None:
                problem = inv.after_pass(p)
            if problem:
                raise _Found(inv.name, problem, w, ("pass", fail_at, quick))
        return p

    def successors(self, w: World, env: bool = True) -> Iterator[tuple[bool, Step, World]]:
        """(is an environment move, step, next state); the free steps only, without ``env``."""
        for inv in SAFETY:
            if inv.in_state is not None and (problem := inv.in_state(w, self.model.dataset, self.model.runtime)):
                raise _Found(inv.name, problem, w, ("env", "(in this state)", None))
        p = self._checked(w)
        yield False, ("pass", None, False), p.w
        for label, nxt in cluster_moves(w):
            yield False, ("cluster", label, None), nxt
        if not env:
            return
        for i, x in enumerate(p.writes[:-1]):
            yield True, ("crash", i, None), x.after
        for j in _distinct(p.signatures):
            yield True, ("pass", j, False), self._checked(w, j).w
        if p.skippable:
            yield True, ("pass", None, True), self._checked(w, None, True).w
        for label, nxt in env_moves(w):
            yield True, ("env", label, None), nxt

    # -- the search ----------------------------------------------------------------------------

    def explore(self, depth: int, initial: World) -> list[World]:
        """Every state within ``depth`` environment moves, in the order found; raises _Found."""
        return layered(initial, depth, lambda s, env: self.successors(s, env=env), self.parent)

    def settle(self, w: World) -> tuple[World | None, list[World]]:
        """Passes (and Kubernetes' own moves) from ``w`` until nothing changes; None for a loop."""
        path = [w]
        for _ in range(SETTLE_LIMIT):
            if w in self._settled:
                return self._settled[w], path
            nxt = next((n for _, n in cluster_moves(w)), None) or self.run(w).w
            if nxt == w:
                break
            if nxt in path:
                self._remember(path, None)
                return None, path
            w = nxt
            path.append(w)
        else:
            self._remember(path, None)
            return None, path
        self._remember(path, w)
        return w, path

    def _remember(self, path: list[World], end: World | None) -> None:
        for s in path:
            self._settled[s] = end

    def liveness(self, order: list[World]) -> None:
        for s in order:
            name, done = goal_of(s)
            end, path = self.settle(s.good())
            if end is None or not done(end):
                what = "the passes loop" if end is None else f"the passes stop at: {describe(end)}"
                after = ["the world becomes good and stays so"
                         + ("" if s.good() == s else f": {describe(s.good())}"),
                         *(self._settle_step(a) for a in path[:-1][:SHOWN])]
                raise _Found(name, what, s, ("env", "(from here)", None), after)

    def _settle_step(self, w: World) -> str:
        cluster = next(cluster_moves(w), None)
        return cluster[0] if cluster is not None else self.describe_step(w, ("pass", None, False))

    # -- traces --------------------------------------------------------------------------------

    def trace_to(self, w: World) -> list[str]:
        return [self.describe_step(before, step) for before, step in path_to(self.parent, w)]

    def describe_step(self, before: World, step: Step) -> str:
        kind, arg, quick = step
        if kind in ("env", "cluster"):
            return str(arg)
        try:
            p = Pass(self.model, before, fail_at=arg if kind == "pass" else None, quick=bool(quick)).run()
        except RuntimeError as exc:
            return f"reconcile: {exc}"
        writes = p.writes[: arg + 1] if kind == "crash" else p.writes
        moves = "; ".join(f"{m} {s}->{d} ({t})" for m, t, s, d in p.moves) or "no move"
        head = "reconcile" + (" (soon after the last: rate-limited Sync steps skipped)" if quick else "")
        if kind == "pass" and arg is not None:
            head += f" with hook {p.injected} failing"
        text = f"{head}: {moves}"
        if writes:
            text += f"; writes: {', '.join(x.what for x in writes)}"
        if kind == "crash":
            text += f"; the operator crashes after write {arg + 1} (later writes lost)"
        if p.conflict:
            text += "; the runtime's status write conflicts (the pass ends)"
        return text


def _distinct(signatures: list[tuple[Any, ...]]) -> list[int]:
    """The calls (1-based) worth making fail: the first of each signature."""
    seen: set[tuple[Any, ...]] = set()
    calls = []
    for i, sig in enumerate(signatures):
        if sig not in seen:
            seen.add(sig)
            calls.append(i + 1)
    return calls


def check(depth: int = 3, *, dataset: MachineTable[Any, Any] | None = None,
          runtime: MachineTable[Any, Any] | None = None, sync_steps: tuple[SyncStep[Any], ...] | None = None,
          initial: World | None = None,
          liveness: bool = True) -> Report:
    """Check the tables (by default the product's) within ``depth`` environment moves."""
    start = time.perf_counter()
    checker, initial = Checker(dataset, runtime, sync_steps), initial or World()
    order: list[World] = []
    violation = None
    try:
        order = checker.explore(depth, initial)
        if liveness:
            checker.liveness(order)
    except _Found as found:
        doc = next((i.doc for i in SAFETY if i.name == found.name), None) or LIVENESS.get(found.name, "")
        trace = (*checker.trace_to(found.before), checker.describe_step(found.before, found.step), *found.after) \
            if found.step[0] != "env" else (*checker.trace_to(found.before), *found.after)
        violation = Violation(found.name, doc, f"{found.message}; at: {describe(found.before)}", tuple(trace))
        order = order or list(checker.parent)
    return Report(depth, len(order), checker.passes, time.perf_counter() - start, violation)


__all__ = ["Checker", "Report", "Violation", "check"]
