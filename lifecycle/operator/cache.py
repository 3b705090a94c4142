"""A gateway whose reads come from the informers' caches and whose writes go to the API server.

Watched kinds are read locally (an idle operator sends no requests); others (Secrets, whose
values are never cached) are read from the API server. What we write is remembered at once, so the
next pass does not read an object older than our own last write.
"""

from __future__ import annotations

from typing import Protocol

from lifecycle.k8s.gateway import Argv, ExecResult, Obj, Objs, Resource, Versions, version_of
from lifecycle.k8s.kube import KubeGateway


class Cache(Protocol):
    """What the gateway reads a kind from: one informer, or several namespaces' read as one."""

    @property
    def available(self) -> bool: ...

    def get(self, namespace: str | None, name: str) -> Obj | None: ...

    def list(self, namespace: str | None = None, labels: dict[str, str] | None = None) -> Objs: ...

    def list_versions(self, namespace: str | None = None, labels: dict[str, str] | None = None) -> Versions: ...

    def remember(self, obj: Obj) -> None: ...


class CachedGateway:
    def __init__(self, api: KubeGateway, informers: dict[str, Cache], watched: dict[str, Cache] | None = None):
        self.api = api
        self.informers = informers  # by resource plural
        # Watched without being a cache (Secrets: values dropped), so only their versions are known here.
        self.watched = watched or {}

    def _informer(self, res: Resource) -> Cache | None:
        return self.informers.get(res.plural)

    def resource(self, api_version: str, kind: str) -> Resource:
        return self.api.resource(api_version, kind)

    def get(self, res: Resource, namespace: str | None, name: str) -> Obj | None:
        informer = self._informer(res)
        if informer is None:
            return self.api.get(res, namespace, name)
        return informer.get(namespace if res.namespaced else None, name)

    def resource_version(self, res: Resource, namespace: str | None, name: str) -> str | None:
        watched = self.watched.get(res.plural)
        if watched is not None and watched.available:
            return version_of(watched.get(namespace if res.namespaced else None, name))
        return version_of(self.get(res, namespace, name))

    def list(self, res: Resource, namespace: str | None = None, labels: dict[str, str] | None = None) -> Objs:
        informer = self._informer(res)
        if informer is None:
            return self.api.list(res, namespace, labels)
        return informer.list(namespace, labels)

    def list_versions(self, res: Resource, namespace: str | None = None,
                      labels: dict[str, str] | None = None) -> Versions:
        informer = self._informer(res)
        if informer is None:
            return self.api.list_versions(res, namespace, labels)
        return informer.list_versions(namespace, labels)

    def _remember(self, obj: Obj) -> Obj:
        if obj.get("metadata"):
            informer = self.informers.get(self.api.resource(obj["apiVersion"], obj["kind"]).plural) \
                if obj.get("apiVersion") and obj.get("kind") else None
            if informer is not None:
                informer.remember(obj)
        return obj

    def create(self, obj: Obj) -> Obj:
        return self._remember(self.api.create(obj))

    def apply(self, obj: Obj) -> Obj:
        return self._remember(self.api.apply(obj))

    def claim_created_fields(self, res: Resource, live: Obj) -> bool:
        return self.api.claim_created_fields(res, live)

    def patch(self, res: Resource, namespace: str | None, name: str, patch: Obj) -> Obj:
        result = self.api.patch(res, namespace, name, patch)
        result.setdefault("apiVersion", res.api_version)
        result.setdefault("kind", res.kind)
        return self._remember(result)

    def replace_status(self, obj: Obj) -> Obj:
        return self._remember(self.api.replace_status(obj))

    def delete(self, res: Resource, namespace: str | None, name: str, uid: str | None = None) -> bool:
        return self.api.delete(res, namespace, name, uid)

    def exec(self, namespace: str, pod: str, container: str | None, argv: Argv,
             timeout: float = 60.0) -> ExecResult:
        return self.api.exec(namespace, pod, container, argv, timeout)

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        self.api.event(obj, type_, reason, message)
