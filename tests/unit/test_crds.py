"""The generated CRDs: current with the models, structural, and shaped like the reference's.

The cluster tests (tests/cluster/test_crds.py) show the API server accepts and enforces them; these
tests pin what can be seen without one, including that deploy/crds is not stale.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import attrs
import pytest
import yaml

from lifecycle.api._model import api_fields, extra_field, field, json_name
from lifecycle.api.dataset import Dataset
from lifecycle.api.meta import ObjectMeta
from lifecycle.engine.registry import Registry
from lifecycle.generate import crds
from lifecycle.generate.crds import DEFAULT_OUT_DIR, PRESERVE, SchemaError, check_crds, write_crds


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry().discover()


@pytest.fixture(scope="module")
def by_kind(registry: Registry) -> dict[str, dict[str, Any]]:
    return {c["spec"]["names"]["kind"]: c for c in crds.crds(registry)}


def schema(crd: dict[str, Any]) -> dict[str, Any]:
    (version,) = crd["spec"]["versions"]
    return version["schema"]["openAPIV3Schema"]


def at(node: dict[str, Any], path: str) -> dict[str, Any]:
    """The schema node of a dotted JSON path; ``[]`` steps into array items."""
    for step in path.split("."):
        name, into_items = step.removesuffix("[]"), step.endswith("[]")
        node = node["properties"][name]
        if into_items:
            node = node["items"]
    return node


def nodes(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from nodes(child, f"{path}.{name}")
    if "items" in node:
        yield from nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from nodes(node["additionalProperties"], f"{path}{{}}")


def test_committed_crds_match_the_models(registry: Registry) -> None:
    stale = check_crds(DEFAULT_OUT_DIR, registry)
    assert not stale, (
        f"deploy/crds is out of date with the API models ({', '.join(stale)}): "
        "run `fluidlc crds` (or `make crds`) and commit deploy/crds"
    )


def test_one_file_per_kind_named_like_controller_gen(registry: Registry) -> None:
    assert sorted(crds.rendered(registry)) == [
        "data.fluid.io_alluxioruntimes.yaml",
        "data.fluid.io_databackups.yaml",
        "data.fluid.io_dataloads.yaml",
        "data.fluid.io_datamigrates.yaml",
        "data.fluid.io_dataprocesses.yaml",
        "data.fluid.io_datasets.yaml",
        "data.fluid.io_jindoruntimes.yaml",
    ]


def test_check_names_missing_and_stale_files(tmp_path: Path, registry: Registry) -> None:
    assert sorted(check_crds(tmp_path, registry)) == sorted(crds.rendered(registry))
    write_crds(tmp_path, registry)
    assert check_crds(tmp_path, registry) == []
    (tmp_path / "data.fluid.io_datasets.yaml").write_text("# edited by hand\n")
    (tmp_path / "data.fluid.io_jindoruntimes.yaml").unlink()
    assert sorted(check_crds(tmp_path, registry)) == ["data.fluid.io_datasets.yaml", "data.fluid.io_jindoruntimes.yaml"]


def test_rendering_is_deterministic_and_rewrites_nothing_current(tmp_path: Path, registry: Registry) -> None:
    assert crds.rendered(registry) == crds.rendered(Registry().discover())
    paths = write_crds(tmp_path, registry)
    stamps = {p: p.stat().st_mtime_ns for p in paths}
    assert write_crds(tmp_path, registry) == paths
    assert {p: p.stat().st_mtime_ns for p in paths} == stamps
    for path in paths:
        assert yaml.safe_load(path.read_text()) == next(
            c for c in crds.crds(registry) if crds.file_name(c) == path.name
        )


def test_cli_check_fails_on_stale_files_and_passes_after_writing(tmp_path: Path, capsys: Any) -> None:
    parser = argparse.ArgumentParser(prog="fluidlc")
    crds.add_crds_command(parser.add_subparsers())
    check = parser.parse_args(["crds", "--check", "--out", str(tmp_path)])
    assert check.func(check) == 1
    assert "data.fluid.io_datasets.yaml" in capsys.readouterr().out
    write = parser.parse_args(["crds", "--out", str(tmp_path)])
    assert write.func(write) == 0
    assert check.func(check) == 0


def test_names_scope_and_version(by_kind: dict[str, dict[str, Any]]) -> None:
    expected = {
        "Dataset": ("datasets", ["dataset"]),
        "AlluxioRuntime": ("alluxioruntimes", ["alluxio"]),
        "JindoRuntime": ("jindoruntimes", ["jindo"]),
        "DataLoad": ("dataloads", ["load"]),
        "DataBackup": ("databackups", ["backup"]),
        "DataMigrate": ("datamigrates", ["migrate"]),
        "DataProcess": ("dataprocesses", ["process"]),
    }
    assert set(by_kind) == set(expected)
    for kind, (plural, short) in expected.items():
        crd = by_kind[kind]
        names = crd["spec"]["names"]
        assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
        assert crd["metadata"]["name"] == f"{plural}.data.fluid.io"
        assert crd["spec"]["group"] == "data.fluid.io" and crd["spec"]["scope"] == "Namespaced"
        assert names == {"kind": kind, "listKind": f"{kind}List", "plural": plural,
                         "singular": kind.lower(), "shortNames": short, "categories": ["fluid"]}
        (version,) = crd["spec"]["versions"]
        assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)


def test_every_schema_is_structural(by_kind: dict[str, dict[str, Any]]) -> None:
    for kind, crd in by_kind.items():
        for path, node in nodes(schema(crd)):
            where = f"{kind} schema at {path or '<root>'}"
            assert "type" in node or node.get(PRESERVE) is True, f"{where} has no type"
            assert not ("properties" in node and "additionalProperties" in node), where
            for forbidden in ("anyOf", "oneOf", "allOf", "not", "$ref", "nullable", "default"):
                assert forbidden not in node, f"{where} uses {forbidden}"
            if node.get("type") == "array":
                assert "items" in node, f"{where} is an array without items"


def test_unknown_fields_are_preserved_on_every_modelled_object(by_kind: dict[str, dict[str, Any]]) -> None:
    for kind, crd in by_kind.items():
        root = schema(crd)
        assert root["properties"]["metadata"] == {"type": "object"}
        for path, node in nodes(root):
            if path != ".metadata" and node.get("type") == "object" and "additionalProperties" not in node:
                assert node.get(PRESERVE) is True, f"{kind} schema at {path or '<root>'} would prune unknown keys"


def test_maps_of_strings_and_free_objects(by_kind: dict[str, dict[str, Any]]) -> None:
    spec = schema(by_kind["AlluxioRuntime"])["properties"]["spec"]
    assert at(spec, "properties") == {"type": "object", "additionalProperties": {"type": "string"},
                                      "description": "Alluxio properties for every component."}
    assert at(spec, "master.ports")["additionalProperties"] == {"type": "integer"}
    assert at(spec, "master.resources")["type"] == "object" and at(spec, "master.resources")[PRESERVE] is True
    assert at(spec, "volumes")["items"] == {"type": "object", PRESERVE: True}
    assert at(spec, "fuse.env")["additionalProperties"] == {"type": "string"}
    assert at(spec, "fuse.global")["type"] == "boolean"


def test_printer_columns_are_the_reference_columns(by_kind: dict[str, dict[str, Any]]) -> None:
    def columns(kind: str) -> list[tuple[str, str, str, int]]:
        (version,) = by_kind[kind]["spec"]["versions"]
        shown = version["additionalPrinterColumns"]
        return [(c["name"], c["type"], c["jsonPath"], c.get("priority", 0)) for c in shown]

    assert columns("Dataset") == [
        ("Ufs Total Size", "string", ".status.ufsTotal", 0),
        ("Cached", "string", ".status.cacheStates.cached", 0),
        ("Cache Capacity", "string", ".status.cacheStates.cacheCapacity", 0),
        ("Cached Percentage", "string", ".status.cacheStates.cachedPercentage", 0),
        ("Phase", "string", ".status.phase", 0),
        ("HCFS URL", "string", ".status.hcfs.endpoint", 10),
        ("TOTAL FILES", "string", ".status.fileNum", 11),
        ("CACHE HIT RATIO", "string", ".status.cacheStates.cacheHitRatio", 10),
        ("Age", "date", ".metadata.creationTimestamp", 0),
    ]
    runtime = [
        ("Ready Masters", "integer", ".status.masterNumberReady", 10),
        ("Desired Masters", "integer", ".status.desiredMasterNumberScheduled", 10),
        ("Master Phase", "string", ".status.masterPhase", 0),
        ("Ready Workers", "integer", ".status.workerNumberReady", 10),
        ("Desired Workers", "integer", ".status.desiredWorkerNumberScheduled", 10),
        ("Worker Phase", "string", ".status.workerPhase", 0),
        ("Ready Fuses", "integer", ".status.fuseNumberReady", 10),
        ("Desired Fuses", "integer", ".status.desiredFuseNumberScheduled", 10),
        ("Fuse Phase", "string", ".status.fusePhase", 0),
    ]
    age = ("Age", "date", ".metadata.creationTimestamp", 0)
    assert columns("AlluxioRuntime") == [*runtime, ("API Gateway", "string", ".status.apiGateway.endpoint", 10), age]
    assert columns("JindoRuntime") == [*runtime, age]


def test_subresources(by_kind: dict[str, dict[str, Any]]) -> None:
    def subresources(kind: str) -> dict[str, Any]:
        (version,) = by_kind[kind]["spec"]["versions"]
        return version["subresources"]

    assert subresources("Dataset") == {"status": {}}
    assert subresources("AlluxioRuntime") == {"status": {}, "scale": {
        "specReplicasPath": ".spec.replicas",
        "statusReplicasPath": ".status.currentWorkerNumberScheduled",
        "labelSelectorPath": ".status.selector",
    }}
    assert subresources("JindoRuntime") == {"status": {}, "scale": {
        "specReplicasPath": ".spec.replicas",
        "statusReplicasPath": ".status.currentWorkerNumberScheduled",
    }}


def test_validation_the_reference_relies_on(by_kind: dict[str, dict[str, Any]]) -> None:
    dataset = schema(by_kind["Dataset"])
    assert at(dataset, "spec.mounts[].mountPoint")["minLength"] == 5
    assert at(dataset, "spec.mounts")["items"]["required"] == ["mountPoint"]
    assert at(dataset, "spec.placement")["enum"] == ["Exclusive", "Shared", ""]
    assert at(dataset, "spec.accessModes")["items"]["enum"] == [
        "ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]
    assert at(dataset, "status")["required"] == ["conditions"]
    assert at(dataset, "status.conditions")["items"]["required"] == ["status", "type"]
    assert at(dataset, "status.conditions[].status")["enum"] == ["True", "False", "Unknown"]

    for kind in ("AlluxioRuntime", "JindoRuntime"):
        runtime = schema(by_kind[kind])
        assert at(runtime, "spec.replicas") == {"type": "integer", "minimum": 0,
                                               "description": "Desired number of cache workers."}
        level = at(runtime, "spec.tieredstore.levels")["items"]
        assert level["required"] == ["mediumtype"]
        assert level["properties"]["mediumtype"]["enum"] == ["MEM", "SSD", "HDD"]
        assert level["properties"]["volumeType"]["enum"] == ["hostPath", "emptyDir"]
        assert at(runtime, "spec.fuse.cleanPolicy")["enum"] == ["OnDemand", "OnRuntimeDeleted"]
        assert at(runtime, "spec.master.replicas")["minimum"] == 1
        assert at(runtime, "status")["required"] == sorted([
            "valueFile", "masterPhase", "workerPhase", "fusePhase",
            "desiredMasterNumberScheduled", "currentMasterNumberScheduled", "masterNumberReady",
            "desiredWorkerNumberScheduled", "currentWorkerNumberScheduled", "workerNumberReady",
            "desiredFuseNumberScheduled", "currentFuseNumberScheduled", "fuseNumberReady",
        ])
        assert at(runtime, "status.masterPhase")["enum"] == ["", "NotReady", "PartialReady", "Ready"]
    alluxio = schema(by_kind["AlluxioRuntime"])
    for component in ("master", "jobMaster", "worker", "jobWorker", "apiGateway", "fuse"):
        assert at(alluxio, f"spec.{component}.networkMode")["enum"] == ["HostNetwork", "ContainerNetwork", ""]
    assert at(alluxio, "spec.management.cleanCachePolicy.gracePeriodSeconds")["minimum"] == 0
    assert "default 60" in at(alluxio, "spec.management.cleanCachePolicy.gracePeriodSeconds")["description"]
    assert "default true" in at(alluxio, "spec.management.metadataSyncPolicy.autoSync")["description"]
    jindo = schema(by_kind["JindoRuntime"])
    assert at(jindo, "spec.networkmode")["enum"] == ["HostNetwork", "ContainerNetwork", ""]
    assert "networkMode" not in at(jindo, "spec")["properties"]
    assert at(jindo, "spec.master.disabled")["type"] == "boolean"


def nested_model(type_: Any) -> tuple[str, type | None]:
    """The model a field holds, directly or as list items, and the path suffix to reach it."""
    args = [a for a in get_args(type_) if a is not type(None)]
    if len(args) == 1 and type(None) in get_args(type_):
        type_ = args[0]
    suffix = ""
    if get_origin(type_) is list:
        (type_,) = get_args(type_)
        suffix = "[]"
    if isinstance(type_, type) and attrs.has(type_) and type_ is not ObjectMeta:
        return suffix, type_
    return "", None


def model_fields(cls: type, path: str = "") -> Iterator[tuple[str, attrs.Attribute[Any]]]:
    """Every field under ``cls``, recursively, with its JSON path in ``at()`` notation."""
    hints = get_type_hints(cls)
    for attribute in api_fields(cls):
        here = f"{path}.{json_name(attribute)}".lstrip(".")
        yield here, attribute
        suffix, inner = nested_model(hints[attribute.name])
        if inner is not None:
            yield from model_fields(inner, here + suffix)


@pytest.mark.parametrize("kind", ["Dataset", "AlluxioRuntime", "JindoRuntime"])
def test_every_model_constraint_reaches_the_schema(kind: str, registry: Registry,
                                                   by_kind: dict[str, dict[str, Any]]) -> None:
    model = Dataset if kind == "Dataset" else registry.get(kind).model
    root = schema(by_kind[kind])
    seen = 0
    for path, attribute in model_fields(model):
        meta = attribute.metadata
        node = at(root, path)
        target = node.get("items", node) if node.get("type") == "array" else node
        for key, name in (("enum", "enum"), ("minimum", "minimum"), ("min_length", "minLength"),
                          ("pattern", "pattern"), ("format", "format")):
            if meta.get(key) is not None:
                seen += 1
                expected = list(meta[key]) if key == "enum" else meta[key]
                assert target.get(name) == expected, f"{kind} {path}: {name} missing from the schema"
        if meta.get("doc"):
            assert node["description"] == meta["doc"], path
    assert seen >= 5


def test_types_without_an_openapi_form_are_refused_with_the_field() -> None:
    @attrs.define
    class Odd:
        weights: dict[int, str] | None = field()
        extra: dict[str, Any] = extra_field()

    with pytest.raises(SchemaError, match=r"Odd\.weights: JSON object keys are strings"):
        crds.model_schema(Odd)

    @attrs.define
    class Odder:
        tags: set[str] | None = field()
        extra: dict[str, Any] = extra_field()

    with pytest.raises(SchemaError, match=r"Odder\.tags: type set\[str\] has no structural OpenAPI equivalent"):
        crds.model_schema(Odder)
