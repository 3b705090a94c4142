"""Leader election on a Lease in the in-memory API server, with clocks the test moves."""

from __future__ import annotations

import pytest

from lifecycle.k8s.gateway import LEASE
from lifecycle.k8s.memory import MemoryGateway
from lifecycle.operator.leader import LeaderElector


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def elector(gw: MemoryGateway, identity: str, clock: Clock) -> LeaderElector:
    return LeaderElector(gw, "fluid-system", "fluid-lifecycle-operator", identity, lease_seconds=6.0,
                         renew_deadline=4.0, retry_period=0.8, clock=clock)


def holder(gw: MemoryGateway) -> str | None:
    lease = gw.get(LEASE, "fluid-system", "fluid-lifecycle-operator")
    return None if lease is None else lease["spec"].get("holderIdentity")


@pytest.fixture
def gw() -> MemoryGateway:
    return MemoryGateway()


def test_a_renewing_holder_keeps_the_lease_and_a_silent_one_loses_it_after_the_lease_time(
        gw: MemoryGateway) -> None:
    clock = Clock()
    a, b = elector(gw, "a", clock), elector(gw, "b", clock)
    assert a.try_acquire_or_renew() and holder(gw) == "a"
    for _ in range(10):  # a renews every retry period: b never gets it
        clock.now += 0.8
        assert a.try_acquire_or_renew() and not b.try_acquire_or_renew()
    clock.now += 5.9  # a is silent (killed): b waits a whole lease time by its own clock
    assert not b.try_acquire_or_renew()
    clock.now += 0.1
    assert b.try_acquire_or_renew() and holder(gw) == "b"
    lease = gw.get(LEASE, "fluid-system", "fluid-lifecycle-operator")
    assert lease is not None and lease["spec"]["leaseTransitions"] == 1


def test_a_candidate_wakes_when_the_lease_runs_out_not_a_retry_period_later(gw: MemoryGateway) -> None:
    clock = Clock()
    a, b = elector(gw, "a", clock), elector(gw, "b", clock)
    a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    assert b.next_try() == 0.8  # the lease has 6 s left: the usual pace
    clock.now += 5.5
    assert not b.try_acquire_or_renew()
    assert b.next_try() == pytest.approx(0.51)  # 0.5 s left: wake just after it ends
    clock.now += b.next_try()
    assert b.try_acquire_or_renew()


def test_a_released_lease_is_taken_at_once(gw: MemoryGateway) -> None:
    clock = Clock()
    a, b = elector(gw, "a", clock), elector(gw, "b", clock)
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    a.leading.set()
    a.release()
    assert holder(gw) is None
    assert b.try_acquire_or_renew() and holder(gw) == "b"


def test_of_two_candidates_that_both_saw_no_lease_one_holds_it(gw: MemoryGateway) -> None:
    class SawNoLease(MemoryGateway):
        """b's view: it read before a created the Lease; writes go to the shared server."""

        def get(self, *args: object) -> None:
            return None

        def create(self, obj: dict[str, object]) -> dict[str, object]:
            return gw.create(obj)

    clock = Clock()
    a, b = elector(gw, "a", clock), elector(SawNoLease(), "b", clock)
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()  # its create conflicts
    assert holder(gw) == "a"


class Counting:
    """The gateway, counting the calls the elector makes."""

    def __init__(self, gw: MemoryGateway):
        self.gw, self.calls = gw, []  # type: ignore[var-annotated]

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.calls.append(name)
            return getattr(self.gw, name)(*args, **kwargs)
        return call


def test_a_holder_renews_with_one_patch_on_the_version_it_wrote(gw: MemoryGateway) -> None:
    clock, counting = Clock(), Counting(gw)
    a = LeaderElector(counting, "fluid-system", "fluid-lifecycle-operator", "a", lease_seconds=6.0,  # type: ignore[arg-type]
                      renew_deadline=4.0, retry_period=0.8, clock=clock)
    assert a.try_acquire_or_renew() and counting.calls == ["get", "create"]
    counting.calls.clear()
    for _ in range(3):
        clock.now += 0.8
        assert a.try_acquire_or_renew()
    assert counting.calls == ["patch"] * 3
    renewed = gw.get(LEASE, "fluid-system", "fluid-lifecycle-operator")
    assert renewed is not None and renewed["spec"]["holderIdentity"] == "a" and renewed["spec"]["leaseTransitions"] == 0


def test_a_holder_whose_lease_was_taken_meanwhile_does_not_take_it_back(gw: MemoryGateway) -> None:
    clock = Clock()
    a, b = elector(gw, "a", clock), elector(gw, "b", clock)
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    clock.now += 6.0  # a paused (a long stop of the process) past its lease: b takes it
    assert b.try_acquire_or_renew() and holder(gw) == "b"
    clock.now += 0.1
    assert not a.try_acquire_or_renew() and holder(gw) == "b"  # its renewal on the old version is refused
    clock.now += 0.8
    assert b.try_acquire_or_renew() and not a.try_acquire_or_renew() and holder(gw) == "b"
