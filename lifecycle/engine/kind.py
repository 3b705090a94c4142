"""A runtime kind as the API server and the operator see it: a plain value, shared by the registry,
the CRD generator and every engine, so none of them has to import another to name a kind."""

from __future__ import annotations

from typing import Any

import attrs

from lifecycle.api.meta import GROUP, VERSION
from lifecycle.api.runtime import Runtime
from lifecycle.k8s.gateway import Resource
from lifecycle.k8s.naming import runtime_finalizer


@attrs.frozen
class RuntimeKind:
    """A runtime kind as the API server and the operator see it."""

    kind: str  # e.g. "AlluxioRuntime"
    runtime_type: str  # e.g. "alluxio": labels, finalizer, status.runtimes[].type
    model: type[Runtime]
    short_names: tuple[str, ...] = ()
    # CRD details that differ between kinds (see lifecycle.generate.crds).
    extra_printer_columns: tuple[dict[str, Any], ...] = ()
    scale_selector: bool = False

    @property
    def plural(self) -> str:
        return self.kind.lower() + "s"

    @property
    def resource(self) -> Resource:
        return Resource(GROUP, VERSION, self.kind, self.plural)

    @property
    def finalizer(self) -> str:
        return runtime_finalizer(self.runtime_type)
