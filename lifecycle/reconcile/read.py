"""Reading a pair: the Dataset and the one runtime of its namespace and name, parsed into models.

A spec that does not fit its model is reported (an event on the object, a problem in the pass's
outcome) and the object left out, so one bad object never crashes the pass. The status is parsed on
its own: it is ours, so one that cannot be read (``phase: 42``) is not the user's fault and does not
stop the pair; it is dropped, rebuilt from the cluster by the pass (see ``Reconciler._restore``) and
said once, as a ``StatusRepaired`` event. When several runtime kinds carry the same name, the one
bound to the Dataset serves it (else the oldest) and the others are told so.
"""

from __future__ import annotations

from typing import Any, get_type_hints

import attrs

from lifecycle.api import ParseError, from_json
from lifecycle.api._model import strip_optional
from lifecycle.api.dataset import Dataset
from lifecycle.api.runtime import Runtime
from lifecycle.engine.kind import RuntimeKind
from lifecycle.engine.registry import Registry
from lifecycle.k8s.gateway import DATASET, Gateway, Obj


@attrs.frozen
class PairRead:
    dataset: Dataset | None
    runtime: Runtime | None
    kind: RuntimeKind | None
    problems: list[str]
    dataset_repaired: bool = False  # its status could not be read and is rebuilt by this pass
    runtime_repaired: bool = False


def read_pair(gateway: Gateway, registry: Registry, namespace: str, name: str) -> PairRead:
    problems: list[str] = []
    raw_ds = gateway.get(DATASET, namespace, name)
    dataset, ds_repaired = _parse(gateway, Dataset, raw_ds, f"Dataset {namespace}/{name}", problems) \
        if raw_ds else (None, False)
    found = [(kind, raw) for kind in registry.kinds() if (raw := gateway.get(kind.resource, namespace, name))]
    if not found:
        return PairRead(dataset, None, None, problems, ds_repaired)
    kind, raw = choose_runtime(gateway, dataset, found)
    runtime, rt_repaired = _parse(gateway, kind.model, raw, f"{kind.kind} {namespace}/{name}", problems)
    return PairRead(dataset, runtime, kind if runtime is not None else None, problems, ds_repaired, rt_repaired)


_STATUS_TYPES: dict[type[Any], Any] = {}


def _status_type(model: type[Any]) -> Any:
    """The model's status type: resolving the annotations costs milliseconds, so once per model."""
    found = _STATUS_TYPES.get(model)
    if found is None:
        found = _STATUS_TYPES[model] = strip_optional(get_type_hints(model)["status"])
    return found


def _parse(gateway: Gateway, model: type[Any], raw: Obj, what: str, problems: list[str]) -> tuple[Any, bool]:
    """The object without its status, then the status on its own; (model or None, status dropped)."""
    try:
        obj = from_json(model, {k: v for k, v in raw.items() if k != "status"}, what)
    except ParseError as exc:
        problems.append(str(exc))
        gateway.event(raw, "Warning", "ErrorValidateSpecFields", str(exc))
        return None, False
    if raw.get("status") is None:
        return obj, False
    try:
        obj.status = from_json(_status_type(model), raw["status"], f"{what} status")
    except ParseError as exc:
        problems_seen = "; ".join(f"status.{problem}" for problem in exc.problems)
        gateway.event(raw, "Warning", "StatusRepaired",
                      f"{what}: {problems_seen}; the status is the operator's own, so it is rebuilt from the cluster")
        return obj, True
    return obj, False


def choose_runtime(gateway: Gateway, dataset: Dataset | None,
                   found: list[tuple[RuntimeKind, Obj]]) -> tuple[RuntimeKind, Obj]:
    """One runtime per dataset: the bound one, else the oldest; the others are told so."""
    bound_type = None
    if dataset is not None and dataset.status is not None and dataset.status.runtimes:
        bound_type = dataset.status.runtimes[0].type
    found.sort(key=lambda kr: (kr[0].runtime_type != bound_type, kr[1]["metadata"].get("creationTimestamp", ""),
                               kr[0].kind))
    for kind, raw in found[1:]:
        gateway.event(raw, "Warning", "DatasetBoundToOther",
                      f"{kind.kind} {raw['metadata']['namespace']}/{raw['metadata']['name']}: the Dataset of this "
                      f"name is served by a {found[0][0].kind}; delete one of the two")
    return found[0]
