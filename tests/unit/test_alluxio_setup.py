"""What setting up an Alluxio pair creates, and the engine's own checks of a spec.

The in-memory cluster and stand-in CLIs are ``tests.unit.cache_cluster``; the ``cluster`` and ``bound``
fixtures are in conftest."""

from __future__ import annotations

import copy

from engines.alluxio.kind import KIND_SPEC as ALLUXIO
from lifecycle.k8s.gateway import CONFIG_MAP, DAEMON_SET, NODE, PV, PVC, SERVICE, STATEFUL_SET, Obj
from tests.unit.cache_cluster import NAME, NS, FakeCluster, alluxio_manifest, dataset_manifest


def test_setup_creates_the_reference_objects_owned_by_the_runtime(bound: FakeCluster) -> None:
    runtime = bound.get(ALLUXIO.resource, NAME)
    owner = runtime["metadata"]["uid"]
    made = {(o["kind"], o["metadata"]["name"]) for o in bound.gw.all_objects()
            if any(r["uid"] == owner for r in o["metadata"].get("ownerReferences") or [])
            and o["kind"] != "Pod"}
    assert made == {
        ("ConfigMap", "imagenet-config"), ("ConfigMap", "imagenet-mount-config"),
        ("ConfigMap", "imagenet-alluxio-values"), ("Service", "imagenet-master-0"),
        ("StatefulSet", "imagenet-master"), ("StatefulSet", "imagenet-worker"), ("DaemonSet", "imagenet-fuse"),
    }
    status = runtime["status"]
    assert status["valueFile"] == "imagenet-alluxio-values"
    assert status["selector"] == "app=alluxio,release=imagenet,role=alluxio-worker"
    assert (status["masterPhase"], status["workerPhase"], status["fusePhase"]) == ("Ready", "Ready", "Ready")
    assert (status["desiredWorkerNumberScheduled"], status["currentWorkerNumberScheduled"],
            status["workerNumberReady"]) == (3, 3, 3)
    assert status["setupDuration"].endswith("s")
    assert {c["type"] for c in status["conditions"]} >= {"MasterInitialized", "MasterReady", "WorkersInitialized",
                                                          "WorkersReady", "FusesInitialized", "FusesReady"}
    master = bound.get(STATEFUL_SET, "imagenet-master")
    assert [c["name"] for c in master["spec"]["template"]["spec"]["containers"]] == [
        "alluxio-master", "alluxio-job-master"]
    assert bound.get(SERVICE, "imagenet-master-0")["spec"]["selector"]["statefulset.kubernetes.io/pod-name"] == \
        "imagenet-master-0"
    fuse = bound.get(DAEMON_SET, "imagenet-fuse")
    assert fuse["spec"]["template"]["spec"]["nodeSelector"] == {"fluid.io/f-team-imagenet": "true"}


def test_workers_start_at_zero_with_parallel_pods_and_the_reference_placement(cluster: FakeCluster) -> None:
    required = {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "topology.example.com/zone", "operator": "In", "values": ["a"]}]}]}
    cluster.gw.create(dataset_manifest(nodeAffinity={"required": required}))
    cluster.gw.create(alluxio_manifest())
    written: list[Obj] = []
    create, apply = cluster.gw.create, cluster.gw.apply

    def creating(obj: Obj) -> Obj:
        written.append(copy.deepcopy(obj))
        return create(obj)

    def applying(obj: Obj) -> Obj:
        written.append(copy.deepcopy(obj))
        return apply(obj)

    cluster.gw.create, cluster.gw.apply = creating, applying  # type: ignore[method-assign]
    cluster.settle()
    workers = [o for o in written if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "imagenet-worker"]
    assert workers[0]["spec"]["replicas"] == 0, "created with no workers, scaled once the master is ready"
    assert {w["spec"]["replicas"] for w in workers[1:]} == {3}
    worker = cluster.get(STATEFUL_SET, "imagenet-worker")
    assert worker["spec"]["podManagementPolicy"] == "Parallel"
    template = worker["spec"]["template"]
    assert template["metadata"]["labels"].items() >= {
        "app": "alluxio", "release": NAME, "role": "alluxio-worker", "fluid.io/dataset": "team-imagenet",
        "fluid.io/dataset-placement": "Exclusive"}.items()
    affinity = template["spec"]["affinity"]
    assert affinity["podAntiAffinity"] == {"requiredDuringSchedulingIgnoredDuringExecution": [{
        "labelSelector": {"matchExpressions": [{"key": "fluid.io/dataset", "operator": "Exists"}]},
        "topologyKey": "kubernetes.io/hostname"}]}
    assert affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == required
    assert affinity["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["preference"] == {
        "matchExpressions": [{"key": "fluid.io/f-team-imagenet", "operator": "In", "values": ["true"]}]}


def test_shared_placement_prefers_spreading_and_avoids_exclusive_workers(cluster: FakeCluster) -> None:
    cluster.gw.create(dataset_manifest(placement="Shared"))
    cluster.gw.create(alluxio_manifest())
    cluster.settle()
    template = cluster.get(STATEFUL_SET, "imagenet-worker")["spec"]["template"]
    assert template["metadata"]["labels"]["fluid.io/dataset-placement"] == "Shared"
    anti = template["spec"]["affinity"]["podAntiAffinity"]
    assert anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]["labelSelector"] == {
        "matchExpressions": [{"key": "fluid.io/dataset", "operator": "Exists"}]}
    assert anti["requiredDuringSchedulingIgnoredDuringExecution"] == [{
        "labelSelector": {"matchExpressions": [
            {"key": "fluid.io/dataset-placement", "operator": "In", "values": ["Exclusive"]}]},
        "topologyKey": "kubernetes.io/hostname"}]
    labels = cluster.get(NODE, "node-0", None)["metadata"]["labels"]
    assert "fluid_exclusive" not in labels and labels["fluid.io/s-team-imagenet"] == "true"


def test_the_volume_and_the_dataset_status_follow_the_reference(bound: FakeCluster) -> None:
    pv = bound.get(PV, "team-imagenet", None)
    assert pv["spec"]["csi"]["volumeAttributes"] == {
        "fluid_path": "/runtime-mnt/alluxio/team/imagenet/alluxio-fuse", "mount_type": "fuse.alluxio-fuse",
        "runtime_namespace": NS, "runtime_name": NAME, "mount_pod_node_selector_key": "fluid.io/f-team-imagenet"}
    assert bound.get(PVC, NAME)["spec"]["volumeName"] == "team-imagenet"
    status = bound.dataset()["status"]
    # On the host network (the default) the ports come from the operator's range: rpc is the first.
    assert status["hcfs"]["endpoint"] == "alluxio://imagenet-master-0.team:20000"
    assert status["runtimes"] == [{"name": NAME, "namespace": NS, "category": "Accelerate", "type": "alluxio",
                                   "masterReplicas": 1}]
    assert status["ufsTotal"] == "9.77KiB" and status["fileNum"] == "3"
    assert status["cacheStates"]["cached"] == "0.00B"
    assert status["cacheStates"]["cacheCapacity"] == "2.00GiB"
    assert status["cacheStates"]["cachedPercentage"] == "0.0%"
    assert [m["name"] for m in status["mounts"]] == ["train", "val"]
    synced = next(c for c in status["conditions"] if c["type"] == "MetadataSynced")
    assert synced["status"] == "True" and synced["message"] == "3 files, 9.77KiB in 2 mounts"


# -- checks ----------------------------------------------------------------------------------------


def test_engine_checks_name_the_field_and_the_fix(cluster: FakeCluster) -> None:
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest(master={"replicas": 2}, tieredstore={"levels": [
        {"mediumtype": "MEM", "path": "/dev/shm"}, {"mediumtype": "SSD", "quota": "10Gi"}]}))
    outcome = cluster.settle(passes=2)
    assert outcome.runtime_state == "New"
    message = next(e.message for e in cluster.gw.events if e.reason == "ErrorValidateSpecFields")
    assert "spec.master.replicas: 2 masters cannot elect a leader by majority; use an odd number" in message
    assert "spec.tieredstore.levels[0].quota: the MEM tier has no quota; set quota" in message
    assert "spec.tieredstore.levels[1].path: the SSD tier has no path" in message


def test_high_availability_masters_get_a_service_each_and_an_embedded_journal(cluster: FakeCluster) -> None:
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest(master={"replicas": 3}))
    cluster.settle()
    assert cluster.dataset()["status"]["phase"] == "Bound"
    assert [s["metadata"]["name"] for s in cluster.gw.list(SERVICE, NS)] == [
        "imagenet-master-0", "imagenet-master-1", "imagenet-master-2"]
    site = cluster.get(CONFIG_MAP, "imagenet-config")["data"]["alluxio-site.properties"]
    assert "alluxio.master.embedded.journal.addresses=imagenet-master-0.team:20002,imagenet-master-1.team:20002," \
        "imagenet-master-2.team:20002" in site  # the third port of the range: rpc, web, embedded
    assert cluster.dataset()["status"]["runtimes"][0]["masterReplicas"] == 3
