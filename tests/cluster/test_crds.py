"""The committed CRDs on a real API server: installed and Established, reference-style objects are
accepted with their unknown fields intact, tables show the reference's columns, the scale
subresource drives spec.replicas, and malformed manifests are refused naming the field.

The CRDs are installed from deploy/crds (what a user applies), not from a fresh render: the unit
drift test already ties the two together. They are deleted again at the end unless they were there
before this module ran, so tests elsewhere that installed them keep them.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from engines.alluxio.api import AlluxioRuntime
from engines.jindo.api import JindoRuntime
from lifecycle.api import Dataset, from_json, to_json
from lifecycle.generate.crds import DEFAULT_OUT_DIR
from lifecycle.local import LocalCluster
from lifecycle.local.binaries import locate
from tests.cluster import eventually

pytestmark = pytest.mark.cluster

GROUP, VERSION = "data.fluid.io", "v1alpha1"
PLURALS = {"Dataset": "datasets", "AlluxioRuntime": "alluxioruntimes", "JindoRuntime": "jindoruntimes"}
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
ESTABLISH_TIMEOUT = 60
GONE_TIMEOUT = 60

DATASET = """
apiVersion: data.fluid.io/v1alpha1
kind: Dataset
metadata:
  name: imagenet
  annotations:
    pvc.fluid.io/resources.requests.storage: 200Gi
spec:
  mounts:
    - mountPoint: s3://imagenet-bucket/train
      name: train
      path: /train
      readOnly: true
      options:
        alluxio.underfs.s3.endpoint: s3.example.com
        alluxio.underfs.s3.region: eu-west-1
      encryptOptions:
        - name: aws.accessKeyId
          valueFrom:
            secretKeyRef: {name: imagenet-keys, key: access-key}
      mirrorPolicy: lazy
    - mountPoint: pvc://shared-models/resnet
      name: models
  sharedOptions:
    alluxio.user.file.readtype.default: CACHE
  accessModes: [ReadOnlyMany]
  placement: Shared
  owner: {uid: 1000, gid: 1000, user: trainer, group: trainer}
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions:
            - {key: node-role.example.com/cache, operator: In, values: ["true"]}
  tolerations:
    - {key: dedicated, operator: Equal, value: cache, effect: NoSchedule}
  prefetchHint: first-epoch
"""

ALLUXIO = """
apiVersion: data.fluid.io/v1alpha1
kind: AlluxioRuntime
metadata:
  name: imagenet
spec:
  replicas: 2
  alluxioVersion: {image: registry.example.com/alluxio/alluxio, imageTag: 2.9.0, imagePullPolicy: IfNotPresent}
  master:
    jvmOptions: ["-Xmx4G"]
    properties: {alluxio.master.journal.type: UFS}
    ports: {rpc: 19998, web: 19999}
    resources: {requests: {cpu: "1", memory: 4Gi}}
    env: {ALLUXIO_JAVA_OPTS: -Dalluxio.security.stale.channel.purge.interval=365d}
    networkMode: ContainerNetwork
    podMetadata: {labels: {tier: master}}
    startupProbeSeconds: 30
  worker:
    volumeMounts: [{name: hbase-conf, mountPath: /opt/hbase/conf}]
  apiGateway: {enabled: true}
  fuse:
    args: [fuse, --fuse-opts=kernel_cache,ro]
    env: {MAX_IDLE_THREADS: "32"}
    cleanPolicy: OnDemand
    global: true
  tieredstore:
    levels:
      - {mediumtype: MEM, volumeType: emptyDir, path: /dev/shm, quota: 2Gi, high: "0.95", low: "0.7"}
  properties: {alluxio.user.file.writetype.default: MUST_CACHE}
  runAs: {uid: 1201, gid: 1201, user: fluid, group: fluid}
  volumes: [{name: hbase-conf, configMap: {name: hbase-conf}}]
  management:
    cleanCachePolicy: {gracePeriodSeconds: 120, maxRetryAttempts: 5}
    metadataSyncPolicy: {autoSync: false}
  experimentalCacheFormat: v2
"""

JINDO = """
apiVersion: data.fluid.io/v1alpha1
kind: JindoRuntime
metadata:
  name: hadoop
spec:
  replicas: 1
  jindoVersion: {image: registry.example.com/jindo/smartdata, imageTag: 6.2.0}
  networkmode: ContainerNetwork
  secret: oss-access-keys
  master:
    disabled: false
    tolerations: [{key: dedicated, operator: Exists}]
  worker:
    resources: {requests: {memory: 16Gi}}
  fuse:
    args: [-okernel_cache, -oro]
    logConfig: {logger.level: "2"}
  tieredstore:
    levels: [{mediumtype: HDD, path: /mnt/disk1, quota: 240Gi, high: "0.99", low: "0.8"}]
  cleanCachePolicy: {gracePeriodSeconds: 30}
  cacheWarmup: eager
"""


def manifest(text: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def runtime_status(**changes: Any) -> dict[str, Any]:
    status = {
        "valueFile": "x-values", "masterPhase": "Ready", "workerPhase": "PartialReady", "fusePhase": "Ready",
        "desiredMasterNumberScheduled": 1, "currentMasterNumberScheduled": 1, "masterNumberReady": 1,
        "desiredWorkerNumberScheduled": 2, "currentWorkerNumberScheduled": 2, "workerNumberReady": 1,
        "desiredFuseNumberScheduled": 0, "currentFuseNumberScheduled": 0, "fuseNumberReady": 0,
    }
    status.update(changes)
    return status


@pytest.fixture(scope="module")
def crds(typed_kube: client.ApiClient) -> Iterator[list[str]]:
    """Install deploy/crds (create, or replace a previous version) and wait until all are Established."""
    extensions = client.ApiextensionsV1Api(typed_kube)
    installed: list[str] = []
    names: list[str] = []
    for path in sorted(DEFAULT_OUT_DIR.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        name = crd["metadata"]["name"]
        names.append(name)
        try:
            extensions.create_custom_resource_definition(client.V1CustomResourceDefinition.model_validate(crd))
            installed.append(name)
        except ApiException as exc:
            if exc.status != 409:
                raise
            current = extensions.read_custom_resource_definition(name)
            crd["metadata"]["resourceVersion"] = current.metadata.resource_version
            extensions.replace_custom_resource_definition(name, client.V1CustomResourceDefinition.model_validate(crd))

    def conditions(name: str) -> dict[str, str]:
        status = extensions.read_custom_resource_definition(name).status
        return {c.type: c.status for c in (status.conditions if status else None) or []}

    for name in names:
        eventually(lambda n=name: conditions(n), lambda c: c.get("Established") == "True",
                   ESTABLISH_TIMEOUT, f"CRD {name} Established")
    try:
        yield names
    finally:
        for name in installed:
            extensions.delete_custom_resource_definition(name)
        for name in installed:
            eventually(lambda n=name: _crd_exists(extensions, n), lambda e: not e, GONE_TIMEOUT, f"CRD {name} gone")


def _crd_exists(extensions: client.ApiextensionsV1Api, name: str) -> bool:
    try:
        extensions.read_custom_resource_definition(name)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


class Objects:
    """Custom objects of one namespace as plain dicts."""

    def __init__(self, typed_kube: client.ApiClient, namespace: str):
        self.api = client.CustomObjectsApi(typed_kube)
        self.namespace = namespace

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = self.api.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURALS[body["kind"]], body
        )
        return created

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.api.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURALS[kind], name
        )
        return found

    def replace_status(self, body: dict[str, Any]) -> dict[str, Any]:
        replaced: dict[str, Any] = self.api.replace_namespaced_custom_object_status(
            GROUP, VERSION, self.namespace, PLURALS[body["kind"]], body["metadata"]["name"], body
        )
        return replaced

    def table(self, kind: str) -> dict[str, Any]:
        response = self.api.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURALS[kind], _headers={"Accept": TABLE}, _preload_content=False
        )
        table: dict[str, Any] = json.loads(response.data)
        return table


@pytest.fixture
def objects(crds: list[str], typed_kube: client.ApiClient, namespace: str) -> Objects:
    return Objects(typed_kube, namespace)


@pytest.fixture(scope="module")
def kubectl(cluster: LocalCluster) -> Any:
    binary = locate().binary("kubectl")

    def run(*args: str) -> str:
        done = subprocess.run(
            [str(binary), "--kubeconfig", str(cluster.kubeconfig), *args],
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert done.returncode == 0, f"kubectl {' '.join(args)} failed: {done.stderr}"
        return done.stdout

    return run


def test_crds_are_established_with_the_reference_names(crds: list[str], typed_kube: client.ApiClient) -> None:
    assert sorted(crds) == ["alluxioruntimes.data.fluid.io", "databackups.data.fluid.io", "dataloads.data.fluid.io",
                            "datamigrates.data.fluid.io", "dataprocesses.data.fluid.io", "datasets.data.fluid.io",
                            "jindoruntimes.data.fluid.io"]
    extensions = client.ApiextensionsV1Api(typed_kube)
    for name in crds:
        crd = extensions.read_custom_resource_definition(name)
        conditions = {c.type: c.status for c in crd.status.conditions}
        assert conditions.get("NamesAccepted") == "True" and conditions.get("Established") == "True", conditions
        assert crd.status.accepted_names.categories == ["fluid"]


@pytest.mark.parametrize(("text", "model"), [(DATASET, Dataset), (ALLUXIO, AlluxioRuntime), (JINDO, JindoRuntime)],
                         ids=["dataset", "alluxio", "jindo"])
def test_reference_objects_are_accepted_and_unknown_fields_survive(objects: Objects, text: str, model: type) -> None:
    sent = manifest(text)
    objects.create(copy.deepcopy(sent))
    stored = objects.get(sent["kind"], sent["metadata"]["name"])
    # Nothing pruned, nothing defaulted: the API server keeps the spec exactly as written.
    assert stored["spec"] == sent["spec"]
    parsed = from_json(model, stored)
    assert to_json(parsed) == stored


def test_status_keeps_unknown_fields_and_is_written_through_the_subresource(objects: Objects) -> None:
    objects.create(manifest(ALLUXIO))
    runtime = objects.get("AlluxioRuntime", "imagenet")
    runtime["status"] = runtime_status(selector="app=alluxio,release=imagenet,role=alluxio-worker",
                                       apiGateway={"endpoint": "imagenet-master-0:39999"}, shardHint=3)
    objects.replace_status(runtime)
    stored = objects.get("AlluxioRuntime", "imagenet")
    assert stored["status"]["shardHint"] == 3
    assert stored["status"]["apiGateway"]["endpoint"] == "imagenet-master-0:39999"
    assert from_json(AlluxioRuntime, stored).status is not None

    objects.create(manifest(DATASET))
    dataset = objects.get("Dataset", "imagenet")
    dataset["status"] = {"phase": "Bound", "ufsTotal": "28.78GiB", "conditions": [
        {"type": "Ready", "status": "True", "reason": "DatasetReady", "lastUpdateTime": "2024-05-01T10:00:00Z",
         "lastTransitionTime": "2024-05-01T10:00:00Z", "probeCount": 4}]}
    objects.replace_status(dataset)
    assert objects.get("Dataset", "imagenet")["status"]["conditions"][0]["probeCount"] == 4


def test_tables_show_the_reference_columns(objects: Objects, kubectl: Any, namespace: str) -> None:
    objects.create(manifest(DATASET))
    objects.create(manifest(ALLUXIO))
    objects.create(manifest(JINDO))
    runtime_columns = ["Name", "Ready Masters", "Desired Masters", "Master Phase", "Ready Workers",
                       "Desired Workers", "Worker Phase", "Ready Fuses", "Desired Fuses", "Fuse Phase"]

    def names(kind: str) -> list[str]:
        return [c["name"] for c in objects.table(kind)["columnDefinitions"]]

    assert names("Dataset") == ["Name", "Ufs Total Size", "Cached", "Cache Capacity", "Cached Percentage",
                                "Phase", "HCFS URL", "TOTAL FILES", "CACHE HIT RATIO", "Age"]
    assert names("AlluxioRuntime") == [*runtime_columns, "API Gateway", "Age"]
    assert names("JindoRuntime") == [*runtime_columns, "Age"]

    # kubectl shows priority-0 columns by default and the rest with -o wide, upper-cased.
    header = kubectl("get", "datasets", "-n", namespace).splitlines()[0].split()
    assert header == ["NAME", "UFS", "TOTAL", "SIZE", "CACHED", "CACHE", "CAPACITY", "CACHED", "PERCENTAGE",
                      "PHASE", "AGE"]
    wide = kubectl("get", "dataset", "-n", namespace, "-o", "wide").splitlines()[0]
    assert "HCFS URL" in wide and "TOTAL FILES" in wide and "CACHE HIT RATIO" in wide
    assert kubectl("get", "alluxio", "-n", namespace).splitlines()[0].split() == [
        "NAME", "MASTER", "PHASE", "WORKER", "PHASE", "FUSE", "PHASE", "AGE"]
    assert "API GATEWAY" in kubectl("get", "alluxio", "-n", namespace, "-o", "wide").splitlines()[0]
    assert "API GATEWAY" not in kubectl("get", "jindo", "-n", namespace, "-o", "wide").splitlines()[0]
    listed = kubectl("get", "fluid", "-n", namespace, "-o", "name").split()
    assert sorted(listed) == ["alluxioruntime.data.fluid.io/imagenet", "dataset.data.fluid.io/imagenet",
                              "jindoruntime.data.fluid.io/hadoop"]


def test_scale_subresource_drives_the_worker_replicas(objects: Objects, kubectl: Any, namespace: str) -> None:
    objects.create(manifest(ALLUXIO))
    kubectl("scale", "alluxioruntime/imagenet", "-n", namespace, "--replicas=3")
    assert objects.get("AlluxioRuntime", "imagenet")["spec"]["replicas"] == 3

    runtime = objects.get("AlluxioRuntime", "imagenet")
    runtime["status"] = runtime_status(currentWorkerNumberScheduled=3, selector="role=alluxio-worker")
    objects.replace_status(runtime)
    scale = objects.api.get_namespaced_custom_object_scale(GROUP, VERSION, namespace, "alluxioruntimes", "imagenet")
    assert scale["spec"]["replicas"] == 3
    assert scale["status"] == {"replicas": 3, "selector": "role=alluxio-worker"}

    objects.create(manifest(JINDO))
    objects.api.patch_namespaced_custom_object_scale(GROUP, VERSION, namespace, "jindoruntimes", "hadoop",
                                                     {"spec": {"replicas": 4}})
    assert objects.get("JindoRuntime", "hadoop")["spec"]["replicas"] == 4
    jindo_scale = objects.api.get_namespaced_custom_object_scale(GROUP, VERSION, namespace, "jindoruntimes", "hadoop")
    assert "selector" not in jindo_scale["status"]


def _with(text: str, change: Any) -> dict[str, Any]:
    body = manifest(text)
    change(body)
    return body


def _set(body: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path; integer steps index lists."""
    *parents, last = path.split(".")
    node: Any = body
    for step in parents:
        node = node[int(step)] if step.isdigit() else node[step]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value


def _drop(body: dict[str, Any], path: str) -> None:
    *parents, last = path.split(".")
    node: Any = body
    for step in parents:
        node = node[int(step)] if step.isdigit() else node[step]
    del node[last]


# (manifest, the field the server must name, words its message must contain)
MALFORMED = {
    "negative-replicas": (
        _with(ALLUXIO, lambda b: _set(b, "spec.replicas", -1)),
        "spec.replicas", "greater than or equal to 0"),
    "replicas-wrong-type": (
        _with(JINDO, lambda b: _set(b, "spec.replicas", "three")),
        "spec.replicas", "must be of type integer"),
    "component-replicas-zero": (
        _with(ALLUXIO, lambda b: _set(b, "spec.master.replicas", 0)),
        "spec.master.replicas", "greater than or equal to 1"),
    "mountpoint-too-short": (
        _with(DATASET, lambda b: _set(b, "spec.mounts.0.mountPoint", "s3:/")),
        "spec.mounts[0].mountPoint", "at least 5 chars long"),
    "mountpoint-missing": (
        _with(DATASET, lambda b: _drop(b, "spec.mounts.1.mountPoint")),
        "spec.mounts[1].mountPoint", "Required value"),
    "placement-enum": (
        _with(DATASET, lambda b: _set(b, "spec.placement", "Spread")),
        "spec.placement", "Unsupported value"),
    "access-mode-enum": (
        _with(DATASET, lambda b: _set(b, "spec.accessModes", ["ReadMany"])),
        "spec.accessModes[0]", "Unsupported value"),
    "mounts-wrong-type": (
        _with(DATASET, lambda b: _set(b, "spec.mounts", "s3://imagenet-bucket")),
        "spec.mounts", "must be of type array"),
    "mediumtype-enum": (
        _with(ALLUXIO, lambda b: _set(b, "spec.tieredstore.levels.0.mediumtype", "NVME")),
        "spec.tieredstore.levels[0].mediumtype", "Unsupported value"),
    "mediumtype-missing": (
        _with(JINDO, lambda b: _drop(b, "spec.tieredstore.levels.0.mediumtype")),
        "spec.tieredstore.levels[0].mediumtype", "Required value"),
    "volumetype-enum": (
        _with(ALLUXIO, lambda b: _set(b, "spec.tieredstore.levels.0.volumeType", "tmpfs")),
        "spec.tieredstore.levels[0].volumeType", "Unsupported value"),
    "fuse-clean-policy-enum": (
        _with(JINDO, lambda b: _set(b, "spec.fuse.cleanPolicy", "Never")),
        "spec.fuse.cleanPolicy", "Unsupported value"),
    "network-mode-enum": (
        _with(ALLUXIO, lambda b: _set(b, "spec.master.networkMode", "BridgeNetwork")),
        "spec.master.networkMode", "Unsupported value"),
    "jindo-networkmode-enum": (
        _with(JINDO, lambda b: _set(b, "spec.networkmode", "Bridge")),
        "spec.networkmode", "Unsupported value"),
    "grace-period-negative": (
        _with(ALLUXIO, lambda b: _set(b, "spec.management.cleanCachePolicy.gracePeriodSeconds", -5)),
        "spec.management.cleanCachePolicy.gracePeriodSeconds", "greater than or equal to 0"),
    "env-list-instead-of-map": (
        _with(ALLUXIO, lambda b: _set(b, "spec.fuse.env", [{"name": "A", "value": "b"}])),
        "spec.fuse.env", "must be of type object"),
}


def _refusal(call: Any) -> str:
    with pytest.raises(ApiException) as caught:
        call()
    assert caught.value.status == 422, caught.value.body
    message: str = json.loads(caught.value.body)["message"]
    return message


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_manifests_are_refused_naming_the_field(objects: Objects, case: str) -> None:
    body, path, words = MALFORMED[case]
    message = _refusal(lambda: objects.create(copy.deepcopy(body)))
    assert f"{path}:" in message and words in message, message


@pytest.mark.parametrize(
    ("kind", "status", "path", "words"),
    [
        ("Dataset", {"phase": "Bound"}, "status.conditions", "Required value"),
        ("Dataset", {"conditions": "Ready"}, "status.conditions", "must be of type array"),
        ("Dataset", {"conditions": [{"type": "Ready", "status": "Yes"}]}, "status.conditions[0].status",
         "Unsupported value"),
        ("Dataset", {"conditions": [], "phase": "Stuck"}, "status.phase", "Unsupported value"),
        ("AlluxioRuntime", {"masterPhase": "Ready"}, "status.valueFile", "Required value"),
        ("JindoRuntime", runtime_status(workerPhase="Degraded"), "status.workerPhase", "Unsupported value"),
    ],
    ids=["dataset-conditions-missing", "dataset-conditions-type", "condition-status-enum", "dataset-phase-enum",
         "runtime-required-status", "runtime-phase-enum"],
)
def test_malformed_status_is_refused_naming_the_field(
    objects: Objects, kind: str, status: dict[str, Any], path: str, words: str
) -> None:
    text = {"Dataset": DATASET, "AlluxioRuntime": ALLUXIO, "JindoRuntime": JINDO}[kind]
    sent = manifest(text)
    objects.create(sent)
    stored = objects.get(kind, sent["metadata"]["name"])
    stored["status"] = status
    message = _refusal(lambda: objects.replace_status(stored))
    assert f"{path}:" in message and words in message, message
