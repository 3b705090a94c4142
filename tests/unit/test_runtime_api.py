"""AlluxioRuntime and JindoRuntime manifests as users write them for the reference parse and round-trip.

The manifests follow the reference's documentation and public samples, with a few keys the models
do not know sprinkled in: those must come back unchanged, at every depth.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from engines.alluxio.api import AlluxioRuntime, AlluxioRuntimeSpec
from engines.alluxio.kind import KIND_SPEC as ALLUXIO
from engines.jindo.api import JindoRuntime, JindoRuntimeSpec
from engines.jindo.kind import KIND_SPEC as JINDO
from lifecycle.api import ParseError, from_json, to_json
from lifecycle.engine.registry import Registry

ALLUXIO_MANIFEST = """
apiVersion: data.fluid.io/v1alpha1
kind: AlluxioRuntime
metadata:
  name: imagenet
  namespace: training
  labels:
    team: vision
spec:
  replicas: 3
  alluxioVersion:
    image: registry.example.com/alluxio/alluxio
    imageTag: 2.9.0
    imagePullPolicy: IfNotPresent
  imagePullSecrets:
    - name: registry-credentials
  master:
    replicas: 1
    jvmOptions: ["-Xmx4G", "-XX:+UnlockExperimentalVMOptions"]
    properties:
      alluxio.master.journal.type: UFS
      alluxio.master.journal.folder: /journal
    ports:
      rpc: 19998
      web: 19999
    resources:
      requests: {cpu: "1", memory: 4Gi}
      limits: {cpu: "2", memory: 8Gi}
    env:
      ALLUXIO_MASTER_JAVA_OPTS: -Dalluxio.master.hostname=localhost
    nodeSelector:
      node-role.example.com/cache: "true"
    networkMode: ContainerNetwork
    podMetadata:
      labels: {tier: master}
      annotations: {prometheus.io/scrape: "true"}
    startupProbeSeconds: 30
  jobMaster:
    ports: {rpc: 20001, web: 20002, embedded: 20003}
  worker:
    jvmOptions: ["-Xmx12G", "-XX:MaxDirectMemorySize=32g"]
    properties:
      alluxio.worker.block.heartbeat.interval: 5s
    resources:
      requests: {memory: 16Gi}
    volumeMounts:
      - name: hbase-conf
        mountPath: /opt/hbase/conf
  jobWorker:
    ports: {rpc: 30001, data: 30002, web: 30003}
  apiGateway:
    enabled: true
    ports: {rest: 39999}
  initUsers:
    image: registry.example.com/fluid/init-users
    imageTag: v0.3.0
  fuse:
    image: registry.example.com/alluxio/alluxio-fuse
    imageTag: 2.9.0
    imagePullPolicy: IfNotPresent
    jvmOptions: ["-Xmx16G", "-Xms16G"]
    args: [fuse, --fuse-opts=kernel_cache,ro,max_read=131072,attr_timeout=7200,entry_timeout=7200]
    properties:
      alluxio.fuse.cached.paths.max: "1000000"
    env:
      MAX_IDLE_THREADS: "32"
    nodeSelector:
      accelerator: nvidia-a100
    cleanPolicy: OnDemand
    global: true
    networkMode: HostNetwork
    podMetadata:
      labels: {tier: fuse}
  tieredstore:
    levels:
      - mediumtype: MEM
        volumeType: emptyDir
        path: /dev/shm
        quota: 2Gi
        high: "0.95"
        low: "0.7"
      - mediumtype: SSD
        path: /mnt/ssd0,/mnt/ssd1
        quotaList: 100Gi,100Gi
        high: "0.9"
        low: "0.6"
  properties:
    alluxio.user.file.writetype.default: MUST_CACHE
    alluxio.user.block.size.bytes.default: 256MB
    alluxio.user.streaming.data.timeout: 300sec
  jvmOptions: ["-XX:+UseG1GC"]
  data:
    replicas: 1
    pin: false
  runAs:
    uid: 1201
    gid: 1201
    user: fluid
    group: fluid
  disablePrometheus: false
  hadoopConfig: hdfs-site-config
  volumes:
    - name: hbase-conf
      configMap:
        name: hbase-conf
  podMetadata:
    annotations: {owner.example.com/team: vision}
  management:
    cleanCachePolicy:
      gracePeriodSeconds: 120
      maxRetryAttempts: 5
    metadataSyncPolicy:
      autoSync: false
    upgradePolicy: Rolling
  experimentalCacheFormat: v2
status:
  valueFile: imagenet-alluxio-values
  masterPhase: Ready
  workerPhase: PartialReady
  fusePhase: Ready
  desiredMasterNumberScheduled: 1
  currentMasterNumberScheduled: 1
  masterNumberReady: 1
  desiredWorkerNumberScheduled: 3
  currentWorkerNumberScheduled: 3
  workerNumberReady: 2
  workerNumberAvailable: 2
  workerNumberUnavailable: 1
  desiredFuseNumberScheduled: 0
  currentFuseNumberScheduled: 0
  fuseNumberReady: 0
  setupDuration: 2m30s
  selector: app=alluxio,release=imagenet,role=alluxio-worker
  apiGateway:
    endpoint: imagenet-master-0.training:39999
  cacheStates:
    cacheCapacity: 6.00GiB
    cached: 0.00B
    cachedPercentage: 0.0%
  conditions:
    - type: MasterInitialized
      status: "True"
      reason: Master is initialized
      lastProbeTime: "2024-05-01T10:00:00Z"
      lastTransitionTime: "2024-05-01T10:00:00Z"
  mountTime: "2024-05-01T10:01:00Z"
  reconcileShard: 7
"""

JINDO_MANIFEST = """
apiVersion: data.fluid.io/v1alpha1
kind: JindoRuntime
metadata:
  name: hadoop
  namespace: default
spec:
  replicas: 2
  jindoVersion:
    image: registry.example.com/jindo/smartdata
    imageTag: 6.2.0
    imagePullPolicy: IfNotPresent
  secret: oss-access-keys
  user: hadoop
  hadoopConfig: hadoop-conf
  networkmode: ContainerNetwork
  properties:
    fs.oss.read.buffer.size: "1048576"
  logConfig:
    logger.dir: /tmp/jindo-log
  labels:
    team: etl
  master:
    replicas: 1
    properties:
      namespace.rpc.port: "8101"
    ports: {rpc: 8101}
    resources:
      limits: {cpu: "4", memory: 8Gi}
    env:
      CLIENT_NAMESPACE_RPC_ADDRESS: hadoop-jindofs-master-0:8101
    nodeSelector:
      node-role.example.com/cache: "true"
    tolerations:
      - key: dedicated
        operator: Equal
        value: cache
        effect: NoSchedule
    podMetadata:
      labels: {tier: master}
  worker:
    resources:
      requests: {memory: 16Gi}
    volumeMounts:
      - name: cache-disk
        mountPath: /mnt/disk1
  fuse:
    image: registry.example.com/jindo/jindo-fuse
    imageTag: 6.2.0
    args: [-okernel_cache, -oro, -oattr_timeout=7200, -oentry_timeout=7200]
    properties:
      fs.jindocache.meta.cache.enable: "true"
    env:
      FUSE_THREADS: "64"
    cleanPolicy: OnRuntimeDeleted
    global: false
    disabled: false
    logConfig:
      logger.level: "2"
    metrics:
      enabled: true
      scrapeTarget: MountPod
  tieredstore:
    levels:
      - mediumtype: HDD
        volumeType: hostPath
        path: /mnt/disk1
        quota: 240Gi
        high: "0.99"
        low: "0.8"
  runAs:
    uid: 1005
    gid: 1005
    user: hadoop
    group: hadoop
  cleanCachePolicy:
    gracePeriodSeconds: 30
  volumes:
    - name: cache-disk
      hostPath:
        path: /mnt/disk1
  imagePullSecrets:
    - name: registry-credentials
  podMetadata:
    annotations: {owner.example.com/team: etl}
  cacheWarmup: eager
"""

FUSE_ONLY_JINDO = """
apiVersion: data.fluid.io/v1alpha1
kind: JindoRuntime
metadata:
  name: direct-read
spec:
  master:
    disabled: true
  worker:
    disabled: true
  fuse:
    args: [-oro]
"""


def manifest(text: str) -> dict:
    return yaml.safe_load(text)


@pytest.mark.parametrize(
    ("model", "text"),
    [(AlluxioRuntime, ALLUXIO_MANIFEST), (JindoRuntime, JINDO_MANIFEST), (JindoRuntime, FUSE_ONLY_JINDO)],
    ids=["alluxio", "jindo", "jindo-fuse-only"],
)
def test_reference_manifest_round_trips_unchanged(model: type, text: str) -> None:
    original = manifest(text)
    parsed = from_json(model, copy.deepcopy(original))
    assert to_json(parsed) == original


def test_alluxio_fields_land_where_the_reference_puts_them() -> None:
    rt = from_json(AlluxioRuntime, manifest(ALLUXIO_MANIFEST))
    spec = rt.spec
    assert isinstance(spec, AlluxioRuntimeSpec)
    assert rt.kind == "AlluxioRuntime" and rt.key == "training/imagenet"
    assert spec.replicas == 3
    assert spec.alluxio_version and spec.alluxio_version.image_tag == "2.9.0"
    assert spec.master and spec.master.ports == {"rpc": 19998, "web": 19999}
    assert spec.master.network_mode == "ContainerNetwork"
    assert spec.master.pod_metadata and spec.master.pod_metadata.labels == {"tier": "master"}
    assert spec.master.extra == {"startupProbeSeconds": 30}
    assert spec.api_gateway_enabled
    assert spec.fuse and spec.fuse.global_ is True and spec.fuse.clean_policy == "OnDemand"
    assert spec.fuse.env == {"MAX_IDLE_THREADS": "32"}
    levels = spec.tieredstore.levels if spec.tieredstore else None
    assert levels and [lv.mediumtype for lv in levels] == ["MEM", "SSD"]
    assert levels[1].quota_list == "100Gi,100Gi"
    assert spec.run_as and (spec.run_as.uid, spec.run_as.group) == (1201, "fluid")
    assert spec.management and spec.management.extra == {"upgradePolicy": "Rolling"}
    assert spec.extra == {"experimentalCacheFormat": "v2"}
    assert rt.status and rt.status.selector == "app=alluxio,release=imagenet,role=alluxio-worker"
    assert rt.status.api_gateway and rt.status.api_gateway.endpoint == "imagenet-master-0.training:39999"
    assert rt.status.extra == {"reconcileShard": 7}


def test_alluxio_management_defaults_are_resolved_not_written() -> None:
    rt = from_json(AlluxioRuntime, manifest(FUSE_ONLY_JINDO.replace("JindoRuntime", "AlluxioRuntime")
                                            .replace("disabled: true", "replicas: 1")))
    policy = rt.spec.effective_clean_cache_policy
    assert (policy.grace_period_seconds, policy.max_retry_attempts) == (60, 3)
    assert rt.spec.effective_auto_sync is True
    assert "management" not in to_json(rt)["spec"]

    configured = from_json(AlluxioRuntime, manifest(ALLUXIO_MANIFEST))
    policy = configured.spec.effective_clean_cache_policy
    assert (policy.grace_period_seconds, policy.max_retry_attempts) == (120, 5)
    assert configured.spec.effective_auto_sync is False

    partial = from_json(AlluxioRuntime, {"spec": {"management": {"cleanCachePolicy": {"maxRetryAttempts": 0}}}})
    policy = partial.spec.effective_clean_cache_policy
    assert (policy.grace_period_seconds, policy.max_retry_attempts) == (60, 0)
    assert to_json(partial)["spec"] == {"management": {"cleanCachePolicy": {"maxRetryAttempts": 0}}}


def test_jindo_fields_and_fuse_only_mode() -> None:
    rt = from_json(JindoRuntime, manifest(JINDO_MANIFEST))
    spec = rt.spec
    assert isinstance(spec, JindoRuntimeSpec)
    assert spec.network_mode == "ContainerNetwork" and "networkmode" in to_json(rt)["spec"]
    assert spec.secret == "oss-access-keys" and spec.user == "hadoop"
    assert spec.master and spec.master.tolerations and spec.master.tolerations[0]["key"] == "dedicated"
    assert spec.fuse and spec.fuse.log_config == {"logger.level": "2"} and spec.fuse.disabled is False
    policy = spec.effective_clean_cache_policy
    assert (policy.grace_period_seconds, policy.max_retry_attempts) == (30, 3)
    assert not spec.fuse_only
    assert spec.extra == {"cacheWarmup": "eager"}

    direct = from_json(JindoRuntime, manifest(FUSE_ONLY_JINDO))
    assert direct.spec.fuse_only and direct.spec.master_disabled and direct.spec.worker_disabled
    assert direct.spec.effective_clean_cache_policy.grace_period_seconds == 60


def test_a_new_object_carries_its_kind() -> None:
    assert to_json(AlluxioRuntime()) == {"apiVersion": "data.fluid.io/v1alpha1", "kind": "AlluxioRuntime"}
    assert to_json(JindoRuntime())["kind"] == "JindoRuntime"


@pytest.mark.parametrize(
    ("model", "spec", "path"),
    [
        (AlluxioRuntime, {"replicas": "three"}, "spec.replicas"),
        (AlluxioRuntime, {"master": {"replicas": "1"}}, "spec.master.replicas"),
        (AlluxioRuntime, {"master": {"ports": {"rpc": "19998"}}}, "spec.master.ports['rpc']"),
        (AlluxioRuntime, {"fuse": {"global": "yes"}}, "spec.fuse.global"),
        (AlluxioRuntime, {"apiGateway": {"enabled": 1}}, "spec.apiGateway.enabled"),
        (AlluxioRuntime, {"management": {"cleanCachePolicy": {"gracePeriodSeconds": "60s"}}},
         "spec.management.cleanCachePolicy.gracePeriodSeconds"),
        (AlluxioRuntime, {"tieredstore": {"levels": [{"path": "/dev/shm"}]}}, "spec.tieredstore.levels[0].mediumtype"),
        (AlluxioRuntime, {"runAs": {"uid": "root"}}, "spec.runAs.uid"),
        (JindoRuntime, {"networkmode": 1}, "spec.networkmode"),
        (JindoRuntime, {"master": {"disabled": "true"}}, "spec.master.disabled"),
        (JindoRuntime, {"fuse": "off"}, "spec.fuse"),
        (JindoRuntime, {"cleanCachePolicy": {"maxRetryAttempts": 2.5}}, "spec.cleanCachePolicy.maxRetryAttempts"),
    ],
)
def test_type_errors_name_the_json_path(model: type, spec: dict, path: str) -> None:
    name = model.KIND
    with pytest.raises(ParseError) as caught:
        from_json(model, {"kind": name, "metadata": {"name": "bad"}, "spec": spec}, f"{name} default/bad")
    message = str(caught.value)
    assert message.startswith(f"{name} default/bad: ")
    assert any(p.startswith(f"{path}: ") for p in caught.value.problems), message


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ParseError) as caught:
        from_json(JindoRuntime, {"spec": {"replicas": "2", "worker": {"disabled": "no"}}})
    assert sorted(p.split(":")[0] for p in caught.value.problems) == ["spec.replicas", "spec.worker.disabled"]


def test_engines_register_their_kinds_through_entry_points() -> None:
    registry = Registry().discover()
    assert registry.get("AlluxioRuntime") == ALLUXIO
    assert registry.get("JindoRuntime") == JINDO
    assert (ALLUXIO.runtime_type, ALLUXIO.short_names, ALLUXIO.scale_selector) == ("alluxio", ("alluxio",), True)
    assert [c["name"] for c in ALLUXIO.extra_printer_columns] == ["API Gateway"]
    assert (JINDO.runtime_type, JINDO.short_names, JINDO.scale_selector) == ("jindo", ("jindo",), False)
    assert JINDO.extra_printer_columns == ()
    assert (ALLUXIO.plural, JINDO.plural) == ("alluxioruntimes", "jindoruntimes")
