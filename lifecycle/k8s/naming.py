"""Names, labels and annotations a Dataset/runtime pair puts on Kubernetes objects.

They follow the reference exactly so that tools written for it find our objects. Kubernetes
caps label values and the name part of label keys at 63 characters; longer ones fall back to a
value built from the dataset UID (values) or a stable hash (keys), never to a truncation that
two datasets could share.
"""

from __future__ import annotations

import hashlib

LABEL_LIMIT = 63
DATASET_ID_LABEL = "fluid.io/dataset-id"
DATASET_LABEL = "fluid.io/dataset"
PLACEMENT_LABEL = "fluid.io/dataset-placement"
EXCLUSIVE_LABEL = "fluid_exclusive"
DATASET_NUM_LABEL = "fluid.io/dataset-num"
CREATED_BY = ("CreatedBy", "fluid")
STORAGE_CLASS = "fluid"
CSI_DRIVER = "fuse.csi.fluid.io"
FIELD_MANAGER = "fluid-lifecycle"


def pvc_name(name: str) -> str:
    return name


def pv_name(namespace: str, name: str) -> str:
    return f"{namespace}-{name}"


def dataset_id(namespace: str, name: str, uid: str | None = None) -> str:
    """The value of ``fluid.io/dataset-id``: ``<ns>-<name>``, or the dataset UID if too long."""
    value = f"{namespace}-{name}"
    if len(value) <= LABEL_LIMIT or not uid:
        return value[:LABEL_LIMIT] if len(value) > LABEL_LIMIT else value
    return uid


def _key(prefix: str, body: str) -> str:
    name = prefix + body
    if len(name) <= LABEL_LIMIT:
        return f"fluid.io/{name}"
    digest = hashlib.sha256(body.encode()).hexdigest()[:8]
    return f"fluid.io/{name[: LABEL_LIMIT - 9]}-{digest}"


def common_label(namespace: str, name: str) -> str:
    """``fluid.io/s-<ns>-<name>``: on the PV, PVC and on nodes that cache the dataset."""
    return _key("s-", f"{namespace}-{name}")


def runtime_label(runtime_type: str, namespace: str, name: str) -> str:
    """``fluid.io/s-<type>-<ns>-<name>``: on nodes running this runtime's workers."""
    return _key(f"s-{runtime_type}-", f"{namespace}-{name}")


def fuse_label(namespace: str, name: str) -> str:
    """``fluid.io/f-<ns>-<name>``: the CSI plugin puts it on nodes where the fuse must run."""
    return _key("f-", f"{namespace}-{name}")


def capacity_label(runtime_type: str, medium: str, namespace: str, name: str) -> str:
    """``fluid.io/s-h-<type>-<m|d|t>-<ns>-<name>``: cache capacity per medium on a node."""
    return _key(f"s-h-{runtime_type}-{medium}-", f"{namespace}-{name}")


def exclusive_value(namespace: str, name: str) -> str:
    return f"{namespace}_{name}"[:LABEL_LIMIT]


def runtime_finalizer(runtime_type: str) -> str:
    return f"{runtime_type}-runtime-controller-finalizer"
