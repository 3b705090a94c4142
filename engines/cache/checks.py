"""Spec checks of a cache runtime beside the shared ones (``lifecycle.api.validation``): which of the
Dataset's mounts this cache system can serve, and the system's own rules (``engine_errors``).

They run as the runtime's ``validate`` hook, in the operator and in ``fluidlc validate`` alike
(``lifecycle.engine.admission``); each error names the field and the fix.
"""

from __future__ import annotations

from engines.cache import ufs
from engines.cache.base import Cache
from lifecycle import FieldError, InvalidSpec, scheme_of


def validate(e: Cache) -> None:
    errors = [*mount_errors(e), *e.engine_errors()]
    if errors:
        raise InvalidSpec(e.ref, errors)


def mount_errors(e: Cache) -> list[FieldError]:
    ds = e.ctx.dataset
    errors = []
    served = sorted({*e.UFS_SCHEMES, *ufs.NATIVE_SCHEMES})
    for i, mount in enumerate(ds.spec.mounts or [] if ds else []):
        at = f"Dataset {ds.key if ds else ''} spec.mounts[{i}].mountPoint"
        scheme = scheme_of(mount.mount_point)
        if scheme == "dataset":
            errors.append(FieldError(at, f"{e.ctx.kind.kind} cannot serve {mount.mount_point!r}",
                                     "use a ThinRuntime for dataset:// references"))
        elif scheme not in served:
            errors.append(FieldError(at, f"{e.ctx.kind.kind} cannot mount {mount.mount_point!r}",
                                     "use one of " + ", ".join(f"{s}://" for s in served)
                                     + ", or a runtime that serves this scheme"))
    return errors
