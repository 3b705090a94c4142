"""Faults injected into the operator process on the real API server (``FLUIDLC_FAULTS``, see
lifecycle/k8s/faults.py), as Sieve perturbs Go controllers.

For every N, an operator dies (exit 86, no clean-up) right after its N-th write of a pair's life
(create, Bound, delete, gone), and a fresh one takes over. Every such run must end where a run
without faults ends: the same objects, labels, finalizers, phases and conditions while Bound, and
nothing left once deleted. The same holds for an operator whose reads are stale and for one that
loses watch events. The counts are printed at the end of the run.
"""

from __future__ import annotations

import json
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from lifecycle.k8s.faults import CRASH_EXIT_CODE, FAULTS_ENV
from lifecycle.k8s.gateway import CONFIG_MAP, DAEMON_SET, DATASET, NAMESPACE, NODE, PV, PVC, STATEFUL_SET
from lifecycle.k8s.kube import KubeGateway
from lifecycle.k8s.ownership import OWNER_LABEL
from lifecycle.local import LocalCluster
from tests.cluster.operator_harness import (
    SCRIPTED,
    OperatorProcess,
    create_pair,
    fresh_namespace,
    phase,
    scripted_crds,
)
from tests.tally import TALLY

__all__ = ["scripted_crds"]  # the fixture used below

pytestmark = pytest.mark.cluster

NAME = "demo"
PARALLEL = 8  # perturbations run at once, each in a namespace with its own operators
LIFE_TIMEOUT = 90


def seen_by_user(gw: KubeGateway, ns: str) -> dict[str, Any]:
    """What a user sees of the namespace's pair, without what differs between any two runs."""
    seen: dict[str, Any] = {}
    for res in (STATEFUL_SET, DAEMON_SET, CONFIG_MAP, PVC, SCRIPTED, DATASET):
        for obj in gw.list(res, ns):
            meta, status = obj["metadata"], obj.get("status") or {}
            if meta["name"] == "kube-root-ca.crt":
                continue
            labels = {k: "<uid>" if k == OWNER_LABEL else v for k, v in (meta.get("labels") or {}).items()}
            # The status of our own kinds only: Kubernetes' controllers move a PVC's in their own time.
            ours = res in (SCRIPTED, DATASET)
            seen[f"{obj['kind']} {meta['name']}"] = (
                sorted(labels.items()), sorted(meta.get("finalizers") or []),
                sorted(r["kind"] + "/" + r["name"] for r in meta.get("ownerReferences") or []),
                status.get("phase") if ours else None, (status.get("lifecycle") or {}).get("state"),
                # What holds now: a condition that went back to False records a past failure.
                sorted(c["type"] for c in status.get("conditions") or [] if c["status"] == "True") if ours else None)
    seen["PVs"] = sorted(pv["metadata"]["name"] for pv in gw.list(PV) if f"-{ns}-" in pv["metadata"]["name"]
                         or pv["metadata"]["name"].startswith(f"{ns}-"))
    seen["node labels"] = sorted(k for n in gw.list(NODE) for k in (n["metadata"].get("labels") or {}) if ns in k)
    normal: dict[str, Any] = json.loads(json.dumps(seen).replace(ns, "<namespace>"))  # runs differ in it only
    return normal


def differences(clean: dict[str, Any], other: dict[str, Any]) -> list[str]:
    return [f"{k}: {clean.get(k)} vs {other.get(k)}" for k in sorted(set(clean) | set(other))
            if clean.get(k) != other.get(k)]


class Life:
    """One pair's life in a namespace of its own, under an operator with a fault plan."""

    def __init__(self, gw: KubeGateway, cluster: LocalCluster, logs: Path, ns: str, plan: dict[str, Any] | None,
                 extra: tuple[str, ...] = ()):
        self.gw, self.cluster, self.logs, self.ns = gw, cluster, logs, ns
        self.env = {FAULTS_ENV: json.dumps(plan)} if plan else {}
        self.extra = extra
        self.started: list[OperatorProcess] = []
        self.crashed = False
        self.bound: dict[str, Any] = {}
        self.end: dict[str, Any] = {}

    def operator(self, faulty: bool) -> OperatorProcess:
        op = OperatorProcess(self.cluster, self.ns, self.logs, f"{self.ns}-{len(self.started)}", lease_seconds=2,
                             env=self.env if faulty else None, extra=self.extra)
        self.started.append(op)
        return op

    def wait(self, what: str, done: Any, op: OperatorProcess | None = None) -> bool:
        """Until ``done()``; False if the faulty ``op`` crashed first (as planned)."""
        deadline = time.monotonic() + LIFE_TIMEOUT
        while not done():
            if op is not None and op.process.poll() is not None:
                assert op.process.returncode == CRASH_EXIT_CODE, f"{self.ns}: exited {op.process.returncode}"
                self.crashed = True
                return False
            assert time.monotonic() < deadline, f"{self.ns}: {what} not reached in {LIFE_TIMEOUT}s"
            time.sleep(0.2)
        return True

    def is_bound(self) -> bool:
        return phase(self.gw, self.ns, NAME) == "Bound"

    def is_gone(self) -> bool:
        return self.gw.get(DATASET, self.ns, NAME) is None and self.gw.get(SCRIPTED, self.ns, NAME) is None

    def live(self) -> Life:
        try:
            faulty = self.operator(faulty=True)
            create_pair(self.gw, self.ns, NAME)
            bound, gone = self.is_bound, self.is_gone
            deleting = False
            if self.wait("Bound", bound, faulty):
                self.bound = seen_by_user(self.gw, self.ns)
                self.gw.delete(DATASET, self.ns, NAME)
                deleting = True
                self.wait("the pair gone", gone, faulty)
            if self.crashed:
                self.operator(faulty=False)
                if not deleting:
                    self.wait("Bound after the crash", bound)
                    self.bound = seen_by_user(self.gw, self.ns)
                    self.gw.delete(DATASET, self.ns, NAME)
                self.wait("the pair gone after the crash", gone)
            self.wait("nothing left", lambda: not [k for k, v in seen_by_user(self.gw, self.ns).items() if v])
            self.end = seen_by_user(self.gw, self.ns)
        finally:
            for op in self.started:
                op.kill(signal.SIGKILL)
            self.gw.delete(NAMESPACE, None, self.ns)
        return self


@pytest.fixture(scope="module")
def lives(scripted_crds: KubeGateway, cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Runs a pair's life under a plan, each in a namespace of its own (deleted after)."""
    counter, logs = iter(range(10_000)), tmp_path_factory.mktemp("faults")

    def run(plan: dict[str, Any] | None, extra: tuple[str, ...] = ()) -> Life:
        ns = fresh_namespace(scripted_crds, f"faults-{next(counter)}")
        return Life(scripted_crds, cluster, logs, ns, plan, extra).live()

    return run


@pytest.fixture(scope="module")
def clean(lives: Any) -> Life:
    """The life every perturbed one must end like."""
    life: Life = lives(None)
    assert life.bound and not life.crashed
    return life


def test_an_operator_crashed_after_any_write_of_a_pairs_life_is_succeeded_by_one_that_finishes_it(
        lives: Any, clean: Life) -> None:
    runs: list[Life] = []
    n = 0
    with ThreadPoolExecutor(PARALLEL) as pool:
        while not runs or all(r.crashed for r in runs[-PARALLEL:]):
            batch = [pool.submit(lives, {"crash_after_write": n + i + 1}) for i in range(PARALLEL)]
            runs += [f.result() for f in batch]
            n += PARALLEL
    crash_points = [r for r in runs if r.crashed]
    diverged = [i + 1 for i, r in enumerate(runs) if r.crashed and (r.bound != clean.bound or r.end != clean.end)]
    TALLY["operator crash points run on the real API server"] += len(crash_points)
    TALLY["operator crash points that diverged on the real API server"] += len(diverged)
    assert len(crash_points) > 10, "a pair's life has more writes than that"
    first = runs[diverged[0] - 1] if diverged else clean
    assert diverged == [], (f"crashing after these writes changed the outcome: {diverged}; the first: "
                            f"{differences(clean.bound, first.bound) + differences(clean.end, first.end)}")


@pytest.mark.parametrize(("plan", "extra"), [({"stale_seconds": 2.0}, ()), ({"drop_every": 2}, ("--resync", "3"))],
                         ids=["stale reads", "half the watch events lost"])
def test_an_operator_with_a_stale_view_or_lost_events_still_ends_where_a_clean_one_ends(
        lives: Any, clean: Life, plan: dict[str, Any], extra: tuple[str, ...]) -> None:
    perturbed = lives(plan, extra)
    assert perturbed.bound == clean.bound and perturbed.end == clean.end, \
        differences(clean.bound, perturbed.bound) + differences(clean.end, perturbed.end)
    TALLY["operator runs with stale reads or lost events"] += 1
