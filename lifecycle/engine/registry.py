"""Which engine serves which runtime kind.

Engines register themselves; the core never imports them. A package (ours or a third party's)
declares an entry point in the group ``fluid_lifecycle.engines`` whose value is a function taking
a ``Registry``; ``Registry.discover()`` calls every such function. Adding a runtime kind is
therefore a new package with one entry point, and no edit of ``lifecycle/``.
"""

from __future__ import annotations

import importlib
import os
from importlib.metadata import entry_points
from typing import Any

import attrs

from lifecycle.api.meta import GROUP, VERSION
from lifecycle.api.runtime import Runtime
from lifecycle.engine.contract import BuildImplement, Engine, EngineContext, Implement
from lifecycle.k8s.gateway import Resource
from lifecycle.k8s.naming import runtime_finalizer

ENTRY_POINT_GROUP = "fluid_lifecycle.engines"
EXTRA_ENGINES_ENV = "FLUIDLC_ENGINES"


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


class UnknownRuntimeKind(LookupError):
    pass


class Registry:
    def __init__(self) -> None:
        self._kinds: dict[str, RuntimeKind] = {}
        self._builders: dict[str, BuildImplement] = {}

    def register(self, kind: RuntimeKind, build: BuildImplement) -> None:
        if kind.kind in self._kinds and self._kinds[kind.kind] != kind:
            raise ValueError(f"runtime kind {kind.kind} is registered twice with different definitions")
        self._kinds[kind.kind] = kind
        self._builders[kind.kind] = build

    def kinds(self) -> list[RuntimeKind]:
        return [self._kinds[k] for k in sorted(self._kinds)]

    def get(self, kind: str) -> RuntimeKind:
        try:
            return self._kinds[kind]
        except KeyError:
            known = ", ".join(sorted(self._kinds)) or "none"
            raise UnknownRuntimeKind(
                f"no engine is registered for runtime kind {kind!r} (registered: {known}); "
                f"install a package that declares it in the {ENTRY_POINT_GROUP!r} entry-point group"
            ) from None

    def implement(self, kind: str, ctx: EngineContext) -> Implement:
        self.get(kind)
        return self._builders[kind](ctx)

    def build(self, kind: str, ctx: EngineContext) -> Engine:
        """The engine for ``kind``: the registered Implement wrapped in the template engine."""
        from lifecycle.reconcile.template import TemplateEngine

        return TemplateEngine(self.implement(kind, ctx), ctx)

    def discover(self) -> Registry:
        """Every installed engine, plus ``$FLUIDLC_ENGINES`` (``module:function,...``), which lets an
        engine under development (or a test engine) run without being packaged."""
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            ep.load()(self)
        for spec in filter(None, os.environ.get(EXTRA_ENGINES_ENV, "").split(",")):
            module, _, function = spec.strip().partition(":")
            if not function:
                raise ValueError(f"{EXTRA_ENGINES_ENV}={spec!r}: give module:function, e.g. my_engine:register")
            getattr(importlib.import_module(module), function)(self)
        return self
