"""One pass over one data operation: the operation, its Dataset, the Dataset's runtime and engine,
as the hooks of ``lifecycle.reconcile.operation`` read and change them.

The Dataset's lock (``status.operationRef``) is written here and only here, through the status
subresource and conditionally on the Dataset's resourceVersion as read: of two operations racing
for one lock, the second write is a Conflict, and its pass runs again on fresh objects.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs

from lifecycle.api import from_json, to_json
from lifecycle.api.dataset import Dataset, DatasetStatus
from lifecycle.api.meta import GROUP, VERSION, ObjectMeta, find_condition
from lifecycle.api.operation import Operation
from lifecycle.api.operations import MODEL_OF
from lifecycle.api.runtime import Runtime
from lifecycle.engine.operations import OperationWork
from lifecycle.k8s.gateway import DATASET, Gateway, Obj, Resource

MIGRATE = "DataMigrate"
FINALIZER_OF = {kind: f"fluid-{kind.lower()}-controller-finalizer" for kind in MODEL_OF}
# An operation that holds a lock while in one of these may keep it; any other holder's lock is stale.
HOLDING_PHASES = ("Pending", "Executing")


def operation_resource(kind: str) -> Resource:
    model = MODEL_OF[kind]
    return Resource(GROUP, VERSION, kind, model.PLURAL)


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def dataset_fingerprint(dataset: Dataset | None, runtime: Runtime | None) -> str:
    """What an OnEvent operation runs again for: the Dataset's applied mounts, its UFS totals (the
    Sync step that detects UFS changes rewrites them), the moment it last became Ready (its runtime
    becoming ready binds it), and which runtime serves it."""
    status = dataset.status if dataset is not None else None
    ready = find_condition(status.conditions, "Ready") if status is not None else None
    facts = {
        "mounts": [to_json(m) for m in (status.mounts or [])] if status is not None else None,
        "ufsTotal": status.ufs_total if status is not None else None,
        "fileNum": status.file_num if status is not None else None,
        "ready": ready.last_transition_time if ready is not None and ready.status == "True" else None,
        "runtime": runtime.metadata.uid if runtime is not None else None,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


@attrs.frozen
class Wait:
    reason: str
    message: str
    requeue: float | None = None


@attrs.define
class OpPass:
    gateway: Gateway
    now: Callable[[], datetime]
    raw: Obj
    op: Operation
    dataset: Dataset | None = None
    runtime: Runtime | None = None
    engine: OperationWork | None = None
    engine_kinds: tuple[str, ...] = ()
    waits: list[Wait] = attrs.field(factory=list)
    hints: list[float] = attrs.field(factory=list)
    created_job: str | None = None
    deleted: bool = False
    dataset_touched: bool = False  # its lock was written: the Dataset's own machine looks again

    @property
    def namespace(self) -> str:
        return self.op.metadata.namespace or ""

    @property
    def finalizer(self) -> str:
        return FINALIZER_OF[self.op.KIND]

    def wait(self, reason: str, message: str, requeue: float | None = None) -> bool:
        self.waits.append(Wait(reason, message, requeue))
        return False

    def requeue(self, seconds: float) -> None:
        self.hints.append(seconds)

    def read_operation(self, kind: str, name: str) -> Operation | None:
        raw = self.gateway.get(operation_resource(kind), self.namespace, name)
        if raw is None:
            return None
        model = MODEL_OF[kind]
        found: Operation = from_json(model, raw)
        return found

    # -- the lock --------------------------------------------------------------------------------

    def lock_holder(self) -> str | None:
        status = self.dataset.status if self.dataset is not None else None
        return (status.operation_ref or {}).get(self.op.KIND) if status is not None else None

    def lock_stale(self, holder: str) -> bool:
        """The holder is gone, or finished (it released the lock in a pass whose Dataset write was lost)."""
        other = self.gateway.get(operation_resource(self.op.KIND), self.namespace, holder)
        if other is None:
            return True
        phase = (other.get("status") or {}).get("phase") or ""
        return phase not in HOLDING_PHASES and phase != ""

    def write_lock(self, holder: str | None) -> None:
        ds = self.dataset
        assert ds is not None
        status = ds.status = ds.status or DatasetStatus()
        refs = {k: v for k, v in (status.operation_ref or {}).items() if k != self.op.KIND}
        if holder is not None:
            refs[self.op.KIND] = holder
        status.operation_ref = refs or None
        body = to_json(ds)
        written = self.gateway.replace_status(body)
        ds.metadata = from_json(ObjectMeta, written["metadata"])
        self.dataset_touched = True

    # -- the operation's own object ----------------------------------------------------------------

    def patch_meta(self, patch: dict[str, Any]) -> None:
        meta = self.op.metadata
        body = {"metadata": {**patch, "resourceVersion": meta.resource_version}}
        updated = self.gateway.patch(operation_resource(self.op.KIND), meta.namespace, meta.name or "", body)
        self.op.metadata = from_json(ObjectMeta, updated["metadata"])
        self.raw["metadata"] = updated["metadata"]

    def dataset_raw(self) -> Obj | None:
        return self.gateway.get(DATASET, self.namespace, self.op.dataset_name or "") if self.op.dataset_name else None
