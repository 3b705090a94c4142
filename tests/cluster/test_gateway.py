"""The Kubernetes gateway under the operator's real conditions: many threads, one gateway."""

from __future__ import annotations

import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from lifecycle.k8s.connection import ApiServer, connect
from lifecycle.k8s.gateway import CONFIG_MAP, EVENT, NAMESPACE, POD, Forbidden, NotFound
from lifecycle.k8s.kube import KubeGateway
from lifecycle.local import LocalCluster
from tests.cluster import IMMEDIATE_START, eventually
from tests.unit.test_memory_gateway import (
    assert_only_our_dropped_fields_are_gone,
    assert_only_the_owners_dropped_fields_are_gone,
    assert_versions_follow_the_objects,
    owner_reapplies_leaving_fields_out,
    reapply_leaving_fields_out,
)


def test_execs_and_reads_from_many_threads_do_not_disturb_each_other(kube: ApiServer,
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


def _shell_pod(gw: KubeGateway, namespace: str) -> None:
    gw.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "shell", "namespace": namespace,
                                                               "annotations": IMMEDIATE_START},
               "spec": {"containers": [{"name": "main", "image": "busybox"}]}})
    eventually(lambda: (gw.get(POD, namespace, "shell") or {}).get("status", {}).get("phase"),
               lambda phase: phase == "Running", 60, "the pod to run")
    eventually(lambda: gw.exec(namespace, "shell", "main", ["echo", "ready"]).stdout, lambda out: "ready" in out,
               30, "exec to reach the pod")


def test_execs_resume_the_tls_session_and_keep_outputs_and_exit_codes_apart(kube: ApiServer,
                                                                         namespace: str) -> None:
    """Every exec is a new connection; after the first, the server resumes the TLS session, which
    is read from a connection only after a full handshake (each read leaks on Python 3.11)."""
    gw = KubeGateway(kube)
    _shell_pod(gw, namespace)
    before, taken = gw._pod_exec.resumed, gw._pod_exec.sessions_taken
    for i in range(5):
        done = gw.exec(namespace, "shell", "main", ["sh", "-c", f"echo out {i}; echo err {i} >&2; exit {i}"])
        assert (done.stdout, done.stderr, done.code) == (f"out {i}\n", f"err {i}\n", i)
    assert gw._pod_exec.resumed - before == 5
    assert gw._pod_exec.sessions_taken == taken  # the one session served all five
    gw._pod_exec.session = None  # as if the server had refused it: a full handshake, whose session serves on
    for _ in range(3):
        assert gw.exec(namespace, "shell", "main", ["echo", "again"]).stdout == "again\n"
    assert (gw._pod_exec.sessions_taken - taken, gw._pod_exec.resumed - before) == (1, 7)
    big = gw.exec(namespace, "shell", "main", ["sh", "-c", "head -c 200000 /dev/zero | tr '\\0' x"])
    assert big.stdout == "x" * 200000  # many frames, some longer than 64 KiB


def test_an_exec_with_a_token_the_refusals_and_no_argument_in_their_messages(
        kube: ApiServer, typed_kube: client.ApiClient, namespace: str) -> None:
    """Bearer-token credentials (the operator's in a cluster) reach the exec request; a missing pod
    is NotFound and a refused exec Forbidden, and neither message quotes the command's arguments."""
    gw = KubeGateway(kube)
    _shell_pod(gw, namespace)
    core, rbac = client.CoreV1Api(typed_kube), client.RbacAuthorizationV1Api(typed_kube)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "runner"}})
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "nobody"}})
    rbac.create_namespaced_role(namespace, {"metadata": {"name": "exec"}, "rules": [
        {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get", "create"]}]})
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": "exec"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                                  "name": "exec"},
        "subjects": [{"kind": "ServiceAccount", "name": "runner", "namespace": namespace}]})

    def as_account(name: str) -> KubeGateway:
        token = core.create_namespaced_service_account_token(name, namespace, {"spec": {"audiences": []}}).status.token
        return KubeGateway(ApiServer(replace(kube.target, client_cert=None, client_key=None,
                                             token=lambda: token)))

    runner = as_account("runner")
    assert eventually(lambda: runner.exec(namespace, "shell", "main", ["echo", "as runner"]).stdout,
                      lambda out: out == "as runner\n", 30, "the Role to take effect")
    with pytest.raises(NotFound) as missing:
        runner.exec(namespace, "no-such-pod", "main", ["echo", "--password=hunter2"])
    with pytest.raises(Forbidden) as refused:
        as_account("nobody").exec(namespace, "shell", "main", ["echo", "--password=hunter2"])
    for err in (missing, refused):
        assert "hunter2" not in str(err.value) and "hunter2" not in repr(err.value.__cause__)
    assert "forbidden" in str(refused.value)


def test_a_repeated_event_is_counted_on_one_object(kube: ApiServer, namespace: str) -> None:
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


def test_apply_removes_only_the_fields_it_no_longer_sets(kube: ApiServer, namespace: str) -> None:
    """The scenario the in-memory gateway is held to, on kube-apiserver's server-side apply."""
    assert_only_our_dropped_fields_are_gone(reapply_leaving_fields_out(KubeGateway(kube), namespace))


def test_fields_a_create_set_are_removed_by_an_apply_that_leaves_them_out(kube: ApiServer,
                                                                          namespace: str) -> None:
    """Made by a create alone (no apply after it), the object's fields are still the applies' to remove."""
    gw = KubeGateway(kube)
    assert_only_the_owners_dropped_fields_are_gone(owner_reapplies_leaving_fields_out(gw, namespace))
    # create; their patch; get + claim + apply; get, the claim check; get + apply; the final get
    assert gw.requests == 9


def test_the_versions_listed_follow_the_objects(kube: ApiServer, namespace: str) -> None:
    """Listed as metadata only, so no ConfigMap's data travels (``KubeGateway.list_versions``)."""
    assert_versions_follow_the_objects(KubeGateway(kube), namespace)


def test_bodies_of_every_content_type_arrive_as_written(kube: ApiServer, namespace: str) -> None:
    """The gateway encodes bodies itself: create, merge patch and delete options (orjson) and
    server-side apply (YAML, so escaped) carry quotes, a backslash, other scripts and a U+2028, which
    YAML reads as a line break when it is not escaped."""
    gw = KubeGateway(kube)
    text = 'déjà "vu" \\ 数据 \u2028'

    def config_map(name: str, key: str) -> dict[str, object]:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
                "data": {key: text}}

    made = gw.create(config_map("bodies", "created"))
    assert made["data"] == {"created": text}
    assert gw.apply(config_map("applied", "applied"))["data"] == {"applied": text}
    patched = gw.patch(CONFIG_MAP, namespace, "bodies", {"data": {"patched": text}})
    assert patched["data"] == {"created": text, "patched": text}
    assert gw.delete(CONFIG_MAP, namespace, "bodies", uid=made["metadata"]["uid"])
    assert gw.get(CONFIG_MAP, namespace, "bodies") is None


def test_an_exec_credential_plugin_signs_the_requests_on_the_real_api_server(
        cluster: LocalCluster, typed_kube: client.ApiClient, namespace: str, tmp_path: Path) -> None:
    """The way EKS, GKE and AKS kubeconfigs authenticate: a plugin prints an ExecCredential with a
    token (here a ServiceAccount's, allowed to list ConfigMaps only), read by the product's own
    kubeconfig loader; the rights are the account's, not the admin's."""
    core, rbac = client.CoreV1Api(typed_kube), client.RbacAuthorizationV1Api(typed_kube)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "reader"}})
    rbac.create_namespaced_role(namespace, {"metadata": {"name": "read-config"}, "rules": [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]})
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": "read-config"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-config"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}]})
    token = core.create_namespaced_service_account_token("reader", namespace, {"spec": {"audiences": []}}).status.token
    (tmp_path / "token").write_text(token)
    plugin = tmp_path / "plugin.py"
    plugin.write_text(f"""#!{sys.executable}
import json
print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {{"token": open({str(tmp_path / "token")!r}).read()}}}}))
""")
    plugin.chmod(0o700)
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "reader",
        "clusters": [{"name": "local", "cluster": admin["clusters"][0]["cluster"]}],
        "users": [{"name": "reader", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                        "command": "./plugin.py", "interactiveMode": "Never"}}}],
        "contexts": [{"name": "reader", "context": {"cluster": "local", "user": "reader"}}]}))
    with connect(str(kubeconfig)) as api:
        gw = KubeGateway(api)
        eventually(lambda: _lists_config_maps(gw, namespace), bool, 30, "the Role to take effect")
        with pytest.raises(Forbidden):
            gw.list(POD, namespace)


def _lists_config_maps(gw: KubeGateway, namespace: str) -> bool:
    try:
        names = [c["metadata"]["name"] for c in gw.list(CONFIG_MAP, namespace)]
    except Forbidden:
        return False
    return "kube-root-ca.crt" in names
