"""The local cluster's simulated UFS as a user meets it: a Dataset mounting a path that is not there
says, in the runtime's events and conditions, which folder to fill and with which command; once
`fluidlc cluster ufs add` has made it, the pair binds."""

from __future__ import annotations

from typing import Any

import pytest

from engines.alluxio.kind import KIND_SPEC as ALLUXIO
from lifecycle.cli.run import install_crds
from lifecycle.k8s.connection import ApiServer
from lifecycle.k8s.gateway import EVENT
from lifecycle.k8s.kube import KubeGateway
from lifecycle.local import LocalCluster
from lifecycle.local.cli import main as cluster_main
from tests.cluster.test_engines import Driver, fast_start


def _pair(namespace: str, uri: str) -> list[dict[str, Any]]:
    dataset = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset", "metadata": {"name": "photos"},
               "spec": {"mounts": [{"mountPoint": uri, "name": "photos"}]}}
    runtime = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "AlluxioRuntime", "metadata": {"name": "photos"},
               "spec": {"replicas": 1, "tieredstore": {"levels": [{"mediumtype": "MEM", "path": "/dev/shm",
                                                                   "quota": "1Gi"}]}}}
    return [dataset, fast_start(runtime)]


def test_a_missing_ufs_folder_is_named_with_the_command_that_fills_it(
        kube: ApiServer, namespace: str, cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    install_crds(KubeGateway(kube))
    d = Driver(kube, namespace, cluster)
    uri = f"s3://{namespace}/photos/2024"
    folder = cluster.layout.ufs / "s3" / namespace / "photos" / "2024"
    d.apply_manifests(_pair(namespace, uri))
    command = f"fluidlc cluster ufs add {uri} --name {cluster.name}"

    def messages() -> list[str]:
        events = [e.get("message", "") for e in d.gw.list(EVENT, namespace)
                  if e["involvedObject"]["name"] == "photos"]
        runtime = d.get(ALLUXIO.resource, "photos") or {}
        conditions = [c.get("message", "") for c in (runtime.get("status") or {}).get("conditions") or []]
        return events + conditions

    seen = d.until("photos", messages, lambda found: any(command in m for m in found), 120,
                   "the mount failure naming the command")
    told = next(m for m in seen if command in m)
    assert f"on the local cluster that is the folder {folder}: create it with `{command}`" in told, told
    assert d.phase("photos") != "Bound"

    # What the message says to do, as the user would type it.
    monkeypatch.setenv("FLUIDLC_CLUSTER_DIR", str(cluster.dir))
    assert cluster_main(["ufs", "add", uri, "--size", "64Mi", "--files", "2", "--name", cluster.name]) == 0
    assert f"added {uri}: 2 file(s), 64.00MiB in {folder}" in capsys.readouterr().out
    d.until("photos", lambda: d.phase("photos"), lambda p: p == "Bound", 120, "Bound once the folder exists")
