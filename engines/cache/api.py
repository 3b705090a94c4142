"""What the API models of every cache runtime share: a component, the fuse, the runtime's spec.

Alluxio, Jindo and the reference's other cache runtimes spell these fields the same way; each
engine's models (``engines/<kind>/api.py``) add only what is its own. Unknown keys are kept in
``extra`` and written back unchanged, as everywhere in the API.
"""

from __future__ import annotations

from typing import Any

import attrs

from lifecycle import FuseSpec, PodMetadata, RuntimeSpec, User, extra_field, field

RESOURCES = "A core/v1 ResourceRequirements."
PULL_SECRETS = "core/v1 LocalObjectReferences to pull secrets."
VOLUME_MOUNTS = "core/v1 VolumeMounts of volumes listed in spec.volumes."
VERSION_DOC = "Image of master, workers and (unless overridden) fuse."
FUSE_DOC = "The FUSE client."


@attrs.define
class ComponentSpec:
    """One component of a cache runtime: its master, its workers, ..."""

    replicas: int | None = field(minimum=1, doc="Pods of this component; default 1.")
    properties: dict[str, str] | None = field(doc="Properties of the cache system for this component only.")
    ports: dict[str, int] | None = field(doc="Ports by name, e.g. rpc for the master.")
    resources: dict[str, Any] | None = field(doc=RESOURCES)
    env: dict[str, str] | None = field(doc="Environment variables, name to value.")
    node_selector: dict[str, str] | None = field(doc="Node labels the pods must match.")
    volume_mounts: list[dict[str, Any]] | None = field(doc=VOLUME_MOUNTS)
    pod_metadata: PodMetadata | None = field(doc="Labels and annotations for this component's pods.")
    image_pull_secrets: list[dict[str, Any]] | None = field(doc=PULL_SECRETS)
    extra: dict[str, Any] = extra_field()


@attrs.define
class CacheFuseSpec(FuseSpec):
    """The FUSE client of a cache runtime (a DaemonSet on the nodes that mount the dataset)."""

    image_pull_policy: str | None = field(doc="Always, IfNotPresent or Never.")
    image_pull_secrets: list[dict[str, Any]] | None = field(doc=PULL_SECRETS)
    global_: bool | None = field(json="global", doc="Run the fuse on every node matching nodeSelector.")
    pod_metadata: PodMetadata | None = field(doc="Labels and annotations for the fuse pods.")


@attrs.define
class CacheRuntimeSpec(RuntimeSpec):
    """The spec fields of every cache runtime, beside ``replicas``, ``tieredstore`` and ``fuse``."""

    properties: dict[str, str] | None = field(doc="Properties of the cache system for every component.")
    run_as: User | None = field(doc="User and group the cache processes run as.")
    hadoop_config: str | None = field(doc="ConfigMap with core-site.xml and hdfs-site.xml for HDFS UFS.")
    volumes: list[dict[str, Any]] | None = field(doc="core/v1 Volumes the components and fuse may mount.")
    pod_metadata: PodMetadata | None = field(doc="Labels and annotations for every pod.")
    image_pull_secrets: list[dict[str, Any]] | None = field(doc=PULL_SECRETS)
