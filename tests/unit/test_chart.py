"""The Helm chart (deploy/chart) is generated, current, versioned like the package, and offers every
operator flag with the operator's own default. Rendering and installing it is tested on the real
control plane (tests/cluster/test_chart.py)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest
import yaml

from lifecycle.cli.operator import add_operator_flags
from lifecycle.deploy import CHART, OPERATOR_YAML, version
from lifecycle.engine.registry import EXTRA_ENGINES_ENV, Registry
from lifecycle.generate import chart
from lifecycle.generate.manifests import IMAGE

# Flags the chart sets from something other than a value of their own.
SET_OTHERWISE = {"--kubeconfig", "--identity", "--metrics-address", "--lease-namespace", "--namespace", "-h",
                 "--help"}


def test_the_committed_chart_is_current(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(EXTRA_ENGINES_ENV, raising=False)
    assert chart.stale(CHART, Registry().discover()) == [], "run `make chart` (or `make generate`) and commit"


def test_chart_app_and_image_versions_are_the_package_version() -> None:
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert meta["version"] == meta["appVersion"] == version()
    assert chart.values()["image"]["tag"] == "", "the tag defaults to appVersion in the template"
    assert IMAGE.partition(":") == ("fluid-lifecycle", ":", version())
    deployment = next(d for d in yaml.safe_load_all(OPERATOR_YAML.read_text()) if d["kind"] == "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE


def _operator_parser(monkeypatch: pytest.MonkeyPatch) -> argparse.ArgumentParser:
    for name in [n for n in os.environ if n.startswith("FLUIDLC_")]:
        monkeypatch.delenv(name)
    parser = argparse.ArgumentParser()
    add_operator_flags(parser)
    return parser


def test_every_operator_flag_is_a_value_with_the_operators_default(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = _operator_parser(monkeypatch)
    defaults = vars(parser.parse_args([]))
    options = {s for action in parser._actions for s in action.option_strings if not s.startswith("--no-")}
    covered = {flag for flag, _, _ in (*chart.FLAGS, *chart.SWITCHES)}
    assert options - SET_OTHERWISE == covered, "a new operator flag needs a chart value (lifecycle/generate/chart.py)"
    values = chart.values()
    for flag, path, default in (*chart.FLAGS, *chart.SWITCHES):
        node = values
        for part in path.split("."):
            node = node[part]
        assert node == default, path
        parsed = vars(parser.parse_args([f"{flag}={default}"] if not isinstance(default, bool) else []))
        dest = flag[2:].replace("-", "_")
        assert parsed[dest] == defaults[dest], f"{flag}: the chart's default {default!r} is not the operator's"


def test_a_stale_or_foreign_chart_file_is_named(tmp_path: Path) -> None:
    registry = Registry().discover()
    chart.write(tmp_path, registry)
    assert chart.stale(tmp_path, registry) == []
    (tmp_path / "templates" / "deployment.yaml").write_text("edited\n")
    (tmp_path / "templates" / "extra.yaml").write_text("kind: ConfigMap\n")
    assert chart.stale(tmp_path, registry) == ["templates/deployment.yaml", "templates/extra.yaml (not generated)"]
    chart.write(tmp_path, registry)
    assert chart.stale(tmp_path, registry) == []
