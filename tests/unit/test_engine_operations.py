"""Engines supply the work of data operations: the Alluxio Jobs and their commands, run by the
stand-in CLIs against the master's cache (Jindo's, DataProcess and "this runtime cannot do that" are
in test_operation_jobs.py)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from lifecycle.engine.operations import TOOL_POD_ANNOTATION
from lifecycle.k8s.gateway import JOB
from lifecycle.reconcile.operations import OperationReconciler
from lifecycle.reconcile.oppass import operation_resource
from tests.unit.cache_cluster import FakeCluster, alluxio_manifest, dataset_manifest, seed

NS, NAME = "team", "imagenet"


def bound(tmp_path: Path) -> tuple[FakeCluster, OperationReconciler]:
    cluster = FakeCluster(tmp_path)
    for kind in ("DataLoad", "DataBackup", "DataMigrate", "DataProcess"):
        cluster.gw.add_resource(operation_resource(kind))
    seed(cluster)
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest())
    cluster.settle()
    assert cluster.dataset()["status"]["phase"] == "Bound"
    return cluster, OperationReconciler(cluster.gw, cluster.reconciler.registry, now=cluster.now)


def create(cluster: FakeCluster, kind: str, name: str, spec: dict[str, Any]) -> None:
    cluster.gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": kind,
                       "metadata": {"name": name, "namespace": NS}, "spec": spec})


def commands(job: dict[str, Any]) -> list[list[str]]:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    shell, flag, script = container["command"]
    assert (shell, flag) == ("/bin/sh", "-c")
    return [shlex.split(part) for part in script.split(" && ")]


def test_an_alluxio_dataload_job_loads_its_targets_and_the_cached_percentage_rises(tmp_path: Path) -> None:
    cluster, ops = bound(tmp_path)
    assert cluster.dataset()["status"]["cacheStates"]["cachedPercentage"] == "0.0%"
    create(cluster, "DataLoad", "warm", {"dataset": {"name": NAME, "namespace": NS}, "loadMetadata": True,
                                         "target": [{"path": "/train", "replicas": 2}]})
    assert ops.reconcile("DataLoad", NS, "warm").state == "Executing"
    job = cluster.get(JOB, "warm-load-1")
    assert commands(job) == [["alluxio", "fs", "loadMetadata", "-R", "/train"],
                             ["alluxio", "fs", "distributedLoad", "--replication", "2", "/train"]]
    master = job["spec"]["template"]["metadata"]["annotations"][TOOL_POD_ANNOTATION]
    assert master == f"{NAME}-master-0" and job["spec"]["template"]["spec"]["containers"][0]["image"].startswith(
        "alluxio/alluxio:")
    for argv in commands(job):  # what the Job's pod runs, against the master's cache
        assert cluster.exec(NS, master, None, argv).code == 0
    cluster.gw.set_status(JOB, NS, "warm-load-1", {"succeeded": 1, "conditions": [
        {"type": "Complete", "status": "True"}]})
    cluster.settle(passes=3)
    cached = cluster.dataset()["status"]["cacheStates"]["cachedPercentage"]
    assert 79.0 <= float(cached.rstrip("%")) <= 80.0  # /train holds 8000 of the Dataset's 10000 bytes
    assert ops.reconcile("DataLoad", NS, "warm").state == "Complete"
    status = cluster.get(operation_resource("DataLoad"), "warm")["status"]
    assert status["progress"] == f"succeeded; {cached} of the Dataset cached"


def test_alluxio_backup_and_migrate_commands(tmp_path: Path) -> None:
    cluster, ops = bound(tmp_path)
    create(cluster, "DataBackup", "save", {"dataset": NAME, "backupPath": "pvc://backups/imagenet"})
    ops.reconcile("DataBackup", NS, "save")
    assert commands(cluster.get(JOB, "save-backup-1")) == [
        ["alluxio", "fsadmin", "backup", "/alluxio-backups/imagenet", "--local"]]
    create(cluster, "DataMigrate", "copy", {"from": {"externalStorage": {"uri": "s3://raw/x"}},
                                            "to": {"dataset": {"name": NAME, "namespace": NS, "path": "/train"}}})
    ops.reconcile("DataMigrate", NS, "copy")
    assert commands(cluster.get(JOB, "copy-migrate-1")) == [["alluxio", "fs", "distributedCp", "s3://raw/x", "/train"]]
    # Run by the stand-in against the master: the copy lands in /train's UFS, the backup in the master's folder.
    cluster.ufs_file("s3://raw/x/new.bin", 700)
    master = f"{NAME}-master-0"
    for job in ("save-backup-1", "copy-migrate-1"):
        for argv in commands(cluster.get(JOB, job)):
            result = cluster.exec(NS, master, None, argv)
            assert result.code == 0, result
    copied = tmp_path / "ufs" / "s3" / "imagenet" / "train" / "new.bin"
    assert copied.stat().st_size == 700
    assert list((cluster.state_dir(master) / "backups" / "alluxio-backups" / "imagenet").glob("alluxio-backup-*.gz"))
