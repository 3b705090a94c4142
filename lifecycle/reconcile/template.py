"""The template engine: supplies the runtime machine's hooks and runs the Sync steps.

Fluid's template engine hard-codes the order of an engine's steps; here the order is the table
in ``lifecycle.machine.tables`` and this class only answers "what does hook X do" for one runtime. Hooks
that are the same for every runtime kind (claiming the Dataset, checking the volume, finalizers,
the Sync sequence) live here; all others go to the engine's ``Implement``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from lifecycle.api import to_json
from lifecycle.engine.admission import judge_pair
from lifecycle.engine.contract import EngineContext, Implement
from lifecycle.k8s.gateway import DATASET
from lifecycle.k8s.naming import DATASET_ID_LABEL, KEY_ANNOTATION, choose_key, dataset_id, key_rivals
from lifecycle.k8s.volume import find_volume
from lifecycle.machine.tables import SYNC_STEPS
from lifecycle.reconcile.pair import Pair

REQUEUE_DATASET_MISSING = 5.0
REQUEUE_REFUSED = 20.0


class HookError(Exception):
    """A hook called inside another (a Sync step) failed; names the inner hook."""

    def __init__(self, hook: str, cause: BaseException):
        super().__init__(f"{hook}: {cause}")
        self.hook = hook
        self.cause = cause


class SyncClock:
    """When each rate-limited step last ran, per runtime. Memory only: losing it costs one extra run."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], datetime] = {}

    def due(self, uid: str, hook: str, now: datetime, interval: float) -> bool:
        last = self._last.get((uid, hook))
        return last is None or now - last >= timedelta(seconds=interval)

    def remaining(self, uid: str, hook: str, now: datetime, interval: float) -> float:
        last = self._last.get((uid, hook))
        return 0.0 if last is None else max(0.0, interval - (now - last).total_seconds())

    def first(self, uid: str, hook: str, now: datetime) -> bool:
        """Whether ``hook`` has never run for ``uid`` in this process; if so its clock starts now."""
        if (uid, hook) in self._last:
            return False
        self._last[(uid, hook)] = now
        return True

    def ran(self, uid: str, hook: str, now: datetime) -> None:
        self._last[(uid, hook)] = now

    def forget(self, uid: str) -> None:
        for key in [k for k in self._last if k[0] == uid]:
            del self._last[key]


class TemplateEngine:
    """The runtime machine's hooks for one runtime in one pass: the generic ones, the Sync steps, and
    the engine's ``Implement`` for everything else."""

    # Hooks of the runtime table that are the same for every kind; all others are the Implement's.
    GENERIC_HOOKS = ("deletion_requested", "spec_valid", "dataset_available", "claim_dataset", "volume_ready",
                     "volume_released", "dataset_unbound", "remove_finalizer", "sync")

    def __init__(self, implement: Implement, ctx: EngineContext, pair: Pair, sync_clock: SyncClock):
        self.implement = implement
        self.ctx = ctx
        self.pair = pair
        self.sync_clock = sync_clock
        self._generic: dict[str, Callable[[], Any]] = {name: getattr(self, name) for name in self.GENERIC_HOOKS}

    def sync(self) -> None:
        """The Sync steps of ``SYNC_STEPS``, in order, each failure naming its hook."""
        now, uid = self.ctx.now(), self.ctx.runtime.metadata.uid or self.pair.key
        overrides = dict(self.ctx.settings.get("sync_intervals", {}))
        for step in SYNC_STEPS:
            interval = float(overrides.get(step.hook, step.interval or 0.0))
            if step.rate_limited and not self.sync_clock.due(uid, step.hook, now, interval):
                # Skipped for its interval (an event woke the pair just after the last run): run
                # it once it is due, if that comes before the resync, so what the event changed
                # (a scaled or lost workload) is recorded within seconds, not at the next resync.
                wait = self.sync_clock.remaining(uid, step.hook, now, interval)
                if wait < float(self.ctx.settings.get("resync", 60.0)):
                    self.ctx.requeue_after(wait)
                continue
            if step.should and step.rate_limited and self.sync_clock.first(uid, step.hook, now):
                continue  # its first interval starts now, right after setup made what it checks
            if step.should and not self._call(step.should) and not (step.also and getattr(self, step.also)()):
                if step.rate_limited:
                    # The check may be the cost (an exec in the master): one that found nothing
                    # waits its interval too. A step that failed is tried again at the next pass.
                    self.sync_clock.ran(uid, step.hook, now)
                continue
            changed = self._call(step.hook)
            if step.rate_limited:
                self.sync_clock.ran(uid, step.hook, now)
            if step.stop_if_changed and changed:
                return

    def dataset_mounts_behind(self) -> bool:
        """The bound Dataset's status still shows other mounts than its spec: its ``Updating`` ends
        only once ``sync_dataset_mounts`` records them, whatever the engine's own state says."""
        return self.ctx.dataset is not None and self.ctx.dataset.mounts_behind()

    def _call(self, hook: str) -> Any:
        try:
            return getattr(self.implement, hook)()
        except Exception as exc:
            raise HookError(hook, exc) from exc

    # -- hooks of the runtime machine --------------------------------------------------------

    def hook(self, name: str) -> Callable[[], Any]:
        generic = self._generic.get(name)
        if generic is not None:
            return generic
        fn: Callable[[], Any] | None = getattr(self.implement, name, None)
        if fn is None:
            raise AttributeError(f"{type(self.implement).__name__} has no hook {name!r}")
        return fn

    def deletion_requested(self) -> bool:
        return bool(self.ctx.runtime.metadata.deletion_timestamp)

    def spec_valid(self) -> bool:
        """The runtime and its Dataset, judged together as ``fluidlc validate`` judges them."""
        ds = self.ctx.dataset
        problems = judge_pair(self.implement, self.ctx.runtime, None if ds is None or ds.metadata.deletion_timestamp
                              else ds)
        if problems:
            return self.pair.wait("ErrorValidateSpecFields", "; ".join(problems), REQUEUE_REFUSED)
        return True

    def dataset_available(self) -> bool:
        pair, ds = self.pair, self.ctx.dataset
        rt = self.ctx.runtime
        if ds is None:
            return pair.wait("DatasetNotFound", f"{rt.ref}: no Dataset {pair.key} to bind; create it",
                             REQUEUE_DATASET_MISSING)
        if ds.metadata.deletion_timestamp:
            return pair.wait("DatasetDeleting", f"{ds.ref} is being deleted", REQUEUE_DATASET_MISSING)
        for bound in ds.status.runtimes or [] if ds.status else []:
            if bound.type and bound.type != self.ctx.kind.runtime_type:
                return pair.wait("DatasetBoundToOther",
                                 f"{ds.ref} is already bound to a {bound.type} runtime; delete that "
                                 f"runtime first or use another name", REQUEUE_REFUSED)
        return True

    def claim_dataset(self) -> None:
        """Owner reference to the Dataset, the pair's key and dataset-id on both, our finalizer on the
        runtime. The key is the Dataset's if it has one, else chosen so no other pair shares it."""
        pair, ds, rt = self.pair, self.ctx.dataset, self.ctx.runtime
        assert ds is not None
        rivals = (pair.gateway.get(DATASET, ns, name) for ns, name in key_rivals(pair.namespace, pair.name))
        key = (ds.metadata.annotations or {}).get(KEY_ANNOTATION) or choose_key(
            pair.namespace, pair.name, ds.metadata.uid, ds.metadata.creation_timestamp, filter(None, rivals))
        ident = dataset_id(key, ds.metadata.uid)
        ds_patch: dict[str, Any] = {}
        if (ds.metadata.labels or {}).get(DATASET_ID_LABEL) != ident:
            ds_patch["labels"] = {DATASET_ID_LABEL: ident}
        if (ds.metadata.annotations or {}).get(KEY_ANNOTATION) != key:
            ds_patch["annotations"] = {KEY_ANNOTATION: key}
        if ds_patch:
            pair.patch_dataset_meta(ds_patch)
        finalizers = list(rt.metadata.finalizers or [])
        owners = [r for r in rt.metadata.owner_references or [] if r.uid != ds.metadata.uid]
        patch: dict[str, Any] = {}
        if self.ctx.kind.finalizer not in finalizers:
            patch["finalizers"] = [*finalizers, self.ctx.kind.finalizer]
        if len(owners) == len(rt.metadata.owner_references or []):
            patch["ownerReferences"] = [*(to_json(o) for o in owners), {
                "apiVersion": ds.api_version, "kind": ds.kind, "name": ds.metadata.name,
                "uid": ds.metadata.uid, "controller": True, "blockOwnerDeletion": False,
            }]
        if (rt.metadata.labels or {}).get(DATASET_ID_LABEL) != ident:
            patch["labels"] = {DATASET_ID_LABEL: ident}
        if (rt.metadata.annotations or {}).get(KEY_ANNOTATION) != key:
            patch["annotations"] = {KEY_ANNOTATION: key}
        if patch:
            pair.patch_runtime_meta(patch)

    def volume_ready(self) -> bool:
        """The pair's own PVC and PV exist (a PVC or PV of someone else under the names does not count)."""
        return find_volume(self.ctx.gateway, self.ctx.volume).ready

    def volume_released(self) -> bool:
        ns, name = self.ctx.namespace, self.ctx.name
        if find_volume(self.ctx.gateway, self.ctx.volume).present:
            return self.pair.wait("VolumeInUse", f"{self.ctx.runtime.ref}: waiting for PVC {ns}/{name} "
                                     "and its PV to be deleted")
        return True

    def dataset_unbound(self) -> bool:
        ds = self.ctx.dataset
        if ds is None or ds.metadata.deletion_timestamp or ds.status is None:
            return True
        return not any(r.type == self.ctx.kind.runtime_type for r in ds.status.runtimes or [])

    def remove_finalizer(self) -> None:
        pair, rt = self.pair, self.ctx.runtime
        finalizers = [f for f in rt.metadata.finalizers or [] if f != self.ctx.kind.finalizer]
        if finalizers != list(rt.metadata.finalizers or []):
            pair.patch_runtime_meta({"finalizers": finalizers or None})
        pair.runtime_deleted = True
        self.sync_clock.forget(rt.metadata.uid or self.pair.key)
