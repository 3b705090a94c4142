"""Spec checks whose errors name the object, the field and the fix.

The CRD schema already rejects wrong types and enum values at the API server; these checks cover
what a schema cannot say (schemes, duplicates, cross-field rules) and also run in the operator,
so a bad object gets a clear event and condition instead of a crash or a silent stall.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs

from lifecycle.api.dataset import ACCESS_MODES, CAPACITY_ANNOTATION, PLACEMENTS, Dataset, Mount
from lifecycle.api.runtime import CLEAN_POLICIES, MEDIUM_TYPES, VOLUME_TYPES, Runtime
from lifecycle.api.units import is_quantity

DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# Native schemes name where the data is (a node path, a PVC, another dataset, a web server);
# the others are under file systems the cache tool mounts itself.
NATIVE_SCHEMES = ("local", "pvc", "http", "https", "dataset")
UFS_SCHEMES = (
    "s3", "s3a", "oss", "hdfs", "cos", "cosn", "obs", "gs", "gcs", "wasb", "wasbs", "abfs", "abfss",
    "alluxio", "jfs", "cephfs", "ftp", "sftp", "nfs", "minio", "bos", "ks3", "tos",
)
KNOWN_SCHEMES = (*UFS_SCHEMES, *NATIVE_SCHEMES)
MIN_MOUNT_POINT = 5


@attrs.frozen
class FieldError:
    path: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}; {self.fix}"


class InvalidSpec(ValueError):
    """Raised with every problem of one object at once, so a user fixes them in one go."""

    def __init__(self, ref: str, errors: Iterable[FieldError]):
        self.ref = ref
        self.errors = list(errors)
        super().__init__(f"{ref}: " + "; ".join(str(e) for e in self.errors))


def scheme_of(mount_point: str) -> str | None:
    head, sep, _ = mount_point.partition("://")
    return head.lower() if sep else None


def _check_name(name: str | None, errors: list[FieldError]) -> None:
    if not name or len(name) > 63 or not DNS1035.match(name):
        errors.append(FieldError(
            "metadata.name", f"{name!r} is not a DNS-1035 label",
            "use at most 63 lower-case letters, digits and '-', starting with a letter "
            "and ending with a letter or digit",
        ))


def dataset_errors(ds: Dataset) -> list[FieldError]:
    errors: list[FieldError] = []
    _check_name(ds.metadata.name, errors)
    mounts = ds.spec.mounts or []
    names: dict[str, int] = {}
    paths: dict[str, int] = {}
    for i, mount in enumerate(mounts):
        errors += _mount_errors(f"spec.mounts[{i}]", mount, len(mounts))
        if mount.name:
            if mount.name in names:
                errors.append(FieldError(f"spec.mounts[{i}].name", f"{mount.name!r} is also used by spec.mounts"
                                         f"[{names[mount.name]}]", "give every mount a unique name"))
            names.setdefault(mount.name, i)
        path = mount.effective_path
        if path in paths and (mount.name or mount.path):
            errors.append(FieldError(f"spec.mounts[{i}].path", f"{path!r} is also used by spec.mounts[{paths[path]}]",
                                     "give every mount a unique path"))
        paths.setdefault(path, i)
    errors += _dataset_field_errors(ds)
    return errors


def _mount_errors(at: str, mount: Mount, count: int) -> list[FieldError]:
    """What is wrong with one mount on its own (``count``: how many mounts the Dataset has)."""
    errors = []
    point = mount.mount_point or ""
    scheme = scheme_of(point)
    if len(point) < MIN_MOUNT_POINT:
        errors.append(FieldError(f"{at}.mountPoint", f"{point!r} is shorter than {MIN_MOUNT_POINT}",
                                 "give a full URI such as s3://bucket/path"))
    elif scheme not in KNOWN_SCHEMES:
        errors.append(FieldError(f"{at}.mountPoint", f"{point!r} has an unknown scheme",
                                 "use one of " + ", ".join(f"{s}://" for s in KNOWN_SCHEMES)))
    elif scheme == "dataset" and count > 1:
        errors.append(FieldError(f"{at}.mountPoint", "a dataset:// mount must be the only mount",
                                 "move the other mounts to the referenced dataset"))
    if mount.path is not None and not mount.path.startswith("/"):
        errors.append(FieldError(f"{at}.path", f"{mount.path!r} is not absolute", "start the path with '/'"))
    if not mount.name and not mount.path and count > 1:
        errors.append(FieldError(f"{at}.name", "a mount without name or path would sit at '/'",
                                 "give each mount a name or a path"))
    for j, opt in enumerate(mount.encrypt_options or []):
        ref = opt.value_from.secret_key_ref if opt.value_from else None
        if ref is None or not ref.name:
            errors.append(FieldError(f"{at}.encryptOptions[{j}].valueFrom.secretKeyRef", "no Secret is named",
                                     "set valueFrom.secretKeyRef.name and key"))
    return errors


def _dataset_field_errors(ds: Dataset) -> list[FieldError]:
    errors = []
    if ds.spec.placement not in (None, *PLACEMENTS):
        errors.append(FieldError("spec.placement", f"{ds.spec.placement!r} is not a placement",
                                 "use Exclusive or Shared"))
    for i, mode in enumerate(ds.spec.access_modes or []):
        if mode not in ACCESS_MODES:
            errors.append(FieldError(f"spec.accessModes[{i}]", f"{mode!r} is not an access mode",
                                     "use one of " + ", ".join(ACCESS_MODES)))
    capacity = (ds.metadata.annotations or {}).get(CAPACITY_ANNOTATION)
    if capacity is not None and not is_quantity(capacity):
        errors.append(FieldError(f"metadata.annotations[{CAPACITY_ANNOTATION}]",
                                 f"{capacity!r} is not a quantity", "use a size such as 100Gi"))
    return errors


def runtime_errors(rt: Runtime) -> list[FieldError]:
    errors: list[FieldError] = []
    _check_name(rt.metadata.name, errors)
    spec = rt.spec
    if spec.replicas is not None and spec.replicas < 0:
        errors.append(FieldError("spec.replicas", f"{spec.replicas} is negative",
                                 "use 0 or more workers"))
    levels = (spec.tieredstore.levels if spec.tieredstore else None) or []
    for i, level in enumerate(levels):
        at = f"spec.tieredstore.levels[{i}]"
        if level.mediumtype not in MEDIUM_TYPES:
            errors.append(FieldError(f"{at}.mediumtype", f"{level.mediumtype!r} is not a medium",
                                     "use one of " + ", ".join(MEDIUM_TYPES)))
        if level.volume_type not in (None, *VOLUME_TYPES):
            errors.append(FieldError(f"{at}.volumeType", f"{level.volume_type!r} is not a volume type",
                                     "use hostPath or emptyDir"))
        if level.quota is not None and not is_quantity(level.quota):
            errors.append(FieldError(f"{at}.quota", f"{level.quota!r} is not a quantity",
                                     "use a size such as 2Gi"))
        for name in ("high", "low"):
            value = getattr(level, name)
            if value is not None and not _is_ratio(value):
                errors.append(FieldError(f"{at}.{name}", f"{value!r} is not a ratio between 0 and 1",
                                         "use a value such as 0.95"))
        if level.high and level.low and _is_ratio(level.high) and _is_ratio(level.low) \
                and float(level.low) > float(level.high):
            errors.append(FieldError(f"{at}.low", f"low watermark {level.low} is above high {level.high}",
                                     "make low <= high"))
    if spec.fuse and spec.fuse.clean_policy not in (None, *CLEAN_POLICIES):
        errors.append(FieldError("spec.fuse.cleanPolicy", f"{spec.fuse.clean_policy!r} is not a policy",
                                 "use OnDemand or OnRuntimeDeleted"))
    return errors


def _is_ratio(text: str) -> bool:
    try:
        return 0.0 <= float(text) <= 1.0
    except ValueError:
        return False


def validate_dataset(ds: Dataset) -> None:
    errors = dataset_errors(ds)
    if errors:
        raise InvalidSpec(ds.ref, errors)


def validate_runtime(rt: Runtime, extra: Iterable[FieldError] = ()) -> None:
    errors = [*runtime_errors(rt), *extra]
    if errors:
        raise InvalidSpec(rt.ref, errors)
