"""Objects of one kind by (namespace, name), indexed by namespace and by label.

Every pass lists a pair's pods, StatefulSets or Services by namespace and label selector. Read
from one flat table, each such list walks every object of the kind in the cluster, so a pass costs
more with every pair added. Here a list starts from the smallest of the sets its namespace and its
labels name, so its cost follows what it returns, not the size of the cluster.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, MutableMapping
from typing import TypeVar

from lifecycle.k8s.gateway import Obj, Objs

Key = tuple[str, str]  # (namespace or "", name)
Label = tuple[str, str]
At = TypeVar("At", bound=Hashable)
_NONE: frozenset[Key] = frozenset()


def _labels(obj: Obj) -> dict[str, str]:
    found: dict[str, str] = (obj.get("metadata") or {}).get("labels") or {}
    return found


class ObjectIndex(MutableMapping[Key, Obj]):
    def __init__(self, objects: dict[Key, Obj] | None = None) -> None:
        self._objects: dict[Key, Obj] = {}
        self._namespaces: dict[str, set[Key]] = {}
        self._labels: dict[Label, set[Key]] = {}
        for key, obj in (objects or {}).items():
            self[key] = obj

    def __getitem__(self, key: Key) -> Obj:
        return self._objects[key]

    def __setitem__(self, key: Key, obj: Obj) -> None:
        if key in self._objects:
            del self[key]
        self._objects[key] = obj
        self._namespaces.setdefault(key[0], set()).add(key)
        for label in _labels(obj).items():
            self._labels.setdefault(label, set()).add(key)

    def __delitem__(self, key: Key) -> None:
        obj = self._objects.pop(key)
        self._drop(self._namespaces, key[0], key)
        for label in _labels(obj).items():
            self._drop(self._labels, label, key)

    @staticmethod
    def _drop(index: dict[At, set[Key]], at: At, key: Key) -> None:
        keys = index.get(at)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del index[at]

    def __iter__(self) -> Iterator[Key]:
        return iter(self._objects)

    def __len__(self) -> int:
        return len(self._objects)

    def select(self, namespace: str | None = None, labels: dict[str, str] | None = None) -> Objs:
        """The objects in ``namespace`` (None: every namespace) carrying every label of ``labels``,
        sorted by key; the stored objects themselves, so the caller copies what it hands on."""
        sets: list[set[Key] | frozenset[Key]] = [self._labels.get(label, _NONE) for label in (labels or {}).items()]
        if namespace is not None:
            sets.append(self._namespaces.get(namespace, _NONE))
        if not sets:
            return [self._objects[key] for key in sorted(self._objects)]
        sets.sort(key=len)
        keys = set(sets[0]).intersection(*sets[1:])
        return [self._objects[key] for key in sorted(keys)]
