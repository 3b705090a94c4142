"""The simulated nodes of a local cluster: Node objects that kwok keeps Ready.

The nodes exist only as API objects. Their address is 127.0.0.1 and their kubelet port is kwok's
server port, so when the API server serves `exec` or `logs` for a pod it dials kwok on the loopback
interface and nothing else.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from lifecycle.local.processes import LOOPBACK, ComponentError

NODE_PREFIX = "kwok-node-"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
NODE_TYPE_LABEL = "type"
NODE_TYPE = "kwok"
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
            "addresses": [{"type": "InternalIP", "address": LOOPBACK}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
        },
    }


def ensure_nodes(core: client.CoreV1Api, count: int, kubelet_port: int) -> list[str]:
    """Create the `count` nodes (keeping existing ones, pointing them at this kwok) and drop extra ones."""
    wanted = node_names(count)
    listed = core.list_node(label_selector=f"{NODE_TYPE_LABEL}={NODE_TYPE}").items
    existing = {n.metadata.name for n in listed if n.metadata and n.metadata.name}
    existing = {name for name in existing if name and name.startswith(NODE_PREFIX)}
    for name in wanted:
        manifest = node_manifest(name, kubelet_port)
        if name in existing:
            # kwok's port may differ from the previous run; the status carries it.
            core.patch_node_status(name, {"status": manifest["status"]})
            continue
        try:
            core.create_node(client.V1Node.model_validate(manifest))
        except ApiException as exc:
            if exc.status != 409:
                raise
        # The API server keeps the status given on create; patching it again is for older servers.
        core.patch_node_status(name, {"status": manifest["status"]})
    for name in sorted(n for n in existing - set(wanted) if n):
        try:
            core.delete_node(name)
        except ApiException as exc:
            if exc.status != 404:
                raise
    return wanted


def _ready_problem(node: client.V1Node, kubelet_port: int) -> str | None:
    status = node.status
    if status is None:
        return "has no status yet"
    conditions = {c.type: c.status for c in (status.conditions or [])}
    if conditions.get("Ready") != "True":
        return "not Ready yet"
    addresses = {a.type: a.address for a in (status.addresses or [])}
    if addresses.get("InternalIP") != LOOPBACK:
        return f"InternalIP is {addresses.get('InternalIP')!r}, not {LOOPBACK}"
    endpoint = status.daemon_endpoints.kubelet_endpoint if status.daemon_endpoints else None
    port = endpoint.port if endpoint else None
    if port != kubelet_port:
        return f"kubelet port is {port}, not kwok's {kubelet_port}"
    return None


def wait_nodes_ready(
    core: client.CoreV1Api, names: list[str], kubelet_port: int, timeout: float, kwok_log: Path | None = None
) -> None:
    """Wait until every node is Ready, addressed as 127.0.0.1 and pointing at kwok's port."""
    deadline = time.monotonic() + timeout
    problems: dict[str, str] = {}
    while True:
        problems = {}
        for name in names:
            try:
                problem = _ready_problem(core.read_node(name), kubelet_port)
            except ApiException as exc:
                problem = f"cannot be read: {exc.status} {exc.reason}"
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
