"""The Kubernetes gateway under the operator's real conditions: many threads, one gateway."""

from __future__ import annotations

import threading

from kubernetes import client

from lifecycle.k8s.gateway import EVENT, NAMESPACE, POD
from lifecycle.k8s.kube import KubeGateway
from tests.cluster import IMMEDIATE_START, eventually
from tests.unit.test_memory_gateway import (
    assert_only_our_dropped_fields_are_gone,
    assert_only_the_owners_dropped_fields_are_gone,
    owner_reapplies_leaving_fields_out,
    reapply_leaving_fields_out,
)


def test_execs_and_reads_from_many_threads_do_not_disturb_each_other(kube: client.ApiClient,
                                                                      namespace: str) -> None:
    """The client's exec patches the ApiClient it runs on; a shared one broke other threads' reads."""
    gw = KubeGateway(kube)
    gw.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "shell", "namespace": namespace,
                                                               "annotations": IMMEDIATE_START},
               "spec": {"containers": [{"name": "main", "image": "busybox"}]}})
    eventually(lambda: (gw.get(POD, namespace, "shell") or {}).get("status", {}).get("phase"),
               lambda phase: phase == "Running", 60, "the pod to run")
    eventually(lambda: gw.exec(namespace, "shell", "main", ["echo", "ready"]).stdout, lambda out: "ready" in out,
               30, "exec to reach the pod")
    errors: list[str] = []
    outputs: list[str] = []

    def execs() -> None:
        for i in range(10):
            try:
                outputs.append(gw.exec(namespace, "shell", "main", ["echo", f"run {i}"]).stdout)
            except Exception as exc:
                errors.append(f"exec: {exc!r}"[:200])

    def reads() -> None:
        for _ in range(200):
            try:
                assert gw.get(NAMESPACE, None, namespace) is not None
            except Exception as exc:
                errors.append(f"read: {exc!r}"[:200])

    threads = [threading.Thread(target=execs) for _ in range(2)] + [threading.Thread(target=reads) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert len(outputs) == 20 and all(out.startswith("run ") for out in outputs)


def test_a_repeated_event_is_counted_on_one_object(kube: client.ApiClient, namespace: str) -> None:
    gw = KubeGateway(kube)
    involved = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "subject", "namespace": namespace,
                                                                       "uid": "0000-subject"}}
    for _ in range(3):
        gw.event(involved, "Warning", "ErrorValidateSpecFields", "spec.replicas: must be at least 0")
    gw.event(involved, "Warning", "ErrorValidateSpecFields", "spec.replicas: must be a number")
    events = sorted(gw.list(EVENT, namespace), key=lambda e: e["count"])
    assert [(e["message"], e["count"]) for e in events] == [
        ("spec.replicas: must be a number", 1), ("spec.replicas: must be at least 0", 3)]
    # An Event that expired (or was deleted) is made again rather than lost.
    gw.delete(EVENT, namespace, events[1]["metadata"]["name"])
    gw.event(involved, "Warning", "ErrorValidateSpecFields", "spec.replicas: must be at least 0")
    assert sorted(e["count"] for e in gw.list(EVENT, namespace)) == [1, 1]


def test_apply_removes_only_the_fields_it_no_longer_sets(kube: client.ApiClient, namespace: str) -> None:
    """The scenario the in-memory gateway is held to, on kube-apiserver's server-side apply."""
    assert_only_our_dropped_fields_are_gone(reapply_leaving_fields_out(KubeGateway(kube), namespace))


def test_fields_a_create_set_are_removed_by_an_apply_that_leaves_them_out(kube: client.ApiClient,
                                                                          namespace: str) -> None:
    """Made by a create alone (no apply after it), the object's fields are still the applies' to remove."""
    gw = KubeGateway(kube)
    assert_only_the_owners_dropped_fields_are_gone(owner_reapplies_leaving_fields_out(gw, namespace))
    # create; their patch; get + claim + apply; get, the claim check; get + apply; the final get
    assert gw.requests == 9
