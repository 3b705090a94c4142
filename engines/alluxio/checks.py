"""Alluxio's own spec checks: an odd number of masters (they elect a leader by majority), job masters
beside them, and JVM options that survive Alluxio's start scripts, which split them on whitespace."""

from __future__ import annotations

from engines.alluxio.api import AlluxioCompTemplateSpec, AlluxioRuntimeSpec
from engines.cache.engine import CacheEngine
from lifecycle import FieldError

Alluxio = CacheEngine[AlluxioRuntimeSpec, AlluxioCompTemplateSpec]  # what the checks read of the engine


def engine_errors(e: Alluxio) -> list[FieldError]:
    errors = []
    replicas = e.master_replicas
    if replicas % 2 == 0:
        errors.append(FieldError("spec.master.replicas", f"{replicas} masters cannot elect a leader by majority",
                                 "use an odd number: 1, or 3 or 5 for high availability"))
    job = e.component("job_master").replicas
    if job is not None and job != replicas:
        errors.append(FieldError("spec.jobMaster.replicas", f"{job} job masters for {replicas} masters",
                                 "leave it unset: job masters run beside the masters, one each"))
    return errors + _jvm_errors(e)


def _jvm_errors(e: Alluxio) -> list[FieldError]:
    """JVM options and component properties travel in one variable that Alluxio's scripts split on
    whitespace (engines.cache.configfile.java_option): none may contain any."""
    errors = []
    parts: list[tuple[str, list[str] | None, dict[str, str] | None]] = [("spec", e.spec.jvm_options, None)]
    for role in ("master", "job_master", "worker", "job_worker"):
        comp = e.component(role)
        parts.append((f"spec.{role.replace('_m', 'M').replace('_w', 'W')}", comp.jvm_options, comp.properties))
    fuse = e.spec.fuse
    parts.append(("spec.fuse", fuse.jvm_options if fuse else None, fuse.properties if fuse else None))
    for at, jvm, props in parts:
        errors += [FieldError(f"{at}.jvmOptions[{i}]", f"{o!r} has whitespace, which would split it into "
                              "several JVM arguments", "give each JVM option as its own list item")
                   for i, o in enumerate(jvm or []) if any(c.isspace() for c in o)]
        errors += [FieldError(f"{at}.properties[{k}]", f"{k}={v!r} has whitespace, which would split it into "
                              "several JVM arguments", "put the property in spec.properties (written into "
                              "alluxio-site.properties) instead")
                   for k, v in (props or {}).items() if any(c.isspace() for c in k + v)]
    return errors
