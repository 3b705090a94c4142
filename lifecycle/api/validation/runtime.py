"""The checks every runtime kind shares: replicas, the cache tiers, and the strings that land in the
cache's configuration (properties and JVM options at any level of the spec)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from lifecycle.api._model import api_fields, json_name
from lifecycle.api.runtime import Level, Runtime
from lifecycle.api.units import is_quantity
from lifecycle.api.validation.common import FieldError, InvalidSpec, name_errors, one_line, one_line_map, ratio
from lifecycle.api.validation.declared import declared_errors


def runtime_errors(rt: Runtime) -> list[FieldError]:
    errors = name_errors(rt.metadata.name)
    spec = rt.spec
    errors += tier_errors((spec.tieredstore.levels if spec.tieredstore else None) or [])
    for at, name, value in _config_strings(spec, "spec"):
        if name == "properties":
            errors += one_line_map(at, value)
        else:
            errors += [e for i, option in enumerate(value or []) for e in one_line(f"{at}[{i}]", option)]
    return errors + declared_errors(spec, "spec")


def _config_strings(model: Any, at: str) -> Iterator[tuple[str, str, Any]]:
    """Every ``properties`` map and ``jvmOptions`` list below ``model``, with its JSON path."""
    for attribute in api_fields(type(model)):
        value = getattr(model, attribute.name)
        here = f"{at}.{json_name(attribute)}"
        if attribute.name in ("properties", "jvm_options") and value:
            yield here, attribute.name, value
        elif attrs.has(type(value)):
            yield from _config_strings(value, here)


def tier_errors(levels: Iterable[Level]) -> list[FieldError]:
    errors = []
    seen: dict[str, int] = {}
    for i, level in enumerate(levels):
        at = f"spec.tieredstore.levels[{i}]"
        errors += _level_errors(at, level)
        if level.mediumtype in seen:
            errors.append(FieldError(f"{at}.mediumtype", f"{level.mediumtype} is also levels[{seen[level.mediumtype]}]",
                                     "merge the two tiers into one level with several paths"))
        seen.setdefault(level.mediumtype, i)
    return errors


def _level_errors(at: str, level: Level) -> list[FieldError]:
    errors = one_line(f"{at}.path", level.path) + one_line(f"{at}.quotaList", level.quota_list)
    if not level.quota and not level.quota_list:
        errors.append(FieldError(f"{at}.quota", f"the {level.mediumtype} tier has no quota",
                                 "set quota, e.g. quota: 2Gi, so the cache knows its size"))
    elif level.quota is not None and not is_quantity(level.quota):
        errors.append(FieldError(f"{at}.quota", f"{level.quota!r} is not a quantity", "use a size such as 2Gi"))
    if level.mediumtype != "MEM" and not level.path:
        errors.append(FieldError(f"{at}.path", f"the {level.mediumtype} tier has no path",
                                 "set path to a local directory, e.g. /mnt/cache"))
    errors += [FieldError(f"{at}.path", f"{path!r} is not an absolute path inside the node",
                          "give absolute paths without '..', e.g. /mnt/cache")
               for path in (level.path or "").split(",") if path and not _inside(path)]
    return errors + _quota_list_errors(at, level) + _watermark_errors(at, level)


def _watermark_errors(at: str, level: Level) -> list[FieldError]:
    errors = []
    for name in ("high", "low"):
        value = getattr(level, name)
        if value is not None and not ratio(value):
            errors.append(FieldError(f"{at}.{name}", f"{value!r} is not a ratio between 0 and 1",
                                     "use a value such as 0.95"))
    if level.high and level.low and ratio(level.high) and ratio(level.low) and float(level.low) > float(level.high):
        errors.append(FieldError(f"{at}.low", f"low watermark {level.low} is above high {level.high}",
                                 "make low <= high"))
    return errors


def _inside(path: str) -> bool:
    return path.startswith("/") and ".." not in path.split("/")


def _quota_list_errors(at: str, level: Level) -> list[FieldError]:
    if not level.quota_list:
        return []
    errors = []
    quotas = [q for q in level.quota_list.split(",") if q]
    paths = [p for p in (level.path or "").split(",") if p]
    if len(quotas) != len(paths):
        errors.append(FieldError(f"{at}.quotaList", f"{len(quotas)} quotas for {len(paths)} paths",
                                 "give one quota per comma-separated path"))
    for q in quotas:
        if not is_quantity(q):
            errors.append(FieldError(f"{at}.quotaList", f"{q!r} is not a quantity", "use sizes such as 1Gi,2Gi"))
    return errors


def validate_runtime(rt: Runtime, extra: Iterable[FieldError] = ()) -> None:
    errors = [*runtime_errors(rt), *extra]
    if errors:
        raise InvalidSpec(rt.ref, errors)
