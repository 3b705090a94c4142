"""The Alluxio and Jindo engines on the real local control plane, driven by the reconcile.

A ``Driver`` runs ``lifecycle.reconcile.Reconciler`` over a ``KubeGateway`` in a loop (every half
second, as a busy operator would), while the control plane's own controllers, the scheduler and
kwok make the pods, and the stand-in ``alluxio``/``jindocache``/``jindo`` CLIs answer the execs into the
master pods. The tests state end conditions: a reference-style pair reaches Bound with the table
columns filled, scales 3 -> 5 -> 1, rolls a changed spec in place, heals a deleted StatefulSet,
passes a hostile mount option as one literal argument, and leaves no object and no node label
behind when deleted in any lifecycle state.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engines.alluxio.kind import KIND_SPEC as ALLUXIO
from engines.cache.objects import CONFIG_CHECKSUM
from engines.jindo.kind import KIND_SPEC as JINDO
from lifecycle.cli.run import install_crds
from lifecycle.k8s.connection import ApiServer
from lifecycle.k8s.gateway import (
    CONFIG_MAP,
    DAEMON_SET,
    DATASET,
    EVENT,
    NODE,
    POD,
    PV,
    PVC,
    SECRET,
    SERVICE,
    STATEFUL_SET,
    Obj,
)
from lifecycle.k8s.kube import KubeGateway
from lifecycle.k8s.naming import (
    DATASET_NUM_LABEL,
    common_label,
    fuse_label,
    reference_key,
    runtime_label,
)
from lifecycle.local import LocalCluster
from lifecycle.local.nodes import ensure_nodes, wait_nodes_ready
from lifecycle.local.standin import cache as standin
from lifecycle.reconcile.reconciler import Reconciler
from tests.cluster import eventually
from tests.cluster.driver import SECRET_VALUE, Driver, allocated_ports, condition, fast_start, sample

pytestmark = pytest.mark.cluster

NODES = 5


@pytest.fixture(scope="module")
def crds(kube: ApiServer) -> list[str]:
    return install_crds(KubeGateway(kube))


@pytest.fixture(scope="module")
def five_nodes(cluster: LocalCluster, kube: ApiServer) -> Iterator[list[str]]:
    """Scaling an exclusive dataset to 5 workers needs 5 nodes; the session's 3 come back after."""
    gw = KubeGateway(kube)
    ports = cluster.ports
    assert ports is not None
    names = ensure_nodes(gw, NODES, ports.kwok)
    wait_nodes_ready(gw, names, ports.kwok, 60)
    try:
        yield names
    finally:
        ensure_nodes(gw, 3, ports.kwok)


@pytest.fixture
def driver(crds: list[str], five_nodes: list[str], kube: ApiServer, namespace: str,
           cluster: LocalCluster) -> Driver:
    return Driver(kube, namespace, cluster)


# -- Alluxio: the reference pair, end to end ---------------------------------------------------------


def test_alluxio_pair_binds_scales_rolls_heals_and_leaves_nothing(driver: Driver, tmp_path: Path) -> None:
    d, name = driver, "imagenet"
    secret, dataset, runtime = sample("alluxio.yaml")
    marker = tmp_path / "pwned"
    hostile = f"a;touch {marker} $(id) `id`"
    dataset["spec"]["mounts"][0]["options"]["alluxio.underfs.s3.connection.ttl"] = hostile
    ufs_total = d.ufs_files({"s3://imagenet/train/part-0": 3 << 20, "s3://imagenet/train/part-1": 5 << 20,
                             "s3://imagenet/val/part-0": 1 << 20})
    def dataset_counts() -> dict[str, str | None]:
        return {n["metadata"]["name"]: (n["metadata"].get("labels") or {}).get(DATASET_NUM_LABEL)
                for n in d.gw.list(NODE)}

    counts_before = dataset_counts()  # other tests' pairs may share the cluster's nodes
    d.apply_manifests([secret, dataset, fast_start(runtime)])

    started = last = time.monotonic()
    laps: list[str] = []

    def lap(what: str) -> None:
        nonlocal last
        now = time.monotonic()
        laps.append(f"{what}: {now - last:.1f}s")
        last = now

    d.until(name, lambda: d.phase(name), lambda p: p == "Bound", 90, "Dataset Bound")
    bound_after = time.monotonic() - started
    lap("Bound")

    # What setup made, named and labelled as the reference does.
    master = d.must(STATEFUL_SET, "imagenet-master")
    assert master["spec"]["template"]["spec"]["containers"][0]["name"] == "alluxio-master"
    worker = d.must(STATEFUL_SET, "imagenet-worker")
    assert worker["spec"]["podManagementPolicy"] == "Parallel" and worker["spec"]["replicas"] == 3
    for cm in ("imagenet-config", "imagenet-mount-config", "imagenet-alluxio-values"):
        d.must(CONFIG_MAP, cm)
    d.must(SERVICE, "imagenet-master-0")
    fuse = d.must(DAEMON_SET, "imagenet-fuse")
    assert fuse["spec"]["template"]["spec"]["nodeSelector"] == {fuse_label(reference_key(d.ns, name)): "true"}
    selector = {"app": "alluxio", "release": name, "role": "alluxio-worker"}
    workers = d.until(name, lambda: d.running_pods(selector), lambda pods: len(pods) == 3, 30, "3 workers running")
    assert all(p["metadata"]["labels"]["fluid.io/dataset"] == f"{d.ns}-imagenet"
               and p["metadata"]["labels"]["fluid.io/dataset-placement"] == "Exclusive" for p in workers)
    assert len({p["spec"]["nodeName"] for p in workers}) == 3  # exclusive: one worker per node

    # The table of `kubectl get datasets` and the volume.
    row = d.until(name, lambda: d.table()[name], lambda r: r["Ufs Total Size"] == "9.00MiB", 30, "ufsTotal")
    assert (row["Cached"], row["Cache Capacity"], row["Cached Percentage"], row["Phase"]) == (
        "0.00B", "2.00GiB", "0.0%", "Bound")
    rpc = allocated_ports(d, "imagenet-alluxio-values")["master"]["rpc"]
    assert 20000 <= rpc <= 26000  # on the host network, from the operator's port range
    assert row["HCFS URL"] == f"alluxio://imagenet-master-0.{d.ns}:{rpc}" and row["TOTAL FILES"] == "3"
    assert ufs_total == 9 << 20
    pv = d.must(PV, f"{d.ns}-imagenet", namespaced=False)
    assert pv["spec"]["csi"]["driver"] == "fuse.csi.fluid.io"
    assert pv["spec"]["csi"]["volumeAttributes"] == {
        "fluid_path": f"/runtime-mnt/alluxio/{d.ns}/imagenet/alluxio-fuse", "mount_type": "fuse.alluxio-fuse",
        "runtime_namespace": d.ns, "runtime_name": name,
        "mount_pod_node_selector_key": fuse_label(reference_key(d.ns, name))}
    assert pv["spec"]["capacity"]["storage"] == "200Gi"
    status = d.must(ALLUXIO.resource, name)["status"]
    assert status["valueFile"] == "imagenet-alluxio-values" and status["setupDuration"].endswith("s")

    # The mounts reached the stand-in as argument vectors: the hostile option is one literal argument.
    state = d.state_dir("imagenet-master-0")
    table = {m["path"]: m for m in standin.mounts(state)}
    assert sorted(table) == ["/train", "/val"]
    assert table["/train"]["options"]["alluxio.underfs.s3.connection.ttl"] == hostile
    # The Secret reached the tool as a file of the master pod (the reference's mount-file mode)...
    assert table["/train"]["options"]["aws.secretKey"] == "/etc/fluid/secrets/imagenet-s3-keys/secret-access-key"
    assert table["/train"]["secrets"]["aws.secretKey"] == standin.fingerprint(SECRET_VALUE)
    assert table["/train"]["readonly"]
    mount_calls = [i["argv"] for i in standin.invocations(state, "alluxio")
                   if i["argv"][:3] == ["fs", "mount", "--readonly"]]
    assert f"alluxio.underfs.s3.connection.ttl={hostile}" in mount_calls[0]
    assert not marker.exists()
    # ...and the secret value went nowhere else.
    stored = [o for res in (CONFIG_MAP, STATEFUL_SET, DAEMON_SET, SERVICE, EVENT, DATASET, ALLUXIO.resource)
              for o in d.gw.list(res, d.ns)]
    assert stored and SECRET_VALUE not in json.dumps(stored)

    # An idle pass reads, but writes nothing.
    d.until(name, lambda: d.writes_total(), lambda _: True, 1, "a settled pass")
    before, timed = d.writes_total(), len(d.pass_seconds)
    for _ in range(6):
        d.reconcile(name)
        time.sleep(0.3)
    idle_writes = d.writes_total() - before
    idle_seconds = sorted(d.pass_seconds[timed:])
    assert idle_writes == 0, d.gw.writes
    # With the default intervals (cache report every 5 s, metadata every 5 min) most passes exec nothing.
    default = Reconciler(d.gw, d.reconciler.registry)
    default.reconcile(d.ns, name)
    default_seconds = []
    requests = d.gw.requests
    for _ in range(5):
        began = time.monotonic()
        default.reconcile(d.ns, name)
        default_seconds.append(time.monotonic() - began)
    default_requests = (d.gw.requests - requests) / 5
    assert d.writes_total() - before == 0, d.gw.writes
    lap("checks and idle passes")

    # Cached bytes show up in the table.
    standin.set_cached(state, {"/train/part-0": 3 << 20})
    d.until(name, lambda: d.table()[name], lambda r: r["Cached"] == "3.00MiB" and r["Cached Percentage"] == "33.3%",
            30, "cached bytes in the table")
    lap("cached bytes")

    # Scale 3 -> 5 through the scale subresource, then 5 -> 1.
    def scale(replicas: int) -> None:
        d.gw.request("PATCH", d.gw.path(ALLUXIO.resource, d.ns, name, "scale"),
                     body={"spec": {"replicas": replicas}}, content_type="application/merge-patch+json")

    storage_key = runtime_label("alluxio", reference_key(d.ns, name))
    for replicas, scaled in ((5, "WorkersScaledOut"), (1, "WorkersScaledIn")):
        scale(replicas)

        def observed() -> tuple[Any, ...]:
            d.reap()
            st = (d.must(ALLUXIO.resource, name).get("status") or {})
            return (len(d.running_pods(selector)), st.get("currentWorkerNumberScheduled"),
                    st.get("workerNumberReady"), d.labelled_nodes(storage_key))

        def settled(seen: tuple[Any, ...], n: int = replicas) -> bool:
            return seen[:3] == (n, n, n) and len(seen[3]) == n

        seen = d.until(name, observed, settled, 60, f"{replicas} workers running, counted and labelled")
        assert (condition(d.must(ALLUXIO.resource, name), scaled) or {}).get("status") == "True"
        hosts = sorted(p["spec"]["nodeName"] for p in d.running_pods(selector))
        assert seen[3] == hosts
        lap(f"scaled to {replicas}")
    # Only the one node left counts this Dataset; the four it left are as they were before.
    changed = {n: c for n, c in dataset_counts().items() if c != counts_before.get(n)}
    assert changed == {n: str(int(counts_before.get(n) or 0) + 1) for n in d.labelled_nodes(storage_key)}
    assert d.phase(name) == "Bound"

    # A rotated Secret: the mount that reads it is made again with the new key, the other stays.
    rotated_key = "rotated/EXAMPLEKEY+2"
    d.gw.patch(SECRET, d.ns, "imagenet-s3-keys", {"stringData": {"secret-access-key": rotated_key}})
    d.until(name, lambda: {m["path"]: m["secrets"].get("aws.secretKey") for m in standin.mounts(state)},
            lambda t: t.get("/train") == standin.fingerprint(rotated_key) and "/val" in t, 30,
            "the rotated key in the cache's mount")
    assert any(e["reason"] == "MountsUpdated" and "changed Secret imagenet-s3-keys" in e["message"]
               for e in d.gw.list(EVENT, d.ns))
    assert rotated_key not in json.dumps([o for res in (CONFIG_MAP, EVENT, DATASET, ALLUXIO.resource)
                                          for o in d.gw.list(res, d.ns)])
    assert d.phase(name) == "Bound"
    lap("secret rotated")

    # Changed mounts: one added, one removed, through Updating, in the cache's own table.
    d.ufs_files({"s3://imagenet/test/part-0": 2 << 20})
    mounts = d.must(DATASET, name)["spec"]["mounts"]
    d.gw.patch(DATASET, d.ns, name, {"spec": {"mounts": [mounts[0], {"mountPoint": "s3://imagenet/test",
                                                                      "name": "test"}]}})
    d.until(name, lambda: sorted(m["path"] for m in standin.mounts(state)), lambda p: p == ["/test", "/train"],
            30, "the cache's mount table following the Dataset")
    moves = [(m.source, m.dest) for o in d.outcomes[-3:] for m in o.moves if m.machine == "Dataset"]
    assert ("Bound", "Updating") in moves and ("Updating", "Bound") in moves
    d.until(name, lambda: d.table()[name]["Ufs Total Size"], lambda t: t == "10.00MiB", 30, "ufsTotal re-synced")
    lap("mounts changed")

    # A changed property and image roll out in place: same runtime, same StatefulSet, new template.
    runtime_uid = d.must(ALLUXIO.resource, name)["metadata"]["uid"]
    worker = d.must(STATEFUL_SET, "imagenet-worker")
    passes_before_rollout = len(d.outcomes)
    slow_ready = {f"pod-ready.stage.kwok.x-k8s.io/{delay}": "4s" for delay in ("delay", "jitter-delay")}
    d.gw.patch(ALLUXIO.resource, d.ns, name, {"spec": {
        "worker": {"properties": {"alluxio.worker.network.reader.buffer.size": "64MB"}},
        "alluxioVersion": {"imageTag": "2.9.4"},
        "podMetadata": {"annotations": slow_ready}}})  # new pods take 4 s to get ready: a visible gap

    def rolled() -> tuple[str, str]:
        sts = d.must(STATEFUL_SET, "imagenet-worker")
        return sts["spec"]["template"]["spec"]["containers"][0]["image"], sts["metadata"]["uid"]

    d.until(name, rolled, lambda r: r == ("alluxio/alluxio:2.9.4", worker["metadata"]["uid"]), 30,
            "the worker template updated in place")
    after = d.must(STATEFUL_SET, "imagenet-worker")
    assert d.must(ALLUXIO.resource, name)["metadata"]["uid"] == runtime_uid
    assert after["spec"]["template"]["metadata"]["annotations"][CONFIG_CHECKSUM] != \
        worker["spec"]["template"]["metadata"]["annotations"][CONFIG_CHECKSUM]
    assert "-Dalluxio.worker.network.reader.buffer.size=64MB" in \
        d.must(CONFIG_MAP, "imagenet-config")["data"]["ALLUXIO_WORKER_JAVA_OPTS"]

    def rollouts_done() -> list[bool]:
        sets = [d.must(STATEFUL_SET, f"imagenet-{c}") for c in ("master", "worker")]
        return [(s.get("status") or {}).get("currentRevision") == (s.get("status") or {}).get("updateRevision")
                and (s.get("status") or {}).get("readyReplicas") == s["spec"]["replicas"] for s in sets]

    d.until(name, rollouts_done, all, 60, "the master and the single worker rolled out and ready")
    # Both have one replica, so each had no ready pod for a moment: an update, not a failure.
    moves = [(m.source, m.dest) for o in d.outcomes[passes_before_rollout:] for m in o.moves if m.machine == "Dataset"]
    assert ("Bound", "Failed") not in moves, moves
    assert d.phase(name) == "Bound"
    lap("rolled in place")

    # A deleted worker StatefulSet fails the Dataset until setup has made it again.
    d.gw.delete(STATEFUL_SET, d.ns, "imagenet-worker")
    d.until(name, lambda: d.phase(name), lambda p: p == "Failed", 30, "Failed")
    assert any(e["reason"] == "RuntimeUnhealthy" and "imagenet-worker is missing" in e["message"]
               for e in d.gw.list(EVENT, d.ns))
    def reaped_phase() -> str | None:
        d.reap()
        return d.phase(name)

    d.until(name, reaped_phase, lambda p: p == "Bound", 90, "Bound again")
    assert d.must(STATEFUL_SET, "imagenet-worker")["spec"]["replicas"] == 1
    lap("deleted worker set: Failed, then Bound")

    d.delete_pair(name, ALLUXIO.resource)
    lap("deleted")
    print(f"\n{'; '.join(laps)}")
    print(f"alluxio pair Bound after {bound_after:.1f}s; idle passes {idle_seconds[0]:.3f}-{idle_seconds[-1]:.3f}s "
          f"(median {idle_seconds[len(idle_seconds) // 2]:.3f}s), {idle_writes} writes; with default intervals "
          f"{sorted(default_seconds)[2]:.3f}s and {default_requests:.0f} requests; "
          f"all passes: {len(d.pass_seconds)}, median {sorted(d.pass_seconds)[len(d.pass_seconds) // 2]:.3f}s")


# -- Jindo ---------------------------------------------------------------------------------------


def test_jindo_pair_binds_and_leaves_nothing(driver: Driver) -> None:
    d, name = driver, "logs"
    secret, dataset, runtime = sample("jindo.yaml")
    d.ufs_files({"s3://logs/2024/a": 1 << 20, "s3://logs/2024/b": 1 << 20, "s3://logs/2025/c": 1 << 20})
    d.apply_manifests([secret, dataset, fast_start(runtime)])
    d.until(name, lambda: d.phase(name), lambda p: p == "Bound", 90, "Dataset Bound")
    d.must(STATEFUL_SET, "logs-jindofs-master")
    d.must(STATEFUL_SET, "logs-jindofs-worker")
    d.must(DAEMON_SET, "logs-jindofs-fuse")
    for cm in ("logs-jindofs-config", "logs-jindofs-client-config", "logs-jindocache-values"):
        d.must(CONFIG_MAP, cm)
    row = d.until(name, lambda: d.table()[name], lambda r: r["TOTAL FILES"] == "3", 30, "the file count")
    row = d.until(name, lambda: d.table()[name], lambda r: r["Cached Percentage"] != "", 30, "the percentage")
    assert (row["Ufs Total Size"], row["Cached"], row["Cache Capacity"], row["Cached Percentage"], row["Phase"]) == (
        "3.00MiB", "0.00B", "2.00GiB", "0.0%", "Bound")
    counts = [i["argv"] for i in standin.invocations(d.state_dir("logs-jindofs-master-0"), "jindo")]
    assert ["fs", "-count", "jindo:///y2024"] in counts and ["fs", "-count", "jindo:///y2025"] in counts
    assert row["HCFS URL"] == f"jindo://logs-jindofs-master-0.{d.ns}:8101"  # ContainerNetwork: the default port
    attributes = d.must(PV, f"{d.ns}-logs", namespaced=False)["spec"]["csi"]["volumeAttributes"]
    assert attributes["fluid_path"] == f"/runtime-mnt/jindo/{d.ns}/logs/jindofs-fuse"
    assert attributes["mount_type"] == "fuse.jindofs-fuse"
    table = standin.mounts(d.state_dir("logs-jindofs-master-0"), tool="jindocache")
    assert [(m["path"], m["ufs"]) for m in table] == [("/y2024", "s3://logs/2024"), ("/y2025", "s3://logs/2025")]
    assert d.labelled_nodes(runtime_label("jindo", reference_key(d.ns, name))) != []
    d.delete_pair(name, JINDO.resource)
    formats = [i for i in standin.invocations(d.state_dir("logs-jindofs-master-0"), "jindocache")
               if i["command"] == "formatCache"]
    assert formats and formats[0]["argv"] == ["-formatCache", "-force"]


def test_jindo_fuse_only_follows_its_fuse_and_leaves_nothing(driver: Driver) -> None:
    d, name = driver, "models"
    dataset, runtime = sample("jindo-fuse-only.yaml")
    d.apply_manifests([dataset, fast_start(runtime)])
    d.until(name, lambda: d.phase(name), lambda p: p == "Bound", 60, "Dataset Bound")
    assert [s["metadata"]["name"] for s in d.gw.list(STATEFUL_SET, d.ns)] == []
    d.must(DAEMON_SET, "models-jindofs-fuse")
    row = d.table()[name]
    assert (row["Cached"], row["Cache Capacity"], row["Phase"]) == ("0.00B", "0.00B", "Bound")
    attributes = d.must(PV, f"{d.ns}-models", namespaced=False)["spec"]["csi"]["volumeAttributes"]
    assert attributes["fluid_path"] == f"/runtime-mnt/jindo/{d.ns}/models/jindofs-fuse"
    # A node where the CSI plugin mounted the volume gets a fuse pod; the runtime counts it.
    d.gw.patch(NODE, None, "kwok-node-0", {"metadata": {"labels": {fuse_label(reference_key(d.ns, name)): "true"}}})
    d.until(name, lambda: (d.must(JINDO.resource, name).get("status") or {}).get("fuseNumberReady"),
            lambda n: n == 1, 30, "the fuse pod ready and counted")
    assert d.phase(name) == "Bound"
    d.delete_pair(name, JINDO.resource)


# -- local:// and pvc:// mounts ---------------------------------------------------------------------


def test_local_and_pvc_mounts_reach_the_cache_pods_as_volumes(driver: Driver) -> None:
    """Native mounts are not mounted by a cache command: the pods get them as volumes below the
    root UFS, so the scheduler must find the claim bound and the pods must carry both volumes."""
    d, name, pv = driver, "native", f"{driver.ns}-native-source"
    d.ufs_files({f"s3://{d.ns}/data/part-0": 1024})
    d.gw.create({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
                 "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadOnlyMany"], "storageClassName": "",
                          "hostPath": {"path": "/srv/images"},
                          "claimRef": {"namespace": d.ns, "name": "images-claim"}}})
    d.gw.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                 "metadata": {"name": "images-claim", "namespace": d.ns},
                 "spec": {"accessModes": ["ReadOnlyMany"], "storageClassName": "", "volumeName": pv,
                          "resources": {"requests": {"storage": "1Gi"}}}})
    try:
        d.apply_manifests([
            {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset", "metadata": {"name": name},
             "spec": {"mounts": [{"mountPoint": f"s3://{d.ns}/data", "name": "data"},
                                 {"mountPoint": "local:///srv/local-data", "name": "local"},
                                 {"mountPoint": "pvc://images-claim/2024", "name": "images", "readOnly": True}]}},
            fast_start({"apiVersion": "data.fluid.io/v1alpha1", "kind": "AlluxioRuntime", "metadata": {"name": name},
                        "spec": {"replicas": 1, "tieredstore": {"levels": [
                            {"mediumtype": "MEM", "path": "/dev/shm", "quota": "1Gi"}]}}})])
        d.until(name, lambda: d.phase(name), lambda p: p == "Bound", 90, "Dataset Bound")
        for pod_name in ("native-master-0", "native-worker-0"):
            pod = d.must(POD, pod_name)
            assert pod["status"]["phase"] == "Running", pod_name
            volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
            assert volumes["native-1"]["hostPath"]["path"] == "/srv/local-data"
            assert volumes["native-2"]["persistentVolumeClaim"]["claimName"] == "images-claim"
            mounts = {m["mountPath"]: m for c in pod["spec"]["containers"] for m in c.get("volumeMounts") or []}
            images = mounts["/underFSStorage/images"]
            assert images["subPath"] == "2024" and images["readOnly"]
            assert "/underFSStorage/local" in mounts
        assert sorted(m["path"] for m in standin.mounts(d.state_dir("native-master-0"))) == ["/data"]
        assert [m["name"] for m in d.must(DATASET, name)["status"]["mounts"]] == ["data", "local", "images"]
        d.gw.delete(DATASET, d.ns, name)
        d.until(name, lambda: (d.get(DATASET, name), d.get(ALLUXIO.resource, name)),
                lambda seen: seen == (None, None), 60, "the pair gone")
        eventually(lambda: [x for x in d.leftovers(name) if "images-claim" not in x], lambda left: not left, 60,
                   "nothing of the pair left (the user's own claim stays)")
        assert d.get(PVC, "images-claim") is not None
    finally:
        d.gw.delete(PVC, d.ns, "images-claim")
        d.gw.delete(PV, None, pv)


# -- two runtimes on the host network ---------------------------------------------------------------


def test_two_host_network_runtimes_share_every_node_on_ports_of_their_own(driver: Driver) -> None:
    """On the host network a pod's ports are the node's: with the same ports the scheduler would put
    the second runtime's workers nowhere. Each runtime gets its own ports, so both fill all nodes."""
    d, names = driver, ("east", "west")
    d.ufs_files({f"s3://{d.ns}/data/part-0": 1024})
    for name in names:
        d.apply_manifests([
            {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset", "metadata": {"name": name},
             "spec": {"mounts": [{"mountPoint": f"s3://{d.ns}/data", "name": "data"}], "placement": "Shared"}},
            fast_start({"apiVersion": "data.fluid.io/v1alpha1", "kind": "AlluxioRuntime", "metadata": {"name": name},
                        "spec": {"replicas": NODES, "tieredstore": {"levels": [
                            {"mediumtype": "MEM", "path": "/dev/shm", "quota": "1Gi"}]}}})])

    def ready_workers() -> dict[str, int | None]:
        for name in names:
            d.reconcile(name)
        return {n: (d.must(ALLUXIO.resource, n).get("status") or {}).get("workerNumberReady") for n in names}

    eventually(ready_workers, lambda seen: seen == dict.fromkeys(names, NODES), 120,
               f"{NODES} ready workers for each runtime")
    host_ports = {}
    for name in names:
        assert d.phase(name) == "Bound"
        pods = [p for p in d.gw.list(POD, d.ns) if p["metadata"]["name"].startswith(f"{name}-")]
        assert pods and all(p["spec"].get("hostNetwork") for p in pods)
        host_ports[name] = {port["hostPort"] for p in pods for c in p["spec"]["containers"]
                            for port in c.get("ports") or []}
    assert host_ports["east"] and host_ports["west"] and not host_ports["east"] & host_ports["west"]
    assert all(20000 <= n <= 26000 for n in host_ports["east"] | host_ports["west"])
    for name in names:
        d.gw.delete(DATASET, d.ns, name)

    def left() -> list[str]:
        for name in names:
            d.reconcile(name)
        d.reap()
        return d.leftovers(names[0]) + d.leftovers(names[1])

    eventually(left, lambda found: not found, 90, "nothing left of either pair")


# -- deletion in every lifecycle state --------------------------------------------------------------


def _stuck_pair(d: Driver, name: str, how: str) -> None:
    d.ufs_files({f"s3://{d.ns}/data/part-0": 1024})
    mount = f"s3://{d.ns}/missing" if how == "PreparingUFS" else f"s3://{d.ns}/data"
    runtime: Obj = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "AlluxioRuntime",
                    "metadata": {"name": name}, "spec": {
                        "replicas": 1,
                        "tieredstore": {"levels": [{"mediumtype": "MEM", "path": "/dev/shm", "quota": "1Gi"}]},
                        "master": {"networkMode": "ContainerNetwork"},
                        "worker": {"networkMode": "ContainerNetwork"}}}
    if how == "SettingUpMaster":
        runtime["spec"]["master"]["nodeSelector"] = {"no-such-node": "true"}
    if how == "SettingUpWorkers":
        runtime["spec"]["worker"]["nodeSelector"] = {"no-such-node": "true"}
    documents = [fast_start(runtime)]
    if how != "New":
        documents.insert(0, {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset", "metadata": {"name": name},
                             "spec": {"mounts": [{"mountPoint": mount, "name": "data"}]}})
    d.apply_manifests(documents)


@pytest.mark.parametrize("state", ["New", "SettingUpMaster", "PreparingUFS", "SettingUpWorkers", "Ready",
                                   "Ready, Dataset gone"])
def test_deletion_in_any_state_leaves_no_object_and_no_label(driver: Driver, state: str) -> None:
    d, name = driver, "pair"
    _stuck_pair(d, name, state.split(",")[0])
    want = state.split(",")[0]
    d.until(name, lambda: d.state(ALLUXIO.resource, name), lambda s: s == want, 60, f"runtime state {want}")
    if state == "Ready":
        d.until(name, lambda: d.labelled_nodes(common_label(reference_key(d.ns, name))), lambda n: len(n) == 1, 30,
                "a labelled cache node")
    if state == "Ready, Dataset gone":
        # The reference's pain point 4: the runtime must still clean up without its Dataset.
        d.gw.patch(DATASET, d.ns, name, {"metadata": {"finalizers": None}})
        d.gw.delete(DATASET, d.ns, name)
        eventually(lambda: d.get(DATASET, name), lambda ds: ds is None, 30, "the Dataset gone")
    d.delete_pair(name, ALLUXIO.resource)

