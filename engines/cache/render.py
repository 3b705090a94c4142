"""Everything a cache runtime runs on, rendered from the spec in the order it is applied.

ConfigMaps first (the values ConfigMap records the host ports the runtime holds, so it must exist
before any workload that binds them), then the master's Services and StatefulSet, the workers'
StatefulSet and the fuse DaemonSet. The cache system supplies the pods (``workload``) and the
configuration; the controllers around them, their labels, selectors and placement are the same
for every cache system.
"""

from __future__ import annotations

import json
import threading

import yaml

from engines.cache import objects, ports
from engines.cache.base import Cache
from lifecycle import DATASET_ID_LABEL, DATASET_LABEL, PLACEMENT_LABEL, SERVICE, Obj, fuse_label


def config_maps(e: Cache) -> list[Obj]:
    data = dict(e.config_data())
    values, held = e.values(), e.allocated_ports()
    # Recorded even when empty: a runtime on the container network that moves to the host network
    # then gets ports of its own, where one made before allocation (no record) keeps its defaults.
    values[ports.PORTS_KEY] = held
    data[e.values_name] = {ports.VALUES_KEY: values_text(e.ctx.shared, e.uid, values)}
    holds = {ports.HOLDS_PORTS_LABEL: "true"} if held else {}
    return [objects.config_map(name, e.ns, {**e.object_labels, **(holds if name == e.values_name else {})}, d,
                               e.owner_ref) for name, d in data.items()]


_VALUES_TEXT = "values-text"  # EngineContext.shared: runtime UID -> (values as JSON, as YAML)
_VALUES_LOCK = threading.Lock()


def values_text(shared: dict[str, object], uid: str, values: dict[str, object]) -> str:
    """The values as YAML, dumped again only when they changed: every pass renders them to compare
    with the live ConfigMap, and PyYAML's dump cost more than the rest of the rendering."""
    key = json.dumps(values, sort_keys=True, default=str)
    with _VALUES_LOCK:
        texts = shared.setdefault(_VALUES_TEXT, {})
        assert isinstance(texts, dict)
        known = texts.get(uid)
    if known is not None and known[0] == key:
        return str(known[1])
    text: str = yaml.safe_dump(values, sort_keys=True)
    with _VALUES_LOCK:
        texts[uid] = (key, text)
    return text


def forget_values_text(shared: dict[str, object], uid: str) -> None:
    with _VALUES_LOCK:
        texts = shared.get(_VALUES_TEXT)
        if isinstance(texts, dict):
            texts.pop(uid, None)


def services(e: Cache) -> list[Obj]:
    selector = e.selector("master")
    return [objects.headless_service(svc, e.ns, selector, svc, e.master_ports(), e.owner_ref, e.marker)
            for svc in e.service_names()]


def master_set(e: Cache) -> Obj:
    selector = e.selector("master")
    template = objects.pod_template(e.workload("master"), selector, {DATASET_ID_LABEL: e.dataset_id})
    return objects.stateful_set(e.object_name("master"), e.ns, e.object_labels, selector, template,
                                e.master_replicas, e.service_names(1)[0], e.owner_ref)


def worker_set(e: Cache, replicas: int) -> Obj:
    selector = e.selector("worker")
    ds = e.ctx.dataset
    required = ds.spec.node_affinity.required if ds and ds.spec.node_affinity else None
    affinity = objects.worker_affinity(e.placement, DATASET_LABEL, PLACEMENT_LABEL, fuse_label(e.key), required)
    template = objects.pod_template(e.workload("worker"), selector,
                                    {DATASET_ID_LABEL: e.dataset_id, **e.worker_labels()}, affinity)
    return objects.stateful_set(e.object_name("worker"), e.ns, e.object_labels, selector, template, replicas,
                                e.object_name("worker"), e.owner_ref)


def fuse_set(e: Cache) -> Obj:
    wl = e.workload("fuse")
    wl.node_selector = {**wl.node_selector, fuse_label(e.key): "true"}
    selector = e.selector("fuse")
    template = objects.pod_template(wl, selector, {DATASET_ID_LABEL: e.dataset_id})
    return objects.daemon_set(e.object_name("fuse"), e.ns, e.object_labels, selector, template, e.owner_ref)


def desired(e: Cache, worker_replicas: int) -> list[Obj]:
    """Everything the runtime runs on, in the order it is applied."""
    out = config_maps(e)
    if e.has_master:
        out += [*services(e), master_set(e)]
    if e.has_workers:
        out.append(worker_set(e, worker_replicas))
    if e.has_fuse:
        out.append(fuse_set(e))
    return out


def stale_services(e: Cache) -> list[str]:
    """Master Services of ours beyond the masters wanted now (after a scale-in of the masters)."""
    if not e.has_master:
        return []
    wanted = set(e.service_names())
    listed = e.gw.list(SERVICE, e.ns, labels=e.selector("master"))
    return sorted(s["metadata"]["name"] for s in listed if s["metadata"]["name"] not in wanted)
