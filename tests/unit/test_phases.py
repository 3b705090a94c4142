"""The reference's rule for component phases and runtime readiness."""

from __future__ import annotations

import pytest

from lifecycle.machine.phases import component_phase, runtime_ready


@pytest.mark.parametrize(("desired", "ready", "phase"), [
    (0, 0, "Ready"), (3, 3, "Ready"), (3, 4, "Ready"), (3, 1, "PartialReady"), (3, 0, "NotReady"), (1, 0, "NotReady"),
])
def test_component_phase(desired: int, ready: int, phase: str) -> None:
    assert component_phase(desired, ready) == phase


def test_runtime_ready_needs_every_master_and_one_worker_unless_none_is_wanted() -> None:
    assert runtime_ready(1, 1, 3, 1) and runtime_ready(1, 1, 0, 0)
    assert not runtime_ready(3, 2, 3, 3) and not runtime_ready(1, 1, 3, 0)
