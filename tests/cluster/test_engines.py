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

import contextlib
import copy
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from kubernetes import client

import engines.alluxio
import engines.jindo
from engines.alluxio.kind import KIND_SPEC as ALLUXIO
from engines.cache.objects import CONFIG_CHECKSUM
from engines.jindo.kind import KIND_SPEC as JINDO
from fluidlc_standin import cache as standin
from lifecycle.cli.run import install_crds
from lifecycle.deploy import SAMPLES
from lifecycle.engine.registry import Registry
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
    NotFound,
    Obj,
    Resource,
)
from lifecycle.k8s.kube import KubeGateway
from lifecycle.k8s.naming import (
    DATASET_NUM_LABEL,
    EXCLUSIVE_LABEL,
    capacity_label,
    common_label,
    fuse_label,
    runtime_label,
)
from lifecycle.local import LocalCluster
from lifecycle.local.nodes import ensure_nodes, wait_nodes_ready
from lifecycle.reconcile.reconciler import Outcome, Reconciler
from tests.cluster import IMMEDIATE_START, eventually

pytestmark = pytest.mark.cluster

T = TypeVar("T")
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
NODES = 5
# The cache report runs every pass; metadata and drift checks every few seconds.
SETTINGS = {"sync_intervals": {"sync_metadata": 2.0, "check_and_update_runtime_status": 0.0,
                               "update_on_ufs_change": 2.0}}
WRITE_VERBS = ("create", "apply", "patch", "replace_status", "delete", "event")
SECRET_VALUE = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


class CountingGateway(KubeGateway):
    """Counts every request that writes, by verb and kind, so a test can assert an idle pass sends none."""

    def __init__(self, api: Any, resources: tuple[Resource, ...]):
        super().__init__(api, resources)
        self.writes: Counter[str] = Counter()

    def create(self, obj: Obj) -> Obj:
        self.writes[f"create {obj['kind']}"] += 1
        return super().create(obj)

    def apply(self, obj: Obj, dry_run: bool = False) -> Obj:
        self.writes[f"apply {obj['kind']}"] += 1
        return super().apply(obj, dry_run)

    def patch(self, res: Resource, namespace: str | None, name: str, patch: Obj) -> Obj:
        self.writes[f"patch {res.kind}"] += 1
        return super().patch(res, namespace, name, patch)

    def replace_status(self, obj: Obj) -> Obj:
        self.writes[f"replace_status {obj['kind']}"] += 1
        return super().replace_status(obj)

    def delete(self, res: Resource, namespace: str | None, name: str) -> bool:
        self.writes[f"delete {res.kind}"] += 1
        return super().delete(res, namespace, name)

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        self.writes[f"event {reason}"] += 1
        super().event(obj, type_, reason, message)


class Driver:
    """The reconcile of one namespace's pairs, run in a loop until a condition holds."""

    def __init__(self, kube: client.ApiClient, namespace: str, cluster: LocalCluster):
        self.ns = namespace
        self.cluster = cluster
        self.gw = CountingGateway(kube, (ALLUXIO.resource, JINDO.resource))
        registry = Registry()
        engines.alluxio.register(registry)
        engines.jindo.register(registry)
        self.reconciler = Reconciler(self.gw, registry, settings=copy.deepcopy(SETTINGS))
        self.pass_seconds: list[float] = []
        self.outcomes: list[Outcome] = []

    # -- driving -------------------------------------------------------------------------------

    def reconcile(self, name: str) -> Outcome:
        started = time.monotonic()
        outcome = self.reconciler.reconcile(self.ns, name)
        self.pass_seconds.append(time.monotonic() - started)
        self.outcomes.append(outcome)
        return outcome

    def until(self, name: str, observe: Callable[[], T], accept: Callable[[T], bool], timeout: float,
              what: str) -> T:
        """Reconcile every half second until ``accept(observe())``; fail naming the last outcome."""
        deadline = time.monotonic() + timeout
        while True:
            outcome = self.reconcile(name)
            seen = observe()
            if accept(seen):
                return seen
            if time.monotonic() >= deadline:
                raise AssertionError(f"{what} not reached within {timeout:g}s; last seen: {seen!r}; "
                                     f"last pass: {outcome}")
            time.sleep(0.5)

    # -- reading -------------------------------------------------------------------------------

    def get(self, res: Resource, name: str, namespaced: bool = True) -> Obj | None:
        return self.gw.get(res, self.ns if namespaced else None, name)

    def must(self, res: Resource, name: str, namespaced: bool = True) -> Obj:
        obj = self.get(res, name, namespaced)
        assert obj is not None, f"{res.kind} {name} is missing"
        return obj

    def phase(self, name: str) -> str | None:
        ds = self.get(DATASET, name)
        return ((ds or {}).get("status") or {}).get("phase")

    def state(self, kind: Resource, name: str) -> str | None:
        rt = self.get(kind, name)
        return (((rt or {}).get("status") or {}).get("lifecycle") or {}).get("state")

    def table(self) -> dict[str, dict[str, Any]]:
        """``kubectl get datasets``: every column of every row, by dataset name."""
        data = self.gw.request("GET", self.gw.path(DATASET, self.ns), accept=TABLE)
        names = [c["name"] for c in data["columnDefinitions"]]
        return {row["object"]["metadata"]["name"]: dict(zip(names, row["cells"], strict=True))
                for row in data["rows"]}

    def running_pods(self, selector: dict[str, str]) -> list[Obj]:
        return [p for p in self.gw.list(POD, self.ns, labels=selector)
                if (p.get("status") or {}).get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
                and all(c.get("ready") for c in (p.get("status") or {}).get("containerStatuses") or [])]

    def reap(self) -> None:
        """Finish the termination of pods being deleted, as a prompt kubelet would: kwok's pod-delete
        stage otherwise waits a random part of the 30 s grace period, which only slows the tests."""
        for pod in self.gw.list(POD, self.ns):
            if pod["metadata"].get("deletionTimestamp"):
                with contextlib.suppress(NotFound):
                    self.gw.request("DELETE", self.gw.path(POD, self.ns, pod["metadata"]["name"]),
                                    body={"gracePeriodSeconds": 0})

    def labelled_nodes(self, key: str) -> list[str]:
        return sorted(n["metadata"]["name"] for n in self.gw.list(NODE)
                      if (n["metadata"].get("labels") or {}).get(key) == "true")

    def leftovers(self, name: str) -> list[str]:
        """Objects and node labels of the pair that are still there. Pods already being deleted are
        kwok's to finish (its pod-delete stage waits out a random part of the 30 s grace period)."""
        found = [f"{res.kind} {o['metadata']['name']}"
                 for res in (STATEFUL_SET, DAEMON_SET, SERVICE, CONFIG_MAP, POD, PVC, DATASET, ALLUXIO.resource,
                             JINDO.resource)
                 for o in self.gw.list(res, self.ns)
                 if o["metadata"]["name"] != "kube-root-ca.crt"
                 and not (res is POD and o["metadata"].get("deletionTimestamp"))]
        if self.get(PV, f"{self.ns}-{name}", namespaced=False) is not None:
            found.append(f"PersistentVolume {self.ns}-{name}")
        keys = {common_label(self.ns, name), fuse_label(self.ns, name),
                *(runtime_label(t, self.ns, name) for t in ("alluxio", "jindo")),
                *(capacity_label(t, m, self.ns, name) for t in ("alluxio", "jindo") for m in "mdt")}
        for node in self.gw.list(NODE):
            for key, value in (node["metadata"].get("labels") or {}).items():
                if key in keys or (key == EXCLUSIVE_LABEL and value == f"{self.ns}_{name}"):
                    found.append(f"label {key} on {node['metadata']['name']}")
        return found

    def delete_pair(self, name: str, kind: Resource, timeout: float = 60) -> None:
        """Delete the Dataset (which deletes its runtime) or, without one, the runtime; wait until
        both are gone and nothing of theirs is left."""
        if self.get(DATASET, name) is not None:
            self.gw.delete(DATASET, self.ns, name)
        else:
            self.gw.delete(kind, self.ns, name)
        self.until(name, lambda: (self.get(DATASET, name), self.get(kind, name)),
                   lambda seen: seen == (None, None), timeout, f"Dataset and {kind.kind} {name} gone")
        eventually(lambda: self.leftovers(name), lambda left: not left, 60, f"nothing left of {name}")

    # -- the world around --------------------------------------------------------------------

    def ufs_files(self, files: dict[str, int]) -> int:
        """Files below the cluster's UFS root (``s3://b/x`` is ``<root>/s3/b/x``); their total size."""
        for uri, size in files.items():
            path = standin.ufs_local_path(self.cluster.dir / "ufs", uri)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"\0" * size)
        return sum(files.values())

    def state_dir(self, pod: str) -> Path:
        return self.cluster.dir / "exec" / self.ns / pod

    def apply_manifests(self, documents: list[Obj]) -> None:
        for doc in documents:
            doc["metadata"]["namespace"] = self.ns
            self.gw.create(doc)

    def writes_total(self) -> int:
        return sum(self.gw.writes.values())


def allocated_ports(d: Driver, values_config_map: str) -> dict[str, dict[str, int]]:
    held: dict[str, dict[str, int]] = yaml.safe_load(d.must(CONFIG_MAP, values_config_map)["data"]["data"])[
        "allocatedPorts"]
    return held


def sample(file: str) -> list[Obj]:
    return [d for d in yaml.safe_load_all((SAMPLES / file).read_text()) if d]


def fast_start(runtime: Obj) -> Obj:
    """Skip kwok's simulated start-up delays; the tests are about what comes after."""
    spec = runtime["spec"]
    for part in (spec, spec.setdefault("fuse", {})):
        part.setdefault("podMetadata", {}).setdefault("annotations", {}).update(IMMEDIATE_START)
    return runtime


def condition(obj: Obj | None, type_: str) -> dict[str, Any] | None:
    return next((c for c in ((obj or {}).get("status") or {}).get("conditions") or [] if c["type"] == type_), None)


@pytest.fixture(scope="module")
def crds(kube: client.ApiClient) -> list[str]:
    return install_crds(KubeGateway(kube))


@pytest.fixture(scope="module")
def five_nodes(cluster: LocalCluster, kube: client.ApiClient) -> Iterator[list[str]]:
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
def driver(crds: list[str], five_nodes: list[str], kube: client.ApiClient, namespace: str,
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
    assert fuse["spec"]["template"]["spec"]["nodeSelector"] == {fuse_label(d.ns, name): "true"}
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
        "mount_pod_node_selector_key": fuse_label(d.ns, name)}
    assert pv["spec"]["capacity"]["storage"] == "200Gi"
    status = d.must(ALLUXIO.resource, name)["status"]
    assert status["valueFile"] == "imagenet-alluxio-values" and status["setupDuration"].endswith("s")

    # The mounts reached the stand-in as argument vectors: the hostile option is one literal argument.
    state = d.state_dir("imagenet-master-0")
    table = {m["path"]: m for m in standin.mounts(state)}
    assert sorted(table) == ["/train", "/val"]
    assert table["/train"]["options"]["alluxio.underfs.s3.connection.ttl"] == hostile
    assert table["/train"]["options"]["aws.secretKey"] == SECRET_VALUE and table["/train"]["readonly"]
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

    storage_key = runtime_label("alluxio", d.ns, name)
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
    counts = [(n["metadata"].get("labels") or {}).get(DATASET_NUM_LABEL) for n in d.gw.list(NODE)]
    assert sorted(c for c in counts if c) == ["1"]
    assert d.phase(name) == "Bound"

    # A rotated Secret: the mount that reads it is made again with the new key, the other stays.
    rotated_key = "rotated/EXAMPLEKEY+2"
    d.gw.patch(SECRET, d.ns, "imagenet-s3-keys", {"stringData": {"secret-access-key": rotated_key}})
    d.until(name, lambda: {m["path"]: m["options"].get("aws.secretKey") for m in standin.mounts(state)},
            lambda t: t.get("/train") == rotated_key and "/val" in t, 30, "the rotated key in the cache's mount")
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
    assert d.labelled_nodes(runtime_label("jindo", d.ns, name)) != []
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
    d.gw.patch(NODE, None, "kwok-node-0", {"metadata": {"labels": {fuse_label(d.ns, name): "true"}}})
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
        d.until(name, lambda: d.labelled_nodes(common_label(d.ns, name)), lambda n: len(n) == 1, 30,
                "a labelled cache node")
    if state == "Ready, Dataset gone":
        # The reference's pain point 4: the runtime must still clean up without its Dataset.
        d.gw.patch(DATASET, d.ns, name, {"metadata": {"finalizers": None}})
        d.gw.delete(DATASET, d.ns, name)
        eventually(lambda: d.get(DATASET, name), lambda ds: ds is None, 30, "the Dataset gone")
    d.delete_pair(name, ALLUXIO.resource)

