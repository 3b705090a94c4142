"""The bad-manifest battery (tests/battery.py) at the offline doors: ``fluidlc validate`` refuses
every case naming object, field and fix, and the operator's reconcile, given the same objects,
refuses it with the same words and without raising. The API server's door is tests/cluster."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from engines.alluxio.kind import KIND_SPEC as ALLUXIO
from engines.jindo.kind import KIND_SPEC as JINDO
from lifecycle.cli.validate import validate_files
from lifecycle.engine.registry import Registry
from lifecycle.k8s.memory import MemoryGateway
from lifecycle.reconcile.reconciler import Reconciler
from tests.battery import CASES, Case, cache_registry
from tests.tally import TALLY

NS = "team"
REFUSED = "ErrorValidateSpecFields"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return cache_registry()


def validate_lines(case: Case, registry: Registry, tmp_path: Path) -> list[str]:
    manifest = tmp_path / "case.yaml"
    manifest.write_text(yaml.safe_dump_all(case.documents(NS)))
    report = validate_files([manifest], registry)
    assert all(line.startswith(f"{manifest}: ") for line in report.problems), report.problems
    return [line.removeprefix(f"{manifest}: ") for line in report.problems]


def operator_messages(case: Case, registry: Registry) -> set[str]:
    gateway = MemoryGateway((ALLUXIO.resource, JINDO.resource))
    for doc in case.documents(NS):
        gateway.create(doc)
    reconciler = Reconciler(gateway, registry)
    outcomes = [reconciler.reconcile(NS, case.name) for _ in range(3)]
    assert all(o.moves == () for o in outcomes[1:]), "a refused pair must not move"
    return {e.message for e in gateway.events if e.reason == REFUSED}


def test_the_battery_is_large_and_every_case_is_distinct() -> None:
    assert len(CASES) >= 50
    assert len({c.id for c in CASES}) == len(CASES)
    assert len({c.name for c in CASES}) == len(CASES), "one namespace holds every case on the real API server"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_validate_and_the_operator_refuse_with_the_same_words(case: Case, registry: Registry,
                                                              tmp_path: Path) -> None:
    lines = validate_lines(case, registry, tmp_path)
    assert lines, f"fluidlc validate accepted {case.id}"
    named = [line for line in lines if re.search(re.escape(case.field) + r"[^;]*: [^;]+; \S", line)]
    assert named, f"no line names {case.field}, the problem and the fix: {lines}"
    for line in lines:
        kind, _, rest = line.partition(f" {NS}/{case.name}: ")
        assert kind in ("Dataset", "AlluxioRuntime", "JindoRuntime") and rest, f"no object named: {line}"
    said = operator_messages(case, registry)
    # One line per object: the operator either could not read them (an event each) or judged the
    # pair and waits on the whole verdict at once.
    assert said in ({"; ".join(lines)}, set(lines)), f"validate: {lines}\noperator: {said}"
    TALLY["bad manifests refused by validate and the operator alike"] += 1
    TALLY["bad manifests the CRD schema refuses" if case.api else "bad manifests only the operator can refuse"] += 1
