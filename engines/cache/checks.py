"""Spec checks every cache runtime shares (tiers, mounts), beside the cache system's own.

They run as the runtime's ``validate`` hook, in the operator and in ``fluidlc validate`` alike; each
error names the field and the fix.
"""

from __future__ import annotations

from engines.cache import report, ufs
from engines.cache.base import Cache
from lifecycle import FieldError, InvalidSpec, scheme_of


def validate(e: Cache) -> None:
    errors = [*tier_errors(e), *mount_errors(e), *e.engine_errors()]
    if errors:
        raise InvalidSpec(e.ref, errors)


def tier_errors(e: Cache) -> list[FieldError]:
    errors = []
    seen: dict[str, int] = {}
    for i, level in enumerate(e.levels):
        at = f"spec.tieredstore.levels[{i}]"
        if level.mediumtype in seen:
            errors.append(FieldError(f"{at}.mediumtype", f"{level.mediumtype} is also levels[{seen[level.mediumtype]}]",
                                     "merge the two tiers into one level with several paths"))
        seen.setdefault(level.mediumtype, i)
        if not level.quota and not level.quota_list:
            errors.append(FieldError(f"{at}.quota", f"the {level.mediumtype} tier has no quota",
                                     "set quota, e.g. quota: 2Gi, so the cache knows its size"))
        if level.mediumtype != "MEM" and not level.path:
            errors.append(FieldError(f"{at}.path", f"the {level.mediumtype} tier has no path",
                                     "set path to a local directory, e.g. /mnt/cache"))
        if level.quota_list:
            errors += _quota_list_errors(at, level.quota_list, level.path)
    return errors


def _quota_list_errors(at: str, quota_list: str, path: str | None) -> list[FieldError]:
    errors = []
    quotas = [q for q in quota_list.split(",") if q]
    paths = [p for p in (path or "").split(",") if p]
    if len(quotas) != len(paths):
        errors.append(FieldError(f"{at}.quotaList", f"{len(quotas)} quotas for {len(paths)} paths",
                                 "give one quota per comma-separated path"))
    for q in quotas:
        try:
            report.quantity_bytes(q)
        except ValueError:
            errors.append(FieldError(f"{at}.quotaList", f"{q!r} is not a quantity", "use sizes such as 1Gi,2Gi"))
    return errors


def mount_errors(e: Cache) -> list[FieldError]:
    ds = e.ctx.dataset
    errors = []
    for i, mount in enumerate(ds.spec.mounts or [] if ds else []):
        at = f"Dataset {ds.key if ds else ''} spec.mounts[{i}]"
        if scheme_of(mount.mount_point) in ufs.UNSUPPORTED_SCHEMES:
            errors.append(FieldError(f"{at}.mountPoint", f"{e.ctx.kind.kind} cannot serve {mount.mount_point!r}",
                                     "use a ThinRuntime for dataset:// references"))
        if mount.effective_path == "/":
            errors.append(FieldError(f"{at}.name", "the mount would replace the cache's root",
                                     "give the mount a name or a path such as /data"))
    return errors
