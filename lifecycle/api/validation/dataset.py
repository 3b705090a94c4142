"""The checks of a Dataset on its own: names, mounts and their paths, placement, access modes.

What the reference accepts stays accepted: an empty ``path`` is unset (``/<name>``), a mount at
``/`` is the cache's root, and a mount point only needs to be five characters long (which
schemes work is the runtime's to say).
"""

from __future__ import annotations

from lifecycle.api.dataset import CAPACITY_ANNOTATION, Dataset, Mount
from lifecycle.api.units import is_quantity
from lifecycle.api.validation.common import FieldError, InvalidSpec, name_errors, one_line, one_line_map, scheme_of
from lifecycle.api.validation.declared import declared_errors


def dataset_errors(ds: Dataset) -> list[FieldError]:
    errors = name_errors(ds.metadata.name)
    mounts = ds.spec.mounts or []
    if ds.spec.mounts is None:
        errors.append(FieldError("spec.mounts", "the Dataset has no mounts",
                                 "add at least one, e.g. - mountPoint: s3://bucket/path"))
    names: dict[str, int] = {}
    paths: dict[str, int] = {}
    for i, mount in enumerate(mounts):
        errors += mount_errors(f"spec.mounts[{i}]", mount, len(mounts))
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
    errors += one_line_map("spec.sharedOptions", ds.spec.shared_options)
    return errors + declared_errors(ds.spec, "spec") + _capacity_errors(ds)


def mount_errors(at: str, mount: Mount, count: int) -> list[FieldError]:
    """What is wrong with one mount on its own (``count``: how many mounts the Dataset has)."""
    errors = one_line(f"{at}.mountPoint", mount.mount_point) + one_line(f"{at}.name", mount.name)
    if scheme_of(mount.mount_point) == "dataset" and count > 1:
        errors.append(FieldError(f"{at}.mountPoint", "a dataset:// mount must be the only mount",
                                 "move the other mounts to the referenced dataset"))
    errors += _path_errors(at, mount, count)
    errors += one_line_map(f"{at}.options", mount.options)
    for j, opt in enumerate(mount.encrypt_options or []):
        errors += one_line(f"{at}.encryptOptions[{j}].name", opt.name)
        ref = opt.value_from.secret_key_ref if opt.value_from else None
        if ref is None or not ref.name:
            errors.append(FieldError(f"{at}.encryptOptions[{j}].valueFrom.secretKeyRef", "no Secret is named",
                                     "set valueFrom.secretKeyRef.name and key"))
    return errors


def _path_errors(at: str, mount: Mount, count: int) -> list[FieldError]:
    path = mount.path or None  # "" is unset, as the reference treats it
    errors = one_line(f"{at}.path", path)
    if path is not None and not path.startswith("/"):
        errors.append(FieldError(f"{at}.path", f"{path!r} is not absolute", "start the path with '/'"))
    if path is not None and ".." in path.split("/"):
        errors.append(FieldError(f"{at}.path", f"{path!r} climbs out with '..'",
                                 "give the path inside the cache, e.g. /train"))
    if not mount.name and path is None and count > 1:
        errors.append(FieldError(f"{at}.name", "a mount without name or path would sit at '/'",
                                 "give each mount a name or a path"))
    return errors


def _capacity_errors(ds: Dataset) -> list[FieldError]:
    capacity = (ds.metadata.annotations or {}).get(CAPACITY_ANNOTATION)
    if capacity is not None and not is_quantity(capacity):
        return [FieldError(f"metadata.annotations[{CAPACITY_ANNOTATION}]", f"{capacity!r} is not a quantity",
                           "use a size such as 100Gi")]
    return []


def validate_dataset(ds: Dataset) -> None:
    errors = dataset_errors(ds)
    if errors:
        raise InvalidSpec(ds.ref, errors)
