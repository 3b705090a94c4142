"""The operator's own cost per pair as N grows, with the in-memory gateway (no API server): pairs
are added in batches up to N; each batch is set up to Bound, then every pair gets an idle pass.
Printed per batch: setup CPU per pair, idle CPU per pass, and the process's memory per pair
(the gateway's objects included: it plays the API server and the informers' caches at once)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from lifecycle.engine.registry import Registry
from lifecycle.k8s.gateway import DATASET, STATEFUL_SET
from lifecycle.k8s.memory import MemoryGateway
from lifecycle.reconcile.reconciler import Reconciler
from lifecycle.testing import scripted
from tests.bench.watchers import rss_mib
from tests.bench.workload import WORKLOADS

NO_RATE_LIMITS = {"sync_intervals": {"sync_metadata": 0, "check_and_update_runtime_status": 0,
                                     "update_on_ufs_change": 0}}


def curve(total: int, batch: int, namespaces: int = 10,
          each: Callable[[tuple[int, float, float, float, int]], None] = lambda row: None,
          ) -> list[tuple[int, float, float, float, int]]:
    """(pairs so far, setup ms per pair of the batch, idle ms per pass, RSS KiB per pair, Bound)."""
    registry = Registry()
    scripted.register(registry)
    gw = MemoryGateway((scripted.KIND.resource,))
    rec = Reconciler(gw, registry, settings=NO_RATE_LIMITS)
    base = rss_mib(os.getpid())
    rows, keys = [], []
    for start in range(0, total, batch):
        fresh = [(f"ns-{i % namespaces}", f"p{i:05d}") for i in range(start, min(total, start + batch))]
        for ns, name in fresh:
            for obj in WORKLOADS["scripted"].pair(name, ns):
                gw.create(obj)
        began = time.process_time()
        for _ in range(3):
            for ns, name in fresh:
                rec.reconcile(ns, name)
            for ns in {ns for ns, _ in fresh}:
                for sts in gw.list(STATEFUL_SET, ns):
                    if (sts.get("status") or {}).get("readyReplicas") != sts["spec"]["replicas"]:
                        gw.set_status(STATEFUL_SET, ns, sts["metadata"]["name"],
                                      {"readyReplicas": sts["spec"]["replicas"]})
        setup = (time.process_time() - began) * 1000 / len(fresh)
        keys += fresh
        began = time.process_time()
        for ns, name in keys:
            rec.reconcile(ns, name)
        idle = (time.process_time() - began) * 1000 / len(keys)
        heap = (rss_mib(os.getpid()) - base) * 1024 / len(keys)
        bound = sum(1 for ns in {ns for ns, _ in keys} for d in gw.list(DATASET, ns)
                    if (d.get("status") or {}).get("phase") == "Bound")
        rows.append((len(keys), setup, idle, heap, bound))
        each(rows[-1])
    return rows
