"""The engine contract: Fluid's ``Implement`` hooks as a Python protocol.

A runtime kind provides an ``Implement``: the steps (set up a master, mount the UFS, report
capacity, ...). The template engine (``lifecycle.reconcile.template``) decides their order by running the
runtime machine of ``lifecycle.machine.tables``; an ``Implement`` never calls another hook to sequence
work. Hooks return plainly or raise: a raised hook is reported (event, condition, retry with
backoff), never fatal. ``Should*``/``Check*`` hooks must only read.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import attrs

from lifecycle.api import to_json
from lifecycle.api.dataset import Dataset, DatasetStatus, RuntimeInfo
from lifecycle.api.meta import Condition, find_condition, set_condition
from lifecycle.api.operation import Operation
from lifecycle.api.runtime import Runtime
from lifecycle.engine.background import Background
from lifecycle.engine.kind import RuntimeKind
from lifecycle.engine.operations import Unsupported
from lifecycle.k8s.gateway import Gateway, Obj
from lifecycle.k8s.naming import DATASET_ID_LABEL, dataset_id, recorded_key
from lifecycle.k8s.ownership import Owner
from lifecycle.k8s.redaction import redact
from lifecycle.k8s.volume import VolumeRef


@attrs.define
class EngineContext:
    """Everything a hook may use. Built afresh for every reconcile: engines keep no memory."""

    runtime: Runtime
    dataset: Dataset | None
    # In the operator reads come from its caches (Secrets from the API server); they keep pods
    # and pod templates with their containers' names only (lifecycle.operator.projections).
    gateway: Gateway
    kind: RuntimeKind
    now: Callable[[], datetime]
    log: logging.LoggerAdapter[logging.Logger]
    attempts: int = 0  # consecutive failed attempts in the current lifecycle state
    settings: dict[str, Any] = attrs.field(factory=dict)
    background: Background = attrs.field(factory=Background)  # long work; see lifecycle.engine.background
    # What engines share between passes and threads of one process, e.g. host ports being handed
    # out (engines.cache.ports). Never needed after a restart: the cluster holds the truth.
    shared: dict[str, Any] = attrs.field(factory=dict)
    requeue_hint: float | None = None
    # Secret values the engine has seen this pass: every message it sends out passes ``redact`` first.
    known_secrets: set[str] = attrs.field(factory=set, repr=False)

    def requeue_after(self, seconds: float) -> None:
        """Ask for the next pass within ``seconds`` (e.g. to collect background work)."""
        self.requeue_hint = seconds if self.requeue_hint is None else min(self.requeue_hint, seconds)

    @property
    def namespace(self) -> str:
        return self.runtime.metadata.namespace or ""

    @property
    def claimed(self) -> bool:
        """The runtime has claimed its Dataset (so names and labels derived from its key are its own)."""
        return DATASET_ID_LABEL in (self.runtime.metadata.labels or {})

    @property
    def dataset_key(self) -> str:
        """The pair's key (``lifecycle.k8s.naming``): the body of its PV name and node label keys."""
        ds = self.dataset.metadata.annotations if self.dataset else None
        return recorded_key(self.namespace, self.name, self.runtime.metadata.annotations, ds)

    @property
    def dataset_id(self) -> str:
        """The value of ``fluid.io/dataset-id`` on everything of the pair."""
        recorded = (self.runtime.metadata.labels or {}).get(DATASET_ID_LABEL)
        return recorded or dataset_id(self.dataset_key, self.dataset.metadata.uid if self.dataset else None)

    @property
    def volume(self) -> VolumeRef:
        return VolumeRef(self.namespace, self.name, self.dataset_key, self.dataset_id)

    @property
    def owner(self) -> Owner:
        """The gateway as this runtime may use it: only its own objects are changed."""
        return Owner(self.gateway, self.runtime.metadata.uid or self.runtime.ref, self.runtime.ref)

    @property
    def name(self) -> str:
        return self.runtime.metadata.name or ""

    def event(self, type_: str, reason: str, message: str) -> None:
        self.gateway.event(to_json(self.runtime), type_, reason, self.redact(message))

    def redact(self, text: str) -> str:
        """``text`` without any secret value this pass has seen, in any of its printed forms."""
        return redact(text, self.known_secrets) if self.known_secrets else text


@runtime_checkable
class Implement(Protocol):
    """Every hook of the reference: the seed's 22 and the later additions."""

    # Setup, in the order the runtime machine runs them.
    def should_setup_master(self) -> bool: ...
    def setup_master(self) -> None: ...
    def check_master_ready(self) -> bool: ...
    def should_check_ufs(self) -> bool: ...
    def prepare_ufs(self) -> None: ...
    def should_setup_workers(self) -> bool: ...
    def setup_workers(self) -> None: ...
    def check_workers_ready(self) -> bool: ...
    def check_and_update_runtime_status(self) -> bool: ...
    def check_runtime_ready(self) -> bool: ...
    def assign_nodes_to_cache(self, desired: int) -> int: ...

    # Binding and the Dataset's status.
    def bind_to_dataset(self) -> None: ...
    def update_dataset_status(self, phase: str) -> None: ...
    def update_cache_of_dataset(self) -> None: ...

    # Volume.
    def create_volume(self) -> None: ...
    def delete_volume(self) -> None: ...

    # Sync.
    def sync_metadata(self) -> None: ...
    def sync_replicas(self) -> None: ...
    def sync_runtime(self) -> bool: ...
    def check_runtime_healthy(self) -> bool: ...
    def should_sync_dataset_mounts(self) -> bool: ...
    def sync_dataset_mounts(self) -> None: ...
    def should_update_ufs(self) -> bool: ...
    def update_on_ufs_change(self) -> None: ...
    def sync_schedule_info_to_cache_nodes(self) -> None: ...

    # Teardown.
    def shutdown(self) -> None: ...

    # Under file system service.
    def used_storage_bytes(self) -> int: ...
    def free_storage_bytes(self) -> int: ...
    def total_storage_bytes(self) -> int: ...
    def total_file_nums(self) -> int: ...

    # Spec checks beyond the schema.
    def validate(self) -> None: ...


IMPLEMENT_HOOKS = tuple(
    name for name in Implement.__dict__ if not name.startswith("_") and callable(getattr(Implement, name))
)


class ImplementBase:
    """Defaults for the hooks most engines do not need to change.

    Subclasses set ``self.ctx``; the storage hooks and the setup steps have no sensible default
    and are left to the engine.
    """

    ctx: EngineContext

    def __init__(self, ctx: EngineContext):
        self.ctx = ctx

    def check_runtime_ready(self) -> bool:
        return self.check_master_ready() and self.check_workers_ready()

    def check_master_ready(self) -> bool:
        raise NotImplementedError

    def check_workers_ready(self) -> bool:
        raise NotImplementedError

    def assign_nodes_to_cache(self, desired: int) -> int:
        return desired

    def update_dataset_status(self, phase: str) -> None:
        """The Dataset's conditions follow its phase, whichever pass moved it: Ready while Bound, not
        while Failed, Updating while changed mounts are applied. (Not only at binding: an operator
        restarted after the runtime became Ready binds the Dataset in a later pass.)"""
        ds = self.ctx.dataset
        if ds is None or ds.status is None or not ds.status.runtimes:
            return
        now, gen, conditions = self.ctx.now().strftime("%Y-%m-%dT%H:%M:%SZ"), ds.metadata.generation, \
            ds.status.conditions
        if phase == "Bound":
            set_condition(conditions, Condition(type="Ready", status="True", reason="DatasetReady",
                                                message="The ddc runtime is ready.", observed_generation=gen), now)
            if find_condition(conditions, "Updating") is not None:
                set_condition(conditions, Condition(type="Updating", status="False", reason="DatasetReady",
                                                    message="The mounts are applied.", observed_generation=gen), now)
        elif phase == "Failed":
            set_condition(conditions, Condition(type="Ready", status="False", reason="DatasetFailed",
                                                message="The ddc runtime is not ready.", observed_generation=gen), now)
        elif phase == "Updating":
            set_condition(conditions, Condition(type="Updating", status="True", reason="DatasetUpdating",
                                                message="Applying the changed mounts.", observed_generation=gen), now)

    def bind_to_dataset(self) -> None:
        """The reference's binding: applied mounts, the runtime entry and Ready=True."""
        ds, rt = self.ctx.dataset, self.ctx.runtime
        if ds is None:
            raise RuntimeError(f"{rt.ref}: no Dataset to bind")
        status = ds.status = ds.status or DatasetStatus()
        status.mounts = copy.deepcopy(ds.spec.mounts or [])
        status.runtimes = [RuntimeInfo(
            name=self.ctx.name, namespace=self.ctx.namespace, category="Accelerate",
            type=self.ctx.kind.runtime_type,
            master_replicas=rt.status.desired_master_number_scheduled if rt.status else None,
        )]
        now = self.ctx.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        set_condition(status.conditions, Condition(
            type="Ready", status="True", reason="DatasetReady", message="The ddc runtime is ready.",
            observed_generation=ds.metadata.generation), now)
        if any(c.type == "NotReady" for c in status.conditions):
            set_condition(status.conditions, Condition(
                type="NotReady", status="False", reason="DatasetReady", message="The ddc runtime is ready.",
                observed_generation=ds.metadata.generation), now)

    def update_cache_of_dataset(self) -> None:
        """The Dataset shows the runtime's cacheStates."""
        ds, rt = self.ctx.dataset, self.ctx.runtime
        if ds is not None and ds.status is not None and rt.status is not None:
            ds.status.cache_states = dict(rt.status.cache_states) if rt.status.cache_states else None

    def sync_metadata(self) -> None:
        return None

    def sync_runtime(self) -> bool:
        return False

    def should_sync_dataset_mounts(self) -> bool:
        return False

    def sync_dataset_mounts(self) -> None:
        """An engine without mounts of its own accepts changed mounts as they are. It must be
        idempotent: it is called again while the Dataset's status lags its spec."""
        ds = self.ctx.dataset
        if ds is not None and ds.status is not None:
            ds.status.mounts = copy.deepcopy(ds.spec.mounts or [])

    def should_update_ufs(self) -> bool:
        return False

    def update_on_ufs_change(self) -> None:
        return None

    def sync_schedule_info_to_cache_nodes(self) -> None:
        return None

    def validate(self) -> None:
        return None

    # Data operations (``lifecycle.engine.operations``): none unless the engine says so.

    def operation_kinds(self) -> tuple[str, ...]:
        return ()

    def operation_job(self, op: Operation, name: str) -> Obj:
        raise Unsupported(f"{self.ctx.runtime.ref} cannot run {op.KIND}")

    def operation_progress(self, op: Operation, job: Obj) -> str | None:
        return None


BuildImplement = Callable[[EngineContext], Implement]
