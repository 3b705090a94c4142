"""The four data operations of ``data.fluid.io/v1alpha1``, field for field as the reference names them.

DataLoad warms the cache with ``target`` paths, DataBackup saves the cache master's metadata to a
path or PVC, DataMigrate copies between a Dataset and external storage, and DataProcess runs a
user's script or container against the Dataset's volume. Pod-shaped fields (affinity, tolerations,
resources, a processor's pod spec) are kept as the Kubernetes objects they are, unmodelled.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from lifecycle.api._model import extra_field, field
from lifecycle.api.dataset import NO_CONTROL, EncryptOption, User
from lifecycle.api.meta import API_VERSION, ObjectMeta
from lifecycle.api.operation import POLICIES, SCHEDULE_RULE, Operation, OperationRef, OperationStatus, TargetDataset
from lifecycle.api.runtime import PodMetadata

_POLICY_DOC = "Once (default), Cron (runs at every tick of schedule) or OnEvent (again when the Dataset changes)."
_TTL_DOC = "Seconds after it finished (Complete or Failed) that the operation is deleted."


def _policy() -> Any:
    return field(enum=POLICIES, fix="use Once, Cron or OnEvent", doc=_POLICY_DOC)


def _schedule() -> Any:
    return field(max_length=256, rules=(NO_CONTROL,), doc="Cron schedule (five fields), for policy Cron.")


def _ttl() -> Any:
    return field(minimum=0, doc=_TTL_DOC)


# -- DataLoad ---------------------------------------------------------------------------------


@attrs.define
class TargetPath:
    path: str = field(required=True, min_length=1, max_length=4096, rules=(NO_CONTROL,),
                      doc="Path in the cache to load, e.g. /train/part-0.")
    replicas: int | None = field(minimum=0, doc="How many cache replicas of it to load.")
    extra: dict[str, Any] = extra_field()


@attrs.define
class DataLoadSpec:
    RULES: ClassVar[tuple[Any, ...]] = (SCHEDULE_RULE,)

    dataset: TargetDataset | None = field(doc="The Dataset whose cache is loaded.")
    load_metadata: bool | None = field(doc="Load the metadata of the paths first.")
    target: list[TargetPath] | None = field(max_items=1024, doc="Paths to load; the whole Dataset when empty.")
    options: dict[str, str] | None = field(doc="Options of the runtime's load command.")
    pod_metadata: PodMetadata | None = field()
    affinity: dict[str, Any] | None = field()
    tolerations: list[dict[str, Any]] | None = field()
    node_selector: dict[str, str] | None = field()
    scheduler_name: str | None = field()
    resources: dict[str, Any] | None = field()
    image_pull_secrets: list[dict[str, Any]] | None = field()
    policy: str | None = _policy()
    schedule: str | None = _schedule()
    run_after: OperationRef | None = field(doc="The operation that must complete before this one starts.")
    ttl_seconds_after_finished: int | None = _ttl()
    extra: dict[str, Any] = extra_field()


@attrs.define
class DataLoad(Operation):
    KIND: ClassVar[str] = "DataLoad"
    SHORT_NAME: ClassVar[str] = "load"
    PLURAL: ClassVar[str] = "dataloads"

    metadata: ObjectMeta = field(factory=ObjectMeta)
    spec: DataLoadSpec = field(factory=DataLoadSpec)
    status: OperationStatus | None = field()
    api_version: str = field(default=API_VERSION, required=True)
    kind: str = field(default="DataLoad", required=True)
    extra: dict[str, Any] = extra_field()

    @property
    def dataset_name(self) -> str | None:
        return self.spec.dataset.name if self.spec.dataset else None

    @property
    def dataset_namespace(self) -> str | None:
        return self.spec.dataset.namespace if self.spec.dataset else None

    @property
    def policy(self) -> str:
        return self.spec.policy or "Once"

    @property
    def schedule(self) -> str | None:
        return self.spec.schedule


# -- DataBackup -------------------------------------------------------------------------------


@attrs.define
class DataBackupSpec:
    dataset: str | None = field(max_length=253, doc="Name of the Dataset (in the backup's namespace).")
    backup_path: str | None = field(max_length=4096, rules=(NO_CONTROL,),
                                    doc="Where the backup goes: pvc://<claim>/<path> or local:///<path>.")
    run_as: User | None = field()
    run_after: OperationRef | None = field(doc="The operation that must complete before this one starts.")
    ttl_seconds_after_finished: int | None = _ttl()
    extra: dict[str, Any] = extra_field()

    @property
    def claim(self) -> tuple[str, str] | None:
        """A ``pvc://<claim>/<path>`` backup path as (claim, path inside it); None for any other."""
        if not self.backup_path or not self.backup_path.startswith("pvc://"):
            return None
        claim, _, inside = self.backup_path.removeprefix("pvc://").partition("/")
        return claim, inside


@attrs.define
class DataBackup(Operation):
    KIND: ClassVar[str] = "DataBackup"
    SHORT_NAME: ClassVar[str] = "backup"
    PLURAL: ClassVar[str] = "databackups"

    metadata: ObjectMeta = field(factory=ObjectMeta)
    spec: DataBackupSpec = field(factory=DataBackupSpec)
    status: OperationStatus | None = field()
    api_version: str = field(default=API_VERSION, required=True)
    kind: str = field(default="DataBackup", required=True)
    extra: dict[str, Any] = extra_field()

    @property
    def dataset_name(self) -> str | None:
        return self.spec.dataset


# -- DataMigrate ------------------------------------------------------------------------------


@attrs.define
class DatasetToMigrate:
    name: str = field(required=True, min_length=1, max_length=253)
    namespace: str | None = field()
    path: str | None = field(max_length=4096, rules=(NO_CONTROL,), doc="Path inside the Dataset; / by default.")
    extra: dict[str, Any] = extra_field()


@attrs.define
class ExternalStorage:
    uri: str = field(required=True, min_length=5, max_length=4096, rules=(NO_CONTROL,),
                     doc="Storage outside the Dataset, e.g. s3://bucket/path.")
    encrypt_options: list[EncryptOption] | None = field()
    extra: dict[str, Any] = extra_field()


@attrs.define
class DataToMigrate:
    dataset: DatasetToMigrate | None = field()
    external_storage: ExternalStorage | None = field()
    extra: dict[str, Any] = extra_field()


@attrs.define
class DataMigrateSpec:
    RULES: ClassVar[tuple[Any, ...]] = (SCHEDULE_RULE,)

    from_: DataToMigrate | None = field(json="from", doc="Where the data comes from: a Dataset or external storage.")
    to: DataToMigrate | None = field(doc="Where it goes: a Dataset or external storage.")
    options: dict[str, str] | None = field()
    policy: str | None = _policy()
    schedule: str | None = _schedule()
    block: bool | None = field(doc="Whether the Dataset is held (DataMigrating) while the copy runs.")
    runtime_type: str | None = field()
    image: str | None = field()
    image_tag: str | None = field()
    image_pull_policy: str | None = field()
    pod_metadata: PodMetadata | None = field()
    affinity: dict[str, Any] | None = field()
    tolerations: list[dict[str, Any]] | None = field()
    node_selector: dict[str, str] | None = field()
    scheduler_name: str | None = field()
    resources: dict[str, Any] | None = field()
    parallelism: int | None = field(minimum=1)
    parallel_options: dict[str, str] | None = field()
    run_after: OperationRef | None = field(doc="The operation that must complete before this one starts.")
    ttl_seconds_after_finished: int | None = _ttl()
    extra: dict[str, Any] = extra_field()


@attrs.define
class DataMigrate(Operation):
    KIND: ClassVar[str] = "DataMigrate"
    SHORT_NAME: ClassVar[str] = "migrate"
    PLURAL: ClassVar[str] = "datamigrates"

    metadata: ObjectMeta = field(factory=ObjectMeta)
    spec: DataMigrateSpec = field(factory=DataMigrateSpec)
    status: OperationStatus | None = field()
    api_version: str = field(default=API_VERSION, required=True)
    kind: str = field(default="DataMigrate", required=True)
    extra: dict[str, Any] = extra_field()

    @property
    def side(self) -> DatasetToMigrate | None:
        """The Dataset end of the migration (the target when both ends are Datasets)."""
        for end in (self.spec.to, self.spec.from_):
            if end is not None and end.dataset is not None:
                return end.dataset
        return None

    @property
    def dataset_name(self) -> str | None:
        return self.side.name if self.side else None

    @property
    def dataset_namespace(self) -> str | None:
        return self.side.namespace if self.side else None

    @property
    def policy(self) -> str:
        return self.spec.policy or "Once"

    @property
    def schedule(self) -> str | None:
        return self.spec.schedule


# -- DataProcess ------------------------------------------------------------------------------


@attrs.define
class TargetDatasetWithMountPath:
    name: str = field(required=True, min_length=1, max_length=253)
    namespace: str | None = field()
    mount_path: str = field(required=True, min_length=1, max_length=4096, rules=(NO_CONTROL,),
                            doc="Where the Dataset is mounted in the processor's containers.")
    sub_path: str | None = field(max_length=4096, rules=(NO_CONTROL,))
    extra: dict[str, Any] = extra_field()


@attrs.define
class ScriptProcessor:
    image: str | None = field()
    image_tag: str | None = field()
    image_pull_policy: str | None = field()
    restart_policy: str | None = field(enum=("Never", "OnFailure"))
    command: list[str] | None = field(doc="The interpreter, e.g. [bash, -c].")
    source: str | None = field(doc="The script, passed to the command.")
    env: list[dict[str, Any]] | None = field()
    volume_mounts: list[dict[str, Any]] | None = field()
    volumes: list[dict[str, Any]] | None = field()
    resources: dict[str, Any] | None = field()
    extra: dict[str, Any] = extra_field()


@attrs.define
class JobProcessor:
    pod_spec: dict[str, Any] | None = field(doc="A core/v1 PodSpec run as the processor.")
    extra: dict[str, Any] = extra_field()


@attrs.define
class Processor:
    service_account_name: str | None = field()
    pod_metadata: PodMetadata | None = field()
    job: JobProcessor | None = field()
    script: ScriptProcessor | None = field()
    extra: dict[str, Any] = extra_field()


@attrs.define
class DataProcessSpec:
    dataset: TargetDatasetWithMountPath | None = field()
    processor: Processor | None = field()
    run_after: OperationRef | None = field(doc="The operation that must complete before this one starts.")
    ttl_seconds_after_finished: int | None = _ttl()
    extra: dict[str, Any] = extra_field()


@attrs.define
class DataProcess(Operation):
    KIND: ClassVar[str] = "DataProcess"
    SHORT_NAME: ClassVar[str] = "process"
    PLURAL: ClassVar[str] = "dataprocesses"

    metadata: ObjectMeta = field(factory=ObjectMeta)
    spec: DataProcessSpec = field(factory=DataProcessSpec)
    status: OperationStatus | None = field()
    api_version: str = field(default=API_VERSION, required=True)
    kind: str = field(default="DataProcess", required=True)
    extra: dict[str, Any] = extra_field()

    @property
    def dataset_name(self) -> str | None:
        return self.spec.dataset.name if self.spec.dataset else None

    @property
    def dataset_namespace(self) -> str | None:
        return self.spec.dataset.namespace if self.spec.dataset else None


OPERATION_MODELS: tuple[type[DataLoad] | type[DataBackup] | type[DataMigrate] | type[DataProcess], ...] = (
    DataLoad, DataBackup, DataMigrate, DataProcess)
MODEL_OF: dict[str, type[Operation]] = {m.KIND: m for m in OPERATION_MODELS}


__all__ = ["MODEL_OF", "OPERATION_MODELS", "DataBackup", "DataLoad", "DataMigrate", "DataProcess", "TargetPath"]
