"""fluidlc as a user types it: validate manifests offline, draw and check diagrams."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle.cli.main import main


def test_validate_names_file_object_field_and_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "bad.yaml"
    manifest.write_text("""
apiVersion: data.fluid.io/v1alpha1
kind: Dataset
metadata: {name: imagenet, namespace: ml}
spec:
  mounts: [{mountPoint: "s4://bucket/x", name: x}]
---
apiVersion: data.fluid.io/v1alpha1
kind: AlluxioRuntime
metadata: {name: imagenet, namespace: ml}
spec: {replicas: "three"}
---
apiVersion: data.fluid.io/v1alpha1
kind: CurveRuntime
metadata: {name: other}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ignored}
""")
    assert main(["validate", str(manifest)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3
    assert out[0].startswith(f"{manifest}: AlluxioRuntime ml/imagenet: spec.replicas: expected an integer")
    assert "no engine is registered for kind 'CurveRuntime'" in out[1]
    # Not silently skipped: said, and not an error (a Secret or ConfigMap beside a Dataset is normal).
    assert out[2] == f"{manifest}: ConfigMap default/ignored (v1): not checked, not a data.fluid.io object"


def test_validate_runs_the_engines_checks_on_the_datasets_mounts(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "pair.yaml"
    manifest.write_text("""
apiVersion: data.fluid.io/v1alpha1
kind: Dataset
metadata: {name: imagenet, namespace: ml}
spec:
  mounts: [{mountPoint: "s4://bucket/x", name: x}]
---
apiVersion: data.fluid.io/v1alpha1
kind: AlluxioRuntime
metadata: {name: imagenet, namespace: ml}
spec: {master: {replicas: 2}}
""")
    assert main(["validate", str(manifest)]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"{manifest}: AlluxioRuntime ml/imagenet: Dataset ml/imagenet spec.mounts[0].mountPoint: "
                           "AlluxioRuntime cannot mount 's4://bucket/x'; use one of ")
    assert "s3://" in line and "spec.master.replicas: 2 masters cannot elect a leader by majority" in line


def test_validate_refuses_other_versions_and_files_without_fluid_objects(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n")
    version = tmp_path / "version.yaml"
    version.write_text("apiVersion: data.fluid.io/v1beta1\nkind: Dataset\nmetadata: {name: x}\n")
    assert main(["validate", str(other), str(version)]) == 1
    out = capsys.readouterr().out
    assert f"{other}: no data.fluid.io/v1alpha1 object in the file; nothing to check" in out
    assert f"{version}: Dataset default/x: apiVersion 'data.fluid.io/v1beta1' is not served" in out


def test_validate_accepts_a_good_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "good.yaml"
    manifest.write_text("apiVersion: data.fluid.io/v1alpha1\nkind: Dataset\nmetadata: {name: ok}\n"
                        "spec: {mounts: [{mountPoint: 's3://bucket/x', name: x}]}\n")
    assert main(["validate", str(manifest)]) == 0
    assert "1 file(s) valid" in capsys.readouterr().out


def test_diagrams_check_fails_on_a_stale_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagrams", "--out", str(tmp_path)]) == 0
    assert main(["diagrams", "--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "runtime.mmd").write_text("stale\n")
    assert main(["diagrams", "--out", str(tmp_path), "--check"]) == 1
    assert "runtime.mmd" in capsys.readouterr().out


def test_samples_are_listed_and_printed_from_the_package(capsys: pytest.CaptureFixture[str]) -> None:
    from lifecycle.deploy import SAMPLES

    assert main(["samples"]) == 0
    assert f"alluxio            {SAMPLES / 'alluxio.yaml'}" in capsys.readouterr().out.splitlines()
    assert main(["samples", "alluxio"]) == 0
    assert capsys.readouterr().out == (SAMPLES / "alluxio.yaml").read_text()
    assert main(["samples", "curve"]) == 1
    assert "the samples are: alluxio, jindo-fuse-only, jindo" in capsys.readouterr().err


def test_one_command_checks_every_generated_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--check"]) == 0
    out = capsys.readouterr().out
    for what in ("CRDs in", "operator.yaml is up to date", "the chart in", "diagrams in"):
        assert what in out


def test_operator_flags_and_environment_reach_the_reconciler_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from lifecycle.cli.operator import _settings, add_operator_flags

    monkeypatch.setenv("FLUIDLC_ROLLOUT_DEADLINE", "900")
    parser = argparse.ArgumentParser()
    add_operator_flags(parser)
    assert _settings(parser.parse_args([])).rollout_deadline == 900.0
    flags = ["--rollout-deadline", "120", "--workers", "2", "--port-range", "30000-30100"]
    settings = _settings(parser.parse_args(flags))
    assert (settings.rollout_deadline, settings.workers, settings.port_range) == (120.0, 2, (30000, 30100))
    assert settings.watch_secrets and not _settings(parser.parse_args(["--no-watch-secrets"])).watch_secrets


def test_a_bad_port_range_flag_is_refused_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from lifecycle.cli.operator import add_operator_flags

    parser = argparse.ArgumentParser()
    add_operator_flags(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--port-range", "26000-20000"])
    assert "'26000-20000' is not FIRST-LAST within 1-65535, e.g. 20000-26000" in capsys.readouterr().err


def test_a_bad_kubeconfig_is_one_line_naming_the_fix_not_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    assert main(["diagram", "dataset", "ml/imagenet", "--kubeconfig", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"fluidlc: kubeconfig {path}: no current-context; set one (kubectl config use-context NAME)\n")
