"""What every part of the cache engine shares for one runtime in one pass.

``CacheBase`` holds the pass's context and the helpers a cache system and the engine's parts use:
the names and labels of the runtime's objects, the values the spec implies (workers wanted, tiers,
mounts in effect), its ports, the live objects read this pass, the master pod's state, and
``run`` for commands in the master. Nothing is remembered between passes; within one pass reads
are cached, and a write replaces what it changed.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar, Generic, Self, TypeVar, cast

from engines.cache import commands, objects, ports, report, ufs
from engines.cache.api import CacheRuntimeSpec, ComponentSpec
from engines.cache.ports import Reservations
from engines.cache.system import CacheSystem, MountedUFS, Ports
from lifecycle import (
    CONFIG_MAP,
    DAEMON_SET,
    DATASET_LABEL,
    PLACEMENT_LABEL,
    POD,
    EngineContext,
    ImplementBase,
    Level,
    Mount,
    Obj,
    PodMetadata,
    Resource,
    marker,
    owner_reference,
    parse_port_range,
    to_json,
    workload_name,
)

DEFAULT_METADATA_TIMEOUT = 300.0
RUNTIME_MOUNT_ROOT = "/runtime-mnt"


def tier_paths(level: Level) -> list[str]:
    """The local paths of a cache tier; a memory tier without paths lives in /dev/shm."""
    return [p for p in (level.path or ("/dev/shm" if level.mediumtype == "MEM" else "")).split(",") if p]


SpecT = TypeVar("SpecT", bound=CacheRuntimeSpec)
CompT = TypeVar("CompT", bound=ComponentSpec)


class CacheBase(ImplementBase, CacheSystem, Generic[SpecT, CompT]):
    """One runtime in one pass; ``SpecT`` is its kind's spec model and ``CompT`` its component model."""

    COMPONENT: ClassVar[type[ComponentSpec]] = ComponentSpec  # what an absent component reads as

    def __init__(self, ctx: EngineContext):
        super().__init__(ctx)
        self.gw = ctx.gateway
        self.ns, self.name = ctx.namespace, ctx.name
        self._live: dict[tuple[str, str], Obj | None] = {}
        self.mounts_override: list[Mount] | None = None
        self._ports: Ports | None = None
        self._secrets: list[str] | None = None
        self.mount_table: dict[str, MountedUFS] | None = None  # the cache's, as listed this pass (engines.cache.mounts)

    # -- names and labels -------------------------------------------------------------------------

    def object_name(self, role: str) -> str:
        """The StatefulSet or DaemonSet of a component (shortened with a hash when too long for its pods)."""
        return workload_name(self.name, f"{self.OBJECT_PREFIX}{role}")

    def container(self, role: str) -> str:
        """The main container of a component's pods, and their ``role`` label."""
        return f"{self.CONTAINER_PREFIX}{role}"

    @property
    def mount_type(self) -> str:
        """The PV's mount type: the fuse container's name as a FUSE file system type."""
        return f"fuse.{self.container('fuse')}"

    @property
    def master_pod(self) -> str:
        return f"{self.object_name('master')}-0"

    def service_names(self, count: int | None = None) -> list[str]:
        return [f"{self.object_name('master')}-{i}" for i in range(self.master_replicas if count is None else count)]

    @property
    def values_name(self) -> str:
        return f"{self.name}-{self.VALUES_SUFFIX}"

    @property
    def fuse_path(self) -> str:
        return f"{RUNTIME_MOUNT_ROOT}/{self.RUNTIME_TYPE}/{self.ns}/{self.name}/{self.container('fuse')}"

    @property
    def key(self) -> str:
        """The pair's key: the body of its node label keys and PV name (``lifecycle.k8s.naming``)."""
        return self.ctx.dataset_key

    @property
    def dataset_id(self) -> str:
        return self.ctx.dataset_id

    def selector(self, role: str) -> dict[str, str]:
        return {"app": self.RUNTIME_TYPE, "release": self.name, "role": self.container(role)}

    @property
    def object_labels(self) -> dict[str, str]:
        return {"app": self.RUNTIME_TYPE, "release": self.name, **self.marker}

    @property
    def marker(self) -> dict[str, str]:
        """The labels that make an object this runtime's own (``lifecycle.k8s.ownership``)."""
        return marker(self.uid)

    def worker_labels(self) -> dict[str, str]:
        return {DATASET_LABEL: self.dataset_id, PLACEMENT_LABEL: self.placement}

    @property
    def owner_ref(self) -> Obj:
        return owner_reference(to_json(self.ctx.runtime))

    @property
    def ref(self) -> str:
        return self.ctx.runtime.ref

    def master_host(self, i: int) -> str:
        """The DNS name of master ``i``: its own Service in the runtime's namespace."""
        return f"{self.object_name('master')}-{i}.{self.ns}"

    # -- what the spec implies --------------------------------------------------------------------

    @property
    def spec(self) -> SpecT:
        return cast(SpecT, self.ctx.runtime.spec)

    def component(self, role: str) -> CompT:
        """The spec of a component (``master``, ``worker``, ...), empty when the spec leaves it out."""
        return cast(CompT, getattr(self.spec, role, None) or self.COMPONENT())

    @property
    def master_replicas(self) -> int:
        return self.component("master").replicas or 1

    @property
    def placement(self) -> str:
        ds = self.ctx.dataset
        return ds.spec.effective_placement if ds else "Exclusive"

    @property
    def replicas(self) -> int:
        """Workers wanted (the reference defaults spec.replicas to 1)."""
        if not self.has_workers:
            return 0
        value = self.ctx.runtime.spec.replicas
        return 1 if value is None else value

    @property
    def levels(self) -> list[Level]:
        store = self.ctx.runtime.spec.tieredstore
        return list((store.levels if store else None) or [])

    def mounts_in_effect(self) -> list[Mount]:
        """The mounts the objects are rendered with: those the Dataset says are applied (so Sync's
        spec update leaves mount changes to SyncDatasetMounts, which goes through Updating), the
        spec's before the first binding."""
        if self.mounts_override is not None:
            return self.mounts_override
        ds = self.ctx.dataset
        if ds is None:
            return []
        if ds.status is not None and ds.status.mounts is not None:
            return list(ds.status.mounts)
        return list(ds.spec.mounts or [])

    def ufs_mount_list(self) -> list[Mount]:
        """The Dataset's mounts that the cache mounts itself (not local:// or pvc://)."""
        return [m for _, m in ufs.ufs_mounts(self.ctx.dataset)]

    @property
    def metadata_timeout(self) -> float:
        """Seconds one metadata command may take (``settings['metadata_sync_timeout']``)."""
        return float(self.ctx.settings.get("metadata_sync_timeout", DEFAULT_METADATA_TIMEOUT))

    def now_iso(self) -> str:
        return self.ctx.now().strftime(report.ISO)

    # -- what the pods share, for ``workload`` ----------------------------------------------------

    def pod_metadata(self, own: PodMetadata | None, spec_labels: dict[str, str] | None = None,
                     labels: dict[str, str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
        """Labels and annotations of a component's pods, later ones winning: the spec's deprecated
        ``labels``, its podMetadata, the component's deprecated ``labels``, the component's podMetadata."""
        shared = self.spec.pod_metadata
        merged = {**(spec_labels or {}), **((shared.labels if shared else None) or {}), **(labels or {}),
                  **((own.labels if own else None) or {})}
        annotations = {**((shared.annotations if shared else None) or {}), **((own.annotations if own else None) or {})}
        return merged, annotations

    def security_context(self) -> Obj | None:
        """The spec's runAs as a container securityContext."""
        run_as = self.spec.run_as
        return objects.compact({"runAsUser": run_as.uid, "runAsGroup": run_as.gid}) if run_as else None

    def pull_secrets(self, own: list[Obj] | None) -> list[Obj]:
        return [*(self.spec.image_pull_secrets or []), *(own or [])]

    def tier_volumes(self) -> tuple[list[Obj], list[Obj]]:
        """Volumes and mounts of the cache tiers: hostPath (default) or emptyDir (in memory for MEM)."""
        volumes, mounts = [], []
        for i, level in enumerate(self.levels):
            quotas = [q for q in (level.quota_list or "").split(",") if q]
            for j, path in enumerate(tier_paths(level)):
                name = f"{level.mediumtype.lower()}-{i}-{j}"
                if level.volume_type == "emptyDir":
                    size = quotas[j] if j < len(quotas) else level.quota
                    source: Obj = {"emptyDir": objects.compact({
                        "medium": "Memory" if level.mediumtype == "MEM" else None, "sizeLimit": size})}
                else:
                    source = {"hostPath": {"path": path, "type": "DirectoryOrCreate"}}
                volumes.append({"name": name, **source})
                mounts.append({"name": name, "mountPath": path})
        return volumes, mounts

    def native_volumes(self) -> tuple[list[Obj], list[Obj]]:
        """local:// and pvc:// mounts as pod volumes below the cache's root UFS."""
        pairs = [ufs.native_volume(i, m) for i, m in ufs.native_mounts(self.mounts_in_effect())]
        return [v for v, _ in pairs], [m for _, m in pairs]

    def user_volumes(self, volume_mounts: list[Obj] | None) -> tuple[list[Obj], list[Obj]]:
        """The spec.volumes a component's volumeMounts name, and those mounts."""
        mounts = list(volume_mounts or [])
        names = {m.get("name") for m in mounts}
        declared = getattr(self.ctx.runtime.spec, "volumes", None) or []
        return [v for v in declared if v.get("name") in names], mounts

    # -- ports ------------------------------------------------------------------------------------

    def ports(self) -> Ports:
        """Every component's ports: the spec's own, then those recorded for this runtime, then (on
        the host network only) free ones from the operator's port range (see engines.cache.ports)."""
        if self._ports is None:
            self._ports = ports.resolve(
                self.gw, self.port_reservations, self.uid, self.ref, self.default_ports(), self.spec_ports(),
                self.on_host(), self.get(CONFIG_MAP, self.values_name),
                parse_port_range(self.ctx.settings.get("port_range")))
        return self._ports

    @property
    def port_reservations(self) -> Reservations:
        return ports.reservations_of(self.ctx.shared)

    @property
    def uid(self) -> str:
        """The runtime's UID (its ref where a test object has none): what reservations are held under."""
        return self.ctx.runtime.metadata.uid or self.ref

    def master_ports(self) -> dict[str, int]:
        return self.ports().get("master", {})

    def worker_ports(self) -> dict[str, int]:
        return self.ports().get("worker", {})

    def allocated_ports(self) -> Ports:
        """What the values ConfigMap records: the ports this runtime holds on its nodes."""
        return {c: self.ports()[c] for c in self.on_host()}

    def on_host(self) -> list[str]:
        """The components that exist and listen on the node's own network."""
        present = {"master": self.has_master, "worker": self.has_workers}
        return [c for c in self.default_ports() if present.get(c, True) and self.on_host_network(c)]

    # -- live objects -----------------------------------------------------------------------------

    def get(self, res: Resource, name: str) -> Obj | None:
        key = (res.plural, name)
        if key not in self._live:
            self._live[key] = self.gw.get(res, self.ns if res.namespaced else None, name)
        return self._live[key]

    def for_background(self) -> Self:
        """This engine for work that outlives the pass (a metadata sync, a cache report): without
        what the pass read. A queued job holds its engine until a worker takes it up, and at 1,000
        pairs hundreds of syncs waited, each holding its pass's objects; nor does the job share
        the pass's reads with the pass running on in another thread."""
        twin = copy.copy(self)
        twin._live, twin.mount_table = {}, None
        return twin

    def forget(self, res: Resource, name: str) -> None:
        self._live.pop((res.plural, name), None)

    def apply(self, obj: Obj) -> bool:
        """Apply ``obj`` unless the live object already carries its hash; True if it wrote."""
        res = self.gw.resource(obj["apiVersion"], obj["kind"])
        name = obj["metadata"]["name"]
        live = self.get(res, name)
        if live is not None and objects.applied_hash(live) == objects.applied_hash(obj):
            self.ctx.owner.check([live])
            return False
        self._live[(res.plural, name)] = self.ctx.owner.apply(obj, res, live)
        return True

    def check_ours(self, objs: list[Obj]) -> None:
        """ObjectInTheWay naming every live object under the names of ``objs`` that is not ours."""
        self.ctx.owner.check(self.get(self.gw.resource(o["apiVersion"], o["kind"]), o["metadata"]["name"])
                             for o in objs)

    def delete(self, res: Resource, name: str) -> bool:
        """Delete our object of this kind and name; one that is not ours stays."""
        live = self.get(res, name)
        self.forget(res, name)
        return self.ctx.owner.delete(res, live)

    def fuse_ready(self) -> bool:
        fuse = self.get(DAEMON_SET, self.object_name("fuse")) if self.has_fuse else None
        if fuse is None:
            return not self.has_fuse
        # A DaemonSet's counts mean something only once its controller has seen this generation:
        # a new one says "0 of 0 ready" before it has looked at the nodes.
        if objects.status_int(fuse, "observedGeneration") < int(fuse["metadata"].get("generation") or 1):
            return False
        return objects.status_int(fuse, "numberReady") >= objects.status_int(fuse, "desiredNumberScheduled")

    # -- the master pod ---------------------------------------------------------------------------

    def master_running(self) -> bool:
        """The master container runs and is ready: only then can a command in it do anything."""
        pod = self.get(POD, self.master_pod)
        if pod is None or pod["metadata"].get("deletionTimestamp") or (pod.get("status") or {}).get("phase") \
                != "Running":
            return False
        return any(c.get("name") == self.container("master") and c.get("ready")
                   for c in (pod.get("status") or {}).get("containerStatuses") or [])

    def master_started(self) -> datetime | None:
        pod = self.get(POD, self.master_pod)
        for status in ((pod or {}).get("status") or {}).get("containerStatuses") or []:
            if status.get("name") == self.container("master"):
                return report.parse_time(((status.get("state") or {}).get("running") or {}).get("startedAt"))
        return None

    def master_restarted(self) -> bool:
        """The master container started after the last mount: its mount table may be gone."""
        st = self.ctx.runtime.status
        mounted = report.parse_time(st.mount_time if st else None)
        if mounted is None:
            return True
        started = self.master_started()
        return started is not None and started > mounted

    def run(self, argv: Sequence[str], timeout: float | None = None) -> str:
        """Run ``argv`` in the master container; the output, or CacheCommandError (which shows none
        of the pair's secret values)."""
        limit = timeout if timeout is not None else float(
            self.ctx.settings.get("cache_command_timeout", commands.DEFAULT_COMMAND_TIMEOUT))
        return commands.run(self.gw, self.ns, self.master_pod, self.container("master"), argv, ref=self.ref,
                            secrets=self.secret_values, timeout=limit)

    def secret_values(self) -> list[str]:
        """The values of every Secret key the pair's mounts read, for redaction; read once per pass,
        and only when something must be redacted."""
        if self._secrets is None:
            found: set[str] = set()
            ds = self.ctx.dataset
            if ds is not None:
                for mount in ufs.resolve_values(self.gw, ds):
                    found |= mount
            self._secrets = sorted(found)
            self.ctx.known_secrets.update(found)
        return self._secrets


Cache = CacheBase[Any, Any]  # how the engine's parts see it: any kind's spec and components
