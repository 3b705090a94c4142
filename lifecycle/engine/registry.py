"""Which engine serves which runtime kind.

Engines register themselves; the core never imports them. A package (ours or a third party's)
declares an entry point in the group ``fluid_lifecycle.engines`` whose value is a function taking
a ``Registry``; ``Registry.discover()`` calls every such function. Adding a runtime kind is
therefore a new package with one entry point, and no edit of ``lifecycle/``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from importlib.metadata import entry_points

from lifecycle.engine.contract import BuildImplement, EngineContext, Implement
from lifecycle.engine.kind import RuntimeKind

ENTRY_POINT_GROUP = "fluid_lifecycle.engines"
EXTRA_ENGINES_ENV = "FLUIDLC_ENGINES"


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


def entry_point(kind: RuntimeKind, implement: str) -> Callable[[Registry], None]:
    """An engine's ``fluid_lifecycle.engines`` entry point: registers ``kind`` with the Implement
    class named ``"module:Class"``. The module is imported when the first engine of the kind is
    built, not at registration, so listing kinds (for CRDs, the CLI) needs only the kind's model."""
    module, _, name = implement.partition(":")
    if not name:
        raise ValueError(f"{implement!r}: name the Implement as module:Class")

    def build(ctx: EngineContext) -> Implement:
        engine: Implement = getattr(importlib.import_module(module), name)(ctx)
        return engine

    def register(registry: Registry) -> None:
        registry.register(kind, build)

    return register


__all__ = ["ENTRY_POINT_GROUP", "EXTRA_ENGINES_ENV", "Registry", "RuntimeKind", "UnknownRuntimeKind", "entry_point"]
