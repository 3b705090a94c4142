"""The named properties the model checker proves, each against the bug class it rules out.

Safety properties look at one reconcile pass: at each write it makes (``on_write``: what the
cluster held just before, and what the pass knew), or at the cluster a pass leaves behind when it
ran to its end (``after_pass``), or at every reachable state (``in_state``). Liveness properties
(``goal_of``) are checked from every reachable state with the world made good and left alone: the
passes that follow must end where a working cluster ends.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import attrs

from lifecycle.machine import tables
from lifecycle.machine.check.interpret import Compiled
from lifecycle.machine.check.passes import READY, SERVING, Pass, Write
from lifecycle.machine.check.world import World

BOUND, NOT_BOUND = "Bound", "NotBound"
DELETING_WRITES = frozenset({"runtime deleted", "PVC deleted", "PV deleted", "cache shut down (workloads deleted)",
                             "runtime finalizer removed", "Dataset finalizer removed"})


@attrs.frozen
class Invariant:
    """A safety property: its name and doc are its check's (the doc names the bug class it rules out)."""

    name: str
    doc: str
    on_write: Callable[[Write], str | None] | None = None
    after_pass: Callable[[Pass], str | None] | None = None
    in_state: Callable[[World, Compiled, Compiled], str | None] | None = None


def _doc(check: Callable[..., Any]) -> str:
    return " ".join((inspect.getdoc(check) or "").split())


def bound_is_true(p: Pass) -> str | None:
    """A Dataset is made Bound, Updating or DataMigrating (the phases that say a ready runtime serves
    it through its volume; the move's event and the Ready condition say so too) only while its
    runtime is Ready and its PV and PVC exist, and a pass leaves it in one of them only then (a pass
    in which a Dataset hook failed is held to this only if the Dataset moved into one; a Dataset
    being deleted keeps the phase it had, next to its Deleting condition). Guards
    against a status that lies: Bound without a volume or a ready runtime."""
    if p.false_binds:
        return f"the Dataset was made {p.false_binds[0]}"
    w = p.w
    became = any(m[0] == "Dataset" and m[3] in SERVING for m in p.moves)
    if p.conflict or ("Dataset" in p.failures and not became) or not (w.ds and w.ds_phase in SERVING) or w.ds_cond:
        return None
    if w.rt and w.rt_state == READY and w.volume_ready:
        return None
    runtime = f"recorded {w.rt_state}" if w.rt else "gone"
    return (f"the pass left the Dataset {w.ds_phase} but its runtime is {runtime}, "
            f"the PV {'there' if w.pv else 'missing'}, the PVC {'there' if w.pvc else 'missing'}")


def nothing_deleted_in_use(x: Write) -> str | None:
    """No pass deletes the runtime, the PVC, the PV or the cache, or removes a finalizer, while an
    unfinished pod mounts the PVC. Guards against data deleted while in use."""
    if x.what in DELETING_WRITES and x.before.pod:
        return f"{x.what} while a pod uses the PVC"
    return None


def released_in_order(x: Write) -> str | None:
    """The cache is shut down only once the PV and PVC are gone, and the runtime is released (its
    finalizer removed) only once the volume and the cache are gone. Guards against out-of-order
    deletion and leaked volumes or workloads."""
    w = x.before
    if x.what.startswith("cache shut down") and not w.volume_gone:
        return "the cache was shut down while the PV or PVC still exists"
    if x.what == "runtime finalizer removed" and not (w.volume_gone and w.cache_gone):
        return "the runtime was released while its " + ("volume" if not w.volume_gone else "cache") + " still exists"
    return None


def finalizer_goes_last(x: Write) -> str | None:
    """The runtime's finalizer goes only after its Dataset has let go of the binding; the Dataset's
    only after the runtime, the volume and the cache are gone. Guards against out-of-order
    deletion: an object that disappears while what it guards is still there."""
    w = x.before
    if x.what == "runtime finalizer removed" and x.dataset_holds:
        return "the runtime's finalizer was removed while its Dataset still holds the binding"
    if x.what == "Dataset finalizer removed":
        left = [name for name, there in (("the runtime", w.rt), ("the volume", not w.volume_gone),
                                          ("the cache", not w.cache_gone)) if there]
        if left:
            return f"the Dataset's finalizer was removed while {', '.join(left)} still exist(s)"
    return None


def way_out(w: World, dataset: Compiled, runtime: Compiled) -> str | None:
    """Every state a reachable object is in is final or has a transition that can leave it (whose
    guards do not contradict each other). Guards against a stuck state (deadlock)."""
    states = []
    if w.rt:
        states.append((runtime, str(tables.restore_runtime(w.rt_state, None))))
    if w.ds:
        states.append((dataset, str(tables.restore_dataset(w.ds_phase or None, w.ds_cond))))
    for compiled, s in states:
        if s in compiled.finals:
            continue
        leaving = [t for _, rows in compiled.rows[s] for t in rows
                   if t.dest is not None and str(t.dest) != s and not set(t.when) & set(t.unless)]
        if not leaving:
            return f"{compiled.table.name} state {s} has no transition that can leave it"
    return None


SAFETY: tuple[Invariant, ...] = (
    Invariant("bound_is_true", _doc(bound_is_true), after_pass=bound_is_true),
    Invariant("nothing_deleted_in_use", _doc(nothing_deleted_in_use), on_write=nothing_deleted_in_use),
    Invariant("released_in_order", _doc(released_in_order), on_write=released_in_order),
    Invariant("finalizer_goes_last", _doc(finalizer_goes_last), on_write=finalizer_goes_last),
    Invariant("way_out", _doc(way_out), in_state=way_out),
)


def setup_done(w: World) -> bool:
    return w.ds_phase == BOUND and w.rt_state == READY and w.volume_ready and not w.cache_gone


def deletion_done(w: World) -> bool:
    if not w.volume_gone or not w.cache_gone:
        return False
    if not w.ds:  # the Dataset is gone: so is its runtime, unless that never claimed it (it waits for one)
        return not w.rt or not (w.rt_del or w.rt_fin)
    return not w.rt and w.ds_phase == NOT_BOUND and not w.ds_bound and not w.ds_label


def goal_of(w: World) -> tuple[str, Callable[[World], bool]]:
    """Which liveness property a state is held to: setup while neither object is being deleted."""
    if w.ds and not w.ds_del and w.rt and not w.rt_del:
        return "setup_reaches_ready", setup_done
    return "deletion_completes", deletion_done


LIVENESS: dict[str, str] = {
    "setup_reaches_ready": "From every reachable state without a deletion, once the world is good (master and "
                           "workers ready, valid spec, no pod, migration or referrer in the way) and "
                           "stops changing, reconcile passes bring the Dataset to Bound and the runtime to Ready "
                           "with its volume and cache. Guards against setup that stalls or loops.",
    "deletion_completes": "From every reachable state with a deletion requested, once nothing blocks, the passes "
                          "delete the volume, the cache and the runtime, and either the Dataset too (when it was "
                          "deleted) or leave it NotBound without a binding. Guards against stuck deletion and "
                          "leaked objects.",
    "passes_settle": "Every pass ends: the machines stop moving within the runner's move limit. Guards against "
                     "a loop between states whose guards never turn false.",
}


def describe_all() -> list[tuple[str, str]]:
    return [(i.name, i.doc) for i in SAFETY] + list(LIVENESS.items())


__all__ = ["LIVENESS", "SAFETY", "Invariant", "deletion_done", "describe_all", "goal_of", "setup_done"]
