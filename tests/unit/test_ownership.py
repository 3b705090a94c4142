"""The operator touches only what is ours: objects named like ours stay as they are, and two pairs
never share a name. Shown on the in-memory API server with the Alluxio engine (the cluster tests
prove the same on the real one)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from lifecycle.k8s.gateway import CONFIG_MAP, DATASET, NODE, PV, PVC, SECRET, STATEFUL_SET, Obj
from lifecycle.k8s.naming import (
    KEY_ANNOTATION,
    LABEL_LIMIT,
    WORKLOAD_LIMIT,
    common_label,
    distinct_key,
    exclusive_value,
    key_rivals,
    reference_key,
    workload_name,
)
from lifecycle.k8s.ownership import MANAGED_BY_LABEL, OWNER_LABEL, ObjectInTheWay, Owner, is_ours
from tests.unit.cache_cluster import ALLUXIO, NS, FakeCluster, alluxio_manifest, dataset_manifest, seed


@pytest.fixture
def cluster(tmp_path: Path) -> FakeCluster:
    made = FakeCluster(tmp_path)
    seed(made)
    return made


def in_namespace(obj: Obj, namespace: str) -> Obj:
    out = copy.deepcopy(obj)
    out["metadata"]["namespace"] = namespace
    return out


def create_pair(cluster: FakeCluster, name: str, namespace: str = NS) -> None:
    if namespace != NS:
        secret = cluster.gw.get(SECRET, NS, "s3-keys")
        assert secret is not None
        cluster.gw.create({"apiVersion": "v1", "kind": "Secret",
                           "metadata": {"name": "s3-keys", "namespace": namespace}, "data": secret["data"]})
    cluster.gw.create(in_namespace(dataset_manifest(name), namespace))
    cluster.gw.create(in_namespace(alluxio_manifest(name, replicas=1), namespace))


def delete_pair(cluster: FakeCluster, name: str, namespace: str = NS, passes: int = 12) -> None:
    cluster.gw.delete(DATASET, namespace, name)
    cluster.settle(name, passes=passes, namespace=namespace)


def phase(cluster: FakeCluster, name: str, namespace: str = NS) -> Any:
    ds = cluster.gw.get(DATASET, namespace, name)
    return (ds or {}).get("status", {}).get("phase")


def unchanged(obj: Obj) -> Any:
    """What a user wrote (a simulated controller may still move the status)."""
    meta = obj["metadata"]
    return (meta.get("uid"), meta.get("labels"), meta.get("annotations"), meta.get("ownerReferences"),
            obj.get("spec"), obj.get("data"))


def warnings(cluster: FakeCluster, reason: str) -> list[str]:
    return [e.message for e in cluster.gw.events if e.type == "Warning" and e.reason == reason]


# -- objects in the way --------------------------------------------------------------------------


USERS_OBJECTS: dict[str, Obj] = {
    "PVC": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "imagenet", "namespace": NS},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
    "PV": {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"{NS}-imagenet"},
           "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data"}}},
    "ConfigMap": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "imagenet-config", "namespace": NS},
                  "data": {"team": "settings"}},
    "StatefulSet": {"apiVersion": "apps/v1", "kind": "StatefulSet",
                    "metadata": {"name": "imagenet-worker", "namespace": NS},
                    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "mine"}},
                             "template": {"metadata": {"labels": {"app": "mine"}},
                                          "spec": {"containers": [{"name": "c", "image": "mine"}]}}}},
}


@pytest.mark.parametrize("kind", sorted(USERS_OBJECTS))
def test_an_object_named_like_ours_survives_the_pairs_whole_life(cluster: FakeCluster, kind: str) -> None:
    theirs = USERS_OBJECTS[kind]
    res = cluster.gw.resource(theirs["apiVersion"], theirs["kind"])
    meta = theirs["metadata"]
    before = cluster.gw.create(copy.deepcopy(theirs))
    create_pair(cluster, "imagenet")
    cluster.settle("imagenet")

    assert phase(cluster, "imagenet") == "NotBound", "a pair never binds through someone else's object"
    said = warnings(cluster, "ObjectInTheWay")
    assert said and f"{theirs['kind']} {meta.get('namespace') + '/' if meta.get('namespace') else ''}" \
        f"{meta['name']} already exists and is not ours" in said[-1], cluster.gw.events
    status = cluster.get(ALLUXIO.resource, "imagenet")["status"]
    assert status["lifecycle"]["reason"] == "ObjectInTheWay" and meta["name"] in status["lifecycle"]["message"]

    delete_pair(cluster, "imagenet")
    assert cluster.gw.get(DATASET, NS, "imagenet") is None and cluster.gw.get(ALLUXIO.resource, NS, "imagenet") is None
    after = cluster.gw.get(res, meta.get("namespace"), meta["name"])
    assert after is not None, "the user's object was deleted"
    assert unchanged(after) == unchanged(before), "the user's object was changed"


def test_every_object_in_the_way_is_named_at_once(cluster: FakeCluster) -> None:
    for kind in ("ConfigMap", "StatefulSet"):
        cluster.gw.create(copy.deepcopy(USERS_OBJECTS[kind]))
    create_pair(cluster, "imagenet")
    cluster.settle("imagenet", passes=3)
    message = warnings(cluster, "ObjectInTheWay")[0]
    assert f"ConfigMap {NS}/imagenet-config" in message and f"StatefulSet {NS}/imagenet-worker" in message
    assert "rename or delete them" in message


def test_owner_creates_first_and_deletes_only_its_own_object(cluster: FakeCluster) -> None:
    owner = Owner(cluster.gw, "uid-runtime", "AlluxioRuntime default/x")
    made = owner.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x-config", "namespace": NS},
                        "data": {"a": "1"}}, CONFIG_MAP, None)
    assert made["metadata"]["labels"][MANAGED_BY_LABEL] == "fluid-lifecycle"
    assert made["metadata"]["labels"][OWNER_LABEL] == "uid-runtime" and is_ours(made, "uid-runtime")
    assert not is_ours(made, "uid-other")
    # Replaced under our feet by someone else's object: the delete's UID precondition keeps it.
    cluster.gw.delete(CONFIG_MAP, NS, "x-config")
    theirs = cluster.gw.create({"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "x-config", "namespace": NS, "labels": made["metadata"]["labels"]},
                                "data": {"b": "2"}})
    assert owner.delete(CONFIG_MAP, made) is False
    assert cluster.gw.get(CONFIG_MAP, NS, "x-config")["data"] == theirs["data"]
    with pytest.raises(ObjectInTheWay):
        Owner(cluster.gw, "uid-other", "someone").apply({"apiVersion": "v1", "kind": "ConfigMap",
                                                        "metadata": {"name": "x-config", "namespace": NS}},
                                                       CONFIG_MAP, theirs)


# -- names never shared ----------------------------------------------------------------------------


def test_the_rivals_of_a_key_are_every_other_split_of_it() -> None:
    assert key_rivals("team", "a-x") == [("team-a", "x")]
    assert key_rivals("a-b", "c-d") == [("a", "b-c-d"), ("a-b-c", "d")]
    assert key_rivals("team", "data") == []
    for ns, name in key_rivals("a-b", "c-d"):
        assert reference_key(ns, name) == reference_key("a-b", "c-d")


def test_two_pairs_whose_reference_names_collide_get_their_own_pv_and_labels(cluster: FakeCluster) -> None:
    assert reference_key("team", "a-x") == reference_key("team-a", "x")
    for ns in ("team", "team-a"):
        cluster.gw.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    create_pair(cluster, "a-x", "team")
    cluster.settle("a-x", namespace="team")
    create_pair(cluster, "x", "team-a")
    cluster.settle("x", namespace="team-a")
    assert phase(cluster, "a-x", "team") == phase(cluster, "x", "team-a") == "Bound"

    first, second = reference_key("team", "a-x"), distinct_key("team-a", "x")
    assert cluster.get(DATASET, "a-x", "team")["metadata"]["annotations"][KEY_ANNOTATION] == first
    assert cluster.get(DATASET, "x", "team-a")["metadata"]["annotations"][KEY_ANNOTATION] == second
    assert cluster.get(PVC, "a-x", "team")["spec"]["volumeName"] == first
    assert cluster.get(PVC, "x", "team-a")["spec"]["volumeName"] == second
    assert cluster.get(PV, first, None)["spec"]["claimRef"]["namespace"] == "team"
    assert cluster.get(PV, second, None)["spec"]["claimRef"]["namespace"] == "team-a"

    def labelled(key: str) -> list[str]:
        return [n["metadata"]["name"] for n in cluster.gw.list(NODE)
                if common_label(key) in (n["metadata"].get("labels") or {})]

    assert labelled(first) and labelled(second)
    delete_pair(cluster, "x", "team-a")
    assert cluster.gw.get(PV, None, second) is None and not labelled(second)
    assert phase(cluster, "a-x", "team") == "Bound"
    assert cluster.gw.get(PV, None, first) is not None and labelled(first), "the other pair lost its PV or labels"
    assert cluster.settle("a-x", namespace="team").failure is None and phase(cluster, "a-x", "team") == "Bound"


def test_the_older_dataset_keeps_the_reference_key_whoever_claims_first(cluster: FakeCluster) -> None:
    for ns in ("team", "team-a"):
        cluster.gw.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    cluster.gw.create(in_namespace(dataset_manifest("a-x"), "team"))  # older, its runtime comes later
    create_pair(cluster, "x", "team-a")
    cluster.settle("x", namespace="team-a")
    assert cluster.get(DATASET, "x", "team-a")["metadata"]["annotations"][KEY_ANNOTATION] == distinct_key("team-a", "x")


def test_long_names_never_truncate_into_a_shared_value() -> None:
    a, b = "n" * 40, "n" * 40
    assert exclusive_value(a, b + "1") != exclusive_value(a, b + "2")
    assert all(len(exclusive_value(a, b + s)) <= LABEL_LIMIT for s in ("1", "2"))
    name = "d" * 63
    for suffix in ("master", "jindofs-master", "worker"):
        made = workload_name(name, suffix)
        assert len(made) <= WORKLOAD_LIMIT and made.endswith(f"-{suffix}")
    assert workload_name("d" * 62 + "a", "master") != workload_name("d" * 62 + "b", "master")


def test_a_63_character_dataset_name_works_end_to_end(cluster: FakeCluster) -> None:
    name = "a" + "b" * 61 + "c"
    create_pair(cluster, name)
    cluster.settle(name)
    assert phase(cluster, name) == "Bound", [e.message for e in cluster.gw.events if e.type == "Warning"]
    for sts in cluster.gw.list(STATEFUL_SET, NS):
        assert len(sts["metadata"]["name"]) <= WORKLOAD_LIMIT


# -- a status that cannot be read ----------------------------------------------------------------


def test_an_unreadable_status_is_rebuilt_and_never_unbinds_a_serving_dataset(cluster: FakeCluster) -> None:
    create_pair(cluster, "imagenet")
    cluster.settle("imagenet")
    assert phase(cluster, "imagenet") == "Bound"
    runtime = cluster.get(ALLUXIO.resource, "imagenet")
    cluster.gw.set_status(DATASET, NS, "imagenet", {"phase": 42, "conditions": "x"})
    cluster.gw.set_status(ALLUXIO.resource, NS, "imagenet", {"lifecycle": {"state": ["not", "a", "state"]}})
    writes_before = cluster.gw.writes["status"]
    outcome = cluster.reconcile("imagenet")
    assert outcome.failure is None, outcome.failure
    ds = cluster.get(DATASET, "imagenet")
    assert ds["status"]["phase"] == "Bound", "a serving Dataset was unbound by a status repair"
    assert ds["status"]["runtimes"][0]["type"] == "alluxio" and ds["status"]["hcfs"]["endpoint"]
    assert cluster.get(ALLUXIO.resource, "imagenet")["status"]["lifecycle"]["state"] == "Ready"
    assert cluster.gw.writes["status"] > writes_before
    repaired = [e for e in cluster.gw.events if e.reason == "StatusRepaired"]
    assert {e.kind for e in repaired} == {"Dataset", "AlluxioRuntime"} and len(repaired) == 2
    assert not [e for e in cluster.gw.events if e.reason == "ErrorValidateSpecFields"], "the spec was blamed"
    assert "status.phase: expected a string" in next(e.message for e in repaired if e.kind == "Dataset")
    cluster.settle("imagenet", passes=3)  # said once: a rebuilt status reads again
    assert len([e for e in cluster.gw.events if e.reason == "StatusRepaired"]) == 2
    assert runtime["metadata"]["uid"] == cluster.get(ALLUXIO.resource, "imagenet")["metadata"]["uid"]
