"""Dataset models: reference manifests round-trip, and bad specs are named precisely."""

from __future__ import annotations

import copy

import pytest
import yaml

from lifecycle.api import Dataset, ParseError, from_json, to_json
from lifecycle.api.meta import Condition, set_condition
from lifecycle.api.units import format_bytes, format_ratio, parse_quantity, parse_tool_size
from lifecycle.api.validation import InvalidSpec, validate_dataset

REFERENCE_DATASET = yaml.safe_load("""
apiVersion: data.fluid.io/v1alpha1
kind: Dataset
metadata:
  name: imagenet
  namespace: default
  annotations:
    pvc.fluid.io/resources.requests.storage: 200Gi
  managedFields: [{manager: kubectl, operation: Update}]
spec:
  mounts:
    - mountPoint: s3://imagenet-bucket/train
      name: train
      options: {fs.s3a.endpoint: s3.example.com}
      encryptOptions:
        - name: fs.s3a.access.key
          valueFrom: {secretKeyRef: {name: s3-secret, key: access-key}}
      readOnly: false
      futureFlag: {keep: true}
    - mountPoint: hdfs://namenode:9000/val
      name: val
      path: /validation
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [zone-a]}]
  placement: Shared
  accessModes: [ReadOnlyMany]
  sharedOptions: {alluxio.user.file.writetype.default: MUST_CACHE}
  someNewerField: 7
status:
  phase: Bound
  conditions:
    - {type: Ready, status: "True", reason: DatasetReady, message: ok, lastUpdateTime: "2026-01-01T00:00:00Z",
       lastTransitionTime: "2026-01-01T00:00:00Z"}
  cacheStates: {cached: 0.00B, cacheCapacity: 10.00GiB, cachedPercentage: 0.0%}
  ufsTotal: 28.78GiB
  fileNum: "1281167"
  hcfs: {endpoint: "alluxio://imagenet-master-0.default:19998", underlayerFileSystemVersion: 3.3.0}
""")


def test_reference_manifest_round_trips_including_unknown_fields() -> None:
    ds = from_json(Dataset, copy.deepcopy(REFERENCE_DATASET))
    assert ds.spec.mounts is not None and ds.spec.mounts[1].effective_path == "/validation"
    assert ds.spec.mounts[0].encrypt_options[0].value_from.secret_key_ref.key == "access-key"  # type: ignore[index,union-attr]
    assert ds.status is not None and ds.status.hcfs is not None and ds.status.file_num == "1281167"
    assert to_json(ds) == REFERENCE_DATASET


def test_read_modify_write_keeps_unmodelled_fields() -> None:
    ds = from_json(Dataset, copy.deepcopy(REFERENCE_DATASET))
    assert ds.status is not None
    ds.status.phase = "Failed"
    out = to_json(ds)
    assert out["status"]["phase"] == "Failed"
    assert out["spec"]["someNewerField"] == 7 and out["spec"]["mounts"][0]["futureFlag"] == {"keep": True}
    assert out["metadata"]["managedFields"] == REFERENCE_DATASET["metadata"]["managedFields"]


@pytest.mark.parametrize(("patch", "expected"), [
    ({"mounts": [{"mountPoint": 42}]}, "spec.mounts[0].mountPoint: expected a string"),
    ({"mounts": [{"mountPoint": "s3://b/x", "readOnly": "yes"}]}, "spec.mounts[0].readOnly: expected true or false"),
    ({"mounts": [{"name": "x"}]}, "spec.mounts[0].mountPoint: required field missing"),
    ({"sharedOptions": {"a": 1}}, "spec.sharedOptions['a']: expected a string"),
])
def test_type_errors_name_the_json_field(patch: dict, expected: str) -> None:
    with pytest.raises(ParseError) as err:
        from_json(Dataset, {"metadata": {"name": "x", "namespace": "ns"}, "spec": patch}, "Dataset ns/x")
    assert str(err.value).startswith("Dataset ns/x: ") and expected in str(err.value)


def dataset(**spec: object) -> Dataset:
    return from_json(Dataset, {"metadata": {"name": "imagenet", "namespace": "default"}, "spec": spec})


@pytest.mark.parametrize(("ds", "field", "fix"), [
    (dataset(mounts=[]), "spec.mounts", "add at least one"),
    (dataset(mounts=[{"mountPoint": "s3://a/1", "name": "a", "path": "/a/../../etc"}]), "spec.mounts[0].path",
     "give the path inside the cache"),
    (dataset(mounts=[{"mountPoint": "s3://a/1", "name": "a", "options": {"k": "v\nalluxio.x=y"}}]),
     "spec.mounts[0].options[k]", "remove it"),
    (dataset(mounts=[{"mountPoint": "s3:/", "name": "a"}]), "spec.mounts[0].mountPoint", "shorter than 5"),
    (dataset(mounts=[{"mountPoint": "s3://a/1", "name": "a"}, {"mountPoint": "s3://a/2", "name": "a"}]),
     "spec.mounts[1].name", "unique name"),
    (dataset(mounts=[{"mountPoint": "s3://a/1", "name": "a", "path": "/p"},
                     {"mountPoint": "s3://a/2", "name": "b", "path": "/p"}]), "spec.mounts[1].path", "unique path"),
    (dataset(mounts=[{"mountPoint": "s3://a/1", "name": "a", "path": "rel"}]), "spec.mounts[0].path", "start"),
    (dataset(mounts=[{"mountPoint": "dataset://ns/other"}, {"mountPoint": "s3://a/b", "name": "b"}]),
     "spec.mounts[0].mountPoint", "only mount"),
    (dataset(placement="Spread"), "spec.placement", "Exclusive or Shared"),
    (dataset(accessModes=["ReadMany"]), "spec.accessModes[0]", "ReadOnlyMany"),
    (from_json(Dataset, {"metadata": {"name": "Bad_Name", "namespace": "default"}}), "metadata.name", "DNS-1035"),
])
def test_invalid_specs_name_object_field_and_fix(ds: Dataset, field: str, fix: str) -> None:
    with pytest.raises(InvalidSpec) as err:
        validate_dataset(ds)
    message = str(err.value)
    assert message.startswith(f"Dataset default/{ds.metadata.name}: ") and field in message and fix in message


def test_valid_reference_dataset_passes() -> None:
    validate_dataset(from_json(Dataset, copy.deepcopy(REFERENCE_DATASET)))


def test_conditions_keep_transition_time_and_skip_unchanged_writes() -> None:
    conditions: list[Condition] = []
    assert set_condition(conditions, Condition(type="Ready", status="True", reason="A"), "t1")
    assert not set_condition(conditions, Condition(type="Ready", status="True", reason="A"), "t2")
    assert set_condition(conditions, Condition(type="Ready", status="True", reason="B"), "t3")
    assert conditions[0].last_transition_time == "t1" and conditions[0].last_update_time == "t3"
    assert set_condition(conditions, Condition(type="Ready", status="False", reason="B"), "t4")
    assert conditions[0].last_transition_time == "t4"


def test_units_in_the_reference_formats() -> None:
    assert format_bytes(0) == "0.00B" and format_bytes(10 * 2**30) == "10.00GiB"
    assert format_ratio(573, 1000) == "57.3%" and format_ratio(1, 0) == "0.0%"
    assert parse_quantity("100Pi") == 100 * 2**50 and parse_quantity("500M") == 500 * 10**6
    assert parse_tool_size("6.00GB") == 6 * 2**30 and parse_tool_size("1024.00MB") == 2**30
    with pytest.raises(ValueError, match="2Gi"):
        parse_quantity("two gigs")
