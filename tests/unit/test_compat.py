"""Strict is not the same as incompatible: what the reference accepts for the kinds we serve stays
accepted, and works (shown with the Alluxio and Jindo engines on the in-memory API server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle.api import from_json
from lifecycle.api.dataset import Dataset
from lifecycle.api.validation import dataset_errors
from lifecycle.cli.main import main
from lifecycle.k8s.gateway import CONFIG_MAP, DATASET
from tests.unit.cache_cluster import ALLUXIO, JINDO, NS, FakeCluster, alluxio_manifest, dataset_manifest, seed


@pytest.fixture
def cluster(tmp_path: Path) -> FakeCluster:
    made = FakeCluster(tmp_path)
    seed(made)
    return made


def jindo_manifest(name: str) -> dict[str, object]:
    return {"apiVersion": "data.fluid.io/v1alpha1", "kind": "JindoRuntime", "metadata": {"name": name, "namespace": NS},
            "spec": {"replicas": 1, "tieredstore": {"levels": [{"mediumtype": "MEM", "path": "/dev/shm",
                                                                 "quota": "1Gi"}]}}}


def test_a_mount_at_the_root_is_alluxios_root_ufs(cluster: FakeCluster) -> None:
    cluster.gw.create(dataset_manifest("root", mounts=[{"mountPoint": "s3://imagenet/train", "name": "train",
                                                         "path": "/"}]))
    cluster.gw.create(alluxio_manifest("root", replicas=1))
    cluster.settle("root")
    assert cluster.get(DATASET, "root")["status"]["phase"] == "Bound", cluster.gw.events
    site = cluster.get(CONFIG_MAP, "root-config")["data"]["alluxio-site.properties"]
    assert "alluxio.master.mount.table.root.ufs=s3://imagenet/train\n" in site
    assert not [argv for argv in cluster.commands("mount") if len(argv) > 3], "the root is configured, not mounted"
    status = cluster.get(ALLUXIO.resource, "root")["status"]
    assert status["lifecycle"]["state"] == "Ready" and status["mounts"][0]["path"] == "/"
    cluster.settle("root", passes=3)
    assert cluster.get(DATASET, "root")["status"]["phase"] == "Bound"
    assert not [argv for argv in cluster.commands("mount") if len(argv) > 3], "no drift found at the root"
    assert cluster.get(DATASET, "root")["status"]["ufsTotal"] == "7.81KiB"  # a.jpg and b.jpg, counted at /


def test_a_mount_at_the_root_is_mounted_at_jindos_root(cluster: FakeCluster) -> None:
    cluster.gw.create(dataset_manifest("jroot", mounts=[{"mountPoint": "oss://imagenet/train", "name": "train",
                                                          "path": "/"}], sharedOptions={}))
    cluster.ufs_file("oss://imagenet/train/a.jpg", 100)
    cluster.gw.create(jindo_manifest("jroot"))
    cluster.settle("jroot")
    assert cluster.get(DATASET, "jroot")["status"]["phase"] == "Bound", cluster.gw.events
    assert ["jindocache", "-mount", "/", "oss://imagenet/train"] in cluster.commands("-mount")
    assert cluster.get(JINDO.resource, "jroot")["status"]["lifecycle"]["state"] == "Ready"


def test_an_empty_path_is_unset_and_a_trailing_slash_is_the_same_path(cluster: FakeCluster) -> None:
    ds = from_json(Dataset, dataset_manifest("p", mounts=[{"mountPoint": "s3://imagenet/train", "name": "train",
                                                             "path": ""},
                                                            {"mountPoint": "s3://imagenet/val", "path": "/val/"}]))
    assert dataset_errors(ds) == []
    assert [m.effective_path for m in ds.spec.mounts or []] == ["/train", "/val"]
    cluster.gw.create(dataset_manifest("p", mounts=[{"mountPoint": "s3://imagenet/train", "name": "train", "path": ""},
                                                     {"mountPoint": "s3://imagenet/val", "path": "/val/"}]))
    cluster.gw.create(alluxio_manifest("p", replicas=1))
    cluster.settle("p")
    assert cluster.get(DATASET, "p")["status"]["phase"] == "Bound", cluster.gw.events
    assert sorted(argv[-2] for argv in cluster.commands("mount") if len(argv) > 3) == ["/train", "/val"]


def test_a_dataset_of_another_runtime_kind_is_valid_on_its_own(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Fluid's juicefs:// and generic samples: no runtime is chosen yet, so no scheme is refused."""
    manifest = tmp_path / "juicefs.yaml"
    manifest.write_text("apiVersion: data.fluid.io/v1alpha1\nkind: Dataset\nmetadata: {name: jfsdemo}\n"
                        "spec: {mounts: [{name: minio, mountPoint: 'juicefs:///demo'}]}\n"
                        "---\napiVersion: data.fluid.io/v1alpha1\nkind: Dataset\nmetadata: {name: nfs}\n"
                        "spec: {mounts: [{name: data, mountPoint: 'nfs://10.0.0.1:/export', path: /}]}\n")
    assert main(["validate", str(manifest)]) == 0, capsys.readouterr().out
