"""The Jindo engine: JindoRuntime served by JindoCache master, workers and a FUSE DaemonSet.

``register`` is the ``fluid_lifecycle.engines`` entry point. The engine module is imported only
when an engine is built, so listing kinds (for CRDs, or the registry) needs just the API model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engines.jindo.kind import KIND_SPEC

if TYPE_CHECKING:
    from lifecycle.engine.contract import EngineContext, Implement
    from lifecycle.engine.registry import Registry


def build(ctx: EngineContext) -> Implement:
    from engines.jindo.engine import JindoEngine

    return JindoEngine(ctx)


def register(registry: Registry) -> None:
    registry.register(KIND_SPEC, build)
