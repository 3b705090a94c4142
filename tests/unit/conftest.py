"""The in-memory cluster with the Alluxio and Jindo engines (``tests.unit.cache_cluster``): a fresh one
with the UFS and the Secret seeded, and one with an Alluxio pair already Bound."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.cache_cluster import FakeCluster, alluxio_manifest, dataset_manifest, seed


@pytest.fixture
def cluster(tmp_path: Path) -> FakeCluster:
    made = FakeCluster(tmp_path)
    seed(made)
    return made


@pytest.fixture
def bound(cluster: FakeCluster) -> FakeCluster:
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest())
    cluster.settle()
    assert cluster.dataset()["status"]["phase"] == "Bound", cluster.gw.events
    return cluster
