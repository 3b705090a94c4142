"""The AlluxioRuntime kind: the reference's spec, field for field, on top of the shared runtime model.

Only the fields the reference documents are modelled; anything else a manifest carries is kept in
``extra`` and written back unchanged. Optional fields stay ``None`` when absent, so the defaults the
reference applies (grace period 60 s, 3 clean retries, metadata auto-sync on) are documented on the
field and resolved by the ``effective_*`` helpers, never written into the object.
"""

from __future__ import annotations

from typing import Any

import attrs

from engines.cache.api import (
    FUSE_DOC,
    RESOURCES,
    VERSION_DOC,
    VOLUME_MOUNTS,
    CacheFuseSpec,
    CacheRuntimeSpec,
    ComponentSpec,
)
from lifecycle import NETWORK_MODES, CleanCachePolicy, Runtime, VersionSpec, extra_field, field

KIND = "AlluxioRuntime"
DEFAULT_AUTO_SYNC = True


@attrs.define
class AlluxioCompTemplateSpec(ComponentSpec):
    """One Alluxio component: master, worker, job master, job worker or API gateway."""

    image: str | None = field(doc="Image of this component; defaults to spec.alluxioVersion.image.")
    image_tag: str | None = field(doc="Image tag of this component; defaults to spec.alluxioVersion.imageTag.")
    jvm_options: list[str] | None = field(doc="JVM options of this component.")
    enabled: bool | None = field(doc="Run this component; only the API gateway is switched, and it is off by default.")
    network_mode: str | None = field(enum=NETWORK_MODES, doc="HostNetwork (default) or ContainerNetwork.")


@attrs.define
class AlluxioFuseSpec(CacheFuseSpec):
    """The Alluxio FUSE client (a DaemonSet on the nodes that mount the dataset)."""

    jvm_options: list[str] | None = field(doc="JVM options of the fuse process.")
    network_mode: str | None = field(enum=NETWORK_MODES, doc="HostNetwork (default) or ContainerNetwork.")
    volume_mounts: list[dict[str, Any]] | None = field(doc=VOLUME_MOUNTS)


@attrs.define
class InitUsersSpec:
    """The init container that creates the runAs user and group in the pods."""

    image: str | None = field()
    image_tag: str | None = field()
    image_pull_policy: str | None = field()
    env: dict[str, str] | None = field(doc="Environment variables, name to value.")
    resources: dict[str, Any] | None = field(doc=RESOURCES)
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
class AlluxioRuntimeSpec(CacheRuntimeSpec):
    """An AlluxioRuntime's spec, in the reference's order: the Alluxio components, then how Alluxio
    is configured and managed (workers, tiers and fuse fields common to runtimes are inherited)."""

    alluxio_version: VersionSpec | None = field(doc=VERSION_DOC)
    master: AlluxioCompTemplateSpec | None = field()
    job_master: AlluxioCompTemplateSpec | None = field()
    worker: AlluxioCompTemplateSpec | None = field()
    job_worker: AlluxioCompTemplateSpec | None = field()
    api_gateway: AlluxioCompTemplateSpec | None = field(doc="The REST/S3 gateway; off unless enabled.")
    init_users: InitUsersSpec | None = field()
    fuse: AlluxioFuseSpec | None = field(doc=FUSE_DOC)
    properties: dict[str, str] | None = field(doc="Alluxio properties for every component.")
    jvm_options: list[str] | None = field(doc="JVM options for every component.")
    data: DataManagement | None = field()
    disable_prometheus: bool | None = field(doc="Turn off the metrics endpoint; on by default.")
    management: RuntimeManagement | None = field()

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
