"""Driving the reconcile against the real local control plane, as a busy operator would.

A ``Driver`` runs ``lifecycle.reconcile.Reconciler`` over a write-counting ``KubeGateway`` for one
namespace, every half second until a condition holds, while the control plane's controllers, the
scheduler and kwok make the pods and the stand-in CLIs answer the execs into the master pods.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

import engines.alluxio
import engines.jindo
from engines.alluxio.kind import KIND_SPEC as ALLUXIO
from engines.jindo.kind import KIND_SPEC as JINDO
from lifecycle.engine.registry import Registry
from lifecycle.k8s.connection import ApiServer
from lifecycle.k8s.gateway import (
    CONFIG_MAP,
    DAEMON_SET,
    DATASET,
    NODE,
    POD,
    PV,
    PVC,
    SERVICE,
    STATEFUL_SET,
    NotFound,
    Obj,
    Resource,
)
from lifecycle.k8s.kube import KubeGateway
from lifecycle.k8s.naming import (
    EXCLUSIVE_LABEL,
    capacity_label,
    common_label,
    fuse_label,
    reference_key,
    runtime_label,
)
from lifecycle.local import LocalCluster
from lifecycle.local.standin import cache as standin
from lifecycle.reconcile.reconciler import Outcome, Reconciler
from tests.cluster import IMMEDIATE_START, eventually

T = TypeVar("T")
SAMPLES = Path(__file__).resolve().parents[2] / "lifecycle" / "deploy" / "samples"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
# The cache report runs every pass; metadata and drift checks every few seconds.
# Short intervals, so that a test sees a change within seconds: the operator's defaults are minutes.
SETTINGS = {"sync_intervals": {"sync_metadata": 2.0, "check_and_update_runtime_status": 0.0,
                               "update_on_ufs_change": 2.0, "cache_report": 2.0}}
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

    def patch(self, res: Resource, namespace: str | None, name: str, patch: Obj, sub: str | None = None) -> Obj:
        self.writes[f"patch {res.kind}"] += 1
        return super().patch(res, namespace, name, patch, sub)

    def replace_status(self, obj: Obj) -> Obj:
        self.writes[f"replace_status {obj['kind']}"] += 1
        return super().replace_status(obj)

    def delete(self, res: Resource, namespace: str | None, name: str, uid: str | None = None) -> bool:
        self.writes[f"delete {res.kind}"] += 1
        return super().delete(res, namespace, name, uid)

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        self.writes[f"event {reason}"] += 1
        super().event(obj, type_, reason, message)


class Driver:
    """The reconcile of one namespace's pairs, run in a loop until a condition holds."""

    def __init__(self, kube: ApiServer, namespace: str, cluster: LocalCluster):
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
        keys = {common_label(reference_key(self.ns, name)), fuse_label(reference_key(self.ns, name)),
                *(runtime_label(t, reference_key(self.ns, name)) for t in ("alluxio", "jindo")),
                *(capacity_label(t, m, reference_key(self.ns, name)) for t in ("alluxio", "jindo") for m in "mdt")}
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


