"""The data operations' API: the reference's DataLoad samples accepted, bad ones refused with the
field and the fix, the same words from ``fluidlc validate``, and CRDs shaped like the reference's."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from lifecycle.api import from_json, to_json
from lifecycle.api.cron import CronError, parse
from lifecycle.api.operations import MODEL_OF, DataLoad, DataMigrate
from lifecycle.api.validation import operation_errors
from lifecycle.cli.main import main
from lifecycle.engine.registry import Registry
from lifecycle.generate import crds

SAMPLES = Path(__file__).parent / "operation_samples"


def documents() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{p.name}:{d['metadata']['name']}", d) for p in sorted(SAMPLES.glob("*.yaml"))
            for d in yaml.safe_load_all(p.read_text()) if d]


@pytest.mark.parametrize(("name", "doc"), documents(), ids=[n for n, _ in documents()])
def test_reference_samples_parse_validate_and_round_trip(name: str, doc: dict[str, Any]) -> None:
    op = from_json(MODEL_OF[doc["kind"]], doc, name)
    assert operation_errors(op) == []
    assert to_json(op) == doc


def test_fluidlc_validate_accepts_every_sample(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", *map(str, sorted(SAMPLES.glob("*.yaml")))]) == 0, capsys.readouterr().out


def load(**spec: Any) -> DataLoad:
    return from_json(DataLoad, {"apiVersion": "data.fluid.io/v1alpha1", "kind": "DataLoad",
                                "metadata": {"name": "warm", "namespace": "ml"},
                                "spec": {"dataset": {"name": "imagenet"}, **spec}})


@pytest.mark.parametrize(("spec", "path", "fix"), [
    ({"policy": "Cron"}, "spec.schedule", "set spec.schedule"),
    ({"policy": "Cron", "schedule": "* * *"}, "spec.schedule", "five-field"),
    ({"policy": "Cron", "schedule": "61 * * * *"}, "spec.schedule", "five-field"),
    ({"policy": "Cron", "schedule": "0 0 30 2 *"}, "spec.schedule", "five-field"),  # never fires
    ({"schedule": "* * * * *"}, "spec.schedule", "set policy: Cron"),
    ({"policy": "Sometimes"}, "spec.policy", "use Once, Cron or OnEvent"),
    ({"target": [{"path": "train"}]}, "spec.target[0].path", "start the path with '/'"),
    ({"target": [{"path": "/a/../../etc"}]}, "spec.target[0].path", "inside the Dataset"),
    ({"target": [{"path": "/a\nb"}]}, "spec.target[0].path", "remove it"),
    ({"dataset": {"name": "imagenet", "namespace": "other"}}, "spec.dataset.namespace", "Dataset's namespace"),
    ({"runAfter": {"kind": "DataLoad", "name": "warm"}}, "spec.runAfter", "name another operation"),
    ({"runAfter": {"kind": "DataCopy", "name": "x"}}, "spec.runAfter.kind", "use DataLoad"),
    ({"ttlSecondsAfterFinished": -1}, "spec.ttlSecondsAfterFinished", "use 0 or more"),
])
def test_bad_dataloads_name_the_field_and_the_fix(spec: dict[str, Any], path: str, fix: str) -> None:
    errors = operation_errors(load(**spec))
    assert [e.path for e in errors] == [path], errors
    assert fix in errors[0].fix


def test_a_dataload_without_dataset_and_a_migration_without_a_dataset_end() -> None:
    nameless = from_json(DataLoad, {"metadata": {"name": "x", "namespace": "ml"}, "spec": {}})
    assert [e.path for e in operation_errors(nameless)] == ["spec.dataset"]
    both_external = from_json(DataMigrate, {"metadata": {"name": "x", "namespace": "ml"}, "spec": {
        "from": {"externalStorage": {"uri": "s3://a/b"}}, "to": {"externalStorage": {"uri": "s3://c/d"}}}})
    assert "neither end is a Dataset" in str(operation_errors(both_external))


def test_validate_prints_the_operators_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: data.fluid.io/v1alpha1\nkind: DataLoad\nmetadata: {name: warm, namespace: ml}\n"
                   "spec: {dataset: {name: imagenet}, policy: Cron}\n")
    assert main(["validate", str(bad)]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert line == (f"{bad}: DataLoad ml/warm: spec.schedule: policy Cron has no schedule; "
                    "set spec.schedule, e.g. '*/5 * * * *'")


def test_cron_ticks() -> None:
    every_two = parse("*/2 * * * *")
    assert every_two.next_after(datetime(2026, 1, 1, 10, 0, 30)) == datetime(2026, 1, 1, 10, 2)
    assert parse("@daily").next_after(datetime(2026, 1, 1, 10, 0)) == datetime(2026, 1, 2, 0, 0)
    assert parse("0 9 * * 1-5").next_after(datetime(2026, 1, 2, 10, 0)) == datetime(2026, 1, 5, 9, 0)  # Fri -> Mon
    assert parse("0 0 13 * 5").next_after(datetime(2026, 1, 1)) == datetime(2026, 1, 2)  # day 13 OR a Friday
    assert every_two.ticks_between(datetime(2026, 1, 1, 10, 0), datetime(2026, 1, 1, 10, 1)) == 0
    assert every_two.ticks_between(datetime(2026, 1, 1, 10, 0), datetime(2026, 1, 1, 10, 2)) == 1
    assert every_two.ticks_between(datetime(2026, 1, 1, 10, 0), datetime(2026, 1, 1, 11, 0)) == 2
    with pytest.raises(CronError, match="3 fields"):
        parse("* * *")


def test_operation_crds_are_the_references() -> None:
    by_kind = {c["spec"]["names"]["kind"]: c for c in crds.crds(Registry().discover())}
    expected = {"DataLoad": ("dataloads", "load"), "DataBackup": ("databackups", "backup"),
                "DataMigrate": ("datamigrates", "migrate"), "DataProcess": ("dataprocesses", "process")}
    for kind, (plural, short) in expected.items():
        crd = by_kind[kind]
        assert crd["metadata"]["name"] == f"{plural}.data.fluid.io"
        assert crd["spec"]["names"]["shortNames"] == [short] and crd["spec"]["names"]["categories"] == ["fluid"]
        (version,) = crd["spec"]["versions"]
        assert version["subresources"] == {"status": {}}
        names = [c["name"] for c in version["additionalPrinterColumns"]]
        assert {"Phase", "Age", "Duration", "Progress"} <= set(names)
        status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
        assert {"phase", "duration", "conditions", "infos", "lastScheduleTime", "waitingFor"} <= set(status)
    (load_version,) = by_kind["DataLoad"]["spec"]["versions"]
    assert [c["jsonPath"] for c in load_version["additionalPrinterColumns"]][:4] == [
        ".spec.dataset.name", ".status.phase", ".metadata.creationTimestamp", ".status.duration"]
    spec = load_version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["properties"]["policy"]["enum"] == ["Once", "Cron", "OnEvent"]
    assert "policy Cron needs a schedule" in spec["x-kubernetes-validations"][0]["message"]
