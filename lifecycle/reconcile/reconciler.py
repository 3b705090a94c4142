"""The thin reconcile: read the pair, restore both machines, fire triggers, write back.

One pass: read the Dataset and the runtime of one namespace/name, restore each machine from
its object's status, advance the Dataset and the runtime in turn until neither moves, then
write each status that changed through the status subresource. Nothing is kept in memory that
the next pass needs: the Sync rate limits are an optimisation, and background work is restarted
from what its engine wrote in the status. A 409 conflict reruns the pass on fresh objects; every
step is idempotent, so a rerun or a crash halfway only repeats work.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs

from lifecycle.api import ParseError, from_json, to_json
from lifecycle.api.dataset import Dataset, DatasetStatus
from lifecycle.api.meta import Condition, set_condition
from lifecycle.api.runtime import LifecycleStatus, Runtime, RuntimeStatus
from lifecycle.engine.background import Background
from lifecycle.engine.contract import EngineContext
from lifecycle.engine.kind import RuntimeKind
from lifecycle.engine.registry import Registry
from lifecycle.k8s.gateway import DATASET, Conflict, Gateway, NotFound
from lifecycle.machine.runner import Failure, Move, Runner
from lifecycle.machine.tables import DATASET as DATASET_TABLE
from lifecycle.machine.tables import RUNTIME, RUNTIME_SETUP, RuntimeState, event_reason, restore_runtime
from lifecycle.reconcile.dataset import DELETING_CONDITION, DatasetLifecycle, phase_of, restore_dataset_state
from lifecycle.reconcile.pair import Pair, Waiting
from lifecycle.reconcile.template import SyncClock, TemplateEngine

log = logging.getLogger("lifecycle.reconcile")

CONFLICT_RETRIES = 3
DEFAULT_RESYNC = 60.0


@attrs.frozen
class Outcome:
    """What a pass achieved and when the pair wants to be looked at again."""

    requeue_after: float | None = None
    failure: str | None = None
    moves: tuple[Move, ...] = ()
    dataset_state: str | None = None
    runtime_state: str | None = None

    @property
    def failed(self) -> bool:
        return self.failure is not None


def utcnow() -> datetime:
    return datetime.now(UTC)


def restore_runtime_state(status: RuntimeStatus | None) -> RuntimeState:
    """The runtime machine state from its status (the rule is ``tables.restore_runtime``)."""
    if status is None:
        return RUNTIME.initial
    return restore_runtime(status.lifecycle.state if status.lifecycle else None, status.setup_duration)


class Reconciler:
    def __init__(self, gateway: Gateway, registry: Registry, *, now: Callable[[], datetime] = utcnow,
                 settings: dict[str, Any] | None = None,
                 on_move: Callable[[Move], None] | None = None):
        self.gateway = gateway
        self.registry = registry
        self.now = now
        self.settings = dict(settings or {})
        self.on_move = on_move or (lambda move: None)
        self.sync_clock = SyncClock()
        self.background = Background()
        self.shared: dict[str, Any] = {}  # engines' per-process state (EngineContext.shared)

    def reconcile(self, namespace: str, name: str) -> Outcome:
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                return self._pass(namespace, name)
            except Conflict as exc:
                log.debug("conflict on %s/%s (attempt %d): %s", namespace, name, attempt + 1, exc)
        return Outcome(failure=f"{namespace}/{name}: objects kept changing under {CONFLICT_RETRIES + 1} passes")

    # -- one pass -----------------------------------------------------------------------------

    def _read(self, namespace: str, name: str) -> tuple[Dataset | None, Runtime | None, RuntimeKind | None,
                                                       list[str]]:
        problems: list[str] = []
        raw_ds = self.gateway.get(DATASET, namespace, name)
        dataset = None
        if raw_ds is not None:
            try:
                dataset = from_json(Dataset, raw_ds, f"Dataset {namespace}/{name}")
            except ParseError as exc:
                problems.append(str(exc))
                self.gateway.event(raw_ds, "Warning", "ErrorValidateSpecFields", str(exc))
        found: list[tuple[RuntimeKind, dict[str, Any]]] = []
        for kind in self.registry.kinds():
            raw = self.gateway.get(kind.resource, namespace, name)
            if raw is not None:
                found.append((kind, raw))
        if not found:
            return dataset, None, None, problems
        kind, raw = self._choose_runtime(dataset, found)
        try:
            runtime = from_json(kind.model, raw, f"{kind.kind} {namespace}/{name}")
        except ParseError as exc:
            problems.append(str(exc))
            self.gateway.event(raw, "Warning", "ErrorValidateSpecFields", str(exc))
            return dataset, None, None, problems
        return dataset, runtime, kind, problems

    def _choose_runtime(self, dataset: Dataset | None,
                        found: list[tuple[RuntimeKind, dict[str, Any]]]) -> tuple[RuntimeKind, dict[str, Any]]:
        """One runtime per dataset: the bound one, else the oldest; the others are told so."""
        bound_type = None
        if dataset is not None and dataset.status is not None and dataset.status.runtimes:
            bound_type = dataset.status.runtimes[0].type
        found.sort(key=lambda kr: (kr[0].runtime_type != bound_type,
                                   kr[1]["metadata"].get("creationTimestamp", ""), kr[0].kind))
        for kind, raw in found[1:]:
            self.gateway.event(raw, "Warning", "DatasetBoundToOther",
                               f"{kind.kind} {raw['metadata']['namespace']}/{raw['metadata']['name']}: the Dataset "
                               f"of this name is served by a {found[0][0].kind}; delete one of the two")
        return found[0]

    def _pass(self, namespace: str, name: str) -> Outcome:
        dataset, runtime, kind, problems = self._read(namespace, name)
        if dataset is None and runtime is None:
            return Outcome(failure="; ".join(problems) or None)
        before_ds = to_json(dataset.status) if dataset and dataset.status else None
        before_rt = to_json(runtime.status) if runtime and runtime.status else None
        pair = Pair(namespace, name, self.gateway, self.now, dataset=dataset, runtime=runtime, kind=kind)
        key_log = logging.LoggerAdapter(log, {"key": pair.key})

        engine: TemplateEngine | None = None
        runtime_runner: Runner | None = None
        prior_lifecycle = runtime.status.lifecycle if runtime and runtime.status else None
        if runtime is not None and kind is not None:
            ctx = EngineContext(runtime=runtime, dataset=dataset, gateway=self.gateway, kind=kind, now=self.now,
                                log=key_log, attempts=(prior_lifecycle.attempts or 0) if prior_lifecycle else 0,
                                settings=self.settings, background=self.background, shared=self.shared)
            engine = TemplateEngine(self.registry.implement(kind.kind, ctx), ctx, pair, self.sync_clock)
            runtime_runner = Runner(RUNTIME, restore_runtime_state(runtime.status), engine.hook)
            pair.runtime_state = lambda: runtime_runner.state

        dataset_runner: Runner | None = None
        if dataset is not None:
            dataset_runner = Runner(DATASET_TABLE, restore_dataset_state(dataset.status),
                                    DatasetLifecycle(pair).hook)

        moves: list[Move] = []
        failures: dict[str, Failure] = {}
        progressed = True
        while progressed:  # a machine that failed rests; the other may still move (and unbind, say)
            progressed = False
            # The Dataset first: it notices spec changes (Updating) before the runtime's Sync applies them.
            for runner in (dataset_runner, runtime_runner):
                if runner is None or runner.table.name in failures:
                    continue
                result = runner.advance()
                moves.extend(result.moves)
                progressed |= result.progressed
                if result.failure is not None:
                    failures[runner.table.name] = result.failure
                if runner is dataset_runner and engine is not None and not pair.runtime_deleted:
                    for move in result.moves:
                        engine.implement.update_dataset_status(move.dest)
        failure = failures.get(RUNTIME.name) or failures.get(DATASET_TABLE.name)

        events = self._record(pair, moves, failure, runtime_runner, prior_lifecycle, before_ds)
        self._write(pair, runtime_runner, dataset_runner, before_rt, before_ds)
        for obj, type_, reason, message in events:
            self.gateway.event(obj, type_, reason, message)
        for move in moves:
            self.on_move(move)
            key_log.info("%s: %s -> %s (%s)", move.machine, move.source, move.dest, move.trigger)
        requeue = self._requeue(pair, runtime_runner, dataset_runner, failure)
        hint = engine.ctx.requeue_hint if engine is not None else None
        if hint is not None and failure is None:
            requeue = hint if requeue is None else min(requeue, hint)
        return Outcome(
            requeue_after=requeue,
            failure=str(failure) if failure else ("; ".join(problems) or None),
            moves=tuple(moves),
            dataset_state=dataset_runner.state if dataset_runner else None,
            runtime_state=runtime_runner.state if runtime_runner else None,
        )

    # -- recording and writing ----------------------------------------------------------------

    def _record(self, pair: Pair, moves: list[Move], failure: Failure | None,
                runtime_runner: Runner | None, prior: LifecycleStatus | None,
                before_ds: Any) -> list[tuple[dict[str, Any], str, str, str]]:
        """The runtime's lifecycle status, the setup condition, and the events to send once written.

        Waiting and failures are announced once, when they first appear (or change), so a pair
        that waits for minutes does not flood the namespace with events.
        """
        events: list[tuple[dict[str, Any], str, str, str]] = []
        runtime, dataset = pair.runtime, pair.dataset
        for move in moves:
            obj = runtime if move.machine == RUNTIME.name else dataset
            if obj is not None:
                events.append((to_json(obj), "Normal", event_reason(move.trigger),
                               f"{obj.ref}: {move.source} -> {move.dest}"))
        dataset_waits = [w for w in pair.waiting if w.subject == "dataset"]
        if dataset is not None and dataset_waits:
            before = [c for c in (before_ds or {}).get("conditions", []) if c.get("type") == DELETING_CONDITION]
            if not before or before[0].get("reason") != dataset_waits[0].reason \
                    or before[0].get("message") not in dataset_waits[0].message:
                events.append((to_json(dataset), "Warning", dataset_waits[0].reason, dataset_waits[0].message))
        if runtime is None or runtime_runner is None or pair.runtime_deleted:
            return events
        runtime_moved = any(m.machine == RUNTIME.name for m in moves)
        attempts = 0 if runtime_moved or prior is None else (prior.attempts or 0)
        runtime_waits = [w for w in pair.waiting if w.subject == "runtime"]
        reason = message = None
        if failure is not None:
            attempts += 1
            reason, message = f"Failed{event_reason(failure.hook)}", f"{runtime.ref}: {failure}"
        elif runtime_waits:
            reason, message = runtime_waits[0].reason, runtime_waits[0].message
        if reason is not None and (prior is None or (prior.reason, prior.message) != (reason, message)):
            events.append((to_json(runtime), "Warning", reason, message or ""))
            if failure is None and dataset is not None and reason.startswith("Error"):
                events.append((to_json(dataset), "Warning", reason, message or ""))
        runtime.status = runtime.status or RuntimeStatus()
        runtime.status.lifecycle = LifecycleStatus(state=runtime_runner.state, reason=reason, message=message,
                                                   attempts=attempts or None)
        if (failure is not None and failure.machine == RUNTIME.name and failure.state in RUNTIME_SETUP
                and dataset is not None and not pair.dataset_deleted):
            dataset.status = dataset.status or DatasetStatus()
            set_condition(dataset.status.conditions, Condition(
                type="NotReady", status="True", reason="DatasetFailedToSetup", message=message,
                observed_generation=dataset.metadata.generation), pair.now_iso())
        return events

    def _write(self, pair: Pair, runtime_runner: Runner | None, dataset_runner: Runner | None,
               before_rt: Any, before_ds: Any) -> None:
        """Status through the status subresource, and only what changed: idle pairs write nothing."""
        runtime, dataset = pair.runtime, pair.dataset
        if runtime is not None and runtime_runner is not None and not pair.runtime_deleted:
            status = to_json(runtime.status)
            if status != before_rt:
                self._replace_status(to_json(runtime), status)
        if dataset is not None and dataset_runner is not None and not pair.dataset_deleted:
            dataset.status = dataset.status or DatasetStatus()
            runtime_ready = (runtime_runner is not None and runtime_runner.state == RuntimeState.READY
                             and not pair.runtime_deleted)
            dataset.status.phase = phase_of(dataset_runner.state, dataset.status, runtime_ready)
            status = to_json(dataset.status)
            if status != before_ds:
                self._replace_status(to_json(dataset), status)

    def _replace_status(self, obj: dict[str, Any], status: dict[str, Any]) -> None:
        body = copy.deepcopy(obj)
        body["status"] = status
        with contextlib.suppress(NotFound):  # deleted meanwhile; the next pass sees that
            self.gateway.replace_status(body)

    def _requeue(self, pair: Pair, runtime_runner: Runner | None, dataset_runner: Runner | None,
                 failure: Failure | None) -> float | None:
        if failure is not None:
            return None  # the work queue backs off exponentially
        waits: list[float] = [w.requeue for w in pair.waiting if w.requeue is not None]
        resync = float(self.settings.get("resync", DEFAULT_RESYNC))
        for runner, gone in ((runtime_runner, pair.runtime_deleted), (dataset_runner, pair.dataset_deleted)):
            if runner is not None and not gone:
                rest = runner.table.requeue(runner.state, resync)
                if rest is not None:
                    waits.append(rest)
        return min(waits) if waits else None


__all__ = ["Outcome", "Reconciler", "Waiting"]
