"""Data operations on the real control plane: the Job controller runs their Jobs, kwok their pods,
and the local cluster runs each operation pod's command against the Alluxio master's stand-in cache.

One Bound Alluxio pair serves every test of the module. The operations are reconciled here, beside
the pair, as the operator's two controllers would.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from engines.alluxio.kind import KIND_SPEC as ALLUXIO
from lifecycle.cli.run import install_crds
from lifecycle.k8s.connection import ApiServer
from lifecycle.k8s.gateway import DATASET, JOB, POD, ApiError, NotFound
from lifecycle.k8s.kube import KubeGateway
from lifecycle.local import LocalCluster
from lifecycle.reconcile.operations import OperationReconciler
from lifecycle.reconcile.oppass import operation_resource
from tests.cluster import IMMEDIATE_START
from tests.cluster.driver import Driver, fast_start, sample
from tests.cluster.operator_harness import OperatorProcess, create_pair, operators, phase, scripted_crds, wait_for

pytestmark = pytest.mark.cluster
__all__ = ["operators", "scripted_crds"]  # fixtures used below

NAME = "imagenet"
KINDS = ("DataLoad", "DataBackup", "DataMigrate", "DataProcess")


class Ops:
    """The pair's reconcile and the operations' reconcile, run together until something holds."""

    def __init__(self, d: Driver):
        self.d = d
        for kind in KINDS:
            d.gw.add_resource(operation_resource(kind))
        self.reconciler = OperationReconciler(d.gw, d.reconciler.registry)
        self.live: set[tuple[str, str]] = set()

    def create(self, kind: str, name: str, **spec: Any) -> None:
        if kind == "DataMigrate":
            spec.setdefault("to", {"dataset": {"name": NAME, "namespace": self.d.ns, "path": "/train"}})
        elif kind == "DataProcess":  # its pod's metadata is the processor's
            spec["processor"].setdefault("podMetadata", {"annotations": dict(IMMEDIATE_START)})
        else:
            spec.setdefault("dataset", {"name": NAME, "namespace": self.d.ns})
            spec.setdefault("podMetadata", {"annotations": dict(IMMEDIATE_START)})
        self.d.gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": kind,
                          "metadata": {"name": name, "namespace": self.d.ns}, "spec": spec})
        self.live.add((kind, name))

    def status(self, kind: str, name: str) -> dict[str, Any]:
        return dict((self.d.get(operation_resource(kind), name) or {}).get("status") or {})

    def until(self, observe: Any, accept: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            self.d.reconcile(NAME)
            for kind, name in sorted(self.live):
                self.reconciler.reconcile(kind, self.d.ns, name)
            seen = observe()
            if accept(seen):
                return seen
            if time.monotonic() >= deadline:
                raise AssertionError(f"{what} not reached within {timeout:g}s; last seen: {seen!r}")
            time.sleep(0.5)

    def phase(self, kind: str, name: str) -> str | None:
        return self.status(kind, name).get("phase")

    def cached(self) -> float:
        states = ((self.d.get(DATASET, NAME) or {}).get("status") or {}).get("cacheStates") or {}
        return float(str(states.get("cachedPercentage") or "0%").rstrip("%"))

    def lock(self) -> dict[str, str]:
        return dict(((self.d.get(DATASET, NAME) or {}).get("status") or {}).get("operationRef") or {})


@pytest.fixture(scope="module")
def bound(kube: ApiServer, typed_kube: client.ApiClient, cluster: LocalCluster) -> Iterator[Ops]:
    install_crds(KubeGateway(kube))
    core = client.CoreV1Api(typed_kube)
    created = core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(generate_name="dataops-")))
    assert created.metadata is not None and created.metadata.name is not None
    d = Driver(kube, created.metadata.name, cluster)
    secret, dataset, runtime = sample("alluxio.yaml")
    d.ufs_files({"s3://imagenet/train/part-0": 3 << 20, "s3://imagenet/train/part-1": 5 << 20,
                 "s3://imagenet/val/part-0": 2 << 20, "s3://raw/new/part-9": 1 << 20})
    d.apply_manifests([secret, dataset, fast_start(runtime)])
    d.until(NAME, lambda: d.phase(NAME), lambda p: p == "Bound", 90, "Dataset Bound")
    ops = Ops(d)
    try:
        yield ops
    finally:
        # The operations (their Jobs and pods) go first, then the pair, while their reconcilers
        # still run: a namespace deleted under a live pair keeps its finalizer and leaves the
        # pair's labels on the shared nodes.
        for kind, name in sorted(ops.live):
            d.gw.delete(operation_resource(kind), d.ns, name)
        ops.until(lambda: [k for k in ops.live if d.get(operation_resource(k[0]), k[1]) is not None],
                  lambda left: not left, 60, "every operation deleted")
        d.delete_pair(NAME, ALLUXIO.resource)
        core.delete_namespace(created.metadata.name)


SAMPLES = Path(__file__).resolve().parents[1] / "unit" / "operation_samples"


def test_the_reference_samples_are_accepted_and_a_bad_schedule_refused_by_the_api_server(bound: Ops) -> None:
    ops = bound
    for path in sorted(SAMPLES.glob("*.yaml")):
        for doc in (d for d in yaml.safe_load_all(path.read_text()) if d):
            doc["metadata"]["namespace"] = ops.d.ns
            doc["metadata"]["name"] = f"sample-{doc['metadata']['name']}"
            created = ops.d.gw.request("POST", ops.d.gw.path(operation_resource(doc["kind"]), ops.d.ns),
                                       query=[("dryRun", "All")], body=doc)
            assert created["spec"] == doc["spec"], path  # nothing pruned
    bad = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "DataLoad", "metadata": {"name": "bad"},
           "spec": {"dataset": {"name": NAME}, "policy": "Cron"}}
    with pytest.raises(ApiError, match="policy Cron needs a schedule"):
        ops.d.gw.request("POST", ops.d.gw.path(operation_resource("DataLoad"), ops.d.ns),
                         query=[("dryRun", "All")], body=bad)


def test_a_dataload_completes_and_the_cached_percentage_rises(bound: Ops) -> None:
    ops = bound
    assert ops.cached() == 0.0
    ops.create("DataLoad", "warm", target=[{"path": "/train"}])
    ops.until(lambda: ops.phase("DataLoad", "warm"), lambda p: p == "Complete", 60, "DataLoad Complete")
    cached = ops.until(ops.cached, lambda c: c > 0, 30, "cachedPercentage rises")
    assert 50.0 <= cached <= 90.0, cached  # /train is 8 of the Dataset's 10 MiB at the pair's last report
    status = ops.status("DataLoad", "warm")
    assert status["duration"] and status["progress"].startswith("succeeded")
    assert ops.lock() == {}
    table = ops.d.gw.request("GET", ops.d.gw.path(operation_resource("DataLoad"), ops.d.ns), accept=(
        "application/json;as=Table;v=v1;g=meta.k8s.io"))
    columns = [c["name"] for c in table["columnDefinitions"]]
    (row,) = [dict(zip(columns, r["cells"], strict=True)) for r in table["rows"]]
    assert (row["Dataset"], row["Phase"]) == (NAME, "Complete") and row["Progress"].startswith("succeeded")


def test_two_dataloads_chained_with_runafter_run_in_order(bound: Ops) -> None:
    ops = bound
    ops.create("DataLoad", "second", target=[{"path": "/val"}], runAfter={"kind": "DataLoad", "name": "first"})
    ops.create("DataLoad", "first", target=[{"path": "/train"}])
    ops.until(lambda: ops.phase("DataLoad", "second"), lambda p: p == "Complete", 90, "second Complete")
    first, second = ops.status("DataLoad", "first"), ops.status("DataLoad", "second")
    assert first["lifecycle"]["finished"] <= second["lifecycle"]["started"]


def test_a_datamigrate_holds_the_dataset_in_datamigrating_and_releases_it(bound: Ops) -> None:
    ops = bound
    ops.create("DataMigrate", "copy", **{"from": {"externalStorage": {"uri": "s3://raw/new"}}})
    ops.until(lambda: ops.d.phase(NAME), lambda p: p == "DataMigrating", 30, "Dataset DataMigrating")
    assert ops.lock() == {"DataMigrate": "copy"}
    ops.until(lambda: (ops.phase("DataMigrate", "copy"), ops.d.phase(NAME)), lambda s: s == ("Complete", "Bound"),
              60, "DataMigrate Complete, Dataset Bound")
    copied = ops.d.cluster.dir / "ufs" / "s3" / "imagenet" / "train" / "part-9"
    assert copied.stat().st_size == 1 << 20
    copied.unlink()  # the session's UFS is shared: tests/cluster/test_engines.py counts this bucket's files


def test_a_dataprocess_mounts_the_datasets_pvc_and_a_successor_requires_its_node(bound: Ops) -> None:
    ops = bound
    ops.create("DataProcess", "inventory", dataset={"name": NAME, "namespace": ops.d.ns, "mountPath": "/data"},
               processor={"script": {"image": "bash", "imageTag": "5", "command": ["bash", "-c"],
                                     "source": "ls -R /data"}})
    ops.until(lambda: ops.phase("DataProcess", "inventory"), lambda p: p == "Complete", 60, "DataProcess Complete")
    (pod,) = ops.d.gw.list(POD, ops.d.ns, labels={"batch.kubernetes.io/job-name": "inventory-process-1"})
    assert {"name": "fluid-dataset-vol", "persistentVolumeClaim": {"claimName": NAME}} in pod["spec"]["volumes"]
    assert {"name": "fluid-dataset-vol", "mountPath": "/data"} in [
        {k: m[k] for k in ("name", "mountPath")} for m in pod["spec"]["containers"][0]["volumeMounts"]]
    assert pod["spec"]["containers"][0]["image"] == "bash:5"
    node = pod["spec"]["nodeName"]  # where the real scheduler put it
    assert ops.status("DataProcess", "inventory")["nodeLabels"]["kubernetes.io/hostname"] == node
    ops.create("DataLoad", "near", target=[{"path": "/val"}],
               runAfter={"kind": "DataProcess", "name": "inventory", "affinityStrategy": {"policy": "Require"}})
    ops.until(lambda: ops.phase("DataLoad", "near"), lambda p: p == "Complete", 60, "the successor Complete")
    (successor,) = ops.d.gw.list(POD, ops.d.ns, labels={"batch.kubernetes.io/job-name": "near-load-1"})
    assert successor["spec"]["nodeName"] == node
    # A finished processor's pod still holds the PVC (Kubernetes keeps a PVC while a pod that names it
    # exists): deleting the operation deletes its Job, and with it the pod, so the Dataset can go.
    ops.d.gw.delete(operation_resource("DataProcess"), ops.d.ns, "inventory")
    ops.until(lambda: ops.d.gw.list(POD, ops.d.ns, labels={"batch.kubernetes.io/job-name": "inventory-process-1"}),
              lambda pods: not pods, 90, "the processor's pod gone with its operation")
    ops.live.discard(("DataProcess", "inventory"))


def test_deleting_an_executing_operation_releases_the_lock_and_leaves_no_job(bound: Ops) -> None:
    ops = bound
    # A pod that is never ready keeps the Job running while it is deleted.
    ops.create("DataLoad", "stuck", podMetadata={"annotations": {"pod-ready.stage.kwok.x-k8s.io/delay": "10m"}})
    ops.until(lambda: ops.phase("DataLoad", "stuck"), lambda p: p == "Executing", 30, "Executing")
    assert ops.lock() == {"DataLoad": "stuck"} and ops.d.get(JOB, "stuck-load-1") is not None
    ops.d.gw.delete(operation_resource("DataLoad"), ops.d.ns, "stuck")
    ops.until(lambda: ops.d.get(operation_resource("DataLoad"), "stuck"), lambda o: o is None, 30, "deleted")
    ops.live.discard(("DataLoad", "stuck"))
    assert ops.lock() == {}
    ops.until(lambda: ops.d.get(JOB, "stuck-load-1"), lambda j: j is None, 30, "its Job gone")


def test_a_cron_dataload_runs_at_least_twice(bound: Ops) -> None:
    ops = bound
    ops.create("DataLoad", "every-minute", policy="Cron", schedule="* * * * *", target=[{"path": "/val"}])
    runs = ops.until(lambda: (ops.status("DataLoad", "every-minute").get("lifecycle") or {}),
                     lambda rec: (rec.get("run") or 0) >= 2 and rec.get("finished", "") >= rec.get("started", "~"),
                     180, "two finished Cron runs")
    assert ops.status("DataLoad", "every-minute")["lastScheduleTime"].endswith(":00Z")
    assert runs["run"] >= 2
    with pytest.raises(NotFound):
        ops.d.gw.request("GET", ops.d.gw.path(JOB, ops.d.ns, "every-minute-load-1"))  # the earlier run's Job went


def test_the_operator_runs_a_dataload_and_its_successor(operators: list[OperatorProcess], scripted_crds: KubeGateway,
                                                        cluster: LocalCluster, namespace: str, tmp_path: Any) -> None:
    """The operator process, not this test, drives the operations: informers, queue, Jobs, RBAC."""
    gw = scripted_crds
    for kind in KINDS:
        gw.add_resource(operation_resource(kind))
    operators.append(OperatorProcess(cluster, namespace, tmp_path, "ops", extra=("--no-leader-elect",)))
    create_pair(gw, namespace, "demo")
    wait_for("Bound", lambda: phase(gw, namespace, "demo") == "Bound", 90)
    for name, after in (("second", "first"), ("first", None)):
        spec: dict[str, Any] = {"dataset": {"name": "demo", "namespace": namespace},
                                "podMetadata": {"annotations": dict(IMMEDIATE_START)}}
        if after:
            spec["runAfter"] = {"kind": "DataLoad", "name": after}
        gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "DataLoad",
                   "metadata": {"name": name, "namespace": namespace}, "spec": spec})

    def phases() -> tuple[Any, ...]:
        return tuple(((gw.get(operation_resource("DataLoad"), namespace, n) or {}).get("status") or {}).get("phase")
                     for n in ("first", "second"))

    wait_for("both DataLoads Complete", lambda: phases() == ("Complete", "Complete"), 90)
    first, second = (gw.get(operation_resource("DataLoad"), namespace, n)["status"]["lifecycle"]  # type: ignore[index]
                     for n in ("first", "second"))
    assert first["finished"] <= second["started"]
