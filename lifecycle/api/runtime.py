"""What every runtime kind shares: the RuntimeStatus, tiered storage and the generic spec.

Engines subclass ``RuntimeSpec`` and ``Runtime`` for their own kind (AlluxioRuntime, ...); the
lifecycle core only ever looks at the fields defined here.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from lifecycle.api._model import Rule, extra_field, field
from lifecycle.api.meta import API_VERSION, Condition, ObjectMeta

COMPONENT_PHASES = ("", "NotReady", "PartialReady", "Ready")
MEDIUM_TYPES = ("MEM", "SSD", "HDD")
VOLUME_TYPES = ("hostPath", "emptyDir")
CLEAN_POLICIES = ("OnDemand", "OnRuntimeDeleted")
NETWORK_MODES = ("HostNetwork", "ContainerNetwork", "")
DEFAULT_CLEAN_CACHE_GRACE_PERIOD_SECONDS = 60
DEFAULT_CLEAN_CACHE_MAX_RETRY_ATTEMPTS = 3
CONDITION_TYPES = (
    "MasterInitialized",
    "MasterReady",
    "WorkersInitialized",
    "WorkersReady",
    "WorkersScaledIn",
    "WorkersScaledOut",
    "FusesInitialized",
    "FusesReady",
    "FusesScaledIn",
    "FusesScaledOut",
)
# cacheStates keys, in the reference's order.
CACHE_STATE_KEYS = (
    "cached",
    "cacheCapacity",
    "cachedPercentage",
    "cacheHitRatio",
    "localHitRatio",
    "remoteHitRatio",
    "cacheThroughputRatio",
    "localThroughputRatio",
    "remoteThroughputRatio",
)


@attrs.define
class Level:
    """One tier of the cache store."""

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule("has(self.quota) || has(self.quotaList)", "a tier needs its size: set quota, e.g. quota: 2Gi"),
        Rule("self.mediumtype == 'MEM' || has(self.path)",
             "an SSD or HDD tier needs a path: set path to a local directory, e.g. /mnt/cache"),
    )

    mediumtype: str = field(json="mediumtype", required=True, enum=MEDIUM_TYPES)
    volume_type: str | None = field(enum=VOLUME_TYPES, doc="hostPath (default) or emptyDir.")
    path: str | None = field(doc="Comma-separated local paths of this tier.")
    quota: str | None = field(doc="Capacity of this tier, e.g. 2Gi.")
    quota_list: str | None = field(doc="Comma-separated quotas, one per path.")
    high: str | None = field(doc="High watermark ratio, e.g. 0.95.")
    low: str | None = field(doc="Low watermark ratio, e.g. 0.7.")
    extra: dict[str, Any] = extra_field()


@attrs.define
class TieredStore:
    levels: list[Level] | None = field(
        max_items=3, rules=(Rule("self.all(l, self.exists_one(m, m.mediumtype == l.mediumtype))",
                                 "two tiers have the same mediumtype; merge them into one level with several paths"),))
    extra: dict[str, Any] = extra_field()


@attrs.define
class FuseSpec:
    image: str | None = field()
    image_tag: str | None = field()
    node_selector: dict[str, str] | None = field()
    clean_policy: str | None = field(enum=CLEAN_POLICIES)
    args: list[str] | None = field()
    properties: dict[str, str] | None = field()
    env: dict[str, str] | None = field(doc="Environment variables of the fuse container, name to value.")
    resources: dict[str, Any] | None = field(doc="A core/v1 ResourceRequirements.")
    extra: dict[str, Any] = extra_field()


@attrs.define
class VersionSpec:
    """Which image a component runs (the reference's alluxioVersion, jindoVersion, ...)."""

    image: str | None = field(doc="Image without tag, e.g. alluxio/alluxio.")
    image_tag: str | None = field(doc="Image tag, e.g. 2.9.0.")
    image_pull_policy: str | None = field(doc="Always, IfNotPresent or Never.")
    extra: dict[str, Any] = extra_field()


@attrs.define
class PodMetadata:
    """Labels and annotations added to the pods of a component."""

    labels: dict[str, str] | None = field()
    annotations: dict[str, str] | None = field()
    extra: dict[str, Any] = extra_field()


@attrs.define
class CleanCachePolicy:
    """How long and how often the cache is cleaned when a runtime is deleted."""

    grace_period_seconds: int | None = field(
        minimum=0,
        doc=f"Seconds a cache clean may take before it is cut off; default "
        f"{DEFAULT_CLEAN_CACHE_GRACE_PERIOD_SECONDS}, 0 means at once.",
    )
    max_retry_attempts: int | None = field(
        minimum=0,
        doc=f"Retries of a failed cache clean before deletion goes on; default "
        f"{DEFAULT_CLEAN_CACHE_MAX_RETRY_ATTEMPTS}.",
    )
    extra: dict[str, Any] = extra_field()

    def with_defaults(self) -> CleanCachePolicy:
        """This policy with every unset field at the reference's default."""
        return attrs.evolve(
            self,
            grace_period_seconds=self.effective_grace_period_seconds,
            max_retry_attempts=self.effective_max_retry_attempts,
        )

    @property
    def effective_grace_period_seconds(self) -> int:
        if self.grace_period_seconds is None:
            return DEFAULT_CLEAN_CACHE_GRACE_PERIOD_SECONDS
        return self.grace_period_seconds

    @property
    def effective_max_retry_attempts(self) -> int:
        if self.max_retry_attempts is None:
            return DEFAULT_CLEAN_CACHE_MAX_RETRY_ATTEMPTS
        return self.max_retry_attempts


@attrs.define
class RuntimeSpec:
    """Fields every runtime kind has; engines add their own in a subclass."""

    replicas: int | None = field(minimum=0, doc="Desired number of cache workers.")
    tieredstore: TieredStore | None = field(json="tieredstore")
    fuse: FuseSpec | None = field()
    extra: dict[str, Any] = extra_field()


@attrs.define
class LifecycleStatus:
    """Where the runtime's lifecycle machine stands; restored from here at every reconcile."""

    state: str = field(required=True, doc="State of the runtime lifecycle machine.")
    reason: str | None = field(doc="Why it is not moving on: what it waits for, or the failed hook.")
    message: str | None = field(doc="Details of the reason, naming the object and the fix.")
    attempts: int | None = field(minimum=0, doc="Consecutive failed attempts in this state.")
    extra: dict[str, Any] = extra_field()


@attrs.define
class APIGatewayStatus:
    endpoint: str | None = field()
    extra: dict[str, Any] = extra_field()


@attrs.define
class RuntimeStatus:
    """The status shared by all runtime kinds. Required fields are always written."""

    value_file: str = field(default="", required=True)
    master_phase: str = field(default="", required=True, enum=COMPONENT_PHASES)
    master_reason: str | None = field()
    worker_phase: str = field(default="", required=True, enum=COMPONENT_PHASES)
    worker_reason: str | None = field()
    fuse_phase: str = field(default="", required=True, enum=COMPONENT_PHASES)
    fuse_reason: str | None = field()
    desired_master_number_scheduled: int = field(default=0, required=True)
    current_master_number_scheduled: int = field(default=0, required=True)
    master_number_ready: int = field(default=0, required=True)
    desired_worker_number_scheduled: int = field(default=0, required=True)
    current_worker_number_scheduled: int = field(default=0, required=True)
    worker_number_ready: int = field(default=0, required=True)
    worker_number_available: int | None = field()
    worker_number_unavailable: int | None = field()
    desired_fuse_number_scheduled: int = field(default=0, required=True)
    current_fuse_number_scheduled: int = field(default=0, required=True)
    fuse_number_ready: int = field(default=0, required=True)
    fuse_number_available: int | None = field()
    fuse_number_unavailable: int | None = field()
    setup_duration: str | None = field(doc="Time from creation to first ready, e.g. 2m30s.")
    conditions: list[Condition] | None = field()
    cache_states: dict[str, str] | None = field()
    selector: str | None = field(doc="Label selector of the workers (scale subresource).")
    api_gateway: APIGatewayStatus | None = field()
    mount_time: str | None = field(fmt="date-time", doc="When the UFS were last mounted.")
    mounts: list[dict[str, Any]] | None = field()
    mount_secret_versions: dict[str, str] | None = field(
        doc="resourceVersion of each Secret the mounts were made with; a changed Secret remounts them.")
    cache_affinity: dict[str, Any] | None = field()
    lifecycle: LifecycleStatus | None = field()
    extra: dict[str, Any] = extra_field()


@attrs.define
class Runtime:
    """A runtime object; ``kind``-specific subclasses narrow ``spec``."""

    # The kind this class models, e.g. "AlluxioRuntime"; set by each engine's subclass.
    KIND: ClassVar[str] = ""

    metadata: ObjectMeta = field(factory=ObjectMeta)
    spec: RuntimeSpec = field(factory=RuntimeSpec)
    status: RuntimeStatus | None = field()
    api_version: str = field(default=API_VERSION, required=True)
    kind: str = field(default="", required=True)
    extra: dict[str, Any] = extra_field()

    @property
    def key(self) -> str:
        return f"{self.metadata.namespace}/{self.metadata.name}"

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.key}"
