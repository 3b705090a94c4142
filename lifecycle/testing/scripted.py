"""A scriptable engine for lifecycle tests: real objects through the gateway, faults on demand.

It makes what a cache engine makes, in miniature: a master and a worker StatefulSet, a fuse
DaemonSet, a ConfigMap recording the mounted UFS (owned by the master, so losing the master
loses the mounts, as with a real cache), the PV/PVC and node labels. A ``Script`` shared with
the test decides which hooks fail, and records what the engine saw when it set up workers.
"""

from __future__ import annotations

from typing import Any

import attrs

from lifecycle.api import to_json
from lifecycle.api.dataset import HCFSStatus
from lifecycle.api.meta import Condition, set_condition
from lifecycle.api.operation import Operation
from lifecycle.api.runtime import Runtime, RuntimeStatus
from lifecycle.engine.contract import EngineContext, ImplementBase
from lifecycle.engine.kind import RuntimeKind
from lifecycle.engine.operations import job_manifest
from lifecycle.engine.registry import Registry
from lifecycle.k8s.gateway import CONFIG_MAP, DAEMON_SET, NODE, STATEFUL_SET, Obj, owner_reference
from lifecycle.k8s.naming import common_label, fuse_label, runtime_label
from lifecycle.k8s.volume import create_volume, delete_volume
from lifecycle.machine.phases import component_phase, runtime_ready


@attrs.define
class ScriptedRuntime(Runtime):
    KIND = "ScriptedRuntime"


KIND = RuntimeKind(kind="ScriptedRuntime", runtime_type="scripted", model=ScriptedRuntime)


class HookFault(RuntimeError):
    pass


@attrs.define
class Script:
    """What the test wants the engine to do, and what the engine observed."""

    failing: set[str] = attrs.field(factory=set)
    # the data operations the engine runs itself (DataProcess, the lifecycle's own, runs on any runtime)
    kinds: tuple[str, ...] = ("DataLoad", "DataBackup", "DataMigrate")
    calls: list[str] = attrs.field(factory=list)
    # (master ready, UFS prepared for the current mounts) each time setup_workers ran
    worker_setups: list[tuple[bool, bool]] = attrs.field(factory=list)


class ScriptedEngine(ImplementBase):
    def __init__(self, ctx: EngineContext, script: Script):
        super().__init__(ctx)
        self.script = script
        self.gw = ctx.gateway
        self.ns, self.name = ctx.namespace, ctx.name

    def __getattribute__(self, name: str) -> Any:
        attr = super().__getattribute__(name)
        if not (callable(attr) and not name.startswith("_") and name in type(self).__dict__):
            return attr
        script = super().__getattribute__("script")

        def hook(*args: Any, **kwargs: Any) -> Any:
            script.calls.append(name)
            if name in script.failing:
                raise HookFault(f"scripted failure of {name}")
            return attr(*args, **kwargs)

        return hook

    # -- helpers -------------------------------------------------------------------------------

    def _owned(self, obj: Obj) -> Obj:
        obj["metadata"]["ownerReferences"] = [owner_reference(to_json(self.ctx.runtime))]
        return obj

    def _sts(self, role: str) -> Obj | None:
        return self.gw.get(STATEFUL_SET, self.ns, f"{self.name}-{role}")

    def _pod_meta(self, role: str) -> dict[str, Any]:
        # spec.podAnnotations (kept as an unmodelled field) lets benchmarks skip kwok's start delays.
        meta: dict[str, Any] = {"labels": {"release": self.name, "role": role}}
        annotations = self.ctx.runtime.spec.extra.get("podAnnotations")
        if annotations:
            meta["annotations"] = dict(annotations)
        return meta

    def _make_sts(self, role: str, replicas: int) -> None:
        self.ctx.owner.create(self._owned({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": f"{self.name}-{role}", "namespace": self.ns},
            "spec": {"replicas": replicas, "serviceName": f"{self.name}-{role}",
                     "selector": {"matchLabels": {"release": self.name, "role": role}},
                     "template": {"metadata": self._pod_meta(role),
                                  "spec": {"containers": [{"name": role, "image": "scripted"}]}}},
        }), STATEFUL_SET)

    @staticmethod
    def _ready(sts: Obj | None) -> int:
        return int(((sts or {}).get("status") or {}).get("readyReplicas") or 0)

    def _mount_table(self) -> list[Any]:
        ds = self.ctx.dataset
        return [to_json(m) for m in (ds.spec.mounts or [])] if ds else []

    def _ufs_record(self) -> Obj | None:
        return self.gw.get(CONFIG_MAP, self.ns, f"{self.name}-ufs")

    def _ufs_prepared(self) -> bool:
        rec = self._ufs_record()
        return rec is not None and rec.get("data", {}).get("mounts") == repr(self._mount_table())

    def _write_ufs(self) -> None:
        master = self._sts("master")
        if master is None:
            raise HookFault("no master to mount the UFS in")
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": f"{self.name}-ufs", "namespace": self.ns,
                             "ownerReferences": [owner_reference(master)]},
                "data": {"mounts": repr(self._mount_table())}}
        self.ctx.owner.apply(body, CONFIG_MAP, self._ufs_record())

    @property
    def replicas(self) -> int:
        return self.ctx.runtime.spec.replicas if self.ctx.runtime.spec.replicas is not None else 1

    # -- setup ---------------------------------------------------------------------------------

    def _fuse(self) -> Obj | None:
        return self.gw.get(DAEMON_SET, self.ns, f"{self.name}-fuse")

    def should_setup_master(self) -> bool:
        # Everything setup_master makes, not just the first object: a crash between two creates
        # must not leave the second one missing for ever.
        return self._sts("master") is None or self._fuse() is None

    def setup_master(self) -> None:
        if self._sts("master") is None:
            self._make_sts("master", 1)
        if self._fuse() is None:
            self.ctx.owner.create(self._owned({
                "apiVersion": "apps/v1", "kind": "DaemonSet",
                "metadata": {"name": f"{self.name}-fuse", "namespace": self.ns},
                "spec": {"selector": {"matchLabels": {"release": self.name, "role": "fuse"}},
                         "template": {"metadata": self._pod_meta("fuse"),
                                      "spec": {"nodeSelector": {fuse_label(self.ctx.dataset_key): "true"},
                                               "containers": [{"name": "fuse", "image": "scripted"}]}}},
            }), DAEMON_SET)

    def check_master_ready(self) -> bool:
        return self._ready(self._sts("master")) >= 1

    def should_check_ufs(self) -> bool:
        return not self._ufs_prepared()

    def prepare_ufs(self) -> None:
        self._write_ufs()

    def should_setup_workers(self) -> bool:
        worker = self._sts("worker")
        return worker is None or worker["spec"].get("replicas") != self.replicas

    def setup_workers(self) -> None:
        # The UFS must have been prepared; mounts that changed since are Sync's to apply once Ready.
        self.script.worker_setups.append((self.check_master_ready(), self._ufs_record() is not None))
        if self._sts("worker") is None:
            self._make_sts("worker", self.replicas)
        else:
            self.sync_replicas()

    def check_workers_ready(self) -> bool:
        return self.replicas == 0 or self._ready(self._sts("worker")) >= 1

    def check_and_update_runtime_status(self) -> bool:
        rt = self.ctx.runtime
        master, worker = self._sts("master"), self._sts("worker")
        st = rt.status or RuntimeStatus()
        old = to_json(st)
        m_ready, w_ready = self._ready(master), self._ready(worker)
        w_desired = int(((worker or {}).get("spec") or {}).get("replicas") or 0)
        st.desired_master_number_scheduled = st.current_master_number_scheduled = 1 if master else 0
        st.master_number_ready = m_ready
        st.master_phase = component_phase(1, m_ready)
        st.desired_worker_number_scheduled = self.replicas
        st.current_worker_number_scheduled = w_desired
        st.worker_number_ready = w_ready
        st.worker_phase = component_phase(self.replicas, w_ready)
        st.fuse_phase = "Ready"
        st.value_file = f"{self.name}-scripted-values"
        st.selector = f"release={self.name},role=worker"
        now = self.ctx.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        st.conditions = st.conditions or []
        for ctype, ok in (("MasterReady", m_ready >= 1), ("WorkersReady", w_ready >= 1 or self.replicas == 0)):
            set_condition(st.conditions, Condition(
                type=ctype, status="True" if ok else "False", reason="Ready" if ok else "NotReady"), now,
                stamp="last_probe_time")
        ready = runtime_ready(1, m_ready, self.replicas, w_ready)
        if to_json(st) != old or rt.status is None:
            rt.status = st
        return ready

    # -- binding, volume, sync -----------------------------------------------------------------

    def bind_to_dataset(self) -> None:
        super().bind_to_dataset()
        ds = self.ctx.dataset
        assert ds is not None and ds.status is not None
        ds.status.hcfs = HCFSStatus(endpoint=f"scripted://{self.name}-master-0.{self.ns}:1000")

    def create_volume(self) -> None:
        assert self.ctx.dataset is not None
        create_volume(self.ctx.owner, self.ctx.dataset, self.ctx.volume, self.name,
                      f"/runtime-mnt/scripted/{self.ns}/{self.name}/scripted-fuse", "fuse.scripted")

    def delete_volume(self) -> None:
        delete_volume(self.ctx.owner, self.ctx.volume)

    def check_runtime_healthy(self) -> bool:
        master, worker = self._sts("master"), self._sts("worker")
        return master is not None and worker is not None and self._fuse() is not None and self._ready(master) >= 1

    def sync_replicas(self) -> None:
        worker = self._sts("worker")
        if worker is not None and worker["spec"].get("replicas") != self.replicas:
            self.gw.patch(STATEFUL_SET, self.ns, f"{self.name}-worker", {"spec": {"replicas": self.replicas}})

    def should_sync_dataset_mounts(self) -> bool:
        return not self._ufs_prepared()

    def sync_dataset_mounts(self) -> None:
        self._write_ufs()
        ds = self.ctx.dataset
        if ds is not None and ds.status is not None:
            ds.status.mounts = list(ds.spec.mounts or [])

    def _label_keys(self) -> tuple[str, str]:
        return runtime_label("scripted", self.ctx.dataset_key), common_label(self.ctx.dataset_key)

    def _set_node_labels(self, node: Obj, value: str | None) -> None:
        labels = dict.fromkeys(self._label_keys(), value)
        self.gw.patch(NODE, None, node["metadata"]["name"], {"metadata": {"labels": labels}})

    def sync_schedule_info_to_cache_nodes(self) -> None:
        nodes = sorted(self.gw.list(NODE), key=lambda n: n["metadata"]["name"])
        want = {n["metadata"]["name"] for n in nodes[: self.replicas]}
        for node in nodes:
            labels = node["metadata"].get("labels") or {}
            if node["metadata"]["name"] in want:
                if any(labels.get(k) != "true" for k in self._label_keys()):
                    self._set_node_labels(node, "true")
            elif any(k in labels for k in self._label_keys()):
                self._set_node_labels(node, None)

    # -- teardown and storage -----------------------------------------------------------------

    def shutdown(self) -> None:
        # A runtime that never claimed its Dataset labelled no node: those keys may be another pair's.
        for node in self.gw.list(NODE) if self.ctx.claimed else []:
            if any(k in (node["metadata"].get("labels") or {}) for k in self._label_keys()):
                self._set_node_labels(node, None)
        for res, obj_name in ((STATEFUL_SET, "worker"), (STATEFUL_SET, "master"), (DAEMON_SET, "fuse"),
                              (CONFIG_MAP, "ufs")):
            self.ctx.owner.delete(res, self.gw.get(res, self.ns, f"{self.name}-{obj_name}"))

    def used_storage_bytes(self) -> int:
        return 0

    def free_storage_bytes(self) -> int:
        return 0

    def total_storage_bytes(self) -> int:
        return 0

    def total_file_nums(self) -> int:
        return 0

    # -- data operations: a one-pod Job per run, of the kinds the script says --------------------

    def operation_kinds(self) -> tuple[str, ...]:
        return self.script.kinds

    def operation_job(self, op: Operation, name: str) -> Obj:
        return job_manifest(name, self.ns, "scripted:latest", ["scripted", op.KIND.lower(), self.name])

    def operation_progress(self, op: Operation, job: Obj) -> str | None:
        done = (job.get("status") or {}).get("succeeded") or 0
        return f"{done}/1"


def register(registry: Registry, script: Script | None = None) -> Script:
    script = script or Script()
    registry.register(KIND, lambda ctx: ScriptedEngine(ctx, script))
    return script
