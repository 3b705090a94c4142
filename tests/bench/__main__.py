"""``make bench``: how fast pairs bind and what they cost, printed as figures (never asserted).

1. In memory: reconcile passes per second for a pair being set up and for an idle Ready pair.
2. On a fresh local control plane, with the operator as a separate process and the scripted
   engine (pods start at once, so the figures are the operator's, not kwok's delays): time for
   BENCH_PAIRS pairs (default 100) to all reach Bound, per-pair latency, API write requests per
   pair, reconciles per pair, the operator's resident memory, and writes during an idle period.
3. The time to Bound again with the controller-manager's client rate limit raised from its
   default (20 requests/s), which is what bounds the figure of 2. on this machine.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lifecycle.engine.registry import Registry
from lifecycle.k8s.gateway import DATASET, STATEFUL_SET
from lifecycle.k8s.kube import KubeGateway
from lifecycle.k8s.memory import MemoryGateway
from lifecycle.local import LocalCluster
from lifecycle.reconcile.reconciler import Reconciler
from lifecycle.testing import scripted
from tests.cluster import IMMEDIATE_START
from tests.cluster.operator_harness import (
    SCRIPTED,
    OperatorProcess,
    apiserver_writes,
    fresh_namespace,
    scripted_crds_on,
    unbound_volumes,
    wait_for,
)

console = Console()
NO_RATE_LIMITS = {"sync_intervals": {"sync_metadata": 0, "check_and_update_runtime_status": 0,
                                     "update_on_ufs_change": 0}}


def in_memory(figures: list[tuple[str, str]]) -> None:
    registry = Registry()
    scripted.register(registry)
    pairs = 200
    gw = MemoryGateway((SCRIPTED,))
    rec = Reconciler(gw, registry, settings=NO_RATE_LIMITS)
    for i in range(pairs):
        gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset", "metadata": {"name": f"p{i}",
                   "namespace": "b"}, "spec": {"mounts": [{"mountPoint": "s3://b/x", "name": "x"}]}})
        gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "ScriptedRuntime",
                   "metadata": {"name": f"p{i}", "namespace": "b"}, "spec": {"replicas": 1}})
    started, passes = time.perf_counter(), 0
    for _ in range(3):
        for i in range(pairs):
            rec.reconcile("b", f"p{i}")
            passes += 1
        for sts in gw.list(STATEFUL_SET, "b"):
            gw.set_status(STATEFUL_SET, "b", sts["metadata"]["name"], {"readyReplicas": sts["spec"]["replicas"]})
    setup = time.perf_counter() - started
    bound = sum(1 for d in gw.list(DATASET, "b") if d["status"]["phase"] == "Bound")
    started = time.perf_counter()
    for _ in range(3):
        for i in range(pairs):
            rec.reconcile("b", f"p{i}")
    idle = time.perf_counter() - started
    figures += [
        ("in memory: setup passes per second", f"{passes / setup:,.0f}  ({bound}/{pairs} pairs Bound)"),
        ("in memory: idle passes per second", f"{3 * pairs / idle:,.0f}"),
    ]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def on_cluster(figures: list[tuple[str, str]], pairs: int, manager_qps: int | None = None) -> None:
    """The figures on a fresh control plane; with ``manager_qps`` only the time to Bound, with the
    controller-manager's client allowed that many requests per second (its default is 20)."""
    limited = {"kube-controller-manager": (f"--kube-api-qps={manager_qps}", f"--kube-api-burst={2 * manager_qps}")
               } if manager_qps else None
    with tempfile.TemporaryDirectory(prefix="fluidlc-bench-") as tmp:
        cluster = LocalCluster("bench", Path(tmp) / "cluster", tie_to_caller=True,
                               extra_args=limited)
        console.print("[bold]starting a local control plane"
                      + (f" (controller-manager at {manager_qps} requests/s)" if manager_qps else "") + " ...")
        cluster.up(nodes=3)
        try:
            with cluster.api_client() as api:
                gw = KubeGateway(api, (SCRIPTED,))
                scripted_crds_on(gw)
                fresh_namespace(gw, "bench")
                op = OperatorProcess(cluster, "bench", Path(tmp), "bench", extra=("--workers", "8"))
                try:
                    wait_for("the operator", op.leading, 60)
                    rss_start, cpu_start = rss_mib(op.process.pid), cpu_seconds(op.process.pid)
                    writes_before = apiserver_writes(gw)
                    console.print(f"[bold]creating {pairs} Dataset/ScriptedRuntime pairs ...")
                    created: dict[str, float] = {}
                    started = time.monotonic()

                    def create(i: int) -> None:
                        name = f"pair-{i:05d}"
                        gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
                                   "metadata": {"name": name, "namespace": "bench"},
                                   "spec": {"mounts": [{"mountPoint": f"s3://bucket/{name}", "name": "data"}]}})
                        gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "ScriptedRuntime",
                                   "metadata": {"name": name, "namespace": "bench"},
                                   "spec": {"replicas": 1, "podAnnotations": IMMEDIATE_START}})
                        created[name] = time.monotonic()

                    with ThreadPoolExecutor(8) as pool:
                        list(pool.map(create, range(pairs)))
                    bound: dict[str, float] = {}
                    deadline = time.monotonic() + 60 + pairs * 3
                    while len(bound) < pairs and time.monotonic() < deadline:
                        for ds in gw.list(DATASET, "bench"):
                            name = ds["metadata"]["name"]
                            if name not in bound and (ds.get("status") or {}).get("phase") == "Bound":
                                bound[name] = time.monotonic()
                        time.sleep(0.25)
                    total = time.monotonic() - started
                    latencies = sorted(bound[n] - created[n] for n in bound)
                    setup_by = {k: v - writes_before.get(k, 0) for k, v in apiserver_writes(gw).items()
                                if v != writes_before.get(k, 0)}
                    writes = sum(setup_by.values())
                    reconciles = op.reconciles()
                    rss_end, cpu = rss_mib(op.process.pid), cpu_seconds(op.process.pid) - cpu_start
                    samples = op.metrics()
                    busy = sum(v for k, v in samples.items()
                               if k.startswith("controller_runtime_reconcile_time_seconds_sum"))
                    own: dict[str, float] = {}  # the operator's requests by method, from its own metrics
                    for k, v in samples.items():
                        if k.startswith("rest_client_requests_total{"):
                            method = k.split('method="', 1)[1].split('"', 1)[0]
                            own[method] = own.get(method, 0) + v
                    if manager_qps:
                        figures.append((f"cluster, controller-manager at {manager_qps} requests/s: {pairs} pairs, "
                                        "all Bound after", f"{total:.1f} s  ({len(bound)}/{pairs} Bound), "
                                        f"operator CPU {cpu:.1f} s"))
                        return
                    # The controller-manager binds each PV to its claim on its own pace (4 writes per pair,
                    # rate-limited); the idle window starts once it is done, so it counts only what is idle.
                    console.print("[bold]waiting for the controller-manager to bind the volumes ...")
                    binding = time.monotonic()
                    volumes_deadline = binding + 60 + pairs
                    unbound = unbound_volumes(gw, "bench", list(created))
                    while unbound and time.monotonic() < volumes_deadline:
                        time.sleep(1)
                        unbound = unbound_volumes(gw, "bench", list(created))
                    bound_volumes = time.monotonic() - binding
                    time.sleep(5)
                    idle_before = apiserver_writes(gw)
                    time.sleep(30)
                    idle_after = apiserver_writes(gw)
                    idle_by = {k: v - idle_before.get(k, 0) for k, v in idle_after.items()
                               if v != idle_before.get(k, 0)}
                    idle_writes = sum(idle_by.values())
                finally:
                    op.stop()
        finally:
            cluster.down()
    figures += [
        (f"cluster: {pairs} pairs, all Bound after", f"{total:.1f} s  ({len(bound)}/{pairs} Bound)"),
        ("cluster: throughput", f"{len(bound) / total:.1f} pairs/s"),
        ("cluster: per-pair create -> Bound", f"p50 {statistics.median(latencies):.1f} s, "
                                              f"p95 {latencies[int(len(latencies) * 0.95) - 1]:.1f} s"
         if latencies else "n/a"),
        ("cluster: API write requests per pair (setup, all clients)", f"{writes / max(1, pairs):.1f}" + "".join(
            f"\n{k}: {v / max(1, pairs):.1f}" for k, v in sorted(setup_by.items(), key=lambda kv: -kv[1])[:8])),
        ("cluster: the operator's own requests per pair (setup)", ", ".join(
            f"{m} {v / max(1, pairs):.1f}" for m, v in sorted(own.items(), key=lambda kv: -kv[1]))),
        ("cluster: reconciles per pair (setup)", f"{reconciles / max(1, pairs):.1f}"),
        ("cluster: operator CPU for the setup", f"{cpu:.1f} s ({cpu * 1000 / max(1, pairs):.0f} ms per pair); "
                                                f"reconcile time {busy:.1f} s"),
        ("cluster: operator memory", f"{rss_start:.0f} MiB idle -> {rss_end:.0f} MiB with {pairs} pairs "
                                     f"({(rss_end - rss_start) * 1024 / max(1, pairs):.0f} KiB per pair)"),
        ("cluster: PVs bound to their claims (controller-manager)",
         f"{bound_volumes:.0f} s after the last pair was Bound" + (f" ({unbound} volumes unbound)" if unbound else "")),
        ("cluster: write requests in 30 idle seconds (all clients)", f"{idle_writes:.0f}" + "".join(
            f"\n{k}: {v:.0f}" for k, v in sorted(idle_by.items(), key=lambda kv: -kv[1])[:6])),
    ]


def main() -> None:
    figures: list[tuple[str, str]] = []
    in_memory(figures)
    pairs = int(os.environ.get("BENCH_PAIRS", "100"))
    on_cluster(figures, pairs)
    on_cluster(figures, pairs, manager_qps=200)  # what the operator does when the platform does not throttle
    table = Table(title="fluid-lifecycle benchmark")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in figures:
        table.add_row(name, value)
    console.print(table)


if __name__ == "__main__":
    main()
