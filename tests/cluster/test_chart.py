"""The Helm chart on the real control plane: helm lints it, renders it with default and other values
to what deploy/operator.yaml says, the API server accepts every rendered object (a server-side dry
run), `helm install` creates them all and `helm uninstall` leaves no RBAC and no CRD behind unless
the values ask to keep the CRDs.

helm is the one built from the shipped pin (deploy/tools/build-helm.sh, cached like the control
plane); it only ever sees the test clusters' kubeconfigs and keeps its own state in a temp folder.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lifecycle.deploy import CHART, version
from lifecycle.engine.registry import Registry
from lifecycle.generate import crds
from lifecycle.generate.manifests import NAME, cluster_rules, manifests
from lifecycle.k8s.connection import ApiServer
from lifecycle.k8s.gateway import (
    CLUSTER_ROLE,
    CLUSTER_ROLE_BINDING,
    CRD,
    DEPLOYMENT,
    ROLE,
    ROLE_BINDING,
    SERVICE,
    SERVICE_ACCOUNT,
    Obj,
)
from lifecycle.k8s.kube import KubeGateway
from lifecycle.local import LocalCluster
from lifecycle.local.binaries import locate_helm
from tests.cluster import eventually

OTHER_VALUES = ["--set", "watchSecrets=false", "--set", "namespaces={team-a,team-b}", "--set", "image.tag=9.9.9",
                "--set", "image.repository=registry.example/fluid-lifecycle", "--set", "replicas=3",
                "--set", "resources.limits.memory=1Gi", "--set", "leaderElection.enabled=false",
                "--set", "leaderElection.leaseSeconds=30", "--set", "workers=8", "--set", "resync=120",
                "--set", "portRange=30000-30999", "--set", "logFormat=text", "--set", "metrics.port=9090",
                "--set", "metrics.service.enabled=false", "--set", "crds.keep=true", "--set", "extraArgs={-v}",
                "--set", "nodeSelector.role=infra", "--set", "fullnameOverride=fluid-ops"]


class Helm:
    def __init__(self, binary: Path, home: Path) -> None:
        self.binary = binary
        # Its cache, config and data in a folder of the test's; never the user's.
        self.env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "HELM_CACHE_HOME": str(home / "cache"),
                    "HELM_CONFIG_HOME": str(home / "config"), "HELM_DATA_HOME": str(home / "data")}

    def __call__(self, *args: str, kubeconfig: Path | None = None, check: bool = True) -> str:
        # helm's own --timeout (for install and uninstall) stays below the test's.
        timeout = ["--timeout", "120s"] if args[0] in ("install", "uninstall") else []
        argv = [str(self.binary), *args, *timeout, *(["--kubeconfig", str(kubeconfig)] if kubeconfig else [])]
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=180)
        if check:
            assert done.returncode == 0, f"{' '.join(argv)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    def template(self, namespace: str, *values: str) -> list[Obj]:
        text = self("template", "fluid-lifecycle", str(CHART), "--namespace", namespace, *values)
        return [d for d in yaml.safe_load_all(text) if d]


@pytest.fixture(scope="module")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(locate_helm(), tmp_path_factory.mktemp("helm-home"))


def by_kind(docs: list[Obj]) -> dict[str, list[Obj]]:
    kinds: dict[str, list[Obj]] = {}
    for doc in docs:
        kinds.setdefault(doc["kind"], []).append(doc)
    return kinds


def container(docs: list[Obj]) -> dict[str, Any]:
    (deployment,) = by_kind(docs)["Deployment"]
    (operator,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(operator)


def test_helm_lints_the_chart_with_default_and_other_values(helm: Helm) -> None:
    assert "1 chart(s) linted, 0 chart(s) failed" in helm("lint", "--strict", str(CHART))
    assert "1 chart(s) linted, 0 chart(s) failed" in helm("lint", "--strict", str(CHART), *OTHER_VALUES)


def test_the_default_render_is_what_operator_yaml_says(helm: Helm) -> None:
    registry = Registry().discover()
    docs = helm.template("fluid-system")
    kinds = by_kind(docs)
    assert sorted(kinds) == ["ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Deployment", "Role",
                             "RoleBinding", "Service", "ServiceAccount"]
    plain = {d["kind"]: d for d in manifests(registry)}
    assert kinds["ClusterRole"][0]["rules"] == cluster_rules(registry, watch_secrets=True)
    assert kinds["Role"][0]["rules"] == plain["Role"]["rules"]
    (deployment,) = kinds["Deployment"]
    assert deployment["metadata"] == {**deployment["metadata"], "name": NAME, "namespace": "fluid-system"}
    assert deployment["spec"]["replicas"] == plain["Deployment"]["spec"]["replicas"]
    operator, expected = container(docs), plain["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert operator["image"] == f"fluid-lifecycle:{version()}"
    for same in ("livenessProbe", "readinessProbe", "resources", "securityContext", "env", "ports"):
        assert operator[same] == expected[same], same
    for flag in ("--lease-namespace=fluid-system", "--leader-elect", "--watch-secrets", "--workers=16"):
        assert flag in operator["args"]
    assert not any(a.startswith("--namespace=") for a in operator["args"])
    rendered = {c["metadata"]["name"]: c for c in kinds["CustomResourceDefinition"]}
    for crd in crds.crds(registry):
        got = rendered[crd["metadata"]["name"]]
        assert got["spec"] == crd["spec"]
        assert "annotations" not in got["metadata"], "removed on uninstall unless crds.keep"


def test_other_values_reach_the_objects(helm: Helm) -> None:
    docs = helm.template("ops", *OTHER_VALUES)
    kinds = by_kind(docs)
    assert "Service" not in kinds
    secrets = next(r for r in kinds["ClusterRole"][0]["rules"] if r["resources"] == ["secrets"])
    assert secrets["verbs"] == ["get"]
    operator = container(docs)
    assert operator["image"] == "registry.example/fluid-lifecycle:9.9.9"
    assert operator["resources"]["limits"]["memory"] == "1Gi"
    assert operator["ports"] == [{"name": "http", "containerPort": 9090}]
    for flag in ("--namespace=team-a", "--namespace=team-b", "--no-watch-secrets", "--no-leader-elect",
                 "--lease-seconds=30", "--workers=8", "--resync=120", "--port-range=30000-30999",
                 "--log-format=text", "--metrics-address=0.0.0.0:9090", "--lease-namespace=ops", "-v"):
        assert flag in operator["args"], flag
    (deployment,) = kinds["Deployment"]
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["template"]["spec"]["nodeSelector"] == {"role": "infra"}
    assert {d["metadata"]["name"] for d in docs if d["kind"] != "CustomResourceDefinition"} == {"fluid-ops"}
    binding = kinds["ClusterRoleBinding"][0]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "fluid-ops", "namespace": "ops"}]
    for crd in kinds["CustomResourceDefinition"]:
        assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    assert "CustomResourceDefinition" not in by_kind(helm.template("ops", "--set", "crds.install=false"))


@pytest.mark.parametrize("values", [[], OTHER_VALUES], ids=["default", "other-values"])
def test_the_api_server_accepts_every_rendered_object(helm: Helm, kube: ApiServer, namespace: str,
                                                      values: list[str]) -> None:
    gw = KubeGateway(kube)
    docs = helm.template(namespace, *values)
    for doc in docs:
        accepted = gw.apply(doc, dry_run=True)
        assert accepted["metadata"]["name"] == doc["metadata"]["name"]
    kinds = len(crds.crds(Registry().discover()))  # one CRD each, and the release's own objects
    assert len(docs) == (6 if values else 7) + kinds, "other-values leaves out the metrics Service"


# -- install and uninstall, on a cluster of their own: the session's has the CRDs installed already ----


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    local = LocalCluster("helm", tmp_path_factory.mktemp("helm-cluster"), tie_to_caller=True)
    try:
        local.up(nodes=1)
        yield local
    finally:
        local.down()


INSTALLED = ((SERVICE_ACCOUNT, "fluid-system"), (ROLE, "fluid-system"), (ROLE_BINDING, "fluid-system"),
             (DEPLOYMENT, "fluid-system"), (SERVICE, "fluid-system"), (CLUSTER_ROLE, None),
             (CLUSTER_ROLE_BINDING, None))


def present(gw: KubeGateway) -> dict[str, bool | str]:
    """What of the release is still there; a CRD being removed says how far the API server got."""
    found: dict[str, bool | str] = {
        f"{res.kind}": gw.get(res, ns, NAME if res is not SERVICE else f"{NAME}-metrics") is not None
        for res, ns in INSTALLED}
    for crd in crds.crds(Registry().discover()):
        live = gw.get(CRD, None, crd["metadata"]["name"])
        terminating = [f"{c['reason']}: {c.get('message', '')}" for c in (live or {}).get("status", {})
                       .get("conditions", []) if c["type"] == "Terminating"]
        found[crd["metadata"]["name"]] = (terminating[0] if terminating else True) if live else False
    return found


def release_gone(gw: KubeGateway) -> None:
    """The release's own objects go at once; the CRDs wait for the API server's clean-up of their
    instances (a list per CRD, retried with a growing back-off when the server is busy), so they get
    longer."""
    eventually(lambda: present(gw), lambda p: not any(p[res.kind] for res, _ in INSTALLED), 120,
               "the release's RBAC, Deployment and Service gone")
    eventually(lambda: present(gw), lambda p: not any(p.values()), 300, "the release's CRDs gone")


def test_install_creates_everything_and_uninstall_leaves_no_rbac_and_no_crd(helm: Helm,
                                                                           own_cluster: LocalCluster) -> None:
    kubeconfig = own_cluster.kubeconfig
    with own_cluster.connect() as api:
        gw = KubeGateway(api)
        out = helm("install", "fluid-lifecycle", str(CHART), "--namespace", "fluid-system", "--create-namespace",
                   kubeconfig=kubeconfig)
        assert "STATUS: deployed" in out and "helm uninstall` removes the CRDs too" in out, out
        assert all(v is True for v in present(gw).values()), present(gw)
        for crd in crds.crds(Registry().discover()):
            established = eventually(lambda name=crd["metadata"]["name"]: gw.get(CRD, None, name),
                                     lambda c: any(x["type"] == "Established" and x["status"] == "True"
                                                   for x in (c or {}).get("status", {}).get("conditions", [])),
                                     30, "the CRD Established")
            assert established["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"

        # No --wait: the test waits itself, and says what is left if something stays.
        helm("uninstall", "fluid-lifecycle", "--namespace", "fluid-system", kubeconfig=kubeconfig)
        release_gone(gw)

        # Asked to keep the CRDs: the RBAC and the Deployment go, the CRDs (and so the Datasets) stay.
        helm("install", "fluid-lifecycle", str(CHART), "--namespace", "fluid-system", "--set", "crds.keep=true",
             kubeconfig=kubeconfig)
        helm("uninstall", "fluid-lifecycle", "--namespace", "fluid-system", kubeconfig=kubeconfig)
        left = eventually(lambda: present(gw), lambda p: not any(p[res.kind] for res, _ in INSTALLED), 120,
                          "the release's RBAC and Deployment gone")
        assert all(v is True for k, v in left.items() if k.endswith(".data.fluid.io")), left
        assert "fluid-lifecycle" not in helm("list", "--all-namespaces", kubeconfig=kubeconfig)
