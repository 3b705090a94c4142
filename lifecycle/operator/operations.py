"""The operator's second controller: data operations, with their own work queue and workers.

Keys are ``(kind, namespace, name)``. An operation's own change, its Job's (through the owner
reference) and a pass over its Dataset's pair (the Dataset's phase, mounts or UFS totals may have
moved: Pending operations may start, OnEvent ones run again) wake it; a pass that wrote a Dataset's
lock wakes that pair, so a DataMigrate's ``DataMigrating`` shows at once. Waiting states come back
after the delay the reconcile asks for; failures back off.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable

from lifecycle.api.operations import MODEL_OF
from lifecycle.k8s.gateway import JOB, Gateway, Obj
from lifecycle.operator.attempt import reconcile_key
from lifecycle.operator.metrics import Metrics
from lifecycle.operator.workqueue import ShutDown, WorkQueue
from lifecycle.reconcile.operations import OperationReconciler
from lifecycle.reconcile.oppass import operation_resource

log = logging.getLogger("lifecycle.operator")

CONTROLLER = "dataoperation"
OPERATION_RESOURCES = tuple(operation_resource(kind) for kind in MODEL_OF)
WATCHED = (*OPERATION_RESOURCES, JOB)
OpKey = tuple[str, str, str]


def operation_keys(obj: Obj) -> list[OpKey]:
    """The operations an object concerns: itself, or the owner of a Job."""
    kind, meta = obj.get("kind") or "", obj.get("metadata") or {}
    ns = meta.get("namespace") or ""
    if kind in MODEL_OF:
        return [(kind, ns, meta.get("name") or "")]
    if kind == "Job":
        owners = meta.get("ownerReferences") or []
        return [(ref["kind"], ns, ref["name"]) for ref in owners if ref.get("kind") in MODEL_OF]
    return []


def targets(obj: Obj) -> str | None:
    """The Dataset an operation object names (DataBackup names it as a string, the others as an object)."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "DataMigrate":
        for end in (spec.get("to"), spec.get("from")):
            if isinstance(end, dict) and isinstance(end.get("dataset"), dict):
                return str(end["dataset"].get("name") or "") or None
        return None
    dataset = spec.get("dataset")
    return dataset if isinstance(dataset, str) else (dataset or {}).get("name") if isinstance(dataset, dict) else None


class OperationsController:
    def __init__(self, gateway: Gateway, reconciler: OperationReconciler, metrics: Metrics,
                 wake_pair: Callable[[tuple[str, str]], None]):
        self.gateway = gateway
        self.reconciler = reconciler
        self.metrics = metrics
        self.wake_pair = wake_pair
        self.queue = WorkQueue()
        self._workers: list[threading.Thread] = []

    def on_event(self, _type: str, obj: Obj) -> None:
        for key in operation_keys(obj):
            if key[2]:
                self.queue.add(key)

    def dataset_changed(self, namespace: str, name: str) -> None:
        """A pass over the pair ``namespace/name`` ran: its operations look again."""
        for res in OPERATION_RESOURCES:
            for op in self.gateway.list(res, namespace):
                if targets(op) == name:
                    self.queue.add((res.kind, namespace, op["metadata"]["name"]))

    def resync(self) -> None:
        for res in OPERATION_RESOURCES:
            for op in self.gateway.list(res):
                meta = op.get("metadata") or {}
                self.queue.add((res.kind, meta.get("namespace") or "", meta.get("name") or ""), routine=True)

    def start(self, workers: int) -> None:
        for i in range(workers):
            thread = threading.Thread(target=self._work, name=f"operation-worker-{i}", daemon=True)
            thread.start()
            self._workers.append(thread)

    def shut_down(self, deadline: float) -> None:
        self.queue.shut_down()
        for thread in self._workers:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _work(self) -> None:
        while True:
            try:
                key: Hashable = self.queue.get()
            except ShutDown:
                return
            try:
                self._reconcile(key)  # type: ignore[arg-type]
            finally:
                self.queue.done(key)

    def _reconcile(self, key: OpKey) -> None:
        kind, ns, name = key
        outcome = reconcile_key(CONTROLLER, self.metrics, self.queue, key, f"{kind} {ns}/{name}", f"{ns}/{name}",
                                lambda: self.reconciler.reconcile(kind, ns, name))
        if outcome is not None and outcome.dataset:
            namespace, _, dataset = outcome.dataset.partition("/")
            self.wake_pair((namespace, dataset))
