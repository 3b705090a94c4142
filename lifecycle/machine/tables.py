"""The whole lifecycle as data: every state of a Dataset and a Runtime and every way between them.

How to read a row is said in ``lifecycle.machine.table``. Besides the rows, everything the
reconcile needs to know about the lifecycle is declared here, next to the states it concerns:
how long a pair rests in a state before it is looked at again (``requeue``), which
``.status.phase`` a Dataset state shows (``phase`` and ``dataset_phase``), how a machine's state is
read back from an object's status (``restore_runtime``, ``restore_dataset``), the Sync steps with
their intervals and flags, and the reason of the event a move sends (``event_reason``).

The reconcile fires, state by state, the triggers listed for the current state, in table order,
until none moves; the state is restored from the object's status before and written back after.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from lifecycle.machine.table import RESYNC, MachineTable, Rows, State, Step, SyncStep, event_reason

# --------------------------------------------------------------------------------------------
# Runtime: setup as explicit stages, then Ready (where Sync runs), then the deletion path.
# --------------------------------------------------------------------------------------------


class RuntimeState(StrEnum):
    NEW = "New"
    SETTING_UP_MASTER = "SettingUpMaster"
    PREPARING_UFS = "PreparingUFS"
    SETTING_UP_WORKERS = "SettingUpWorkers"
    CREATING_VOLUME = "CreatingVolume"
    BINDING = "Binding"
    READY = "Ready"
    DELETING_VOLUME = "DeletingVolume"
    SHUTTING_DOWN = "ShuttingDown"
    RELEASING = "Releasing"
    DELETED = "Deleted"


# Every hook a runtime row or Sync step may name: the engine's ``Implement`` hooks and the generic
# hooks of the template engine (``lifecycle.reconcile.template``); a test keeps the three in step.
RuntimeHook = Literal[
    # generic: the same for every runtime kind
    "deletion_requested", "spec_valid", "dataset_available", "claim_dataset", "volume_ready",
    "volume_released", "dataset_unbound", "remove_finalizer", "sync",
    # the engine's
    "should_setup_master", "setup_master", "check_master_ready", "should_check_ufs", "prepare_ufs",
    "should_setup_workers", "setup_workers", "check_workers_ready", "check_and_update_runtime_status",
    "check_runtime_ready", "assign_nodes_to_cache", "bind_to_dataset", "update_dataset_status",
    "update_cache_of_dataset", "create_volume", "delete_volume", "sync_metadata", "sync_replicas", "sync_runtime",
    "check_runtime_healthy", "should_sync_dataset_mounts", "sync_dataset_mounts", "should_update_ufs",
    "update_on_ufs_change", "sync_schedule_info_to_cache_nodes", "shutdown", "used_storage_bytes",
    "free_storage_bytes", "total_storage_bytes", "total_file_nums", "validate",
]

R = RuntimeState
runtime_row: Rows[RuntimeState, RuntimeHook] = Rows()

RUNTIME_SETUP = (R.NEW, R.SETTING_UP_MASTER, R.PREPARING_UFS, R.SETTING_UP_WORKERS, R.CREATING_VOLUME, R.BINDING)
RUNTIME_LIVE = (*RUNTIME_SETUP, R.READY)
RUNTIME_DELETION = (R.DELETING_VOLUME, R.SHUTTING_DOWN, R.RELEASING)
SETUP_REQUEUE = 20.0  # a runtime on its way: looked at again this often even when nothing it watches moves

RUNTIME: MachineTable[RuntimeState, RuntimeHook] = MachineTable(
    name="Runtime",
    initial=R.NEW,
    states=(
        State(R.NEW, "Created; waiting for its Dataset (same namespace and name) to exist and be free.",
              requeue=SETUP_REQUEUE),
        State(R.SETTING_UP_MASTER, "Master applied; waiting until it is ready.", requeue=SETUP_REQUEUE),
        State(R.PREPARING_UFS, "Master ready; mounting the under file systems.", requeue=SETUP_REQUEUE),
        State(R.SETTING_UP_WORKERS, "Workers applied; waiting until they and the runtime status are ready.",
              requeue=SETUP_REQUEUE),
        State(R.CREATING_VOLUME, "Runtime ready; creating the PV and PVC.", requeue=SETUP_REQUEUE),
        State(R.BINDING, "Volume ready; binding the Dataset.", requeue=SETUP_REQUEUE),
        State(R.READY, "Serving the bound Dataset; every reconcile runs the Sync steps.", requeue=RESYNC),
        State(R.DELETING_VOLUME, "Deletion requested; deleting PVC and PV (waits while pods use them).",
              requeue=SETUP_REQUEUE),
        State(R.SHUTTING_DOWN, "Cleaning the cache, then removing node labels, workloads and config.",
              requeue=SETUP_REQUEUE),
        State(R.RELEASING, "Unbinding the Dataset, then removing the finalizer.", requeue=SETUP_REQUEUE),
        State(R.DELETED, "Everything owned is gone; the object disappears.", final=True),
    ),
    transitions=(
        # Deletion comes first so that it wins over setup and sync in every live state.
        runtime_row("delete", RUNTIME_LIVE, R.DELETING_VOLUME, when=("deletion_requested",),
                    doc="The runtime is being deleted."),
        runtime_row("claim_dataset", R.NEW, R.SETTING_UP_MASTER, when=("spec_valid", "dataset_available"),
                    do="claim_dataset",
                    doc="Own the Dataset of the same name: owner reference, dataset-id labels, finalizer."),
        runtime_row("master_ready", R.SETTING_UP_MASTER, R.PREPARING_UFS,
                    step=Step("setup_master", should="should_setup_master"), when=("check_master_ready",)),
        runtime_row("master_lost", (R.PREPARING_UFS, R.SETTING_UP_WORKERS), R.SETTING_UP_MASTER,
                    unless=("check_master_ready",), doc="Setup starts over at the master if it is lost."),
        runtime_row("ufs_prepared", R.PREPARING_UFS, R.SETTING_UP_WORKERS,
                    step=Step("prepare_ufs", should="should_check_ufs")),
        runtime_row("workers_ready", R.SETTING_UP_WORKERS, R.CREATING_VOLUME,
                    step=Step("setup_workers", should="should_setup_workers"),
                    when=("check_workers_ready", "check_and_update_runtime_status")),
        runtime_row("volume_created", R.CREATING_VOLUME, R.BINDING, step=Step("create_volume"),
                    when=("volume_ready",)),
        runtime_row("bound", R.BINDING, R.READY, do="bind_to_dataset"),
        runtime_row("health_lost", R.READY, R.SETTING_UP_MASTER, unless=("check_runtime_healthy",),
                    doc="A lost or broken workload sends the runtime through setup again."),
        runtime_row("volume_lost", R.READY, R.CREATING_VOLUME, unless=("volume_ready",),
                    doc="A deleted PV or PVC is made again."),
        runtime_row("sync", R.READY, None, do="sync", doc="The Sync steps, in the order of SYNC_STEPS."),
        runtime_row("volume_deleted", R.DELETING_VOLUME, R.SHUTTING_DOWN, step=Step("delete_volume"),
                    when=("volume_released",)),
        runtime_row("shut_down", R.SHUTTING_DOWN, R.RELEASING, step=Step("shutdown")),
        runtime_row("released", R.RELEASING, R.DELETED, when=("dataset_unbound",), do="remove_finalizer"),
    ),
    # The reference's CheckAndUpdateRuntimeStatus: reports whether the runtime is ready and records
    # the component counts and conditions it read on the way.
    writing_guards=frozenset({"check_and_update_runtime_status"}),
)

# Sync, in the reference's order. The health check is the guard of ``health_lost`` above, so a
# broken runtime is repaired by setup instead of being scaled or remounted. Metadata sync paces
# itself: it starts background work and must be called again to collect it.
SYNC_STEPS: tuple[SyncStep[RuntimeHook], ...] = (
    SyncStep("sync_metadata"),
    SyncStep("sync_replicas"),
    SyncStep("sync_runtime", stop_if_changed=True),
    SyncStep("check_and_update_runtime_status", interval=5.0),
    SyncStep("update_cache_of_dataset"),
    SyncStep("sync_dataset_mounts", should="should_sync_dataset_mounts", also="dataset_mounts_behind"),
    SyncStep("update_on_ufs_change", should="should_update_ufs", interval=300.0),
    SyncStep("sync_schedule_info_to_cache_nodes"),
)


def restore_runtime(recorded: str | None, setup_duration: str | None) -> RuntimeState:
    """The runtime's state from its status: ``status.lifecycle.state`` as recorded; objects made by
    the reference (no lifecycle record) count as Ready once they carry a setupDuration, which it
    writes when the runtime first becomes ready; anything else starts from the beginning."""
    if recorded in RUNTIME.state_names:
        return RUNTIME.state(recorded)
    if setup_duration:
        return R.READY
    return RUNTIME.initial


# --------------------------------------------------------------------------------------------
# Dataset: the phases of .status.phase, plus the deletion path.
# --------------------------------------------------------------------------------------------


class DatasetState(StrEnum):
    NEW = "New"  # .status.phase "" (never reconciled)
    NOT_BOUND = "NotBound"
    BOUND = "Bound"
    FAILED = "Failed"
    UPDATING = "Updating"
    DATA_MIGRATING = "DataMigrating"
    DELETING = "Deleting"
    DELETED = "Deleted"


DatasetHook = Literal[
    "deletion_requested", "add_finalizer", "runtime_released", "has_binding", "reset_binding", "runtime_ready",
    "volume_ready", "mounts_changed", "migration_running", "delete_runtime", "runtime_gone", "volume_unused",
    "not_referenced", "remove_finalizer", "mark_deleting", "runtime_running",
]

D = DatasetState
dataset_row: Rows[DatasetState, DatasetHook] = Rows()

DATASET_PHASED = (D.NOT_BOUND, D.BOUND, D.FAILED, D.UPDATING, D.DATA_MIGRATING)
DATASET_SERVED = (D.BOUND, D.FAILED, D.UPDATING, D.DATA_MIGRATING)
DELETING_REQUEUE = 10.0  # a Dataset waiting for its pods or referrers to go looks again this often

DATASET: MachineTable[DatasetState, DatasetHook] = MachineTable(
    name="Dataset",
    initial=D.NEW,
    states=(
        State(D.NEW, "Created; not reconciled yet (phase \"\").", phase=""),
        State(D.NOT_BOUND, "No ready runtime serves it yet.", phase="NotBound"),
        State(D.BOUND, "A ready runtime serves it through its PV and PVC.", phase="Bound"),
        State(D.FAILED, "Was bound, but its runtime is not ready any more.", phase="Failed"),
        State(D.UPDATING, "Bound; the runtime is applying changed mounts.", phase="Updating"),
        State(D.DATA_MIGRATING, "Bound; a DataMigrate operation holds it.", phase="DataMigrating"),
        State(D.DELETING, "Deletion requested; waits for pods, referencing datasets and the runtime.",
              requeue=DELETING_REQUEUE),
        State(D.DELETED, "Released; the object disappears.", final=True),
    ),
    transitions=(
        dataset_row("delete", (D.NEW, *DATASET_PHASED), D.DELETING, when=("deletion_requested",),
                    do="mark_deleting"),
        dataset_row("initialize", D.NEW, D.NOT_BOUND, do="add_finalizer"),
        dataset_row("unbind", DATASET_SERVED, D.NOT_BOUND, when=("runtime_released",), do="reset_binding",
                    doc="Its runtime is gone or being deleted."),
        dataset_row("unbind", (D.NOT_BOUND, D.DELETING), None, when=("runtime_released", "has_binding"),
                    do="reset_binding",
                    doc="Clears the binding a released runtime left behind (halfway through binding, or while "
                        "the Dataset itself is being deleted)."),
        dataset_row("bind", D.NOT_BOUND, D.BOUND, when=("runtime_ready", "volume_ready")),
        dataset_row("fail", (D.BOUND, D.UPDATING, D.DATA_MIGRATING), D.FAILED, unless=("runtime_ready",)),
        dataset_row("fail", (D.BOUND, D.UPDATING, D.DATA_MIGRATING), D.FAILED, unless=("volume_ready",)),
        dataset_row("recover", D.FAILED, D.BOUND, when=("runtime_ready", "volume_ready")),
        dataset_row("update", D.BOUND, D.UPDATING, when=("mounts_changed",)),
        dataset_row("updated", D.UPDATING, D.BOUND, unless=("mounts_changed",)),
        dataset_row("migrate", D.BOUND, D.DATA_MIGRATING, when=("migration_running",)),
        dataset_row("migrated", D.DATA_MIGRATING, D.BOUND, unless=("migration_running",)),
        dataset_row("release_runtime", D.DELETING, None, when=("volume_unused", "not_referenced", "runtime_running"),
                    do="delete_runtime",
                    doc="Once no pod and no dataset uses it, its runtime is deleted and cleans up."),
        dataset_row("release", D.DELETING, D.DELETED, when=("volume_unused", "not_referenced", "runtime_gone"),
                    do="remove_finalizer"),
    ),
)


def restore_dataset(phase: str | None, deleting: bool) -> DatasetState:
    """The Dataset's state from its status: Deleting while its ``Deleting`` condition is True (the
    reference has no such phase), else the phase; a phase we do not know starts it afresh."""
    if deleting:
        return D.DELETING
    return DATASET.state(phase) if phase in DATASET_PHASED else D.NEW


SERVING_PHASES = frozenset({D.BOUND.value, D.UPDATING.value, D.DATA_MIGRATING.value})


def dataset_phase(state: DatasetState, *, bound: bool, runtime_ready: bool, current: str | None) -> str:
    """The ``.status.phase`` for a machine state. A state without a phase of its own (Deleting) keeps
    telling the truth about the binding: NotBound without one, Failed while the runtime is not
    ready, else the served phase it had (Bound by default). A served phase other than Failed is written
    only while the runtime is Ready at the end of the pass: a Dataset machine that moved to Bound (or
    Updating, DataMigrating) and then rested, a hook of it failing, while its runtime left Ready in the
    same pass shows Failed."""
    fixed = DATASET.info(state).phase
    if fixed in SERVING_PHASES and not runtime_ready:
        return D.FAILED.value
    if fixed is not None:
        return fixed
    if not bound:
        return D.NOT_BOUND.value
    if not runtime_ready:
        return D.FAILED.value
    return current if current is not None and current in DATASET_SERVED else D.BOUND.value


# --------------------------------------------------------------------------------------------
# Data operations (DataLoad, DataBackup, DataMigrate, DataProcess): one machine for all four.
# --------------------------------------------------------------------------------------------


class OperationState(StrEnum):
    NEW = "New"  # .status.phase "" (never reconciled)
    PENDING = "Pending"
    EXECUTING = "Executing"
    COMPLETE = "Complete"
    FAILED = "Failed"
    DELETED = "Deleted"


OperationHook = Literal[
    "deletion_requested", "spec_valid", "add_finalizer", "fail_invalid", "run_after_cycle", "fail_blocked",
    "predecessor_done", "scheduled", "dataset_ready", "engine_supports", "fail_unsupported", "take_lock",
    "start_run", "job_exists", "job_succeeded", "job_failed", "finish_run", "record_progress", "rearm",
    "repeats", "event_seen", "ttl_expired", "release", "delete_operation",
]

OP = OperationState
operation_row: Rows[OperationState, OperationHook] = Rows()

OPERATION_LIVE = (OP.NEW, OP.PENDING, OP.EXECUTING, OP.COMPLETE, OP.FAILED)
OPERATION_FINISHED = (OP.COMPLETE, OP.FAILED)
PENDING_REQUEUE = 5.0  # an operation waiting for its predecessor, its Dataset or the lock looks again this often
EXECUTING_REQUEUE = 2.0  # a running operation reads its Job's progress this often

OPERATION: MachineTable[OperationState, OperationHook] = MachineTable(
    name="Operation",
    initial=OP.NEW,
    states=(
        State(OP.NEW, "Created; not validated yet (phase \"\").", phase=""),
        State(OP.PENDING, "Valid; waits for its runAfter predecessor, its schedule, a ready runtime and the "
                         "Dataset's lock of its kind (status.operationRef).", requeue=PENDING_REQUEUE,
              phase="Pending"),
        State(OP.EXECUTING, "Holds the lock; the engine's Job runs.", requeue=EXECUTING_REQUEUE, phase="Executing"),
        State(OP.COMPLETE, "The run succeeded; the lock is released.", requeue=RESYNC, phase="Complete"),
        State(OP.FAILED, "Invalid, unsupported by the runtime, blocked for good, or the run failed.",
              requeue=RESYNC, phase="Failed"),
        State(OP.DELETED, "Lock released and Job removed; the object disappears.", final=True),
    ),
    transitions=(
        # Deletion first: in every state it releases the lock and removes the Job.
        operation_row("delete", OPERATION_LIVE, OP.DELETED, when=("deletion_requested",), do="release",
                      doc="Deleted by its user or its TTL: the lock and the Job go with it."),
        operation_row("accept", OP.NEW, OP.PENDING, when=("spec_valid",), do="add_finalizer"),
        operation_row("refuse", OP.NEW, OP.FAILED, unless=("spec_valid",), do="fail_invalid",
                      doc="The spec's problems are the Failed condition's message."),
        operation_row("block", OP.PENDING, OP.FAILED, when=("run_after_cycle",), do="fail_blocked",
                      doc="Its runAfter chain comes back to itself: it can never start."),
        operation_row("start", OP.PENDING, OP.EXECUTING,
                      when=("predecessor_done", "scheduled", "dataset_ready", "engine_supports", "take_lock"),
                      do="start_run", doc="The Job of this run is created under the lock."),
        operation_row("unsupported", OP.PENDING, OP.FAILED, when=("dataset_ready",), unless=("engine_supports",),
                      do="fail_unsupported", doc="The Dataset's runtime cannot run this kind of operation."),
        # A Job that failed fails the run even if some of its pods succeeded (finish_run says JobFailed).
        operation_row("failed", OP.EXECUTING, OP.FAILED, when=("job_failed",), do="finish_run"),
        operation_row("succeeded", OP.EXECUTING, OP.COMPLETE, when=("job_succeeded",), do="finish_run"),
        operation_row("job_lost", OP.EXECUTING, OP.PENDING, unless=("job_exists",), do="rearm",
                      doc="Its Job was deleted under it: the run starts again."),
        operation_row("progress", OP.EXECUTING, None, do="record_progress",
                      doc="The Job's progress and the run's duration reach the status."),
        operation_row("next_tick", OPERATION_FINISHED, OP.PENDING, when=("repeats",), do="rearm",
                      doc="Cron: back to waiting for the next tick of its schedule."),
        operation_row("changed", OPERATION_FINISHED, OP.PENDING, when=("event_seen",), do="rearm",
                      doc="OnEvent: the Dataset or its runtime changed since the last run."),
        operation_row("expire", OPERATION_FINISHED, OP.DELETED, when=("ttl_expired",), do="delete_operation",
                      doc="ttlSecondsAfterFinished has passed."),
    ),
    # Taking the lock writes the Dataset's status.operationRef, conditionally on what was read.
    writing_guards=frozenset({"take_lock"}),
)


def restore_operation(recorded: str | None, phase: str | None) -> OperationState:
    """The operation's state from its status: ``status.lifecycle.state`` as recorded, else its phase
    (an operation made by the reference resumes where its phase says); anything else is new."""
    for value in (recorded, phase):
        if value in OPERATION.state_names and value != OP.DELETED:
            return OPERATION.state(value)
    return OP.NEW


MACHINES = (DATASET, RUNTIME, OPERATION)

__all__ = [
    "DATASET",
    "DATASET_PHASED",
    "DATASET_SERVED",
    "MACHINES",
    "OPERATION",
    "OPERATION_FINISHED",
    "OPERATION_LIVE",
    "RUNTIME",
    "RUNTIME_DELETION",
    "RUNTIME_LIVE",
    "RUNTIME_SETUP",
    "SYNC_STEPS",
    "DatasetHook",
    "DatasetState",
    "OperationHook",
    "OperationState",
    "RuntimeHook",
    "RuntimeState",
    "dataset_phase",
    "event_reason",
    "restore_dataset",
    "restore_operation",
    "restore_runtime",
]
