"""Leader election on a ``coordination.k8s.io/v1`` Lease, as client-go does it.

Only the holder reconciles. A candidate takes the Lease when its record has not changed for a
whole lease duration by the candidate's own clock (so clock skew between machines does not
matter), or when the holder released it. The holder renews every retry period and gives up
leadership if it could not renew within the renew deadline; on shutdown it releases the Lease
so a standby takes over at once instead of after the lease duration.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from lifecycle.k8s.gateway import LEASE, ApiError, Conflict, Gateway, NotFound, Obj

log = logging.getLogger("lifecycle.leader")


def _now_micro() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(self, gateway: Gateway, namespace: str, name: str, identity: str, *,
                 lease_seconds: float = 15.0, renew_deadline: float = 10.0, retry_period: float = 2.0,
                 clock: Callable[[], float] = time.monotonic):
        self.gateway, self.namespace, self.name, self.identity = gateway, namespace, name, identity
        self.lease_seconds, self.renew_deadline, self.retry_period = lease_seconds, renew_deadline, retry_period
        self.clock = clock
        self.leading = threading.Event()
        self.lost = threading.Event()
        self._observed: tuple[str, str] | None = None  # (holder, renewTime) last seen
        self._observed_at = 0.0
        # The Lease as our last write left it: while nobody else writes it, a renewal is one PATCH
        # on its resourceVersion instead of a GET and a PATCH (a conflict means somebody did).
        self._written: Obj | None = None

    def _spec(self, transitions: int, acquired: str | None) -> dict[str, object]:
        now = _now_micro()
        return {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease_seconds),
                "acquireTime": acquired or now, "renewTime": now, "leaseTransitions": transitions}

    def try_acquire_or_renew(self) -> bool:
        if self._written is not None and self._renew(self._written):
            return True
        self._written = None
        lease = self.gateway.get(LEASE, self.namespace, self.name)
        if lease is None:
            try:
                self._wrote(self.gateway.create({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                                 "metadata": {"name": self.name, "namespace": self.namespace},
                                                 "spec": self._spec(0, None)}))
            except Conflict:
                return False
            return True
        spec = lease.get("spec") or {}
        holder, renewed = spec.get("holderIdentity") or "", spec.get("renewTime") or ""
        if (holder, renewed) != self._observed:
            self._observed, self._observed_at = (holder, renewed), self.clock()
        mine = holder == self.identity
        expired = self.clock() - self._observed_at >= self.lease_seconds
        if not mine and holder and not expired:
            return False
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if mine else 1)
        try:
            self._write_on(lease, transitions, spec.get("acquireTime") if mine else None)
        except Conflict:
            return False
        return True

    def _renew(self, written: Obj) -> bool:
        """Renew the Lease we wrote last, on the version we wrote: refused if anyone wrote it since."""
        spec = written.get("spec") or {}
        try:
            self._write_on(written, int(spec.get("leaseTransitions") or 0), spec.get("acquireTime"))
        except (Conflict, NotFound):
            return False
        return True

    def _write_on(self, lease: Obj, transitions: int, acquired: str | None) -> None:
        """Our spec over ``lease``, on its resourceVersion: Conflict if anyone wrote it since."""
        body = {"metadata": {"resourceVersion": (lease.get("metadata") or {}).get("resourceVersion")},
                "spec": self._spec(transitions, acquired)}
        self._wrote(self.gateway.patch(LEASE, self.namespace, self.name, body))

    def _wrote(self, lease: Obj) -> None:
        spec = lease.get("spec") or {}
        if spec.get("holderIdentity") == self.identity:
            self._written = lease
            self._observed, self._observed_at = (self.identity, spec.get("renewTime") or ""), self.clock()

    def run(self, stop: threading.Event, on_started: Callable[[], None]) -> None:
        """Campaign until leading, then renew; sets ``lost`` if a renewal misses its deadline."""
        while not stop.is_set():
            if self._attempt():
                break
            stop.wait(self.next_try())
        if stop.is_set():
            return
        log.info("became leader as %s (lease %s/%s)", self.identity, self.namespace, self.name)
        self.leading.set()
        on_started()
        last_renew = self.clock()
        while not stop.wait(self.retry_period):
            if self._attempt():
                last_renew = self.clock()
            elif self.clock() - last_renew > self.renew_deadline:
                log.error("could not renew lease %s/%s within %.0fs: leadership lost", self.namespace,
                          self.name, self.renew_deadline)
                self.leading.clear()
                self.lost.set()
                return

    def next_try(self) -> float:
        """Seconds a candidate waits before trying again: the retry period, or less when the
        holder's lease runs out sooner, so a dead holder is replaced the moment its lease ends
        rather than up to a retry period later."""
        left = self._observed_at + self.lease_seconds - self.clock()
        if self._observed is None or not self._observed[0] or left <= 0:
            return self.retry_period
        return min(self.retry_period, left + 0.01)

    def _attempt(self) -> bool:
        try:
            return self.try_acquire_or_renew()
        except ApiError as exc:
            log.warning("lease %s/%s: %s", self.namespace, self.name, exc)
        except Exception as exc:  # the API server is unreachable: keep trying within the deadline
            log.warning("lease %s/%s: %s", self.namespace, self.name, exc)
        return False

    def release(self) -> None:
        """Hand the Lease back so a standby need not wait for it to expire."""
        if not self.leading.is_set():
            return
        self.leading.clear()
        self._written = None
        try:
            lease = self.gateway.get(LEASE, self.namespace, self.name)
            if lease and (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                self.gateway.patch(LEASE, self.namespace, self.name, {
                    "metadata": {"resourceVersion": lease["metadata"]["resourceVersion"]},
                    "spec": {"holderIdentity": None, "leaseDurationSeconds": 1, "renewTime": _now_micro()}})
                log.info("released lease %s/%s", self.namespace, self.name)
        except Exception as exc:
            log.warning("could not release lease %s/%s: %s", self.namespace, self.name, exc)
