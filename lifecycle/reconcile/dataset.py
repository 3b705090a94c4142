"""The Dataset machine's hooks: facts about the pair and the few things a Dataset does itself.

A Dataset's phase follows its runtime (``runtime_ready``), its volume and its spec; deleting it
waits, with a condition naming what it waits for, until no unfinished pod mounts its PVC, no
other dataset refers to it and its runtime has cleaned up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lifecycle.api.dataset import FINALIZER, DatasetStatus
from lifecycle.api.meta import Condition, find_condition, set_condition
from lifecycle.api.validation import scheme_of
from lifecycle.k8s.gateway import DATASET, POD
from lifecycle.k8s.naming import DATASET_ID_LABEL, pvc_name
from lifecycle.k8s.volume import find_volume, pods_using_claim
from lifecycle.machine.tables import RUNTIME_DELETION, DatasetState, RuntimeState, dataset_phase, restore_dataset
from lifecycle.reconcile.pair import Pair

DELETING_CONDITION = "Deleting"
MIGRATE_OPERATION = "DataMigrate"


class DatasetLifecycle:
    HOOKS = ("deletion_requested", "add_finalizer", "runtime_released", "has_binding", "reset_binding",
             "runtime_ready", "volume_ready", "mounts_changed", "migration_running", "delete_runtime",
             "runtime_gone", "volume_unused", "not_referenced", "remove_finalizer", "mark_deleting",
             "runtime_running")

    def __init__(self, pair: Pair):
        self.pair = pair
        self._hooks: dict[str, Callable[[], Any]] = {name: getattr(self, name) for name in self.HOOKS}

    def hook(self, name: str) -> Callable[[], Any]:
        return self._hooks[name]

    @property
    def status(self) -> DatasetStatus:
        ds = self.pair.dataset
        assert ds is not None
        if ds.status is None:
            ds.status = DatasetStatus()
        return ds.status

    # -- guards ---------------------------------------------------------------------------------

    def deletion_requested(self) -> bool:
        return bool(self.pair.dataset and self.pair.dataset.metadata.deletion_timestamp)

    def runtime_released(self) -> bool:
        return self.pair.runtime is None or self.pair.runtime_state() in (*RUNTIME_DELETION, RuntimeState.DELETED)

    def has_binding(self) -> bool:
        s = self.status
        labelled = DATASET_ID_LABEL in (self.pair.dataset.metadata.labels or {}) if self.pair.dataset else False
        return bool(s.runtimes or s.hcfs or s.cache_states or s.ufs_total or s.file_num or s.mounts or labelled)

    def runtime_ready(self) -> bool:
        rt = self.pair.runtime
        return rt is not None and not rt.metadata.deletion_timestamp and self.pair.runtime_state() == RuntimeState.READY

    def volume_ready(self) -> bool:
        return find_volume(self.pair.gateway, self.pair.volume).ready

    def mounts_changed(self) -> bool:
        ds = self.pair.dataset
        assert ds is not None
        return ds.mounts_behind()

    def migration_running(self) -> bool:
        return bool((self.status.operation_ref or {}).get(MIGRATE_OPERATION))

    def runtime_running(self) -> bool:
        rt = self.pair.runtime
        return rt is not None and not rt.metadata.deletion_timestamp and not self.pair.runtime_deleted

    def runtime_gone(self) -> bool:
        if self.pair.runtime is None or self.pair.runtime_deleted:
            return True
        return self._blocked("WaitingForRuntime", f"waiting for {self.pair.runtime.ref} to finish its clean-up")

    def volume_unused(self) -> bool:
        """No unfinished pod mounts the Dataset's own PVC (pods of a PVC that only has its name do not count)."""
        p = self.pair
        if find_volume(p.gateway, p.volume).pvc is None:
            return True
        users = pods_using_claim(p.gateway.list(POD, p.namespace), pvc_name(p.name))
        if not users:
            return True
        return self._blocked("PodsUsingVolume",
                             f"pods {', '.join(users)} still mount PVC {p.namespace}/{pvc_name(p.name)}; "
                             "delete them or wait until they finish")

    def not_referenced(self) -> bool:
        p = self.pair
        target = f"dataset://{p.namespace}/{p.name}"
        referrers = sorted(
            f"{d['metadata']['namespace']}/{d['metadata']['name']}"
            for d in p.gateway.list(DATASET)
            if not d["metadata"].get("deletionTimestamp") and any(
                scheme_of(m.get("mountPoint", "")) == "dataset" and m["mountPoint"].rstrip("/") == target
                for m in (d.get("spec") or {}).get("mounts") or [])
        )
        if not referrers:
            return True
        return self._blocked("ReferencedByDatasets",
                             f"datasets {', '.join(referrers)} mount it through {target}; delete them first")

    def _blocked(self, reason: str, message: str) -> bool:
        ds = self.pair.dataset
        assert ds is not None
        self.pair.wait(reason, f"{ds.ref} cannot be deleted yet: {message}", subject="dataset")
        self._deleting_condition("True", reason, message)
        return False

    def _deleting_condition(self, status: str, reason: str, message: str) -> None:
        ds = self.pair.dataset
        assert ds is not None
        set_condition(self.status.conditions, Condition(
            type=DELETING_CONDITION, status=status, reason=reason, message=message,
            observed_generation=ds.metadata.generation), self.pair.now_iso())

    # -- actions --------------------------------------------------------------------------------

    def mark_deleting(self) -> None:
        """Entering Deleting is written to the status, so a restart resumes the deletion path."""
        self._deleting_condition("True", "DeletionRequested", "deletion requested; releasing the dataset")

    def add_finalizer(self) -> None:
        ds = self.pair.dataset
        assert ds is not None
        finalizers = list(ds.metadata.finalizers or [])
        if FINALIZER not in finalizers:
            self.pair.patch_dataset_meta({"finalizers": [*finalizers, FINALIZER]})

    def reset_binding(self) -> None:
        """What the reference clears when the runtime goes away, and the runtime's dataset-id label."""
        ds = self.pair.dataset
        if ds is not None and DATASET_ID_LABEL in (ds.metadata.labels or {}):
            self.pair.patch_dataset_meta({"labels": {DATASET_ID_LABEL: None}})
        s = self.status
        s.runtimes = s.cache_states = s.ufs_total = s.hcfs = s.file_num = s.mounts = None
        s.conditions = [c for c in s.conditions if c.type == DELETING_CONDITION]

    def delete_runtime(self) -> None:
        p = self.pair
        if p.runtime is not None and p.kind is not None:
            p.gateway.delete(p.kind.resource, p.namespace, p.name)

    def remove_finalizer(self) -> None:
        ds = self.pair.dataset
        assert ds is not None
        finalizers = [f for f in ds.metadata.finalizers or [] if f != FINALIZER]
        if finalizers != list(ds.metadata.finalizers or []):
            self.pair.patch_dataset_meta({"finalizers": finalizers or None})
        self.pair.dataset_deleted = True


def restore_dataset_state(status: DatasetStatus | None) -> DatasetState:
    """The machine state a Dataset is in, read from its status (the rule is ``tables.restore_dataset``)."""
    if status is None:
        return DatasetState.NEW
    deleting = find_condition(status.conditions, DELETING_CONDITION)
    return restore_dataset(status.phase, deleting is not None and deleting.status == "True")


def phase_of(state: DatasetState, status: DatasetStatus, runtime_ready: bool) -> str:
    """The .status.phase for a machine state (the rule is ``tables.dataset_phase``)."""
    return dataset_phase(state, bound=bool(status.runtimes), runtime_ready=runtime_ready, current=status.phase)
