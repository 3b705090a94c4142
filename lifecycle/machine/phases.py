"""Component phases (master, worker, fuse) from desired and ready counts, by the reference's rule."""

from __future__ import annotations

from enum import StrEnum


class ComponentPhase(StrEnum):
    """``status.masterPhase``, ``workerPhase`` and ``fusePhase`` of a runtime."""

    NOT_READY = "NotReady"
    PARTIAL_READY = "PartialReady"
    READY = "Ready"


def component_phase(desired: int, ready: int) -> str:
    """Nothing desired or all ready: Ready; some ready: PartialReady; none: NotReady (as the plain
    string a status field holds)."""
    if desired <= 0 or ready >= desired:
        return ComponentPhase.READY.value
    if ready > 0:
        return ComponentPhase.PARTIAL_READY.value
    return ComponentPhase.NOT_READY.value


def runtime_ready(master_desired: int, master_ready: int, worker_replicas: int, worker_ready: int) -> bool:
    """All masters ready, and either no workers wanted or at least one of them ready."""
    return master_ready >= master_desired and (worker_replicas == 0 or worker_ready >= 1)
