"""The whole lifecycle as data: every state of a Dataset and a Runtime and every way between them.

Read a row as: on ``trigger``, from any of ``source``, first run ``step`` (if its ``should`` hook
says so, or always when there is none), then move to ``dest`` if every ``when`` guard is true
and every ``unless`` guard is false, running ``do`` on the way. A trigger with several rows from
one state tries them in order. Guards and steps are engine hooks (``check_master_ready``,
``setup_master``, ...) or facts about the pair (``dataset_available``); a guard that is false
or a hook that fails leaves the state as it was, and the reconcile retries later.

The reconcile fires, state by state, the triggers listed for the current state, in table order,
until none moves; the state is restored from the object's status before and written back after.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class State:
    name: str
    doc: str
    final: bool = False


@attrs.frozen
class Step:
    """Work a transition does before its guards: ``do``, gated by ``should`` when given."""

    do: str
    should: str | None = None


@attrs.frozen
class Transition:
    trigger: str
    source: tuple[str, ...]
    dest: str | None  # None: an internal transition, the state stays
    step: Step | None = None
    when: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    do: str | None = None
    doc: str = ""


@attrs.frozen
class MachineTable:
    name: str
    states: tuple[State, ...]
    transitions: tuple[Transition, ...]
    initial: str

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states)

    @property
    def finals(self) -> frozenset[str]:
        return frozenset(s.name for s in self.states if s.final)

    def triggers_from(self, state: str) -> tuple[str, ...]:
        """Triggers that can fire in ``state``, in table order, each once."""
        seen: dict[str, None] = {}
        for t in self.transitions:
            if state in t.source:
                seen.setdefault(t.trigger)
        return tuple(seen)


def T(trigger: str, source: str | tuple[str, ...], dest: str | None, **kw: object) -> Transition:
    return Transition(trigger, (source,) if isinstance(source, str) else source, dest, **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Runtime: setup as explicit stages, then Ready (where Sync runs), then the deletion path.
# --------------------------------------------------------------------------------------------

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

RUNTIME_SETUP = (NEW, SETTING_UP_MASTER, PREPARING_UFS, SETTING_UP_WORKERS, CREATING_VOLUME, BINDING)
RUNTIME_LIVE = (*RUNTIME_SETUP, READY)
RUNTIME_DELETION = (DELETING_VOLUME, SHUTTING_DOWN, RELEASING)

RUNTIME = MachineTable(
    name="Runtime",
    initial=NEW,
    states=(
        State(NEW, "Created; waiting for its Dataset (same namespace and name) to exist and be free."),
        State(SETTING_UP_MASTER, "Master applied; waiting until it is ready."),
        State(PREPARING_UFS, "Master ready; mounting the under file systems."),
        State(SETTING_UP_WORKERS, "Workers applied; waiting until they and the runtime status are ready."),
        State(CREATING_VOLUME, "Runtime ready; creating the PV and PVC."),
        State(BINDING, "Volume ready; binding the Dataset."),
        State(READY, "Serving the bound Dataset; every reconcile runs the Sync steps."),
        State(DELETING_VOLUME, "Deletion requested; deleting PVC and PV (waits while pods use them)."),
        State(SHUTTING_DOWN, "Cleaning the cache, then removing node labels, workloads and config."),
        State(RELEASING, "Unbinding the Dataset, then removing the finalizer."),
        State(DELETED, "Everything owned is gone; the object disappears.", final=True),
    ),
    transitions=(
        # Deletion comes first so that it wins over setup and sync in every live state.
        T("delete", RUNTIME_LIVE, DELETING_VOLUME, when=("deletion_requested",),
          doc="The runtime is being deleted."),
        T("claim_dataset", NEW, SETTING_UP_MASTER, when=("spec_valid", "dataset_available"), do="claim_dataset",
          doc="Own the Dataset of the same name: owner reference, dataset-id labels, finalizer."),
        T("master_ready", SETTING_UP_MASTER, PREPARING_UFS,
          step=Step("setup_master", should="should_setup_master"), when=("check_master_ready",)),
        T("master_lost", (PREPARING_UFS, SETTING_UP_WORKERS), SETTING_UP_MASTER,
          unless=("check_master_ready",), doc="Setup starts over at the master if it is lost."),
        T("ufs_prepared", PREPARING_UFS, SETTING_UP_WORKERS,
          step=Step("prepare_ufs", should="should_check_ufs")),
        T("workers_ready", SETTING_UP_WORKERS, CREATING_VOLUME,
          step=Step("setup_workers", should="should_setup_workers"),
          when=("check_workers_ready", "check_and_update_runtime_status")),
        T("volume_created", CREATING_VOLUME, BINDING, step=Step("create_volume"),
          when=("volume_ready",)),
        T("bound", BINDING, READY, do="bind_to_dataset"),
        T("health_lost", READY, SETTING_UP_MASTER, unless=("check_runtime_healthy",),
          doc="A lost or broken workload sends the runtime through setup again."),
        T("volume_lost", READY, CREATING_VOLUME, unless=("volume_ready",),
          doc="A deleted PV or PVC is made again."),
        T("sync", READY, None, do="sync", doc="The Sync steps, in the order of SYNC_STEPS."),
        T("volume_deleted", DELETING_VOLUME, SHUTTING_DOWN, step=Step("delete_volume"),
          when=("volume_released",)),
        T("shut_down", SHUTTING_DOWN, RELEASING, step=Step("shutdown")),
        T("released", RELEASING, DELETED, when=("dataset_unbound",), do="remove_finalizer"),
    ),
)


@attrs.frozen
class SyncStep:
    """One step of Sync. ``rate_limited`` steps run at most once per their interval. ``also`` names
    a check of the template engine that makes the step run even when the engine's ``should`` says
    no: the lifecycle's own record is behind (e.g. an operator died between the engine's work and
    the status write that records it)."""

    hook: str
    should: str | None = None
    also: str | None = None
    rate_limited: bool = False
    stop_if_changed: bool = False


# Sync, in the reference's order. The health check is the guard of ``health_lost`` above, so a
# broken runtime is repaired by setup instead of being scaled or remounted. Metadata sync paces
# itself: it starts background work and must be called again to collect it.
SYNC_STEPS = (
    SyncStep("sync_metadata"),
    SyncStep("sync_replicas"),
    SyncStep("sync_runtime", stop_if_changed=True),
    SyncStep("check_and_update_runtime_status", rate_limited=True),
    SyncStep("update_cache_of_dataset"),
    SyncStep("sync_dataset_mounts", should="should_sync_dataset_mounts", also="dataset_mounts_behind"),
    SyncStep("update_on_ufs_change", should="should_update_ufs", rate_limited=True),
    SyncStep("sync_schedule_info_to_cache_nodes"),
)


# --------------------------------------------------------------------------------------------
# Dataset: the phases of .status.phase, plus the deletion path.
# --------------------------------------------------------------------------------------------

DS_NEW = "New"  # .status.phase "" (never reconciled)
NOT_BOUND = "NotBound"
BOUND = "Bound"
FAILED = "Failed"
UPDATING = "Updating"
DATA_MIGRATING = "DataMigrating"
DS_DELETING = "Deleting"
DS_DELETED = "Deleted"

DATASET_PHASED = (NOT_BOUND, BOUND, FAILED, UPDATING, DATA_MIGRATING)
DATASET_SERVED = (BOUND, FAILED, UPDATING, DATA_MIGRATING)

DATASET = MachineTable(
    name="Dataset",
    initial=DS_NEW,
    states=(
        State(DS_NEW, "Created; not reconciled yet (phase \"\")."),
        State(NOT_BOUND, "No ready runtime serves it yet."),
        State(BOUND, "A ready runtime serves it through its PV and PVC."),
        State(FAILED, "Was bound, but its runtime is not ready any more."),
        State(UPDATING, "Bound; the runtime is applying changed mounts."),
        State(DATA_MIGRATING, "Bound; a DataMigrate operation holds it."),
        State(DS_DELETING, "Deletion requested; waits for pods, referencing datasets and the runtime."),
        State(DS_DELETED, "Released; the object disappears.", final=True),
    ),
    transitions=(
        T("delete", (DS_NEW, *DATASET_PHASED), DS_DELETING, when=("deletion_requested",), do="mark_deleting"),
        T("initialize", DS_NEW, NOT_BOUND, do="add_finalizer"),
        T("unbind", DATASET_SERVED, NOT_BOUND, when=("runtime_released",), do="reset_binding",
          doc="Its runtime is gone or being deleted."),
        T("unbind", (NOT_BOUND, DS_DELETING), None, when=("runtime_released", "has_binding"), do="reset_binding",
          doc="Clears the binding a released runtime left behind (halfway through binding, or while the "
              "Dataset itself is being deleted)."),
        T("bind", NOT_BOUND, BOUND, when=("runtime_ready", "volume_ready")),
        T("fail", (BOUND, UPDATING), FAILED, unless=("runtime_ready",)),
        T("fail", (BOUND, UPDATING), FAILED, unless=("volume_ready",)),
        T("recover", FAILED, BOUND, when=("runtime_ready", "volume_ready")),
        T("update", BOUND, UPDATING, when=("mounts_changed",)),
        T("updated", UPDATING, BOUND, unless=("mounts_changed",)),
        T("migrate", BOUND, DATA_MIGRATING, when=("migration_running",)),
        T("migrated", DATA_MIGRATING, BOUND, unless=("migration_running",)),
        T("release_runtime", DS_DELETING, None, when=("volume_unused", "not_referenced", "runtime_running"),
          do="delete_runtime", doc="Once no pod and no dataset uses it, its runtime is deleted and cleans up."),
        T("release", DS_DELETING, DS_DELETED, when=("volume_unused", "not_referenced", "runtime_gone"),
          do="remove_finalizer"),
    ),
)

MACHINES = (DATASET, RUNTIME)
