"""The model check of the OPERATION table: two operations of one kind racing for one Dataset's lock.

``check_operations(depth)`` runs the operation table (the product's, or any changed copy, read
when called) against the abstract world of ``opworld``, for each policy and runAfter chain in
``CONFIGS``: from two operations just created, every next step is a reconcile pass of either
(free) or, while the bound allows, one environment move: a free fact changed (the Dataset ready,
the kind supported, the spec valid, the TTL passed, a cron tick, the Dataset changed), a deletion
requested, a Job succeeding, failing or deleted, or a pass crashing after any of its writes (the
next pass restores the operation from its status as the reconcile does). Every state, and the
world after every write of every pass, is held to ``SAFETY``; from every reachable state, the
world made good and left alone (running Jobs succeed), the passes must reach the goal of
``LIVENESS``. Violations come with a shortest trace, as in the pair checker.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

import attrs

from lifecycle.machine import tables
from lifecycle.machine.check.explore import Report, Violation
from lifecycle.machine.check.interpret import Compiled
from lifecycle.machine.check.opworld import (
    NAMES,
    RUNNING,
    SUCCEEDED,
    Config,
    OpPass,
    OpWorld,
    describe,
    env_moves,
    restored,
)
from lifecycle.machine.check.search import layered, path_to
from lifecycle.machine.table import MachineTable

CONFIGS = (Config("Once"), Config("Once", "after"), Config("Once", "cycle"), Config("Cron"), Config("OnEvent"))
SETTLE_LIMIT = 40  # rounds (a pass of each operation) a good world may take to reach its goal
FINAL = ("Complete", "Failed")

Step = tuple[str, Any]  # ("pass", i) | ("crash", (i, write index)) | ("env", label)


def _holds(w: OpWorld, i: int) -> bool:
    return w.lock == i


def one_runner(w: OpWorld, c: Compiled, pass_of: int | None = None) -> str | None:
    """The Jobs of two operations of one kind never run at once on one Dataset. Guards against two
    runners: a lock that two operations both believe they hold."""
    running = [NAMES[i] for i, o in enumerate(w.ops) if o.exists and o.job == RUNNING]
    return f"the Jobs of {' and '.join(running)} run at once" if len(running) > 1 else None


def no_lock_leak(w: OpWorld, c: Compiled, pass_of: int | None = None) -> str | None:
    """The Dataset's lock is never held by an operation that is gone or recorded Deleted, and a pass
    that ran to its end leaves its operation's lock free when it rests finished (Complete, Failed).
    (A crash may leave a finished operation's lock for its next pass to free; other operations
    count it as stale meanwhile.) Guards against a lock leak: a Dataset no other operation of the
    kind can ever run on."""
    if w.lock is None:
        return None
    holder, name = w.ops[w.lock], NAMES[w.lock]
    if not holder.exists:
        return f"the lock is held by {name}, which is gone"
    if holder.rec == "Deleted" or (pass_of == w.lock and holder.rec in FINAL):
        return f"the lock is held by {name}, recorded {holder.rec}"
    return None


def no_orphan_job(w: OpWorld, c: Compiled, pass_of: int | None = None) -> str | None:
    """A running Job's operation exists and holds the Dataset's lock. Guards against an orphan Job:
    work on the Dataset that nothing accounts for or stops."""
    for i, o in enumerate(w.ops):
        if o.exists and o.job == RUNNING and not _holds(w, i):
            return f"{NAMES[i]}'s Job runs while {NAMES[i]} does not hold the lock"
    return None


def op_way_out(w: OpWorld, c: Compiled, pass_of: int | None = None) -> str | None:
    """Every state an existing operation is restored in is final or has a transition that can leave it
    (whose guards do not contradict each other). Guards against a stuck state (deadlock)."""
    for o in w.ops:
        s = restored(o) if o.exists else None
        if s is not None and s not in c.finals and not _leaving(c, s):
            return f"{c.table.name} state {s} has no transition that can leave it"
    return None


def _leaving(c: Compiled, s: str) -> bool:
    return any(t.dest is not None and str(t.dest) != s and not set(t.when) & set(t.unless)
               for _, rows in c.rows[s] for t in rows)


@attrs.frozen
class OpInvariant:
    """A safety property, checked on every state and the world after every write of every pass;
    ``pass_of`` names the operation whose pass just ran to its end, else None."""

    name: str
    doc: str
    check: Callable[[OpWorld, Compiled, int | None], str | None]


def _invariant(check: Callable[..., str | None]) -> OpInvariant:
    return OpInvariant(check.__name__, " ".join((inspect.getdoc(check) or "").split()), check)


SAFETY: tuple[OpInvariant, ...] = tuple(map(_invariant, (one_runner, no_lock_leak, no_orphan_job, op_way_out)))

LIVENESS: dict[str, str] = {
    "operations_finish": "From every reachable state, once the world is good (Dataset ready, kind supported, spec "
                         "valid) and left alone (running Jobs succeed), every operation not being deleted rests "
                         "Complete or Failed, or Pending for a reason that stays (its predecessor failed or is gone, "
                         "or its cron tick is not due), with the lock free and no Job running. Guards against an "
                         "operation that never finishes and a lock nobody releases.",
    "op_deletion_completes": "From every reachable state, once the world is good, every operation whose deletion "
                             "was requested disappears, releasing its lock and its Job. Guards against stuck "
                             "deletion and leaked locks.",
    "op_passes_settle": "Every pass ends: the machine stops moving within the runner's move limit. Guards against "
                        "a loop between states whose guards never turn false.",
}


def describe_all() -> list[tuple[str, str]]:
    return [(i.name, i.doc) for i in SAFETY] + list(LIVENESS.items())


def goal(w: OpWorld, cfg: Config) -> tuple[str, str] | None:
    """(the liveness property broken, why) for a settled world; None when it is where it should be."""
    for i, o in enumerate(w.ops):
        if not o.exists:
            continue
        if o.deleting:
            return "op_deletion_completes", f"{NAMES[i]} is still there"
        state, before = restored(o), cfg.predecessor(i)
        waiting = state == "Pending" and (
            (cfg.policy == "Cron" and not o.tick)
            or (before is not None and restored(w.ops[before]) != "Complete")
            or (before is not None and not w.ops[before].exists))
        if state not in FINAL and not waiting:
            return "operations_finish", f"{NAMES[i]} rests {state}"
    if w.lock is not None:
        return "operations_finish", f"the lock stays with {NAMES[w.lock]}"
    return None


class _Found(Exception):
    def __init__(self, name: str, message: str, before: OpWorld, steps: list[str]):
        super().__init__(name)
        self.name, self.message, self.before, self.steps = name, message, before, steps


class OpChecker:
    def __init__(self, table: MachineTable[Any, Any] | None = None, cfg: Config = CONFIGS[0]):
        self.compiled = Compiled.of(table or tables.OPERATION)
        self.cfg = cfg
        self.parent: dict[OpWorld, tuple[OpWorld, Step] | None] = {}
        self.passes = 0
        self._settled: dict[OpWorld, OpWorld | None] = {}
        self._way_out: dict[str, str | None] = {}

    def run(self, w: OpWorld, i: int) -> OpPass:
        self.passes += 1
        try:
            p = OpPass(self.compiled, self.cfg, w, i).run()
        except RuntimeError as exc:  # the interpreter's move limit
            raise _Found("op_passes_settle", str(exc), w, [f"reconcile {NAMES[i]}: {exc}"]) from exc
        last = len(p.writes) - 1
        for k, (_, after) in enumerate(p.writes):
            self.safe(after, w, [self.describe_pass(p, k if k < last else None)], i if k == last else None)
        if not p.writes:
            self.safe(p.w, w, [self.describe_pass(p)], i)
        return p

    def safe(self, w: OpWorld, before: OpWorld, steps: list[str], pass_of: int | None = None) -> None:
        for inv in SAFETY:
            if problem := inv.check(w, self.compiled, pass_of):
                raise _Found(inv.name, problem, before, steps)

    def successors(self, w: OpWorld, env: bool) -> list[tuple[bool, Step, OpWorld]]:
        out: list[tuple[bool, Step, OpWorld]] = []
        for i, o in enumerate(w.ops):
            if not o.exists:
                continue
            p = self.run(w, i)
            out.append((False, ("pass", i), p.w))
            if env:
                out += [(True, ("crash", (i, k)), after) for k, (_, after) in enumerate(p.writes[:-1])]
        if env:
            out += [(True, ("env", label), nxt) for label, nxt in env_moves(w, self.cfg)]
        return out

    def explore(self, depth: int, initial: OpWorld) -> list[OpWorld]:
        """Every state within ``depth`` environment moves, fewest moves first; raises _Found."""
        self.safe(initial, initial, [])
        return layered(initial, depth, self.successors, self.parent,
                       lambda s, step, t: self.safe(t, s, [self.describe_step(s, step)]))

    def settle(self, w: OpWorld, steps: list[str] | None = None) -> OpWorld | None:
        """Rounds of a pass of each operation (running Jobs succeeding first) until nothing changes;
        None for a loop. With ``steps``, records them (and remembers nothing)."""
        path = [w]
        for _ in range(SETTLE_LIMIT):
            if steps is None and w in self._settled:
                return self._remember(path, self._settled[w])
            nxt = self._round(w, steps)
            if nxt == w:
                return w if steps is not None else self._remember(path, w)
            if nxt in path:
                break
            w = nxt
            path.append(w)
        return None if steps is not None else self._remember(path, None)

    def _round(self, w: OpWorld, steps: list[str] | None) -> OpWorld:
        """Running Jobs succeed (Kubernetes' move, fair); else a pass of each operation."""
        running = [i for i, o in enumerate(w.ops) if o.exists and o.job == RUNNING]
        for i in running:
            w = w.op(i, job=SUCCEEDED)
            if steps is not None:
                steps.append(f"{NAMES[i]}'s Job succeeds")
        for i in range(len(w.ops)) if not running else ():
            if w.ops[i].exists:
                p = self.run(w, i)
                if steps is not None and p.w != w:
                    steps.append(self.describe_pass(p))
                w = p.w
        return w

    def _remember(self, path: list[OpWorld], end: OpWorld | None) -> OpWorld | None:
        for s in path:
            self._settled[s] = end
        return end

    def liveness(self, order: list[OpWorld]) -> None:
        for s in order:
            end = self.settle(s.good())
            found = ("operations_finish", "the passes loop") if end is None else goal(end, self.cfg)
            if found is not None:
                name, why = found
                what = why if end is None else f"{why}; the passes stop at: {describe(end)}"
                steps: list[str] = []
                self.settle(s.good(), steps)
                head = "the world becomes good and stays so" + ("" if s.good() == s else f": {describe(s.good())}")
                raise _Found(name, what, s, [head, *steps[:12]])

    # -- traces --------------------------------------------------------------------------------

    def trace_to(self, w: OpWorld) -> list[str]:
        return [self.describe_step(before, step) for before, step in path_to(self.parent, w)]

    def describe_step(self, before: OpWorld, step: Step) -> str:
        kind, arg = step
        if kind == "env":
            return str(arg)
        i, k = (arg, None) if kind == "pass" else arg
        return self.describe_pass(OpPass(self.compiled, self.cfg, before, i).run(), k)

    def describe_pass(self, p: OpPass, crash: int | None = None) -> str:
        moves = "; ".join(f"{s}->{d} ({t})" for t, s, d in p.moves) or "no move"
        writes = p.writes[: crash + 1] if crash is not None else p.writes
        text = f"reconcile {p.name}: {moves}"
        if writes:
            text += f"; writes: {', '.join(what for what, _ in writes)}"
        if crash is not None:
            text += f"; the operator crashes after write {crash + 1} (later writes lost)"
        return text


def check_operations(depth: int = 2, *, table: MachineTable[Any, Any] | None = None,
                     configs: tuple[Config, ...] = CONFIGS, liveness: bool = True) -> Report:
    """Check the operation table (by default the product's) within ``depth`` environment moves, for
    each policy and chain of ``configs``; the states are summed, the first violation is reported."""
    start, states, passes = time.perf_counter(), 0, 0
    violation = None
    for cfg in configs:
        checker, initial = OpChecker(table, cfg), OpWorld()
        order: list[OpWorld] = []
        try:
            order = checker.explore(depth, initial)
            if liveness:
                checker.liveness(order)
        except _Found as found:
            doc = next((i.doc for i in SAFETY if i.name == found.name), None) or LIVENESS.get(found.name, "")
            trace = (f"two {cfg} operations are created", *checker.trace_to(found.before), *found.steps)
            violation = Violation(found.name, doc, f"{found.message}; at: {describe(found.before)}", trace)
            order = order or list(checker.parent)
        states, passes = states + len(order), passes + checker.passes
        if violation is not None:
            break
    return Report(depth, states, passes, time.perf_counter() - start, violation)


__all__ = ["CONFIGS", "LIVENESS", "SAFETY", "OpChecker", "check_operations", "describe_all", "goal"]
