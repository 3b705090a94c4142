"""The Jindo engine on the in-memory API server, with the stand-in ``jindocache`` answering execs.

Same fake cluster as the Alluxio tests; here what is Jindo's own: its names and configuration,
Secret-backed options as environment references, the jindocache commands and their output, and
the fuse-only runtime that has neither master nor workers.
"""

from __future__ import annotations

import json
from typing import Any

from engines.jindo.kind import KIND_SPEC as JINDO
from lifecycle.k8s.gateway import CONFIG_MAP, DAEMON_SET, DATASET, NODE, PV, SERVICE, STATEFUL_SET, Obj
from lifecycle.local.standin import cache as standin
from tests.unit.cache_cluster import NS, SECRET_VALUE, FakeCluster, dataset_manifest

NAME = "hadoop"
FUSE_ONLY: dict[str, Any] = {"master": {"disabled": True}, "worker": {"disabled": True}}


def jindo_manifest(name: str = NAME, **spec: Any) -> Obj:
    spec.setdefault("replicas", 2)
    spec.setdefault("tieredstore", {"levels": [{"mediumtype": "MEM", "path": "/dev/shm", "quota": "1Gi",
                                                "high": "0.9", "low": "0.8"}]})
    return {"apiVersion": "data.fluid.io/v1alpha1", "kind": "JindoRuntime",
            "metadata": {"name": name, "namespace": NS}, "spec": spec}


def pair(cluster: FakeCluster, **spec: Any) -> FakeCluster:
    cluster.gw.create(dataset_manifest(NAME))
    cluster.gw.create(jindo_manifest(**spec))
    cluster.settle(NAME)
    assert cluster.dataset(NAME)["status"]["phase"] == "Bound", cluster.gw.events
    return cluster


def test_setup_creates_jindo_names_and_configuration(cluster: FakeCluster) -> None:
    pair(cluster)
    owner = cluster.get(JINDO.resource, NAME)["metadata"]["uid"]
    made = {(o["kind"], o["metadata"]["name"]) for o in cluster.gw.all_objects()
            if any(r["uid"] == owner for r in o["metadata"].get("ownerReferences") or []) and o["kind"] != "Pod"}
    assert made == {
        ("ConfigMap", "hadoop-jindofs-config"), ("ConfigMap", "hadoop-jindofs-client-config"),
        ("ConfigMap", "hadoop-jindocache-values"), ("Service", "hadoop-jindofs-master-0"),
        ("StatefulSet", "hadoop-jindofs-master"), ("StatefulSet", "hadoop-jindofs-worker"),
        ("DaemonSet", "hadoop-jindofs-fuse"),
    }
    status = cluster.get(JINDO.resource, NAME)["status"]
    assert status["valueFile"] == "hadoop-jindocache-values"
    assert status["selector"] == "app=jindo,release=hadoop,role=jindofs-worker"
    worker = cluster.get(STATEFUL_SET, "hadoop-jindofs-worker")["spec"]["template"]
    assert worker["metadata"]["labels"]["role"] == "jindofs-worker"
    assert worker["metadata"]["labels"]["fluid.io/dataset"] == "team-hadoop"
    assert [c["name"] for c in worker["spec"]["containers"]] == ["jindofs-worker"]
    client = cluster.get(CONFIG_MAP, "hadoop-jindofs-client-config")["data"]["jindocache-client.cfg"]
    assert "fs.jindocache.namespace.rpc.address = hadoop-jindofs-master-0.team:20000" in client
    server = cluster.get(CONFIG_MAP, "hadoop-jindofs-config")["data"]["jindocache.cfg"]
    assert "storage.ram.cache.size = 1073741824" in server
    pv = cluster.get(PV, "team-hadoop", None)["spec"]["csi"]["volumeAttributes"]
    assert pv["fluid_path"] == "/runtime-mnt/jindo/team/hadoop/jindofs-fuse"
    assert pv["mount_type"] == "fuse.jindofs-fuse"
    ds = cluster.dataset(NAME)["status"]
    assert ds["hcfs"]["endpoint"] == "jindo://hadoop-jindofs-master-0.team:20000"
    assert ds["runtimes"][0]["type"] == "jindo"


def test_mounts_reports_and_ufs_counts_use_jindocache_and_jindo_fs(cluster: FakeCluster) -> None:
    pair(cluster)
    mounts = [argv for argv in cluster.commands("-mount") if len(argv) == 4]
    assert mounts == [["jindocache", "-mount", "/train", "s3://imagenet/train"],
                      ["jindocache", "-mount", "/val", "s3://imagenet/val"]]
    assert all(pod == "hadoop-jindofs-master-0" and c == "jindofs-master" for pod, c, _ in cluster.execs)
    table = standin.mounts(cluster.state_dir("hadoop-jindofs-master-0"), tool="jindocache")
    assert [m["path"] for m in table] == ["/train", "/val"]
    standin.set_cached(cluster.state_dir("hadoop-jindofs-master-0"), {"/train/a.jpg": 3000}, tool="jindocache")
    cluster.settle(NAME, passes=2)
    status = cluster.dataset(NAME)["status"]
    # `jindo fs -count` per mount sizes the UFS (3000 + 5000 + 2000 bytes), as Fluid's jindocache engine does.
    assert ["jindo", "fs", "-count", "jindo:///train"] in [argv for _, _, argv in cluster.execs]
    assert status["fileNum"] == "3" and status["ufsTotal"] == "9.77KiB"
    assert status["cacheStates"] == {"cached": "2.93KiB", "cacheCapacity": "2.00GiB", "cachedPercentage": "30.0%"}


def test_secret_options_reach_pods_as_secret_references_only(cluster: FakeCluster) -> None:
    pair(cluster)
    assert SECRET_VALUE not in json.dumps([o for o in cluster.gw.all_objects() if o["kind"] != "Secret"])
    master = cluster.get(STATEFUL_SET, "hadoop-jindofs-master")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "JINDO_SECRET_AWS_SECRETKEY",
            "valueFrom": {"secretKeyRef": {"name": "s3-keys", "key": "secret"}}} in master["env"]
    server = cluster.get(CONFIG_MAP, "hadoop-jindofs-config")["data"]["jindocache.cfg"]
    assert "aws.secretKey = ${env.JINDO_SECRET_AWS_SECRETKEY}" in server
    assert "fs.s3a.region = us-east-1" in server


def test_an_idle_pass_writes_nothing(cluster: FakeCluster) -> None:
    pair(cluster)
    cluster.settle(NAME, passes=2)
    before = cluster.writes()
    for _ in range(3):
        assert cluster.reconcile(NAME).failure is None
    assert cluster.writes() == before


def test_deletion_formats_the_cache_and_leaves_nothing(cluster: FakeCluster) -> None:
    pair(cluster)
    assert cluster.get(NODE, "node-0", None)["metadata"]["labels"]["fluid.io/s-jindo-team-hadoop"] == "true"
    cluster.gw.delete(DATASET, NS, NAME)
    cluster.settle(NAME, passes=8)
    assert cluster.commands("-formatCache") == [["jindocache", "-formatCache", "-force"]]
    assert [o["metadata"]["name"] for o in cluster.gw.all_objects()
            if o["kind"] in ("ConfigMap", "StatefulSet", "DaemonSet", "Service", "Pod", "JindoRuntime")] == []
    assert not [k for n in cluster.gw.list(NODE) for k in n["metadata"].get("labels") or {} if "fluid" in k]


def test_engine_checks_name_the_field_and_the_fix(cluster: FakeCluster) -> None:
    cluster.gw.create(dataset_manifest(NAME))
    cluster.gw.create(jindo_manifest(master={"disabled": True}))
    cluster.settle(NAME, passes=2)
    message = next(e.message for e in cluster.gw.events if e.reason == "ErrorValidateSpecFields")
    assert "spec.worker.disabled: workers cannot run without the master; disable both master and worker " \
        "for a fuse-only runtime, or neither" in message


# -- fuse-only -------------------------------------------------------------------------------------


def test_fuse_only_runs_just_the_fuse_and_binds(cluster: FakeCluster) -> None:
    pair(cluster, **FUSE_ONLY)
    kinds = {(o["kind"], o["metadata"]["name"]) for o in cluster.gw.all_objects()
             if o["kind"] in ("StatefulSet", "DaemonSet", "Service")}
    assert kinds == {("DaemonSet", "hadoop-jindofs-fuse")}
    assert cluster.execs == []
    status = cluster.get(JINDO.resource, NAME)["status"]
    assert (status["masterPhase"], status["workerPhase"], status["fusePhase"]) == ("Ready", "Ready", "Ready")
    assert status["desiredMasterNumberScheduled"] == 0 and status["desiredWorkerNumberScheduled"] == 0
    assert "selector" not in status
    client = cluster.get(CONFIG_MAP, "hadoop-jindofs-client-config")["data"]
    assert "fs.jindocache.namespace.rpc.address" not in client["jindocache-client.cfg"]
    assert "s3://imagenet/train" in client["mounts.json"]
    ds = cluster.dataset(NAME)["status"]
    assert ds["hcfs"]["endpoint"] == "N/A"
    assert ds["cacheStates"] == {"cached": "0.00B", "cacheCapacity": "0.00B"}
    assert cluster.get(PV, "team-hadoop", None)["spec"]["csi"]["volumeAttributes"]["fluid_path"] == \
        "/runtime-mnt/jindo/team/hadoop/jindofs-fuse"
    fuse = cluster.get(DAEMON_SET, "hadoop-jindofs-fuse")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "JINDO_SECRET_AWS_SECRETKEY",
            "valueFrom": {"secretKeyRef": {"name": "s3-keys", "key": "secret"}}} in fuse["env"]


def test_fuse_only_readiness_follows_the_fuse(cluster: FakeCluster) -> None:
    cluster.unready.add("hadoop-jindofs-fuse")
    cluster.gw.patch(NODE, None, "node-0", {"metadata": {"labels": {"fluid.io/f-team-hadoop": "true"}}})
    cluster.gw.create(dataset_manifest(NAME))
    cluster.gw.create(jindo_manifest(**FUSE_ONLY))
    cluster.settle(NAME, passes=4)
    assert cluster.get(JINDO.resource, NAME)["status"]["lifecycle"]["state"] == "SettingUpMaster"
    assert cluster.dataset(NAME)["status"]["phase"] == "NotBound"
    cluster.unready.clear()
    cluster.settle(NAME, passes=3)
    status = cluster.get(JINDO.resource, NAME)["status"]
    assert status["fuseNumberReady"] == 1 and status["fusePhase"] == "Ready"
    assert cluster.dataset(NAME)["status"]["phase"] == "Bound"


def test_fuse_only_mount_changes_update_the_fuse_configuration(cluster: FakeCluster) -> None:
    pair(cluster, **FUSE_ONLY)
    before = cluster.get(DAEMON_SET, "hadoop-jindofs-fuse")
    mounts = cluster.dataset(NAME)["spec"]["mounts"][:1]
    cluster.gw.patch(DATASET, NS, NAME, {"spec": {"mounts": mounts}})
    outcome = cluster.reconcile(NAME)
    assert [(m.source, m.dest) for m in outcome.moves if m.machine == "Dataset"] == [
        ("Bound", "Updating"), ("Updating", "Bound")]
    after = cluster.get(DAEMON_SET, "hadoop-jindofs-fuse")
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["spec"]["template"]["metadata"]["annotations"] != before["spec"]["template"]["metadata"][
        "annotations"]
    assert "s3://imagenet/val" not in cluster.get(CONFIG_MAP, "hadoop-jindofs-client-config")["data"]["mounts.json"]
    assert cluster.execs == []


def test_fuse_only_deletion_leaves_nothing(cluster: FakeCluster) -> None:
    pair(cluster, **FUSE_ONLY)
    cluster.gw.patch(NODE, None, "node-2", {"metadata": {"labels": {"fluid.io/f-team-hadoop": "true"}}})
    cluster.gw.delete(DATASET, NS, NAME)
    cluster.settle(NAME, passes=6)
    assert [o["kind"] for o in cluster.gw.all_objects()
            if o["kind"] in ("ConfigMap", "DaemonSet", "Pod", "Service", "JindoRuntime", "Dataset")] == []
    assert not [k for n in cluster.gw.list(NODE) for k in n["metadata"].get("labels") or {} if "fluid" in k]
    assert not cluster.gw.list(SERVICE, NS)
