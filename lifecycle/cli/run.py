"""``fluidlc run``: everything a newcomer needs to watch a pair reach Bound, in one command.

Starts the local control plane unless KUBECONFIG names a cluster, installs the CRDs, applies the
sample manifests (on the local cluster it also fills the stand-in UFS folders the sample mounts),
runs the operator in this process and reports every phase change until the Datasets are Bound.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import yaml

from lifecycle.deploy import CRDS
from lifecycle.engine.registry import Registry
from lifecycle.k8s.connection import connect
from lifecycle.k8s.gateway import CRD, DATASET, Obj
from lifecycle.k8s.kube import KubeGateway
from lifecycle.local import LocalCluster, ufs
from lifecycle.operator.manager import Operator, Settings

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
log = logging.getLogger("lifecycle.run")


def say(message: str) -> None:
    print(f"[run] {message}", flush=True)


def install_crds(kube: KubeGateway, crd_dir: Path = CRDS, timeout: float = 60.0) -> list[str]:
    """Apply every CRD in ``crd_dir`` and wait until the API server serves them."""
    names = []
    for path in sorted(crd_dir.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        kube.apply(crd)
        names.append(crd["metadata"]["name"])
    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            live = kube.get(CRD, None, name) or {}
            conditions = {c["type"]: c["status"] for c in (live.get("status") or {}).get("conditions") or []}
            if conditions.get("Established") == "True":
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"CRD {name} not Established after {timeout:.0f}s: {conditions}")
            time.sleep(0.2)
    return names


def table(kube: KubeGateway, namespace: str) -> str:
    """``kubectl get datasets`` as the API server's Table view prints it."""
    data = kube.request("GET", kube.path(DATASET, namespace), accept=TABLE)
    shown = [(i, c["name"]) for i, c in enumerate(data.get("columnDefinitions", [])) if c.get("priority", 0) == 0]
    rows = [[_cell(row["cells"][i]) for i, _ in shown] for row in data.get("rows", [])]
    widths = [max([len(name), *(len(r[j]) for r in rows)]) for j, (_, name) in enumerate(shown)]
    lines = ["   ".join(name.upper().ljust(w) for (_, name), w in zip(shown, widths, strict=True))]
    lines += ["   ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return "<none>" if value is None else str(value)  # as kubectl prints a missing value


def run_demo(settings: Settings, sample: Path, *, exit_when_bound: bool = False, nodes: int = 3) -> int:
    cluster = None
    if not settings.kubeconfig:
        cluster = LocalCluster()
        say("no KUBECONFIG: starting a local control plane on 127.0.0.1 "
            "(the first run builds it from Go modules, which takes several minutes)")
        cluster.up(nodes=nodes, progress=say)
        settings.kubeconfig = str(cluster.kubeconfig)
        say(f"kubeconfig: {cluster.kubeconfig}  (stop the cluster with: fluidlc cluster down)")
    registry = Registry().discover()
    api = connect(settings.kubeconfig)
    kube = KubeGateway(api, tuple(k.resource for k in registry.kinds()))
    say(f"installed CRDs: {', '.join(install_crds(kube))}")
    if not sample.exists():
        raise SystemExit(f"sample manifests {sample} not found; pass --sample FILE")
    documents = [d for d in yaml.safe_load_all(sample.read_text()) if d]
    if cluster is not None:
        for filled in ufs.fill_for(cluster.layout.ufs, documents):
            say(f"simulated UFS {filled}")
    for doc in documents:
        doc.setdefault("metadata", {}).setdefault("namespace", "default")
        kube.apply(doc)
        say(f"applied {doc['kind']} {doc['metadata']['namespace']}/{doc['metadata']['name']}")

    operator = Operator(settings, registry, api=api)
    operator.start()
    say(f"operator started (metrics and probes on 127.0.0.1:{operator.probes.port if operator.probes else '?'})")
    datasets = [(d["metadata"]["namespace"], d["metadata"]["name"]) for d in documents if d["kind"] == "Dataset"]
    try:
        code = _follow(kube, registry, datasets, operator, exit_when_bound)
    except KeyboardInterrupt:
        code = 0
    operator.shutdown()
    return code


def metadata_pending(dataset: Obj) -> str | None:
    """Why the Dataset's table row is not complete yet, or None once it is.

    A pair is Bound before its metadata is loaded (that runs in the background), so right after
    Bound the UFS size shows ``[Calculating]`` and the percentage is empty for a few seconds."""
    status = dataset.get("status") or {}
    total = status.get("ufsTotal") or ""
    if not total.startswith("["):
        if total and "cachedPercentage" not in (status.get("cacheStates") or {}):
            return "working out the cached percentage"
        return None
    synced = next((c for c in status.get("conditions") or [] if c.get("type") == "MetadataSynced"), None)
    return (synced or {}).get("message") or "loading the UFS metadata"


def _report(kube: KubeGateway, registry: Registry, ns: str, name: str, seen: dict[str, Any],
            started: float) -> Obj:
    """Say each new state of the pair's runtime and Dataset; the Dataset as read."""
    ds = kube.get(DATASET, ns, name) or {}
    phase = (ds.get("status") or {}).get("phase") or "(new)"
    for kind in registry.kinds():
        rt = kube.get(kind.resource, ns, name)
        if rt is not None:
            state = ((rt.get("status") or {}).get("lifecycle") or {}).get("state", "New")
            if seen.get(f"rt/{ns}/{name}") != state:
                say(f"{kind.kind} {ns}/{name}: {state}  (+{time.monotonic() - started:.1f}s)")
                seen[f"rt/{ns}/{name}"] = state
    if seen.get(f"ds/{ns}/{name}") != phase:
        say(f"Dataset {ns}/{name}: {phase}  (+{time.monotonic() - started:.1f}s)")
        seen[f"ds/{ns}/{name}"] = phase
    return ds


def _announce(kube: KubeGateway, datasets: list[tuple[str, str]], pending: bool, metadata_timeout: float,
              exit_when_bound: bool) -> None:
    """The Datasets as ``kubectl get`` shows them, once all are Bound."""
    for ns in sorted({ns for ns, _ in datasets}):
        print(table(kube, ns), flush=True)
    if pending:
        say(f"the metadata is still loading after {metadata_timeout:.0f}s; the table fills in once it is done")
    say("all sample datasets are Bound" + ("" if exit_when_bound else "; the operator keeps running (Ctrl-C to stop)"))


def _follow(kube: KubeGateway, registry: Registry, datasets: list[tuple[str, str]], operator: Operator,
            exit_when_bound: bool, metadata_timeout: float = 120.0) -> int:
    seen: dict[str, Any] = {}
    announced = False
    started = time.monotonic()
    bound_at: float | None = None
    while True:
        phases, pending = {}, {}
        for ns, name in datasets:
            ds = _report(kube, registry, ns, name, seen, started)
            phases[(ns, name)] = (ds.get("status") or {}).get("phase") or "(new)"
            why = metadata_pending(ds)
            if why is not None:
                pending[(ns, name)] = why
        all_bound = bool(datasets) and all(p == "Bound" for p in phases.values())
        bound_at = (bound_at or time.monotonic()) if all_bound else None
        for (ns, name), why in pending.items():
            if all_bound and seen.get(f"md/{ns}/{name}") != why:
                say(f"Dataset {ns}/{name}: Bound; metadata: {why}")
                seen[f"md/{ns}/{name}"] = why
        waited_enough = bound_at is not None and time.monotonic() - bound_at > metadata_timeout
        if all_bound and (not pending or waited_enough) and not announced:
            announced = True
            _announce(kube, datasets, bool(pending), metadata_timeout, exit_when_bound)
            if exit_when_bound:
                return 0
        if operator.elector.lost.is_set():
            say("leadership lost; stopping")
            return 1
        time.sleep(0.5)
