"""What the bench samples while a run goes on: the operator's memory, and when each workload
became ready and each runtime's status was next written (event-to-next-write latency)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from lifecycle.k8s.gateway import DATASET, STATEFUL_SET, Obj, Resource
from lifecycle.k8s.kube import KubeGateway
from lifecycle.local import LocalCluster


def _stat_seconds(pid: int, user: int) -> float:
    """Two adjacent clock-tick fields of /proc/<pid>/stat (user, then system time), in seconds;
    ``user`` counts from the field after the command name."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[user]) + int(fields[user + 1])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    return _stat_seconds(pid, 11)


def children_cpu_seconds(pid: int) -> float:
    """CPU of the children ``pid`` has waited for: for kwok, the stand-in CLIs its execs ran."""
    return _stat_seconds(pid, 13)


def machine_cpu() -> tuple[float, float]:
    """(busy, all) core-seconds of the machine since boot (/proc/stat): whether a run was short of CPU."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    total = sum(ticks[:8])  # guest time is already counted in user
    tck = os.sysconf("SC_CLK_TCK")
    return (total - idle) / tck, total / tck


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


STANDIN_EXECS = "stand-in execs (kwok's children)"


def platform_cpu(cluster: LocalCluster) -> dict[str, float]:
    """CPU seconds so far of the control plane's processes, by component."""
    running = {s.name: s.pid for s in cluster.status() if s.running and s.pid}
    found = {name: cpu_seconds(pid) for name, pid in running.items()}
    if "kwok" in running:
        found[STANDIN_EXECS] = children_cpu_seconds(running["kwok"])
    return found


class Sampler:
    """The operator's RSS every half second: the peak of a run."""

    def __init__(self, pid: int):
        self.pid, self.peak, self.stop = pid, rss_mib(pid), threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self.stop.wait(0.5):
            try:
                self.peak = max(self.peak, rss_mib(self.pid))
            except OSError:
                return


def changed_fields(before: dict, after: dict, prefix: str = "") -> list[str]:  # type: ignore[type-arg]
    """The fields (two levels deep) one write changed, bookkeeping left out."""
    found = []
    for key in sorted(set(before) | set(after)):
        if key in ("resourceVersion", "managedFields", "generation"):
            continue
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if not prefix and isinstance(old, dict) and isinstance(new, dict):
            found += changed_fields(old, new, f"{key}.")
        else:
            found.append(prefix + key)
    return found


class ChangeWatch:
    """Counts, for the objects of some kinds in a namespace, which fields each update changed:
    what the writes of an idle window were for."""

    def __init__(self, cluster: LocalCluster, resources: tuple[Resource, ...], namespace: str):
        self.counts: dict[str, int] = {}
        self.stop = threading.Event()
        self._lock = threading.Lock()
        for res in resources:
            threading.Thread(target=self._watch, args=(cluster, res, namespace), daemon=True).start()

    def _watch(self, cluster: LocalCluster, res: Resource, namespace: str) -> None:
        with cluster.connect() as api:
            gw = KubeGateway(api, (res,))
            items, version = gw.list_with_version(res, namespace)
            last = {o["metadata"]["name"]: o for o in items}
            while not self.stop.is_set():
                try:
                    for kind, obj in gw.watch(res, version, namespace, 5, 10.0):
                        version = obj.get("metadata", {}).get("resourceVersion") or version
                        name = obj.get("metadata", {}).get("name", "")
                        if kind == "MODIFIED" and name in last:
                            with self._lock:
                                for field in changed_fields(last[name], obj) or ["(nothing)"]:
                                    key = f"{res.kind} {field}"
                                    self.counts[key] = self.counts.get(key, 0) + 1
                        last[name] = obj
                        if self.stop.is_set():
                            return
                except Exception:
                    time.sleep(0.2)


class WriteWatch:
    """Watches the namespace's StatefulSets and runtimes: when a workload becomes ready, and when
    its runtime's status is written next. Each latency is one readiness -> the write after it."""

    def __init__(self, cluster: LocalCluster, runtime: Resource, namespace: str):
        self.ready: list[tuple[str, float]] = []  # (runtime name, when a workload of it became ready)
        self.writes: dict[str, list[float]] = {}
        self.stop = threading.Event()
        for res, handle in ((STATEFUL_SET, self._sts), (runtime, self._runtime)):
            threading.Thread(target=self._watch, args=(cluster, res, namespace, handle), daemon=True).start()

    def _watch(self, cluster: LocalCluster, res: Resource, namespace: str, handle: object) -> None:
        with cluster.connect() as api:
            gw = KubeGateway(api, (res,))
            _, version = gw.list_with_version(res, namespace)
            seen: dict[str, int] = {}
            while not self.stop.is_set():
                try:
                    for kind, obj in gw.watch(res, version, namespace, 30, 60.0):
                        version = obj.get("metadata", {}).get("resourceVersion") or version
                        if kind in ("ADDED", "MODIFIED"):
                            handle(obj, seen)  # type: ignore[operator]
                        if self.stop.is_set():
                            return
                except Exception:
                    time.sleep(0.2)

    def _sts(self, obj: dict, seen: dict[str, int]) -> None:  # type: ignore[type-arg]
        name, status = obj["metadata"]["name"], obj.get("status") or {}
        ready, wanted = int(status.get("readyReplicas") or 0), int((obj.get("spec") or {}).get("replicas") or 0)
        owners = [r["name"] for r in obj["metadata"].get("ownerReferences") or [] if r.get("controller")]
        if owners and ready >= wanted > 0 and seen.get(name, 0) < wanted:
            self.ready.append((owners[0], time.monotonic()))
        seen[name] = ready

    def _runtime(self, obj: dict, seen: dict[str, int]) -> None:  # type: ignore[type-arg]
        self.writes.setdefault(obj["metadata"]["name"], []).append(time.monotonic())

    def latencies(self) -> list[float]:
        found = []
        for name, at in self.ready:
            after = [t for t in self.writes.get(name, []) if t >= at]
            if after:
                found.append(min(after) - at)
        return sorted(found)


class BoundWatch:
    """When each Dataset of a namespace was first seen Bound, from one watch. (Polling instead, the
    bench LISTed every Dataset four times a second: load on the API server it is measuring.)"""

    def __init__(self, cluster: LocalCluster, namespace: str):
        self._bound: dict[str, float] = {}
        self._lock = threading.Lock()
        self.stop = threading.Event()
        threading.Thread(target=self._watch, args=(cluster, namespace), daemon=True).start()

    def bound(self) -> dict[str, float]:
        with self._lock:
            return dict(self._bound)

    def _seen(self, obj: Obj) -> None:
        if (obj.get("status") or {}).get("phase") == "Bound":
            with self._lock:
                self._bound.setdefault(obj["metadata"]["name"], time.monotonic())

    def _watch(self, cluster: LocalCluster, namespace: str) -> None:
        with cluster.connect() as api:
            gw = KubeGateway(api, (DATASET,))
            while not self.stop.is_set():
                try:
                    items, version = gw.list_with_version(DATASET, namespace)
                    for obj in items:
                        self._seen(obj)
                    while not self.stop.is_set():
                        for kind, obj in gw.watch(DATASET, version, namespace, 30, 60.0):
                            version = obj.get("metadata", {}).get("resourceVersion") or version
                            if kind in ("ADDED", "MODIFIED"):
                                self._seen(obj)
                            if self.stop.is_set():
                                return
                except Exception:  # Gone or a dropped connection: list again
                    time.sleep(0.2)
