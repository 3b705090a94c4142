"""Component phases (master, worker, fuse) from desired and ready counts, by the reference's rule."""

from __future__ import annotations

NOT_READY = "NotReady"
PARTIAL_READY = "PartialReady"
READY = "Ready"


def component_phase(desired: int, ready: int) -> str:
    """Nothing desired or all ready: Ready; some ready: PartialReady; none: NotReady."""
    if desired <= 0 or ready >= desired:
        return READY
    if ready > 0:
        return PARTIAL_READY
    return NOT_READY


def runtime_ready(master_desired: int, master_ready: int, worker_replicas: int, worker_ready: int) -> bool:
    """All masters ready, and either no workers wanted or at least one of them ready."""
    return master_ready >= master_desired and (worker_replicas == 0 or worker_ready >= 1)
