"""deploy/operator.yaml is generated from the engines and current."""

from __future__ import annotations

import pytest

from lifecycle.manifests import DEFAULT_PATH, manifests, render
from lifecycle.registry import EXTRA_ENGINES_ENV, Registry


def test_committed_operator_manifests_are_current(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(EXTRA_ENGINES_ENV, raising=False)
    assert DEFAULT_PATH.read_text() == render(Registry().discover()), "run `make generate` and commit"


def test_every_registered_kind_gets_its_rules_and_nothing_cluster_wide_is_wildcarded() -> None:
    docs = {d["kind"]: d for d in manifests(Registry().discover())}
    rules = docs["ClusterRole"]["rules"]
    fluid = [r for r in rules if r["apiGroups"] == ["data.fluid.io"]]
    assert {"datasets", "alluxioruntimes", "jindoruntimes"} <= set(fluid[0]["resources"])
    assert {"alluxioruntimes/status", "jindoruntimes/status"} <= set(fluid[1]["resources"])
    assert all("*" not in r["verbs"] and "*" not in r["resources"] for r in rules)
    assert next(r for r in rules if r["resources"] == ["secrets"])["verbs"] == ["get", "list", "watch"]  # never written
    container = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
