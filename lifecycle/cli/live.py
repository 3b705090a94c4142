"""Where a live object stands in its lifecycle machine, read from the cluster."""

from __future__ import annotations

from typing import Any

from lifecycle.api import from_json
from lifecycle.api.dataset import Dataset
from lifecycle.api.operation import OperationStatus
from lifecycle.api.operations import OPERATION_MODELS
from lifecycle.engine.kind import RuntimeKind
from lifecycle.engine.registry import Registry
from lifecycle.k8s.connection import connect
from lifecycle.k8s.gateway import DATASET
from lifecycle.k8s.kube import KubeGateway
from lifecycle.machine.table import MachineTable
from lifecycle.machine.tables import DATASET as DATASET_TABLE
from lifecycle.machine.tables import OPERATION, RUNTIME, restore_operation
from lifecycle.reconcile.dataset import restore_dataset_state
from lifecycle.reconcile.oppass import operation_resource
from lifecycle.reconcile.reconciler import restore_runtime_state


def find_kind(registry: Registry, name: str) -> RuntimeKind | None:
    wanted = name.lower()
    for kind in registry.kinds():
        if wanted in (kind.kind.lower(), kind.plural, kind.runtime_type, *kind.short_names):
            return kind
    return None


def current_state(kind_name: str, key: str, kubeconfig: str | None = None) -> tuple[MachineTable[Any, Any], str]:
    namespace, sep, name = key.partition("/")
    if not sep or not namespace or not name:
        raise SystemExit(f"{key!r}: give the object as NAMESPACE/NAME")
    registry = Registry().discover()
    operation = next((m for m in OPERATION_MODELS if kind_name.lower() in (m.KIND.lower(), m.PLURAL, m.SHORT_NAME)),
                     None)
    if operation is not None:
        raw_op = KubeGateway(connect(kubeconfig), (operation_resource(operation.KIND),)).get(
            operation_resource(operation.KIND), namespace, name)
        if raw_op is None:
            raise SystemExit(f"{operation.KIND} {namespace}/{name} not found")
        status = from_json(OperationStatus, raw_op["status"]) if raw_op.get("status") else None
        return OPERATION, restore_operation(status.lifecycle.state if status and status.lifecycle else None,
                                            status.phase if status else None)
    if kind_name.lower() in ("dataset", "datasets"):
        runtime_kind, res = None, DATASET
    else:
        runtime_kind = find_kind(registry, kind_name)
        if runtime_kind is None:
            known = ", ".join(k.kind for k in registry.kinds())
            raise SystemExit(f"{kind_name!r} is not Dataset, a data operation (DataLoad, DataBackup, DataMigrate, "
                             f"DataProcess) or a registered runtime kind ({known})")
        res = runtime_kind.resource
    gateway = KubeGateway(connect(kubeconfig), tuple(k.resource for k in registry.kinds()))
    raw = gateway.get(res, namespace, name)
    if raw is None:
        raise SystemExit(f"{res.kind} {namespace}/{name} not found")
    if runtime_kind is None:
        return DATASET_TABLE, restore_dataset_state(from_json(Dataset, raw).status)
    return RUNTIME, restore_runtime_state(from_json(runtime_kind.model, raw).status)
