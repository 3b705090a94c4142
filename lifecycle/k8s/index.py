"""Objects of one kind by (namespace, name), indexed by namespace and by label.

Every pass lists a pair's pods, StatefulSets or Services by namespace and label selector. Read
from one flat table, each such list walks every object of the kind in the cluster, so a pass costs
more with every pair added. Here a list starts from the smallest of the sets its namespace and its
labels name, so its cost follows what it returns, not the size of the cluster.

A ``packed`` index keeps each object as its compact JSON text (``orjson``) and decodes it on every
read. The informers' caches are packed: an Alluxio pair's cached objects take about 25 KiB as text
and 120 KiB as dicts, and a decode takes a third of the time copying the dict did (each reader gets a copy
of its own either way, so nobody changes the cache through what it read).

Only the label keys some list has selected by are indexed, each from its first such list on (the
objects stored before are read once for it). Indexing every label of every object kept a set per
label value and a tuple per label: at 1,000 Alluxio pairs the indexes took as much memory as the
objects' texts (24 MiB), most of it for labels nobody selects by (a pod's name, a revision's hash).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, MutableMapping
from typing import Any, TypeVar

import orjson

from lifecycle.k8s.gateway import Obj, Objs, Versions

Key = tuple[str, str]  # (namespace or "", name)
At = TypeVar("At", bound=Hashable)
_NONE: frozenset[Key] = frozenset()


def _labels(obj: Obj) -> dict[str, str]:
    found: dict[str, str] = (obj.get("metadata") or {}).get("labels") or {}
    return found


class ObjectIndex(MutableMapping[Key, Obj]):
    def __init__(self, objects: dict[Key, Obj] | None = None, packed: bool = False,
                 label_keys: Iterable[str] = ()) -> None:
        """``label_keys``: index these at once (a cache listed again keeps what its lists select by)."""
        self.packed = packed
        self._objects: dict[Key, Any] = {}  # the object, or its JSON text (bytes) when packed
        self._versions: dict[Key, str] = {}  # packed: each object's resourceVersion, read without a decode
        self._namespaces: dict[str, set[Key]] = {}
        self._by_label: dict[str, dict[str, set[Key]]] = {k: {} for k in label_keys}  # key -> value -> keys
        for key, obj in (objects or {}).items():
            self[key] = obj

    @property
    def label_keys(self) -> tuple[str, ...]:
        """The label keys indexed so far."""
        return tuple(self._by_label)

    def __getitem__(self, key: Key) -> Obj:
        stored = self._objects[key]
        return unpack(stored) if self.packed else stored

    def text(self, key: Key) -> bytes | None:
        """A packed index's text of ``key`` (None: not there), to decode outside a lock."""
        assert self.packed
        return self._objects.get(key)

    def __setitem__(self, key: Key, obj: Obj) -> None:
        if key in self._objects:
            del self[key]
        self._objects[key] = pack(obj) if self.packed else obj
        if self.packed:
            self._versions[key] = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        self._namespaces.setdefault(key[0], set()).add(key)
        labels = _labels(obj)
        for label_key, values in self._by_label.items():
            if label_key in labels:
                values.setdefault(labels[label_key], set()).add(key)

    def __delitem__(self, key: Key) -> None:
        stored = self._objects.pop(key)
        self._versions.pop(key, None)
        self._drop(self._namespaces, key[0], key)
        if self._by_label:
            labels = _labels(unpack(stored) if self.packed else stored)
            for label_key, values in self._by_label.items():
                if label_key in labels:
                    self._drop(values, labels[label_key], key)

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
        sorted by key; unpacked, the stored objects themselves, so the caller copies what it hands on."""
        return [self[key] for key in self._selected(namespace, labels)]

    def select_texts(self, namespace: str | None = None, labels: dict[str, str] | None = None) -> list[bytes]:
        """``select`` of a packed index, as the objects' texts."""
        assert self.packed
        return [self._objects[key] for key in self._selected(namespace, labels)]

    def versions(self, namespace: str | None = None, labels: dict[str, str] | None = None) -> Versions:
        """``select``'s objects' resourceVersions, by key; packed, without decoding any."""
        keys = self._selected(namespace, labels)
        if self.packed:
            return {key: self._versions[key] for key in keys}
        return {key: str(self._objects[key]["metadata"].get("resourceVersion") or "") for key in keys}

    def _selected(self, namespace: str | None, labels: dict[str, str] | None) -> list[Key]:
        sets: list[set[Key] | frozenset[Key]] = [self._label(label_key).get(value, _NONE)
                                                 for label_key, value in (labels or {}).items()]
        if namespace is not None:
            sets.append(self._namespaces.get(namespace, _NONE))
        if not sets:
            return sorted(self._objects)
        sets.sort(key=len)
        return sorted(set(sets[0]).intersection(*sets[1:]))

    def _label(self, label_key: str) -> dict[str, set[Key]]:
        """The index of ``label_key``, made from the objects stored so far on its first use."""
        values = self._by_label.get(label_key)
        if values is None:
            values = {}
            for key, stored in list(self._objects.items()):
                value = _labels(unpack(stored) if self.packed else stored).get(label_key)
                if value is not None:
                    values.setdefault(value, set()).add(key)
            self._by_label[label_key] = values
        return values


def pack(obj: Obj) -> bytes:
    return orjson.dumps(obj)


def unpack(text: bytes) -> Obj:
    obj: Obj = orjson.loads(text)
    return obj
