"""What a pass records besides the machines' states: the runtime's lifecycle status, the Dataset's
setup condition, and the events to send once the statuses are written.

Waiting and failures are announced once, when they first appear (or change), so a pair that waits
for minutes does not flood the namespace with events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from lifecycle.api import to_json
from lifecycle.api.dataset import DatasetStatus
from lifecycle.api.meta import Condition, set_condition
from lifecycle.api.runtime import LifecycleStatus, RuntimeStatus
from lifecycle.machine.runner import Failure, Move, Runner
from lifecycle.machine.tables import RUNTIME, RUNTIME_SETUP, event_reason
from lifecycle.reconcile.dataset import DELETING_CONDITION
from lifecycle.reconcile.pair import Pair

Event = tuple[dict[str, Any], str, str, str]  # (object, type, reason, message)


@attrs.define
class Pass:
    """One pass over a pair: its machines, what they were read as, and what they did."""

    pair: Pair
    runtime_runner: Runner | None = None
    dataset_runner: Runner | None = None
    prior: LifecycleStatus | None = None  # the runtime's lifecycle record as read
    before_runtime: Any = None  # the statuses as read, to write back only what changed
    before_dataset: Any = None
    moves: list[Move] = attrs.field(factory=list)
    failure: Failure | None = None
    # The engine's redaction: no secret value it saw leaves through a status, an event or a log.
    redact: Callable[[str], str] = str


def record(p: Pass) -> list[Event]:
    """The events of this pass, with the runtime's lifecycle status and setup condition updated."""
    events = move_events(p) + dataset_wait_events(p)
    if p.pair.runtime is not None and p.runtime_runner is not None and not p.pair.runtime_deleted:
        events += runtime_lifecycle(p)
    return [(obj, type_, reason, p.redact(message)) for obj, type_, reason, message in events]


def move_events(p: Pass) -> list[Event]:
    events = []
    for move in p.moves:
        obj = p.pair.runtime if move.machine == RUNTIME.name else p.pair.dataset
        if obj is not None:
            message = f"{obj.ref}: {move.source} -> {move.dest}"
            events.append((to_json(obj), "Normal", event_reason(move.trigger), message))
    return events


def dataset_wait_events(p: Pass) -> list[Event]:
    """Why a Dataset being deleted waits, said when its Deleting condition first says it."""
    dataset, waits = p.pair.dataset, [w for w in p.pair.waiting if w.subject == "dataset"]
    if dataset is None or not waits:
        return []
    before = [c for c in (p.before_dataset or {}).get("conditions", []) if c.get("type") == DELETING_CONDITION]
    if before and before[0].get("reason") == waits[0].reason and before[0].get("message") in waits[0].message:
        return []
    return [(to_json(dataset), "Warning", waits[0].reason, waits[0].message)]


def runtime_lifecycle(p: Pass) -> list[Event]:
    """``status.lifecycle`` of the runtime: its state, why it does not move and how often it failed."""
    runtime, dataset, prior, failure = p.pair.runtime, p.pair.dataset, p.prior, p.failure
    assert runtime is not None and p.runtime_runner is not None
    runtime_moved = any(m.machine == RUNTIME.name for m in p.moves)
    attempts = 0 if runtime_moved or prior is None else (prior.attempts or 0)
    waits = [w for w in p.pair.waiting if w.subject == "runtime"]
    reason = message = None
    if failure is not None:
        attempts += 1
        # A failure that knows what it is (an object in the way, say) gives its own reason.
        reason = getattr(failure.error, "reason", None) or f"Failed{event_reason(failure.hook)}"
        message = p.redact(f"{runtime.ref}: {failure}")
    elif waits:
        reason, message = waits[0].reason, p.redact(waits[0].message)
    events: list[Event] = []
    if reason is not None and (prior is None or (prior.reason, prior.message) != (reason, message)):
        events.append((to_json(runtime), "Warning", reason, message or ""))
        if failure is None and dataset is not None and reason.startswith("Error"):
            events.append((to_json(dataset), "Warning", reason, message or ""))
    runtime.status = runtime.status or RuntimeStatus()
    runtime.status.lifecycle = LifecycleStatus(state=p.runtime_runner.state.value, reason=reason, message=message,
                                               attempts=attempts or None)
    if failure is not None and failure.machine == RUNTIME.name and failure.state in RUNTIME_SETUP:
        setup_failed(p.pair, message)
    return events


def setup_failed(pair: Pair, message: str | None) -> None:
    """The reference's NotReady/DatasetFailedToSetup condition on the Dataset while setup fails."""
    dataset = pair.dataset
    if dataset is None or pair.dataset_deleted:
        return
    dataset.status = dataset.status or DatasetStatus()
    set_condition(dataset.status.conditions, Condition(
        type="NotReady", status="True", reason="DatasetFailedToSetup", message=message,
        observed_generation=dataset.metadata.generation), pair.now_iso())
