"""Setting up the master and the workers, and keeping them as the spec says.

Setup applies every object the runtime runs on (so a crash between two applies is repaired the next
pass) with the workers left at their live replicas (0 when new); ``setup_workers`` scales them once
the UFS is mounted. In Ready, ``sync_replicas`` follows ``spec.replicas`` and ``sync_runtime``
applies any other spec change in place. An apply happens only when the object's hash differs, so an
idle pass writes nothing.
"""

from __future__ import annotations

from engines.cache import mounts, render, status
from engines.cache.base import Cache
from engines.cache.objects import spec_replicas, status_int
from lifecycle import (
    DATASET_NUM_LABEL,
    EXCLUSIVE_LABEL,
    NODE,
    SERVICE,
    STATEFUL_SET,
    RuntimeStatus,
    common_label,
    exclusive_value,
)


def _count(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def live_worker_replicas(e: Cache) -> int:
    return spec_replicas(e.get(STATEFUL_SET, e.object_name("worker")))


def should_setup_master(e: Cache) -> bool:
    # Every object setup_master applies, so a crash between two applies is repaired.
    return any(render.stale(e, r) for r in render.desired_summary(e, live_worker_replicas(e)))


def setup_master(e: Cache) -> None:
    # Workers keep their replicas (0 when new); setup_workers scales them once the UFS is ready.
    desired = render.desired(e, live_worker_replicas(e))
    e.check_ours(desired)  # every object in the way is named at once, before anything is written
    for obj in desired:
        e.apply(obj)
    if not e.has_master:
        mounts.record_mounts(e, e.mounts_in_effect())


def check_master_ready(e: Cache) -> bool:
    if not e.has_master:
        return e.fuse_ready()
    master = e.get(STATEFUL_SET, e.object_name("master"))
    return master is not None and status_int(master, "readyReplicas") >= max(spec_replicas(master), 1)


def should_setup_workers(e: Cache) -> bool:
    return e.has_workers and render.stale(e, render.worker_summary(e, e.replicas))


def setup_workers(e: Cache) -> None:
    if e.has_workers:
        e.apply(render.worker_set(e, e.replicas))


def check_workers_ready(e: Cache) -> bool:
    if not e.has_workers or e.replicas == 0:
        return True
    return status_int(e.get(STATEFUL_SET, e.object_name("worker")), "readyReplicas") >= 1


def assign_nodes_to_cache(e: Cache, desired: int) -> int:
    """How many of ``desired`` workers can get a node: schedulable nodes matching the workers' node
    selector, without another dataset's exclusive workers (and, when exclusive, without any other
    dataset's)."""
    selector = e.workload("worker").node_selector
    mine = exclusive_value(e.ns, e.name)
    count = 0
    for node in e.gw.list(NODE):
        labels = node["metadata"].get("labels") or {}
        if (node.get("spec") or {}).get("unschedulable"):
            continue
        if any(labels.get(k) != v for k, v in selector.items()):
            continue
        if labels.get(EXCLUSIVE_LABEL, mine) != mine:
            continue
        others = _count(labels.get(DATASET_NUM_LABEL)) - (1 if common_label(e.key) in labels else 0)
        if e.placement == "Exclusive" and others > 0:
            continue
        count += 1
    return min(desired, count)


def sync_replicas(e: Cache) -> None:
    if not e.has_workers:
        return
    worker = e.get(STATEFUL_SET, e.object_name("worker"))
    if worker is None:
        return  # lost: the health check sends the runtime through setup again
    before, after = spec_replicas(worker), e.replicas
    if before == after:
        return
    e.apply(render.worker_set(e, after))
    st = e.ctx.runtime.status = e.ctx.runtime.status or RuntimeStatus()
    dropped = (f" The cache held by the {before - after} removed worker(s) is dropped; reads of that data go "
               "to the UFS until it is cached again.") if after < before else ""
    status.scaled(e, st, "Workers", before, after, e.now_iso(), dropped)


def sync_runtime(e: Cache) -> bool:
    """Spec changes (image, properties, resources, env, ...) applied to the live objects in place; the
    objects are rendered only when a summary says one of them is behind."""
    summary = render.desired_summary(e, e.replicas)
    behind = [r for r in summary if render.stale(e, r)]
    e.ctx.owner.check(e.get(e.gw.resource(r.api_version, r.kind), r.name) for r in summary if r not in behind)
    changed = [f"{o['kind']} {o['metadata']['name']}" for o in render.desired(e, e.replicas) if e.apply(o)] \
        if behind else []
    for svc in render.stale_services(e):
        e.delete(SERVICE, svc)
        changed.append(f"deleted Service {svc}")
    if changed:
        e.ctx.event("Normal", "RuntimeUpdated", f"{e.ref}: applied the changed spec to " + ", ".join(changed))
    return bool(changed)
