"""The JindoRuntime kind: the reference's spec, field for field, on top of the shared runtime model.

Jindo differs from Alluxio where the reference does: the network mode is spelled ``networkmode``,
the cache clean policy sits at the top of the spec, and master and worker can be ``disabled``,
which leaves a fuse-only runtime that reads the UFS directly. Unknown keys are kept in ``extra``.
"""

from __future__ import annotations

from typing import Any

import attrs

from engines.cache.api import FUSE_DOC, VERSION_DOC, CacheFuseSpec, CacheRuntimeSpec, ComponentSpec
from lifecycle import NETWORK_MODES, CleanCachePolicy, Runtime, VersionSpec, field

KIND = "JindoRuntime"


@attrs.define
class JindoCompTemplateSpec(ComponentSpec):
    """The Jindo master or the Jindo workers."""

    tolerations: list[dict[str, Any]] | None = field(doc="core/v1 Tolerations of the pods.")
    labels: dict[str, str] | None = field(doc="Pod labels (deprecated by the reference: use podMetadata.labels).")
    disabled: bool | None = field(doc="Do not run this component; master and worker both disabled is fuse-only.")


@attrs.define
class JindoFuseSpec(CacheFuseSpec):
    """The Jindo FUSE client (a DaemonSet on the nodes that mount the dataset)."""

    tolerations: list[dict[str, Any]] | None = field(doc="core/v1 Tolerations of the fuse pods.")
    labels: dict[str, str] | None = field(doc="Pod labels (deprecated by the reference: use podMetadata.labels).")
    disabled: bool | None = field(doc="Do not run the fuse.")
    log_config: dict[str, str] | None = field(doc="Logging settings of the fuse.")
    metrics: dict[str, Any] | None = field(doc="Whether and where fuse metrics are exposed.")


@attrs.define
class JindoRuntimeSpec(CacheRuntimeSpec):
    """A JindoRuntime's spec, in the reference's order. Master and worker may be ``disabled``, which
    leaves a fuse-only runtime (fields common to runtimes are inherited)."""

    jindo_version: VersionSpec | None = field(doc=VERSION_DOC)
    master: JindoCompTemplateSpec | None = field()
    worker: JindoCompTemplateSpec | None = field()
    fuse: JindoFuseSpec | None = field(doc=FUSE_DOC)
    properties: dict[str, str] | None = field(doc="Jindo properties for every component.")
    user: str | None = field(doc="User name Jindo accesses the UFS as.")
    secret: str | None = field(doc="Secret with the UFS access keys.")
    labels: dict[str, str] | None = field(doc="Pod labels (deprecated by the reference: use podMetadata.labels).")
    log_config: dict[str, str] | None = field(doc="Logging settings of master and workers.")
    network_mode: str | None = field(
        json="networkmode", enum=NETWORK_MODES, doc="HostNetwork (default) or ContainerNetwork."
    )
    clean_cache_policy: CleanCachePolicy | None = field()

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
