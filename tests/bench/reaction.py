"""How fast the operator acts on an event once its pairs are idle: a user scaling a runtime, a
worker StatefulSet deleted by hand. Each is timed from the write that causes it to the operator's
write that answers it (the StatefulSet's new replicas; a new StatefulSet), one pair at a time, so
what is measured is the path from the watch event to the write, not a queue of other work."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

from lifecycle.k8s.gateway import STATEFUL_SET, Obj
from lifecycle.k8s.kube import KubeGateway
from tests.bench.workload import Workload

POLL = 0.02  # seconds between reads while waiting for the answer
PATIENCE = 30.0  # an answer later than this is reported as missing
GIVE_UP_AFTER = 2  # missing answers in a row that end the probes (each costs PATIENCE of the run)


class Probe(NamedTuple):
    pair: str
    at: float  # wall clock when the probe's write was sent, to find it in the operator's log
    seconds: float | None  # until the answer; None when it never came


def worker_set(gw: KubeGateway, namespace: str, runtime_uid: str) -> Obj | None:
    """The runtime's worker StatefulSet: the one it owns whose name says worker."""
    for sts in gw.list(STATEFUL_SET, namespace):
        owners = {r.get("uid") for r in sts["metadata"].get("ownerReferences") or []}
        if runtime_uid in owners and "worker" in sts["metadata"]["name"]:
            return sts
    return None


def _replicas(gw: KubeGateway, namespace: str, name: str) -> int:
    return int(((gw.get(STATEFUL_SET, namespace, name) or {}).get("spec") or {}).get("replicas") or 0)


def _uid(gw: KubeGateway, namespace: str, name: str) -> str | None:
    found: str | None = ((gw.get(STATEFUL_SET, namespace, name) or {}).get("metadata") or {}).get("uid")
    return found


def _waited(check: Callable[[], bool]) -> float | None:
    """Seconds until ``check`` holds, or None after PATIENCE."""
    started = time.monotonic()
    while time.monotonic() - started < PATIENCE:
        if check():
            return time.monotonic() - started
        time.sleep(POLL)
    return None


def _timed(gw: KubeGateway, workload: Workload, namespace: str, names: list[str],
           act: Callable[[str, Obj], Callable[[], bool]]) -> list[Probe]:
    """For each pair: ``act`` on its runtime and worker StatefulSet, then the seconds until the check
    ``act`` returned holds (None when the pair has no worker set or the answer never came)."""
    found: list[Probe] = []
    for name in names:
        uid = gw.get(workload.runtime, namespace, name)["metadata"]["uid"]  # type: ignore[index]
        sts, at = worker_set(gw, namespace, uid), time.time()
        found.append(Probe(name, at, None if sts is None else _waited(act(name, sts))))
        if [p.seconds for p in found[-GIVE_UP_AFTER:]] == [None] * GIVE_UP_AFTER:
            break  # the operator is not answering within PATIENCE: the rest would say the same
    return found


def scaled(gw: KubeGateway, workload: Workload, namespace: str, names: list[str]) -> list[Probe]:
    """Seconds from a runtime's ``spec.replicas`` raised by one to its worker StatefulSet's."""
    def act(name: str, sts: Obj) -> Callable[[], bool]:
        sts_name, wanted = sts["metadata"]["name"], int(sts["spec"].get("replicas") or 0) + 1
        gw.patch(workload.runtime, namespace, name, {"spec": {"replicas": wanted}})
        return lambda: _replicas(gw, namespace, sts_name) == wanted

    return _timed(gw, workload, namespace, names, act)


def recreated(gw: KubeGateway, workload: Workload, namespace: str, names: list[str]) -> list[Probe]:
    """Seconds from a worker StatefulSet deleted to a new one made in its place."""
    def act(name: str, sts: Obj) -> Callable[[], bool]:
        sts_name, old = sts["metadata"]["name"], sts["metadata"]["uid"]
        gw.delete(STATEFUL_SET, namespace, sts_name, uid=old)
        return lambda: _uid(gw, namespace, sts_name) not in (None, old)

    return _timed(gw, workload, namespace, names, act)
