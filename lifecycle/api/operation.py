"""What the four data operations share: their policy, the ``runAfter`` reference, and their status.

A data operation (DataLoad, DataBackup, DataMigrate, DataProcess) is one piece of work against one
Dataset. Its status is the reference's ``OperationStatus`` field for field (``phase``, ``duration``,
``conditions``, ``infos``, ``lastScheduleTime``, ...), so ``kubectl get`` and tools written for the
reference read it unchanged; the operation machine (``lifecycle.machine.tables.OPERATION``) is
restored from ``phase`` and the few fields this project adds (``lifecycle``, ``progress``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

import attrs

from lifecycle.api._model import Rule, extra_field, field
from lifecycle.api.dataset import NO_CONTROL
from lifecycle.api.meta import API_VERSION, ObjectMeta

OPERATION_KINDS = ("DataLoad", "DataBackup", "DataMigrate", "DataProcess")
POLICIES = ("Once", "Cron", "OnEvent")
# .status.phase of an operation; "" before the first reconcile.
OPERATION_PHASES = ("", "Pending", "Executing", "Complete", "Failed")
AFFINITY_POLICIES = ("", "Require", "Prefer")


@attrs.define
class Prefer:
    name: str = field(required=True, doc="Node label key shared with the preceding operation's pods.")
    weight: int = field(required=True, minimum=1)
    extra: dict[str, Any] = extra_field()


@attrs.define
class Require:
    name: str = field(required=True, doc="Node label key shared with the preceding operation's pods.")
    extra: dict[str, Any] = extra_field()


@attrs.define
class AffinityStrategy:
    policy: str | None = field(enum=AFFINITY_POLICIES, fix="use Require, Prefer or leave it empty")
    prefer: list[Prefer] | None = field()
    require: list[Require] | None = field()
    extra: dict[str, Any] = extra_field()


@attrs.define
class OperationRef:
    """The operation this one runs after (``spec.runAfter``)."""

    kind: str = field(required=True, enum=OPERATION_KINDS, fix="use DataLoad, DataBackup, DataMigrate or DataProcess",
                      doc="Kind of the preceding operation.")
    name: str = field(required=True, min_length=1, max_length=253, rules=(NO_CONTROL,),
                      doc="Name of the preceding operation.")
    namespace: str | None = field(doc="Its namespace; defaults to this operation's.")
    api_version: str | None = field()
    affinity_strategy: AffinityStrategy | None = field()
    extra: dict[str, Any] = extra_field()


@attrs.define
class OperationCondition:
    """A condition of an operation: ``Complete`` or ``Failed`` as in the reference, and ``Waiting``
    while it cannot start (the reason says for what)."""

    type: str = field(required=True)
    status: str = field(required=True, enum=("True", "False", "Unknown"))
    reason: str | None = field()
    message: str | None = field()
    last_probe_time: str | None = field(fmt="date-time")
    last_transition_time: str | None = field(fmt="date-time")
    extra: dict[str, Any] = extra_field()


@attrs.define
class WaitingStatus:
    operation_complete: bool | None = field(doc="Whether the operation of spec.runAfter is complete.")
    extra: dict[str, Any] = extra_field()


@attrs.define
class OperationLifecycle:
    """What the operation machine needs besides ``phase`` to resume after a restart."""

    state: str = field(required=True, doc="State of the operation machine.")
    job: str | None = field(doc="The Job (or Pod) of the current run.")
    run: int | None = field(minimum=0, doc="How many runs have started.")
    started: str | None = field(fmt="date-time", doc="When the current or last run started.")
    finished: str | None = field(fmt="date-time", doc="When the last run ended.")
    seen: str | None = field(doc="OnEvent: what of the Dataset and runtime the last run saw.")
    reason: str | None = field(doc="Why it does not move, when it waits.")
    message: str | None = field()
    extra: dict[str, Any] = extra_field()


@attrs.define
class OperationStatus:
    phase: str | None = field(enum=OPERATION_PHASES)
    duration: str | None = field(doc="How long the last run took (or the current one so far).")
    conditions: list[OperationCondition] = field(factory=list, required=True)
    infos: dict[str, str] | None = field(doc="Details of the operation, e.g. the backup's location.")
    last_schedule_time: str | None = field(fmt="date-time")
    last_successful_time: str | None = field(fmt="date-time")
    waiting_for: WaitingStatus | None = field()
    node_labels: dict[str, str] | None = field()
    progress: str | None = field(doc="How far the current run is, e.g. 3/8 files (37.5%).")
    lifecycle: OperationLifecycle | None = field()
    extra: dict[str, Any] = extra_field()


# Every kind's spec has these (DataProcess and DataBackup have no policy of their own in the
# reference, and keep them absent).
SCHEDULE_RULE = Rule("!has(self.policy) || self.policy != 'Cron' || (has(self.schedule) && self.schedule != '')",
                     "policy Cron needs a schedule; set spec.schedule, e.g. '*/5 * * * *'")


@attrs.define
class TargetDataset:
    name: str = field(required=True, min_length=1, max_length=253, doc="The Dataset the operation works on.")
    namespace: str | None = field(doc="Its namespace; must be the operation's own.")
    extra: dict[str, Any] = extra_field()


class OperationSpec(Protocol):
    """What every kind's spec has: its predecessor and how long it stays once finished."""

    run_after: OperationRef | None
    ttl_seconds_after_finished: int | None


class Operation:
    """What the operation machine reads of any of the four kinds (each kind's class provides it)."""

    KIND: ClassVar[str] = ""
    SHORT_NAME: ClassVar[str] = ""
    PLURAL: ClassVar[str] = ""
    metadata: ObjectMeta
    spec: OperationSpec
    status: OperationStatus | None
    api_version: str
    kind: str

    @property
    def key(self) -> str:
        return f"{self.metadata.namespace}/{self.metadata.name}"

    @property
    def ref(self) -> str:
        return f"{self.KIND} {self.key}"

    @property
    def dataset_name(self) -> str | None:
        raise NotImplementedError

    @property
    def dataset_namespace(self) -> str | None:
        """The namespace a spec names for its Dataset, if it names one."""
        return None

    @property
    def policy(self) -> str:
        return "Once"

    @property
    def schedule(self) -> str | None:
        return None

    @property
    def run_after(self) -> OperationRef | None:
        return self.spec.run_after

    @property
    def ttl_seconds_after_finished(self) -> int | None:
        return self.spec.ttl_seconds_after_finished


__all__ = [
    "AFFINITY_POLICIES",
    "API_VERSION",
    "OPERATION_KINDS",
    "OPERATION_PHASES",
    "POLICIES",
    "SCHEDULE_RULE",
    "AffinityStrategy",
    "Operation",
    "OperationCondition",
    "OperationLifecycle",
    "OperationRef",
    "OperationSpec",
    "OperationStatus",
    "Prefer",
    "Require",
    "TargetDataset",
    "WaitingStatus",
]
