"""The PV and PVC through which pods mount a Dataset, shaped exactly as the reference makes them.

Every engine's CreateVolume/DeleteVolume reduce to these functions with its own fuse path and mount
type (``fuse.alluxio-fuse``, ``fuse.jindofs-fuse``, ...). A PV or PVC counts as the Dataset's only
when it is ours: it carries the Dataset's ``fluid.io/dataset-id`` and either our managed-by label
or the reference's ``CreatedBy: fluid`` annotation (a volume Fluid made for the same Dataset), and
a PV's claimRef names the Dataset's PVC. A user's PVC or an admin's PV that only has the name is
never shown as the Dataset's volume, never adopted and never deleted: it is in the way, and the
pair says so.
"""

from __future__ import annotations

import contextlib
from typing import Any

import attrs

from lifecycle.api.dataset import CAPACITY_ANNOTATION, DEFAULT_CAPACITY, Dataset
from lifecycle.api.units import is_quantity
from lifecycle.k8s.gateway import POD, PV, PVC, Conflict, Gateway, Obj
from lifecycle.k8s.naming import (
    CSI_DRIVER,
    DATASET_ID_LABEL,
    STORAGE_CLASS,
    common_label,
    fuse_label,
    pv_name,
    pvc_name,
)
from lifecycle.k8s.ownership import CREATED_BY, MANAGED_BY_LABEL, MANAGER, ObjectInTheWay, Owner

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


@attrs.frozen
class VolumeRef:
    """Which PVC and PV are a Dataset's: its namespace and name, its key and its dataset-id."""

    namespace: str
    name: str
    key: str
    dataset_id: str

    @property
    def pvc(self) -> str:
        return pvc_name(self.name)

    def ours(self, obj: Obj | None) -> bool:
        if obj is None:
            return False
        meta = obj.get("metadata") or {}
        marked = (meta.get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGER or \
            (meta.get("annotations") or {}).get(CREATED_BY[0]) == CREATED_BY[1]
        if not marked or (meta.get("labels") or {}).get(DATASET_ID_LABEL) != self.dataset_id:
            return False
        if obj.get("kind") == "PersistentVolume":
            claim = (obj.get("spec") or {}).get("claimRef") or {}
            return (claim.get("namespace"), claim.get("name")) == (self.namespace, self.pvc)
        return True


@attrs.frozen
class Volume:
    """The Dataset's PVC and PV as found: each ours or None, and what stands under their names."""

    pvc: Obj | None
    pv: Obj | None
    in_the_way: tuple[Obj, ...] = ()

    @property
    def ready(self) -> bool:
        return self.pvc is not None and self.pv is not None

    @property
    def present(self) -> bool:
        return self.pvc is not None or self.pv is not None


def find_volume(gateway: Gateway, ref: VolumeRef) -> Volume:
    claim = gateway.get(PVC, ref.namespace, ref.pvc)
    pv_at = (claim.get("spec") or {}).get("volumeName") if ref.ours(claim) and claim else None
    pv = gateway.get(PV, None, pv_at or pv_name(ref.key))
    in_the_way = tuple(o for o in (claim, pv) if o is not None and not ref.ours(o))
    return Volume(claim if ref.ours(claim) else None, pv if ref.ours(pv) else None, in_the_way)


class VolumeInUse(RuntimeError):
    """The PVC cannot go yet: unfinished pods mount it. The message names them."""


def capacity(dataset: Dataset) -> str:
    value = (dataset.metadata.annotations or {}).get(CAPACITY_ANNOTATION, DEFAULT_CAPACITY)
    return value if is_quantity(value) else DEFAULT_CAPACITY


def desired_volume(dataset: Dataset, ref: VolumeRef, runtime_name: str, fluid_path: str,
                   mount_type: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The PV and PVC for a dataset served by the runtime ``runtime_name``."""
    ns = ref.namespace
    labels = {common_label(ref.key): "true", DATASET_ID_LABEL: ref.dataset_id}
    annotations = {CREATED_BY[0]: CREATED_BY[1]}
    size = capacity(dataset)
    modes = dataset.spec.effective_access_modes
    pv = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": pv_name(ref.key), "labels": labels, "annotations": annotations},
        "spec": {
            "accessModes": modes,
            "capacity": {"storage": size},
            "storageClassName": STORAGE_CLASS,
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": ns, "name": ref.pvc},
            "csi": {
                "driver": CSI_DRIVER,
                "volumeHandle": pv_name(ref.key),
                "volumeAttributes": {
                    "fluid_path": fluid_path,
                    "mount_type": mount_type,
                    "runtime_namespace": ns,
                    "runtime_name": runtime_name,
                    "mount_pod_node_selector_key": fuse_label(ref.key),
                },
            },
        },
    }
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": ref.pvc, "namespace": ns, "labels": dict(labels), "annotations": dict(annotations)},
        "spec": {
            "accessModes": modes,
            "storageClassName": STORAGE_CLASS,
            "volumeName": pv_name(ref.key),
            "resources": {"requests": {"storage": size}},
        },
    }
    return pv, pvc


def create_volume(owner: Owner, dataset: Dataset, ref: VolumeRef, runtime_name: str, fluid_path: str,
                  mount_type: str) -> None:
    """Create what is missing, PV first; ours that exist are left alone (their spec is immutable
    anyway); a PV or PVC of someone else under the names is in the way."""
    found = find_volume(owner.gateway, ref)
    if found.in_the_way:
        raise ObjectInTheWay(owner.who, found.in_the_way)
    pv, pvc = desired_volume(dataset, ref, runtime_name, fluid_path, mount_type)
    for obj, res, have in ((pv, PV, found.pv), (pvc, PVC, found.pvc)):
        if have is None:
            owner.create(obj, res)


def delete_volume(owner: Owner, ref: VolumeRef) -> None:
    """PVC first, then PV, each only if ours; refuses (VolumeInUse, naming the pods) while unfinished
    pods mount our PVC."""
    found = find_volume(owner.gateway, ref)
    if found.pvc is not None:
        users = pods_using_claim(owner.gateway.list(POD, ref.namespace), ref.pvc)
        if users:
            raise VolumeInUse(f"PVC {ref.namespace}/{ref.pvc} is used by pods {', '.join(users)}; "
                              "delete them or wait until they finish")
    for res, live in ((PVC, found.pvc), (PV, found.pv)):
        if live is not None and not live["metadata"].get("deletionTimestamp"):
            with contextlib.suppress(Conflict):
                _delete(owner.gateway, res, live)


def _delete(gateway: Gateway, res: Any, live: Obj) -> None:
    meta = live["metadata"]
    gateway.delete(res, meta.get("namespace"), meta["name"], uid=meta.get("uid"))
