"""The thin reconcile of a data operation: read it with its Dataset and runtime, restore its machine
from status, fire triggers, write back what changed.

The same for all four kinds: what differs between them is the engine's Job. Nothing the next pass
needs is kept in memory; a Conflict (the Dataset's lock taken meanwhile, say) reruns the pass.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs

from lifecycle.api import ParseError, to_json
from lifecycle.api.operation import OperationLifecycle, OperationStatus
from lifecycle.engine.contract import EngineContext
from lifecycle.engine.process import work_of
from lifecycle.engine.registry import Registry
from lifecycle.k8s.gateway import Conflict, Gateway, NotFound
from lifecycle.machine.runner import Failure, Move, Runner
from lifecycle.machine.tables import OPERATION, OperationState, event_reason, restore_operation
from lifecycle.reconcile.operation import OperationHooks, read_model
from lifecycle.reconcile.oppass import OpPass, operation_resource
from lifecycle.reconcile.read import read_pair

log = logging.getLogger("lifecycle.operations")

CONFLICT_RETRIES = 3
DEFAULT_RESYNC = 60.0


@attrs.frozen
class OperationOutcome:
    requeue_after: float | None = None
    failure: str | None = None
    moves: tuple[Move, ...] = ()
    state: str | None = None
    dataset: str | None = None  # namespace/name of a Dataset whose lock this pass wrote

    @property
    def failed(self) -> bool:
        return self.failure is not None


def utcnow() -> datetime:
    return datetime.now(UTC)


class OperationReconciler:
    def __init__(self, gateway: Gateway, registry: Registry, *, now: Callable[[], datetime] = utcnow,
                 settings: dict[str, Any] | None = None, on_move: Callable[[Move], None] | None = None):
        self.gateway = gateway
        self.registry = registry
        self.now = now
        self.settings = dict(settings or {})
        self.on_move = on_move or (lambda move: None)
        self.shared: dict[str, Any] = {}

    def reconcile(self, kind: str, namespace: str, name: str) -> OperationOutcome:
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                return self._pass(kind, namespace, name)
            except Conflict as exc:
                log.debug("conflict on %s %s/%s (attempt %d): %s", kind, namespace, name, attempt + 1, exc)
        return OperationOutcome(failure=f"{kind} {namespace}/{name}: objects kept changing under "
                                        f"{CONFLICT_RETRIES + 1} passes")

    def _read(self, kind: str, namespace: str, name: str) -> OpPass | str | None:
        raw = self.gateway.get(operation_resource(kind), namespace, name)
        if raw is None:
            return None
        try:
            op = read_model(raw)
        except ParseError as exc:
            self.gateway.event(raw, "Warning", "ErrorValidateSpecFields", str(exc))
            return str(exc)
        p = OpPass(self.gateway, self.now, raw, op)
        if op.dataset_name:
            read = read_pair(self.gateway, self.registry, namespace, op.dataset_name)
            p.dataset, p.runtime = read.dataset, read.runtime
            if read.runtime is not None and read.kind is not None:
                ctx = EngineContext(runtime=read.runtime, dataset=read.dataset, gateway=self.gateway, kind=read.kind,
                                    now=self.now, log=logging.LoggerAdapter(log, {"key": op.key}),
                                    settings=self.settings, shared=self.shared)
                engine = self.registry.implement(read.kind.kind, ctx)
                p.engine = work_of(engine, namespace)
                p.engine_kinds = p.engine.operation_kinds()
        return p

    def _pass(self, kind: str, namespace: str, name: str) -> OperationOutcome:
        p = self._read(kind, namespace, name)
        if p is None or isinstance(p, str):
            return OperationOutcome(failure=p)
        status = p.op.status
        before = to_json(status) if status is not None else None
        state = restore_operation(status.lifecycle.state if status and status.lifecycle else None,
                                  status.phase if status else None)
        hooks = OperationHooks(p)
        runner = Runner(OPERATION, state, hooks.hook)
        moves: list[Move] = []
        failure: Failure | None = None
        while True:
            result = runner.advance()
            moves += result.moves
            if result.failure is not None:
                if isinstance(result.failure.error, Conflict):
                    raise result.failure.error
                failure = result.failure
                break
            if not result.progressed:
                break
        self._write(p, runner.state, before, moves, failure)
        for move in moves:
            self.on_move(move)
            log.info("%s: %s -> %s (%s)", p.op.ref, move.source, move.dest, move.trigger, extra={"key": p.op.key})
        return OperationOutcome(
            requeue_after=None if failure else self._requeue(p, runner.state),
            failure=str(failure) if failure else None, moves=tuple(moves), state=runner.state.value,
            dataset=f"{namespace}/{p.op.dataset_name}" if p.dataset_touched else None)

    def _write(self, p: OpPass, state: OperationState, before: Any, moves: list[Move],
               failure: Failure | None) -> None:
        op = p.op
        for move in moves:
            self.gateway.event(p.raw, "Warning" if move.dest == OperationState.FAILED else "Normal",
                               event_reason(move.trigger), f"{op.ref}: {move.source} -> {move.dest}")
        if p.deleted:
            return
        status = op.status = op.status or OperationStatus()
        record = status.lifecycle or OperationLifecycle(state=state.value)
        prior = (record.reason, record.message)
        wait = p.waits[0] if p.waits and state == OperationState.PENDING else None
        record.state = state.value
        record.reason = f"Failed{event_reason(failure.hook)}" if failure else (wait.reason if wait else None)
        record.message = str(failure) if failure else (wait.message if wait else None)
        status.lifecycle = record
        status.phase = OPERATION.info(state).phase
        if record.reason is not None and (record.reason, record.message) != prior:
            self.gateway.event(p.raw, "Warning" if failure else "Normal", record.reason, record.message or "")
        written = to_json(status)
        if written != before:
            body = copy.deepcopy(p.raw)
            body["metadata"] = to_json(op.metadata)
            body["status"] = written
            with contextlib.suppress(NotFound):
                self.gateway.replace_status(body)

    def _requeue(self, p: OpPass, state: OperationState) -> float | None:
        waits = [w.requeue for w in p.waits if w.requeue is not None] + p.hints
        if p.deleted:
            return None
        rest = OPERATION.requeue(state, float(self.settings.get("resync", DEFAULT_RESYNC)))
        if rest is not None:
            waits.append(rest)
        return min(waits) if waits else None


__all__ = ["OperationOutcome", "OperationReconciler"]
