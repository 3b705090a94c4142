"""Tests against the real local control plane (lifecycle.local); all of them carry the
`cluster` marker. `eventually` is the one waiting helper they share: Kubernetes converges, so a
test states the end condition and a deadline rather than sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# kwok's pod stages wait 1-5 s before a pod is created and again before it is ready. A pod with
# these annotations skips the waits, for tests whose subject is something other than pod start-up.
IMMEDIATE_START = {
    f"{stage}.stage.kwok.x-k8s.io/{delay}": "0s"
    for stage in ("pod-create", "pod-ready")
    for delay in ("delay", "jitter-delay")
}


def eventually(observe: Callable[[], T], accept: Callable[[T], bool], timeout: float, what: str) -> T:
    """Call `observe` until `accept` takes its result; fail naming `what` and the last observation."""
    deadline = time.monotonic() + timeout
    while True:
        seen = observe()
        if accept(seen):
            return seen
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached within {timeout:g}s; last seen: {seen!r}")
        time.sleep(0.2)
