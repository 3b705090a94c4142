"""A Dataset and the runtime of the same namespace and name, as one reconcile sees them.

The binding rule of the reference makes the pair the natural unit of work: one key, both
machines, one writer. Hooks of both machines read and change the models held here; the
reconcile writes them back when the pass ends.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs

from lifecycle.api import from_json, to_json
from lifecycle.api.dataset import Dataset
from lifecycle.api.meta import ObjectMeta
from lifecycle.api.runtime import Runtime
from lifecycle.engine.kind import RuntimeKind
from lifecycle.k8s.gateway import DATASET, Gateway, Resource
from lifecycle.k8s.naming import DATASET_ID_LABEL, dataset_id, recorded_key
from lifecycle.k8s.volume import VolumeRef


@attrs.define
class Waiting:
    """Why a machine did not move: what it waits for, said once as an event and a condition."""

    reason: str
    message: str
    requeue: float | None = None
    subject: str = "runtime"  # which object waits: "runtime" or "dataset"


@attrs.define
class Pair:
    namespace: str
    name: str
    gateway: Gateway
    now: Callable[[], datetime]
    dataset: Dataset | None = None
    runtime: Runtime | None = None
    kind: RuntimeKind | None = None
    runtime_state: Callable[[], str | None] = lambda: None
    dataset_deleted: bool = False
    runtime_deleted: bool = False
    waiting: list[Waiting] = attrs.field(factory=list)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def wait(self, reason: str, message: str, requeue: float | None = None, subject: str = "runtime") -> bool:
        """Record why a guard says no; returns False so guards can ``return pair.wait(...)``."""
        self.waiting.append(Waiting(reason, message, requeue, subject))
        return False

    @property
    def volume(self) -> VolumeRef:
        """The pair's PVC and PV, named by the key its runtime (or Dataset) recorded."""
        rt = self.runtime.metadata if self.runtime else None
        ds = self.dataset.metadata if self.dataset else None
        key = recorded_key(self.namespace, self.name, rt.annotations if rt else None, ds.annotations if ds else None)
        ident = ((rt.labels or {}).get(DATASET_ID_LABEL) if rt else None) or \
            ((ds.labels or {}).get(DATASET_ID_LABEL) if ds else None) or dataset_id(key, ds.uid if ds else None)
        return VolumeRef(self.namespace, self.name, key, ident)

    def now_iso(self) -> str:
        return self.now().strftime("%Y-%m-%dT%H:%M:%SZ")

    # Metadata changes (finalizers, labels, owner references) are written at once and
    # conditionally on the resourceVersion we read: they guard what happens next.

    def patch_dataset_meta(self, patch: dict[str, Any]) -> None:
        assert self.dataset is not None
        self.dataset.metadata = self._patch_meta(DATASET, self.dataset.metadata, patch)

    def patch_runtime_meta(self, patch: dict[str, Any]) -> None:
        assert self.runtime is not None and self.kind is not None
        self.runtime.metadata = self._patch_meta(self.kind.resource, self.runtime.metadata, patch)

    def _patch_meta(self, res: Resource, meta: ObjectMeta, patch: dict[str, Any]) -> ObjectMeta:
        body = {"metadata": {**patch, "resourceVersion": meta.resource_version}}
        updated = self.gateway.patch(res, meta.namespace, meta.name or "", body)
        return from_json(ObjectMeta, updated["metadata"])

    def dataset_json(self) -> dict[str, Any]:
        assert self.dataset is not None
        found: dict[str, Any] = to_json(self.dataset)
        return found
