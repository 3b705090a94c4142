"""The AlluxioRuntime kind: the reference's spec, field for field, on top of the shared runtime model.

Only the fields the reference documents are modelled; anything else a manifest carries is kept in
``extra`` and written back unchanged. Optional fields stay ``None`` when absent, so the defaults the
reference applies (grace period 60 s, 3 clean retries, metadata auto-sync on) are documented on the
field and resolved by the ``effective_*`` helpers, never written into the object.
"""

from __future__ import annotations

from typing import Any

import attrs

from lifecycle.api._model import extra_field, field
from lifecycle.api.dataset import User
from lifecycle.api.runtime import (
    NETWORK_MODES,
    CleanCachePolicy,
    FuseSpec,
    PodMetadata,
    Runtime,
    RuntimeSpec,
    VersionSpec,
)

KIND = "AlluxioRuntime"
DEFAULT_AUTO_SYNC = True


@attrs.define
class AlluxioCompTemplateSpec:
    """One Alluxio component: master, worker, job master, job worker or API gateway."""

    replicas: int | None = field(minimum=1, doc="Pods of this component; default 1.")
    image: str | None = field(doc="Image of this component; defaults to spec.alluxioVersion.image.")
    image_tag: str | None = field(doc="Image tag of this component; defaults to spec.alluxioVersion.imageTag.")
    jvm_options: list[str] | None = field(doc="JVM options of this component.")
    properties: dict[str, str] | None = field(doc="Alluxio properties for this component only.")
    ports: dict[str, int] | None = field(doc="Ports by name, e.g. rpc: 19998 for the master.")
    resources: dict[str, Any] | None = field(doc="A core/v1 ResourceRequirements.")
    env: dict[str, str] | None = field(doc="Environment variables, name to value.")
    enabled: bool | None = field(doc="Run this component; only the API gateway is switched, and it is off by default.")
    node_selector: dict[str, str] | None = field(doc="Node labels the pods must match.")
    network_mode: str | None = field(enum=NETWORK_MODES, doc="HostNetwork (default) or ContainerNetwork.")
    volume_mounts: list[dict[str, Any]] | None = field(doc="core/v1 VolumeMounts of volumes listed in spec.volumes.")
    pod_metadata: PodMetadata | None = field(doc="Labels and annotations for this component's pods.")
    image_pull_secrets: list[dict[str, Any]] | None = field(doc="core/v1 LocalObjectReferences to pull secrets.")
    extra: dict[str, Any] = extra_field()


@attrs.define
class AlluxioFuseSpec(FuseSpec):
    """The Alluxio FUSE client (a DaemonSet on the nodes that mount the dataset)."""

    image_pull_policy: str | None = field(doc="Always, IfNotPresent or Never.")
    image_pull_secrets: list[dict[str, Any]] | None = field(doc="core/v1 LocalObjectReferences to pull secrets.")
    jvm_options: list[str] | None = field(doc="JVM options of the fuse process.")
    global_: bool | None = field(json="global", doc="Run the fuse on every node matching nodeSelector.")
    network_mode: str | None = field(enum=NETWORK_MODES, doc="HostNetwork (default) or ContainerNetwork.")
    volume_mounts: list[dict[str, Any]] | None = field(doc="core/v1 VolumeMounts of volumes listed in spec.volumes.")
    pod_metadata: PodMetadata | None = field(doc="Labels and annotations for the fuse pods.")


@attrs.define
class InitUsersSpec:
    """The init container that creates the runAs user and group in the pods."""

    image: str | None = field()
    image_tag: str | None = field()
    image_pull_policy: str | None = field()
    env: dict[str, str] | None = field(doc="Environment variables, name to value.")
    resources: dict[str, Any] | None = field(doc="A core/v1 ResourceRequirements.")
    extra: dict[str, Any] = extra_field()


@attrs.define
class DataManagement:
    """How the cached data is kept (the reference's ``spec.data``)."""

    replicas: int | None = field(minimum=0, doc="Copies of each cached block.")
    pin: bool | None = field(doc="Pin the dataset in the cache.")
    extra: dict[str, Any] = extra_field()


@attrs.define
class MetadataSyncPolicy:
    auto_sync: bool | None = field(
        doc=f"Load the UFS metadata into the cache after setup; default {str(DEFAULT_AUTO_SYNC).lower()}."
    )
    extra: dict[str, Any] = extra_field()

    @property
    def effective_auto_sync(self) -> bool:
        return DEFAULT_AUTO_SYNC if self.auto_sync is None else self.auto_sync


@attrs.define
class RuntimeManagement:
    """Policies for managing the runtime: cache clean-up on deletion and metadata sync."""

    clean_cache_policy: CleanCachePolicy | None = field()
    metadata_sync_policy: MetadataSyncPolicy | None = field()
    extra: dict[str, Any] = extra_field()


@attrs.define
class AlluxioRuntimeSpec(RuntimeSpec):
    """What an AlluxioRuntime asks for; ``replicas`` (workers), ``tieredstore`` and ``fuse`` are shared."""

    fuse: AlluxioFuseSpec | None = field(doc="The FUSE client.")
    alluxio_version: VersionSpec | None = field(doc="Image of master, workers and (unless overridden) fuse.")
    master: AlluxioCompTemplateSpec | None = field()
    job_master: AlluxioCompTemplateSpec | None = field()
    worker: AlluxioCompTemplateSpec | None = field()
    job_worker: AlluxioCompTemplateSpec | None = field()
    api_gateway: AlluxioCompTemplateSpec | None = field(doc="The REST/S3 gateway; off unless enabled.")
    init_users: InitUsersSpec | None = field()
    properties: dict[str, str] | None = field(doc="Alluxio properties for every component.")
    jvm_options: list[str] | None = field(doc="JVM options for every component.")
    data: DataManagement | None = field()
    run_as: User | None = field(doc="User and group the Alluxio processes run as.")
    disable_prometheus: bool | None = field(doc="Turn off the metrics endpoint; on by default.")
    hadoop_config: str | None = field(doc="ConfigMap with core-site.xml and hdfs-site.xml for HDFS UFS.")
    volumes: list[dict[str, Any]] | None = field(doc="core/v1 Volumes the components and fuse may mount.")
    pod_metadata: PodMetadata | None = field(doc="Labels and annotations for every pod.")
    management: RuntimeManagement | None = field()
    image_pull_secrets: list[dict[str, Any]] | None = field(doc="core/v1 LocalObjectReferences to pull secrets.")

    @property
    def effective_clean_cache_policy(self) -> CleanCachePolicy:
        """``management.cleanCachePolicy`` with the defaults filled in (60 s grace, 3 retries)."""
        policy = self.management.clean_cache_policy if self.management else None
        return (policy or CleanCachePolicy()).with_defaults()

    @property
    def effective_auto_sync(self) -> bool:
        """``management.metadataSyncPolicy.autoSync``, true unless switched off."""
        policy = self.management.metadata_sync_policy if self.management else None
        return (policy or MetadataSyncPolicy()).effective_auto_sync

    @property
    def api_gateway_enabled(self) -> bool:
        return bool(self.api_gateway and self.api_gateway.enabled)


@attrs.define
class AlluxioRuntime(Runtime):
    KIND = KIND

    spec: AlluxioRuntimeSpec = field(factory=AlluxioRuntimeSpec)
    kind: str = field(default=KIND, required=True)
