"""The one door to the API server: what the lifecycle and the engines may ask of Kubernetes.

Objects travel as plain JSON dicts. Two implementations exist: ``lifecycle.k8s.kube`` talks to a
real API server; ``lifecycle.k8s.memory`` keeps objects in a dict for unit and property tests and
mimics the API semantics the lifecycle relies on (resourceVersion conflicts, finalizers and
deletionTimestamp, owner-reference garbage collection, status subresource).
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, cast

import attrs

T = TypeVar("T")
Obj = dict[str, Any]
Objs = list[Obj]
Argv = list[str]  # (a module-level name: inside a class, ``list`` means the method)
Versions = dict[tuple[str, str], str]  # (namespace or "", name) -> resourceVersion


@attrs.frozen
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


CONFIG_MAP = Resource("", "v1", "ConfigMap", "configmaps")
SECRET = Resource("", "v1", "Secret", "secrets")
SERVICE = Resource("", "v1", "Service", "services")
POD = Resource("", "v1", "Pod", "pods")
NODE = Resource("", "v1", "Node", "nodes", namespaced=False)
PV = Resource("", "v1", "PersistentVolume", "persistentvolumes", namespaced=False)
PVC = Resource("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims")
EVENT = Resource("", "v1", "Event", "events")
NAMESPACE = Resource("", "v1", "Namespace", "namespaces", namespaced=False)
STATEFUL_SET = Resource("apps", "v1", "StatefulSet", "statefulsets")
DAEMON_SET = Resource("apps", "v1", "DaemonSet", "daemonsets")
JOB = Resource("batch", "v1", "Job", "jobs")
LEASE = Resource("coordination.k8s.io", "v1", "Lease", "leases")
DATASET = Resource("data.fluid.io", "v1alpha1", "Dataset", "datasets")
CRD = Resource("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
               namespaced=False)
# What the operator's own manifests are made of (deploy/operator.yaml).
SERVICE_ACCOUNT = Resource("", "v1", "ServiceAccount", "serviceaccounts")
DEPLOYMENT = Resource("apps", "v1", "Deployment", "deployments")
CLUSTER_ROLE = Resource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False)
CLUSTER_ROLE_BINDING = Resource("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings",
                                namespaced=False)
ROLE = Resource("rbac.authorization.k8s.io", "v1", "Role", "roles")
ROLE_BINDING = Resource("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings")

BUILTIN = (CONFIG_MAP, SECRET, SERVICE, POD, NODE, PV, PVC, EVENT, NAMESPACE, STATEFUL_SET, DAEMON_SET, JOB,
           LEASE, DATASET, CRD, SERVICE_ACCOUNT, DEPLOYMENT, CLUSTER_ROLE, CLUSTER_ROLE_BINDING, ROLE, ROLE_BINDING)


class ApiError(Exception):
    """An API call failed; ``status`` is the HTTP status code."""

    status = 0

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status


class Forbidden(ApiError):
    """The operator's account may not do this: its RBAC lacks a rule."""

    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    """Someone else changed the object since it was read (or it already exists)."""

    status = 409


class Invalid(ApiError):
    status = 422


class KnownResources:
    """The kinds a gateway can address by apiVersion and kind: the built-in ones and any added."""

    def __init__(self, resources: tuple[Resource, ...] = ()):
        self._resources = {(r.api_version, r.kind): r for r in (*BUILTIN, *resources)}

    def add_resource(self, res: Resource) -> None:
        self._resources[(res.api_version, res.kind)] = res

    def resource(self, api_version: str, kind: str) -> Resource:
        try:
            return self._resources[(api_version, kind)]
        except KeyError:
            raise NotFound(f"no resource known for {api_version} {kind}; register its kind") from None


@attrs.frozen
class ExecResult:
    stdout: str
    stderr: str
    code: int


class Gateway(Protocol):
    def resource(self, api_version: str, kind: str) -> Resource: ...

    def get(self, res: Resource, namespace: str | None, name: str) -> Obj | None: ...

    def resource_version(self, res: Resource, namespace: str | None, name: str) -> str | None:
        """The object's resourceVersion (None if it does not exist), from a watch where one knows it."""
        ...

    def list(self, res: Resource, namespace: str | None = None,
             labels: dict[str, str] | None = None) -> Objs: ...

    def list_versions(self, res: Resource, namespace: str | None = None,
                      labels: dict[str, str] | None = None) -> Versions:
        """The resourceVersion of each object ``list`` would return: for a caller that keeps what it
        read from each object and reads again only the ones that changed (no object decoded)."""
        ...

    def create(self, obj: Obj) -> Obj:
        """Create ``obj`` with our field manager; Conflict if the name is taken."""
        ...

    def apply(self, obj: Obj) -> Obj:
        """Server-side apply of ``obj`` with our field manager (forcing conflicts)."""
        ...

    def claim_created_fields(self, res: Resource, live: Obj) -> bool:
        """Make the fields our create of ``live`` set ours to remove by the applies that follow, as the
        fields an apply sets are (``lifecycle.k8s.fields``); False if there were none to hand over."""
        ...

    def patch(self, res: Resource, namespace: str | None, name: str, patch: Obj) -> Obj:
        """JSON merge patch; include metadata.resourceVersion in ``patch`` to make it conditional."""
        ...

    def replace_status(self, obj: Obj) -> Obj:
        """Write ``obj['status']`` through the status subresource; Conflict if resourceVersion is stale."""
        ...

    def delete(self, res: Resource, namespace: str | None, name: str, uid: str | None = None) -> bool:
        """Request deletion (foreground of nothing: owned objects go by garbage collection). With
        ``uid`` only that very object is deleted: one recreated under the name since is a Conflict.
        False if there was nothing to delete."""
        ...

    def exec(self, namespace: str, pod: str, container: str | None, argv: Argv,
             timeout: float = 60.0) -> ExecResult: ...

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None: ...


def version_of(obj: Obj | None) -> str | None:
    return None if obj is None else str((obj.get("metadata") or {}).get("resourceVersion") or "")


def versions_of(objs: Objs) -> Versions:
    """``Gateway.list_versions`` of the objects a list returned."""
    found: Versions = {}
    for obj in objs:
        meta = obj.get("metadata") or {}
        found[(meta.get("namespace") or "", meta.get("name") or "")] = str(meta.get("resourceVersion") or "")
    return found


def clone(value: T) -> T:
    """A deep copy of JSON-shaped data, several times faster than ``copy.deepcopy``."""
    return cast(T, _clone(value))


def _clone(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


def meta(obj: Obj) -> dict[str, Any]:
    found: dict[str, Any] = obj.setdefault("metadata", {})
    return found


def owner_reference(owner: Obj, controller: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }
