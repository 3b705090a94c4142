"""The simulated nodes of a local cluster: Node objects that kwok keeps Ready.

The nodes exist only as API objects. The API server reaches their kubelet by their `InternalDNS`
address, 127.0.0.1, on kwok's server port, so when it serves `exec` or `logs` for a pod it dials kwok
on the loopback interface and nothing else. Their `InternalIP` is from TEST-NET-1 (192.0.2.0/24,
RFC 5737), which nothing dials: a host-network pod takes it as its IP, and the endpoints controllers
accept it, where a loopback pod IP made them fail and retry every Service for good (some 1,600
failed writes and events a minute at 300 Services).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from lifecycle.k8s.gateway import NODE, ApiError, Conflict, NotFound, Obj
from lifecycle.k8s.kube import KubeGateway
from lifecycle.local.processes import LOOPBACK, ComponentError

NODE_PREFIX = "kwok-node-"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
NODE_TYPE_LABEL = "type"
NODE_TYPE = "kwok"
NODE_IP = "192.0.2.1"  # TEST-NET-1: documentation only, never routed and never dialled
CAPACITY = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "1Ti"}


def node_names(count: int) -> list[str]:
    return [f"{NODE_PREFIX}{i}" for i in range(count)]


def node_manifest(name: str, kubelet_port: int) -> dict[str, Any]:
    """A Node that kwok manages. No taints: DaemonSet pods must be able to land on it."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_NODE_ANNOTATION: "fake"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                NODE_TYPE_LABEL: NODE_TYPE,
            },
        },
        "spec": {},
        "status": {
            "capacity": dict(CAPACITY),
            "allocatable": dict(CAPACITY),
            "addresses": [{"type": "InternalIP", "address": NODE_IP}, {"type": "InternalDNS", "address": LOOPBACK},
                          {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
        },
    }


def ensure_nodes(gw: KubeGateway, count: int, kubelet_port: int) -> list[str]:
    """Create the `count` nodes (keeping existing ones, pointing them at this kwok) and drop extra ones."""
    wanted = node_names(count)
    listed = gw.list(NODE, labels={NODE_TYPE_LABEL: NODE_TYPE})
    existing = {n["metadata"]["name"] for n in listed if n["metadata"]["name"].startswith(NODE_PREFIX)}
    for name in wanted:
        manifest = node_manifest(name, kubelet_port)
        if name not in existing:
            with contextlib.suppress(Conflict):
                gw.create(manifest)
        # kwok's port may differ from the previous run; the status carries it (and the API server may
        # drop a status given on create).
        gw.patch(NODE, None, name, {"status": manifest["status"]}, sub="status")
    for name in sorted(existing - set(wanted)):
        gw.delete(NODE, None, name)
    return wanted


def _ready_problem(node: Obj, kubelet_port: int) -> str | None:
    status = node.get("status")
    if not status:
        return "has no status yet"
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    if conditions.get("Ready") != "True":
        return "not Ready yet"
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    if addresses.get("InternalDNS") != LOOPBACK:
        return f"InternalDNS address is {addresses.get('InternalDNS')!r}, not {LOOPBACK}"
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    if port != kubelet_port:
        return f"kubelet port is {port}, not kwok's {kubelet_port}"
    return None


def wait_nodes_ready(gw: KubeGateway, names: list[str], kubelet_port: int, timeout: float,
                     kwok_log: Path | None = None) -> None:
    """Wait until every node is Ready, reached at 127.0.0.1 and pointing at kwok's port."""
    deadline = time.monotonic() + timeout
    problems: dict[str, str] = {}
    while True:
        problems = {}
        for name in names:
            try:
                node = gw.get(NODE, None, name)
                problem = "does not exist" if node is None else _ready_problem(node, kubelet_port)
            except (ApiError, NotFound) as exc:
                problem = f"cannot be read: {exc}"
            if problem:
                problems[name] = problem
        if not problems:
            return
        if time.monotonic() >= deadline:
            detail = "; ".join(f"{n}: {p}" for n, p in sorted(problems.items()))
            raise ComponentError(
                "nodes",
                f"not ready within {timeout:g}s ({detail})",
                "kwok sets nodes Ready; look for stage errors in its log",
                kwok_log,
            )
        time.sleep(0.3)
