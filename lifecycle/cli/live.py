"""Where a live object stands in its lifecycle machine, read from the cluster."""

from __future__ import annotations

from typing import Any

from lifecycle.api import from_json
from lifecycle.api.dataset import Dataset
from lifecycle.engine.kind import RuntimeKind
from lifecycle.engine.registry import Registry
from lifecycle.k8s.gateway import DATASET
from lifecycle.k8s.kube import KubeGateway, api_client
from lifecycle.machine.table import MachineTable
from lifecycle.machine.tables import DATASET as DATASET_TABLE
from lifecycle.machine.tables import RUNTIME
from lifecycle.reconcile.dataset import restore_dataset_state
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
    if kind_name.lower() in ("dataset", "datasets"):
        runtime_kind, res = None, DATASET
    else:
        runtime_kind = find_kind(registry, kind_name)
        if runtime_kind is None:
            known = ", ".join(k.kind for k in registry.kinds())
            raise SystemExit(f"{kind_name!r} is not Dataset or a registered runtime kind ({known})")
        res = runtime_kind.resource
    gateway = KubeGateway(api_client(kubeconfig), tuple(k.resource for k in registry.kinds()))
    raw = gateway.get(res, namespace, name)
    if raw is None:
        raise SystemExit(f"{res.kind} {namespace}/{name} not found")
    if runtime_kind is None:
        return DATASET_TABLE, restore_dataset_state(from_json(Dataset, raw).status)
    return RUNTIME, restore_runtime_state(from_json(runtime_kind.model, raw).status)
