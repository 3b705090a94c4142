"""Names, labels and annotations a Dataset/runtime pair puts on Kubernetes objects.

They follow the reference so that tools written for it find our objects. The reference builds
the PV name and the node label keys from ``<namespace>-<name>``, which two pairs can share
(``team/a-x`` and ``team-a/x``). Here that string is the pair's *key*, chosen once when the
runtime claims its Dataset and recorded on both (``data.fluid.io/dataset-key``): the reference's
``<namespace>-<name>`` when no other Dataset has it, else that string with a hash of the
namespace and name, so no two pairs ever share a PV or a label. Kubernetes caps label values,
the name part of label keys and (through the pods they make) workload names; longer ones are
shortened with a stable hash of the whole, never truncated into something two pairs could share.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

LABEL_LIMIT = 63
# A StatefulSet's pods carry ``controller-revision-hash: <name>-<10 characters>``, a label value.
WORKLOAD_LIMIT = LABEL_LIMIT - 11
DATASET_ID_LABEL = "fluid.io/dataset-id"
DATASET_LABEL = "fluid.io/dataset"
PLACEMENT_LABEL = "fluid.io/dataset-placement"
EXCLUSIVE_LABEL = "fluid_exclusive"
DATASET_NUM_LABEL = "fluid.io/dataset-num"
KEY_ANNOTATION = "data.fluid.io/dataset-key"
CREATED_BY = ("CreatedBy", "fluid")
STORAGE_CLASS = "fluid"
CSI_DRIVER = "fuse.csi.fluid.io"
FIELD_MANAGER = "fluid-lifecycle"


def digest(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def shortened(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its head and a hash of all of it."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 9].rstrip('-._')}-{digest(text)}"


# -- the pair's key ------------------------------------------------------------------------------


def reference_key(namespace: str, name: str) -> str:
    """``<namespace>-<name>``: the reference's PV name and the body of its node label keys."""
    return f"{namespace}-{name}"


def distinct_key(namespace: str, name: str) -> str:
    """The key of a pair whose reference key another Dataset already has."""
    return f"{reference_key(namespace, name)}-{digest(f'{namespace}/{name}')}"


def key_rivals(namespace: str, name: str) -> list[tuple[str, str]]:
    """The other (namespace, name) whose reference key is this pair's: ``<namespace>-<name>`` split
    at each other ``-``. Only they can hold or claim that key (a distinct key carries a hash of its
    own namespace and name), so a claim reads these few Datasets, not every Dataset in the cluster."""
    base = reference_key(namespace, name)
    splits = ((base[:i], base[i + 1:]) for i, c in enumerate(base) if c == "-")
    return [(ns, n) for ns, n in splits if ns and n and (ns, n) != (namespace, name)]


def choose_key(namespace: str, name: str, uid: str | None, created: str | None, datasets: Iterable[Any]) -> str:
    """The key a Dataset claims: the reference's unless another Dataset holds it (its recorded key)
    or will (an older Dataset with the same reference key that has not claimed yet). ``datasets``:
    at least those of ``key_rivals`` that exist."""
    base = reference_key(namespace, name)
    mine = (created or "", uid or "")
    for other in datasets:
        meta = other.get("metadata") or {}
        if meta.get("uid") == uid or (meta.get("namespace"), meta.get("name")) == (namespace, name):
            continue
        recorded = (meta.get("annotations") or {}).get(KEY_ANNOTATION)
        if recorded == base:
            return distinct_key(namespace, name)
        older = (meta.get("creationTimestamp") or "", meta.get("uid") or "") < mine
        if recorded is None and older and reference_key(meta.get("namespace", ""), meta.get("name", "")) == base:
            return distinct_key(namespace, name)
    return base


def dataset_id(key: str, uid: str | None = None) -> str:
    """The value of ``fluid.io/dataset-id``: the key, or the dataset UID when the key is too long
    for a label value (as the reference does)."""
    if len(key) <= LABEL_LIMIT or not uid:
        return shortened(key, LABEL_LIMIT)
    return uid


def recorded_key(namespace: str, name: str, *annotations: dict[str, str] | None) -> str:
    """The key a pair claimed (the first ``KEY_ANNOTATION`` among ``annotations``), else the
    reference's: objects made before keys were recorded, or by the reference, use it."""
    for found in annotations:
        if found and found.get(KEY_ANNOTATION):
            return found[KEY_ANNOTATION]
    return reference_key(namespace, name)


def pvc_name(name: str) -> str:
    return name


def pv_name(key: str) -> str:
    return key


# -- label keys, all built from the key ------------------------------------------------------------


def _label_key(prefix: str, key: str) -> str:
    name = prefix + key
    if len(name) <= LABEL_LIMIT:
        return f"fluid.io/{name}"
    return f"fluid.io/{name[: LABEL_LIMIT - 9]}-{digest(key)}"


def common_label(key: str) -> str:
    """``fluid.io/s-<key>``: on the PV, PVC and on nodes that cache the dataset."""
    return _label_key("s-", key)


def runtime_label(runtime_type: str, key: str) -> str:
    """``fluid.io/s-<type>-<key>``: on nodes running this runtime's workers."""
    return _label_key(f"s-{runtime_type}-", key)


def fuse_label(key: str) -> str:
    """``fluid.io/f-<key>``: the CSI plugin puts it on nodes where the fuse must run."""
    return _label_key("f-", key)


def capacity_label(runtime_type: str, medium: str, key: str) -> str:
    """``fluid.io/s-h-<type>-<m|d|t>-<key>``: cache capacity per medium on a node."""
    return _label_key(f"s-h-{runtime_type}-{medium}-", key)


def exclusive_value(namespace: str, name: str) -> str:
    """``<namespace>_<name>`` (no Kubernetes name has an underscore, so it names one pair), shortened
    with a hash when it is too long for a label value."""
    return shortened(f"{namespace}_{name}", LABEL_LIMIT)


def workload_name(name: str, suffix: str) -> str:
    """``<name>-<suffix>`` for a StatefulSet or DaemonSet, shortened so its pods' labels fit."""
    full = f"{name}-{suffix}"
    if len(full) <= WORKLOAD_LIMIT:
        return full
    return f"{shortened(name, WORKLOAD_LIMIT - len(suffix) - 1)}-{suffix}"


def runtime_finalizer(runtime_type: str) -> str:
    return f"{runtime_type}-runtime-controller-finalizer"
