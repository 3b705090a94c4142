"""`fluidlc cluster ufs add` and the folders `fluidlc run` fills: where a URI lives in the simulated
UFS (the stand-ins' own mapping), sparse files of the asked size, and URIs it cannot hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lifecycle.local import ufs
from lifecycle.local.cli import main
from lifecycle.local.standin.cache import ufs_local_path


def test_add_makes_sparse_files_of_the_asked_size_where_the_stand_ins_look(tmp_path: Path) -> None:
    filled = ufs.add(tmp_path, "s3://imagenet/train", ufs.parse_size("1Ti"), files=3)
    assert filled.folder == ufs_local_path(tmp_path, "s3://imagenet/train") == tmp_path / "s3/imagenet/train"
    parts = sorted(filled.folder.iterdir())
    assert [p.name for p in parts] == ["part-00000", "part-00001", "part-00002"]
    assert sum(p.stat().st_size for p in parts) == filled.total_bytes == 2**40
    assert sum(p.stat().st_blocks for p in parts) == 0, "sparse: a simulated terabyte takes no disk"
    assert str(filled) == f"s3://imagenet/train: 3 file(s), 1.00TiB in {filled.folder}"

    again = ufs.add(tmp_path, "s3://imagenet/train", 10, files=2)
    assert [p.stat().st_size for p in sorted(again.folder.iterdir())] == [5, 5, 2**40 // 3]


def test_run_fills_only_the_ufs_mounts_and_keeps_what_is_there(tmp_path: Path) -> None:
    kept = tmp_path / "s3/imagenet/val/part-00000"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"x")
    dataset = {"kind": "Dataset", "spec": {"mounts": [{"mountPoint": "s3://imagenet/val"},
                                                      {"mountPoint": "local:///srv/data"},
                                                      {"mountPoint": "pvc://claim/sub"}]}}
    filled = ufs.fill_for(tmp_path, [dataset, {"kind": "Secret"}])
    assert [f.uri for f in filled] == ["s3://imagenet/val"]
    assert kept.read_bytes() == b"x"
    assert not (tmp_path / "local").exists() and not (tmp_path / "pvc").exists()


@pytest.mark.parametrize(("uri", "problem"), [
    ("imagenet/train", "has no scheme"),
    ("pvc://claim/x", "pvc:// is not mounted by the cache tool"),
    ("s3://", "names no bucket"),
    ("s3://bucket/../../etc", "is invalid"),
])
def test_uris_the_simulated_ufs_cannot_hold_are_refused(tmp_path: Path, uri: str, problem: str) -> None:
    with pytest.raises(ufs.UfsError, match=re.escape(problem)):
        ufs.folder(tmp_path, uri)


def test_the_command_fills_the_named_clusters_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("FLUIDLC_CLUSTER_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert main(["ufs", "add", "oss://logs/2024", "--size", "3Mi", "--files", "1", "--name", "side"]) == 0
    folder = tmp_path / "state/fluid-lifecycle/clusters/side/ufs/oss/logs/2024"
    assert (folder / "part-00000").stat().st_size == 3 << 20
    out = capsys.readouterr().out
    assert f"added oss://logs/2024: 1 file(s), 3.00MiB in {folder}" in out
    assert "fluidlc cluster up --name side" in out, "it says the cluster is not set up yet"
    assert main(["ufs", "add", "oss://logs/2024", "--size", "lots"]) == 1
    assert "'lots' is not a Kubernetes quantity" in capsys.readouterr().err
