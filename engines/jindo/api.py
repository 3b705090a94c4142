"""The JindoRuntime kind: the reference's spec, field for field, on top of the shared runtime model.

Jindo differs from Alluxio where the reference does: the network mode is spelled ``networkmode``,
the cache clean policy sits at the top of the spec, and master and worker can be ``disabled``,
which leaves a fuse-only runtime that reads the UFS directly. Unknown keys are kept in ``extra``.
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

KIND = "JindoRuntime"


@attrs.define
class JindoCompTemplateSpec:
    """The Jindo master or the Jindo workers."""

    replicas: int | None = field(minimum=1, doc="Pods of this component; default 1.")
    properties: dict[str, str] | None = field(doc="Jindo properties for this component only.")
    ports: dict[str, int] | None = field(doc="Ports by name.")
    resources: dict[str, Any] | None = field(doc="A core/v1 ResourceRequirements.")
    env: dict[str, str] | None = field(doc="Environment variables, name to value.")
    node_selector: dict[str, str] | None = field(doc="Node labels the pods must match.")
    tolerations: list[dict[str, Any]] | None = field(doc="core/v1 Tolerations of the pods.")
    labels: dict[str, str] | None = field(doc="Pod labels (deprecated by the reference: use podMetadata.labels).")
    pod_metadata: PodMetadata | None = field(doc="Labels and annotations for this component's pods.")
    disabled: bool | None = field(doc="Do not run this component; master and worker both disabled is fuse-only.")
    volume_mounts: list[dict[str, Any]] | None = field(doc="core/v1 VolumeMounts of volumes listed in spec.volumes.")
    image_pull_secrets: list[dict[str, Any]] | None = field(doc="core/v1 LocalObjectReferences to pull secrets.")
    extra: dict[str, Any] = extra_field()


@attrs.define
class JindoFuseSpec(FuseSpec):
    """The Jindo FUSE client (a DaemonSet on the nodes that mount the dataset)."""

    image_pull_policy: str | None = field(doc="Always, IfNotPresent or Never.")
    image_pull_secrets: list[dict[str, Any]] | None = field(doc="core/v1 LocalObjectReferences to pull secrets.")
    global_: bool | None = field(json="global", doc="Run the fuse on every node matching nodeSelector.")
    tolerations: list[dict[str, Any]] | None = field(doc="core/v1 Tolerations of the fuse pods.")
    labels: dict[str, str] | None = field(doc="Pod labels (deprecated by the reference: use podMetadata.labels).")
    pod_metadata: PodMetadata | None = field(doc="Labels and annotations for the fuse pods.")
    disabled: bool | None = field(doc="Do not run the fuse.")
    log_config: dict[str, str] | None = field(doc="Logging settings of the fuse.")
    metrics: dict[str, Any] | None = field(doc="Whether and where fuse metrics are exposed.")


@attrs.define
class JindoRuntimeSpec(RuntimeSpec):
    """What a JindoRuntime asks for; ``replicas`` (workers), ``tieredstore`` and ``fuse`` are shared."""

    fuse: JindoFuseSpec | None = field(doc="The FUSE client.")
    jindo_version: VersionSpec | None = field(doc="Image of master, workers and (unless overridden) fuse.")
    master: JindoCompTemplateSpec | None = field()
    worker: JindoCompTemplateSpec | None = field()
    properties: dict[str, str] | None = field(doc="Jindo properties for every component.")
    run_as: User | None = field(doc="User and group the Jindo processes run as.")
    user: str | None = field(doc="User name Jindo accesses the UFS as.")
    hadoop_config: str | None = field(doc="ConfigMap with core-site.xml and hdfs-site.xml for HDFS UFS.")
    secret: str | None = field(doc="Secret with the UFS access keys.")
    labels: dict[str, str] | None = field(doc="Pod labels (deprecated by the reference: use podMetadata.labels).")
    pod_metadata: PodMetadata | None = field(doc="Labels and annotations for every pod.")
    log_config: dict[str, str] | None = field(doc="Logging settings of master and workers.")
    network_mode: str | None = field(
        json="networkmode", enum=NETWORK_MODES, doc="HostNetwork (default) or ContainerNetwork."
    )
    clean_cache_policy: CleanCachePolicy | None = field()
    volumes: list[dict[str, Any]] | None = field(doc="core/v1 Volumes the components and fuse may mount.")
    image_pull_secrets: list[dict[str, Any]] | None = field(doc="core/v1 LocalObjectReferences to pull secrets.")

    @property
    def effective_clean_cache_policy(self) -> CleanCachePolicy:
        """``cleanCachePolicy`` with the defaults filled in (60 s grace, 3 retries)."""
        return (self.clean_cache_policy or CleanCachePolicy()).with_defaults()

    @property
    def master_disabled(self) -> bool:
        return bool(self.master and self.master.disabled)

    @property
    def worker_disabled(self) -> bool:
        return bool(self.worker and self.worker.disabled)

    @property
    def fuse_only(self) -> bool:
        """Master and workers disabled: the fuse reads the UFS directly and nothing is cached."""
        return self.master_disabled and self.worker_disabled


@attrs.define
class JindoRuntime(Runtime):
    KIND = KIND

    spec: JindoRuntimeSpec = field(factory=JindoRuntimeSpec)
    kind: str = field(default=KIND, required=True)
