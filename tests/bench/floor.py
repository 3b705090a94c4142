"""The floor: what the API server allows for the writes our operator makes, with no operator.

From the operator's run it takes one pair's objects (every object carrying our marker: kinds,
bodies, count) and the operator's writes per pair by verb (its own ``rest_client_requests_total``);
then, in a namespace of the same cluster, it creates for N pairs the Dataset and runtime, those
objects, and as many status PUTs, patches and further POSTs (events) as the operator made, each
pair in order, as fast as one process can (threads, no reads, no waits for pods).
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lifecycle.k8s.gateway import (
    CONFIG_MAP,
    DAEMON_SET,
    DATASET,
    PV,
    PVC,
    SERVICE,
    STATEFUL_SET,
    Obj,
    Resource,
)
from lifecycle.k8s.kube import KubeGateway
from lifecycle.k8s.ownership import MANAGED_BY_LABEL, MANAGER
from tests.bench.workload import Workload

MADE_KINDS = (CONFIG_MAP, SERVICE, STATEFUL_SET, DAEMON_SET, PVC, PV)
KEEP_META = ("name", "namespace", "labels", "annotations")


def made_objects(gw: KubeGateway, namespace: str, pair: str) -> list[Obj]:
    """The objects of ``pair`` carrying our marker, in the order the operator needs them, as bodies
    to create again (no server fields, no status, no owner references)."""
    found = []
    for res in MADE_KINDS:
        for obj in gw.list(res, namespace if res.namespaced else None, labels={MANAGED_BY_LABEL: MANAGER}):
            text = json.dumps(obj)
            if pair not in text:
                continue
            body = {k: v for k, v in obj.items() if k not in ("status",)}
            body["metadata"] = {k: v for k, v in obj["metadata"].items() if k in KEEP_META}
            spec = body.get("spec") or {}
            spec.pop("claimRef", None)
            spec.pop("volumeName", None)
            found.append(body)
    return found


def _renamed(template: Obj, old: str, new: str, old_ns: str, new_ns: str) -> Obj:
    text = json.dumps(template).replace(f'"{old_ns}"', f'"{new_ns}"').replace(old, new)
    renamed: Obj = json.loads(text)
    return renamed


def run_floor(gw: KubeGateway, workload: Workload, pairs: int, namespace: str, templates: list[Obj],
              per_pair: dict[str, float], source_ns: str, source_pair: str) -> dict[str, Any]:
    """Creates the floor's pairs; the time it took and its requests by verb."""
    statuses = {res.kind: (gw.get(res, source_ns, source_pair) or {}).get("status") or {}
                for res in (DATASET, workload.runtime)}
    puts = round(per_pair.get("PUT", 0))
    patches = round(per_pair.get("PATCH", 0))
    extra_posts = max(0, round(per_pair.get("POST", 0)) - len(templates))
    counts: dict[str, int] = {}

    def count(verb: str) -> None:
        counts[verb] = counts.get(verb, 0) + 1

    def one(i: int) -> None:
        name = f"floor-{i:05d}"
        dataset, runtime = workload.pair(name, namespace)
        live = {}
        for obj in (dataset, runtime):
            live[obj["kind"]] = gw.create(obj)
            count("POST")
        for template in templates:
            gw.create(_renamed(template, source_pair, name, source_ns, namespace))
            count("POST")
        for n in range(extra_posts):
            gw.create({"apiVersion": "v1", "kind": "Event",
                       "metadata": {"name": f"{name}.{n}", "namespace": namespace},
                       "involvedObject": {"kind": runtime["kind"], "name": name, "namespace": namespace},
                       "reason": "Floor", "message": "a write of the floor", "type": "Normal"})
            count("POST")
        for n in range(puts):
            kind = "Dataset" if n % 2 else runtime["kind"]
            body = live[kind]
            # The operator's last status of its pair, with one field changed: valid, and a real write.
            body["status"] = {**statuses[kind], "valueFile" if kind != "Dataset" else "fileNum": str(n)}
            live[kind] = gw.replace_status(body)
            count("PUT")
        res: Resource = workload.runtime
        for n in range(patches):
            gw.patch(res, namespace, name, {"metadata": {"labels": {"floor": str(n)}}})
            count("PATCH")

    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(pairs)))
    return {"seconds": time.monotonic() - started, "requests": counts}
