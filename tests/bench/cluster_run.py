"""One bench run on a fresh local control plane: the operator as a process of its own, N pairs of
one engine, then an idle window, then the floor (``tests.bench.floor``) in the same cluster."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lifecycle.cli.run import install_crds
from lifecycle.k8s.gateway import DATASET, EVENT, ApiError
from lifecycle.k8s.kube import KubeGateway
from lifecycle.local import LocalCluster, ufs
from tests.bench import heap, reaction
from tests.bench.floor import made_objects, run_floor
from tests.bench.profile import Profile
from tests.bench.watchers import (
    BoundWatch,
    ChangeWatch,
    Sampler,
    WriteWatch,
    cpu_seconds,
    machine_cpu,
    platform_cpu,
    rss_mib,
)
from tests.bench.workload import Workload
from tests.cluster.operator_harness import (
    OperatorProcess,
    apiserver_writes,
    fresh_namespace,
    scripted_crds_on,
    unbound_volumes,
    wait_for,
)

NAMESPACE, FLOOR_NAMESPACE = "bench", "floor"
Figures = dict[str, Any]


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, max(0, int(len(values) * q + 0.5) - 1))] if values else float("nan")


PORTS_PER_RUNTIME = 12  # an Alluxio runtime on the host network holds 11 (masters, job masters, workers)


def port_range_env(pairs: int) -> dict[str, str]:
    """A host-port range that fits N runtimes: the default 20000-26000 holds about 545 Alluxio
    runtimes, and the 1,000-pair run found the rest waiting on "no free host port"."""
    if pairs * PORTS_PER_RUNTIME <= 6000:
        return {}
    return {"FLUIDLC_PORT_RANGE": f"20000-{min(65535, 20000 + pairs * PORTS_PER_RUNTIME)}"}


PODS_PER_PAIR = 2  # a master and a worker (no fuse: no application pod uses the volumes)
PODS_PER_NODE = 100  # of the 110 a node holds, as a kubelet's default


REACTION_PAIRS = 10  # pairs spread over the run, each scaled once and its worker set deleted once


def nodes_for(pairs: int) -> int:
    """Three nodes (the workload Fluid was measured on) until the pods need more: 1,000 pairs on three
    nodes of 110 pods left 670 masters Pending."""
    return max(3, -(-pairs * PODS_PER_PAIR // PODS_PER_NODE))


def requests_by_method(op: OperatorProcess) -> dict[str, float]:
    """The operator's own requests so far, by method (its rest_client_requests_total)."""
    own: dict[str, float] = {}
    for k, v in op.metrics().items():
        if k.startswith("rest_client_requests_total{"):
            method = k.split('method="', 1)[1].split('"', 1)[0]
            own[method] = own.get(method, 0) + v
    return own


def _minus(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def on_cluster(workload: Workload, pairs: int, idle_seconds: float, manager_qps: int | None = None,
               floor: bool = True) -> Figures:
    limited: dict[str, tuple[str, ...]] | None = {
        "kube-controller-manager": (f"--kube-api-qps={manager_qps}", f"--kube-api-burst={2 * manager_qps}"),
    } if manager_qps else None
    with tempfile.TemporaryDirectory(prefix="fluidlc-bench-") as tmp:
        cluster = LocalCluster("bench", Path(tmp) / "cluster", tie_to_caller=True, extra_args=limited)
        cluster.up(nodes=nodes_for(pairs))
        try:
            with cluster.connect() as api:
                gw = KubeGateway(api, (workload.runtime,))
                if workload.engine == "scripted":
                    scripted_crds_on(gw)
                else:
                    install_crds(gw)
                if workload.ufs:
                    ufs.add(cluster.layout.ufs, workload.ufs, ufs.parse_size("1Mi"), 4)
                fresh_namespace(gw, NAMESPACE)
                fresh_namespace(gw, FLOOR_NAMESPACE)
                workers = os.environ.get("BENCH_WORKERS")  # default: the operator's own
                # TRACE=<file>: the operator logs at debug (each watched change, each pass with its
                # time in the queue) and its log is kept there.
                trace = os.environ.get("BENCH_TRACE")
                # PROFILE=memory: the operator writes what its memory is made of when asked.
                traced = os.environ.get("BENCH_PROFILE") == "memory"
                op = OperatorProcess(cluster, NAMESPACE, Path(tmp), "bench",
                                     extra=("--workers", workers) if workers else (),
                                     env={**workload.operator_env, **port_range_env(pairs),
                                          **({"FLUIDLC_LOG_LEVEL": "debug"} if trace else {}),
                                          **({"BENCH_HEAP_DIR": tmp} if traced else {})},
                                     main="tests.bench.heap" if traced else "lifecycle.cli.main")
                try:
                    return _run(cluster, gw, op, workload, pairs, idle_seconds, floor)
                finally:
                    stop_operator(op)
                    if trace:
                        shutil.copyfile(op.log_path, trace)
                        print(f"  the operator's debug log: {trace}", flush=True)
        finally:
            cluster.down()


def stop_operator(op: OperatorProcess) -> float:
    """Seconds from SIGTERM to the operator's exit; killed if it takes longer than its harness waits."""
    began = time.monotonic()
    try:
        op.stop()
    except subprocess.TimeoutExpired:
        print("  the operator did not stop within 30 s of SIGTERM; killed", flush=True)
        op.kill()
    return time.monotonic() - began


def _run(cluster: LocalCluster, gw: KubeGateway, op: OperatorProcess, workload: Workload, pairs: int,
         idle_seconds: float, floor: bool) -> Figures:
    f: Figures = {"pairs": pairs}
    wait_for("the operator", op.leading, 60)
    pid = op.process.pid
    wanted = os.environ.get("BENCH_PROFILE", "")
    heap_dir = Path(op.log_path).parent if wanted == "memory" else None
    wanted = "" if heap_dir else wanted
    if heap_dir:
        f["heap_start"] = heap.ask(pid, heap_dir, 0)
    f["rss_start"], cpu_start = rss_mib(pid), cpu_seconds(pid)
    # PROFILE=1: every thread's samples, kept with the cluster; PROFILE=cpu: only the thread holding the
    # interpreter lock (the operator's own CPU); PROFILE=<file>: every thread's, kept there (py-spy's raw format);
    # PROFILE=memory: the operator's memory at its start, at all Bound and after the idle window (tests.bench.heap).
    where = Path(wanted) if wanted not in ("", "1", "cpu") else Path(cluster.dir) / "profile.txt"
    profile = Profile(pid, where, gil=wanted == "cpu") if wanted else None
    sampler, watch = Sampler(pid), WriteWatch(cluster, workload.runtime, NAMESPACE)
    bound_watch = BoundWatch(cluster, NAMESPACE)
    platform_before, requests_before = platform_cpu(cluster), requests_by_method(op)
    machine_before = machine_cpu()
    reconciles_before = op.reconciles()
    created: dict[str, float] = {}
    started = time.monotonic()

    def create(i: int) -> None:
        name = f"pair-{i:05d}"
        for obj in workload.pair(name, NAMESPACE):
            gw.create(obj)
        created[name] = time.monotonic()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(pairs)))
    bound: dict[str, float] = {}
    deadline = time.monotonic() + 120 + pairs * 3
    shown = time.monotonic()
    while len(bound) < pairs and time.monotonic() < deadline:
        bound = bound_watch.bound()
        if time.monotonic() - shown >= 30:  # a long run shows it is alive
            shown = time.monotonic()
            print(f"  {len(bound)}/{pairs} Bound after {shown - started:.0f}s", flush=True)
        time.sleep(0.25)
    bound_watch.stop.set()
    f["bound"], f["total"] = len(bound), time.monotonic() - started
    f["latencies"] = sorted(bound[n] - created[n] for n in bound)
    f["cpu"] = cpu_seconds(pid) - cpu_start
    if profile is not None:
        profile.stop()
        f["profile"], f["profile_own"] = profile.top(), profile.top(by_own=True)
        f["profile_sampled"] = profile.sampled
    f["reconciles"] = op.reconciles() - reconciles_before
    f["requests"] = _minus(requests_by_method(op), requests_before)
    f["platform_cpu"] = _minus(platform_cpu(cluster), platform_before)
    f["machine_cpu"] = tuple(after - before for after, before in zip(machine_cpu(), machine_before, strict=True))
    f["rss_end_setup"] = rss_mib(pid)
    if heap_dir:
        f["heap_bound"] = heap.ask(pid, heap_dir, 1)
    watch.stop.set()
    f["event_to_write"] = watch.latencies()
    # The controller-manager binds each PV to its claim at its own pace after the pair is Bound;
    # the idle window starts once that is done, so it counts only what is idle.
    volumes_deadline, shown = time.monotonic() + 60 + pairs, time.monotonic()
    while (unbound := unbound_volumes(gw, NAMESPACE, list(created))) and time.monotonic() < volumes_deadline:
        if time.monotonic() - shown >= 30:
            shown = time.monotonic()
            print(f"  waiting for the controller-manager to bind the volumes: {unbound} PVCs and PVs not Bound yet",
                  flush=True)
        time.sleep(1)
    time.sleep(5)
    print(f"  idle window: {idle_seconds:.0f}s", flush=True)
    changes = ChangeWatch(cluster, (DATASET, workload.runtime), NAMESPACE)
    writes_before, requests_before = apiserver_writes(gw), requests_by_method(op)
    cpu_before = cpu_seconds(pid)
    idle_from = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    # The idle window's own profile: what the operator does once every pair is Bound.
    idle_profile = Profile(pid, where.with_name(f"idle-{where.name}"), gil=wanted == "cpu") if wanted else None
    time.sleep(idle_seconds)
    if idle_profile is not None:
        idle_profile.stop()
        f["idle_profile"], f["idle_profile_own"] = idle_profile.top(), idle_profile.top(by_own=True)
    if heap_dir:
        f["heap_idle"] = heap.ask(pid, heap_dir, 2)
    changes.stop.set()
    f["idle_changes"] = dict(changes.counts)
    f["idle_events"] = dict(Counter(f"{(e.get('source') or {}).get('component', '?')} {e.get('reason')}"
                                    for e in gw.list(EVENT, NAMESPACE) if (e.get("lastTimestamp") or "") >= idle_from))
    f["idle_seconds"] = idle_seconds
    f["idle_writes"] = _minus(apiserver_writes(gw), writes_before)
    f["idle_requests"] = _minus(requests_by_method(op), requests_before)
    f["idle_cpu"] = cpu_seconds(pid) - cpu_before
    # Not the first pair: the floor copies its objects.
    probes = sorted(created)[1:][:: max(1, pairs // REACTION_PAIRS)][:REACTION_PAIRS]
    f["react_scale"], f["react_recreate"] = [], []
    try:
        f["react_scale"] = reaction.scaled(gw, workload, NAMESPACE, probes)
        f["react_recreate"] = reaction.recreated(gw, workload, NAMESPACE, probes)
    except ApiError as exc:  # the other figures stand without them
        print(f"the reaction probes failed: {exc}")
    sampler.stop.set()
    f["rss_peak"], f["rss_end"] = max(sampler.peak, rss_mib(pid)), rss_mib(pid)
    if floor and bound:
        # With the operator stopped: at 1,000 pairs its cache reports (about 11 execs a second) kept
        # the machine busy while the floor ran, which made the floor slower and the ratio kinder.
        f["stop_seconds"] = stop_operator(op)
        print(f"  the floor: {pairs} pairs' writes with no operator", flush=True)
        per_pair = {k: v / pairs for k, v in f["requests"].items()}
        templates = made_objects(gw, NAMESPACE, "pair-00000")
        f["floor_objects"] = sorted(f"{o['kind']}" for o in templates)
        try:
            f["floor"] = run_floor(gw, workload, pairs, FLOOR_NAMESPACE, templates, per_pair, NAMESPACE,
                                   "pair-00000")
        except ApiError as exc:  # the operator's figures stand without it
            print(f"the floor failed: {exc}")
    f["load"] = os.getloadavg()
    return f


def summary(f: Figures) -> list[tuple[str, str]]:
    """Rows of figures, each beside the floor's where it has one."""
    pairs, lat, floor = f["pairs"], f["latencies"], f.get("floor")
    floor_s = floor["seconds"] if floor else None

    def ratio(v: float, base: float | None) -> str:
        return f"  ({v / base:.2f}x the floor)" if base else ""

    reqs = sum(f["requests"].values())
    floor_reqs = sum(floor["requests"].values()) if floor else 0
    writes = sum(v for k, v in f["requests"].items() if k in ("POST", "PUT", "PATCH", "DELETE"))
    e2w = f["event_to_write"]
    rows = [
        ("all Bound after", f"{f['total']:.1f} s ({f['bound']}/{pairs})" + ratio(f["total"], floor_s)),
        ("the floor's writes took", f"{floor_s:.1f} s for {floor_reqs / max(1, pairs):.1f} requests per pair "
                                    f"({', '.join(f'{k} {v / pairs:.1f}' for k, v in floor['requests'].items())}); "
                                    f"objects per pair: {', '.join(f['floor_objects'])}" if floor else "not run"),
        ("per-pair create -> Bound",
         f"p50 {pct(lat, .5):.1f} s, p95 {pct(lat, .95):.1f} s, max {max(lat, default=0):.1f} s"),
        ("workload ready -> next status write", f"p50 {pct(e2w, .5) * 1000:.0f} ms, p95 {pct(e2w, .95) * 1000:.0f} ms "
                                                f"({len(e2w)} readiness events)"),
        ("operator CPU (setup)", f"{f['cpu']:.1f} s: {f['cpu'] * 1000 / max(1, pairs):.0f} ms per pair, "
                                 f"{f['cpu'] * 1000 / max(1, f['reconciles']):.1f} ms per reconcile "
                                 f"({f['reconciles'] / max(1, pairs):.1f} reconciles per pair)"),
        ("control plane CPU (setup)", ", ".join(f"{k} {v:.1f} s" for k, v in sorted(f["platform_cpu"].items()))),
        *([("machine CPU (setup)", _machine(f))] if "machine_cpu" in f else []),
        ("operator RSS", f"start {f['rss_start']:.0f}, peak {f['rss_peak']:.0f}, end {f['rss_end']:.0f} MiB "
                         f"({(f['rss_end_setup'] - f['rss_start']) * 1024 / max(1, pairs):.0f} KiB per pair)"),
        ("operator requests per pair (setup)", f"{reqs / max(1, pairs):.1f}" + ratio(reqs, floor_reqs) + ": "
         + ", ".join(f"{k} {v / pairs:.2f}" for k, v in sorted(f["requests"].items(), key=lambda kv: -kv[1]))),
        ("operator writes per pair (setup)", f"{writes / max(1, pairs):.1f}"),
        (f"idle {f['idle_seconds']:.0f} s after Bound: writes (all clients)", f"{sum(f['idle_writes'].values()):.0f}"
         + "".join(f"; {k} {v:.0f}" for k, v in sorted(f["idle_writes"].items(), key=lambda kv: -kv[1])[:5])),
        (f"idle {f['idle_seconds']:.0f} s: operator requests / execs / CPU",
         f"{sum(f['idle_requests'].values()):.0f} / {f['idle_requests'].get('EXEC', 0):.0f} / {f['idle_cpu']:.2f} s"
         + "".join(f"; {k} {v:.0f}" for k, v in sorted(f["idle_requests"].items()))),
        ("after idle: runtime scaled -> worker StatefulSet scaled", _reaction(f["react_scale"])),
        ("after idle: worker StatefulSet deleted -> made again", _reaction(f["react_recreate"])),
        ("idle: fields the Dataset and runtime updates changed", ", ".join(
            f"{k} {v}" for k, v in sorted(f["idle_changes"].items(), key=lambda kv: -kv[1])[:8]) or "none"),
        ("idle: events recorded (source, reason)", ", ".join(
            f"{k} {v}" for k, v in sorted(f["idle_events"].items(), key=lambda kv: -kv[1])[:8]) or "none"),
        *([("operator stop (SIGTERM -> exit)", f"{f['stop_seconds']:.1f} s")] if "stop_seconds" in f else []),
        ("load average (1, 5, 15 min) at the end", ", ".join(f"{x:.2f}" for x in f["load"])),
    ]
    return rows


def _reaction(found: list[reaction.Probe]) -> str:
    done = sorted(p.seconds for p in found if p.seconds is not None)
    missing = f", {len(found) - len(done)} not within {reaction.PATIENCE:.0f} s" if len(done) < len(found) else ""
    slowest = max(found, key=lambda p: float("inf") if p.seconds is None else p.seconds, default=None)
    at = "" if slowest is None else f"; slowest {slowest.pair}, sent at {_clock(slowest.at)}"
    return (f"p50 {pct(done, .5) * 1000:.0f} ms, p95 {pct(done, .95) * 1000:.0f} ms, max "
            f"{max(done, default=0) * 1000:.0f} ms ({len(found)} pairs, one at a time{missing}{at})")


def _machine(f: Figures) -> str:
    """How busy the machine was during setup, and whose the busy time was: when it is near all of
    it, every process waited for a CPU and the times above are the machine's, not one process's."""
    busy, every = f["machine_cpu"]
    platform = sum(f["platform_cpu"].values())
    return (f"{busy:.0f} of {every:.0f} core-seconds busy ({busy / max(every, 1e-9):.0%}): operator {f['cpu']:.0f}, "
            f"control plane and stand-ins {platform:.0f}, the rest (this bench, other "
            f"processes) {max(busy - f['cpu'] - platform, 0):.0f}")


def _clock(at: float) -> str:
    """A wall-clock time as the operator's text log writes it, to find it there."""
    return f"{time.strftime('%H:%M:%S', time.localtime(at))}.{int(at * 1000) % 1000:03d}"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
