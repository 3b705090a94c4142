"""Random interleavings of data operations on one Bound pair: created, reconciled, their Jobs ending,
deleted, the clock moving, the Dataset changing, and the operator dying after any write.

The checks: the Dataset's lock of a kind is never held by two operations, and no Job runs without
its operation holding the lock; a Cron operation starts at most one run per tick of its schedule;
and once the world is left to settle, every operation is Complete or Failed, or waits in Pending
naming why, and nothing of a deleted operation (lock, Job) is left.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from lifecycle.api.cron import parse
from lifecycle.engine.registry import Registry
from lifecycle.k8s.gateway import DATASET, JOB, STATEFUL_SET
from lifecycle.reconcile.operations import OperationReconciler
from lifecycle.reconcile.oppass import operation_resource
from lifecycle.reconcile.reconciler import Reconciler
from lifecycle.testing import scripted
from tests.property.test_lifecycle_machine import Crash, CrashingGateway

NS, NAME = "default", "demo"
NAMES = ("a", "b")
KINDS = ("DataLoad", "DataMigrate")
CRON = "*/5 * * * *"
FAST = {"sync_intervals": {"sync_metadata": 0, "check_and_update_runtime_status": 0, "update_on_ufs_change": 0}}
START = datetime(2026, 3, 1, 10, 0, 30, tzinfo=UTC)


class RecordingGateway(CrashingGateway):
    """Remembers every Job ever created, to count the runs of each operation."""

    created_jobs: list[str]

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        made = super().create(obj)
        if obj.get("kind") == "Job":
            self.created_jobs.append(obj["metadata"]["name"])
        return made


class OperationMachine(RuleBasedStateMachine):
    @initialize()
    def bound_pair(self) -> None:
        self.now = START
        registry = Registry()
        scripted.register(registry)
        resources = (scripted.KIND.resource, *(operation_resource(k) for k in ("DataLoad", "DataBackup",
                                                                                "DataMigrate", "DataProcess")))
        self.gw = RecordingGateway(resources, clock=lambda: self.now.strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.gw.created_jobs = []
        self.pairs = Reconciler(self.gw, registry, settings=FAST, now=lambda: self.now)
        self.ops = OperationReconciler(self.gw, registry, now=lambda: self.now)
        self.gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
                        "metadata": {"name": NAME, "namespace": NS},
                        "spec": {"mounts": [{"mountPoint": "s3://bucket/demo", "name": "demo"}]}})
        self.gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "ScriptedRuntime",
                        "metadata": {"name": NAME, "namespace": NS}, "spec": {"replicas": 1}})
        # Cron operations alive now: when each was created and the Jobs its name had before then
        self.cron_created: dict[str, tuple[datetime, frozenset[str]]] = {}
        for _ in range(8):
            self._pair_pass()
        assert (self.gw.get(DATASET, NS, NAME) or {})["status"]["phase"] == "Bound"

    def _pair_pass(self) -> None:
        for sts in self.gw.list(STATEFUL_SET, NS):
            self.gw.set_status(STATEFUL_SET, NS, sts["metadata"]["name"], {"readyReplicas": sts["spec"]["replicas"]})
        with contextlib.suppress(Crash):
            self.pairs.reconcile(NS, NAME)

    # -- what users, the Job controller, the clock and crashes do ------------------------------------

    @rule(kind=st.sampled_from(KINDS), name=st.sampled_from(NAMES), policy=st.sampled_from(("Once", "Cron", "OnEvent")),
          after=st.one_of(st.none(), st.sampled_from(NAMES)))
    def create(self, kind: str, name: str, policy: str, after: str | None) -> None:
        if self.gw.get(operation_resource(kind), NS, name) is not None:
            return
        spec: dict[str, Any] = ({"dataset": {"name": NAME, "namespace": NS}} if kind == "DataLoad" else
                                {"from": {"externalStorage": {"uri": "s3://x/y"}},
                                 "to": {"dataset": {"name": NAME, "namespace": NS}}})
        spec["policy"] = policy
        self.cron_created.pop(f"{kind}/{name}", None)  # an earlier operation of that name is gone
        if policy == "Cron":
            spec["schedule"] = CRON
            self.cron_created[f"{kind}/{name}"] = (self.now, frozenset(self.gw.created_jobs))
        if after is not None:
            spec["runAfter"] = {"kind": kind, "name": after}
        self.gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": kind,
                        "metadata": {"name": name, "namespace": NS}, "spec": spec})

    @rule(kind=st.sampled_from(KINDS), name=st.sampled_from(NAMES), crash=st.one_of(st.none(), st.integers(0, 4)))
    def reconcile(self, kind: str, name: str, crash: int | None) -> None:
        self.gw.crash_after = crash
        with contextlib.suppress(Crash):
            self.ops.reconcile(kind, NS, name)
        self.gw.crash_after = None

    @rule(ok=st.booleans(), index=st.integers(0, 5))
    def job_ends(self, ok: bool, index: int) -> None:
        jobs = [j for j in self.gw.list(JOB, NS) if not (j.get("status") or {}).get("conditions")]
        if jobs:
            job = jobs[index % len(jobs)]
            self.gw.set_status(JOB, NS, job["metadata"]["name"], {
                "succeeded": 1 if ok else 0,
                "conditions": [{"type": "Complete" if ok else "Failed", "status": "True"}]})

    @rule(kind=st.sampled_from(KINDS), name=st.sampled_from(NAMES))
    def delete(self, kind: str, name: str) -> None:
        self.gw.delete(operation_resource(kind), NS, name)

    @rule(minutes=st.integers(0, 7))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes, seconds=20)

    @rule()
    def pair_pass(self) -> None:
        self._pair_pass()

    @rule(more=st.booleans())
    def mounts_change(self, more: bool) -> None:
        mounts = [{"mountPoint": "s3://bucket/demo", "name": "demo"}]
        if more:
            mounts.append({"mountPoint": "s3://bucket/more", "name": "more"})
        self.gw.patch(DATASET, NS, NAME, {"spec": {"mounts": mounts}})

    # -- the invariants -------------------------------------------------------------------------------

    def _ops(self, kind: str) -> list[dict[str, Any]]:
        return self.gw.list(operation_resource(kind), NS)

    @invariant()
    def a_running_job_has_its_lock_and_one_lock_per_kind(self) -> None:
        ds = self.gw.get(DATASET, NS, NAME) or {}
        refs = (ds.get("status") or {}).get("operationRef") or {}
        for kind in KINDS:
            holders = set()
            for job in self.gw.list(JOB, NS):
                owner = (job["metadata"].get("ownerReferences") or [{}])[0]
                if owner.get("kind") == kind and not (job.get("status") or {}).get("conditions"):
                    holders.add(owner["name"])
            assert len(holders) <= 1, f"{kind} Jobs of {holders} run at once"
            for holder in holders:
                assert refs.get(kind) == holder, f"{kind} {holder}'s Job runs but the lock is {refs.get(kind)}"

    @invariant()
    def cron_runs_at_most_once_per_tick(self) -> None:
        cron = parse(CRON)
        for key, (created, before) in self.cron_created.items():
            kind, name = key.split("/")
            prefix = f"{name}-{'load' if kind == 'DataLoad' else 'migrate'}-"
            runs = {j for j in self.gw.created_jobs if j.startswith(prefix) and j not in before}
            ticks, tick = 0, cron.next_after(created)
            while tick <= self.now:
                ticks += 1
                tick = cron.next_after(tick)
            assert len(runs) <= ticks, f"{key}: {len(runs)} runs in {ticks} ticks"

    def teardown(self) -> None:
        """Left alone, the world settles: Jobs end, passes run, time passes."""
        if not hasattr(self, "gw"):
            return
        self.gw.crash_after = None
        for _ in range(6):
            self.job_ends(True, 0)
            for kind in KINDS:
                for name in NAMES:
                    self.ops.reconcile(kind, NS, name)
            self._pair_pass()
            self.job_ends(True, 0)
        self.a_running_job_has_its_lock_and_one_lock_per_kind()
        ds = self.gw.get(DATASET, NS, NAME) or {}
        refs = (ds.get("status") or {}).get("operationRef") or {}
        for kind in KINDS:
            for op in self._ops(kind):
                status = op.get("status") or {}
                phase, reason = status.get("phase"), (status.get("lifecycle") or {}).get("reason")
                ref = f"{kind} {op['metadata']['name']}"
                assert op["metadata"].get("deletionTimestamp") is None, f"{ref} is never released"
                assert phase in ("Complete", "Failed") or (phase == "Pending" and reason), \
                    f"{ref} ends {phase} without a reason: {status}"
            live = {op["metadata"]["name"] for op in self._ops(kind)}
            assert refs.get(kind) in (None, *live), f"{kind} lock left by a deleted operation: {refs}"
        owners = {(o["kind"], o["metadata"]["uid"]) for k in KINDS for o in self._ops(k)}
        for job in self.gw.list(JOB, NS):
            owner = job["metadata"]["ownerReferences"][0]
            assert (owner["kind"], owner["uid"]) in owners, f"Job {job['metadata']['name']} outlived its operation"


OperationMachine.TestCase.settings = settings(max_examples=120, stateful_step_count=30, deadline=None,
                                              suppress_health_check=[HealthCheck.too_slow])
test_operations = OperationMachine.TestCase
