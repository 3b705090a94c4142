"""The cache engines on the in-memory API server, with the stand-in ``alluxio`` and ``jindo`` CLIs
answering execs.

``FakeCluster`` plays the controllers the engine relies on (StatefulSet and DaemonSet pods with
their node, readiness and start time) and runs the stand-in CLIs in-process for every exec, so the
tests see the objects, the argument vectors and the parsed reports the engine really produces.
The Alluxio, Jindo, ports, metadata, ownership and compatibility tests share it.
"""

from __future__ import annotations

import base64
import copy
import io
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import engines.alluxio
import engines.jindo
from engines.alluxio.kind import KIND_SPEC as ALLUXIO
from engines.cache.objects import digest
from engines.jindo.kind import KIND_SPEC as JINDO
from lifecycle.api import from_json
from lifecycle.api.dataset import Dataset
from lifecycle.engine.contract import EngineContext
from lifecycle.engine.registry import Registry
from lifecycle.k8s.gateway import (
    CONFIG_MAP,
    DAEMON_SET,
    DATASET,
    NODE,
    POD,
    SECRET,
    STATEFUL_SET,
    ExecResult,
    Obj,
    owner_reference,
)
from lifecycle.k8s.memory import MemoryGateway
from lifecycle.local.projection import volume_files, write_pod_root
from lifecycle.local.standin import alluxio as standin_alluxio
from lifecycle.local.standin import cache as standin
from lifecycle.local.standin import jindo as standin_jindo
from lifecycle.reconcile.reconciler import Outcome, Reconciler

NS, NAME = "team", "imagenet"
SECRET_VALUE = "s3cr3t-Key/value+42"
NO_RATE_LIMITS = {"sync_intervals": {"sync_metadata": 0, "check_and_update_runtime_status": 0,
                                     "update_on_ufs_change": 0, "cache_report": 0}}
TOOLS = {"alluxio": standin_alluxio.resolve, "jindocache": standin_jindo.resolve, "jindo": standin_jindo.resolve_fs}
T0 = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeCluster:
    """The in-memory API server, three nodes, pods for every workload and the stand-in CLIs."""

    def __init__(self, root: Path, nodes: int = 3):
        self.root = root
        self.gw = MemoryGateway((ALLUXIO.resource, JINDO.resource), clock=lambda: iso(self.now()))
        self.gw.exec_handler = self.exec
        self.time = T0
        registry = Registry()
        engines.alluxio.register(registry)
        engines.jindo.register(registry)
        self.reconciler = Reconciler(self.gw, registry, now=self.now, settings=copy.deepcopy(NO_RATE_LIMITS))
        self.execs: list[tuple[str, str | None, list[str]]] = []
        self.failing: set[str] = set()
        self.unready: set[str] = set()  # workload names whose pods never get ready
        self.held: set[str] = set()  # StatefulSets whose rollouts stop with the old pods gone, the new not ready
        self.nodes = [f"node-{i}" for i in range(nodes)]
        for node in self.nodes:
            self.gw.create({"apiVersion": "v1", "kind": "Node",
                            "metadata": {"name": node, "labels": {"kubernetes.io/hostname": node}}})
        (root / "ufs").mkdir(parents=True, exist_ok=True)

    def now(self) -> datetime:
        return self.time

    # -- the UFS and the stand-in CLIs ---------------------------------------------------------

    def ufs_file(self, uri: str, size: int) -> None:
        path = standin.ufs_local_path(self.root / "ufs", uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)

    def state_dir(self, pod: str, namespace: str = NS) -> Path:
        return self.root / "exec" / namespace / pod

    def exec(self, namespace: str, pod: str, container: str | None, argv: list[str]) -> ExecResult:
        self.execs.append((pod, container, list(argv)))
        # What a kubelet would have mounted into the pod: its Secret volumes, as files.
        pod_root = self.root / "pods" / namespace / pod
        pod_root.parent.mkdir(parents=True, exist_ok=True)
        live = self.gw.get(POD, namespace, pod)
        write_pod_root(pod_root, volume_files(live or {}, lambda name: self.gw.get(SECRET, namespace, name),
                                              lambda name: self.gw.get(CONFIG_MAP, namespace, name)))
        env = {"STANDIN_STATE_DIR": str(self.state_dir(pod, namespace)), "STANDIN_UFS_ROOT": str(self.root / "ufs"),
               "STANDIN_FAIL": ",".join(sorted(self.failing)), "STANDIN_POD_ROOT": str(pod_root)}
        out, err = io.StringIO(), io.StringIO()
        code = standin.run_cli(argv[0], argv[1:], env, TOOLS[argv[0]], stdout=out, stderr=err)
        return ExecResult(out.getvalue(), err.getvalue(), code)

    def commands(self, word: str) -> list[list[str]]:
        return [argv for _, _, argv in self.execs if word in argv]

    # -- the controllers -----------------------------------------------------------------------

    def _pod(self, owner: Obj, name: str, node: str, ready: bool = True) -> None:
        template = owner["spec"]["template"]
        labels = dict(template["metadata"].get("labels") or {})
        labels["statefulset.kubernetes.io/pod-name"] = name
        containers = template["spec"]["containers"]
        ready = ready and owner["metadata"]["name"] not in self.unready
        self.gw.create({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": owner["metadata"]["namespace"], "labels": labels,
                         "annotations": {"template": digest(template)}, "ownerReferences": [owner_reference(owner)]},
            "spec": {"nodeName": node, "containers": containers, "volumes": template["spec"].get("volumes") or []},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": c["name"], "ready": ready, "state": {"running": {"startedAt": iso(self.now())}}}
                for c in containers]},
        })

    def kubelet(self) -> None:
        """StatefulSet and DaemonSet controllers in one: pods follow replicas and templates."""
        for sts in self.gw.list(STATEFUL_SET):
            name, ns = sts["metadata"]["name"], sts["metadata"]["namespace"]
            replicas = sts["spec"]["replicas"]
            revision, current = digest(sts["spec"]["template"]), (sts.get("status") or {}).get("currentRevision")
            rolling = False
            for pod in self.gw.list(POD, ns):
                owners = [r["uid"] for r in pod["metadata"].get("ownerReferences") or []]
                if sts["metadata"]["uid"] not in owners:
                    continue
                index = int(pod["metadata"]["name"].rsplit("-", 1)[1])
                stale = pod["metadata"]["annotations"]["template"] != revision
                rolling = rolling or stale
                if index >= replicas or stale:
                    self.gw.delete(POD, ns, pod["metadata"]["name"])
            held = name in self.held and (rolling or (current is not None and current != revision))
            for i in range(replicas):
                if self.gw.get(POD, ns, f"{name}-{i}") is None:
                    self._pod(sts, f"{name}-{i}", self.nodes[i % len(self.nodes)], ready=not held)
            ready = 0 if name in self.unready or held else replicas
            status = {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready,
                      "currentReplicas": replicas, "observedGeneration": sts["metadata"]["generation"],
                      "currentRevision": current if held else revision, "updateRevision": revision}
            if (sts.get("status") or {}) != status:
                self.gw.set_status(STATEFUL_SET, ns, name, status)
        for ds in self.gw.list(DAEMON_SET):
            selector = ds["spec"]["template"]["spec"].get("nodeSelector") or {}
            nodes = [n for n in self.gw.list(NODE)
                     if all((n["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())]
            count = len(nodes)
            ready = 0 if ds["metadata"]["name"] in self.unready else count
            status = {"desiredNumberScheduled": count, "currentNumberScheduled": count, "numberReady": ready,
                      "numberAvailable": ready, "numberUnavailable": count - ready,
                      "observedGeneration": ds["metadata"]["generation"]}
            if (ds.get("status") or {}) != status:
                self.gw.set_status(DAEMON_SET, ds["metadata"]["namespace"], ds["metadata"]["name"], status)

    def reconcile(self, name: str = NAME, namespace: str = NS) -> Outcome:
        self.time += timedelta(seconds=1)
        outcome = self.reconciler.reconcile(namespace, name)
        self.reconciler.background.drain(30)  # metadata syncs finish between passes, deterministically
        return outcome

    def settle(self, name: str = NAME, passes: int = 12, namespace: str = NS) -> Outcome:
        outcome = Outcome()
        for _ in range(passes):
            self.kubelet()
            outcome = self.reconcile(name, namespace)
        self.kubelet()
        return outcome

    # -- objects -------------------------------------------------------------------------------

    def get(self, res: Any, name: str, namespace: str | None = NS) -> Obj:
        obj = self.gw.get(res, namespace, name)
        assert obj is not None, f"{res.kind} {namespace}/{name} does not exist"
        return obj

    def dataset(self, name: str = NAME) -> Obj:
        return self.get(DATASET, name)

    def patch_spec(self, res: Any, name: str, spec: dict[str, Any]) -> None:
        self.gw.patch(res, NS, name, {"spec": spec})

    def writes(self) -> int:
        return sum(self.gw.writes.values())

    def event_reasons(self) -> list[str]:
        return [e.reason for e in self.gw.events]


def dataset_manifest(name: str = NAME, **spec: Any) -> Obj:
    spec.setdefault("mounts", [
        {"mountPoint": "s3://imagenet/train", "name": "train", "readOnly": True,
         "options": {"alluxio.underfs.s3.endpoint": "s3.example.com", "fs.s3a.region": "eu-west-1"},
         "encryptOptions": [{"name": "aws.secretKey",
                             "valueFrom": {"secretKeyRef": {"name": "s3-keys", "key": "secret"}}}]},
        {"mountPoint": "s3://imagenet/val", "name": "val"},
    ])
    spec.setdefault("sharedOptions", {"fs.s3a.region": "us-east-1", "alluxio.underfs.s3.threads.max": "64"})
    return {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
            "metadata": {"name": name, "namespace": NS}, "spec": spec}


def alluxio_manifest(name: str = NAME, **spec: Any) -> Obj:
    spec.setdefault("replicas", 3)
    spec.setdefault("tieredstore", {"levels": [{"mediumtype": "MEM", "path": "/dev/shm", "quota": "2Gi",
                                                "high": "0.95", "low": "0.7"}]})
    return {"apiVersion": "data.fluid.io/v1alpha1", "kind": "AlluxioRuntime",
            "metadata": {"name": name, "namespace": NS}, "spec": spec}


def seed(cluster: FakeCluster) -> None:
    cluster.gw.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s3-keys", "namespace": NS},
                       "data": {"secret": base64.b64encode(SECRET_VALUE.encode()).decode()}})
    cluster.ufs_file("s3://imagenet/train/a.jpg", 3000)
    cluster.ufs_file("s3://imagenet/train/b.jpg", 5000)
    cluster.ufs_file("s3://imagenet/val/c.jpg", 2000)


def context(cluster: FakeCluster, kind: Any = ALLUXIO, name: str = NAME) -> EngineContext:
    raw_ds = cluster.gw.get(DATASET, NS, name)
    return EngineContext(
        runtime=from_json(kind.model, cluster.get(kind.resource, name)),
        dataset=from_json(Dataset, raw_ds) if raw_ds else None,
        gateway=cluster.gw, kind=kind, now=cluster.now,
        log=logging.LoggerAdapter(logging.getLogger("test"), {}), settings=copy.deepcopy(NO_RATE_LIMITS))


def leftovers(cluster: FakeCluster) -> list[str]:
    kinds = ("ConfigMap", "Service", "StatefulSet", "DaemonSet", "Pod", "PersistentVolume", "PersistentVolumeClaim",
             "Dataset", "AlluxioRuntime", "JindoRuntime")
    objs = [f"{o['kind']} {o['metadata']['name']}" for o in cluster.gw.all_objects() if o["kind"] in kinds]
    labels = [f"{n['metadata']['name']}: {k}" for n in cluster.gw.list(NODE)
              for k in n["metadata"].get("labels") or {} if k.startswith(("fluid", "fluid_"))]
    return objs + labels


def delete_pair(cluster: FakeCluster, name: str = NAME) -> None:
    cluster.gw.delete(DATASET, NS, name)
    cluster.settle(name, passes=8)


def queued_engines(background: Any) -> list[Any]:
    """The engines of the jobs started on ``background`` from now on: the job's own, or that of the
    part it calls (a MetadataSync), to see what a queued job holds."""
    from engines.cache.base import CacheBase

    found: list[Any] = []
    start = background.start

    def recording(key: Any, work: Any, *args: Any, **kwargs: Any) -> Any:
        cells = [c.cell_contents for c in work.__closure__ or ()]
        found.extend(e for c in cells for e in (c, getattr(c, "engine", None)) if isinstance(e, CacheBase))
        return start(key, work, *args, **kwargs)

    background.start = recording
    return found
