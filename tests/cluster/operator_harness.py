"""Running the operator as a real process against the test cluster, and reading what it did.

Each test gets operators confined to its own namespace with its own Lease, so tests sharing the
session's control plane do not see each other. Processes are stopped by the PID we started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lifecycle.cli.run import install_crds
from lifecycle.generate.crds import render, runtime_crd
from lifecycle.k8s.connection import ApiServer
from lifecycle.k8s.gateway import DATASET, PV, PVC, SERVICE_ACCOUNT, NotFound
from lifecycle.k8s.kube import KubeGateway
from lifecycle.k8s.naming import pv_name, reference_key
from lifecycle.local import LocalCluster
from lifecycle.local.processes import free_port
from lifecycle.testing import scripted

REPO = Path(__file__).resolve().parents[2]
SCRIPTED = scripted.KIND.resource
WRITE_VERBS = ("POST", "PUT", "PATCH", "DELETE", "APPLY")


class OperatorProcess:
    def __init__(self, cluster: LocalCluster, namespace: str, log_dir: Path, identity: str,
                 lease_seconds: float = 6.0, extra: tuple[str, ...] = (), kubeconfig: Path | None = None,
                 lease_namespace: str | None = None, env: dict[str, str] | None = None,
                 main: str = "lifecycle.cli.main"):
        self.metrics_port = free_port()
        self.identity = identity
        self.log_path = log_dir / f"operator-{identity}.log"
        env = {**os.environ, "KUBECONFIG": str(kubeconfig or cluster.kubeconfig), "PYTHONPATH": str(REPO),
               "FLUIDLC_ENGINES": "lifecycle.testing.scripted:register", **(env or {})}
        args = [sys.executable, "-m", main, "operator", "--namespace", namespace,
                "--lease-namespace", lease_namespace or namespace, "--lease-seconds", str(lease_seconds),
                "--identity", identity,
                "--metrics-address", f"127.0.0.1:{self.metrics_port}", "--log-format", "text", *extra]
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO,
                                        start_new_session=True)

    def metrics(self) -> dict[str, float]:
        """Samples of /metrics, keyed by their text (name and labels)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as reply:
            text = reply.read().decode()
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

    def serving(self) -> bool:
        try:
            self.metrics()
        except OSError:
            return False
        return True

    def reconciles(self) -> float:
        return sum(v for k, v in self.metrics().items() if k.startswith("controller_runtime_reconcile_total"))

    def leading(self) -> bool:
        try:
            return any(v == 1 for k, v in self.metrics().items() if k.startswith("leader_election_master_status"))
        except OSError:
            return False

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        self.process.wait(30)
        self._log.close()

    def stop(self) -> int:
        self.kill(signal.SIGTERM)
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def operators(cluster: LocalCluster, kube: ApiServer, namespace: str,
              tmp_path: Path) -> Iterator[list[OperatorProcess]]:
    """A list to start operators into; every one still running is stopped afterwards."""
    started: list[OperatorProcess] = []
    try:
        yield started
    finally:
        for op in started:
            op.kill()
        for op in started:
            if op.process.returncode not in (0, -signal.SIGKILL, -signal.SIGTERM):
                print(f"--- operator {op.identity} log ---\n{op.log()[-4000:]}")


def scripted_crds_on(gateway: KubeGateway) -> KubeGateway:
    """The project's CRDs plus one for the scripted test kind, Established."""
    install_crds(gateway)
    gateway.apply(yaml.safe_load(render(runtime_crd(scripted.KIND))))
    def served() -> bool:
        try:
            gateway.list(SCRIPTED)
        except NotFound:
            return False
        return True

    wait_for("the ScriptedRuntime CRD to be served", served, 30)
    return gateway


@pytest.fixture(scope="session")
def scripted_crds(kube: ApiServer) -> KubeGateway:
    return scripted_crds_on(KubeGateway(kube, (SCRIPTED,)))


def fresh_namespace(gateway: KubeGateway, name: str) -> str:
    """A namespace whose default ServiceAccount exists (pods are refused until it does)."""
    gateway.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    wait_for(f"the default ServiceAccount of {name}", lambda: gateway.get(SERVICE_ACCOUNT, name, "default"), 30)
    return name


def create_pair(gateway: KubeGateway, namespace: str, name: str, replicas: int = 1) -> None:
    gateway.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
                    "metadata": {"name": name, "namespace": namespace},
                    "spec": {"mounts": [{"mountPoint": f"s3://bucket/{name}", "name": name}]}})
    gateway.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "ScriptedRuntime",
                    "metadata": {"name": name, "namespace": namespace}, "spec": {"replicas": replicas}})


def phase(gateway: KubeGateway, namespace: str, name: str) -> str | None:
    ds = gateway.get(DATASET, namespace, name)
    return (ds or {}).get("status", {}).get("phase") if ds else None


def wait_for(what: str, check: Any, timeout: float, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")


def unbound_volumes(gateway: KubeGateway, namespace: str, names: list[str]) -> int:
    """How many of the pairs' PVCs and PVs do not report phase Bound yet (a missing one counts).

    The controller-manager binds each PV to its claim on its own pace, after the pair is Bound;
    its writes must not fall into a window that measures the operator's."""
    claims = {o["metadata"]["name"]: o for o in gateway.list(PVC, namespace)}
    volumes = {o["metadata"]["name"]: o for o in gateway.list(PV)}
    wanted = [claims.get(n) for n in names] + [volumes.get(pv_name(reference_key(namespace, n))) for n in names]
    return sum(o is None or (o.get("status") or {}).get("phase") != "Bound" for o in wanted)


def apiserver_writes(gateway: KubeGateway) -> dict[str, float]:
    """Write requests the API server has served, by resource, from its own /metrics.

    Leases (leader election, kwok's node heartbeats) and node status updates (kwok) are the
    platform's, not ours, and are left out.
    """
    response = gateway.request("GET", "/metrics", accept="text/plain", stream=True)
    text = response.read().decode()
    response.release_conn()
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        body = line[line.index("{") + 1:line.index("}")]
        labels = {k: v.strip('"') for k, _, v in (part.partition("=") for part in body.split(",")) if v}
        if labels.get("verb") not in WRITE_VERBS or labels.get("resource") == "leases":
            continue
        if labels.get("resource") == "nodes" and labels.get("subresource") == "status":
            continue
        key = f"{labels.get('verb')} {labels.get('resource')}/{labels.get('subresource', '')}"
        counts[key] = counts.get(key, 0) + float(line.rpartition(" ")[2])
    return counts
