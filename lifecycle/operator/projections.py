"""What the informers' caches keep of each kind: the fields a reconcile reads, not whole objects.

Every cached object loses ``metadata.managedFields`` (``slim``) and is kept as compact JSON text
(``lifecycle.k8s.index``). A Secret keeps its metadata only: its values never leave the API server
for the watch. Pods and the pod templates of StatefulSets and DaemonSets keep only the names of
their containers: the image, command, environment, mounts and probes of each are most of such an
object (at 1,000 pairs they were over a third of the operator's memory), and no reconcile reads them
from a live object: an object of ours is compared with its rendering by the hash it carries, and
written by server-side apply of the whole rendering, never by an update of what was read. An engine
that needs a container spec takes it from its own rendering. A pod's status keeps its phase, its
conditions' types and values, and its containers' readiness and state; its addresses, images and IDs
go.

Each projection returns a new object and leaves its argument as it is, sharing the parts it does not
change: the informer projects its own writes' results, which the reconcile goes on reading, and
copying each whole first was 4.6 % of the operator's setup CPU (300 Alluxio pairs).
"""

from __future__ import annotations

from collections.abc import Callable

from lifecycle.k8s.gateway import DAEMON_SET, POD, SECRET, STATEFUL_SET, Obj, Resource
from lifecycle.operator.informer import slim

Projection = Callable[[Obj], Obj]
CONTAINER_GROUPS = ("initContainers", "containers", "ephemeralContainers")


def without_values(obj: Obj) -> Obj:
    return slim({k: v for k, v in obj.items() if k not in ("data", "stringData")})


def _container_names(pod_spec: Obj | None) -> Obj | None:
    if not isinstance(pod_spec, dict):
        return pod_spec
    return {**pod_spec, **{group: [{"name": c.get("name")} for c in pod_spec[group] if isinstance(c, dict)]
                           for group in CONTAINER_GROUPS if isinstance(pod_spec.get(group), list)}}


CONTAINER_STATUS_KEPT = ("name", "ready", "started", "restartCount", "state")


def _pod_status_read(status: Obj | None) -> Obj | None:
    """A pod's status as reconciles read it: its phase, its conditions' types and values, and per
    container whether it is ready and since when it runs. Addresses, images, IDs, resources and
    the last state go (on a real node most of a pod's status)."""
    if not isinstance(status, dict):
        return status
    kept: Obj = {"phase": status["phase"]} if "phase" in status else {}
    if isinstance(status.get("conditions"), list):
        kept["conditions"] = [{k: c[k] for k in ("type", "status") if k in c}
                              for c in status["conditions"] if isinstance(c, dict)]
    if isinstance(status.get("containerStatuses"), list):
        kept["containerStatuses"] = [{k: c[k] for k in CONTAINER_STATUS_KEPT if k in c}
                                     for c in status["containerStatuses"] if isinstance(c, dict)]
    return kept


def pod_without_container_specs(obj: Obj) -> Obj:
    """A pod whose spec keeps its containers' names only, and whose status what ``_pod_status_read``
    keeps."""
    out = {**obj, "spec": _container_names(obj["spec"])} if "spec" in obj else dict(obj)
    if "status" in obj:
        out["status"] = _pod_status_read(obj["status"])
    return slim(out)


def workload_without_container_specs(obj: Obj) -> Obj:
    """A StatefulSet or DaemonSet whose pod template keeps its containers' names only."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return slim(obj)
    template = spec.get("template")
    if not isinstance(template, dict) or not isinstance(template.get("spec"), dict):
        return slim(obj)
    return slim({**obj, "spec": {**spec, "template": {**template, "spec": _container_names(template["spec"])}}})


PROJECTIONS: dict[Resource, Projection] = {
    SECRET: without_values,
    POD: pod_without_container_specs,
    STATEFUL_SET: workload_without_container_specs,
    DAEMON_SET: workload_without_container_specs,
}


def projection(res: Resource) -> Projection:
    """What the cache of ``res`` keeps of each object."""
    return PROJECTIONS.get(res, slim)
