"""The PV and PVC through which pods mount a Dataset, shaped exactly as the reference makes them.

Every engine's CreateVolume/DeleteVolume reduce to these two functions with its own fuse path
and mount type (``fuse.alluxio-fuse``, ``fuse.jindofs-fuse``, ...).
"""

from __future__ import annotations

import contextlib
from typing import Any

from lifecycle.api.dataset import CAPACITY_ANNOTATION, DEFAULT_CAPACITY, Dataset
from lifecycle.api.units import is_quantity
from lifecycle.k8s.gateway import POD, PV, PVC, Conflict, Gateway
from lifecycle.k8s.naming import (
    CREATED_BY,
    CSI_DRIVER,
    DATASET_ID_LABEL,
    STORAGE_CLASS,
    common_label,
    dataset_id,
    fuse_label,
    pv_name,
    pvc_name,
)

FINISHED_POD_PHASES = ("Succeeded", "Failed")


def pods_using_claim(pods: list[dict[str, Any]], claim: str) -> list[str]:
    """Names of unfinished pods that mount the PVC ``claim`` (finished: Succeeded, Failed, deleting)."""
    users = []
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in FINISHED_POD_PHASES:
            continue
        if pod["metadata"].get("deletionTimestamp"):
            continue
        volumes = (pod.get("spec") or {}).get("volumes") or []
        if any((v.get("persistentVolumeClaim") or {}).get("claimName") == claim for v in volumes):
            users.append(pod["metadata"]["name"])
    return sorted(users)


def volume_present(gateway: Gateway, namespace: str, name: str) -> tuple[bool, bool]:
    """Whether the PVC and the PV of the dataset ``namespace/name`` exist."""
    return (gateway.get(PVC, namespace, pvc_name(name)) is not None,
            gateway.get(PV, None, pv_name(namespace, name)) is not None)


class VolumeInUse(RuntimeError):
    """The PVC cannot go yet: unfinished pods mount it. The message names them."""


def capacity(dataset: Dataset) -> str:
    value = (dataset.metadata.annotations or {}).get(CAPACITY_ANNOTATION, DEFAULT_CAPACITY)
    return value if is_quantity(value) else DEFAULT_CAPACITY


def desired_volume(dataset: Dataset, runtime_name: str, runtime_type: str, fluid_path: str,
                   mount_type: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The PV and PVC for a dataset served by a runtime of ``runtime_type``."""
    ns, name = dataset.metadata.namespace or "", dataset.metadata.name or ""
    labels = {common_label(ns, name): "true", DATASET_ID_LABEL: dataset_id(ns, name, dataset.metadata.uid)}
    annotations = {CREATED_BY[0]: CREATED_BY[1]}
    size = capacity(dataset)
    modes = dataset.spec.effective_access_modes
    pv = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": pv_name(ns, name), "labels": labels, "annotations": annotations},
        "spec": {
            "accessModes": modes,
            "capacity": {"storage": size},
            "storageClassName": STORAGE_CLASS,
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": ns, "name": pvc_name(name)},
            "csi": {
                "driver": CSI_DRIVER,
                "volumeHandle": pv_name(ns, name),
                "volumeAttributes": {
                    "fluid_path": fluid_path,
                    "mount_type": mount_type,
                    "runtime_namespace": ns,
                    "runtime_name": runtime_name,
                    "mount_pod_node_selector_key": fuse_label(ns, name),
                },
            },
        },
    }
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": pvc_name(name), "namespace": ns, "labels": dict(labels),
                     "annotations": dict(annotations)},
        "spec": {
            "accessModes": modes,
            "storageClassName": STORAGE_CLASS,
            "volumeName": pv_name(ns, name),
            "resources": {"requests": {"storage": size}},
        },
    }
    return pv, pvc


def create_volume(gateway: Gateway, dataset: Dataset, runtime_name: str, runtime_type: str, fluid_path: str,
                  mount_type: str) -> None:
    """Create what is missing; existing volumes are left alone (their spec is immutable anyway)."""
    pv, pvc = desired_volume(dataset, runtime_name, runtime_type, fluid_path, mount_type)
    ns = dataset.metadata.namespace
    for obj, res, namespace in ((pv, PV, None), (pvc, PVC, ns)):
        if gateway.get(res, namespace, obj["metadata"]["name"]) is None:
            with contextlib.suppress(Conflict):  # created meanwhile: what we wanted
                gateway.create(obj)


def delete_volume(gateway: Gateway, namespace: str, name: str) -> None:
    """PVC first, then PV; refuses (VolumeInUse, naming the pods) while unfinished pods mount it."""
    users = pods_using_claim(gateway.list(POD, namespace), pvc_name(name))
    if users:
        raise VolumeInUse(f"PVC {namespace}/{pvc_name(name)} is used by pods {', '.join(users)}; "
                          "delete them or wait until they finish")
    for res, ns, obj_name in ((PVC, namespace, pvc_name(name)), (PV, None, pv_name(namespace, name))):
        live = gateway.get(res, ns, obj_name)
        if live is not None and not live["metadata"].get("deletionTimestamp"):
            gateway.delete(res, ns, obj_name)
