"""What the operator's caches keep of each kind, and that the engines work from what they keep.

The second part runs the Alluxio and Jindo engines twice on the in-memory cluster: once reading
whole objects, once reading every object as the operator's cache keeps it. Setup, a scale, a lost
worker StatefulSet and deletion must end in the same objects after the same writes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from engines.alluxio.kind import KIND_SPEC as ALLUXIO
from engines.jindo.kind import KIND_SPEC as JINDO
from lifecycle.k8s.gateway import DAEMON_SET, DATASET, POD, SECRET, SERVICE, STATEFUL_SET, Obj, Resource
from lifecycle.k8s.memory import MemoryGateway
from lifecycle.k8s.ownership import OWNER_LABEL
from lifecycle.operator.projections import projection
from lifecycle.reconcile.reconciler import Reconciler
from tests.unit.cache_cluster import NS, FakeCluster, alluxio_manifest, dataset_manifest, seed
from tests.unit.test_jindo_engine import jindo_manifest

CONTAINER = {"name": "alluxio-master", "image": "alluxio:2.9", "command": ["/entrypoint.sh"],
             "env": [{"name": "A", "value": "1"}], "volumeMounts": [{"name": "v", "mountPath": "/v"}]}


def test_a_cached_pod_keeps_its_containers_names_its_node_volumes_and_status() -> None:
    pod = {"kind": "Pod", "metadata": {"name": "m-0", "labels": {"role": "master"}, "managedFields": [{}]},
           "spec": {"nodeName": "node-1", "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "c"}}],
                    "initContainers": [dict(CONTAINER, name="init")], "containers": [CONTAINER]},
           "status": {"phase": "Running", "hostIP": "10.0.0.1", "podIPs": [{"ip": "10.1.0.1"}], "qosClass": "Burstable",
                      "startTime": "2026-01-01T00:00:00Z",
                      "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
                      "containerStatuses": [{"name": "alluxio-master", "ready": True, "started": True,
                                             "restartCount": 1,
                                             "state": {"running": {"startedAt": "2026-01-01T00:00:05Z"}},
                                             "lastState": {"terminated": {"exitCode": 1}}, "image": "alluxio:2.9",
                                             "imageID": "sha256:00", "containerID": "containerd://00"}]}}
    before = copy.deepcopy(pod)
    kept = projection(POD)(pod)
    assert pod == before, "the object handed in is left as it is (it may be the reconcile's own)"
    assert kept == {"kind": "Pod", "metadata": {"name": "m-0", "labels": {"role": "master"}},
                    "spec": {"nodeName": "node-1", "volumes": pod["spec"]["volumes"],
                             "initContainers": [{"name": "init"}], "containers": [{"name": "alluxio-master"}]},
                    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                               "containerStatuses": [{"name": "alluxio-master", "ready": True, "started": True,
                                                      "restartCount": 1,
                                                      "state": {"running": {"startedAt": "2026-01-01T00:00:05Z"}}}]}}


@pytest.mark.parametrize("res", [STATEFUL_SET, DAEMON_SET])
def test_a_cached_workload_keeps_all_but_its_templates_container_specs(res: Resource) -> None:
    workload = {"kind": res.kind, "metadata": {"name": "w", "annotations": {"hash": "abc"}},
                "spec": {"replicas": 3, "template": {"metadata": {"labels": {"role": "worker"}},
                                                     "spec": {"nodeSelector": {"a": "b"}, "containers": [CONTAINER]}}},
                "status": {"readyReplicas": 3}}
    before = copy.deepcopy(workload)
    kept = projection(res)(workload)
    assert workload == before, "the object handed in is left as it is"
    expected = copy.deepcopy(workload)
    expected["spec"]["template"]["spec"]["containers"] = [{"name": "alluxio-master"}]
    assert kept == expected


def test_a_cached_secret_has_no_values_and_other_kinds_are_whole() -> None:
    secret = {"kind": "Secret", "metadata": {"name": "s", "managedFields": [{}]}, "data": {"k": "djE="},
              "stringData": {"k": "v1"}}
    assert projection(SECRET)(secret) == {"kind": "Secret", "metadata": {"name": "s"}}
    assert secret["data"] == {"k": "djE="} and "managedFields" in secret["metadata"]
    service = {"kind": "Service", "metadata": {"name": "m", "managedFields": [{}]},
               "spec": {"ports": [{"port": 19998}], "selector": {"role": "master"}}}
    assert projection(SERVICE)(service) == {"kind": "Service", "metadata": {"name": "m"}, "spec": service["spec"]}
    assert service["metadata"] == {"name": "m", "managedFields": [{}]}


def as_read(res: Resource, obj: Obj) -> Obj:
    """``obj`` as a reconcile reads it: Secrets come whole from the API server, the rest from caches."""
    return obj if res == SECRET else projection(res)(obj)


class CachedReads:
    """The in-memory API server as the operator's reconciles see it: each read as its cache keeps it."""

    def __init__(self, gw: MemoryGateway):
        self._gw = gw

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gw, name)

    def get(self, res: Resource, namespace: str | None, name: str) -> Obj | None:
        obj = self._gw.get(res, namespace, name)
        return as_read(res, obj) if obj is not None else None

    def list(self, res: Resource, namespace: str | None = None, labels: dict[str, str] | None = None) -> list[Obj]:
        return [as_read(res, o) for o in self._gw.list(res, namespace, labels)]


def lifecycle_run(root: Path, runtime: Obj, cached: bool) -> tuple[list[Obj], list[Obj], dict[str, int]]:
    """Set up a pair, scale it to one worker, lose its worker StatefulSet, then delete the pair:
    the objects after setup-and-repair, those after deletion, and the writes by verb."""
    cluster = FakeCluster(root)
    seed(cluster)
    if cached:
        reads = CachedReads(cluster.gw)
        cluster.reconciler = Reconciler(reads, cluster.reconciler.registry,  # type: ignore[arg-type]
                                        now=cluster.now, settings=cluster.reconciler.settings)
    res = ALLUXIO.resource if runtime["kind"] == ALLUXIO.kind else JINDO.resource
    name = runtime["metadata"]["name"]
    cluster.gw.create(dataset_manifest(name))
    cluster.gw.create(runtime)
    cluster.settle(name)
    assert cluster.dataset(name)["status"]["phase"] == "Bound"
    cluster.patch_spec(res, name, {"replicas": 1})
    cluster.settle(name)
    worker = next(o for o in cluster.gw.list(STATEFUL_SET, NS) if o["metadata"]["name"].endswith("worker"))
    assert worker["spec"]["replicas"] == 1
    cluster.gw.delete(STATEFUL_SET, NS, worker["metadata"]["name"])
    cluster.settle(name)
    repaired = comparable(cluster.gw.all_objects())
    assert worker["metadata"]["name"] in {o["metadata"]["name"] for o in repaired if o["kind"] == "StatefulSet"}
    cluster.gw.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reader", "namespace": NS},
                       "spec": {"containers": [{"name": "train", "image": "trainer"}],
                                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": name}}]}})
    cluster.gw.delete(res, NS, name)
    cluster.gw.delete(DATASET, NS, name)
    cluster.settle(name)
    assert cluster.gw.get(DATASET, NS, name) is not None, "deleted while a pod still reads it"
    cluster.gw.delete(POD, NS, "reader")
    cluster.settle(name)
    assert not cluster.gw.list(STATEFUL_SET, NS) and not cluster.gw.list(DAEMON_SET, NS)
    return repaired, comparable(cluster.gw.all_objects()), dict(cluster.gw.writes)


def comparable(objs: list[Obj]) -> list[Obj]:
    """The objects without what differs between two runs anyway (UIDs, versions, times)."""
    kept = []
    for obj in sorted(objs, key=lambda o: (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])):
        obj = copy.deepcopy(obj)
        for field in ("uid", "resourceVersion", "creationTimestamp", "ownerReferences", "generation"):
            obj["metadata"].pop(field, None)
        (obj["metadata"].get("labels") or {}).pop(OWNER_LABEL, None)
        kept.append(obj)
    return kept


@pytest.mark.parametrize("runtime", [alluxio_manifest, jindo_manifest])
def test_the_engines_make_the_same_objects_and_writes_from_cached_reads(tmp_path: Path, runtime: Any) -> None:
    whole = lifecycle_run(tmp_path / "whole", runtime(), cached=False)
    cached = lifecycle_run(tmp_path / "cached", runtime(), cached=True)
    assert cached[0] == whole[0]
    assert cached[1] == whole[1]
    assert cached[2] == whole[2]
