"""The bench sizes its cluster to the pairs: nodes with room for every pod, a host-port range with
room for every runtime."""

from __future__ import annotations

from lifecycle.local.nodes import CAPACITY
from tests.bench.cluster_run import PODS_PER_NODE, PODS_PER_PAIR, PORTS_PER_RUNTIME, nodes_for, port_range_env


def test_nodes_hold_every_pod_and_never_fewer_than_fluids_three() -> None:
    assert nodes_for(20) == nodes_for(100) == 3
    for pairs in (151, 1000, 1001, 10_000):
        assert nodes_for(pairs) * PODS_PER_NODE >= pairs * PODS_PER_PAIR
        assert (nodes_for(pairs) - 1) * PODS_PER_NODE < pairs * PODS_PER_PAIR
    assert int(CAPACITY["pods"]) >= PODS_PER_NODE


def test_the_port_range_widens_only_past_the_default() -> None:
    assert port_range_env(100) == {}
    low, high = map(int, port_range_env(1000)["FLUIDLC_PORT_RANGE"].split("-"))
    assert high - low >= 1000 * PORTS_PER_RUNTIME
