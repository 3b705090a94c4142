"""One validator for every door: ``fluidlc validate``, the operator, and (as far as a schema can say)
the CRDs, which declare the same rules in CEL.

A Dataset is checked on its own (``lifecycle.api.validation``); a runtime with the checks every kind
shares and with its engine's own ``validate`` hook, which judges the Dataset's mounts too (which
schemes it can mount is the engine's to say). Offline, the engine is built over an empty in-memory
API server: ``validate`` only reads the spec, so the verdict is the operator's.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from lifecycle.api.dataset import Dataset
from lifecycle.api.operation import Operation
from lifecycle.api.runtime import Runtime
from lifecycle.api.validation import FieldError, InvalidSpec, dataset_errors, operation_errors, runtime_errors
from lifecycle.engine.contract import EngineContext, Implement
from lifecycle.engine.kind import RuntimeKind
from lifecycle.engine.registry import Registry
from lifecycle.k8s.memory import MemoryGateway

log = logging.getLogger("lifecycle.admission")


def runtime_problems(implement: Implement, runtime: Runtime) -> list[FieldError]:
    """The shared checks of the runtime and its engine's own (which also judge the Dataset's mounts)."""
    errors = runtime_errors(runtime)
    try:
        implement.validate()
    except InvalidSpec as exc:
        errors += exc.errors
    return errors


def judge_pair(implement: Implement | None, runtime: Runtime | None, dataset: Dataset | None) -> list[str]:
    """Every problem of a runtime (with its engine) and its Dataset, one line per object: the verdict
    the operator waits on and ``fluidlc validate`` prints."""
    out = []
    if runtime is not None and implement is not None and (errors := runtime_problems(implement, runtime)):
        out.append(str(InvalidSpec(runtime.ref, errors)))
    if dataset is not None and (errors := dataset_errors(dataset)):
        out.append(str(InvalidSpec(dataset.ref, errors)))
    return out


def offline_implement(registry: Registry, kind: RuntimeKind, runtime: Runtime, dataset: Dataset | None) -> Implement:
    """The kind's engine for a runtime read from a file: an empty API server behind it."""
    ctx = EngineContext(runtime=runtime, dataset=dataset, gateway=MemoryGateway((kind.resource,)), kind=kind,
                        now=lambda: datetime.now(UTC), log=logging.LoggerAdapter(log, {"key": runtime.key}))
    return registry.implement(kind.kind, ctx)


def pair_problems(registry: Registry, dataset: Dataset | None, runtime: Runtime | None,
                  kind: RuntimeKind | None) -> list[str]:
    """``judge_pair`` for objects read from files (either may be missing)."""
    implement = offline_implement(registry, kind, runtime, dataset) if runtime is not None and kind else None
    return judge_pair(implement, runtime, dataset)


def operation_problems(op: Operation) -> list[str]:
    """A data operation's problems as one line (none when it is valid): the words its ``Failed``
    condition carries and ``fluidlc validate`` prints."""
    errors = operation_errors(op)
    return [str(InvalidSpec(op.ref, errors))] if errors else []
