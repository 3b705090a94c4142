"""One reconcile of a queued key, as every controller of the process runs it.

Timed and counted per controller; a crash is logged and retried with backoff, never lost; a
failed pass is retried with backoff and says why; a good one forgets the key's backoff and comes
back when the pass asked to.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from typing import Protocol, TypeVar

from lifecycle.operator.metrics import Metrics
from lifecycle.operator.workqueue import WorkQueue

log = logging.getLogger("lifecycle.operator")


class Outcome(Protocol):
    @property
    def failed(self) -> bool: ...

    @property
    def failure(self) -> str | None: ...

    @property
    def requeue_after(self) -> float | None: ...


Out = TypeVar("Out", bound=Outcome)


def reconcile_key(controller: str, metrics: Metrics, queue: WorkQueue, key: Hashable, what: str, pair: str,
                  call: Callable[[], Out]) -> Out | None:
    """Run ``call`` for ``key``; its outcome, or None if it crashed. ``what`` names the object in the
    log, ``pair`` (namespace/name) is the log's key."""
    started = time.perf_counter()
    try:
        outcome = call()
    except Exception:
        log.exception("reconcile of %s crashed", what, extra={"key": pair})
        metrics.reconcile_total.labels(controller, "error").inc()
        queue.add_rate_limited(key)
        return None
    finally:
        took = time.perf_counter() - started
        metrics.reconcile_time.labels(controller).observe(took)
        if log.isEnabledFor(logging.DEBUG):
            waited, routine = queue.taken(key) or (0.0, False)
            log.debug("pass of %s: %.3fs, after %.3fs in the queue (%s)", what, took, waited,
                      "routine" if routine else "event or retry", extra={"key": pair})
    if outcome.failed:
        delay = queue.add_rate_limited(key)
        log.info("retry in %.3fs: %s", delay, outcome.failure, extra={"key": pair})
        metrics.reconcile_total.labels(controller, "error").inc()
        return outcome
    queue.forget(key)
    if outcome.requeue_after is not None:
        queue.add_after(key, outcome.requeue_after)
        metrics.reconcile_total.labels(controller, "requeue_after").inc()
    else:
        metrics.reconcile_total.labels(controller, "success").inc()
    return outcome
