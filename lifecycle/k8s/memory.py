"""An in-memory API server for unit and property tests (and for engine authors' own tests).

It keeps the semantics the lifecycle depends on, and nothing more: resourceVersion and
conflicts, generation bumps on spec changes, the status subresource, finalizers holding a
deleted object with a deletionTimestamp (and refusing a new finalizer on it), garbage collection
of objects whose owner is gone, and the part of server-side apply the engines rely on: a field
the last apply set and this one leaves out is removed (lists are replaced whole, as for atomic
lists).
Every mutating call is counted, so a test can assert that an idle reconcile writes nothing.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import attrs

from lifecycle.k8s.gateway import (
    Argv,
    Conflict,
    ExecResult,
    Invalid,
    KnownResources,
    NotFound,
    Obj,
    Objs,
    Resource,
    Versions,
    clone,
    version_of,
    versions_of,
)
from lifecycle.k8s.index import ObjectIndex

ExecHandler = Callable[[str, str, str | None, list[str]], ExecResult]
Key = tuple[str, str, str]  # (plural, namespace or "", name)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return clone(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _dropped(previous: Obj, config: Obj) -> Obj:
    """Merge-patch nulls for the map keys ``previous`` applied and ``config`` leaves out."""
    out: Obj = {}
    for key, value in previous.items():
        if key not in config:
            out[key] = None
        elif isinstance(value, dict) and isinstance(config[key], dict):
            nested = _dropped(value, config[key])
            if nested:
                out[key] = nested
    return out


def _config(obj: Obj) -> Obj:
    """What a create or an apply of ``obj`` sets: all of it but its status."""
    return {k: v for k, v in clone(obj).items() if k != "status"}


class _Store(MutableMapping[Key, Obj]):
    """The objects by key, one ``ObjectIndex`` per resource, so a list reads only the objects of its
    kind that its namespace and labels can match (its cost does not grow with the rest)."""

    def __init__(self) -> None:
        self.kinds: dict[str, ObjectIndex] = {}

    def __getitem__(self, key: Key) -> Obj:
        return self.kinds[key[0]][key[1:]]

    def __setitem__(self, key: Key, value: Obj) -> None:
        self.kinds.setdefault(key[0], ObjectIndex())[key[1:]] = value

    def __delitem__(self, key: Key) -> None:
        del self.kinds[key[0]][key[1:]]

    def __iter__(self) -> Iterator[Key]:
        return ((plural, *key) for plural, index in self.kinds.items() for key in index)

    def __len__(self) -> int:
        return sum(len(index) for index in self.kinds.values())

    def select(self, plural: str, namespace: str | None, labels: dict[str, str] | None) -> Objs:
        index = self.kinds.get(plural)
        return index.select(namespace, labels) if index is not None else []


@attrs.define
class RecordedEvent:
    kind: str
    namespace: str
    name: str
    type: str
    reason: str
    message: str


class MemoryGateway(KnownResources):
    def __init__(self, resources: tuple[Resource, ...] = (), clock: Callable[[], str] | None = None):
        super().__init__(resources)
        self._objects = _Store()
        self._applied: dict[Key, Obj] = {}  # the last configuration applied to each object
        # What each create set, until an apply takes it over (as the API server books a create's fields).
        self._created: dict[Key, Obj] = {}
        self._rv = itertools.count(1)
        self._uid = itertools.count(1)
        self._clock = clock or (lambda: "2026-01-01T00:00:00Z")
        self.writes: Counter[str] = Counter()
        self.events: list[RecordedEvent] = []
        self.exec_handler: ExecHandler | None = None

    # -- lookups -------------------------------------------------------------------------------

    def _key(self, res: Resource, namespace: str | None, name: str) -> Key:
        return (res.plural, (namespace or "") if res.namespaced else "", name)

    def _res_of(self, obj: Obj) -> Resource:
        return self.resource(obj["apiVersion"], obj["kind"])

    def get(self, res: Resource, namespace: str | None, name: str) -> Obj | None:
        obj = self._objects.get(self._key(res, namespace, name))
        return clone(obj) if obj is not None else None

    def resource_version(self, res: Resource, namespace: str | None, name: str) -> str | None:
        return version_of(self._objects.get(self._key(res, namespace, name)))

    def list(self, res: Resource, namespace: str | None = None,
             labels: dict[str, str] | None = None) -> Objs:
        return clone(self._objects.select(res.plural, namespace, labels))

    def list_versions(self, res: Resource, namespace: str | None = None,
                      labels: dict[str, str] | None = None) -> Versions:
        return versions_of(self._objects.select(res.plural, namespace, labels))

    def all_objects(self) -> Objs:
        return [clone(o) for _, o in sorted(self._objects.items())]

    # -- writes --------------------------------------------------------------------------------

    def _stamp(self, obj: Obj) -> None:
        obj["metadata"]["resourceVersion"] = str(next(self._rv))

    def create(self, obj: Obj) -> Obj:
        res = self._res_of(obj)
        meta = obj.get("metadata") or {}
        key = self._key(res, meta.get("namespace"), meta["name"])
        if key in self._objects:
            raise Conflict(f"{res.kind} {meta.get('namespace')}/{meta['name']} already exists")
        self.writes["create"] += 1
        new = clone(obj)
        m = new.setdefault("metadata", {})
        m.setdefault("uid", f"uid-{next(self._uid)}")
        m["creationTimestamp"] = self._clock()
        m["generation"] = 1
        m.pop("deletionTimestamp", None)
        self._stamp(new)
        self._objects[key] = new
        self._created[key] = _config(obj)
        return clone(new)

    def apply(self, obj: Obj) -> Obj:
        res = self._res_of(obj)
        meta = obj["metadata"]
        key = self._key(res, meta.get("namespace"), meta["name"])
        current = self._objects.get(key)
        config = _config(obj)
        previous = self._applied.get(key, {}) if current is not None else {}
        if current is None:
            applied = self.create(obj)
            self._created.pop(key, None)  # made by the apply: its fields are the apply's
        else:
            applied = self._update(res, current, merge_patch(current, merge_patch(_dropped(previous, config), config)),
                                   "apply")
        self._applied[key] = config
        return applied

    def claim_created_fields(self, res: Resource, live: Obj) -> bool:
        meta = live.get("metadata") or {}
        key = self._key(res, meta.get("namespace"), meta["name"])
        created = self._created.pop(key, None)
        if created is None:
            return False
        self.writes["patch"] += 1
        self._applied[key] = merge_patch(created, self._applied.get(key, {}))
        return True

    def patch(self, res: Resource, namespace: str | None, name: str, patch: Obj) -> Obj:
        current = self._objects.get(self._key(res, namespace, name))
        if current is None:
            raise NotFound(f"{res.kind} {namespace}/{name} not found")
        want_rv = (patch.get("metadata") or {}).get("resourceVersion")
        if want_rv is not None and want_rv != current["metadata"]["resourceVersion"]:
            raise Conflict(f"{res.kind} {namespace}/{name} was modified")
        return self._update(res, current, merge_patch(current, patch), "patch")

    def replace_status(self, obj: Obj) -> Obj:
        res = self._res_of(obj)
        meta = obj["metadata"]
        current = self._objects.get(self._key(res, meta.get("namespace"), meta["name"]))
        if current is None:
            raise NotFound(f"{res.kind} {meta.get('namespace')}/{meta['name']} not found")
        if meta.get("resourceVersion") != current["metadata"]["resourceVersion"]:
            raise Conflict(f"{res.kind} {meta.get('namespace')}/{meta['name']} was modified")
        self.writes["status"] += 1
        new = clone(current)
        new["status"] = clone(obj.get("status"))
        self._stamp(new)
        self._objects[self._key(res, meta.get("namespace"), meta["name"])] = new
        return clone(new)

    def set_status(self, res: Resource, namespace: str | None, name: str, status: dict[str, Any]) -> None:
        """What a controller outside the lifecycle would write (e.g. a StatefulSet's ready count)."""
        current = self._objects[self._key(res, namespace, name)]
        current["status"] = merge_patch(current.get("status") or {}, status)
        self._stamp(current)

    def _update(self, res: Resource, current: Obj, new: Obj, verb: str) -> Obj:
        meta = current["metadata"]
        new["metadata"]["uid"] = meta["uid"]
        new["metadata"]["creationTimestamp"] = meta["creationTimestamp"]
        new["status"] = clone(current.get("status"))
        if new.get("status") is None:
            new.pop("status", None)
        if meta.get("deletionTimestamp"):
            new["metadata"]["deletionTimestamp"] = meta["deletionTimestamp"]
            added = set(new["metadata"].get("finalizers") or ()) - set(meta.get("finalizers") or ())
            if added:  # as the API server's validation of an update says
                raise Invalid(f"{res.kind} {meta.get('namespace')}/{meta['name']}: metadata.finalizers: "
                              f"Forbidden: no new finalizers can be added if the object is being deleted, "
                              f"found new finalizers {sorted(added)}")
        if new == current:
            return clone(current)  # a no-op write is still a request, but changes nothing
        self.writes[verb] += 1
        spec_changed = {k: v for k, v in new.items() if k not in ("metadata", "status")} != {
            k: v for k, v in current.items() if k not in ("metadata", "status")}
        new["metadata"]["generation"] = meta.get("generation", 1) + (1 if spec_changed else 0)
        self._stamp(new)
        key = self._key(res, meta.get("namespace"), meta["name"])
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            self._remove(key)
            return clone(new)
        self._objects[key] = new
        return clone(new)

    def delete(self, res: Resource, namespace: str | None, name: str, uid: str | None = None) -> bool:
        key = self._key(res, namespace, name)
        current = self._objects.get(key)
        if current is None:
            return False
        if uid is not None and current["metadata"]["uid"] != uid:
            raise Conflict(f"{res.kind} {namespace}/{name}: the precondition uid {uid} does not match "
                           f"{current['metadata']['uid']}")
        self.writes["delete"] += 1
        if current["metadata"].get("finalizers"):
            if not current["metadata"].get("deletionTimestamp"):
                current["metadata"]["deletionTimestamp"] = self._clock()
                self._stamp(current)
            return True
        self._remove(key)
        return True

    def _remove(self, key: Key) -> None:
        gone = self._objects.pop(key)
        self._applied.pop(key, None)
        self._created.pop(key, None)
        uid = gone["metadata"]["uid"]
        dependents = [k for k, o in self._objects.items()
                      if any(ref.get("uid") == uid for ref in o["metadata"].get("ownerReferences") or ())]
        for dep_key in dependents:  # background cascading deletion, as the garbage collector does
            dep = self._objects.get(dep_key)
            if dep is None:
                continue
            if dep["metadata"].get("finalizers"):
                dep["metadata"].setdefault("deletionTimestamp", self._clock())
                self._stamp(dep)
            else:
                self._remove(dep_key)

    # -- exec and events -----------------------------------------------------------------------

    def exec(self, namespace: str, pod: str, container: str | None, argv: Argv,
             timeout: float = 60.0) -> ExecResult:
        if self._objects.get(("pods", namespace, pod)) is None:
            raise NotFound(f"pod {namespace}/{pod} not found")
        if self.exec_handler is None:
            raise NotFound(f"pod {namespace}/{pod}: no exec handler installed")
        return self.exec_handler(namespace, pod, container, argv)

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        meta = obj.get("metadata") or {}
        self.events.append(RecordedEvent(obj.get("kind", ""), meta.get("namespace", ""),
                                         meta.get("name", ""), type_, reason, message))
