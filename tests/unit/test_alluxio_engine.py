"""The Alluxio engine on the in-memory API server, with the stand-in ``alluxio`` CLI answering execs.

``FakeCluster`` plays the controllers the engine relies on (StatefulSet and DaemonSet pods with
their node, readiness and start time) and runs the stand-in CLIs in-process for every exec, so the
tests see the objects, the argument vectors and the parsed reports the engine really produces.
The Jindo tests reuse it.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import engines.alluxio
import engines.jindo
from engines.alluxio.engine import AlluxioEngine
from engines.alluxio.kind import KIND_SPEC as ALLUXIO
from engines.cache.objects import CONFIG_CHECKSUM, digest
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
    PV,
    PVC,
    SECRET,
    SERVICE,
    STATEFUL_SET,
    ExecResult,
    Obj,
    owner_reference,
)
from lifecycle.k8s.memory import MemoryGateway
from lifecycle.k8s.naming import fuse_label, reference_key
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


@pytest.fixture
def cluster(tmp_path: Path) -> FakeCluster:
    made = FakeCluster(tmp_path)
    seed(made)
    return made


@pytest.fixture
def bound(cluster: FakeCluster) -> FakeCluster:
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest())
    cluster.settle()
    assert cluster.dataset()["status"]["phase"] == "Bound", cluster.gw.events
    return cluster


# -- what setup creates ----------------------------------------------------------------------------


def test_setup_creates_the_reference_objects_owned_by_the_runtime(bound: FakeCluster) -> None:
    runtime = bound.get(ALLUXIO.resource, NAME)
    owner = runtime["metadata"]["uid"]
    made = {(o["kind"], o["metadata"]["name"]) for o in bound.gw.all_objects()
            if any(r["uid"] == owner for r in o["metadata"].get("ownerReferences") or [])
            and o["kind"] != "Pod"}
    assert made == {
        ("ConfigMap", "imagenet-config"), ("ConfigMap", "imagenet-mount-config"),
        ("ConfigMap", "imagenet-alluxio-values"), ("Service", "imagenet-master-0"),
        ("StatefulSet", "imagenet-master"), ("StatefulSet", "imagenet-worker"), ("DaemonSet", "imagenet-fuse"),
    }
    status = runtime["status"]
    assert status["valueFile"] == "imagenet-alluxio-values"
    assert status["selector"] == "app=alluxio,release=imagenet,role=alluxio-worker"
    assert (status["masterPhase"], status["workerPhase"], status["fusePhase"]) == ("Ready", "Ready", "Ready")
    assert (status["desiredWorkerNumberScheduled"], status["currentWorkerNumberScheduled"],
            status["workerNumberReady"]) == (3, 3, 3)
    assert status["setupDuration"].endswith("s")
    assert {c["type"] for c in status["conditions"]} >= {"MasterInitialized", "MasterReady", "WorkersInitialized",
                                                          "WorkersReady", "FusesInitialized", "FusesReady"}
    master = bound.get(STATEFUL_SET, "imagenet-master")
    assert [c["name"] for c in master["spec"]["template"]["spec"]["containers"]] == [
        "alluxio-master", "alluxio-job-master"]
    assert bound.get(SERVICE, "imagenet-master-0")["spec"]["selector"]["statefulset.kubernetes.io/pod-name"] == \
        "imagenet-master-0"
    fuse = bound.get(DAEMON_SET, "imagenet-fuse")
    assert fuse["spec"]["template"]["spec"]["nodeSelector"] == {"fluid.io/f-team-imagenet": "true"}


def test_workers_start_at_zero_with_parallel_pods_and_the_reference_placement(cluster: FakeCluster) -> None:
    required = {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "topology.example.com/zone", "operator": "In", "values": ["a"]}]}]}
    cluster.gw.create(dataset_manifest(nodeAffinity={"required": required}))
    cluster.gw.create(alluxio_manifest())
    applied: list[Obj] = []
    apply = cluster.gw.apply

    def recording(obj: Obj) -> Obj:
        applied.append(copy.deepcopy(obj))
        return apply(obj)

    cluster.gw.apply = recording  # type: ignore[method-assign]
    cluster.settle()
    workers = [o for o in applied if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "imagenet-worker"]
    assert [w["spec"]["replicas"] for w in workers] == [0, 3]
    worker = cluster.get(STATEFUL_SET, "imagenet-worker")
    assert worker["spec"]["podManagementPolicy"] == "Parallel"
    template = worker["spec"]["template"]
    assert template["metadata"]["labels"].items() >= {
        "app": "alluxio", "release": NAME, "role": "alluxio-worker", "fluid.io/dataset": "team-imagenet",
        "fluid.io/dataset-placement": "Exclusive"}.items()
    affinity = template["spec"]["affinity"]
    assert affinity["podAntiAffinity"] == {"requiredDuringSchedulingIgnoredDuringExecution": [{
        "labelSelector": {"matchExpressions": [{"key": "fluid.io/dataset", "operator": "Exists"}]},
        "topologyKey": "kubernetes.io/hostname"}]}
    assert affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == required
    assert affinity["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["preference"] == {
        "matchExpressions": [{"key": "fluid.io/f-team-imagenet", "operator": "In", "values": ["true"]}]}


def test_shared_placement_prefers_spreading_and_avoids_exclusive_workers(cluster: FakeCluster) -> None:
    cluster.gw.create(dataset_manifest(placement="Shared"))
    cluster.gw.create(alluxio_manifest())
    cluster.settle()
    template = cluster.get(STATEFUL_SET, "imagenet-worker")["spec"]["template"]
    assert template["metadata"]["labels"]["fluid.io/dataset-placement"] == "Shared"
    anti = template["spec"]["affinity"]["podAntiAffinity"]
    assert anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]["labelSelector"] == {
        "matchExpressions": [{"key": "fluid.io/dataset", "operator": "Exists"}]}
    assert anti["requiredDuringSchedulingIgnoredDuringExecution"] == [{
        "labelSelector": {"matchExpressions": [
            {"key": "fluid.io/dataset-placement", "operator": "In", "values": ["Exclusive"]}]},
        "topologyKey": "kubernetes.io/hostname"}]
    labels = cluster.get(NODE, "node-0", None)["metadata"]["labels"]
    assert "fluid_exclusive" not in labels and labels["fluid.io/s-team-imagenet"] == "true"


def test_the_volume_and_the_dataset_status_follow_the_reference(bound: FakeCluster) -> None:
    pv = bound.get(PV, "team-imagenet", None)
    assert pv["spec"]["csi"]["volumeAttributes"] == {
        "fluid_path": "/runtime-mnt/alluxio/team/imagenet/alluxio-fuse", "mount_type": "fuse.alluxio-fuse",
        "runtime_namespace": NS, "runtime_name": NAME, "mount_pod_node_selector_key": "fluid.io/f-team-imagenet"}
    assert bound.get(PVC, NAME)["spec"]["volumeName"] == "team-imagenet"
    status = bound.dataset()["status"]
    # On the host network (the default) the ports come from the operator's range: rpc is the first.
    assert status["hcfs"]["endpoint"] == "alluxio://imagenet-master-0.team:20000"
    assert status["runtimes"] == [{"name": NAME, "namespace": NS, "category": "Accelerate", "type": "alluxio",
                                   "masterReplicas": 1}]
    assert status["ufsTotal"] == "9.77KiB" and status["fileNum"] == "3"
    assert status["cacheStates"]["cached"] == "0.00B"
    assert status["cacheStates"]["cacheCapacity"] == "2.00GiB"
    assert status["cacheStates"]["cachedPercentage"] == "0.0%"
    assert [m["name"] for m in status["mounts"]] == ["train", "val"]
    synced = next(c for c in status["conditions"] if c["type"] == "MetadataSynced")
    assert synced["status"] == "True" and synced["message"] == "3 files, 9.77KiB in 2 mounts"


# -- mounts, options and secrets -------------------------------------------------------------------


def test_mounts_are_argument_vectors_with_options_merged_in_the_reference_order(bound: FakeCluster) -> None:
    mounts = bound.commands("mount")
    mounts = [argv for argv in mounts if argv[-1].startswith("s3://")]
    assert mounts == [
        ["alluxio", "fs", "mount", "--readonly",
         "--option", "alluxio.underfs.s3.endpoint=s3.example.com",
         "--option", "alluxio.underfs.s3.threads.max=64",
         "--option", "aws.secretKey=/etc/fluid/secrets/s3-keys/secret",  # the file, never the value
         "--option", "fs.s3a.region=eu-west-1",  # the mount's own option wins over sharedOptions
         "/train", "s3://imagenet/train"],
        ["alluxio", "fs", "mount", "--option", "alluxio.underfs.s3.threads.max=64",
         "--option", "fs.s3a.region=us-east-1", "/val", "s3://imagenet/val"],
    ]
    assert all(pod == "imagenet-master-0" and container == "alluxio-master" for pod, container, _ in bound.execs)
    table = standin.mounts(bound.state_dir("imagenet-master-0"))
    assert [(m["path"], m["ufs"], m["readonly"]) for m in table] == [
        ("/train", "s3://imagenet/train", True), ("/val", "s3://imagenet/val", False)]
    # The tool read the value from the Secret volume mounted into the master container.
    assert table[0]["secrets"] == {"aws.secretKey": standin.fingerprint(SECRET_VALUE)}
    master = bound.get(STATEFUL_SET, "imagenet-master")["spec"]["template"]["spec"]
    assert {"name": "mount-secret-s3-keys", "secret": {"secretName": "s3-keys"}} in master["volumes"]
    assert {"name": "mount-secret-s3-keys", "mountPath": "/etc/fluid/secrets/s3-keys", "readOnly": True} \
        in master["containers"][0]["volumeMounts"]


def test_secret_values_appear_only_in_the_mount_command(bound: FakeCluster) -> None:
    stored = [o for o in bound.gw.all_objects() if o["kind"] != "Secret"]
    assert SECRET_VALUE not in json.dumps(stored)
    assert SECRET_VALUE not in json.dumps([e.message for e in bound.gw.events])
    table = json.loads(bound.get(CONFIG_MAP, "imagenet-mount-config")["data"]["mounts.json"])
    assert table[0]["encryptOptions"] == [{"name": "aws.secretKey",
                                           "valueFrom": {"secretKeyRef": {"name": "s3-keys", "key": "secret"}}}]
    assert "aws.secretKey" not in table[0]["options"]


def test_a_failing_mount_never_shows_the_secret(cluster: FakeCluster) -> None:
    train = cluster.root / "ufs" / "s3" / "imagenet" / "train"
    train.rename(train.with_name("later"))
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest())
    outcome = cluster.settle(passes=4)
    assert outcome.failure is not None and "exited with status 1: Ufs path s3://imagenet/train does not exist" \
        in outcome.failure
    assert "--option aws.secretKey=/etc/fluid/secrets/s3-keys/secret " in outcome.failure
    assert SECRET_VALUE not in outcome.failure
    assert "check spec.mounts[0] of Dataset team/imagenet: the mountPoint must exist" in outcome.failure
    texts = json.dumps([o for o in cluster.gw.all_objects() if o["kind"] != "Secret"]) + json.dumps(
        [e.message for e in cluster.gw.events])
    assert SECRET_VALUE not in texts
    runtime = cluster.get(ALLUXIO.resource, NAME)
    assert runtime["status"]["lifecycle"]["state"] == "PreparingUFS"
    assert cluster.dataset()["status"]["conditions"][0]["reason"] == "DatasetFailedToSetup"
    train.with_name("later").rename(train)
    cluster.settle()
    assert cluster.dataset()["status"]["phase"] == "Bound"


def mount_commands(cluster: FakeCluster) -> list[list[str]]:
    """``alluxio fs mount PATH UFS`` commands, not the bare ``alluxio fs mount`` that lists them."""
    return [argv for argv in cluster.commands("mount") if len(argv) > 3]


def test_a_rotated_secret_remounts_only_the_mounts_that_read_it(bound: FakeCluster) -> None:
    state = bound.state_dir("imagenet-master-0")
    recorded = bound.get(ALLUXIO.resource, NAME)["status"]["mountSecretVersions"]
    assert set(recorded) == {"s3-keys"}
    bound.gw.patch(SECRET, NS, "s3-keys", {"data": {"secret": base64.b64encode(b"rotated-Key+43").decode()}})
    mounts_before = len(mount_commands(bound))
    bound.settle(passes=2)
    table = {m["path"]: m for m in standin.mounts(state)}
    assert table["/train"]["secrets"]["aws.secretKey"] == standin.fingerprint("rotated-Key+43")
    remounted = [argv[-2] for argv in mount_commands(bound)[mounts_before:]]
    assert remounted == ["/train"]  # /val reads no Secret and stays mounted
    reasons = [e.message for e in bound.gw.events if e.reason == "MountsUpdated"]
    assert reasons and "changed Secret s3-keys" in reasons[-1] and "rotated-Key" not in reasons[-1]
    assert bound.get(ALLUXIO.resource, NAME)["status"]["mountSecretVersions"] != recorded
    assert bound.dataset()["status"]["phase"] == "Bound"
    bound.settle(passes=3)
    assert [argv[-2] for argv in mount_commands(bound)[mounts_before:]] == ["/train"]  # once


def test_a_deleted_secret_leaves_the_working_mount_alone(bound: FakeCluster) -> None:
    mounts_before = len(mount_commands(bound))
    bound.gw.delete(SECRET, NS, "s3-keys")
    bound.settle(passes=3)
    assert len(mount_commands(bound)) == mounts_before
    assert bound.dataset()["status"]["phase"] == "Bound"


def test_local_and_pvc_mounts_are_pod_volumes_below_the_root_ufs_not_cache_mounts(cluster: FakeCluster) -> None:
    s3 = dataset_manifest()["spec"]["mounts"][:1]
    cluster.gw.create(dataset_manifest(mounts=[
        *s3, {"mountPoint": "local:///mnt/datasets/local", "name": "local"},
        {"mountPoint": "pvc://team-claim/images/2024", "name": "images", "readOnly": True}]))
    cluster.gw.create(alluxio_manifest())
    cluster.settle()
    assert cluster.dataset()["status"]["phase"] == "Bound"
    assert [m["name"] for m in cluster.dataset()["status"]["mounts"]] == ["train", "local", "images"]
    for sts in ("imagenet-master", "imagenet-worker", "imagenet-fuse"):
        kind = DAEMON_SET if sts.endswith("fuse") else STATEFUL_SET
        pod = cluster.get(kind, sts)["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["native-1"]["hostPath"] == {"path": "/mnt/datasets/local", "type": "Directory"}, sts
        assert volumes["native-2"]["persistentVolumeClaim"] == {"claimName": "team-claim"}, sts
        mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
        assert mounts["native-1"] == {"name": "native-1", "mountPath": "/underFSStorage/local"}, sts
        assert mounts["native-2"] == {"name": "native-2", "mountPath": "/underFSStorage/images",
                                      "subPath": "images/2024", "readOnly": True}, sts
    # The cache sees them through its root UFS: only the s3 mount is mounted by command.
    assert sorted(m["path"] for m in standin.mounts(cluster.state_dir("imagenet-master-0"))) == ["/train"]
    assert [argv[-1] for argv in mount_commands(cluster)] == ["s3://imagenet/train"]


def test_a_missing_secret_is_named_with_its_fix(cluster: FakeCluster) -> None:
    cluster.gw.delete(SECRET, NS, "s3-keys")
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest())
    outcome = cluster.settle(passes=4)
    assert outcome.failure is not None
    assert "spec.mounts[0].encryptOptions[0] (aws.secretKey) reads Secret team/s3-keys, which does not exist" \
        in outcome.failure
    assert "create it or fix valueFrom.secretKeyRef.name" in outcome.failure


def test_an_option_with_shell_metacharacters_is_one_literal_argument(cluster: FakeCluster, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = f"a;touch {marker} $(id) `id` | cat"
    cluster.gw.create(dataset_manifest(mounts=[{"mountPoint": "s3://imagenet/train", "name": "train",
                                                "options": {"alluxio.underfs.s3.endpoint": hostile}}],
                                      sharedOptions={}))
    cluster.gw.create(alluxio_manifest())
    cluster.settle()
    assert [argv for argv in cluster.commands("mount") if len(argv) > 3] == [["alluxio", "fs", "mount", "--option",
                                             f"alluxio.underfs.s3.endpoint={hostile}", "/train",
                                             "s3://imagenet/train"]]
    table = standin.mounts(cluster.state_dir("imagenet-master-0"))
    assert table[0]["options"] == {"alluxio.underfs.s3.endpoint": hostile}
    assert not marker.exists()


# -- status and reports ----------------------------------------------------------------------------


def test_cache_states_come_from_the_report_in_the_reference_formats(bound: FakeCluster) -> None:
    state = bound.state_dir("imagenet-master-0")
    standin.set_cached(state, {"/train/a.jpg": 3000, "/train/b.jpg": 2000})
    standin.set_metrics(state, BytesReadLocal=600, BytesReadRemote=200, BytesReadUfsAll=200,
                        BytesReadLocalThroughput=3 * 1024**2, BytesReadUfsThroughput=1024**2)
    bound.settle(passes=2)
    states = bound.dataset()["status"]["cacheStates"]
    assert states == {
        "cached": "4.88KiB", "cacheCapacity": "2.00GiB", "cachedPercentage": "50.0%",
        "cacheHitRatio": "80.0%", "localHitRatio": "60.0%", "remoteHitRatio": "20.0%",
        "cacheThroughputRatio": "75.0%", "localThroughputRatio": "75.0%", "remoteThroughputRatio": "0.0%",
    }
    assert bound.get(ALLUXIO.resource, NAME)["status"]["cacheStates"] == states


def test_cache_reports_run_once_per_interval_and_the_figures_stand_between(bound: FakeCluster) -> None:
    bound.reconciler.settings["sync_intervals"]["cache_report"] = 120
    bound.settle(passes=1)
    reports = [argv for _, _, argv in bound.execs if argv[:3] == ["alluxio", "fsadmin", "report"]]
    standin.set_cached(bound.state_dir("imagenet-master-0"), {"/train/a.jpg": 3000})
    before = bound.dataset()["status"]["cacheStates"]["cached"]
    for _ in range(5):
        bound.time += timedelta(seconds=20)
        bound.reconcile()
    assert [argv for _, _, argv in bound.execs if argv[:3] == ["alluxio", "fsadmin", "report"]] == reports
    assert bound.dataset()["status"]["cacheStates"]["cached"] == before
    bound.time += timedelta(seconds=21)
    bound.reconcile()
    assert bound.dataset()["status"]["cacheStates"]["cached"] == "2.93KiB"


def test_an_idle_pass_writes_nothing(bound: FakeCluster) -> None:
    bound.settle(passes=3)
    before, events = bound.writes(), len(bound.gw.events)
    for _ in range(3):
        outcome = bound.reconcile()
        assert outcome.failure is None
    assert bound.writes() == before
    assert len(bound.gw.events) == events


def test_storage_hooks_return_integers(bound: FakeCluster) -> None:
    standin.set_cached(bound.state_dir("imagenet-master-0"), {"/val/c.jpg": 2000})
    engine = AlluxioEngine(_context(bound))
    assert engine.used_storage_bytes() == 2000
    assert engine.free_storage_bytes() == 2 * 1024**3 - 2000
    assert engine.total_storage_bytes() == 10000
    assert engine.total_file_nums() == 3


def _context(cluster: FakeCluster, kind: Any = ALLUXIO, name: str = NAME) -> EngineContext:
    raw_ds = cluster.gw.get(DATASET, NS, name)
    return EngineContext(
        runtime=from_json(kind.model, cluster.get(kind.resource, name)),
        dataset=from_json(Dataset, raw_ds) if raw_ds else None,
        gateway=cluster.gw, kind=kind, now=cluster.now,
        log=logging.LoggerAdapter(logging.getLogger("test"), {}), settings=copy.deepcopy(NO_RATE_LIMITS))


def test_nodes_for_the_cache_leave_out_other_datasets_exclusive_nodes(bound: FakeCluster) -> None:
    bound.gw.patch(NODE, None, "node-1", {"metadata": {"labels": {"fluid_exclusive": "other_ds"}}})
    bound.gw.patch(NODE, None, "node-2", {"spec": {"unschedulable": True}})
    engine = AlluxioEngine(_context(bound))
    assert engine.assign_nodes_to_cache(5) == 1
    assert engine.assign_nodes_to_cache(0) == 0


def test_auto_sync_off_loads_no_metadata(cluster: FakeCluster) -> None:
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest(management={"metadataSyncPolicy": {"autoSync": False}}))
    cluster.settle()
    status = cluster.dataset()["status"]
    assert status["phase"] == "Bound" and "ufsTotal" not in status and "fileNum" not in status
    assert not cluster.commands("loadMetadata") and not cluster.commands("count")


def test_a_failed_metadata_sync_is_a_condition_not_a_stuck_calculating(cluster: FakeCluster) -> None:
    cluster.failing.add("count")
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest())
    cluster.settle()
    status = cluster.dataset()["status"]
    assert status["phase"] == "Bound" and "ufsTotal" not in status
    synced = next(c for c in status["conditions"] if c["type"] == "MetadataSynced")
    assert synced["status"] == "False" and "alluxio fs count /" in synced["message"]
    assert cluster.event_reasons().count("MetadataSyncFailed") == 1
    cluster.failing.clear()
    cluster.settle(passes=2)
    assert cluster.dataset()["status"]["ufsTotal"] == "9.77KiB"


# -- sync ------------------------------------------------------------------------------------------


def test_scaling_moves_pods_status_conditions_and_node_labels(bound: FakeCluster) -> None:
    def labelled() -> list[str]:
        return sorted(n["metadata"]["name"] for n in bound.gw.list(NODE)
                      if (n["metadata"].get("labels") or {}).get("fluid.io/s-alluxio-team-imagenet") == "true")

    assert labelled() == ["node-0", "node-1", "node-2"]
    node = bound.get(NODE, "node-0", None)["metadata"]["labels"]
    assert node["fluid_exclusive"] == "team_imagenet" and node["fluid.io/dataset-num"] == "1"
    assert node["fluid.io/s-h-alluxio-m-team-imagenet"] == "2GiB"
    assert node["fluid.io/s-h-alluxio-t-team-imagenet"] == "2GiB"
    bound.patch_spec(ALLUXIO.resource, NAME, {"replicas": 1})
    bound.settle(passes=4)
    status = bound.get(ALLUXIO.resource, NAME)["status"]
    assert status["currentWorkerNumberScheduled"] == 1 and status["desiredWorkerNumberScheduled"] == 1
    scaled = next(c for c in status["conditions"] if c["type"] == "WorkersScaledIn")
    assert scaled["message"] == "The workers are scaled in from 3 to 1."
    assert labelled() == ["node-0"]
    assert "fluid.io/dataset-num" not in bound.get(NODE, "node-2", None)["metadata"]["labels"]
    assert "WorkersScaledIn" in bound.event_reasons()
    bound.patch_spec(ALLUXIO.resource, NAME, {"replicas": 2})
    bound.settle(passes=4)
    status = bound.get(ALLUXIO.resource, NAME)["status"]
    assert next(c for c in status["conditions"] if c["type"] == "WorkersScaledOut")["status"] == "True"
    assert labelled() == ["node-0", "node-1"]
    assert bound.dataset()["status"]["phase"] == "Bound"


def test_fuses_follow_the_nodes_that_use_the_volume_with_scaled_conditions(bound: FakeCluster) -> None:
    def fuse_condition(kind: str) -> dict[str, Any] | None:
        status = bound.get(ALLUXIO.resource, NAME)["status"]
        return next((c for c in status["conditions"] if c["type"] == kind), None)

    assert fuse_condition("FusesScaledOut") is None  # no pod used the volume yet
    for node in ("node-0", "node-2"):  # what the CSI plugin does when a pod mounts the volume there
        bound.gw.patch(NODE, None, node, {"metadata": {"labels": {fuse_label(reference_key(NS, NAME)): "true"}}})
    bound.settle(passes=3)
    status = bound.get(ALLUXIO.resource, NAME)["status"]
    assert status["desiredFuseNumberScheduled"] == 2
    assert (fuse_condition("FusesScaledOut") or {})["message"] == "The fuses are scaled out from 0 to 2."
    bound.gw.patch(NODE, None, "node-2", {"metadata": {"labels": {fuse_label(reference_key(NS, NAME)): None}}})
    bound.settle(passes=3)
    assert (fuse_condition("FusesScaledIn") or {})["message"] == "The fuses are scaled in from 2 to 1."
    assert bound.event_reasons().count("FusesScaledOut") == 1 and "FusesScaledIn" in bound.event_reasons()


def test_spec_changes_roll_out_in_place(bound: FakeCluster) -> None:
    runtime_uid = bound.get(ALLUXIO.resource, NAME)["metadata"]["uid"]
    worker, master = bound.get(STATEFUL_SET, "imagenet-worker"), bound.get(STATEFUL_SET, "imagenet-master")
    bound.patch_spec(ALLUXIO.resource, NAME, {"worker": {"properties": {"alluxio.worker.block.heartbeat": "5s"}},
                                              "alluxioVersion": {"image": "alluxio/alluxio", "imageTag": "2.9.4"}})
    bound.settle(passes=4)
    new_worker, new_master = bound.get(STATEFUL_SET, "imagenet-worker"), bound.get(STATEFUL_SET, "imagenet-master")
    assert new_worker["metadata"]["uid"] == worker["metadata"]["uid"]
    assert bound.get(ALLUXIO.resource, NAME)["metadata"]["uid"] == runtime_uid
    template = new_worker["spec"]["template"]
    assert template["spec"]["containers"][0]["image"] == "alluxio/alluxio:2.9.4"
    assert template["metadata"]["annotations"][CONFIG_CHECKSUM] != \
        worker["spec"]["template"]["metadata"]["annotations"][CONFIG_CHECKSUM]
    # The master's configuration did not change: only its image moved.
    assert new_master["spec"]["template"]["metadata"]["annotations"][CONFIG_CHECKSUM] == \
        master["spec"]["template"]["metadata"]["annotations"][CONFIG_CHECKSUM]
    opts = bound.get(CONFIG_MAP, "imagenet-config")["data"]["ALLUXIO_WORKER_JAVA_OPTS"]
    assert opts == "-Dalluxio.worker.block.heartbeat=5s"
    assert "RuntimeUpdated" in bound.event_reasons()
    assert bound.dataset()["status"]["phase"] == "Bound"


@pytest.mark.parametrize("component", ["master", "worker"])
def test_a_single_replica_rollout_keeps_the_dataset_bound_until_its_deadline(bound: FakeCluster,
                                                                             component: str) -> None:
    bound.patch_spec(ALLUXIO.resource, NAME, {"replicas": 1})
    bound.settle(passes=4)
    sts = f"imagenet-{component}"
    bound.held.add(sts)  # the one pod is replaced and its successor is not ready yet
    bound.patch_spec(ALLUXIO.resource, NAME, {component: {"properties": {"alluxio.user.file.buffer.bytes": "16MB"}}})
    bound.settle(passes=8)
    assert bound.get(STATEFUL_SET, sts)["status"]["readyReplicas"] == 0
    assert bound.dataset()["status"]["phase"] == "Bound"
    assert bound.get(ALLUXIO.resource, NAME)["status"]["lifecycle"]["state"] == "Ready"
    assert "RuntimeUnhealthy" not in bound.event_reasons()
    ready = "MasterReady" if component == "master" else "WorkersReady"
    shown = next(c for c in bound.get(ALLUXIO.resource, NAME)["status"]["conditions"] if c["type"] == ready)
    assert shown["status"] == "False"  # the status still tells the truth about readiness

    bound.time += timedelta(seconds=600)  # a rollout that never finishes is broken after all
    bound.settle(passes=2)
    assert bound.dataset()["status"]["phase"] == "Failed"
    assert "RuntimeUnhealthy" in bound.event_reasons()

    bound.held.clear()
    bound.settle()
    assert bound.dataset()["status"]["phase"] == "Bound"


def test_a_lost_worker_set_fails_the_dataset_until_setup_repairs_it(bound: FakeCluster) -> None:
    bound.gw.delete(STATEFUL_SET, NS, "imagenet-worker")
    bound.reconcile()
    assert bound.dataset()["status"]["phase"] == "Failed"
    assert any("StatefulSet team/imagenet-worker is missing" in e.message for e in bound.gw.events)
    bound.settle()
    assert bound.dataset()["status"]["phase"] == "Bound"
    assert bound.get(STATEFUL_SET, "imagenet-worker")["spec"]["replicas"] == 3


@pytest.mark.parametrize("lost", ["imagenet-master", "imagenet-fuse", "imagenet-config", "imagenet-master-0"])
def test_every_lost_object_is_noticed_and_made_again(bound: FakeCluster, lost: str) -> None:
    res = {"imagenet-master": STATEFUL_SET, "imagenet-fuse": DAEMON_SET, "imagenet-config": CONFIG_MAP,
           "imagenet-master-0": SERVICE}[lost]
    bound.gw.delete(res, NS, lost)
    bound.reconcile()
    assert any(e.reason == "RuntimeUnhealthy" and lost in e.message for e in bound.gw.events)
    # What comes back ready at once (config, services, the fuse) is repaired within the pass; a new
    # master must start first, and the Dataset is Failed until it has.
    assert bound.dataset()["status"]["phase"] == ("Failed" if lost == "imagenet-master" else "Bound")
    bound.settle()
    assert bound.dataset()["status"]["phase"] == "Bound"
    assert bound.gw.get(res, NS, lost) is not None


def test_changed_mounts_are_applied_through_updating(bound: FakeCluster) -> None:
    bound.ufs_file("s3://imagenet/test/d.jpg", 1000)
    mounts = bound.dataset()["spec"]["mounts"]
    bound.gw.patch(DATASET, NS, NAME, {"spec": {"mounts": [mounts[0], {"mountPoint": "s3://imagenet/test",
                                                                          "name": "test"}]}})
    outcome = bound.reconcile()
    assert [(m.source, m.dest) for m in outcome.moves if m.machine == "Dataset"] == [
        ("Bound", "Updating"), ("Updating", "Bound")]
    table = standin.mounts(bound.state_dir("imagenet-master-0"))
    assert sorted(m["path"] for m in table) == ["/test", "/train"]
    status = bound.dataset()["status"]
    assert [m["name"] for m in status["mounts"]] == ["train", "test"]
    # The metadata of the new mounts loads in the background; the old counts stay until it is done.
    syncing = next(c for c in status["conditions"] if c["type"] == "MetadataSynced")
    assert (syncing["status"], syncing["reason"]) == ("False", "MetadataSyncing") and status["ufsTotal"] == "9.77KiB"
    assert bound.reconcile().requeue_after is not None
    status = bound.dataset()["status"]
    assert status["fileNum"] == "3" and status["ufsTotal"] == "8.79KiB"
    table_cm = bound.get(CONFIG_MAP, "imagenet-mount-config")["data"]["mounts.json"]
    assert "s3://imagenet/test" in table_cm and "s3://imagenet/val" not in table_cm


def test_a_pass_lists_the_mount_table_once_unless_it_mounted_since(bound: FakeCluster) -> None:
    """The drift check and the repair that follows in the same pass read one listing (a command
    in the master each): the check's listing is the repair's."""
    bound.exec(NS, "imagenet-master-0", "alluxio-master", ["alluxio", "fs", "unmount", "/val"])
    before = len(bound.execs)
    bound.reconcile()
    argvs = [argv for _, _, argv in bound.execs[before:]]
    assert any(argv[:3] == ["alluxio", "fs", "mount"] and "/val" in argv for argv in argvs), argvs
    listings = [i for i, argv in enumerate(argvs) if argv == ["alluxio", "fs", "mount"]]
    changes = [i for i, argv in enumerate(argvs) if argv != ["alluxio", "fs", "mount"]
               and argv[:3] in (["alluxio", "fs", "mount"], ["alluxio", "fs", "unmount"])]
    assert len([i for i in listings if i < min(changes)]) == 1, f"listed twice before mounting: {argvs}"


def test_a_master_restart_remounts_what_the_cache_lost(bound: FakeCluster) -> None:
    state = bound.state_dir("imagenet-master-0")
    standin.reset(state)  # the new master came up with an empty mount table
    bound.gw.delete(POD, NS, "imagenet-master-0")
    bound.time += timedelta(seconds=5)
    bound.settle(passes=3)
    assert sorted(m["path"] for m in standin.mounts(state)) == ["/train", "/val"]
    assert bound.dataset()["status"]["phase"] == "Bound"
    runtime = bound.get(ALLUXIO.resource, NAME)["status"]
    pod = bound.get(POD, "imagenet-master-0")
    assert runtime["mountTime"] >= pod["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]


def test_drift_in_the_mount_table_is_repaired(bound: FakeCluster) -> None:
    state = bound.state_dir("imagenet-master-0")
    bound.exec(NS, "imagenet-master-0", "alluxio-master", ["alluxio", "fs", "unmount", "/val"])
    bound.settle(passes=2)
    assert sorted(m["path"] for m in standin.mounts(state)) == ["/train", "/val"]
    assert "UFSRemounted" in bound.event_reasons()


# -- teardown --------------------------------------------------------------------------------------


def _leftovers(cluster: FakeCluster) -> list[str]:
    kinds = ("ConfigMap", "Service", "StatefulSet", "DaemonSet", "Pod", "PersistentVolume", "PersistentVolumeClaim",
             "Dataset", "AlluxioRuntime", "JindoRuntime")
    objs = [f"{o['kind']} {o['metadata']['name']}" for o in cluster.gw.all_objects() if o["kind"] in kinds]
    labels = [f"{n['metadata']['name']}: {k}" for n in cluster.gw.list(NODE)
              for k in n["metadata"].get("labels") or {} if k.startswith(("fluid", "fluid_"))]
    return objs + labels


def delete_pair(cluster: FakeCluster, name: str = NAME) -> None:
    cluster.gw.delete(DATASET, NS, name)
    cluster.settle(name, passes=8)


def test_deletion_frees_the_cache_and_leaves_nothing(bound: FakeCluster) -> None:
    bound.gw.patch(NODE, None, "node-1", {"metadata": {"labels": {"fluid.io/f-team-imagenet": "true"}}})
    delete_pair(bound)
    assert _leftovers(bound) == []
    assert bound.commands("free") == [["alluxio", "fs", "free", "-f", "/"]]


def test_a_failing_cache_clean_is_retried_then_given_up(bound: FakeCluster) -> None:
    bound.failing.add("free")
    bound.patch_spec(ALLUXIO.resource, NAME, {"management": {"cleanCachePolicy": {"maxRetryAttempts": 2,
                                                                                  "gracePeriodSeconds": 5}}})
    bound.settle(passes=2)
    delete_pair(bound)
    assert len(bound.commands("free")) == 3
    assert "CacheCleanAbandoned" in bound.event_reasons()
    assert _leftovers(bound) == []


def test_deletion_works_without_the_master_pod_or_the_dataset(bound: FakeCluster) -> None:
    bound.unready.add("imagenet-master")
    bound.gw.delete(POD, NS, "imagenet-master-0")
    bound.gw.patch(DATASET, NS, NAME, {"metadata": {"finalizers": None}})
    bound.gw.delete(DATASET, NS, NAME)
    assert bound.gw.get(DATASET, NS, NAME) is None
    bound.gw.delete(ALLUXIO.resource, NS, NAME)
    bound.settle(passes=6)
    assert _leftovers(bound) == []
    assert bound.commands("free") == []


@pytest.mark.parametrize("unready", ["imagenet-master", "imagenet-worker"])
def test_deletion_during_setup_leaves_nothing(cluster: FakeCluster, unready: str) -> None:
    cluster.unready.add(unready)
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest())
    cluster.settle(passes=4)
    state = cluster.get(ALLUXIO.resource, NAME)["status"]["lifecycle"]["state"]
    assert state == ("SettingUpMaster" if unready == "imagenet-master" else "SettingUpWorkers")
    delete_pair(cluster)
    assert _leftovers(cluster) == []


# -- checks ----------------------------------------------------------------------------------------


def test_engine_checks_name_the_field_and_the_fix(cluster: FakeCluster) -> None:
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest(master={"replicas": 2}, tieredstore={"levels": [
        {"mediumtype": "MEM", "path": "/dev/shm"}, {"mediumtype": "SSD", "quota": "10Gi"}]}))
    outcome = cluster.settle(passes=2)
    assert outcome.runtime_state == "New"
    message = next(e.message for e in cluster.gw.events if e.reason == "ErrorValidateSpecFields")
    assert "spec.master.replicas: 2 masters cannot elect a leader by majority; use an odd number" in message
    assert "spec.tieredstore.levels[0].quota: the MEM tier has no quota; set quota" in message
    assert "spec.tieredstore.levels[1].path: the SSD tier has no path" in message


def test_high_availability_masters_get_a_service_each_and_an_embedded_journal(cluster: FakeCluster) -> None:
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest(master={"replicas": 3}))
    cluster.settle()
    assert cluster.dataset()["status"]["phase"] == "Bound"
    assert [s["metadata"]["name"] for s in cluster.gw.list(SERVICE, NS)] == [
        "imagenet-master-0", "imagenet-master-1", "imagenet-master-2"]
    site = cluster.get(CONFIG_MAP, "imagenet-config")["data"]["alluxio-site.properties"]
    assert "alluxio.master.embedded.journal.addresses=imagenet-master-0.team:20002,imagenet-master-1.team:20002," \
        "imagenet-master-2.team:20002" in site  # the third port of the range: rpc, web, embedded
    assert cluster.dataset()["status"]["runtimes"][0]["masterReplicas"] == 3
