"""The abstract world of two data operations of one kind on one Dataset, and a reconcile pass of one.

An ``OpWorld`` is what the next pass of an operation can read: each operation object (there, its
deletion requested, our finalizer, and the status fields the reconcile restores it from: the
recorded state, the condition of its last ending, whether a cron tick is due since the last run's
tick and whether the Dataset changed since the run's fingerprint), its Job (absent, running,
succeeded or failed), the Dataset's lock of the kind (``status.operationRef``: A, B or nobody) and
the free facts no operator decides: the Dataset bound with a ready runtime, the runtime supporting
the kind, a valid spec, the TTL after finishing passed.

``OpPass`` runs the OPERATION table (as given, through the interpreter the pair checker uses) on
one operation with the reconcile's hook rules, abstracted: the lock, the Job and the finalizer are
written at once, as the reconcile writes them; the status at the end, unless the operation was
released. Passes of the two operations are interleaved whole: the Dataset's lock is written
conditionally on the Dataset as read, so a pass racing another for the lock reruns on fresh objects,
which is the same as running after it. A Job goes with its operation (its owner reference).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from lifecycle.machine import tables
from lifecycle.machine.check.interpret import Compiled, Machine

NAMES = ("A", "B")
NONE, RUNNING, SUCCEEDED, FAILED = "", "running", "succeeded", "failed"  # a Job
RAN = frozenset({"JobSucceeded", "JobFailed"})  # conditions a finished run leaves
HOLDING = ("Pending", "Executing")  # phases whose holder keeps the lock (any other holder's is stale)


class Op(NamedTuple):
    exists: bool = True
    deleting: bool = False
    fin: bool = False
    rec: str = ""  # status.lifecycle.state and its phase; "" before the first status write
    cond: str = ""  # the reason of the Failed/Complete condition, "" when none
    tick: bool = False  # Cron: a tick is due after the last run's tick
    changed: bool = False  # OnEvent: the Dataset differs from what the last run saw
    job: str = NONE


GONE = Op(exists=False)


class OpWorld(NamedTuple):
    ops: tuple[Op, Op] = (Op(), Op())
    lock: int | None = None  # the operation holding the Dataset's lock of the kind
    ds_ready: bool = True  # the Dataset is Bound and a runtime serves it
    supports: bool = True  # the runtime runs this kind of operation
    valid: bool = True
    ttl: bool = False  # ttlSecondsAfterFinished has passed since the last finish

    def good(self) -> OpWorld:
        """The same cluster with every free fact as a working cluster has it."""
        return self._replace(ds_ready=True, supports=True, valid=True)

    def op(self, i: int, **changes: Any) -> OpWorld:
        ops = list(self.ops)
        ops[i] = ops[i]._replace(**changes) if changes.get("exists", True) else GONE
        return self._replace(ops=(ops[0], ops[1]))



class Config(NamedTuple):
    """What stays fixed for one check: the operations' policy and their runAfter chain."""

    policy: str = "Once"  # Once, Cron or OnEvent
    chain: str = ""  # "": independent; "after": B runs after A; "cycle": each runs after the other

    def predecessor(self, i: int) -> int | None:
        if self.chain == "cycle" or (self.chain == "after" and i == 1):
            return 1 - i
        return None

    def __str__(self) -> str:
        chains = {"": "", "after": ", B runs after A", "cycle": ", A and B run after each other"}
        return self.policy + chains[self.chain]


_RESTORED: dict[str, str] = {}
_PHASE = {str(s.name): s.phase or "" for s in tables.OPERATION.states}


def restored(op: Op) -> str:
    """The state the reconcile restores from the status (its recorded state and phase)."""
    if op.rec not in _RESTORED:
        _RESTORED[op.rec] = str(tables.restore_operation(op.rec or None, _PHASE.get(op.rec) or None))
    return _RESTORED[op.rec]


def phase(op: Op) -> str:
    return _PHASE.get(op.rec, "")


class OpPass:
    """One reconcile pass of operation ``i``: its moves, and the world after each write (the last is
    the status write, when there is one)."""

    def __init__(self, compiled: Compiled, cfg: Config, w: OpWorld, i: int):
        self.compiled, self.cfg, self.w, self.i = compiled, cfg, w, i
        self.status = w.ops[i]  # the status as the pass edits it, written at the end
        self.writes: list[tuple[str, OpWorld]] = []
        self.moves: list[tuple[str, str, str]] = []
        self.created = self.deleted = False
    @property
    def me(self) -> Op:
        return self.w.ops[self.i]

    @property
    def name(self) -> str:
        return NAMES[self.i]

    def run(self) -> OpPass:
        machine = Machine(self.compiled, restored(self.me), lambda hook: HOOKS[hook](self))
        while True:
            advanced = machine.advance()
            self.moves += advanced.moves
            if advanced.failure is not None or not advanced.progressed:
                break
        if not self.deleted and self.me.exists:
            s = self.status
            after = self.me._replace(rec=machine.state, cond=s.cond, tick=s.tick, changed=s.changed)
            if after != self.me:
                self.write(f"status of {self.name} ({machine.state})", self.w.op(self.i, **after._asdict()))
        return self

    def write(self, what: str, w: OpWorld) -> None:
        self.w = w
        self.writes.append((what, w))

    def fail(self, reason: str) -> None:
        """Refused, blocked or unsupported: what a run left (a crash after its Job's creation) goes."""
        self.rearm()
        self.status = self.status._replace(cond=reason)

    # -- the reconcile's hooks, abstracted -------------------------------------------------------

    def add_finalizer(self) -> None:
        if not self.me.fin:
            self.write(f"finalizer of {self.name} added", self.w.op(self.i, fin=True))

    def predecessor_done(self) -> bool:
        before = self.cfg.predecessor(self.i)
        return before is None or (self.w.ops[before].exists and phase(self.w.ops[before]) == "Complete") \
            or self.wait()

    def wait(self) -> bool:
        """Waiting in Pending for anything but the lock: a lock it holds goes back, with its Job."""
        if self.w.lock == self.i:
            self.rearm()
        return False

    def take_lock(self) -> bool:
        holder = self.w.lock
        if holder == self.i:
            return True
        if holder is not None:
            other = self.w.ops[holder]
            if other.exists and (phase(other) in HOLDING or phase(other) == "" or other.job == RUNNING):
                return False
        self.write(f"lock taken by {self.name}", self.w._replace(lock=self.i))
        return True

    def start_run(self) -> None:
        if self.me.job == NONE:  # else the create conflicts with the Job of this run, ours: it is kept
            self.write(f"Job of {self.name} created", self.w.op(self.i, job=RUNNING))
        self.created = True
        self.status = self.status._replace(cond="", tick=False, changed=False)

    def _release_lock(self) -> None:
        if self.w.lock == self.i:
            self.write(f"lock released by {self.name}", self.w._replace(lock=None))

    def _delete_job(self) -> None:
        if self.me.job != NONE:
            self.write(f"Job of {self.name} deleted", self.w.op(self.i, job=NONE))

    def finish_run(self) -> None:
        self._release_lock()
        self.status = self.status._replace(cond="JobFailed" if self.me.job == FAILED else "JobSucceeded")

    def rearm(self) -> None:
        self._delete_job()
        self._release_lock()

    def release(self) -> None:
        self._delete_job()
        self._release_lock()
        if self.me.fin:
            gone = self.me.deleting  # the last finalizer goes: Kubernetes removes the object
            self.write(f"finalizer of {self.name} removed" + (f" ({self.name} disappears)" if gone else ""),
                       self.w.op(self.i, exists=False) if gone else self.w.op(self.i, fin=False))
        self.deleted = True

    def delete_operation(self) -> None:
        """Deleted first (our finalizer keeps it, marked), then released."""
        if not self.me.fin:
            self.write(f"{self.name} deleted (TTL; {self.name} disappears)", self.w.op(self.i, exists=False))
            self.deleted = True
            return
        self.write(f"{self.name} deleted (TTL; held by its finalizer)", self.w.op(self.i, deleting=True))
        self.release()


HOOKS: dict[str, Callable[[OpPass], Any]] = {
    "deletion_requested": lambda p: p.me.deleting, "spec_valid": lambda p: p.w.valid,
    "add_finalizer": OpPass.add_finalizer, "fail_invalid": lambda p: p.fail("InvalidSpec"),
    "run_after_cycle": lambda p: p.cfg.chain == "cycle", "fail_blocked": lambda p: p.fail("RunAfterCycle"),
    "predecessor_done": OpPass.predecessor_done,
    "scheduled": lambda p: p.cfg.policy != "Cron" or p.status.tick or p.wait(),
    "dataset_ready": lambda p: p.w.ds_ready or p.wait(), "engine_supports": lambda p: p.w.supports,
    "fail_unsupported": lambda p: p.fail("NotSupported"), "take_lock": OpPass.take_lock,
    "start_run": OpPass.start_run, "job_exists": lambda p: p.created or p.me.job != NONE,
    "job_succeeded": lambda p: p.me.job == SUCCEEDED, "job_failed": lambda p: p.me.job == FAILED,
    "finish_run": OpPass.finish_run, "record_progress": lambda p: None, "rearm": OpPass.rearm,
    "repeats": lambda p: p.cfg.policy == "Cron" and p.status.cond in RAN,
    "event_seen": lambda p: p.cfg.policy == "OnEvent" and p.status.cond in RAN and p.status.changed,
    "ttl_expired": lambda p: p.w.ttl and p.status.cond in RAN,
    "release": OpPass.release, "delete_operation": OpPass.delete_operation,
}


def describe(w: OpWorld) -> str:
    ops = []
    for name, op in zip(NAMES, w.ops, strict=True):
        if not op.exists:
            ops.append(f"{name} gone")
            continue
        flags = [f for f, on in (("deleting", op.deleting), ("finalizer", op.fin), ("tick due", op.tick),
                                 ("dataset changed", op.changed)) if on]
        ops.append(f"{name} {op.rec or 'new'}" + (f" [{op.cond}]" if op.cond else "")
                   + (f", Job {op.job}" if op.job else "") + "".join(f", {f}" for f in flags))
    facts = [f for f, bad in (("Dataset not ready", not w.ds_ready), ("kind unsupported", not w.supports),
                              ("spec invalid", not w.valid), ("TTL passed", w.ttl)) if bad]
    lock = f"lock held by {NAMES[w.lock]}" if w.lock is not None else "lock free"
    return "; ".join([*ops, lock, *facts])


def env_moves(w: OpWorld, cfg: Config) -> list[tuple[str, OpWorld]]:
    """What the user, the Job and time may do at any moment."""
    moves = [(("the Dataset stops being ready" if w.ds_ready else "the Dataset becomes ready"),
              w._replace(ds_ready=not w.ds_ready)),
             (("the runtime stops supporting the kind" if w.supports else "the runtime supports the kind"),
              w._replace(supports=not w.supports)),
             (("the spec becomes invalid" if w.valid else "the spec becomes valid"), w._replace(valid=not w.valid))]
    if not w.ttl:
        moves.append(("the TTL after finishing passes", w._replace(ttl=True)))
    if cfg.policy == "Cron" and not all(o.tick for o in w.ops if o.exists):
        moves.append(("a cron tick passes", w._replace(ops=_each(w, tick=True))))
    if cfg.policy == "OnEvent" and not all(o.changed for o in w.ops if o.exists):
        moves.append(("the Dataset changes", w._replace(ops=_each(w, changed=True))))
    for i, (name, op) in enumerate(zip(NAMES, w.ops, strict=True)):
        if not op.exists:
            continue
        if not op.deleting:
            gone = w.op(i, exists=False) if not op.fin else w.op(i, deleting=True)
            moves.append((f"{name}'s deletion is requested" + ("" if op.fin else f" ({name} disappears)"), gone))
        if op.job == RUNNING:
            moves += [(f"{name}'s Job succeeds", w.op(i, job=SUCCEEDED)), (f"{name}'s Job fails", w.op(i, job=FAILED))]
        if op.job != NONE:
            moves.append((f"{name}'s Job is deleted by someone", w.op(i, job=NONE)))
    return moves


def _each(w: OpWorld, **changes: Any) -> tuple[Op, Op]:
    a, b = (o._replace(**changes) if o.exists else o for o in w.ops)
    return a, b


__all__ = ["FAILED", "NAMES", "NONE", "RUNNING", "SUCCEEDED", "Config", "Op", "OpPass", "OpWorld", "describe",
           "env_moves", "phase", "restored"]
