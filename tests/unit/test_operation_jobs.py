"""The Jobs of data operations as a user's spec shapes them: DataProcess on any runtime (the Dataset's
PVC mounted where asked), a backup's PVC in its pod, the pod placement fields of every kind, a
successor placed by its predecessor's node, and Jindo's load through its own CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lifecycle.engine.process import DATASET_VOLUME, SCRIPT_CONTAINER
from lifecycle.k8s.gateway import JOB, POD, Obj
from lifecycle.reconcile.operations import OperationReconciler
from lifecycle.reconcile.oppass import operation_resource
from tests.unit.cache_cluster import FakeCluster, seed
from tests.unit.test_engine_operations import NAME, NS, bound, commands, create
from tests.unit.test_jindo_engine import NAME as JINDO_NAME
from tests.unit.test_jindo_engine import pair

SCRIPT = {"image": "bash", "imageTag": "5.2", "imagePullPolicy": "IfNotPresent", "restartPolicy": "OnFailure",
          "command": ["bash", "-c"], "source": "ls -R /data > /out/files.txt",
          "env": [{"name": "LEVEL", "value": "debug"}], "resources": {"limits": {"cpu": "1"}},
          "volumes": [{"name": "out", "emptyDir": {}}], "volumeMounts": [{"name": "out", "mountPath": "/out"}]}


def pod_of(job: Obj) -> Obj:
    spec: Obj = job["spec"]["template"]["spec"]
    return spec


def finish(cluster: Any, job: str, node: str | None = None) -> None:
    """The Job controller's part: a pod on ``node`` (when given), then the Job Complete."""
    if node is not None:
        cluster.gw.create({"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": f"{job}-x", "namespace": NS,
                                        "labels": {"batch.kubernetes.io/job-name": job}},
                           "spec": {"nodeName": node, "containers": []}, "status": {"phase": "Succeeded"}})
    cluster.gw.set_status(JOB, NS, job, {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})


def test_a_script_dataprocess_mounts_the_datasets_pvc_and_completes_on_any_runtime(tmp_path: Path) -> None:
    cluster, ops = bound(tmp_path)
    create(cluster, "DataProcess", "count", {
        "dataset": {"name": NAME, "namespace": NS, "mountPath": "/data", "subPath": "train"},
        "processor": {"serviceAccountName": "reader", "podMetadata": {"labels": {"team": "vision"}},
                      "script": SCRIPT}})
    assert ops.reconcile("DataProcess", NS, "count").state == "Executing"
    job = cluster.get(JOB, "count-process-1")
    pod = pod_of(job)
    (container,) = pod["containers"]
    assert container["name"] == SCRIPT_CONTAINER and container["image"] == "bash:5.2"
    assert container["command"] == ["bash", "-c"] and container["args"] == [SCRIPT["source"]]
    assert container["env"] == SCRIPT["env"] and container["resources"] == SCRIPT["resources"]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["volumeMounts"] == [{"name": "out", "mountPath": "/out"},
                                         {"name": DATASET_VOLUME, "mountPath": "/data", "subPath": "train"}]
    assert pod["volumes"] == [{"name": "out", "emptyDir": {}},
                              {"name": DATASET_VOLUME, "persistentVolumeClaim": {"claimName": NAME}}]
    assert pod["serviceAccountName"] == "reader" and pod["restartPolicy"] == "OnFailure"
    assert job["spec"]["template"]["metadata"]["labels"]["team"] == "vision"
    finish(cluster, "count-process-1")
    assert ops.reconcile("DataProcess", NS, "count").state == "Complete"
    status = cluster.get(operation_resource("DataProcess"), "count")["status"]
    assert status["phase"] == "Complete" and status["progress"] == "succeeded"
    assert (cluster.dataset()["status"].get("operationRef") or {}).get("DataProcess") in (None, "")


def test_a_job_dataprocess_gets_the_volume_in_every_container(tmp_path: Path) -> None:
    cluster, ops = bound(tmp_path)
    pod_spec = {"restartPolicy": "Always",
                "initContainers": [{"name": "fetch", "image": "busybox", "volumeMounts": [
                    {"name": "scratch", "mountPath": "/scratch"}]}],
                "containers": [{"name": "train", "image": "pytorch"}, {"name": "log", "image": "busybox"}],
                "volumes": [{"name": "scratch", "emptyDir": {}}]}
    create(cluster, "DataProcess", "train", {"dataset": {"name": NAME, "namespace": NS, "mountPath": "/data"},
                                             "processor": {"job": {"podSpec": pod_spec}}})
    assert ops.reconcile("DataProcess", NS, "train").state == "Executing"
    pod = pod_of(cluster.get(JOB, "train-process-1"))
    dataset_mount = {"name": DATASET_VOLUME, "mountPath": "/data"}
    assert pod["initContainers"][0]["volumeMounts"] == [{"name": "scratch", "mountPath": "/scratch"}, dataset_mount]
    assert [c["volumeMounts"] for c in pod["containers"]] == [[dataset_mount], [dataset_mount]]
    assert pod["volumes"][-1] == {"name": DATASET_VOLUME, "persistentVolumeClaim": {"claimName": NAME}}
    assert pod["restartPolicy"] == "Never"  # a Job's pod cannot be Always


@pytest.mark.parametrize(("processor", "field", "words"), [
    ({"script": {"command": ["sh"], "source": "ls"}}, "spec.processor.script.image", "has no image"),
    ({"script": {"image": "bash", "volumeMounts": [{"name": "x", "mountPath": "/data"}]}},
     "spec.processor.script.volumeMounts", "where the Dataset goes"),
    ({"job": {"podSpec": {"containers": []}}}, "spec.processor.job.podSpec.containers", "no container"),
    ({"job": {"podSpec": {"containers": [{"name": "c", "image": "i", "volumeMounts": [
        {"name": DATASET_VOLUME, "mountPath": "/elsewhere"}]}]}}}, "spec.processor.job.podSpec.containers",
     "the Dataset's"),
])
def test_a_dataprocess_that_cannot_work_fails_naming_the_field(tmp_path: Path, processor: Obj, field: str,
                                                               words: str) -> None:
    cluster, ops = bound(tmp_path)
    create(cluster, "DataProcess", "bad", {"dataset": {"name": NAME, "namespace": NS, "mountPath": "/data"},
                                           "processor": processor})
    assert ops.reconcile("DataProcess", NS, "bad").state == "Failed"
    (condition,) = cluster.get(operation_resource("DataProcess"), "bad")["status"]["conditions"]
    assert condition["reason"] == "InvalidSpec" and field in condition["message"] and words in condition["message"]
    assert cluster.gw.list(JOB, NS) == []


def test_a_backup_to_a_pvc_mounts_the_claim_and_a_bad_claim_is_refused(tmp_path: Path) -> None:
    cluster, ops = bound(tmp_path)
    create(cluster, "DataBackup", "save", {"dataset": NAME, "backupPath": "pvc://backups/imagenet",
                                           "runAs": {"uid": 1000, "gid": 100}})
    ops.reconcile("DataBackup", NS, "save")
    job = cluster.get(JOB, "save-backup-1")
    pod = pod_of(job)
    assert pod["volumes"] == [{"name": "backup", "persistentVolumeClaim": {"claimName": "backups"}}]
    assert pod["containers"][0]["volumeMounts"] == [{"name": "backup", "mountPath": "/alluxio-backups"}]
    assert commands(job) == [["alluxio", "fsadmin", "backup", "/alluxio-backups/imagenet", "--local"]]
    assert pod["securityContext"] == {"runAsUser": 1000, "runAsGroup": 100}
    create(cluster, "DataBackup", "odd", {"dataset": NAME, "backupPath": "pvc://Bad_Claim/x"})
    assert ops.reconcile("DataBackup", NS, "odd").state == "Failed"
    (condition,) = cluster.get(operation_resource("DataBackup"), "odd")["status"]["conditions"]
    assert "spec.backupPath" in condition["message"] and "'Bad_Claim' is not a PVC name" in condition["message"]


PLACEMENT = {"nodeSelector": {"disk": "ssd"}, "schedulerName": "batch",
             "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "data", "effect": "NoSchedule"}],
             "imagePullSecrets": [{"name": "registry"}], "resources": {"requests": {"memory": "1Gi"}},
             "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}},
             "podMetadata": {"labels": {"team": "vision"}, "annotations": {"note": "warm-up"}}}


def test_the_placement_fields_of_a_dataload_reach_its_jobs_pod(tmp_path: Path) -> None:
    cluster, ops = bound(tmp_path)
    create(cluster, "DataLoad", "warm", {"dataset": {"name": NAME, "namespace": NS}, **PLACEMENT})
    ops.reconcile("DataLoad", NS, "warm")
    job = cluster.get(JOB, "warm-load-1")
    pod = pod_of(job)
    for key in ("nodeSelector", "schedulerName", "tolerations", "imagePullSecrets", "affinity"):
        assert pod[key] == PLACEMENT[key], key
    assert pod["containers"][0]["resources"] == PLACEMENT["resources"]
    meta = job["spec"]["template"]["metadata"]
    assert meta["labels"]["team"] == "vision" and meta["annotations"]["note"] == "warm-up"
    assert "data.fluid.io/operation-tool-pod" in meta["annotations"]  # the engine's own stays


@pytest.mark.parametrize("policy", ["Require", "Prefer"])
def test_a_successor_runs_near_its_predecessor_when_asked(tmp_path: Path, policy: str) -> None:
    cluster, ops = bound(tmp_path)
    create(cluster, "DataLoad", "first", {"dataset": {"name": NAME, "namespace": NS}})
    strategy: Obj = {"policy": policy}
    create(cluster, "DataLoad", "second", {"dataset": {"name": NAME, "namespace": NS},
                                           "runAfter": {"kind": "DataLoad", "name": "first",
                                                        "affinityStrategy": strategy}})
    ops.reconcile("DataLoad", NS, "first")
    finish(cluster, "first-load-1", node="node-2")
    assert ops.reconcile("DataLoad", NS, "first").state == "Complete"
    labels = cluster.get(operation_resource("DataLoad"), "first")["status"]["nodeLabels"]
    assert labels == {"kubernetes.io/hostname": "node-2"}
    assert ops.reconcile("DataLoad", NS, "second").state == "Executing"
    affinity = pod_of(cluster.get(JOB, "second-load-1"))["affinity"]["nodeAffinity"]
    near = {"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-2"]}
    if policy == "Require":
        assert affinity == {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [near]}]}}
    else:
        assert affinity == {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "preference": {"matchExpressions": [near]}}]}


def test_a_successor_without_a_strategy_goes_anywhere(tmp_path: Path) -> None:
    cluster, ops = bound(tmp_path)
    create(cluster, "DataLoad", "first", {"dataset": {"name": NAME, "namespace": NS}})
    create(cluster, "DataLoad", "second", {"dataset": {"name": NAME, "namespace": NS},
                                           "runAfter": {"kind": "DataLoad", "name": "first"}})
    ops.reconcile("DataLoad", NS, "first")
    finish(cluster, "first-load-1", node="node-1")
    ops.reconcile("DataLoad", NS, "first")
    assert ops.reconcile("DataLoad", NS, "second").state == "Executing"
    assert "affinity" not in pod_of(cluster.get(JOB, "second-load-1"))


def test_a_jindo_dataload_runs_jindocache_and_a_backup_is_not_something_jindo_does(tmp_path: Path) -> None:
    cluster = FakeCluster(tmp_path)
    for kind in ("DataLoad", "DataBackup"):
        cluster.gw.add_resource(operation_resource(kind))
    seed(cluster)
    pair(cluster)
    ops = OperationReconciler(cluster.gw, cluster.reconciler.registry, now=cluster.now)
    create(cluster, "DataLoad", "warm", {"dataset": {"name": JINDO_NAME, "namespace": NS}, "loadMetadata": True,
                                         "target": [{"path": "/train", "replicas": 2}]})
    assert ops.reconcile("DataLoad", NS, "warm").state == "Executing"
    job = cluster.get(JOB, "warm-load-1")
    assert commands(job) == [["jindocache", "-load", "-R", "-meta", "-replica", "2", "/train"]]
    master = job["spec"]["template"]["metadata"]["annotations"]["data.fluid.io/operation-tool-pod"]
    assert cluster.gw.get(POD, NS, master) is not None
    for argv in commands(job):  # what the Job's pod runs, against the master's cache
        result = cluster.exec(NS, master, None, argv)
        assert result.code == 0, result
    create(cluster, "DataBackup", "save", {"dataset": JINDO_NAME})
    assert ops.reconcile("DataBackup", NS, "save").state == "Failed"
    (condition,) = cluster.get(operation_resource("DataBackup"), "save")["status"]["conditions"]
    assert condition["reason"] == "NotSupported"
    assert f"JindoRuntime {NS}/{JINDO_NAME} cannot run DataBackup (it runs DataLoad, DataProcess)" in condition[
        "message"]
    assert [j["metadata"]["name"] for j in cluster.gw.list(JOB, NS)] == ["warm-load-1"]

