"""A simulated cluster for engine tests: the in-memory API server plus what its controllers do.

An engine's workloads only become ready when something plays the StatefulSet and DaemonSet
controllers and the kubelets: ``SimulatedCluster.kubelet`` makes a pod per replica (on the nodes in
turn, from the template, Running and ready) and reports the workloads' status the way the real
controllers do. Commands an engine runs in its pods go to ``exec_handler`` when one is given
(``lifecycle.local.standin_exec`` answers them with the stand-in cache CLIs). Time is a clock the
test moves: one second per reconcile pass.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from lifecycle.engine.kind import RuntimeKind
from lifecycle.engine.registry import Registry
from lifecycle.k8s.gateway import DAEMON_SET, NODE, POD, STATEFUL_SET, Gateway, Obj, owner_reference
from lifecycle.k8s.memory import ExecHandler, MemoryGateway
from lifecycle.reconcile.reconciler import Outcome, Reconciler

T0 = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)
# Rate-limited Sync steps run on every pass, so a test's few passes see them.
NO_RATE_LIMITS = {"sync_intervals": {"sync_metadata": 0, "check_and_update_runtime_status": 0,
                                     "update_on_ufs_change": 0}}


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def template_digest(template: Obj) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:16]


class RecordingGateway(MemoryGateway):
    """The in-memory API server, noting the order in which objects disappear (``gone``: kind, name)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.gone: list[tuple[str, str]] = []

    def _remove(self, key: tuple[str, str, str]) -> None:
        obj = self._objects.get(key)
        if obj is not None:
            self.gone.append((obj["kind"], obj["metadata"]["name"]))
        super()._remove(key)


class SimulatedCluster:
    """The in-memory API server with ``nodes`` nodes, workload controllers and an operator."""

    def __init__(self, registry: Registry, kinds: tuple[RuntimeKind, ...], nodes: int = 3,
                 exec_handler: Callable[[MemoryGateway], ExecHandler] | None = None):
        self.registry = registry
        self.time = T0
        self.api = RecordingGateway(tuple(k.resource for k in kinds), clock=lambda: iso(self.time))
        if exec_handler is not None:
            self.api.exec_handler = exec_handler(self.api)
        self.gateway: Gateway = self.api  # what the operator talks to: a fault plan may wrap it
        self.nodes = [f"node-{i}" for i in range(nodes)]
        for node in self.nodes:
            self.api.create({"apiVersion": "v1", "kind": "Node",
                             "metadata": {"name": node, "labels": {"kubernetes.io/hostname": node}}})
        self.restart()

    def now(self) -> datetime:
        return self.time

    def restart(self) -> None:
        """A new operator process: nothing of the last one's memory survives."""
        self.reconciler = Reconciler(self.gateway, self.registry, now=self.now,
                                     settings=copy.deepcopy(NO_RATE_LIMITS))

    # -- the controllers -----------------------------------------------------------------------

    def _pod(self, owner: Obj, name: str, node: str) -> None:
        template = owner["spec"]["template"]
        labels = dict(template["metadata"].get("labels") or {})
        labels["statefulset.kubernetes.io/pod-name"] = name
        containers = template["spec"]["containers"]
        self.api.create({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": owner["metadata"]["namespace"], "labels": labels,
                         "annotations": {"template": template_digest(template)},
                         "ownerReferences": [owner_reference(owner)]},
            "spec": {"nodeName": node, "containers": containers, "volumes": template["spec"].get("volumes") or []},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": c["name"], "ready": True, "state": {"running": {"startedAt": iso(self.time)}}}
                for c in containers]},
        })

    def kubelet(self) -> None:
        """StatefulSet and DaemonSet controllers in one: pods follow replicas and templates."""
        for sts in self.api.list(STATEFUL_SET):
            name, ns = sts["metadata"]["name"], sts["metadata"]["namespace"]
            replicas = sts["spec"].get("replicas", 1)
            revision = template_digest(sts["spec"]["template"])
            for pod in self.api.list(POD, ns):
                if sts["metadata"]["uid"] not in [r["uid"] for r in pod["metadata"].get("ownerReferences") or []]:
                    continue
                index = int(pod["metadata"]["name"].rsplit("-", 1)[1])
                if index >= replicas or pod["metadata"]["annotations"]["template"] != revision:
                    self.api.delete(POD, ns, pod["metadata"]["name"])
            for i in range(replicas):
                if self.api.get(POD, ns, f"{name}-{i}") is None:
                    self._pod(sts, f"{name}-{i}", self.nodes[i % len(self.nodes)])
            status = {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
                      "currentReplicas": replicas, "observedGeneration": sts["metadata"].get("generation"),
                      "currentRevision": revision, "updateRevision": revision}
            if (sts.get("status") or {}) != status:
                self.api.set_status(STATEFUL_SET, ns, name, status)
        for ds in self.api.list(DAEMON_SET):
            selector = ds["spec"]["template"]["spec"].get("nodeSelector") or {}
            count = sum(1 for n in self.api.list(NODE)
                        if all((n["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items()))
            status = {"desiredNumberScheduled": count, "currentNumberScheduled": count, "numberReady": count,
                      "numberAvailable": count, "numberUnavailable": 0,
                      "observedGeneration": ds["metadata"].get("generation")}
            if (ds.get("status") or {}) != status:
                self.api.set_status(DAEMON_SET, ds["metadata"]["namespace"], ds["metadata"]["name"], status)

    def reconcile(self, namespace: str, name: str) -> Outcome:
        """One pass a second after the last; background work (metadata syncs) finishes in between."""
        self.time += timedelta(seconds=1)
        outcome = self.reconciler.reconcile(namespace, name)
        self.reconciler.background.drain(30)
        return outcome


__all__ = ["NO_RATE_LIMITS", "RecordingGateway", "SimulatedCluster", "iso"]
