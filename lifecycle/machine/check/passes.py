"""One reconcile pass over the abstract pair, as ``lifecycle.reconcile.reconciler`` makes it.

The pass reads both objects, restores each machine with the table's own rules (``restore_runtime``,
``restore_dataset``, and the reconcile's: a runtime recorded Ready whose claimed Dataset lost its
binding binds again), advances the Dataset and the runtime in turn until neither moves (a machine
whose hook failed rests, the other goes on), then writes the runtime's status and the Dataset's,
each only if it changed, a status write on an object changed meanwhile failing with a conflict.
Phases are written by the table's ``dataset_phase``; the Sync steps run from ``SYNC_STEPS`` with
their ``should``/``also``, ``interval`` (a pass soon after the last skips rate-limited steps) and
``stop_if_changed``.

Every hook answers from the world as the generic hooks (``lifecycle.reconcile.template`` and
``.dataset``) and the shared volume helpers answer: guards read the objects as the pass read them
(and as its own patches changed them) and the cluster as it is now; actions that write to the API
server are writes, in order, so a crash can be put between any two. ``delete_volume`` refuses
while a pod uses the PVC, as ``lifecycle.k8s.volume.delete_volume`` does. The engine's own hooks
answer from the free facts (``check_master_ready``: the master was applied and is ready). Any hook
that reads the cluster or writes may fail instead (``fail_at``: the n-th such call raises).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from lifecycle.machine import tables
from lifecycle.machine.check.interpret import Advanced, Compiled, HookFailed, Machine
from lifecycle.machine.check.world import ABSENT, GONE_DATASET, GONE_RUNTIME, PRESENT, TERMINATING, World
from lifecycle.machine.table import SyncStep
from lifecycle.machine.tables import RUNTIME_DELETION, DatasetState, RuntimeState

READY, DELETED = str(RuntimeState.READY), str(RuntimeState.DELETED)
# The phases that say a runtime serves the Dataset through its volume (Failed says it does not).
SERVING = frozenset(str(s) for s in (DatasetState.BOUND, DatasetState.UPDATING, DatasetState.DATA_MIGRATING))
RELEASED = frozenset(str(s) for s in (*RUNTIME_DELETION, RuntimeState.DELETED))

# Hooks that only look at the objects as read: they cannot fail. Every other hook may.
PURE = frozenset({
    "deletion_requested", "dataset_available", "dataset_unbound", "runtime_released", "has_binding", "runtime_ready",
    "mounts_changed", "migration_running", "runtime_running", "runtime_gone", "mark_deleting", "spec_valid",
    "should_setup_master", "should_check_ufs", "should_setup_workers", "should_sync_dataset_mounts",
    "should_update_ufs", "sync",
})


class Write(NamedTuple):
    what: str
    before: World
    after: World
    dataset_holds: bool  # the pass's Dataset (not being deleted) still holds the runtime's binding


class Conflict(Exception):
    """A status write on an object whose resourceVersion moved since the read: the pass ends."""


class Model(NamedTuple):
    """What a pass runs: the two tables and Sync, from the tables module or a changed copy."""

    dataset: Compiled
    runtime: Compiled
    sync_steps: tuple[SyncStep[Any], ...]


class Pass:
    def __init__(self, model: Model, world: World, *, fail_at: int | None = None, quick: bool = False):
        self.model, self.w, self.fail_at, self.quick = model, world, fail_at, quick
        self.calls = 0  # hooks called that may fail
        self.injected: str | None = None  # the hook made to fail (fail_at)
        self.signatures: list[tuple[Any, ...]] = []  # of each call that may fail, in a pass without fail_at
        self.writes: list[Write] = []
        self.moves: list[tuple[str, str, str, str]] = []  # (machine, trigger, source, dest)
        self.failures: dict[str, str] = {}  # machine -> the hook that failed
        self.skippable = False  # Sync ran a rate-limited step (a pass soon after would skip it)
        self.conflict = False
        self.false_binds: list[str] = []  # Dataset moves to Bound made without what Bound claims
        self.dataset: Machine | None = None
        self.runtime: Machine | None = None
        # The objects as read, changed only by this pass's own patches and in-memory status work.
        self.ds, self.ds_del, self.ds_fin, self.ds_label = world.ds, world.ds_del, world.ds_fin, world.ds_label
        self.ds_cond, self.ds_bound, self.ds_behind = world.ds_cond, world.ds_bound, world.ds_behind
        self.rt, self.rt_del, self.rt_fin, self.rt_label = world.rt, world.rt_del, world.rt_fin, world.rt_label
        self.rt_fresh = True  # our copy's resourceVersion is the server's
        self.dataset_deleted = self.runtime_deleted = False
        self._hooks: dict[str, Callable[[], Any]] = {}

    # -- the pass -------------------------------------------------------------------------------

    def run(self) -> Pass:
        w = self.w
        if not w.ds and not w.rt:
            return self
        if w.rt:
            state = tables.restore_runtime(w.rt_state, None)
            if state == RuntimeState.READY and w.ds and not w.ds_del and not w.ds_bound and w.ds_label and w.rt_label:
                state = RuntimeState.BINDING  # binding_lost: the pass that bound them ended before the Dataset's write
            self.runtime = Machine(self.model.runtime, str(state), self._call_runtime)
        if w.ds:
            state_ds = tables.restore_dataset(w.ds_phase or None, w.ds_cond)
            self.dataset = Machine(self.model.dataset, str(state_ds), self._call_dataset)
        self._advance()
        try:
            self._write_statuses()
        except Conflict:
            self.conflict = True
        return self

    def _advance(self) -> None:
        progressed = True
        while progressed:
            progressed = False
            for name, machine in (("Dataset", self.dataset), ("Runtime", self.runtime)):
                if machine is None or name in self.failures:
                    continue
                result: Advanced = machine.advance()
                self.moves += [(name, *m) for m in result.moves]
                for _, _, dest in result.moves if name == "Dataset" else ():
                    if dest in SERVING and self._not_serving():
                        self.false_binds.append(f"{dest} without {self._not_serving()}")
                progressed |= result.progressed
                if result.failure is not None:
                    self.failures[name] = result.failure

    def _write_statuses(self) -> None:
        rt, ds, w = self.runtime, self.dataset, self.w
        if rt is not None and self.rt and not self.runtime_deleted and rt.state != w.rt_state and w.rt:
            if not self.rt_fresh:
                raise Conflict()
            self._write("runtime status", rt_state=rt.state)
        if ds is not None and self.ds and not self.dataset_deleted and self.w.ds:
            ready = rt is not None and rt.state == READY and not self.runtime_deleted
            phase = tables.dataset_phase(DatasetState(ds.state), bound=self.ds_bound, runtime_ready=ready,
                                  current=w.ds_phase or None)
            status = {"ds_phase": phase, "ds_cond": self.ds_cond, "ds_bound": self.ds_bound,
                      "ds_behind": self.ds_behind}
            if any(getattr(self.w, k) != v for k, v in status.items()):
                self._write("Dataset status", **status)

    def _write(self, what: str, **changes: Any) -> None:
        before = self.w
        after = before._replace(**changes)
        if after.ds_del and not after.ds_fin and after.ds:
            after = World(**{**after._asdict(), **GONE_DATASET})
        if after.rt_del and not after.rt_fin and after.rt:
            after = World(**{**after._asdict(), **GONE_RUNTIME})
        if after != before:
            self.w = after
            self.writes.append(Write(what, before, after, self.ds and not self.ds_del and self.ds_bound))

    def _call_runtime(self, name: str) -> Any:
        if name not in PURE:
            self._may_fail("rt", name)
        hook = RUNTIME_HOOKS.get(name)
        return hook(self) if hook is not None else None  # an engine hook with no abstract effect

    def _call_dataset(self, name: str) -> Any:
        if name not in PURE:
            self._may_fail("ds", name)
        hook = DATASET_HOOKS.get(name)
        return hook(self) if hook is not None else None

    def _may_fail(self, machine: str, name: str) -> None:
        self.calls += 1
        if self.fail_at is None:
            self.signatures.append(self._signature(machine))
        elif self.calls == self.fail_at:
            self.injected = name
            raise HookFailed(name)

    def _signature(self, machine: str) -> tuple[Any, ...]:
        """Everything the rest of a pass depends on if the hook called now raises: two calls with the same
        signature fail into the same state, so the checker makes only the first of them fail."""
        ds, rt = self.dataset, self.runtime
        return (machine, self.w, ds.state if ds else None, rt.state if rt else None, len(ds.fired) if ds else 0,
                len(rt.fired) if rt else 0, tuple(self.failures), self.ds_fin, self.ds_label, self.ds_cond,
                self.ds_bound, self.ds_behind, self.rt_fin, self.rt_label, self.rt_fresh, self.runtime_deleted,
                self.dataset_deleted)

    def _not_serving(self) -> str:
        """What Bound would claim falsely now: the runtime not Ready, the PV or PVC missing (no Dataset hook
        changes these, so seen after the Dataset's advance they are what its moves saw)."""
        missing = [what for what, there in (("the runtime Ready", self.rt and not self.rt_del and
                                             self.runtime_state == READY),
                                            ("the PV", self.w.pv != ABSENT), ("the PVC", self.w.pvc != ABSENT))
                   if not there]
        return " and ".join(missing)

    @property
    def runtime_state(self) -> str | None:
        return self.runtime.state if self.runtime is not None else None

    # -- runtime hooks that do more than read ------------------------------------------------------

    def claim_dataset(self) -> None:
        if not self.ds_label:
            self.ds_label = True
            self._write("Dataset labelled with its dataset-id", ds_label=True)
        if not (self.rt_fin and self.rt_label):
            self.rt_fin = self.rt_label = True
            self._write("runtime finalizer and labels added", rt_fin=True, rt_label=True)

    def create_volume(self) -> None:
        if self.w.pv == ABSENT:
            self._write("PV created", pv=PRESENT)
        if self.w.pvc == ABSENT:
            self._write("PVC created", pvc=PRESENT)

    def bind_to_dataset(self) -> None:
        if not self.ds:
            raise HookFailed("bind_to_dataset")  # no Dataset to bind
        self.ds_bound, self.ds_behind = True, False

    def delete_volume(self) -> None:
        if self.w.pvc != ABSENT and self.w.pod:
            raise HookFailed("delete_volume")  # VolumeInUse: pods mount the PVC
        if self.w.pvc == PRESENT:
            self._write("PVC deleted", pvc=TERMINATING)
        if self.w.pv == PRESENT:
            self._write("PV deleted", pv=TERMINATING)

    def shutdown(self) -> None:
        if not self.w.cache_gone:
            self._write("cache shut down (workloads deleted)", master=False, workers=False)

    def remove_runtime_finalizer(self) -> None:
        if self.rt_fin and self.w.rt:
            self.rt_fin = False
            self._write("runtime finalizer removed", rt_fin=False)
        self.runtime_deleted = True

    def sync(self) -> None:
        for step in self.model.sync_steps:
            if step.rate_limited:
                self.skippable = True
                if self.quick:
                    continue
            if step.should and not self._call_runtime(step.should) and not (step.also and self._also(step.also)):
                continue
            changed = self._call_runtime(step.hook)
            if step.stop_if_changed and changed:
                return

    def _also(self, name: str) -> bool:
        check = ALSO.get(name)
        return check is not None and check(self)

    def sync_runtime(self) -> bool:
        if self.w.rt_spec_changed:
            self._write("runtime spec applied to the workloads", rt_spec_changed=False)
            return True
        return False

    def sync_dataset_mounts(self) -> None:
        self.ds_behind = False

    # -- Dataset hooks that do more than read -----------------------------------------------------

    def add_finalizer(self) -> None:
        if not self.ds_fin:
            self.ds_fin = True
            self._write("Dataset finalizer added", ds_fin=True)

    def reset_binding(self) -> None:
        if self.ds_label:
            self.ds_label = False
            self._write("Dataset's dataset-id label removed", ds_label=False)
        self.ds_bound = self.ds_behind = False

    def delete_runtime(self) -> None:
        if self.rt and self.w.rt:
            self.rt_fresh = False  # the deletion moves its resourceVersion
            self._write("runtime deleted", rt_del=True)

    def remove_dataset_finalizer(self) -> None:
        if self.ds_fin and self.w.ds:
            self.ds_fin = False
            self._write("Dataset finalizer removed", ds_fin=False)
        self.dataset_deleted = True

    def mark_deleting(self) -> None:
        self.ds_cond = True


def _runtime_ready(p: Pass) -> bool:
    return p.rt and not p.rt_del and p.runtime_state == READY


def _master_ready(p: Pass) -> bool:
    return p.w.master and p.w.master_ready


def _workers_ready(p: Pass) -> bool:
    return p.w.workers and p.w.workers_ready


def _apply(field: str, what: str) -> Callable[[Pass], None]:
    def apply(p: Pass) -> None:
        if not getattr(p.w, field):
            p._write(what, **{field: True})

    return apply


RUNTIME_HOOKS: dict[str, Callable[[Pass], Any]] = {
    "deletion_requested": lambda p: p.rt_del,
    "spec_valid": lambda p: p.w.spec_valid,
    "dataset_available": lambda p: p.ds and not p.ds_del,
    "claim_dataset": Pass.claim_dataset,
    "should_setup_master": lambda p: not p.w.master,
    "setup_master": _apply("master", "master applied"),
    "check_master_ready": _master_ready,
    "should_check_ufs": lambda p: True,
    "should_setup_workers": lambda p: not p.w.workers,
    "setup_workers": _apply("workers", "workers applied"),
    "check_workers_ready": _workers_ready,
    "check_and_update_runtime_status": lambda p: _master_ready(p) and _workers_ready(p),
    "create_volume": Pass.create_volume,
    "volume_ready": lambda p: p.w.volume_ready,
    "bind_to_dataset": Pass.bind_to_dataset,
    # Health is what setup repairs: a lost workload, or one not ready (an engine whose health check
    # fails while all its setup checks pass would send the runtime round setup within one pass).
    "check_runtime_healthy": lambda p: _master_ready(p) and _workers_ready(p),
    "sync": Pass.sync,
    "sync_runtime": Pass.sync_runtime,
    "should_sync_dataset_mounts": lambda p: p.ds_behind,
    "sync_dataset_mounts": Pass.sync_dataset_mounts,
    "should_update_ufs": lambda p: False,
    "delete_volume": Pass.delete_volume,
    "volume_released": lambda p: p.w.volume_gone,
    "shutdown": Pass.shutdown,
    "dataset_unbound": lambda p: not p.ds or p.ds_del or not p.ds_bound,
    "remove_finalizer": Pass.remove_runtime_finalizer,
}

DATASET_HOOKS: dict[str, Callable[[Pass], Any]] = {
    "deletion_requested": lambda p: p.ds_del,
    "add_finalizer": Pass.add_finalizer,
    "runtime_released": lambda p: not p.rt or p.runtime_state in RELEASED,
    "has_binding": lambda p: p.ds_bound or p.ds_label,
    "reset_binding": Pass.reset_binding,
    "runtime_ready": _runtime_ready,
    "volume_ready": lambda p: p.w.volume_ready,
    "mounts_changed": lambda p: p.ds_behind,
    "migration_running": lambda p: p.w.migration,
    "delete_runtime": Pass.delete_runtime,
    "runtime_gone": lambda p: not p.rt or p.runtime_deleted,
    "volume_unused": lambda p: p.w.pvc == ABSENT or not p.w.pod,
    "not_referenced": lambda p: not p.w.referenced,
    "remove_finalizer": Pass.remove_dataset_finalizer,
    "mark_deleting": Pass.mark_deleting,
    "runtime_running": lambda p: p.rt and not p.rt_del and not p.runtime_deleted,
}

# The template engine's ``also`` checks of SYNC_STEPS.
ALSO: dict[str, Callable[[Pass], bool]] = {"dataset_mounts_behind": lambda p: p.ds and p.ds_behind}

__all__ = ["Conflict", "Model", "Pass", "Write"]
