"""Faults injected at the gateway, so tests can prove on a real API server that the lifecycle
survives what production does to a controller (the perturbations Sieve applies to Go controllers).

A ``FaultPlan`` says which: the process dies right after its N-th write (every write point of a
pair's life can be the last one), reads lag the API server by up to some seconds (a stale informer
view: writes based on it meet conflicts), or every k-th watch event never reaches the work queue.
The operator process takes a plan from ``FLUIDLC_FAULTS`` (JSON, for tests only); without one
nothing here is in its path.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs

from lifecycle.k8s.gateway import (
    Argv,
    ExecResult,
    Gateway,
    Obj,
    Objs,
    Resource,
    Versions,
    clone,
    version_of,
    versions_of,
)

FAULTS_ENV = "FLUIDLC_FAULTS"
CRASH_EXIT_CODE = 86  # how a process that crashed on purpose exits, so a test tells it from a bug


class Crash(BaseException):
    """Raised after the planned write; BaseException, so no ``except Exception`` of the reconcile
    swallows it."""


@attrs.frozen
class FaultPlan:
    crash_after_write: int | None = None  # the N-th write of this process (1 = the first) is its last
    stale_seconds: float = 0.0  # a read may return what the API server said up to this long ago
    drop_every: int = 0  # every k-th watch event is not delivered (0: none)

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        """``{"crash_after_write": 7}``, ``{"stale_seconds": 2}``, ``{"drop_every": 3}``, or several."""
        try:
            fields = json.loads(text)
            plan = cls(**fields)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{FAULTS_ENV}={text!r} is not a fault plan: {exc}; give JSON such as "
                             '{"crash_after_write": 3}, {"stale_seconds": 2} or {"drop_every": 2}') from None
        if plan.crash_after_write is not None and plan.crash_after_write < 1:
            raise ValueError(f"{FAULTS_ENV}: crash_after_write must be 1 or more")
        return plan


class EventDropper:
    """Counts watch events and says which to drop: every ``every``-th one."""

    def __init__(self, every: int):
        self.every, self.seen, self.dropped = every, 0, 0
        self._lock = threading.Lock()

    def drop(self) -> bool:
        if self.every <= 0:
            return False
        with self._lock:
            self.seen += 1
            dropped = self.seen % self.every == 0
            self.dropped += dropped
            return dropped


class FaultyGateway:
    """The gateway as a plan perturbs it; everything it does not perturb goes to ``inner``."""

    def __init__(self, inner: Gateway, plan: FaultPlan, on_crash: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.inner, self.plan, self.clock = inner, plan, clock
        self.on_crash = on_crash or self._raise
        self.writes = 0
        self._seen: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _raise() -> None:
        raise Crash("the fault plan's last write was made")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    # -- reads, possibly stale ---------------------------------------------------------------

    def _stale(self, key: tuple[Any, ...], read: Callable[[], Any]) -> Any:
        if self.plan.stale_seconds <= 0:
            return read()
        now = self.clock()
        with self._lock:
            seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.plan.stale_seconds:
            return clone(seen[1])
        value = read()
        with self._lock:
            self._seen[key] = (now, clone(value))
        return value

    def resource(self, api_version: str, kind: str) -> Resource:
        return self.inner.resource(api_version, kind)

    def get(self, res: Resource, namespace: str | None, name: str) -> Obj | None:
        result: Obj | None = self._stale(("get", res.plural, namespace, name),
                                         lambda: self.inner.get(res, namespace, name))
        return result

    def resource_version(self, res: Resource, namespace: str | None, name: str) -> str | None:
        return version_of(self.get(res, namespace, name))

    def list(self, res: Resource, namespace: str | None = None, labels: dict[str, str] | None = None) -> Objs:
        key = ("list", res.plural, namespace, tuple(sorted((labels or {}).items())))
        result: Objs = self._stale(key, lambda: self.inner.list(res, namespace, labels))
        return result

    def list_versions(self, res: Resource, namespace: str | None = None,
                      labels: dict[str, str] | None = None) -> Versions:
        return versions_of(self.list(res, namespace, labels))  # as stale as a list

    # -- writes, counted ---------------------------------------------------------------------

    def _wrote(self) -> None:
        with self._lock:
            self.writes += 1
            last = self.writes == self.plan.crash_after_write
        if last:
            self.on_crash()

    def create(self, obj: Obj) -> Obj:
        made = self.inner.create(obj)
        self._wrote()
        return made

    def apply(self, obj: Obj) -> Obj:
        applied = self.inner.apply(obj)
        self._wrote()
        return applied

    def claim_created_fields(self, res: Resource, live: Obj) -> bool:
        claimed = self.inner.claim_created_fields(res, live)
        if claimed:
            self._wrote()
        return claimed

    def patch(self, res: Resource, namespace: str | None, name: str, patch: Obj) -> Obj:
        patched = self.inner.patch(res, namespace, name, patch)
        self._wrote()
        return patched

    def replace_status(self, obj: Obj) -> Obj:
        replaced = self.inner.replace_status(obj)
        self._wrote()
        return replaced

    def delete(self, res: Resource, namespace: str | None, name: str, uid: str | None = None) -> bool:
        deleted = self.inner.delete(res, namespace, name, uid)
        self._wrote()
        return deleted

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        self.inner.event(obj, type_, reason, message)
        self._wrote()

    def exec(self, namespace: str, pod: str, container: str | None, argv: Argv,
             timeout: float = 60.0) -> ExecResult:
        return self.inner.exec(namespace, pod, container, argv, timeout)
