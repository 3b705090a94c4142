"""``CacheEngine``: every hook of the lifecycle contract for a master/worker/fuse cache runtime.

An engine subclass says what differs between cache systems: object names and labels
(``SUFFIX``, ``CONTAINER``, ``APP``), its containers and configuration (``workload``,
``config_data``, ``values``), and the commands it runs in the master (mount, list, report, clean).
Everything else is here, written once:

* objects are rendered from the spec and applied only when their hash differs from the live one,
  so an idle pass writes nothing and spec changes roll out in place;
* status comes from the live StatefulSets and DaemonSet, never from memory;
* cache commands run in the master pod as argument vectors, with secret option values kept out of
  every message;
* nothing is remembered between passes; within one pass reads are cached and a write forgets
  what it replaced.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import attrs
import yaml

from engines.cache import objects, placement, ports, report, ufs
from engines.cache.metadata import CALCULATING, MetadataSync
from engines.cache.objects import Workload
from engines.cache.ports import Ports, Reservations
from engines.cache.report import CacheReport
from engines.cache.ufs import ResolvedMount
from lifecycle.api import from_json, to_json
from lifecycle.api.dataset import HCFSStatus, Mount
from lifecycle.api.meta import Condition, find_condition, set_condition
from lifecycle.api.runtime import CleanCachePolicy, Level, RuntimeStatus
from lifecycle.api.validation import FieldError, InvalidSpec, scheme_of
from lifecycle.engine.contract import EngineContext, ImplementBase
from lifecycle.k8s.gateway import (
    CONFIG_MAP,
    DAEMON_SET,
    NODE,
    POD,
    SERVICE,
    STATEFUL_SET,
    NotFound,
    Obj,
    Resource,
    owner_reference,
)
from lifecycle.k8s.naming import (
    DATASET_ID_LABEL,
    DATASET_LABEL,
    DATASET_NUM_LABEL,
    EXCLUSIVE_LABEL,
    PLACEMENT_LABEL,
    common_label,
    dataset_id,
    exclusive_value,
    fuse_label,
)
from lifecycle.k8s.volume import FINISHED_POD_PHASES, create_volume, delete_volume
from lifecycle.machine.phases import READY, component_phase, runtime_ready

DEFAULT_COMMAND_TIMEOUT = 60.0
DEFAULT_METADATA_TIMEOUT = 300.0
# Seconds a rollout of a changed spec may keep a component unready before that counts as broken
# (``settings['rollout_deadline']``; the default of a Deployment's progressDeadlineSeconds).
DEFAULT_ROLLOUT_DEADLINE = 600.0
RUNTIME_MOUNT_ROOT = "/runtime-mnt"



class CacheCommandError(RuntimeError):
    """A command in the master failed or could not run; the message never carries a secret value."""


@attrs.frozen
class MountedUFS:
    """One row of the cache's own mount table."""

    ufs: str
    read_only: bool | None = None


def _status_int(obj: Obj | None, key: str) -> int:
    return int(((obj or {}).get("status") or {}).get(key) or 0)


def _count(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def _spec_replicas(obj: Obj | None) -> int:
    return int(((obj or {}).get("spec") or {}).get("replicas") or 0)


def rolling_out(sts: Obj) -> bool:
    """The StatefulSet is replacing its pods with a changed template: its controller has not seen
    the change yet, or pods of the old revision remain."""
    status = sts.get("status") or {}
    generation = sts["metadata"].get("generation") or 0
    if int(status.get("observedGeneration") or 0) < generation:
        return True
    update, current = status.get("updateRevision"), status.get("currentRevision")
    return bool(update) and update != current


class CacheEngine(ImplementBase):
    """The shared engine; subclasses set the class attributes and the engine-specific methods."""

    RUNTIME_TYPE: ClassVar[str] = ""
    APP: ClassVar[str] = ""
    # Object name suffix and container (also the pod's ``role`` label) per component.
    SUFFIX: ClassVar[dict[str, str]] = {"master": "master", "worker": "worker", "fuse": "fuse"}
    CONTAINER: ClassVar[dict[str, str]] = {}
    VALUES_SUFFIX: ClassVar[str] = ""
    FUSE_DIR: ClassVar[str] = ""
    MOUNT_TYPE: ClassVar[str] = ""

    def __init__(self, ctx: EngineContext):
        super().__init__(ctx)
        self.gw = ctx.gateway
        self.ns, self.name = ctx.namespace, ctx.name
        self._live: dict[tuple[str, str], Obj | None] = {}
        self._mounts_override: list[Mount] | None = None
        self._ports: Ports | None = None

    # == what a subclass provides ==================================================================

    @property
    def has_master(self) -> bool:
        return True

    @property
    def has_workers(self) -> bool:
        return True

    @property
    def has_fuse(self) -> bool:
        return True

    @property
    def master_replicas(self) -> int:
        return 1

    @property
    def auto_sync(self) -> bool:
        return True

    @property
    def clean_cache_policy(self) -> CleanCachePolicy:
        return CleanCachePolicy().with_defaults()

    def default_ports(self) -> Ports:
        """Port name -> default number, per component that listens ("master", "worker")."""
        raise NotImplementedError

    def spec_ports(self) -> Ports:
        """The ports the runtime's spec sets itself; they are used as given, never allocated."""
        return {}

    def on_host_network(self, component: str) -> bool:
        """Whether the component's pods use the node's network (and so its ports)."""
        return False

    def workload(self, role: str) -> Workload:
        raise NotImplementedError

    def config_data(self) -> dict[str, dict[str, str]]:
        """ConfigMap name -> data, besides the values ConfigMap."""
        raise NotImplementedError

    def values(self) -> dict[str, Any]:
        raise NotImplementedError

    def hcfs_endpoint(self) -> str:
        raise NotImplementedError

    def engine_errors(self) -> list[FieldError]:
        return []

    def list_mounts(self) -> dict[str, MountedUFS]:
        raise NotImplementedError

    def mount_argv(self, mount: ResolvedMount) -> list[str]:
        raise NotImplementedError

    def unmount_argv(self, path: str) -> list[str]:
        raise NotImplementedError

    def cache_report(self) -> CacheReport:
        raise NotImplementedError

    def metadata(self, paths: Sequence[str], load: bool) -> tuple[int, int | None]:
        """Files and bytes of the UFS (bytes None when the tool cannot tell); ``load`` first loads
        the metadata of ``paths`` into the cache."""
        raise NotImplementedError

    def clean_cache_argv(self) -> list[str]:
        raise NotImplementedError

    def status_extras(self, status: RuntimeStatus) -> None:
        """Engine-specific status fields (Alluxio's API gateway)."""

    # == names and labels ===========================================================================

    def object_name(self, role: str) -> str:
        return f"{self.name}-{self.SUFFIX[role]}"

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
        return f"{RUNTIME_MOUNT_ROOT}/{self.RUNTIME_TYPE}/{self.ns}/{self.name}/{self.FUSE_DIR}"

    @property
    def dataset_uid(self) -> str | None:
        return self.ctx.dataset.metadata.uid if self.ctx.dataset else None

    @property
    def dataset_key(self) -> str:
        return dataset_id(self.ns, self.name, self.dataset_uid)

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

    def selector(self, role: str) -> dict[str, str]:
        return {"app": self.APP, "release": self.name, "role": self.CONTAINER[role]}

    @property
    def object_labels(self) -> dict[str, str]:
        return {"app": self.APP, "release": self.name, objects.MANAGED_BY[0]: objects.MANAGED_BY[1]}

    def worker_labels(self) -> dict[str, str]:
        return {DATASET_LABEL: self.dataset_key, PLACEMENT_LABEL: self.placement}

    @property
    def owner(self) -> Obj:
        return owner_reference(to_json(self.ctx.runtime))

    @property
    def levels(self) -> list[Level]:
        store = self.ctx.runtime.spec.tieredstore
        return list((store.levels if store else None) or [])

    def mounts_in_effect(self) -> list[Mount]:
        """The mounts the objects are rendered with: those the Dataset says are applied (so Sync's
        spec update leaves mount changes to SyncDatasetMounts, which goes through Updating), the
        spec's before the first binding."""
        if self._mounts_override is not None:
            return self._mounts_override
        ds = self.ctx.dataset
        if ds is None:
            return []
        if ds.status is not None and ds.status.mounts is not None:
            return list(ds.status.mounts)
        return list(ds.spec.mounts or [])

    @property
    def metadata_timeout(self) -> float:
        """Seconds one metadata command may take (``settings['metadata_sync_timeout']``)."""
        return float(self.ctx.settings.get("metadata_sync_timeout", DEFAULT_METADATA_TIMEOUT))

    def now_iso(self) -> str:
        return self.ctx.now().strftime(report.ISO)

    @property
    def ref(self) -> str:
        return self.ctx.runtime.ref

    # == reading and writing objects ================================================================

    def _get(self, res: Resource, name: str) -> Obj | None:
        key = (res.plural, name)
        if key not in self._live:
            self._live[key] = self.gw.get(res, self.ns if res.namespaced else None, name)
        return self._live[key]

    def _forget(self, res: Resource, name: str) -> None:
        self._live.pop((res.plural, name), None)

    def _apply(self, obj: Obj) -> bool:
        """Apply ``obj`` unless the live object already carries its hash; True if it wrote."""
        res = self.gw.resource(obj["apiVersion"], obj["kind"])
        name = obj["metadata"]["name"]
        live = self._get(res, name)
        if live is not None and objects.applied_hash(live) == objects.applied_hash(obj):
            return False
        self._live[(res.plural, name)] = self.gw.apply(obj)
        return True

    def _delete(self, res: Resource, name: str) -> bool:
        live = self._get(res, name)
        self._forget(res, name)
        if live is None or live["metadata"].get("deletionTimestamp"):
            return False
        return self.gw.delete(res, self.ns, name)

    # == rendering ==================================================================================

    def tier_volumes(self) -> tuple[list[Obj], list[Obj]]:
        """Volumes and mounts of the cache tiers: hostPath (default) or emptyDir (in memory for MEM)."""
        volumes, mounts = [], []
        for i, level in enumerate(self.levels):
            paths = [p for p in (level.path or ("/dev/shm" if level.mediumtype == "MEM" else "")).split(",") if p]
            quotas = [q for q in (level.quota_list or "").split(",") if q]
            for j, path in enumerate(paths):
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

    def config_maps(self) -> list[Obj]:
        data = dict(self.config_data())
        values, held = self.values(), self.allocated_ports()
        # Recorded even when empty: a runtime on the container network that moves to the host network
        # then gets ports of its own, where one made before allocation (no record) keeps its defaults.
        values[ports.PORTS_KEY] = held
        data[self.values_name] = {ports.VALUES_KEY: yaml.safe_dump(values, sort_keys=True)}
        holds = {ports.HOLDS_PORTS_LABEL: "true"} if held else {}
        return [objects.config_map(name, self.ns, {**self.object_labels, **(holds if name == self.values_name else {})},
                                   d, self.owner) for name, d in data.items()]

    def services(self) -> list[Obj]:
        selector = self.selector("master")
        return [objects.headless_service(svc, self.ns, selector, svc, self.master_ports(), self.owner)
                for svc in self.service_names()]

    def master_set(self) -> Obj:
        wl = self.workload("master")
        selector = self.selector("master")
        template = objects.pod_template(wl, selector, {DATASET_ID_LABEL: self.dataset_key})
        return objects.stateful_set(self.object_name("master"), self.ns, self.object_labels, selector, template,
                                    self.master_replicas, self.service_names(1)[0], self.owner)

    def worker_set(self, replicas: int) -> Obj:
        wl = self.workload("worker")
        selector = self.selector("worker")
        ds = self.ctx.dataset
        required = ds.spec.node_affinity.required if ds and ds.spec.node_affinity else None
        affinity = objects.worker_affinity(self.placement, DATASET_LABEL, PLACEMENT_LABEL,
                                           fuse_label(self.ns, self.name), required)
        template = objects.pod_template(wl, selector, {DATASET_ID_LABEL: self.dataset_key, **self.worker_labels()},
                                        affinity)
        return objects.stateful_set(self.object_name("worker"), self.ns, self.object_labels, selector, template,
                                    replicas, self.object_name("worker"), self.owner)

    def fuse_set(self) -> Obj:
        wl = self.workload("fuse")
        wl.node_selector = {**wl.node_selector, fuse_label(self.ns, self.name): "true"}
        selector = self.selector("fuse")
        template = objects.pod_template(wl, selector, {DATASET_ID_LABEL: self.dataset_key})
        return objects.daemon_set(self.object_name("fuse"), self.ns, self.object_labels, selector, template,
                                  self.owner)

    # -- ports ------------------------------------------------------------------------------------

    def ports(self) -> Ports:
        """Every component's ports: the spec's own, then those recorded for this runtime, then (on
        the host network only) free ones from the operator's port range (see engines.cache.ports)."""
        if self._ports is None:
            self._ports = self._resolve_ports()
        return self._ports

    def master_ports(self) -> dict[str, int]:
        return self.ports().get("master", {})

    def worker_ports(self) -> dict[str, int]:
        return self.ports().get("worker", {})

    def allocated_ports(self) -> Ports:
        """What the values ConfigMap records: the ports this runtime holds on its nodes."""
        return {c: self.ports()[c] for c in self._on_host()}

    def _on_host(self) -> list[str]:
        """The components that exist and listen on the node's own network."""
        present = {"master": self.has_master, "worker": self.has_workers}
        return [c for c in self.default_ports() if present.get(c, True) and self.on_host_network(c)]

    def _resolve_ports(self) -> Ports:
        defaults, fixed, on_host = self.default_ports(), self.spec_ports(), self._on_host()
        values_cm = self._get(CONFIG_MAP, self.values_name)
        held = ports.recorded(values_cm)
        if held is None and values_cm is not None:
            held = defaults  # made before ports were allocated: it keeps the ports it runs with
        held = held or {}
        kept = {c: {**held.get(c, {}), **fixed.get(c, {})} for c in on_host}
        if any(set(defaults[c]) - set(kept[c]) for c in on_host):
            kept = self._port_reservations.allocate(self.gw, self.ctx.runtime.metadata.uid or self.ref,
                                                    {c: list(defaults[c]) for c in on_host}, kept, self.port_range,
                                                    self.ref)
        return {c: kept[c] if c in kept else {**named, **fixed.get(c, {})} for c, named in defaults.items()}

    @property
    def _port_reservations(self) -> Reservations:
        found: Reservations = self.ctx.shared.setdefault("host-ports", Reservations())
        return found

    @property
    def port_range(self) -> tuple[int, int]:
        return ports.parse_range(self.ctx.settings.get("port_range"))

    def desired(self, worker_replicas: int) -> list[Obj]:
        """Everything the runtime runs on, in the order it is applied."""
        out = self.config_maps()
        if self.has_master:
            out += [*self.services(), self.master_set()]
        if self.has_workers:
            out.append(self.worker_set(worker_replicas))
        if self.has_fuse:
            out.append(self.fuse_set())
        return out

    def _live_worker_replicas(self) -> int:
        return _spec_replicas(self._get(STATEFUL_SET, self.object_name("worker")))

    def _stale_services(self) -> list[str]:
        if not self.has_master:
            return []
        wanted = set(self.service_names())
        listed = self.gw.list(SERVICE, self.ns, labels=self.selector("master"))
        return sorted(s["metadata"]["name"] for s in listed if s["metadata"]["name"] not in wanted)

    # == setup ======================================================================================

    def should_setup_master(self) -> bool:
        # Every object setup_master applies, so a crash between two applies is repaired.
        return any(objects.applied_hash(self._get(self.gw.resource(o["apiVersion"], o["kind"]),
                                                  o["metadata"]["name"])) != objects.applied_hash(o)
                   for o in self.desired(self._live_worker_replicas()))

    def setup_master(self) -> None:
        # Workers keep their replicas (0 when new); setup_workers scales them once the UFS is ready.
        for obj in self.desired(self._live_worker_replicas()):
            self._apply(obj)
        if not self.has_master:
            self._record_mounts(self.mounts_in_effect())

    def check_master_ready(self) -> bool:
        if not self.has_master:
            return self._fuse_ready()
        master = self._get(STATEFUL_SET, self.object_name("master"))
        return master is not None and _status_int(master, "readyReplicas") >= max(_spec_replicas(master), 1)

    def _fuse_ready(self) -> bool:
        fuse = self._get(DAEMON_SET, self.object_name("fuse")) if self.has_fuse else None
        if fuse is None:
            return not self.has_fuse
        # A DaemonSet's counts mean something only once its controller has seen this generation:
        # a new one says "0 of 0 ready" before it has looked at the nodes.
        if _status_int(fuse, "observedGeneration") < int(fuse["metadata"].get("generation") or 1):
            return False
        return _status_int(fuse, "numberReady") >= _status_int(fuse, "desiredNumberScheduled")

    def should_check_ufs(self) -> bool:
        if not self.has_master or not ufs.ufs_mounts(self.ctx.dataset):
            return False
        if self._master_restarted() or self._applied_ufs_records() != self._desired_ufs_records():
            return True
        try:
            live = self.list_mounts()
        except CacheCommandError:
            return True  # prepare_ufs will say what is wrong
        return any(live.get(m.effective_path, MountedUFS("")).ufs != m.mount_point
                   for _, m in ufs.ufs_mounts(self.ctx.dataset))

    def prepare_ufs(self) -> None:
        self._reconcile_mounts()

    def should_setup_workers(self) -> bool:
        if not self.has_workers:
            return False
        live = self._get(STATEFUL_SET, self.object_name("worker"))
        return objects.applied_hash(live) != objects.applied_hash(self.worker_set(self.replicas))

    def setup_workers(self) -> None:
        if self.has_workers:
            self._apply(self.worker_set(self.replicas))

    def check_workers_ready(self) -> bool:
        if not self.has_workers or self.replicas == 0:
            return True
        return _status_int(self._get(STATEFUL_SET, self.object_name("worker")), "readyReplicas") >= 1

    def assign_nodes_to_cache(self, desired: int) -> int:
        """How many of ``desired`` workers can get a node: schedulable nodes matching the workers'
        node selector, without another dataset's exclusive workers (and, when exclusive, without
        any other dataset's)."""
        selector = self.workload("worker").node_selector
        mine = exclusive_value(self.ns, self.name)
        count = 0
        for node in self.gw.list(NODE):
            labels = node["metadata"].get("labels") or {}
            if (node.get("spec") or {}).get("unschedulable"):
                continue
            if any(labels.get(k) != v for k, v in selector.items()):
                continue
            if labels.get(EXCLUSIVE_LABEL, mine) != mine:
                continue
            others = _count(labels.get(DATASET_NUM_LABEL)) - (1 if common_label(self.ns, self.name) in labels else 0)
            if self.placement == "Exclusive" and others > 0:
                continue
            count += 1
        return min(desired, count)

    # == status =====================================================================================

    def check_and_update_runtime_status(self) -> bool:
        rt = self.ctx.runtime
        st = rt.status if rt.status is not None else RuntimeStatus()
        now = self.now_iso()
        st.value_file = self.values_name

        master = self._get(STATEFUL_SET, self.object_name("master")) if self.has_master else None
        m_desired = (_spec_replicas(master) if master else self.master_replicas) if self.has_master else 0
        m_ready = _status_int(master, "readyReplicas")
        st.desired_master_number_scheduled = m_desired
        st.current_master_number_scheduled = _status_int(master, "replicas")
        st.master_number_ready = m_ready
        st.master_phase = component_phase(m_desired, m_ready)

        worker = self._get(STATEFUL_SET, self.object_name("worker")) if self.has_workers else None
        w_desired, w_ready = self.replicas, _status_int(worker, "readyReplicas")
        w_available = _status_int(worker, "availableReplicas")
        st.desired_worker_number_scheduled = w_desired
        st.current_worker_number_scheduled = _status_int(worker, "replicas")
        st.worker_number_ready = w_ready
        st.worker_number_available = w_available
        st.worker_number_unavailable = max(w_desired - w_available, 0)
        st.worker_phase = component_phase(w_desired, w_ready)

        fuse = self._get(DAEMON_SET, self.object_name("fuse")) if self.has_fuse else None
        f_desired, f_ready = _status_int(fuse, "desiredNumberScheduled"), _status_int(fuse, "numberReady")
        if fuse is not None and rt.status is not None:
            # The fuse runs where pods use the volume (the CSI plugin labels those nodes), so its
            # count follows the workload.
            self._scaled(st, "Fuses", st.desired_fuse_number_scheduled, f_desired, now)
        st.desired_fuse_number_scheduled = f_desired
        st.current_fuse_number_scheduled = _status_int(fuse, "currentNumberScheduled")
        st.fuse_number_ready = f_ready
        st.fuse_number_available = _status_int(fuse, "numberAvailable")
        st.fuse_number_unavailable = _status_int(fuse, "numberUnavailable")
        fuses_ready = self._fuse_ready()
        # The reference always shows the fuse Ready (its pods start lazily, per node); a fuse-only
        # runtime is nothing but its fuse, so there the phase tells the truth.
        st.fuse_phase = READY if self.has_master else component_phase(f_desired if fuse else 1, f_ready)

        st.selector = ",".join(f"{k}={v}" for k, v in self.selector("worker").items()) if self.has_workers else None
        st.cache_affinity = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": common_label(self.ns, self.name), "operator": "In",
                                   "values": ["true"]}]}]}} if self.has_workers else None
        self.status_extras(st)

        if self.has_master:
            master_ok = master is not None and m_ready >= max(m_desired, 1)
            ready = master_ok and runtime_ready(m_desired, m_ready, w_desired, w_ready)
        else:
            master_ok = ready = fuse is not None and fuses_ready
        workers_ok = w_desired == 0 or w_ready >= 1

        st.conditions = list(st.conditions or [])
        if self.has_master:
            self._initialized(st, "MasterInitialized", master_ok, "The master is initialized.", now)
            self._ready_condition(st, "MasterReady", master_ok, f"{m_ready} of {m_desired} masters ready.", now)
        if self.has_workers:
            self._initialized(st, "WorkersInitialized", worker is not None and workers_ok,
                              "The workers are initialized.", now)
            self._ready_condition(st, "WorkersReady", workers_ok, f"{w_ready} of {w_desired} workers ready.", now)
        if self.has_fuse:
            self._initialized(st, "FusesInitialized", fuse is not None, "The fuse is initialized.", now)
            self._ready_condition(st, "FusesReady", fuse is not None and fuses_ready,
                                  f"{f_ready} of {f_desired} fuses ready.", now)

        if ready and not st.setup_duration:
            created = report.parse_time(rt.metadata.creation_timestamp)
            if created is not None:
                st.setup_duration = report.go_duration((self.ctx.now() - created).total_seconds())
        if master_ok:
            self._refresh_cache_states(st)
        rt.status = st
        return ready

    def _scaled(self, st: RuntimeStatus, component: str, before: int, after: int, now: str, note: str = "") -> None:
        """``<component>ScaledOut``/``ScaledIn``, condition and event, when a count moved."""
        if before == after:
            return
        direction = "out" if after > before else "in"
        scaled = f"{component}Scaled{direction.capitalize()}"
        message = f"The {component.lower()} are scaled {direction} from {before} to {after}."
        st.conditions = list(st.conditions or [])
        set_condition(st.conditions, Condition(type=scaled, status="True", reason=scaled, message=message),
                      now, stamp="last_probe_time")
        self.ctx.event("Normal", scaled, f"{self.ref}: {message}{note}")

    @staticmethod
    def _initialized(st: RuntimeStatus, type_: str, ok: bool, message: str, now: str) -> None:
        """Written once, when first true, and never updated (as the reference)."""
        assert st.conditions is not None
        if ok and find_condition(st.conditions, type_) is None:
            st.conditions.append(Condition(type=type_, status="True", reason=type_, message=message,
                                           last_probe_time=now, last_transition_time=now))

    @staticmethod
    def _ready_condition(st: RuntimeStatus, type_: str, ok: bool, message: str, now: str) -> None:
        assert st.conditions is not None
        reason = type_ if ok else type_.replace("Ready", "NotReady")
        set_condition(st.conditions, Condition(type=type_, status="True" if ok else "False", reason=reason,
                                               message=message), now, stamp="last_probe_time")

    def _refresh_cache_states(self, st: RuntimeStatus) -> None:
        if not self.has_workers:
            # Nothing caches: say so instead of leaving the columns empty.
            st.cache_states = {"cached": "0.00B", "cacheCapacity": "0.00B"}
            return
        try:
            cache = self.cache_report()
        except (CacheCommandError, ValueError) as exc:
            self.ctx.log.warning("cache report of %s unavailable, keeping the last one: %s", self.ref, exc)
            return
        ds = self.ctx.dataset
        total = report.ufs_total_bytes(ds.status.ufs_total) if ds and ds.status else None
        st.cache_states = report.cache_states(cache, total)

    # == binding and the Dataset ====================================================================

    def bind_to_dataset(self) -> None:
        super().bind_to_dataset()
        ds = self.ctx.dataset
        assert ds is not None and ds.status is not None
        applied = self._applied_records()
        if applied is not None:
            ds.status.mounts = [from_json(Mount, m, f"{self.ref} status.mounts") for m in applied]
        ds.status.hcfs = HCFSStatus(endpoint=self.hcfs_endpoint())
        if self.has_master and self.auto_sync and not ds.status.ufs_total:
            ds.status.ufs_total = CALCULATING

    def update_dataset_status(self, phase: str) -> None:
        """The Dataset's conditions follow its phase: Ready while Bound, not while Failed, and
        Updating while changed mounts are applied."""
        ds = self.ctx.dataset
        if ds is None or ds.status is None or not ds.status.runtimes:
            return
        now, gen = self.now_iso(), ds.metadata.generation
        conditions = ds.status.conditions
        if phase == "Bound":
            set_condition(conditions, Condition(type="Ready", status="True", reason="DatasetReady",
                                                message="The ddc runtime is ready.", observed_generation=gen), now)
            if find_condition(conditions, "Updating") is not None:
                set_condition(conditions, Condition(type="Updating", status="False", reason="DatasetReady",
                                                    message="The mounts are applied.", observed_generation=gen), now)
        elif phase == "Failed":
            set_condition(conditions, Condition(type="Ready", status="False", reason="DatasetFailed",
                                                message="The ddc runtime is not ready.", observed_generation=gen),
                          now)
        elif phase == "Updating":
            set_condition(conditions, Condition(type="Updating", status="True", reason="DatasetUpdating",
                                                message="Applying the changed mounts.", observed_generation=gen), now)

    def update_cache_of_dataset(self) -> None:
        super().update_cache_of_dataset()
        ds = self.ctx.dataset
        if ds is not None and ds.status is not None and ds.status.runtimes:
            endpoint = self.hcfs_endpoint()
            if ds.status.hcfs is None or ds.status.hcfs.endpoint != endpoint:
                ds.status.hcfs = HCFSStatus(endpoint=endpoint)

    # == volume =====================================================================================

    def create_volume(self) -> None:
        ds = self.ctx.dataset
        if ds is None:
            raise RuntimeError(f"{self.ref}: the Dataset {self.ns}/{self.name} is gone; recreate it to get a volume")
        create_volume(self.gw, ds, self.name, self.RUNTIME_TYPE, self.fuse_path, self.MOUNT_TYPE)

    def delete_volume(self) -> None:
        delete_volume(self.gw, self.ns, self.name)

    # == sync =======================================================================================

    def sync_replicas(self) -> None:
        if not self.has_workers:
            return
        worker = self._get(STATEFUL_SET, self.object_name("worker"))
        if worker is None:
            return  # lost: the health check sends the runtime through setup again
        before, after = _spec_replicas(worker), self.replicas
        if before == after:
            return
        self._apply(self.worker_set(after))
        st = self.ctx.runtime.status = self.ctx.runtime.status or RuntimeStatus()
        dropped = (f" The cache held by the {before - after} removed worker(s) is dropped; reads of that data go "
                   "to the UFS until it is cached again.") if after < before else ""
        self._scaled(st, "Workers", before, after, self.now_iso(), dropped)

    def sync_runtime(self) -> bool:
        """Spec changes (image, properties, resources, env, ...) applied to the live objects in place."""
        changed = [f"{o['kind']} {o['metadata']['name']}" for o in self.desired(self.replicas) if self._apply(o)]
        for svc in self._stale_services():
            self._delete(SERVICE, svc)
            changed.append(f"deleted Service {svc}")
        if changed:
            self.ctx.event("Normal", "RuntimeUpdated", f"{self.ref}: applied the changed spec to "
                           + ", ".join(changed))
        return bool(changed)

    def check_runtime_healthy(self) -> bool:
        problems = []
        if self.has_master:
            master = self._get(STATEFUL_SET, self.object_name("master"))
            if master is None:
                problems.append(f"StatefulSet {self.ns}/{self.object_name('master')} is missing")
            elif (_status_int(master, "readyReplicas") < max(_spec_replicas(master), 1)
                  and not self._rollout_in_time(master, "MasterReady")):
                problems.append(f"{_status_int(master, 'readyReplicas')} of {_spec_replicas(master)} masters ready")
        if self.has_workers:
            worker = self._get(STATEFUL_SET, self.object_name("worker"))
            if worker is None:
                problems.append(f"StatefulSet {self.ns}/{self.object_name('worker')} is missing")
            elif (self.replicas > 0 and _spec_replicas(worker) > 0 and _status_int(worker, "readyReplicas") == 0
                  and not self._rollout_in_time(worker, "WorkersReady")):
                problems.append("no worker is ready")
        if self.has_fuse and self._get(DAEMON_SET, self.object_name("fuse")) is None:
            problems.append(f"DaemonSet {self.ns}/{self.object_name('fuse')} is missing")
        for cm in self.config_maps():
            if self._get(CONFIG_MAP, cm["metadata"]["name"]) is None:
                problems.append(f"ConfigMap {self.ns}/{cm['metadata']['name']} is missing")
        for svc in self.service_names() if self.has_master else []:
            if self._get(SERVICE, svc) is None:
                problems.append(f"Service {self.ns}/{svc} is missing")
        if not problems:
            return True
        self.ctx.event("Warning", "RuntimeUnhealthy",
                       f"{self.ref}: {'; '.join(problems)}; setting it up again")
        return False

    def _rollout_in_time(self, sts: Obj, condition: str) -> bool:
        """An unready component that is rolling out a changed spec is updating, not broken (a
        single-replica rollout has no ready pod for a while), until it has been unready for longer
        than the rollout deadline; the runtime's ready condition says since when."""
        if not rolling_out(sts):
            return False
        st = self.ctx.runtime.status
        cond = find_condition(st.conditions or [], condition) if st else None
        since = report.parse_time(cond.last_transition_time) if cond and cond.status == "False" else None
        deadline = float(self.ctx.settings.get("rollout_deadline", DEFAULT_ROLLOUT_DEADLINE))
        if since is None or (self.ctx.now() - since).total_seconds() < deadline:
            return True
        self.ctx.log.warning("%s: the rollout of StatefulSet %s has kept it unready for over %.0fs",
                             self.ref, sts["metadata"]["name"], deadline)
        return False

    def should_sync_dataset_mounts(self) -> bool:
        """Changed mounts, a restarted master, or a changed Secret behind the mount options (the
        operator watches Secrets, so a rotation is applied at once, not at the next drift check)."""
        ds = self.ctx.dataset
        if ds is None or ds.status is None or ds.status.mounts is None:
            return False
        if ds.mounts_behind():
            return True
        if not (self.has_master and ufs.ufs_mounts(ds)):
            return False
        return self._master_restarted() or (self._master_running() and bool(self._rotated_secrets()))

    def sync_dataset_mounts(self) -> None:
        ds = self.ctx.dataset
        assert ds is not None and ds.status is not None
        wanted = copy.deepcopy(list(ds.spec.mounts or []))
        self._mounts_override = wanted
        try:
            actions = self._reconcile_mounts() if self.has_master else []
            # The mount table in the ConfigMaps, native mounts in the pods, a fuse-only runtime's
            # whole configuration: whatever is rendered from the mounts follows them now.
            worker_replicas = self.replicas if self.has_workers else 0
            actions += [f"updated {o['kind']} {o['metadata']['name']}" for o in self.desired(worker_replicas)
                        if self._apply(o)]
            if not self.has_master:
                self._record_mounts(wanted)
        finally:
            self._mounts_override = None
        ds.status.mounts = wanted
        if actions:
            self.ctx.event("Normal", "MountsUpdated", f"{self.ref}: " + ", ".join(actions))
            if self.has_master:
                MetadataSync(self).tick()

    def should_update_ufs(self) -> bool:
        """The cache's mount table drifted from the Dataset (unmounted by hand, lost by the master)."""
        if not self.has_master or not ufs.ufs_mounts(self.ctx.dataset) or not self._master_running():
            return False
        try:
            live = self.list_mounts()
        except CacheCommandError as exc:
            self.ctx.log.info("cannot list the mounts of %s: %s", self.ref, exc)
            return False
        return any(live.get(m.effective_path, MountedUFS("")).ufs != m.mount_point
                   for _, m in ufs.ufs_mounts(self.ctx.dataset))

    def update_on_ufs_change(self) -> None:
        actions = self._reconcile_mounts()
        if actions:
            self.ctx.event("Normal", "UFSRemounted", f"{self.ref}: the cache's mounts are back in line with the "
                           "Dataset: " + ", ".join(actions))
            MetadataSync(self).tick()

    def sync_schedule_info_to_cache_nodes(self) -> None:
        if not self.has_workers:
            return
        pods = self.gw.list(POD, self.ns, labels=self.selector("worker"))
        hosts = {p["spec"]["nodeName"] for p in pods
                 if (p.get("spec") or {}).get("nodeName") and not p["metadata"].get("deletionTimestamp")
                 and (p.get("status") or {}).get("phase") not in FINISHED_POD_PHASES}
        wanted = placement.cache_node_labels(self.RUNTIME_TYPE, self.ns, self.name,
                                             self.placement == "Exclusive", self._capacity_per_medium())
        for node in self.gw.list(NODE):
            changes = placement.node_patch(node, wanted if node["metadata"]["name"] in hosts else {},
                                           self.RUNTIME_TYPE, self.ns, self.name)
            if changes:
                placement.apply_node_labels(self.gw, node, changes)

    def _capacity_per_medium(self) -> dict[str, str]:
        sizes = {"m": 0, "d": 0}
        for level in self.levels:
            quota = report.quantity_bytes(level.quota) if level.quota else sum(
                report.quantity_bytes(q) for q in (level.quota_list or "").split(",") if q)
            sizes[placement.MEDIUM_KEYS[level.mediumtype]] += quota
        sizes["t"] = sizes["m"] + sizes["d"]
        return {k: report.capacity_label_value(v) for k, v in sizes.items() if v}

    # == metadata ===================================================================================

    def sync_metadata(self) -> None:
        """Start, follow or collect the background metadata sync (see engines.cache.metadata)."""
        MetadataSync(self).tick()

    def ufs_mount_list(self) -> list[Mount]:
        """The Dataset's mounts that the cache mounts itself (not local:// or pvc://)."""
        return [m for _, m in ufs.ufs_mounts(self.ctx.dataset)]

    def master_running(self) -> bool:
        return self._master_running()

    # == mounts =====================================================================================

    def _desired_ufs_records(self) -> list[dict[str, Any]]:
        return [to_json(m) for _, m in ufs.ufs_mounts(self.ctx.dataset)]

    def _applied_records(self) -> list[dict[str, Any]] | None:
        st = self.ctx.runtime.status
        return st.mounts if st is not None else None

    def _applied_ufs_records(self) -> list[dict[str, Any]]:
        return [m for m in self._applied_records() or []
                if scheme_of(m.get("mountPoint", "")) not in ufs.NATIVE_SCHEMES]

    def _record_mounts(self, mounts: list[Mount], secret_versions: dict[str, str] | None = None) -> None:
        """What the cache (or a fuse-only runtime's configuration) now serves, since when, and with
        which versions of the Secrets its options came from."""
        st = self.ctx.runtime.status = self.ctx.runtime.status or RuntimeStatus()
        st.mounts = [to_json(m) for m in mounts]
        st.mount_time = self.now_iso()
        if secret_versions is not None:
            st.mount_secret_versions = secret_versions or None

    def _recorded_secret_versions(self) -> dict[str, str]:
        st = self.ctx.runtime.status
        return dict(st.mount_secret_versions or {}) if st is not None else {}

    def _rotated_secrets(self) -> list[str]:
        recorded = self._recorded_secret_versions()
        return ufs.rotated_secrets(recorded, ufs.live_versions(self.gw, self.ns, recorded))

    def _reconcile_mounts(self) -> list[str]:
        """Make the cache's mount table match the Dataset; returns what it did, for events."""
        ds = self.ctx.dataset
        if ds is None:
            raise RuntimeError(f"{self.ref}: no Dataset {self.ns}/{self.name} to take the mounts from")
        try:
            resolved = ufs.resolve(self.gw, ds, ufs.ufs_mounts(ds))
        except ufs.MountSecretMissing as exc:
            raise CacheCommandError(str(exc)) from None
        secrets = ufs.secret_values(resolved)
        live = self.list_mounts() if resolved or self._applied_ufs_records() else {}
        applied = {from_json(Mount, r).effective_path: r for r in self._applied_ufs_records()}
        wanted = {m.path: m for m in resolved}
        rotated = set(ufs.rotated_secrets(self._recorded_secret_versions(), ufs.secret_versions(resolved)))
        actions = []
        for path, entry in sorted(live.items()):
            if path == "/":
                continue
            want = wanted.get(path)
            if want is None:
                if path in applied:  # ours and no longer wanted; mounts made by others stay
                    self.run(self.unmount_argv(path), secrets)
                    actions.append(f"unmounted {path}")
                    del live[path]
                continue
            if entry.ufs != want.ufs or (entry.read_only is not None and entry.read_only != want.read_only) \
                    or (path in applied and applied[path] != want.record()):
                self.run(self.unmount_argv(path), secrets)
                actions.append(f"unmounted {path} to mount it again with its new settings")
                del live[path]
            elif path in applied and (changed := sorted(rotated & set(want.secret_versions))):
                self.run(self.unmount_argv(path), secrets)
                actions.append(f"unmounted {path} to mount it again with the changed Secret {', '.join(changed)}")
                del live[path]
        restarted = self._master_restarted()
        for path, want in wanted.items():
            if path not in live:
                try:
                    self.run(self.mount_argv(want), secrets)
                except CacheCommandError as exc:
                    raise CacheCommandError(
                        f"{exc}; check spec.mounts[{want.index}] of Dataset {ds.key}: the mountPoint must exist "
                        "and its options and encryptOptions must be what the UFS expects") from None
                verb = "mounted again" if restarted and path in applied else "mounted"
                actions.append(f"{verb} {want.ufs} at {path}")
        self._record_mounts(list(ds.spec.mounts or []), ufs.secret_versions(resolved))
        return actions

    def _master_pod(self) -> Obj | None:
        return self._get(POD, self.master_pod)

    def _master_running(self) -> bool:
        """The master container runs and is ready: only then can a command in it do anything."""
        pod = self._master_pod()
        if pod is None or pod["metadata"].get("deletionTimestamp") or (pod.get("status") or {}).get("phase") \
                != "Running":
            return False
        return any(c.get("name") == self.CONTAINER["master"] and c.get("ready")
                   for c in (pod.get("status") or {}).get("containerStatuses") or [])

    def _master_started(self) -> datetime | None:
        pod = self._master_pod()
        for status in ((pod or {}).get("status") or {}).get("containerStatuses") or []:
            if status.get("name") == self.CONTAINER["master"]:
                return report.parse_time(((status.get("state") or {}).get("running") or {}).get("startedAt"))
        return None

    def _master_restarted(self) -> bool:
        """The master container started after the last mount: its mount table may be gone."""
        st = self.ctx.runtime.status
        mounted = report.parse_time(st.mount_time if st else None)
        if mounted is None:
            return True
        started = self._master_started()
        return started is not None and started > mounted

    # == commands in the master =====================================================================

    def run(self, argv: Sequence[str], secrets: Sequence[str] = (), timeout: float | None = None) -> str:
        """Run ``argv`` in the master container; the output, or CacheCommandError."""
        pod, container = self.master_pod, self.CONTAINER["master"]
        limit = timeout if timeout is not None else float(
            self.ctx.settings.get("cache_command_timeout", DEFAULT_COMMAND_TIMEOUT))
        shown = ufs.describe(argv, secrets)
        try:
            result = self.gw.exec(self.ns, pod, container, list(argv), limit)
        except NotFound:
            raise CacheCommandError(f"{self.ref}: cannot run `{shown}`: pod {self.ns}/{pod} does not exist; "
                                    "it comes back with the master StatefulSet") from None
        except Exception as exc:  # exec errors (timeouts, websocket failures) may quote the command line
            raise CacheCommandError(f"{self.ref}: `{shown}` in pod {self.ns}/{pod} failed: "
                                    f"{ufs.redact(str(exc), secrets)}") from None
        if result.code != 0:
            output = ufs.redact((result.stderr.strip() or result.stdout.strip())[-400:], secrets)
            raise CacheCommandError(f"{self.ref}: `{shown}` in pod {self.ns}/{pod} exited with status "
                                    f"{result.code}: {output or 'no output'}")
        return result.stdout

    # == teardown ===================================================================================

    def shutdown(self) -> None:
        """Clean the cache (bounded), then node labels, workloads, services and ConfigMaps.

        Works without the master pod (nothing to clean) and without the Dataset (names and label
        keys come from the runtime's namespace and name alone).
        """
        self._clean_cache()
        for node in self.gw.list(NODE):
            changes = placement.node_patch(node, {}, self.RUNTIME_TYPE, self.ns, self.name, keep_fuse_label=False)
            if changes:
                placement.apply_node_labels(self.gw, node, changes)
        self._delete(DAEMON_SET, self.object_name("fuse"))
        self._delete(STATEFUL_SET, self.object_name("worker"))
        self._delete(STATEFUL_SET, self.object_name("master"))
        for svc in self.gw.list(SERVICE, self.ns, labels=self.selector("master")):
            self._delete(SERVICE, svc["metadata"]["name"])
        for cm in self.gw.list(CONFIG_MAP, self.ns, labels=self.object_labels):
            self._delete(CONFIG_MAP, cm["metadata"]["name"])
        self._port_reservations.release(self.ctx.runtime.metadata.uid or self.ref)
        MetadataSync(self).forget()

    def _clean_cache(self) -> None:
        """Free the cache, retried up to maxRetryAttempts times (``ctx.attempts`` counts failed
        passes), each bounded by gracePeriodSeconds; then the cache is given up and deletion goes on."""
        if not self.has_master or not self.has_workers:
            return
        policy = self.clean_cache_policy
        grace, retries = policy.effective_grace_period_seconds, policy.effective_max_retry_attempts
        if grace == 0:
            return
        if not self._master_running():
            self.ctx.log.info("%s: no running master, so no cache to clean", self.ref)
            return
        if self.ctx.attempts > retries:
            return
        try:
            self.run(self.clean_cache_argv(), timeout=float(grace))
        except CacheCommandError as exc:
            if self.ctx.attempts >= retries:
                self.ctx.event("Warning", "CacheCleanAbandoned",
                               f"{exc}; gave up after {retries + 1} attempts (cleanCachePolicy.maxRetryAttempts="
                               f"{retries}); deleting the runtime without cleaning its cache")
                return
            raise CacheCommandError(f"{exc}; attempt {self.ctx.attempts + 1} of {retries + 1} "
                                    "(cleanCachePolicy.maxRetryAttempts)") from None

    # == storage figures ============================================================================

    def used_storage_bytes(self) -> int:
        return self.cache_report().used if self.has_workers else 0

    def free_storage_bytes(self) -> int:
        if not self.has_workers:
            return 0
        cache = self.cache_report()
        return max(cache.capacity - cache.used, 0)

    def total_storage_bytes(self) -> int:
        if not self.has_master:
            return 0
        _, size = self.metadata([m.effective_path for _, m in ufs.ufs_mounts(self.ctx.dataset)], load=False)
        return size or 0

    def total_file_nums(self) -> int:
        if not self.has_master:
            return 0
        files, _ = self.metadata([m.effective_path for _, m in ufs.ufs_mounts(self.ctx.dataset)], load=False)
        return files

    # == checks =====================================================================================

    def validate(self) -> None:
        errors = [*self._tier_errors(), *self._mount_errors(), *self.engine_errors()]
        if errors:
            raise InvalidSpec(self.ref, errors)

    def _tier_errors(self) -> list[FieldError]:
        errors = []
        seen: dict[str, int] = {}
        for i, level in enumerate(self.levels):
            at = f"spec.tieredstore.levels[{i}]"
            if level.mediumtype in seen:
                errors.append(FieldError(f"{at}.mediumtype",
                                         f"{level.mediumtype} is also levels[{seen[level.mediumtype]}]",
                                         "merge the two tiers into one level with several paths"))
            seen.setdefault(level.mediumtype, i)
            if not level.quota and not level.quota_list:
                errors.append(FieldError(f"{at}.quota", f"the {level.mediumtype} tier has no quota",
                                         "set quota, e.g. quota: 2Gi, so the cache knows its size"))
            if level.mediumtype != "MEM" and not level.path:
                errors.append(FieldError(f"{at}.path", f"the {level.mediumtype} tier has no path",
                                         "set path to a local directory, e.g. /mnt/cache"))
            if level.quota_list:
                quotas = [q for q in level.quota_list.split(",") if q]
                paths = [p for p in (level.path or "").split(",") if p]
                if len(quotas) != len(paths):
                    errors.append(FieldError(f"{at}.quotaList", f"{len(quotas)} quotas for {len(paths)} paths",
                                             "give one quota per comma-separated path"))
                for q in quotas:
                    try:
                        report.quantity_bytes(q)
                    except ValueError:
                        errors.append(FieldError(f"{at}.quotaList", f"{q!r} is not a quantity",
                                                 "use sizes such as 1Gi,2Gi"))
        return errors

    def _mount_errors(self) -> list[FieldError]:
        ds = self.ctx.dataset
        errors = []
        for i, mount in enumerate(ds.spec.mounts or [] if ds else []):
            at = f"Dataset {ds.key if ds else ''} spec.mounts[{i}]"
            if scheme_of(mount.mount_point) in ufs.UNSUPPORTED_SCHEMES:
                errors.append(FieldError(f"{at}.mountPoint", f"{self.ctx.kind.kind} cannot serve "
                                         f"{mount.mount_point!r}", "use a ThinRuntime for dataset:// references"))
            if mount.effective_path == "/":
                errors.append(FieldError(f"{at}.name", "the mount would replace the cache's root",
                                         "give the mount a name or a path such as /data"))
        return errors

