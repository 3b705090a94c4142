"""The checks of a data operation: its Dataset, policy and schedule, ``runAfter``, and the strings of
each kind that land in a command (load paths, options, the backup's path, a migration's ends).

An operation whose checks fail goes to ``Failed`` with these words (the operation machine's
``validate`` step); ``fluidlc validate`` prints the same.
"""

from __future__ import annotations

import re
from typing import Any

from lifecycle.api.cron import CronError, parse
from lifecycle.api.operation import Operation
from lifecycle.api.operations import DataBackup, DataLoad, DataMigrate, DataProcess, DataToMigrate
from lifecycle.api.validation.common import FieldError, InvalidSpec, name_errors, one_line, one_line_map
from lifecycle.api.validation.declared import declared_errors

BACKUP_SCHEMES = ("pvc://", "local://")
DATASET_VOLUME = "fluid-dataset-vol"  # the Dataset's volume in a DataProcess pod
CLAIM = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


def operation_errors(op: Operation) -> list[FieldError]:
    errors = name_errors(op.metadata.name)
    if not op.dataset_name:
        errors.append(FieldError(_dataset_field(op), "no Dataset is named", "name the Dataset to work on"))
    namespace = op.dataset_namespace
    if namespace and op.metadata.namespace and namespace != op.metadata.namespace:
        errors.append(FieldError(_dataset_field(op) + ".namespace",
                                 f"{namespace!r} is not the operation's namespace {op.metadata.namespace!r}",
                                 "create the operation in the Dataset's namespace"))
    errors += _policy_errors(op)
    after = op.run_after
    if after is not None:
        if after.kind == op.KIND and after.name == op.metadata.name and (after.namespace or op.metadata.namespace) \
                == op.metadata.namespace:
            errors.append(FieldError("spec.runAfter", "the operation names itself", "name another operation"))
        if after.namespace and op.metadata.namespace and after.namespace != op.metadata.namespace:
            errors.append(FieldError("spec.runAfter.namespace", f"{after.namespace!r} is another namespace",
                                     "chain operations of one namespace"))
    errors += _kind_errors(op)
    spec = getattr(op, "spec", None)
    return errors + (declared_errors(spec, "spec") if spec is not None else [])


def _dataset_field(op: Operation) -> str:
    return "spec.to.dataset" if isinstance(op, DataMigrate) else "spec.dataset"


def _policy_errors(op: Operation) -> list[FieldError]:
    schedule = op.schedule
    if op.policy == "Cron":
        if not schedule:
            return [FieldError("spec.schedule", "policy Cron has no schedule", "set spec.schedule, e.g. '*/5 * * * *'")]
        try:
            parse(schedule)
        except CronError as exc:
            return [FieldError("spec.schedule", str(exc), "give a five-field cron schedule")]
    elif schedule:
        return [FieldError("spec.schedule", f"a schedule with policy {op.policy}",
                           "set policy: Cron, or remove the schedule")]
    return []


def _kind_errors(op: Operation) -> list[FieldError]:
    if isinstance(op, DataLoad):
        errors = one_line_map("spec.options", op.spec.options)
        for i, target in enumerate(op.spec.target or []):
            errors += _path_errors(f"spec.target[{i}].path", target.path)
        return errors
    if isinstance(op, DataBackup):
        path = op.spec.backup_path
        if path and not path.startswith(BACKUP_SCHEMES):
            return [FieldError("spec.backupPath", f"{path!r} is neither pvc:// nor local://",
                               "use pvc://<claim>/<path> or local:///<path>")]
        errors = _path_errors("spec.backupPath", path.partition("://")[2] if path else None, absolute=False)
        claim = op.spec.claim
        if claim is not None and not CLAIM.fullmatch(claim[0]):
            errors.append(FieldError("spec.backupPath", f"{claim[0]!r} is not a PVC name",
                                     "use pvc://<claim>/<path> with the name of a PVC in the backup's namespace"))
        return errors
    if isinstance(op, DataMigrate):
        return _migrate_errors(op)
    if isinstance(op, DataProcess):
        return _process_errors(op)
    return []


def _process_errors(op: DataProcess) -> list[FieldError]:
    processor, target = op.spec.processor, op.spec.dataset
    errors = _path_errors("spec.dataset.mountPath", target.mount_path) if target is not None else []
    if processor is None or (processor.job is None) == (processor.script is None):
        return [*errors, FieldError("spec.processor", "give exactly one of job and script",
                                    "set processor.script (image, command, source) or processor.job (podSpec)")]
    mounts: list[tuple[str, str, dict[str, Any]]] = []
    if processor.script is not None:
        if not processor.script.image:
            errors.append(FieldError("spec.processor.script.image", "the script has no image to run in",
                                     "set processor.script.image, e.g. bash"))
        mounts = [("spec.processor.script.volumeMounts", "script", m) for m in processor.script.volume_mounts or []]
    elif processor.job is not None:
        pod = processor.job.pod_spec or {}
        if not pod.get("containers"):
            errors.append(FieldError("spec.processor.job.podSpec.containers", "the pod spec has no container",
                                     "give the pod spec at least one container"))
        mounts = [(f"spec.processor.job.podSpec.{group}", str(c.get("name")), m)
                  for group in ("initContainers", "containers") for c in pod.get(group) or []
                  for m in c.get("volumeMounts") or []]
    for at, container, mount in mounts:
        if target is not None and mount.get("mountPath") == target.mount_path:
            errors.append(FieldError(at, f"volume {mount.get('name')!r} of {container} is mounted at "
                                         f"{target.mount_path!r}, where the Dataset goes",
                                     "mount it elsewhere or choose another spec.dataset.mountPath"))
        if mount.get("name") == DATASET_VOLUME:
            errors.append(FieldError(at, f"a volume of {container} is called {DATASET_VOLUME!r}, the Dataset's",
                                     "rename the volume"))
    return errors


def _migrate_errors(op: DataMigrate) -> list[FieldError]:
    errors = one_line_map("spec.options", op.spec.options)
    ends: list[tuple[str, DataToMigrate | None]] = [("spec.from", op.spec.from_), ("spec.to", op.spec.to)]
    for at, end in ends:
        if end is None or (end.dataset is None) == (end.external_storage is None):
            errors.append(FieldError(at, "give exactly one of dataset and externalStorage",
                                     "name a Dataset or an external storage URI"))
        elif end.dataset is not None and end.dataset.path:
            errors += _path_errors(f"{at}.dataset.path", end.dataset.path)
    if all(end is not None and end.dataset is None for _, end in ends):
        errors.append(FieldError("spec", "neither end is a Dataset", "make spec.from or spec.to a Dataset"))
    return errors


def _path_errors(at: str, path: str | None, absolute: bool = True) -> list[FieldError]:
    if path is None:
        return []
    errors = one_line(at, path)
    if absolute and not path.startswith("/"):
        errors.append(FieldError(at, f"{path!r} is not absolute", "start the path with '/'"))
    if ".." in path.split("/"):
        errors.append(FieldError(at, f"{path!r} climbs out with '..'", "give a path inside the Dataset"))
    return errors


def validate_operation(op: Operation) -> None:
    errors = operation_errors(op)
    if errors:
        raise InvalidSpec(op.ref, errors)
