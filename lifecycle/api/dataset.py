"""The Dataset kind of ``data.fluid.io/v1alpha1``, field for field as the reference names them."""

from __future__ import annotations

from typing import Any

import attrs

from lifecycle.api._model import Rule, extra_field, field, to_json
from lifecycle.api.meta import API_VERSION, Condition, ObjectMeta

KIND = "Dataset"

# Phases written to .status.phase (the reference also declares "Pending" but never sets it).
PHASES = ("", "NotBound", "Bound", "Failed", "Updating", "DataMigrating", "Pending")
PLACEMENTS = ("Exclusive", "Shared", "")
ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
CAPACITY_ANNOTATION = "pvc.fluid.io/resources.requests.storage"
DEFAULT_CAPACITY = "100Pi"
FINALIZER = "fluid-dataset-controller-finalizer"


@attrs.define
class SecretKeySelector:
    name: str = field(required=True, doc="Secret in the Dataset's namespace.")
    key: str | None = field(doc="Key in the Secret's data.")
    extra: dict[str, Any] = extra_field()


@attrs.define
class EncryptOptionSource:
    secret_key_ref: SecretKeySelector | None = field()
    extra: dict[str, Any] = extra_field()


@attrs.define
class EncryptOption:
    name: str = field(required=True, doc="Option name passed to the cache system.")
    value_from: EncryptOptionSource | None = field(doc="Where the secret value is read from.")
    extra: dict[str, Any] = extra_field()


# CEL cannot see a control character written as one, so the rule spells the range out.
NO_CONTROL = Rule("!self.matches('[\\x00-\\x1f\\x7f]')",
                  "must not contain control characters such as line breaks; remove them")


@attrs.define
class Mount:
    mount_point: str = field(
        required=True,
        min_length=5,
        fix="give a full URI such as s3://bucket/path",
        max_length=4096,
        rules=(NO_CONTROL,),
        doc="UFS URI (s3://, oss://, hdfs://, ...), local://, pvc://, http(s):// or dataset://.",
    )
    name: str | None = field(max_length=253, rules=(NO_CONTROL,), doc="Mount name; the default path is /<name>.")
    path: str | None = field(
        max_length=4096,
        rules=(NO_CONTROL, Rule("!self.split('/').exists(s, s == '..')",
                                "must not contain '..'; give the path inside the cache, e.g. /train")),
        doc="Path in the cache namespace; defaults to /<name>; an empty string means unset.")
    options: dict[str, str] | None = field(doc="Options passed to the cache system for this mount.")
    encrypt_options: list[EncryptOption] | None = field(doc="Options whose values come from Secrets.")
    read_only: bool | None = field()
    shared: bool | None = field()
    extra: dict[str, Any] = extra_field()

    @property
    def effective_path(self) -> str:
        """Where the mount is in the cache: ``path`` normalised (``/train/`` is ``/train``), else
        ``/<name>``; an empty ``path`` is unset, as the reference treats it."""
        return normal_path(self.path or f"/{self.name or ''}")


def normal_path(path: str) -> str:
    """``/a//b/`` -> ``/a/b``; ``/`` stays."""
    parts = [p for p in path.split("/") if p and p != "."]
    return "/" + "/".join(parts)


@attrs.define
class User:
    uid: int | None = field()
    gid: int | None = field()
    user: str | None = field()
    group: str | None = field()
    extra: dict[str, Any] = extra_field()


@attrs.define
class DatasetNodeAffinity:
    required: dict[str, Any] | None = field(doc="A core/v1 NodeSelector the cache workers must satisfy.")
    extra: dict[str, Any] = extra_field()


@attrs.define
class DataRestoreLocation:
    path: str | None = field()
    node_name: str | None = field()
    extra: dict[str, Any] = extra_field()


@attrs.define
class DatasetSpec:
    mounts: list[Mount] | None = field(
        min_items=1, max_items=64, fix="add at least one mount and at most 64, e.g. - mountPoint: s3://bucket/path",
        rules=(Rule("self.all(m, !has(m.name) || m.name == '' || self.exists_one(n, has(n.name) && n.name == m.name))",
                    "two mounts have the same name; give every mount a unique name"),),
        doc="The under file systems this dataset caches.")
    owner: User | None = field()
    node_affinity: DatasetNodeAffinity | None = field()
    tolerations: list[dict[str, Any]] | None = field()
    access_modes: list[str] | None = field(enum=ACCESS_MODES, doc="PV/PVC access modes; default [ReadOnlyMany].")
    runtimes: list[dict[str, Any]] | None = field()
    placement: str | None = field(enum=PLACEMENTS, fix="use Exclusive or Shared",
                                  doc="Exclusive (default) or Shared cache nodes.")
    data_restore_location: DataRestoreLocation | None = field()
    shared_options: dict[str, str] | None = field(doc="Options applied to every mount.")
    shared_encrypt_options: list[EncryptOption] | None = field()
    extra: dict[str, Any] = extra_field()

    @property
    def effective_placement(self) -> str:
        return self.placement or "Exclusive"

    @property
    def effective_access_modes(self) -> list[str]:
        return list(self.access_modes or ["ReadOnlyMany"])


@attrs.define
class HCFSStatus:
    endpoint: str | None = field()
    underlayer_file_system_version: str | None = field()
    extra: dict[str, Any] = extra_field()


@attrs.define
class RuntimeInfo:
    """One entry of ``status.runtimes``: which runtime serves the dataset."""

    name: str | None = field()
    namespace: str | None = field()
    category: str | None = field()
    type: str | None = field()
    master_replicas: int | None = field()
    extra: dict[str, Any] = extra_field()


@attrs.define
class DatasetStatus:
    phase: str | None = field(enum=PHASES)
    conditions: list[Condition] = field(factory=list, required=True)
    cache_states: dict[str, str] | None = field()
    ufs_total: str | None = field()
    file_num: str | None = field()
    runtimes: list[RuntimeInfo] | None = field()
    hcfs: HCFSStatus | None = field()
    mounts: list[Mount] | None = field()
    operation_ref: dict[str, str] | None = field()
    dataset_ref: list[str] | None = field()
    extra: dict[str, Any] = extra_field()


@attrs.define
class Dataset:
    metadata: ObjectMeta = field(factory=ObjectMeta)
    spec: DatasetSpec = field(factory=DatasetSpec)
    status: DatasetStatus | None = field()
    api_version: str = field(default=API_VERSION, required=True)
    kind: str = field(default=KIND, required=True)
    extra: dict[str, Any] = extra_field()

    @property
    def key(self) -> str:
        return f"{self.metadata.namespace}/{self.metadata.name}"

    @property
    def ref(self) -> str:
        return f"{KIND} {self.key}"

    def mounts_behind(self) -> bool:
        """The mounts last applied (``status.mounts``) are not the spec's; False before any were."""
        applied = self.status.mounts if self.status is not None else None
        if applied is None:
            return False
        return [to_json(m) for m in applied] != [to_json(m) for m in self.spec.mounts or []]
