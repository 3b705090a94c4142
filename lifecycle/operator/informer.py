"""Watches that keep a local copy of the objects the operator reads, and say when one changes.

An informer lists a resource, then watches from that list's resourceVersion with bookmarks. It
survives what a real API server does to watches: ``410 Gone`` (list again), a watch that ends
(watch again from the last version or bookmark), a stalled connection (the read times out) or an
API server restart (list and watch again, with backoff while it is away). The reconciles read
from these caches, so an idle operator sends no reads either, and a change reaches the work
queue as soon as it is watched.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from lifecycle.k8s.gateway import Forbidden, NotFound, Obj, Objs, Resource, Versions
from lifecycle.k8s.index import ObjectIndex, unpack
from lifecycle.k8s.kube import Gone, KubeGateway

log = logging.getLogger("lifecycle.informer")

Handler = Callable[[str, Obj], None]  # (event type ADDED/MODIFIED/DELETED, object)
Key = tuple[str, str]
Keys = list[Key]  # module level: inside Informer, ``list`` is the method


def object_key(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "", meta.get("name") or ""


def _rv(obj: Obj) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


def slim(obj: Obj) -> Obj:
    """The object without ``metadata.managedFields`` (the API server's bookkeeping of who set which
    field, often the largest part of an object and never read here; an update that leaves it out
    keeps it on the server). A new object: ``obj`` is left as it is, and shares what is unchanged."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return obj


class Informer:
    def __init__(self, gateway: KubeGateway, res: Resource, handler: Handler, namespace: str | None = None,
                 watch_seconds: int = 300, stall_seconds: float = 120.0, transform: Callable[[Obj], Obj] = slim,
                 notify: Callable[[Obj, Obj], bool] | None = None, optional: str | None = None,
                 metadata_only: bool = False):
        self.gateway, self.res, self.handler, self.namespace = gateway, res, handler, namespace
        # Set for a watch the operator can do without: what it costs to miss it, and the fix. Such a
        # watch that is forbidden counts as synced, and ``available`` says whether it works.
        self.optional = optional
        self.transform = transform  # applied to every object before it is cached or handed on
        self.metadata_only = metadata_only  # the API server sends metadata only (a Secret's values stay there)
        self.notify = notify  # (old, new) -> whether an update is handed on; None: every update
        self.watch_seconds, self.stall_seconds = watch_seconds, stall_seconds
        self.synced = threading.Event()
        self.available = True
        self.restarts = 0
        self.last_activity = time.monotonic()
        self._cache = ObjectIndex(packed=True)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # -- the cache ------------------------------------------------------------------------------

    # The cache is packed (``ObjectIndex``): every read decodes the object's text into a copy of
    # its own. A cached object is replaced, never changed in place, so the text is taken under the
    # lock and decoded outside it: 16 worker threads copying under it waited on each other.

    def get(self, namespace: str | None, name: str) -> Obj | None:
        with self._lock:
            text = self._cache.text((namespace or "", name))
        return unpack(text) if text is not None else None

    def list(self, namespace: str | None = None, labels: dict[str, str] | None = None) -> Objs:
        with self._lock:
            texts = self._cache.select_texts(namespace, labels)
        return [unpack(text) for text in texts]

    def list_versions(self, namespace: str | None = None, labels: dict[str, str] | None = None) -> Versions:
        with self._lock:
            return self._cache.versions(namespace, labels)

    def cached_keys(self) -> Keys:
        with self._lock:
            return sorted(self._cache)

    def remember(self, obj: Obj) -> None:
        """Our own write's result, so the next read is not older than what we just wrote."""
        with self._lock:
            key = object_key(obj)
            current = self._cache.text(key)
            if current is None or _rv(obj) > _rv(unpack(current)):
                self._cache[key] = self.transform(obj)  # packed: the cache shares nothing with obj

    # -- running --------------------------------------------------------------------------------

    def start(self, stop: threading.Event) -> None:
        self._thread = threading.Thread(target=self.run, args=(stop,), name=f"informer-{self.res.plural}",
                                        daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self, stop: threading.Event) -> None:
        backoff = 0.2
        while not stop.is_set():
            try:
                version = self._relist()
                backoff = 0.2
                while not stop.is_set():
                    version = self._watch(version, stop)
            except Gone:
                log.info("watch of %s: version too old, listing again", self.res.plural)
            except Forbidden as exc:
                backoff = self._forbidden(exc, stop, backoff)
            except NotFound:
                self._not_served(stop)
            except Exception as exc:  # connection refused, reset, timed out: the API server is away
                if stop.is_set():
                    return
                log.warning("watch of %s failed (%s); retrying in %.1fs", self.res.plural, exc, backoff)
                backoff = self._pause(stop, backoff)
            self.restarts += 1

    def _forbidden(self, exc: Forbidden, stop: threading.Event, backoff: float) -> float:
        """A required watch says how to grant it and backs off; an optional one is done without,
        tried again every minute."""
        if self.optional is None:
            log.error("%s; grant list and watch on %s to the operator's account (deploy/operator.yaml, "
                      "`fluidlc manifests`) — retrying in %.1fs", exc, self.res.plural, backoff)
            return self._pause(stop, backoff)
        if self.available:
            log.warning("%s; carrying on without this watch: %s — looking again every 60s", exc, self.optional)
        self.available = False
        self.synced.set()
        stop.wait(60.0)
        return backoff

    def _not_served(self, stop: threading.Event) -> None:
        """The kind is not installed (yet): nothing to cache; look again now and then."""
        if not self.synced.is_set():
            log.warning("%s.%s is not served by the API server; install its CRD (deploy/crds) "
                        "— looking again every 30s", self.res.plural, self.res.group or "core")
        self.synced.set()
        stop.wait(30.0)

    @staticmethod
    def _pause(stop: threading.Event, backoff: float) -> float:
        """Wait ``backoff`` seconds (less if stopped); the next wait, doubled up to 10 s."""
        stop.wait(backoff)
        return min(backoff * 2, 10.0)

    def _relist(self) -> str:
        items, version = self.gateway.list_with_version(self.res, self.namespace, metadata_only=self.metadata_only)
        fresh = {object_key(o): self.transform(o) for o in items}
        with self._lock:
            old, self._cache = self._cache, ObjectIndex(fresh, packed=True, label_keys=self._cache.label_keys)
        for key, obj in fresh.items():
            if key not in old:
                self.handler("ADDED", obj)
            elif _rv(old[key]) != _rv(obj) and self._notable(old[key], obj):
                self.handler("MODIFIED", obj)
        for key, obj in old.items():
            if key not in fresh:
                self.handler("DELETED", obj)
        self.synced.set()
        self.available = True
        self.last_activity = time.monotonic()
        return version

    def server_timeout(self) -> int:
        """The watch's ``timeoutSeconds``: the API server ends a quiet watch cleanly (it is then
        resumed from the last version, no list) before the read would time out and take it for
        stalled, whether or not bookmarks come in between."""
        return max(1, min(self.watch_seconds, int(self.stall_seconds * 0.75)))

    def _notable(self, old: Obj, new: Obj) -> bool:
        return self.notify is None or self.notify(old, new)

    def _watch(self, version: str, stop: threading.Event) -> str:
        for kind, obj in self.gateway.watch(self.res, version, self.namespace, self.server_timeout(),
                                            self.stall_seconds, metadata_only=self.metadata_only):
            self.last_activity = time.monotonic()
            version = (obj.get("metadata") or {}).get("resourceVersion") or version
            if kind == "BOOKMARK":
                continue
            obj, key = self.transform(obj), object_key(obj)
            with self._lock:
                text = self._cache.text(key) if kind == "MODIFIED" and self.notify is not None else None
                if kind != "DELETED":
                    self._cache[key] = obj
                elif key in self._cache:
                    del self._cache[key]
            if text is not None and not self._notable(unpack(text), obj):
                continue
            if log.isEnabledFor(logging.DEBUG):
                log.debug("watched %s %s %s/%s at %s", kind, self.res.kind, *object_key(obj), version)
            self.handler(kind, obj)
            if stop.is_set():
                break
        return version
