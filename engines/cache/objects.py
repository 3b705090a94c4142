"""Kubernetes objects of a cache runtime, rendered as plain dicts, and how they are applied.

Each object carries the hash of its desired form in an annotation. Comparing that hash with the
live object's tells whether an apply would change anything, so an idle reconcile sends no write
at all while a changed spec is applied in place (server-side apply keeps the object, its UID
and, for a StatefulSet, rolls the pods). Pod templates carry a checksum of the configuration
they read, so a changed property rolls exactly the components that use it.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any, TypeVar, cast

import attrs
import orjson

from lifecycle import Obj, clone

APPLIED_HASH = "fluid.io/applied-hash"
CONFIG_CHECKSUM = "fluid.io/config-checksum"
HOSTNAME_KEY = "kubernetes.io/hostname"
T = TypeVar("T")


# Keys sorted; a dataclass or a datetime goes to ``default`` (``str``), as ``json`` would send it.
_AS_JSON_WRITES = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def digest(value: Any) -> str:
    """A short, stable hash of JSON-shaped data: of its compact JSON, keys sorted, as the standard
    ``json`` module writes it. orjson writes the same bytes ten times faster wherever the text is
    printable ASCII (every pass digests what its rendering reads: 8 % of an idle operator's CPU went
    to ``json``); a text with other characters, which ``json`` escapes, or a value orjson refuses
    is written by ``json``. (Floats below 1e-4 orjson writes without an exponent; no rendered
    object holds one.)"""
    text: bytes | None
    try:
        text = orjson.dumps(value, option=_AS_JSON_WRITES, default=str)
    except TypeError:  # orjson.JSONEncodeError: an integer over 64 bits, a key that is not a string
        text = None
    if text is None or not text.isascii() or b"\x7f" in text:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(text).hexdigest()[:16]


def stamped(obj: Obj) -> Obj:
    """``obj`` with the hash of itself in the APPLIED_HASH annotation."""
    out = clone(obj)
    annotations = out["metadata"].setdefault("annotations", {})
    annotations.pop(APPLIED_HASH, None)
    annotations[APPLIED_HASH] = digest(out)
    return out


def applied_hash(obj: Obj | None) -> str | None:
    if obj is None:
        return None
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(APPLIED_HASH)


def compact(value: T) -> T:
    """Drop None, empty dicts and empty lists, so a manifest states only what it means."""
    return cast(T, _compact(value))


def _compact(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _compact(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


def status_int(obj: Obj | None, key: str) -> int:
    """A count from an object's status; 0 when the object or the field is missing."""
    return int(((obj or {}).get("status") or {}).get(key) or 0)


def spec_replicas(obj: Obj | None) -> int:
    return int(((obj or {}).get("spec") or {}).get("replicas") or 0)


def rolling_out(sts: Obj) -> bool:
    """The StatefulSet is replacing its pods with a changed template: its controller has not seen
    the change yet, or pods of the old revision remain."""
    status = sts.get("status") or {}
    generation = sts["metadata"].get("generation") or 0
    if int(status.get("observedGeneration") or 0) < generation:
        return True
    update, current = status.get("updateRevision"), status.get("currentRevision")
    return bool(update) and update != current


def env_list(env: dict[str, str] | None) -> list[dict[str, Any]]:
    return [{"name": k, "value": str(v)} for k, v in sorted((env or {}).items())]


def port_list(ports: dict[str, int]) -> list[dict[str, Any]]:
    return [{"name": k, "containerPort": v, "protocol": "TCP"} for k, v in sorted(ports.items())]


@attrs.define
class Workload:
    """What an engine says about one component's pods; the engine base renders the controller."""

    role: str  # "master", "worker" or "fuse"
    containers: list[Obj]
    volumes: list[Obj] = attrs.field(factory=list)
    host_network: bool = False
    node_selector: dict[str, str] = attrs.field(factory=dict)
    tolerations: list[Obj] = attrs.field(factory=list)
    labels: dict[str, str] = attrs.field(factory=dict)  # podMetadata: never part of the selector
    annotations: dict[str, str] = attrs.field(factory=dict)
    image_pull_secrets: list[Obj] = attrs.field(factory=list)
    config_checksum: str = ""


def pod_template(workload: Workload, selector: dict[str, str], extra_labels: dict[str, str],
                 affinity: Obj | None = None) -> Obj:
    labels = {**workload.labels, **extra_labels, **selector}
    annotations = dict(workload.annotations)
    if workload.config_checksum:
        annotations[CONFIG_CHECKSUM] = workload.config_checksum
    spec = {
        "containers": workload.containers,
        "volumes": workload.volumes,
        "hostNetwork": True if workload.host_network else None,
        # With the host's network a pod still resolves cluster names (the master's service).
        "dnsPolicy": "ClusterFirstWithHostNet" if workload.host_network else None,
        "nodeSelector": workload.node_selector,
        "tolerations": workload.tolerations,
        "affinity": affinity,
        "imagePullSecrets": workload.image_pull_secrets,
    }
    return compact({"metadata": {"labels": labels, "annotations": annotations}, "spec": spec})


def stateful_set(name: str, namespace: str, labels: dict[str, str], selector: dict[str, str],
                 template: Obj, replicas: int, service_name: str, owner: Obj) -> Obj:
    """Parallel pod management: cache pods need no start order, and scaling should not queue."""
    return stamped({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "ownerReferences": [owner]},
        "spec": {
            "replicas": replicas,
            "serviceName": service_name,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": selector},
            "template": template,
            "updateStrategy": {"type": "RollingUpdate"},
        },
    })


def daemon_set(name: str, namespace: str, labels: dict[str, str], selector: dict[str, str],
               template: Obj, owner: Obj) -> Obj:
    """OnDelete: a new fuse template must not kill the mounts of running applications; a fuse pod
    takes it when it is next recreated (the reference behaves the same)."""
    return stamped({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "ownerReferences": [owner]},
        "spec": {
            "selector": {"matchLabels": selector},
            "template": template,
            "updateStrategy": {"type": "OnDelete"},
        },
    })


def headless_service(name: str, namespace: str, labels: dict[str, str], pod: str, ports: dict[str, int],
                     owner: Obj, marker: dict[str, str]) -> Obj:
    """One service per master pod, so ``<name>-master-<i>.<ns>`` names exactly that pod; ``labels`` also
    select its pods, ``marker`` only marks the Service as ours."""
    return stamped({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": {**labels, **marker},
                     "ownerReferences": [owner]},
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": {**labels, "statefulset.kubernetes.io/pod-name": pod},
            "ports": [{"name": k, "port": v, "targetPort": v, "protocol": "TCP"} for k, v in sorted(ports.items())],
        },
    })


def config_map(name: str, namespace: str, labels: dict[str, str], data: dict[str, str], owner: Obj) -> Obj:
    return stamped({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "ownerReferences": [owner]},
        "data": data,
    })


def worker_affinity(placement: str, dataset_label: str, placement_label: str, fuse_key: str,
                    required_nodes: Obj | None) -> Obj:
    """The reference's worker placement rules.

    Exclusive: no other dataset's worker on the node (required anti-affinity on the dataset key).
    Shared: spread over nodes (preferred), but never beside an exclusive dataset's worker (required).
    Both prefer nodes where the fuse runs, and keep the Dataset's required node affinity.
    """
    any_dataset = {"labelSelector": {"matchExpressions": [{"key": dataset_label, "operator": "Exists"}]},
                   "topologyKey": HOSTNAME_KEY}
    if placement == "Shared":
        anti: Obj = {
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 50, "podAffinityTerm": any_dataset}],
            "requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchExpressions": [
                    {"key": placement_label, "operator": "In", "values": ["Exclusive"]}]},
                "topologyKey": HOSTNAME_KEY,
            }],
        }
    else:
        anti = {"requiredDuringSchedulingIgnoredDuringExecution": [any_dataset]}
    node: Obj = {"preferredDuringSchedulingIgnoredDuringExecution": [{
        "weight": 100,
        "preference": {"matchExpressions": [{"key": fuse_key, "operator": "In", "values": ["true"]}]},
    }]}
    if required_nodes:
        node["requiredDuringSchedulingIgnoredDuringExecution"] = copy.deepcopy(required_nodes)
    return {"podAntiAffinity": anti, "nodeAffinity": node}
