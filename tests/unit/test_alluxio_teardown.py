"""Deleting an Alluxio pair: the cache freed, nothing left behind, in any state.

The in-memory cluster and stand-in CLIs are ``tests.unit.cache_cluster``; the ``cluster`` and ``bound``
fixtures are in conftest."""

from __future__ import annotations

import pytest

from engines.alluxio.kind import KIND_SPEC as ALLUXIO
from lifecycle.k8s.gateway import DATASET, NODE, POD
from tests.unit.cache_cluster import NAME, NS, FakeCluster, alluxio_manifest, dataset_manifest, delete_pair, leftovers


def test_deletion_frees_the_cache_and_leaves_nothing(bound: FakeCluster) -> None:
    bound.gw.patch(NODE, None, "node-1", {"metadata": {"labels": {"fluid.io/f-team-imagenet": "true"}}})
    delete_pair(bound)
    assert leftovers(bound) == []
    assert bound.commands("free") == [["alluxio", "fs", "free", "-f", "/"]]


def test_a_failing_cache_clean_is_retried_then_given_up(bound: FakeCluster) -> None:
    bound.failing.add("free")
    bound.patch_spec(ALLUXIO.resource, NAME, {"management": {"cleanCachePolicy": {"maxRetryAttempts": 2,
                                                                                  "gracePeriodSeconds": 5}}})
    bound.settle(passes=2)
    delete_pair(bound)
    assert len(bound.commands("free")) == 3
    assert "CacheCleanAbandoned" in bound.event_reasons()
    assert leftovers(bound) == []


def test_deletion_works_without_the_master_pod_or_the_dataset(bound: FakeCluster) -> None:
    bound.unready.add("imagenet-master")
    bound.gw.delete(POD, NS, "imagenet-master-0")
    bound.gw.patch(DATASET, NS, NAME, {"metadata": {"finalizers": None}})
    bound.gw.delete(DATASET, NS, NAME)
    assert bound.gw.get(DATASET, NS, NAME) is None
    bound.gw.delete(ALLUXIO.resource, NS, NAME)
    bound.settle(passes=6)
    assert leftovers(bound) == []
    assert bound.commands("free") == []


@pytest.mark.parametrize("unready", ["imagenet-master", "imagenet-worker"])
def test_deletion_during_setup_leaves_nothing(cluster: FakeCluster, unready: str) -> None:
    cluster.unready.add(unready)
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest())
    cluster.settle(passes=4)
    state = cluster.get(ALLUXIO.resource, NAME)["status"]["lifecycle"]["state"]
    assert state == ("SettingUpMaster" if unready == "imagenet-master" else "SettingUpWorkers")
    delete_pair(cluster)
    assert leftovers(cluster) == []
