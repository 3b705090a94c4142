"""Node labels that tell the scheduler (and the reference's tools) where a dataset is cached.

A node running one of the dataset's workers carries ``fluid.io/s-<type>-<ns>-<name>``,
``fluid.io/s-<ns>-<name>``, the capacity labels per medium, ``fluid_exclusive`` when the placement
is exclusive, and ``fluid.io/dataset-num`` counting the datasets cached there. The count changes
only together with the dataset's own label, in one conditional patch, so a retried or crashed
pass never counts a dataset twice. Nodes that stop running workers lose the labels again. A pass
looks only at the nodes running a worker and those carrying the dataset's labels (as set: a
capacity label left with an old value, without the others, waits for the runtime's deletion, which
clears every node).
"""

from __future__ import annotations

from typing import Any

from engines.cache import report
from engines.cache.base import Cache
from lifecycle import (
    DATASET_NUM_LABEL,
    EXCLUSIVE_LABEL,
    FINISHED_POD_PHASES,
    NODE,
    POD,
    Gateway,
    Level,
    Obj,
    capacity_label,
    common_label,
    exclusive_value,
    fuse_label,
    runtime_label,
)

MEDIUM_KEYS = {"MEM": "m", "SSD": "d", "HDD": "d"}


def capacity_labels(runtime_type: str, key: str, per_medium: dict[str, str]) -> dict[str, str]:
    """``per_medium`` maps m (memory), d (disk) and t (total) to label values."""
    return {capacity_label(runtime_type, medium, key): value for medium, value in per_medium.items()}


def cache_node_labels(runtime_type: str, key: str, exclusive_as: str | None,
                      per_medium: dict[str, str]) -> dict[str, str]:
    """The labels of a node running the pair's workers (``exclusive_as``: the fluid_exclusive value
    of an exclusive placement)."""
    labels = {runtime_label(runtime_type, key): "true", common_label(key): "true",
              **capacity_labels(runtime_type, key, per_medium)}
    if exclusive_as is not None:
        labels[EXCLUSIVE_LABEL] = exclusive_as
    return labels


def owned_keys(runtime_type: str, key: str) -> list[str]:
    """Every node label key of this dataset, including the fuse label the CSI plugin sets."""
    return [runtime_label(runtime_type, key), common_label(key),
            *(capacity_label(runtime_type, m, key) for m in ("m", "d", "t")), fuse_label(key)]


def node_patch(node: Obj, wanted: dict[str, str], runtime_type: str, key: str, exclusive_as: str,
               keep_fuse_label: bool = True) -> dict[str, Any] | None:
    """The label changes that make ``node`` carry exactly ``wanted`` of this dataset's labels."""
    labels = node["metadata"].get("labels") or {}
    changes: dict[str, Any] = {k: v for k, v in wanted.items() if labels.get(k) != v}
    fuse = fuse_label(key)
    for owned in owned_keys(runtime_type, key):
        if owned in labels and owned not in wanted and not (keep_fuse_label and owned == fuse):
            changes[owned] = None
    if EXCLUSIVE_LABEL not in wanted and labels.get(EXCLUSIVE_LABEL) == exclusive_as:
        changes[EXCLUSIVE_LABEL] = None
    common = common_label(key)
    had, has = common in labels, common in wanted
    if had != has:
        try:
            count = int(labels.get(DATASET_NUM_LABEL) or 0)
        except ValueError:  # someone else's garbage: recount from this dataset
            count = 0
        count = count + 1 if has else max(count - 1, 0)
        changes[DATASET_NUM_LABEL] = str(count) if count else None
    return changes or None


def apply_node_labels(gateway: Gateway, node: Obj, changes: dict[str, Any]) -> None:
    """Conditional on the node's resourceVersion: a concurrent change (another dataset's count)
    makes this a conflict, and the pass runs again on fresh nodes."""
    gateway.patch(NODE, None, node["metadata"]["name"],
                  {"metadata": {"labels": changes, "resourceVersion": node["metadata"].get("resourceVersion")}})


def capacity_per_medium(levels: list[Level]) -> dict[str, str]:
    """The capacity label values of the cache tiers: memory (m), disk (d) and their total (t)."""
    sizes = {"m": 0, "d": 0}
    for level in levels:
        quota = report.quantity_bytes(level.quota) if level.quota else sum(
            report.quantity_bytes(q) for q in (level.quota_list or "").split(",") if q)
        sizes[MEDIUM_KEYS[level.mediumtype]] += quota
    sizes["t"] = sizes["m"] + sizes["d"]
    return {k: report.capacity_label_value(v) for k, v in sizes.items() if v}


def sync_schedule_info_to_cache_nodes(e: Cache) -> None:
    """Nodes running one of the workers carry the dataset's labels; the others lose them."""
    if not e.has_workers:
        return
    pods = e.gw.list(POD, e.ns, labels=e.selector("worker"))
    hosts = {p["spec"]["nodeName"] for p in pods
             if (p.get("spec") or {}).get("nodeName") and not p["metadata"].get("deletionTimestamp")
             and (p.get("status") or {}).get("phase") not in FINISHED_POD_PHASES}
    mine = exclusive_value(e.ns, e.name)
    wanted = cache_node_labels(e.RUNTIME_TYPE, e.key, mine if e.placement == "Exclusive" else None,
                               capacity_per_medium(e.levels))
    for node in _nodes_concerned(e, hosts, wanted, mine):
        changes = node_patch(node, wanted if node["metadata"]["name"] in hosts else {}, e.RUNTIME_TYPE, e.key, mine)
        if changes:
            apply_node_labels(e.gw, node, changes)


def _nodes_concerned(e: Cache, hosts: set[str], wanted: dict[str, str], mine: str) -> list[Obj]:
    """The nodes running a worker and those carrying one of the dataset's labels, in order of name.
    Each is looked up by its name or by label (the informers index labels), never by reading every
    node: at 1,000 pairs a node carries some 250 datasets' labels, and decoding all 20 nodes on
    every pass was 41 % of the idle operator's CPU."""
    found: dict[str, Obj] = {}
    for key, value in {**wanted, EXCLUSIVE_LABEL: mine}.items():  # one list per label, none twice
        for node in e.gw.list(NODE, labels={key: value}):
            found.setdefault(node["metadata"]["name"], node)
    for host in sorted(hosts - found.keys()):
        running = e.gw.get(NODE, None, host)
        if running is not None:
            found[host] = running
    return [found[name] for name in sorted(found)]


def remove_node_labels(e: Cache) -> None:
    """Every label of this dataset off every node, the fuse label too (on shutdown). A runtime that
    never claimed its Dataset never labelled a node: the keys of its name may be another pair's."""
    if not e.ctx.claimed:
        return
    mine = exclusive_value(e.ns, e.name)
    for node in e.gw.list(NODE):
        changes = node_patch(node, {}, e.RUNTIME_TYPE, e.key, mine, keep_fuse_label=False)
        if changes:
            apply_node_labels(e.gw, node, changes)
