"""The operator process on the real control plane: binding, deletion, crashes, leadership, restarts, idling.

The scripted engine makes real StatefulSets, a DaemonSet and a PV/PVC, whose pods kwok runs; the
operator is a separate process, killed and restarted as a real one would be.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest

from lifecycle.cli.main import main
from lifecycle.k8s.gateway import CONFIG_MAP, DAEMON_SET, DATASET, LEASE, NODE, POD, PV, PVC, STATEFUL_SET
from lifecycle.k8s.kube import KubeGateway
from lifecycle.k8s.naming import pv_name, reference_key
from lifecycle.local import LocalCluster
from tests.cluster.operator_harness import (
    SCRIPTED,
    OperatorProcess,
    apiserver_writes,
    create_pair,
    fresh_namespace,
    operators,
    phase,
    scripted_crds,
    scripted_crds_on,
    unbound_volumes,
    wait_for,
)

__all__ = ["operators", "scripted_crds"]  # fixtures used below


def owned_objects(gw: KubeGateway, namespace: str, name: str) -> dict[str, list[str]]:
    return {
        "statefulsets": sorted(o["metadata"]["name"] for o in gw.list(STATEFUL_SET, namespace)
                               if o["metadata"]["name"].startswith(f"{name}-")),
        "daemonsets": sorted(o["metadata"]["name"] for o in gw.list(DAEMON_SET, namespace)
                             if o["metadata"]["name"].startswith(f"{name}-")),
        "configmaps": sorted(o["metadata"]["name"] for o in gw.list(CONFIG_MAP, namespace)
                             if o["metadata"]["name"].startswith(f"{name}-")),
        "pvcs": [name] if gw.get(PVC, namespace, name) else [],
        "pvs": [pv] if gw.get(PV, None, pv := pv_name(reference_key(namespace, name))) else [],
    }


def pair_labels_on_nodes(gw: KubeGateway, namespace: str) -> list[str]:
    return [k for n in gw.list(NODE) for k in (n["metadata"].get("labels") or {}) if f"-{namespace}-" in k]


def test_pair_binds_and_deletion_leaves_nothing(scripted_crds: KubeGateway, operators: list[OperatorProcess],
                                                cluster: LocalCluster, namespace: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    gw = scripted_crds
    operators.append(OperatorProcess(cluster, namespace, tmp_path, "solo"))
    create_pair(gw, namespace, "imagenet", replicas=2)
    wait_for("Bound", lambda: phase(gw, namespace, "imagenet") == "Bound", 90)
    rt = gw.get(SCRIPTED, namespace, "imagenet")
    assert rt is not None and rt["status"]["lifecycle"]["state"] == "Ready"
    assert rt["metadata"]["finalizers"] == ["scripted-runtime-controller-finalizer"]
    assert owned_objects(gw, namespace, "imagenet")["statefulsets"] == ["imagenet-master", "imagenet-worker"]
    assert pair_labels_on_nodes(gw, namespace)

    # The live diagrams show where each machine stands.
    monkeypatch.setenv("FLUIDLC_ENGINES", "lifecycle.testing.scripted:register")
    kubeconfig = ["--kubeconfig", str(cluster.kubeconfig)]
    assert main(["diagram", "scripted", f"{namespace}/imagenet", *kubeconfig]) == 0
    assert "class Ready current" in capsys.readouterr().out
    svg = tmp_path / "dataset.svg"
    assert main(["diagram", "dataset", f"{namespace}/imagenet", "--format", "svg", "-o", str(svg), *kubeconfig]) == 0
    assert "in state Bound" in capsys.readouterr().out and svg.read_text().startswith("<?xml")

    gw.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reader", "namespace": namespace},
               "spec": {"containers": [{"name": "c", "image": "busybox"}],
                        "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "imagenet"}}]}})
    gw.delete(DATASET, namespace, "imagenet")
    deleting = wait_for("the Deleting condition to name the pod", lambda: next(
        (c for c in (gw.get(DATASET, namespace, "imagenet") or {}).get("status", {}).get("conditions", [])
         if c["type"] == "Deleting" and "reader" in c.get("message", "")), None), 60)
    assert deleting["reason"] == "PodsUsingVolume"
    assert main(["diagram", "dataset", f"{namespace}/imagenet", *kubeconfig]) == 0
    assert "class Deleting current" in capsys.readouterr().out
    gw.delete(POD, namespace, "reader")

    wait_for("the pair to be gone", lambda: gw.get(DATASET, namespace, "imagenet") is None
             and gw.get(SCRIPTED, namespace, "imagenet") is None, 90)
    wait_for("owned objects to be gone",
             lambda: not any(owned_objects(gw, namespace, "imagenet").values()), 60)
    assert pair_labels_on_nodes(gw, namespace) == []


def test_sigkill_at_random_points_of_setup_converges(scripted_crds: KubeGateway, operators: list[OperatorProcess],
                                                      cluster: LocalCluster, namespace: str, tmp_path: Path) -> None:
    """Ten kills at random moments while ten pairs are being set up; a last operator finishes the job."""
    gw = scripted_crds
    names = [f"pair-{i}" for i in range(10)]
    rng = random.Random(20261125)
    kill_points = []
    for i, name in enumerate(names):
        create_pair(gw, namespace, name, replicas=1 + i % 3)
        op = OperatorProcess(cluster, namespace, tmp_path, f"crash-{i}", lease_seconds=2)
        operators.append(op)
        # Killed a random while after it started serving (how long a start takes is the machine's).
        wait_for(f"operator crash-{i} serving", op.serving, 60, interval=0.1)
        time.sleep(rng.uniform(1.0, 4.0))
        kill_points.append({n: ((gw.get(SCRIPTED, namespace, n) or {}).get("status") or {}).get(
            "lifecycle", {}).get("state", "New") for n in names[: i + 1]})
        op.kill(signal.SIGKILL)
    assert any(state not in ("New", "Ready") for point in kill_points for state in point.values()), kill_points

    operators.append(OperatorProcess(cluster, namespace, tmp_path, "survivor", lease_seconds=2))
    wait_for("all pairs Bound", lambda: all(phase(gw, namespace, n) == "Bound" for n in names), 180)
    for i, name in enumerate(names):
        assert owned_objects(gw, namespace, name) == {
            "statefulsets": [f"{name}-master", f"{name}-worker"], "daemonsets": [f"{name}-fuse"],
            "configmaps": [f"{name}-ufs"], "pvcs": [name], "pvs": [pv_name(reference_key(namespace, name))],
        }
        worker = gw.get(STATEFUL_SET, namespace, f"{name}-worker")
        assert worker is not None and worker["spec"]["replicas"] == 1 + i % 3
        rt = gw.get(SCRIPTED, namespace, name)
        assert rt is not None and rt["status"]["lifecycle"] == {"state": "Ready"}


def test_only_the_lease_holder_reconciles_and_a_standby_takes_over(
        scripted_crds: KubeGateway, operators: list[OperatorProcess], cluster: LocalCluster, namespace: str,
        tmp_path: Path) -> None:
    gw = scripted_crds
    lease_seconds = 6.0
    a = OperatorProcess(cluster, namespace, tmp_path, "a", lease_seconds=lease_seconds)
    operators.append(a)
    wait_for("a to lead", a.leading, 30)
    b = OperatorProcess(cluster, namespace, tmp_path, "b", lease_seconds=lease_seconds)
    operators.append(b)
    wait_for("b to serve metrics", b.serving, 30)
    create_pair(gw, namespace, "first")
    wait_for("first Bound", lambda: phase(gw, namespace, "first") == "Bound", 90)
    assert a.reconciles() > 0 and b.reconciles() == 0 and not b.leading()

    a.kill(signal.SIGKILL)
    killed = time.monotonic()
    wait_for("b to take the lease", b.leading, lease_seconds * 3, interval=0.1)
    handover = time.monotonic() - killed
    assert handover <= lease_seconds + 4, f"handover took {handover:.1f}s with a {lease_seconds:.0f}s lease"
    lease = gw.get(LEASE, namespace, "fluid-lifecycle-operator")
    assert lease is not None and lease["spec"]["holderIdentity"] == "b"
    create_pair(gw, namespace, "second")
    wait_for("second Bound", lambda: phase(gw, namespace, "second") == "Bound", 90)

    # SIGTERM: in-flight work finishes and the Lease is handed back, so a standby need not wait it out.
    c = OperatorProcess(cluster, namespace, tmp_path, "c", lease_seconds=lease_seconds)
    operators.append(c)
    wait_for("c to serve metrics", c.serving, 30)
    assert b.stop() == 0
    released = time.monotonic()
    wait_for("c to take the released lease", c.leading, lease_seconds, interval=0.1)
    graceful = time.monotonic() - released
    assert graceful < lease_seconds, f"a released lease took {graceful:.1f}s to change hands"
    assert "released lease" in b.log()
    print(f"lease handover after SIGKILL: {handover:.1f}s; after SIGTERM: {graceful:.1f}s (lease {lease_seconds:.0f}s)")


def test_watches_resume_after_an_api_server_restart(
        scripted_crds: KubeGateway, operators: list[OperatorProcess], cluster: LocalCluster, namespace: str,
        tmp_path: Path) -> None:
    """The lease outlasts the restart (on a loaded 2-core machine it took over 4 s, the renew deadline of a
    6 s lease), so this checks the watches resuming, not a leader stepping down with nobody to restart it."""
    gw = scripted_crds
    operators.append(OperatorProcess(cluster, namespace, tmp_path, "steady", lease_seconds=45.0))
    create_pair(gw, namespace, "before", replicas=2)
    time.sleep(2)  # mid-setup
    cluster.restart("kube-apiserver")
    wait_for("before Bound", lambda: phase(gw, namespace, "before") == "Bound", 120)
    create_pair(gw, namespace, "after")  # only a resumed watch can see this one
    wait_for("after Bound", lambda: phase(gw, namespace, "after") == "Bound", 90)


def test_an_idle_minute_writes_nothing(tmp_path: Path) -> None:
    """On a control plane of its own, so other tests' clean-up cannot add writes to the count."""
    quiet = LocalCluster("quiet", tmp_path / "cluster", tie_to_caller=True)
    quiet.up(nodes=3)
    try:
        with quiet.connect() as api:
            gw = KubeGateway(api, (SCRIPTED,))
            scripted_crds_on(gw)
            fresh_namespace(gw, "idle")
            op = OperatorProcess(quiet, "idle", tmp_path, "idle", extra=("--resync", "10"))
            try:
                for name in ("idle-a", "idle-b"):
                    create_pair(gw, "idle", name)
                wait_for("both Bound", lambda: all(phase(gw, "idle", n) == "Bound" for n in ("idle-a", "idle-b")), 90)
                # The controller-manager binds each PV to its claim on its own schedule (every 15 s).
                wait_for("the volumes bound", lambda: unbound_volumes(gw, "idle", ["idle-a", "idle-b"]) == 0, 60)
                time.sleep(5)  # the last events and status updates of the setup land
                before, reconciles_before = apiserver_writes(gw), op.reconciles()
                time.sleep(60)
                after = apiserver_writes(gw)
                reconciles = op.reconciles() - reconciles_before
            finally:
                op.stop()
    finally:
        quiet.down()
    grown = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    print(f"idle minute: {reconciles:.0f} reconciles, writes {grown or 'none'}")
    assert reconciles >= 8, "the operator must keep resyncing while idle (every 10 s here)"
    assert grown == {}, f"write requests while idle: {grown}"


def test_creating_a_missing_secret_wakes_the_pair_that_waits_for_it(
        scripted_crds: KubeGateway, operators: list[OperatorProcess], cluster: LocalCluster, namespace: str,
        tmp_path: Path) -> None:
    """A pair failing on a missing Secret backs off exponentially; the operator watches Secrets, so
    creating it wakes the pair at once instead of at the next retry (resync is off here)."""
    from engines.alluxio.kind import KIND_SPEC as ALLUXIO
    from lifecycle.local.standin.cache import ufs_local_path
    from tests.cluster import IMMEDIATE_START

    gw = KubeGateway(scripted_crds.api, (ALLUXIO.resource,))
    data = ufs_local_path(cluster.dir / "ufs", f"s3://{namespace}/data/part-0")
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_bytes(b"\0" * 1024)
    operators.append(OperatorProcess(cluster, namespace, tmp_path, "secrets", extra=("--resync", "900")))
    keys = {"name": "aws.secretKey", "valueFrom": {"secretKeyRef": {"name": "late-keys", "key": "secret"}}}
    gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset", "metadata": {"name": "late",
                                                                                      "namespace": namespace},
               "spec": {"mounts": [{"mountPoint": f"s3://{namespace}/data", "name": "data",
                                    "encryptOptions": [keys]}]}})
    gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "AlluxioRuntime", "metadata": {"name": "late",
                                                                                             "namespace": namespace},
               "spec": {"replicas": 1, "podMetadata": {"annotations": IMMEDIATE_START},
                        "tieredstore": {"levels": [{"mediumtype": "MEM", "path": "/dev/shm", "quota": "1Gi"}]}}})

    def attempts() -> int:
        lifecycle = ((gw.get(ALLUXIO.resource, namespace, "late") or {}).get("status") or {}).get("lifecycle") or {}
        return int(lifecycle.get("attempts") or 0) if lifecycle.get("state") == "PreparingUFS" else 0

    # 14 failures in a row take about 41 s of backoff (5 ms doubling), and the next retry is 41 s
    # away. Each failure writes the runtime's status; that write must not wake the pair again, or
    # it retries at once, hundreds of times (it did).
    wait_for("14 failed attempts to mount without the Secret", lambda: attempts() >= 14, 150)
    assert attempts() <= 16, "the failing pair did not back off"
    assert "Secret" in str(gw.get(ALLUXIO.resource, namespace, "late")["status"]["lifecycle"].get("message"))
    gw.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "late-keys", "namespace": namespace},
               "stringData": {"secret": "s3cr3t"}})
    wait_for("the pair Bound before its next retry", lambda: phase(gw, namespace, "late") == "Bound", 30)
    # Leave the shared nodes as found: the operator deletes the pair and its node labels.
    gw.delete(DATASET, namespace, "late")
    wait_for("the pair deleted", lambda: gw.get(ALLUXIO.resource, namespace, "late") is None, 90)
    assert pair_labels_on_nodes(gw, namespace) == []
