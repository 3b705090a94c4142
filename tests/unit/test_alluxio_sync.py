"""A Ready Alluxio pair following its spec: scaling, spec changes in place, rollouts, lost objects.

The in-memory cluster and stand-in CLIs are ``tests.unit.cache_cluster``; the ``cluster`` and ``bound``
fixtures are in conftest."""

from __future__ import annotations

import traceback
from datetime import timedelta
from typing import Any

import pytest

from engines.alluxio.kind import KIND_SPEC as ALLUXIO
from engines.cache.objects import CONFIG_CHECKSUM
from lifecycle.k8s.gateway import CONFIG_MAP, DAEMON_SET, DATASET, NODE, POD, SERVICE, STATEFUL_SET
from lifecycle.k8s.naming import fuse_label, reference_key
from lifecycle.local.standin import cache as standin
from tests.unit.cache_cluster import NAME, NS, FakeCluster


def test_scaling_moves_pods_status_conditions_and_node_labels(bound: FakeCluster) -> None:
    def labelled() -> list[str]:
        return sorted(n["metadata"]["name"] for n in bound.gw.list(NODE)
                      if (n["metadata"].get("labels") or {}).get("fluid.io/s-alluxio-team-imagenet") == "true")

    assert labelled() == ["node-0", "node-1", "node-2"]
    node = bound.get(NODE, "node-0", None)["metadata"]["labels"]
    assert node["fluid_exclusive"] == "team_imagenet" and node["fluid.io/dataset-num"] == "1"
    assert node["fluid.io/s-h-alluxio-m-team-imagenet"] == "2GiB"
    assert node["fluid.io/s-h-alluxio-t-team-imagenet"] == "2GiB"
    bound.patch_spec(ALLUXIO.resource, NAME, {"replicas": 1})
    bound.settle(passes=4)
    status = bound.get(ALLUXIO.resource, NAME)["status"]
    assert status["currentWorkerNumberScheduled"] == 1 and status["desiredWorkerNumberScheduled"] == 1
    scaled = next(c for c in status["conditions"] if c["type"] == "WorkersScaledIn")
    assert scaled["message"] == "The workers are scaled in from 3 to 1."
    assert labelled() == ["node-0"]
    assert "fluid.io/dataset-num" not in bound.get(NODE, "node-2", None)["metadata"]["labels"]
    assert "WorkersScaledIn" in bound.event_reasons()
    bound.patch_spec(ALLUXIO.resource, NAME, {"replicas": 2})
    bound.settle(passes=4)
    status = bound.get(ALLUXIO.resource, NAME)["status"]
    assert next(c for c in status["conditions"] if c["type"] == "WorkersScaledOut")["status"] == "True"
    assert labelled() == ["node-0", "node-1"]
    assert bound.dataset()["status"]["phase"] == "Bound"


def test_a_pass_reads_only_the_nodes_that_run_a_worker_or_carry_the_datasets_labels(
        bound: FakeCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every other node is left unread: at 1,000 pairs decoding all nodes on every pass was most of
    the idle operator's CPU. A node that stopped running a worker is still found by its labels."""
    for i in range(3, 6):
        bound.gw.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{i}"}})
    read: list[str] = []
    gw_list, gw_get = bound.gw.list, bound.gw.get

    def listed(res: Any, namespace: str | None = None, labels: dict[str, str] | None = None) -> Any:
        found = gw_list(res, namespace, labels)
        read.extend(o["metadata"]["name"] for o in found if res == NODE and by_the_engine())
        return found

    def got(res: Any, namespace: str | None, name: str) -> Any:
        found = gw_get(res, namespace, name)
        read.extend([name] if res == NODE and found is not None and by_the_engine() else [])
        return found

    def by_the_engine() -> bool:  # not the in-memory cluster's scheduler and kubelet
        return any("/engines/" in frame.filename for frame in traceback.extract_stack())

    monkeypatch.setattr(bound.gw, "list", listed)
    monkeypatch.setattr(bound.gw, "get", got)
    bound.patch_spec(ALLUXIO.resource, NAME, {"replicas": 1})
    bound.settle(passes=4)
    assert read and set(read) <= {"node-0", "node-1", "node-2"}, sorted(set(read))
    unlabelled = [n for n in ("node-1", "node-2") if "fluid.io/s-alluxio-team-imagenet"
                  in (bound.get(NODE, n, None)["metadata"].get("labels") or {})]
    assert not unlabelled, f"{unlabelled} kept the labels of a worker they no longer run"


def test_fuses_follow_the_nodes_that_use_the_volume_with_scaled_conditions(bound: FakeCluster) -> None:
    def fuse_condition(kind: str) -> dict[str, Any] | None:
        status = bound.get(ALLUXIO.resource, NAME)["status"]
        return next((c for c in status["conditions"] if c["type"] == kind), None)

    assert fuse_condition("FusesScaledOut") is None  # no pod used the volume yet
    for node in ("node-0", "node-2"):  # what the CSI plugin does when a pod mounts the volume there
        bound.gw.patch(NODE, None, node, {"metadata": {"labels": {fuse_label(reference_key(NS, NAME)): "true"}}})
    bound.settle(passes=3)
    status = bound.get(ALLUXIO.resource, NAME)["status"]
    assert status["desiredFuseNumberScheduled"] == 2
    assert (fuse_condition("FusesScaledOut") or {})["message"] == "The fuses are scaled out from 0 to 2."
    bound.gw.patch(NODE, None, "node-2", {"metadata": {"labels": {fuse_label(reference_key(NS, NAME)): None}}})
    bound.settle(passes=3)
    assert (fuse_condition("FusesScaledIn") or {})["message"] == "The fuses are scaled in from 2 to 1."
    assert bound.event_reasons().count("FusesScaledOut") == 1 and "FusesScaledIn" in bound.event_reasons()


def test_spec_changes_roll_out_in_place(bound: FakeCluster) -> None:
    runtime_uid = bound.get(ALLUXIO.resource, NAME)["metadata"]["uid"]
    worker, master = bound.get(STATEFUL_SET, "imagenet-worker"), bound.get(STATEFUL_SET, "imagenet-master")
    bound.patch_spec(ALLUXIO.resource, NAME, {"worker": {"properties": {"alluxio.worker.block.heartbeat": "5s"}},
                                              "alluxioVersion": {"image": "alluxio/alluxio", "imageTag": "2.9.4"}})
    bound.settle(passes=4)
    new_worker, new_master = bound.get(STATEFUL_SET, "imagenet-worker"), bound.get(STATEFUL_SET, "imagenet-master")
    assert new_worker["metadata"]["uid"] == worker["metadata"]["uid"]
    assert bound.get(ALLUXIO.resource, NAME)["metadata"]["uid"] == runtime_uid
    template = new_worker["spec"]["template"]
    assert template["spec"]["containers"][0]["image"] == "alluxio/alluxio:2.9.4"
    assert template["metadata"]["annotations"][CONFIG_CHECKSUM] != \
        worker["spec"]["template"]["metadata"]["annotations"][CONFIG_CHECKSUM]
    # The master's configuration did not change: only its image moved.
    assert new_master["spec"]["template"]["metadata"]["annotations"][CONFIG_CHECKSUM] == \
        master["spec"]["template"]["metadata"]["annotations"][CONFIG_CHECKSUM]
    opts = bound.get(CONFIG_MAP, "imagenet-config")["data"]["ALLUXIO_WORKER_JAVA_OPTS"]
    assert opts == "-Dalluxio.worker.block.heartbeat=5s"
    assert "RuntimeUpdated" in bound.event_reasons()
    assert bound.dataset()["status"]["phase"] == "Bound"


@pytest.mark.parametrize("component", ["master", "worker"])
def test_a_single_replica_rollout_keeps_the_dataset_bound_until_its_deadline(bound: FakeCluster,
                                                                             component: str) -> None:
    bound.patch_spec(ALLUXIO.resource, NAME, {"replicas": 1})
    bound.settle(passes=4)
    sts = f"imagenet-{component}"
    bound.held.add(sts)  # the one pod is replaced and its successor is not ready yet
    bound.patch_spec(ALLUXIO.resource, NAME, {component: {"properties": {"alluxio.user.file.buffer.bytes": "16MB"}}})
    bound.settle(passes=8)
    assert bound.get(STATEFUL_SET, sts)["status"]["readyReplicas"] == 0
    assert bound.dataset()["status"]["phase"] == "Bound"
    assert bound.get(ALLUXIO.resource, NAME)["status"]["lifecycle"]["state"] == "Ready"
    assert "RuntimeUnhealthy" not in bound.event_reasons()
    ready = "MasterReady" if component == "master" else "WorkersReady"
    shown = next(c for c in bound.get(ALLUXIO.resource, NAME)["status"]["conditions"] if c["type"] == ready)
    assert shown["status"] == "False"  # the status still tells the truth about readiness

    bound.time += timedelta(seconds=600)  # a rollout that never finishes is broken after all
    bound.settle(passes=2)
    assert bound.dataset()["status"]["phase"] == "Failed"
    assert "RuntimeUnhealthy" in bound.event_reasons()

    bound.held.clear()
    bound.settle()
    assert bound.dataset()["status"]["phase"] == "Bound"


def test_a_lost_worker_set_fails_the_dataset_until_setup_repairs_it(bound: FakeCluster) -> None:
    bound.gw.delete(STATEFUL_SET, NS, "imagenet-worker")
    bound.reconcile()
    assert bound.dataset()["status"]["phase"] == "Failed"
    assert any("StatefulSet team/imagenet-worker is missing" in e.message for e in bound.gw.events)
    bound.settle()
    assert bound.dataset()["status"]["phase"] == "Bound"
    assert bound.get(STATEFUL_SET, "imagenet-worker")["spec"]["replicas"] == 3


@pytest.mark.parametrize("lost", ["imagenet-master", "imagenet-fuse", "imagenet-config", "imagenet-master-0"])
def test_every_lost_object_is_noticed_and_made_again(bound: FakeCluster, lost: str) -> None:
    res = {"imagenet-master": STATEFUL_SET, "imagenet-fuse": DAEMON_SET, "imagenet-config": CONFIG_MAP,
           "imagenet-master-0": SERVICE}[lost]
    bound.gw.delete(res, NS, lost)
    bound.reconcile()
    assert any(e.reason == "RuntimeUnhealthy" and lost in e.message for e in bound.gw.events)
    # What comes back ready at once (config, services, the fuse) is repaired within the pass; a new
    # master must start first, and the Dataset is Failed until it has.
    assert bound.dataset()["status"]["phase"] == ("Failed" if lost == "imagenet-master" else "Bound")
    bound.settle()
    assert bound.dataset()["status"]["phase"] == "Bound"
    assert bound.gw.get(res, NS, lost) is not None


def test_changed_mounts_are_applied_through_updating(bound: FakeCluster) -> None:
    bound.ufs_file("s3://imagenet/test/d.jpg", 1000)
    mounts = bound.dataset()["spec"]["mounts"]
    bound.gw.patch(DATASET, NS, NAME, {"spec": {"mounts": [mounts[0], {"mountPoint": "s3://imagenet/test",
                                                                          "name": "test"}]}})
    outcome = bound.reconcile()
    assert [(m.source, m.dest) for m in outcome.moves if m.machine == "Dataset"] == [
        ("Bound", "Updating"), ("Updating", "Bound")]
    table = standin.mounts(bound.state_dir("imagenet-master-0"))
    assert sorted(m["path"] for m in table) == ["/test", "/train"]
    status = bound.dataset()["status"]
    assert [m["name"] for m in status["mounts"]] == ["train", "test"]
    # The metadata of the new mounts loads in the background; the old counts stay until it is done.
    syncing = next(c for c in status["conditions"] if c["type"] == "MetadataSynced")
    assert (syncing["status"], syncing["reason"]) == ("False", "MetadataSyncing") and status["ufsTotal"] == "9.77KiB"
    assert bound.reconcile().requeue_after is not None
    status = bound.dataset()["status"]
    assert status["fileNum"] == "3" and status["ufsTotal"] == "8.79KiB"
    table_cm = bound.get(CONFIG_MAP, "imagenet-mount-config")["data"]["mounts.json"]
    assert "s3://imagenet/test" in table_cm and "s3://imagenet/val" not in table_cm


def test_a_pass_lists_the_mount_table_once_unless_it_mounted_since(bound: FakeCluster) -> None:
    """The drift check and the repair that follows in the same pass read one listing (a command
    in the master each): the check's listing is the repair's."""
    bound.exec(NS, "imagenet-master-0", "alluxio-master", ["alluxio", "fs", "unmount", "/val"])
    before = len(bound.execs)
    bound.reconcile()
    argvs = [argv for _, _, argv in bound.execs[before:]]
    assert any(argv[:3] == ["alluxio", "fs", "mount"] and "/val" in argv for argv in argvs), argvs
    listings = [i for i, argv in enumerate(argvs) if argv == ["alluxio", "fs", "mount"]]
    changes = [i for i, argv in enumerate(argvs) if argv != ["alluxio", "fs", "mount"]
               and argv[:3] in (["alluxio", "fs", "mount"], ["alluxio", "fs", "unmount"])]
    assert len([i for i in listings if i < min(changes)]) == 1, f"listed twice before mounting: {argvs}"


def test_a_master_restart_remounts_what_the_cache_lost(bound: FakeCluster) -> None:
    state = bound.state_dir("imagenet-master-0")
    standin.reset(state)  # the new master came up with an empty mount table
    bound.gw.delete(POD, NS, "imagenet-master-0")
    bound.time += timedelta(seconds=5)
    bound.settle(passes=3)
    assert sorted(m["path"] for m in standin.mounts(state)) == ["/train", "/val"]
    assert bound.dataset()["status"]["phase"] == "Bound"
    runtime = bound.get(ALLUXIO.resource, NAME)["status"]
    pod = bound.get(POD, "imagenet-master-0")
    assert runtime["mountTime"] >= pod["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]


def test_drift_in_the_mount_table_is_repaired(bound: FakeCluster) -> None:
    state = bound.state_dir("imagenet-master-0")
    bound.exec(NS, "imagenet-master-0", "alluxio-master", ["alluxio", "fs", "unmount", "/val"])
    bound.settle(passes=2)
    assert sorted(m["path"] for m in standin.mounts(state)) == ["/train", "/val"]
    assert "UFSRemounted" in bound.event_reasons()
