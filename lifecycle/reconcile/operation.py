"""The operation machine's hooks: the facts an operation waits on and the few things it does.

An operation waits in Pending, each guard naming what it waits for (``OpPass.wait``): its
``runAfter`` predecessor, its schedule, a Bound Dataset with a ready runtime, and the Dataset's
lock of its kind (``status.operationRef[<kind>]``, written conditionally on the Dataset's
resourceVersion, so two operations of one kind never both take it). Executing reads the Job; every
way out of Executing, and deletion in any state, releases the lock and removes the Job.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from lifecycle.api import from_json
from lifecycle.api.cron import parse
from lifecycle.api.meta import ObjectMeta
from lifecycle.api.operation import Operation, OperationCondition, OperationLifecycle, OperationStatus, WaitingStatus
from lifecycle.api.operations import MODEL_OF
from lifecycle.engine.admission import operation_problems
from lifecycle.engine.operations import job_condition, job_state
from lifecycle.k8s.gateway import JOB, Conflict, NotFound, Obj, owner_reference
from lifecycle.k8s.naming import shortened
from lifecycle.k8s.ownership import is_ours, marked
from lifecycle.reconcile.opjob import dress, duration, job_message, node_labels
from lifecycle.reconcile.oppass import (
    FINALIZER_OF,
    MIGRATE,
    OpPass,
    dataset_fingerprint,
    iso,
    operation_resource,
    parse_time,
)

SERVED_PHASES = ("Bound", "Updating")
JOB_LABEL = "data.fluid.io/operation"
MAX_CHAIN = 64
RUN_ENDINGS = ("JobSucceeded", "JobFailed")


class OperationHooks:
    HOOKS = ("deletion_requested", "spec_valid", "add_finalizer", "fail_invalid", "run_after_cycle", "fail_blocked",
             "predecessor_done", "scheduled", "dataset_ready", "engine_supports", "fail_unsupported", "take_lock",
             "start_run", "job_exists", "job_succeeded", "job_failed", "finish_run", "record_progress", "rearm",
             "repeats", "event_seen", "ttl_expired", "release", "delete_operation")

    def __init__(self, p: OpPass):
        self.p = p
        self._hooks: dict[str, Callable[[], Any]] = {name: getattr(self, name) for name in self.HOOKS}
        self._tick: datetime | None = None
        self._chain = ""
        self._unsupported = ""

    def hook(self, name: str) -> Callable[[], Any]:
        return self._hooks[name]

    @property
    def op(self) -> Operation:
        return self.p.op

    @property
    def status(self) -> OperationStatus:
        if self.op.status is None:
            self.op.status = OperationStatus()
        return self.op.status

    @property
    def record(self) -> OperationLifecycle:
        if self.status.lifecycle is None:
            self.status.lifecycle = OperationLifecycle(state="New")
        return self.status.lifecycle

    # -- validation and blocking ---------------------------------------------------------------

    def deletion_requested(self) -> bool:
        return bool(self.op.metadata.deletion_timestamp)

    def spec_valid(self) -> bool:
        return not operation_problems(self.op)

    def add_finalizer(self) -> None:
        finalizers = list(self.op.metadata.finalizers or [])
        if self.p.finalizer not in finalizers:
            self.p.patch_meta({"finalizers": [*finalizers, self.p.finalizer]})

    def fail_invalid(self) -> None:
        self._let_go()
        self._condition("Failed", "InvalidSpec", "; ".join(operation_problems(self.op)))

    def run_after_cycle(self) -> bool:
        """The runAfter chain goes round before it reaches a Complete operation, so nothing in it can
        ever start (a missing link is not a cycle: it waits; a Complete one lets its successor run)."""
        seen = [self.op.ref]
        current: Operation | None = self.op
        for _ in range(MAX_CHAIN):
            after = current.run_after if current is not None else None
            if after is None:
                return False
            current = self.p.read_operation(after.kind, after.name)
            if current is None or (current.status is not None and current.status.phase == "Complete"):
                return False
            if current.ref in seen:
                self._chain = " -> ".join([*seen, current.ref])
                return True
            seen.append(current.ref)
        return False

    def fail_blocked(self) -> None:
        self._let_go()
        self._condition("Failed", "RunAfterCycle",
                        f"{self.op.ref} can never start: spec.runAfter goes round ({self._chain}); break the chain")

    def predecessor_done(self) -> bool:
        after = self.op.run_after
        if after is None:
            return True
        before = self.p.read_operation(after.kind, after.name)
        ref = f"{after.kind} {self.p.namespace}/{after.name}"
        done = before is not None and before.status is not None and before.status.phase == "Complete"
        self.status.waiting_for = WaitingStatus(operation_complete=done)
        if before is None:
            return self._wait("PrecedingOperationNotFound", f"{self.op.ref} runs after {ref}, which does not "
                               "exist; create it or remove spec.runAfter")
        if done:
            return True
        phase = (before.status.phase if before.status else None) or "new"
        reason = "PrecedingOperationFailed" if phase == "Failed" else "WaitingForPrecedingOperation"
        return self._wait(reason, f"{self.op.ref} runs after {ref}, which is {phase}")

    def scheduled(self) -> bool:
        """Once and OnEvent: now. Cron: at the first tick after the last run's tick (or creation);
        missed ticks are not made up, so a tick runs once at most."""
        schedule = self.op.schedule
        if self.op.policy != "Cron" or not schedule:
            return True
        now = self.p.now()
        base = parse_time(self.status.last_schedule_time) or parse_time(self.op.metadata.creation_timestamp) or now
        cron = parse(schedule)
        tick = cron.next_after(base)
        if tick > now:
            return self._wait("WaitingForSchedule", f"{self.op.ref} runs next at {iso(tick)} ({schedule})",
                               max(1.0, (tick - now).total_seconds()))
        while (later := cron.next_after(tick)) <= now:
            tick = later
        self._tick = tick
        return True

    def dataset_ready(self) -> bool:
        ds, name = self.p.dataset, self.op.dataset_name
        if ds is None:
            return self._wait("DatasetNotFound", f"{self.op.ref}: no Dataset {self.p.namespace}/{name}; create it")
        phase = ds.status.phase if ds.status else None
        ours = self.p.lock_holder() == self.op.metadata.name
        if phase not in SERVED_PHASES and not (phase == "DataMigrating" and ours):
            return self._wait("DatasetNotBound", f"{self.op.ref}: {ds.ref} is {phase or 'new'}, not Bound; "
                               "it runs once the Dataset's runtime is ready")
        if self.p.runtime is None or self.p.engine is None:
            return self._wait("RuntimeNotFound", f"{self.op.ref}: {ds.ref} has no runtime serving it")
        return True

    def _wait(self, reason: str, message: str, requeue: float | None = None) -> bool:
        """Pending, waiting for something other than the lock: a lock this operation holds (an operator
        that died after taking it, or after creating the Job, left it) is given back with its Job, so a
        waiting operation never keeps the kind's other operations off the Dataset."""
        if self.p.lock_holder() == self.op.metadata.name:
            self._let_go()
        return self.p.wait(reason, message, requeue)

    def engine_supports(self) -> bool:
        if self.op.KIND in self.p.engine_kinds:
            return True
        rt = self.p.runtime
        self._unsupported = (f"{rt.ref if rt else 'the runtime'} cannot run {self.op.KIND}"
                             + (f" (it runs {', '.join(self.p.engine_kinds)})" if self.p.engine_kinds else "")
                             + f"; run {self.op.KIND} on a Dataset whose runtime supports it")
        return False

    def fail_unsupported(self) -> None:
        self._let_go()
        self._condition("Failed", "NotSupported", f"{self.op.ref}: {self._unsupported}")

    # -- the lock ----------------------------------------------------------------------------------

    def take_lock(self) -> bool:
        """The Dataset's lock of this kind, if free, ours, or left by an operation that is gone or
        finished; written at once, conditionally on the Dataset as read (a Conflict reruns the pass)."""
        holder = self.p.lock_holder()
        me = self.op.metadata.name or ""
        if holder == me:
            return True
        if holder and not self.p.lock_stale(holder):
            return self.p.wait("DatasetLocked", f"{self.op.ref}: {self.op.KIND} {self.p.namespace}/{holder} is "
                               f"running on Dataset {self.p.namespace}/{self.op.dataset_name}; it starts after that")
        self.p.write_lock(me)
        return True

    def _release_lock(self) -> None:
        if self.p.dataset is not None and self.p.lock_holder() == self.op.metadata.name:
            self.p.write_lock(None)

    # -- the run -----------------------------------------------------------------------------------

    def _job_name(self, run: int) -> str:
        return shortened(f"{self.op.metadata.name}-{self.op.SHORT_NAME}-{run}", 63)

    def start_run(self) -> None:
        """The Job of the next run: the engine's, marked ours and owned by the operation."""
        assert self.p.engine is not None
        record = self.record
        run = (record.run or 0) + 1
        name = self._job_name(run)
        job = self.p.engine.operation_job(self.op, name)
        dress(job, self.op, self._predecessor_labels())
        uid = self.op.metadata.uid or self.op.ref
        marked(job, uid)
        job["metadata"].update(name=name, namespace=self.p.namespace)
        job["metadata"]["labels"][JOB_LABEL] = shortened(f"{self.op.SHORT_NAME}-{self.op.metadata.name}", 63)
        job["metadata"]["ownerReferences"] = [owner_reference(self.p.raw)]
        template = job["spec"]["template"].setdefault("metadata", {})
        template["labels"] = {**(template.get("labels") or {}), JOB_LABEL: job["metadata"]["labels"][JOB_LABEL]}
        try:
            self.p.gateway.create(job)
        except Conflict:
            found = self.p.gateway.get(JOB, self.p.namespace, name)
            if found is None or not is_ours(found, uid):
                raise
        self.p.created_job = name
        now = self.p.now()
        self.status.lifecycle = OperationLifecycle(state="Executing", job=name, run=run, started=iso(now),
                                                   seen=dataset_fingerprint(self.p.dataset, self.p.runtime))
        self.status.conditions = []
        self.status.duration = "0s"
        self.status.progress = None
        if self._tick is not None:
            self.status.last_schedule_time = iso(self._tick)

    def _predecessor_labels(self) -> dict[str, str] | None:
        after = self.op.run_after
        if after is None or after.affinity_strategy is None or not after.affinity_strategy.policy:
            return None
        before = self.p.read_operation(after.kind, after.name)
        return before.status.node_labels if before is not None and before.status is not None else None

    def _job(self) -> Obj | None:
        name = self.record.job
        return self.p.gateway.get(JOB, self.p.namespace, name) if name else None

    def job_exists(self) -> bool:
        return self.p.created_job is not None or self._job() is not None

    def job_succeeded(self) -> bool:
        job = self._job()
        return job is not None and job_state(job) == "succeeded"

    def job_failed(self) -> bool:
        return job_condition(self._job(), "Failed")

    def record_progress(self) -> None:
        started = parse_time(self.record.started)
        if started is not None:
            self.status.duration = duration(self.p.now() - started)
        job = self._job()
        if job is not None and self.p.engine is not None:
            progress = self.p.engine.operation_progress(self.op, job)
            if progress is not None:
                self.status.progress = progress

    def finish_run(self) -> None:
        """Complete or Failed, as the Job ended: the lock goes, the conditions and times say how."""
        self.record_progress()
        self._release_lock()
        job = self._job()
        now = self.p.now()
        self.record.finished = iso(now)
        if job_condition(job, "Failed"):
            message = job_message(job, "Failed") or "the Job failed"
            self._condition("Failed", "JobFailed", f"{self.op.ref}: Job {self.record.job}: {message}")
        else:
            self.status.node_labels = node_labels(self.p.gateway, self.p.namespace, self.record.job or "", self.op)
            self.status.last_successful_time = iso(now)
            self._condition("Complete", "JobSucceeded", f"{self.op.ref}: Job {self.record.job} succeeded")

    def rearm(self) -> None:
        """Back to Pending for another run: the previous Job goes, then the lock (never a running Job
        without its lock)."""
        self._let_go()
        self.record.job = None

    def _let_go(self) -> None:
        """The Job, then the lock. Failing an operation does this too: an operator that died after
        taking the lock or creating the Job left them to an operation restored New or Pending."""
        self._delete_job()
        self._release_lock()

    def _ran(self) -> bool:
        """The operation finished a run (not refused, unsupported or blocked before one)."""
        return any(c.reason in RUN_ENDINGS for c in self.status.conditions)

    def repeats(self) -> bool:
        return self.op.policy == "Cron" and self._ran()

    def event_seen(self) -> bool:
        """OnEvent: the Dataset's applied mounts, its UFS totals, its Ready transition or its runtime
        differ from what the last run saw."""
        if self.op.policy != "OnEvent" or self.p.dataset is None or not self._ran():
            return False
        return dataset_fingerprint(self.p.dataset, self.p.runtime) != self.record.seen

    def ttl_expired(self) -> bool:
        ttl, finished = self.op.ttl_seconds_after_finished, parse_time(self.record.finished)
        if ttl is None or finished is None:
            return False
        left = (finished + timedelta(seconds=ttl) - self.p.now()).total_seconds()
        if left > 0:
            self.p.requeue(left)
            return False
        return True

    # -- the end ---------------------------------------------------------------------------------

    def _delete_job(self) -> None:
        uid = self.op.metadata.uid or self.op.ref
        for job in self.p.gateway.list(JOB, self.p.namespace):
            meta = job.get("metadata") or {}
            owned = any(r.get("uid") == self.op.metadata.uid for r in meta.get("ownerReferences") or [])
            if owned and is_ours(job, uid):
                self.p.gateway.delete(JOB, self.p.namespace, meta["name"], uid=meta.get("uid"))

    def release(self) -> None:
        """The Job, the lock and our finalizer, in that order: nothing of the operation is left behind,
        and a crash halfway never leaves a Job running without its lock."""
        self._delete_job()
        self._release_lock()
        finalizers = [f for f in self.op.metadata.finalizers or [] if f != self.p.finalizer]
        if finalizers != list(self.op.metadata.finalizers or []):
            with contextlib.suppress(NotFound):
                self.p.patch_meta({"finalizers": finalizers or None})
        self.p.deleted = True

    def delete_operation(self) -> None:
        """ttlSecondsAfterFinished: the object is deleted first (our finalizer keeps it, marked), then
        released as any deleted operation is. Released first, an operator that died between would
        leave a finished operation without its finalizer, which the next pass would run again."""
        res, name = operation_resource(self.op.KIND), self.op.metadata.name or ""
        self.p.gateway.delete(res, self.p.namespace, name, uid=self.op.metadata.uid)
        current = self.p.gateway.get(res, self.p.namespace, name)
        if current is None:
            self.p.deleted = True
            return
        self.op.metadata = from_json(ObjectMeta, current["metadata"])
        self.p.raw["metadata"] = current["metadata"]
        self.release()

    def _condition(self, type_: str, reason: str, message: str) -> None:
        now = iso(self.p.now())
        self.status.conditions = [OperationCondition(type=type_, status="True", reason=reason, message=message,
                                                     last_probe_time=now, last_transition_time=now)]


def read_model(raw: Obj) -> Operation:
    model = MODEL_OF[str(raw.get("kind"))]
    op: Operation = from_json(model, {k: v for k, v in raw.items() if k != "status"})
    if raw.get("status") is not None:
        try:
            op.status = from_json(OperationStatus, raw["status"])
        except ValueError:
            op.status = None  # ours to rebuild: restored from the phase it cannot read as new
    return op


__all__ = ["FINALIZER_OF", "JOB_LABEL", "MIGRATE", "OperationHooks", "read_model"]
