"""A shared cluster, on the real control plane: what is not ours is never touched, two namespaces
never share a volume or a node label, and a Secret value goes nowhere but the cache's own file.

The reconcile runs in this process against the session's API server, which writes an audit log at
``Metadata`` level (every request's URL, verb and user) and seals Secrets in etcd.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engines.alluxio.kind import KIND_SPEC as ALLUXIO
from lifecycle.cli.run import install_crds
from lifecycle.k8s.connection import ApiServer
from lifecycle.k8s.gateway import (
    CONFIG_MAP,
    DAEMON_SET,
    DATASET,
    EVENT,
    NAMESPACE,
    PV,
    PVC,
    SERVICE,
    SERVICE_ACCOUNT,
    STATEFUL_SET,
    Obj,
)
from lifecycle.k8s.kube import KubeGateway
from lifecycle.k8s.naming import common_label, recorded_key, reference_key
from lifecycle.local import LocalCluster
from lifecycle.local.exec_provisioner import pod_root
from lifecycle.local.standin import cache as standin
from tests.cluster import eventually
from tests.cluster.driver import Driver, fast_start

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def crds(kube: ApiServer) -> list[str]:
    return install_crds(KubeGateway(kube))


@pytest.fixture
def driver(crds: list[str], kube: ApiServer, namespace: str, cluster: LocalCluster) -> Driver:
    return Driver(kube, namespace, cluster)


def create_pair(d: Driver, name: str, **mount: Any) -> None:
    """A Dataset with one S3 mount (holding one file) and a one-worker AlluxioRuntime."""
    d.ufs_files({f"s3://shared/{name}/part-0": 1 << 10})
    d.apply_manifests(pair(name, **mount))


def pair(name: str, **mount: Any) -> list[Obj]:
    dataset = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset", "metadata": {"name": name},
               "spec": {"mounts": [{"mountPoint": f"s3://shared/{name}", "name": "data", **mount}],
                        "placement": "Shared"}}
    runtime = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "AlluxioRuntime", "metadata": {"name": name},
               "spec": {"replicas": 1, "tieredstore": {"levels": [{"mediumtype": "MEM", "path": "/dev/shm",
                                                                   "quota": "1Gi"}]}}}
    return [dataset, fast_start(runtime)]


def lifecycle_of(d: Driver, name: str) -> dict[str, Any]:
    return ((d.get(ALLUXIO.resource, name) or {}).get("status") or {}).get("lifecycle") or {}


def wait_gone(d: Driver, name: str) -> None:
    d.gw.delete(DATASET, d.ns, name)
    d.until(name, lambda: (d.get(DATASET, name), d.get(ALLUXIO.resource, name)), lambda seen: seen == (None, None),
            90, f"Dataset and AlluxioRuntime {name} gone")


# -- objects in the way ----------------------------------------------------------------------------


def users_objects(ns: str) -> dict[str, Obj]:
    """One object of a user per kind, each under the name a pair of the same name would need."""
    return {
        "claim": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "claim", "namespace": ns},
                  "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "users-own-claims",
                           "resources": {"requests": {"storage": "1Gi"}}}},
        "volume": {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"{ns}-volume"},
                   "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                            "storageClassName": "users-own-volumes", "hostPath": {"path": "/data"}}},
        "settings": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings-config", "namespace": ns},
                     "data": {"team": "settings"}},
        "workers": {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "workers-worker",
                                                                                  "namespace": ns},
                    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "mine"}}, "serviceName": "mine",
                             "template": {"metadata": {"labels": {"app": "mine"}},
                                          "spec": {"containers": [{"name": "c", "image": "mine"}]}}}},
    }


def what_the_user_wrote(obj: Obj) -> Any:
    meta = obj["metadata"]
    return (meta.get("uid"), meta.get("labels"), meta.get("annotations"), meta.get("ownerReferences"),
            obj.get("spec"), obj.get("data"))


def test_objects_named_like_ours_are_named_in_events_and_survive_the_pairs_whole_life(driver: Driver) -> None:
    d = driver
    theirs = users_objects(d.ns)
    before = {}
    for pair_name, obj in theirs.items():
        res = d.gw.resource(obj["apiVersion"], obj["kind"])
        before[pair_name] = (res, d.gw.create(obj))
        create_pair(d, pair_name)
    for pair_name, (_, obj) in before.items():
        meta = obj["metadata"]
        name = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
        seen = d.until(pair_name, lambda n=pair_name: lifecycle_of(d, n),  # type: ignore[misc]
                       lambda life, named=name: life.get("reason") == "ObjectInTheWay" and named in life["message"],
                       120, f"{pair_name} waiting on the user's {obj['kind']}")
        assert "not ours" in seen["message"] and "rename or delete it" in seen["message"]
        said = [e["message"] for e in d.gw.list(EVENT, d.ns)
                if e["reason"] == "ObjectInTheWay" and e["involvedObject"]["name"] == pair_name]
        assert said and f"{obj['kind']} {name} already exists and is not ours" in said[-1]
        assert d.phase(pair_name) != "Bound"
    for pair_name in theirs:
        wait_gone(d, pair_name)
    for res, obj in before.values():
        meta = obj["metadata"]
        after = d.gw.get(res, meta.get("namespace"), meta["name"])
        assert after is not None, f"the user's {obj['kind']} was deleted"
        assert what_the_user_wrote(after) == what_the_user_wrote(obj), f"the user's {obj['kind']} was changed"
    d.gw.delete(PV, None, f"{d.ns}-volume")


# -- names that collide across namespaces ----------------------------------------------------------


@pytest.fixture
def namespace_a(kube: ApiServer, namespace: str) -> Iterator[str]:
    """``<namespace>-a``: its pair ``x`` has the reference key of ``<namespace>/a-x``."""
    gw, name = KubeGateway(kube), f"{namespace}-a"
    gw.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    eventually(lambda: gw.get(SERVICE_ACCOUNT, name, "default"), bool, 30, f"the default ServiceAccount of {name}")
    yield name
    gw.delete(NAMESPACE, None, name)


def claimed(d: Driver, name: str) -> tuple[str, str, str]:
    """The pair's key, its PV and the node label that marks its cache nodes."""
    ds = d.must(DATASET, name)
    key = recorded_key(d.ns, name, ds["metadata"].get("annotations"))
    return key, d.must(PVC, name)["spec"]["volumeName"], common_label(key)


def test_two_namespaces_whose_reference_names_collide_share_no_volume_or_label(
        driver: Driver, kube: ApiServer, namespace_a: str, cluster: LocalCluster) -> None:
    first, second = driver, Driver(kube, namespace_a, cluster)
    assert reference_key(first.ns, "a-x") == reference_key(second.ns, "x")
    create_pair(first, "a-x")
    create_pair(second, "x")
    for d, name in ((first, "a-x"), (second, "x")):
        d.until(name, lambda d=d, n=name: d.phase(n), lambda p: p == "Bound", 120,  # type: ignore[misc]
                f"{d.ns}/{name} Bound")
    key1, pv1, label1 = claimed(first, "a-x")
    key2, pv2, label2 = claimed(second, "x")
    assert key1 != key2 and pv1 != pv2 and label1 != label2
    assert first.labelled_nodes(label1) and second.labelled_nodes(label2)
    nodes2 = second.labelled_nodes(label2)

    wait_gone(first, "a-x")
    eventually(lambda: first.get(PV, pv1, namespaced=False), lambda pv: pv is None, 60, f"PV {pv1} deleted")
    assert not first.labelled_nodes(label1)
    for _ in range(3):
        second.reconcile("x")
    assert second.phase("x") == "Bound"
    assert second.must(PV, pv2, namespaced=False)["spec"]["claimRef"]["namespace"] == second.ns
    assert second.labelled_nodes(label2) == nodes2
    wait_gone(second, "x")


# -- a Secret value ----------------------------------------------------------------------------------


def test_a_secret_value_reaches_the_cache_as_a_file_and_nothing_else(
        driver: Driver, cluster: LocalCluster, caplog: pytest.LogCaptureFixture) -> None:
    d, name = driver, "sealed"
    token = "tok" + secrets.token_hex(12)
    value = f"{token}\"with 'quotes'\" and $(shell)\n"  # quotes, a space and a trailing newline
    d.gw.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sealed-keys", "namespace": d.ns},
                 "data": {"secret": base64.b64encode(value.encode()).decode()}})
    caplog.set_level(logging.DEBUG)
    create_pair(d, name, encryptOptions=[
        {"name": "aws.secretKey", "valueFrom": {"secretKeyRef": {"name": "sealed-keys", "key": "secret"}}}])
    d.until(name, lambda: d.phase(name), lambda p: p == "Bound", 120, "Dataset Bound")
    mounted = {m["path"]: m for m in standin.mounts(d.state_dir(f"{name}-master-0"))}
    assert mounted["/data"]["secrets"]["aws.secretKey"] == standin.fingerprint(value), "the cache read the value"

    forms = {token, base64.b64encode(value.encode()).decode(), urllib.parse.quote(value)}
    ours = [o for res in (CONFIG_MAP, STATEFUL_SET, DAEMON_SET, SERVICE, EVENT, DATASET, ALLUXIO.resource, PVC)
            for o in d.gw.list(res, d.ns)] + [d.must(PV, f"{d.ns}-{name}", namespaced=False)]
    places: dict[str, str] = {"objects, events and status": json.dumps(ours),
                              "the operator's log": "\n".join(r.getMessage() for r in caplog.records)}
    audit = cluster.layout.audit_log
    assert audit.exists() and f"/namespaces/{d.ns}/pods/{name}-master-0/exec" in audit.read_text()
    for path in sorted(p for p in Path(cluster.dir).rglob("*") if p.is_file()):
        places[str(path.relative_to(cluster.dir))] = path.read_bytes().decode("latin-1")
    leaks = [f"{form[:12]}... in {where}" for where, text in places.items() for form in forms if form in text]
    assert not leaks, leaks
    # Where the value is meant to be, the same search finds it: the master pod's Secret volume,
    # projected outside the cluster folder as a kubelet would.
    projected = pod_root(cluster.dir, d.ns, f"{name}-master-0")
    assert any(p.is_file() and token in p.read_text() for p in projected.rglob("*")), "the search finds nothing"
    wait_gone(d, name)
