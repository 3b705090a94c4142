"""The operator: informers feed a work queue of pair keys; workers run the reconcile; one leader.

Every watched object maps to the Dataset/runtime pair it concerns (a StatefulSet through its
owner, a PVC and the pods that mount it through the claim name, a Dataset that mounts
``dataset://ns/x`` also to ``ns/x``), so a worker that becomes ready triggers the next step at
once. Waiting states come back after the delay the reconcile asks for; failures back off.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

import attrs

from lifecycle.engine.registry import Registry
from lifecycle.k8s.connection import ApiServer, connect
from lifecycle.k8s.faults import CRASH_EXIT_CODE, EventDropper, FaultPlan, FaultyGateway
from lifecycle.k8s.gateway import (
    CONFIG_MAP,
    DAEMON_SET,
    DATASET,
    NODE,
    POD,
    PV,
    PVC,
    SECRET,
    SERVICE,
    STATEFUL_SET,
    Gateway,
    Obj,
    Objs,
    Versions,
)
from lifecycle.k8s.kube import KubeGateway
from lifecycle.k8s.naming import DATASET_ID_LABEL
from lifecycle.operator import trim
from lifecycle.operator.attempt import reconcile_key
from lifecycle.operator.cache import Cache, CachedGateway
from lifecycle.operator.informer import Informer, Key
from lifecycle.operator.leader import LeaderElector
from lifecycle.operator.metrics import CONTROLLER, Metrics, ProbeServer
from lifecycle.operator.operations import OPERATION_RESOURCES, WATCHED, OperationsController, operation_keys
from lifecycle.operator.projections import projection
from lifecycle.operator.workqueue import ShutDown, WorkQueue
from lifecycle.reconcile.operations import OperationReconciler
from lifecycle.reconcile.reconciler import Reconciler

log = logging.getLogger("lifecycle.operator")


@attrs.define
class Settings:
    """How the operator runs. Every field has a ``fluidlc operator`` flag and a FLUIDLC_* variable."""

    kubeconfig: str | None = None
    namespaces: tuple[str, ...] = ()  # empty: all namespaces
    workers: int = 16  # concurrent reconciles; they mostly wait on the API server and on execs
    resync_seconds: float = 60.0  # a Ready pair is looked at again after this long
    metrics_address: str = "127.0.0.1:8080"  # /metrics, /healthz, /readyz
    leader_elect: bool = True
    lease_namespace: str = "default"
    lease_name: str = "fluid-lifecycle-operator"
    lease_seconds: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    identity: str = attrs.field(factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    stall_seconds: float = 120.0  # a watch silent (no event, no bookmark) this long is restarted
    sync_intervals: dict[str, float] = attrs.field(factory=dict)
    cache_report_seconds: float = 120.0  # a cache's figures (capacity, use) are refreshed by exec this often
    mount_check_seconds: float = 300.0  # a cache's mount table is compared with the Dataset's by exec this often
    background_workers: int = 8  # metadata syncs (commands in the masters) running at once
    report_workers: int = 8  # cache reports (commands of a second or two) running at once, beside the passes
    rollout_deadline: float = 600.0  # a changed spec's rollout may keep a component unready this long
    port_range: tuple[int, int] = (20000, 26000)  # host ports for runtimes on the host network
    watch_secrets: bool = True  # off: no list/watch on Secrets; a change is seen at the next resync
    memory_trim_seconds: float = 30.0  # free C-heap memory is given back to the system this often (0: never)
    faults: FaultPlan | None = None  # tests only ($FLUIDLC_FAULTS): crash, stale reads, dropped events


# Every kind the reconciles read, so an idle pair reads nothing from the API server (ConfigMaps
# and Services included: an engine's health check reads its own on every pass).
CACHED_BUILTINS = (STATEFUL_SET, DAEMON_SET, PVC, PV, POD, NODE, CONFIG_MAP, SERVICE)
# Watched only to wake the pairs that read them (a Secret created or rotated), and as metadata only:
# their values never leave the API server for the watch, and are read with ``get`` when needed.
NOTIFY_ONLY = (SECRET,)
# What missing such a watch costs, and the fix: said once if the operator's account may not watch.
NOTIFY_WHY = {SECRET.plural: "a created or rotated Secret is noticed only at the next resync; grant list and "
                             "watch on secrets (`fluidlc manifests`) or run with --no-watch-secrets"}


def routine_limit(workers: int) -> int:
    """Workers routine work (cache reports, resyncs) may hold at once: a quarter are kept for events,
    so a user's change or a lost workload is taken up at once however many reports are due."""
    return max(1, workers - max(1, workers // 4))


def beyond_status(old: Obj, new: Obj) -> bool:
    """Whether an update of a Dataset or runtime is more than a status write. Status is written by
    this operator alone, and its own write must not wake the pair again: a failing pair would then
    retry at once, for ever, instead of backing off."""
    def parts(obj: Obj) -> tuple[Any, ...]:
        meta = obj.get("metadata") or {}
        return (obj.get("spec"), meta.get("generation"), meta.get("labels"), meta.get("annotations"),
                meta.get("finalizers"), meta.get("deletionTimestamp"), meta.get("ownerReferences"))

    return parts(old) != parts(new)


def secret_readers(secret: Obj, datasets: Objs) -> list[Key]:
    """The Datasets whose encryptOptions read ``secret`` (all in its namespace)."""
    name = (secret.get("metadata") or {}).get("name")
    keys = []
    for ds in datasets:
        spec = ds.get("spec") or {}
        options = [*(spec.get("sharedEncryptOptions") or []),
                   *(o for m in spec.get("mounts") or [] for o in m.get("encryptOptions") or [])]
        if any(((o.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name") == name for o in options):
            keys.append((ds["metadata"].get("namespace") or "", ds["metadata"]["name"]))
    return keys


def keys_for(obj: Obj, runtime_kinds: set[str]) -> list[Key]:
    """The pairs an object concerns."""
    kind, meta = obj.get("kind"), obj.get("metadata") or {}
    ns, name = meta.get("namespace") or "", meta.get("name") or ""
    if kind == "Dataset" or kind in runtime_kinds:
        keys = [(ns, name)]
        for mount in (obj.get("spec") or {}).get("mounts") or []:
            point = str(mount.get("mountPoint", ""))
            if point.startswith("dataset://"):
                ref_ns, _, ref_name = point.removeprefix("dataset://").strip("/").partition("/")
                keys.append((ref_ns, ref_name))
        return keys
    if kind == "PersistentVolumeClaim":
        return [(ns, name)] if DATASET_ID_LABEL in (meta.get("labels") or {}) else []
    if kind == "PersistentVolume":
        claim = (obj.get("spec") or {}).get("claimRef") or {}
        return [(claim.get("namespace", ""), claim.get("name", ""))] if DATASET_ID_LABEL in (
            meta.get("labels") or {}) and claim else []
    if kind == "Pod":
        return [(ns, v["persistentVolumeClaim"]["claimName"]) for v in (obj.get("spec") or {}).get("volumes") or []
                if (v.get("persistentVolumeClaim") or {}).get("claimName")]
    return [(ns, ref["name"]) for ref in meta.get("ownerReferences") or [] if ref.get("kind") in runtime_kinds]


def _crash() -> None:
    """The end a fault plan asks for: at once, with no clean-up, as a killed process ends."""
    logging.shutdown()
    os._exit(CRASH_EXIT_CODE)


class Operator:
    def __init__(self, settings: Settings, registry: Registry | None = None, api: ApiServer | None = None):
        self.settings = settings
        self.registry = registry or Registry().discover()
        pairs = (DATASET, *(k.resource for k in self.registry.kinds()))
        watched = (*pairs, *CACHED_BUILTINS, *WATCHED, *(NOTIFY_ONLY if settings.watch_secrets else ()))
        # A connection for every watch, worker and background worker, and a few for the Lease and execs.
        connections = len(watched) * max(1, len(settings.namespaces)) + settings.workers \
            + settings.background_workers + settings.report_workers + 4
        self.kube = KubeGateway(api or connect(settings.kubeconfig, connections),
                                (*(k.resource for k in self.registry.kinds()), *OPERATION_RESOURCES))
        self.metrics = Metrics()
        self.kube.on_response = lambda method, status: self.metrics.requests.labels(str(status), method).inc()
        self.queue = WorkQueue(on_depth=lambda d: self.metrics.workqueue_depth.labels(CONTROLLER).set(d),
                               on_add=lambda: self.metrics.workqueue_adds.labels(CONTROLLER).inc(),
                               on_retry=lambda: self.metrics.workqueue_retries.labels(CONTROLLER).inc(),
                               on_wait=self.metrics.workqueue_queue_duration.labels(CONTROLLER).observe,
                               routine_limit=routine_limit(settings.workers))
        self._runtime_kinds = {k.kind for k in self.registry.kinds()}
        self.informers: dict[str, Informer] = {}
        for res in watched:
            for ns in (settings.namespaces if res.namespaced and settings.namespaces else (None,)):
                key = res.plural if ns is None else f"{res.plural}@{ns}"
                self.informers[key] = Informer(self.kube, res, self._on_event, ns,
                                               stall_seconds=settings.stall_seconds,
                                               transform=projection(res),
                                               notify=beyond_status if res in (*pairs, *OPERATION_RESOURCES)
                                               else None,
                                               optional=NOTIFY_WHY.get(res.plural),
                                               metadata_only=res in NOTIFY_ONLY)
        self.gateway: Gateway = CachedGateway(self.kube, self._by_plural(cache=True),
                                              watched=self._by_plural(cache=False))
        self.dropper = EventDropper(settings.faults.drop_every if settings.faults else 0)
        if settings.faults is not None:
            log.warning("running with the fault plan %s (tests only)", settings.faults)
            self.gateway = FaultyGateway(self.gateway, settings.faults, on_crash=_crash)
        intervals = {"cache_report": settings.cache_report_seconds,
                     "update_on_ufs_change": settings.mount_check_seconds, **settings.sync_intervals}
        self.reconciler = Reconciler(
            self.gateway, self.registry, settings={"resync": settings.resync_seconds, "sync_intervals": intervals,
                                                   "rollout_deadline": settings.rollout_deadline,
                                                   "port_range": settings.port_range,
                                                   "background_workers": settings.background_workers,
                                                   "report_workers": settings.report_workers},
            on_move=lambda m: self.metrics.transitions.labels(m.machine, m.source, m.dest).inc())
        # A finished sync brings its pair's pass without polling, as routine work: at 1,000 pairs the
        # syncs ending after setup stood ahead of a user's scale for over 30 s.
        self.reconciler.background.wake = lambda key: self.queue.add(key, routine=True)
        self.operations = OperationsController(
            self.gateway, OperationReconciler(self.gateway, self.registry, settings={"resync": settings.resync_seconds},
                                              on_move=lambda m: self.metrics.transitions.labels(
                                                  m.machine, m.source, m.dest).inc()),
            self.metrics, self.queue.add)
        self.elector = LeaderElector(self.kube, settings.lease_namespace, settings.lease_name, settings.identity,
                                     lease_seconds=settings.lease_seconds, renew_deadline=settings.renew_deadline,
                                     retry_period=settings.retry_period)
        self.stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._in_flight = 0
        self._lock = threading.Lock()
        self.probes: ProbeServer | None = None

    def _by_plural(self, cache: bool) -> dict[str, Cache]:
        """Namespace-scoped informers of one resource act as one for the gateway: the caches, or
        (``cache=False``) the notify-only ones, which only tell versions."""
        chosen = {k: i for k, i in self.informers.items() if (i.res not in NOTIFY_ONLY) == cache}
        if not self.settings.namespaces:
            return dict(chosen)
        return {plural: UnionCache([i for k, i in chosen.items() if k.split("@")[0] == plural])
                for plural in {k.split("@")[0] for k in chosen}}

    # -- events to keys -------------------------------------------------------------------------

    def _on_event(self, _type: str, obj: Obj) -> None:
        if self.dropper.drop():
            return
        if operation_keys(obj):
            self.operations.on_event(_type, obj)
            return
        if obj.get("kind") == "Secret":
            keys = secret_readers(obj, self.gateway.list(DATASET, (obj.get("metadata") or {}).get("namespace")))
        else:
            keys = keys_for(obj, self._runtime_kinds)
        for key in keys:
            if key[1] and (not self.settings.namespaces or key[0] in self.settings.namespaces):
                self.queue.add(key)

    def resync(self) -> None:
        pairs = {DATASET.plural, *(k.plural for k in self.registry.kinds())}
        for name, informer in self.informers.items():
            if name.split("@")[0] in pairs:
                for key in informer.cached_keys():
                    self.queue.add(key, routine=True)

    # -- workers --------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            try:
                key = self.queue.get()
            except ShutDown:
                return
            with self._lock:
                self._in_flight += 1
            try:
                self._reconcile(key)  # type: ignore[arg-type]
            finally:
                with self._lock:
                    self._in_flight -= 1
                self.queue.done(key)

    def _reconcile(self, key: Key) -> None:
        ns, name = key
        outcome = reconcile_key(CONTROLLER, self.metrics, self.queue, key, f"{ns}/{name}", f"{ns}/{name}",
                                lambda: self.reconciler.reconcile(ns, name))
        if outcome is not None and not outcome.failed:
            self.operations.dataset_changed(ns, name)

    def _start_workers(self) -> None:
        self.metrics.leader.labels(self.settings.lease_name).set(1)
        self.resync()
        self.operations.resync()
        self.operations.start(max(1, self.settings.workers // 2))
        for i in range(self.settings.workers):
            thread = threading.Thread(target=self._work, name=f"worker-{i}", daemon=True)
            thread.start()
            self._workers.append(thread)

    # -- probes ---------------------------------------------------------------------------------

    def healthz(self) -> tuple[bool, str]:
        dead = [name for name, i in self.informers.items() if not i.alive()]
        if dead:
            return False, f"watches stopped: {', '.join(dead)}\n"
        if self.elector.lost.is_set():
            return False, "leadership lost\n"
        return True, "ok\n"

    def readyz(self) -> tuple[bool, str]:
        waiting = [name for name, i in self.informers.items() if not i.synced.is_set()]
        if waiting:
            return False, f"caches not synced: {', '.join(waiting)}\n"
        role = "leader" if self.elector.leading.is_set() or not self.settings.leader_elect else "standby"
        return True, f"ok ({role})\n"

    # -- lifetime -------------------------------------------------------------------------------

    def start(self) -> None:
        self.probes = ProbeServer(self.settings.metrics_address, self.metrics, self.healthz, self.readyz)
        self.probes.start()
        for informer in self.informers.values():
            informer.start(self.stop)
        for informer in self.informers.values():
            informer.synced.wait()
        host = self.settings.metrics_address.rpartition(":")[0] or "127.0.0.1"
        log.info("caches synced for %d watches; metrics and probes on %s:%d", len(self.informers), host,
                 self.probes.port)
        if self.settings.leader_elect:
            threading.Thread(target=self.elector.run, args=(self.stop, self._start_workers), name="leader",
                             daemon=True).start()
        else:
            self._start_workers()
        threading.Thread(target=self._resync_loop, name="resync", daemon=True).start()
        trim.start(self.stop, self.settings.memory_trim_seconds)

    def _resync_loop(self) -> None:
        while not self.stop.wait(self.settings.resync_seconds):
            if self.elector.leading.is_set() or not self.settings.leader_elect:
                self.resync()
                self.operations.resync()

    def wait(self) -> int:
        """Until stopped (0) or leadership is lost (1: the process must exit, as controller-runtime does)."""
        while not self.stop.wait(0.5):
            if self.elector.lost.is_set():
                self.shutdown()
                return 1
        return 0

    def shutdown(self, grace: float = 20.0) -> None:
        """Finish in-flight reconciles (for at most ``grace`` seconds, well within the pod's
        termination grace period), release the Lease, stop watching. Background jobs (metadata
        syncs) waiting for a worker are cancelled and running ones abandoned: the next leader's
        passes start them again from the status."""
        log.info("shutting down: finishing %d in-flight reconcile(s)", self._in_flight)
        self.queue.shut_down()
        deadline = time.monotonic() + grace
        for thread in self._workers:
            thread.join(max(0.0, deadline - time.monotonic()))
        # After the reconciles: one that starts a sync must not fail on a closed pool (and report it).
        self.reconciler.background.shutdown()
        self.operations.shut_down(deadline)
        self.elector.release()
        self.metrics.leader.labels(self.settings.lease_name).set(0)
        self.stop.set()
        if self.probes is not None:
            self.probes.stop()


class UnionCache:
    """Several namespace-scoped informers of one resource, read as one cache."""

    def __init__(self, informers: list[Informer]):
        self.informers = informers

    @property
    def available(self) -> bool:
        return all(i.available for i in self.informers)

    def get(self, namespace: str | None, name: str) -> Obj | None:
        for informer in self.informers:
            if informer.namespace in (None, namespace):
                found = informer.get(namespace, name)
                if found is not None:
                    return found
        return None

    def _in(self, namespace: str | None) -> list[Informer]:
        return [i for i in self.informers if namespace is None or i.namespace in (None, namespace)]

    def list(self, namespace: str | None = None, labels: dict[str, str] | None = None) -> Objs:
        return [o for i in self._in(namespace) for o in i.list(namespace, labels)]

    def list_versions(self, namespace: str | None = None, labels: dict[str, str] | None = None) -> Versions:
        return {k: v for i in self._in(namespace) for k, v in i.list_versions(namespace, labels).items()}

    def remember(self, obj: Obj) -> None:
        ns = (obj.get("metadata") or {}).get("namespace")
        for informer in self.informers:
            if informer.namespace in (None, ns):
                informer.remember(obj)

