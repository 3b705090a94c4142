"""The operator's manifests on the real API server: accepted as written, and enough to work with.

The least-privilege claim is tested the only convincing way: the operator runs with nothing but
its ServiceAccount's token and still binds and deletes a pair.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from lifecycle.engine.registry import Registry
from lifecycle.generate.manifests import DEFAULT_PATH, NAME, NAMESPACE, manifests
from lifecycle.k8s.connection import ApiServer
from lifecycle.k8s.gateway import DATASET
from lifecycle.k8s.kube import KubeGateway
from lifecycle.local import LocalCluster
from lifecycle.testing import scripted
from tests.cluster.operator_harness import (
    SCRIPTED,
    OperatorProcess,
    create_pair,
    operators,
    phase,
    scripted_crds,
    wait_for,
)

__all__ = ["operators", "scripted_crds"]


def test_operator_manifests_pass_a_server_side_dry_run(kube: ApiServer) -> None:
    gw = KubeGateway(kube)
    for doc in yaml.safe_load_all(DEFAULT_PATH.read_text()):
        if doc["kind"] == "Namespace":
            gw.apply(doc)  # namespaced objects need their namespace to exist, even in a dry run
            continue
        accepted = gw.apply(doc, dry_run=True)
        assert accepted["metadata"]["name"] == doc["metadata"]["name"]


def service_account_kubeconfig(cluster: LocalCluster, typed_kube: client.ApiClient, path: Path) -> Path:
    """A kubeconfig that authenticates as the operator's ServiceAccount, from a TokenRequest."""
    token = client.CoreV1Api(typed_kube).create_namespaced_service_account_token(
        NAME, NAMESPACE, client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(
            audiences=["https://kubernetes.default.svc"], expiration_seconds=3600))).status.token
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    ca = admin["clusters"][0]["cluster"].get("certificate-authority-data") or base64.b64encode(
        Path(admin["clusters"][0]["cluster"]["certificate-authority"]).read_bytes()).decode()
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "operator",
        "clusters": [{"name": "local", "cluster": {"server": cluster.server, "certificate-authority-data": ca}}],
        "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": "local", "user": "operator"}}],
    }))
    return path


@pytest.mark.parametrize(("watch_secrets", "flag"), [(True, ()), (False, ("--no-watch-secrets",)), (False, ())],
                         ids=["default", "no-watch-secrets", "secret-watch-forbidden"])
def test_the_operator_works_with_only_its_service_accounts_rights(
        scripted_crds: KubeGateway, operators: list[OperatorProcess], cluster: LocalCluster,
        typed_kube: client.ApiClient, namespace: str, tmp_path: Path, watch_secrets: bool,
        flag: tuple[str, ...]) -> None:
    """The last case runs the operator without --no-watch-secrets on the RBAC made for it: it says
    what it does without the watch, once, and works."""
    registry = Registry().discover()
    scripted.register(registry)  # the test engine's kind gets its rules like any installed engine
    gw = scripted_crds
    docs = manifests(registry, watch_secrets=watch_secrets)
    for doc in docs:
        if doc["kind"] != "Deployment":
            gw.apply(doc)  # a re-apply narrows the ClusterRole as written
    args = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert ("--no-watch-secrets" in args) == (not watch_secrets)
    kubeconfig = service_account_kubeconfig(cluster, typed_kube, tmp_path / "operator.kubeconfig")
    op = OperatorProcess(cluster, namespace, tmp_path, "least-privilege", kubeconfig=kubeconfig,
                         lease_namespace=NAMESPACE, extra=flag)
    operators.append(op)
    create_pair(gw, namespace, "rbac", replicas=2)
    wait_for("Bound with the ServiceAccount's rights", lambda: phase(gw, namespace, "rbac") == "Bound", 90)
    gw.delete(DATASET, namespace, "rbac")
    wait_for("the pair to be deleted", lambda: gw.get(DATASET, namespace, "rbac") is None
             and gw.get(SCRIPTED, namespace, "rbac") is None, 90)
    log = op.log()
    if watch_secrets or flag:
        assert "Forbidden" not in log and "forbidden" not in log, log[-3000:]
    else:
        assert log.count("carrying on without this watch") == 1, log[-3000:]
        assert "run with --no-watch-secrets" in log
