"""Everything a cache runtime runs on, rendered from the spec in the order it is applied.

ConfigMaps first (the values ConfigMap records the host ports the runtime holds, so it must exist
before any workload that binds them), then the master's Services and StatefulSet, the workers'
StatefulSet and the fuse DaemonSet. The cache system supplies the pods (``workload``) and the
configuration; the controllers around them, their labels, selectors and placement are the same
for every cache system.

Rendering costs far more than anything else a waiting or idle pass does (building and hashing
every object), so what a pass compares with the live objects is a ``Rendered`` summary (kind,
name, hash) kept per runtime under a digest of everything rendering reads; the objects are built
only when those inputs change or something must be applied.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import NamedTuple

from engines.cache import objects, ports, valuestext
from engines.cache.base import Cache
from lifecycle import DATASET_ID_LABEL, DATASET_LABEL, PLACEMENT_LABEL, SERVICE, Obj, fuse_label, to_json


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


_VALUES_TEXT = "values-text"  # EngineContext.shared: runtime UID -> (the digest of the values, their YAML)
_KEPT_LOCK = threading.Lock()


def values_text(shared: dict[str, object], uid: str, values: dict[str, object]) -> str:
    """The values as YAML, dumped again only when they changed: every pass renders them to compare
    with the live ConfigMap, and PyYAML's dump cost more than the rest of the rendering."""
    key = objects.digest(values)
    with _KEPT_LOCK:
        texts = shared.setdefault(_VALUES_TEXT, {})
        assert isinstance(texts, dict)
        known = texts.get(uid)
    if known is not None and known[0] == key:
        return str(known[1])
    text = valuestext.dump(values)
    with _KEPT_LOCK:
        texts[uid] = (key, text)
    return text


def forget(shared: dict[str, object], uid: str) -> None:
    """Drop what is kept for a runtime that is gone: its values text and its rendered summaries."""
    with _KEPT_LOCK:
        for what in (_VALUES_TEXT, _RENDERED):
            kept = shared.get(what)
            if isinstance(kept, dict):
                kept.pop(uid, None)


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


class Rendered(NamedTuple):
    """What a pass compares a rendered object with the live one by."""

    api_version: str
    kind: str
    name: str
    hash: str

    @classmethod
    def of(cls, obj: Obj) -> Rendered:
        return cls(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], objects.applied_hash(obj) or "")


_RENDERED = "rendered"  # EngineContext.shared: runtime UID -> {what: (inputs digest, [Rendered])}


def inputs(e: Cache, *args: object) -> str:
    """A digest of everything rendering reads: the runtime without its status and the Dataset with
    only the mounts of its status (as parsed this pass, in-pass changes included), the ports, the
    mounts override, the operator's settings and ``args``. A status that changes every few passes
    (conditions, cache figures) would make every summary a miss; a test keeps rendering blind to it."""
    runtime = to_json(e.ctx.runtime)
    runtime.pop("status", None)
    dataset = to_json(e.ctx.dataset)
    if dataset is not None:
        dataset["status"] = {"mounts": (dataset.get("status") or {}).get("mounts")}
    return objects.digest([type(e).__module__, type(e).__qualname__, runtime, dataset, e.ports(),
                           to_json(e.mounts_override), e.ctx.settings, list(args)])


def _summary(e: Cache, what: str, key: str, build: Callable[[], list[Obj]]) -> list[Rendered]:
    with _KEPT_LOCK:
        kept = _kept(e).setdefault(e.uid, {})
        known = kept.get(what)
    if known is not None and known[0] == key:
        return list(known[1])
    out = [Rendered.of(o) for o in build()]
    with _KEPT_LOCK:
        _kept(e).setdefault(e.uid, {})[what] = (key, out)
    return list(out)


def _kept(e: Cache) -> dict[str, dict[str, tuple[str, list[Rendered]]]]:
    found = e.ctx.shared.setdefault(_RENDERED, {})
    assert isinstance(found, dict)
    return found


def desired_summary(e: Cache, worker_replicas: int) -> list[Rendered]:
    """``desired``, as summaries; rendered only when its inputs changed since the last pass."""
    return _summary(e, "desired", inputs(e, "desired", worker_replicas), lambda: desired(e, worker_replicas))


def worker_summary(e: Cache, replicas: int) -> Rendered:
    """``worker_set``, as a summary; rendered only when its inputs changed since the last pass."""
    return _summary(e, "worker", inputs(e, "worker", replicas), lambda: [worker_set(e, replicas)])[0]


def stale(e: Cache, r: Rendered) -> bool:
    """The live object of ``r``'s kind and name does not carry ``r``'s hash (or is missing)."""
    return objects.applied_hash(e.get(e.gw.resource(r.api_version, r.kind), r.name)) != r.hash


def stale_services(e: Cache) -> list[str]:
    """Master Services of ours beyond the masters wanted now (after a scale-in of the masters)."""
    if not e.has_master:
        return []
    wanted = set(e.service_names())
    listed = e.gw.list(SERVICE, e.ns, labels=e.selector("master"))
    return sorted(s["metadata"]["name"] for s in listed if s["metadata"]["name"] not in wanted)
