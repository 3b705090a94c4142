"""Engines plug in by entry point; the registry builds a kind's Implement."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from lifecycle.api import from_json
from lifecycle.engine.contract import EngineContext, Implement
from lifecycle.engine.registry import Registry, UnknownRuntimeKind
from lifecycle.k8s.memory import MemoryGateway
from lifecycle.testing import scripted


def test_installed_engines_are_discovered_through_entry_points() -> None:
    kinds = {k.kind: k for k in Registry().discover().kinds()}
    assert {"AlluxioRuntime", "JindoRuntime"} <= set(kinds)
    assert kinds["AlluxioRuntime"].finalizer == "alluxio-runtime-controller-finalizer"
    assert kinds["JindoRuntime"].plural == "jindoruntimes"


def test_the_registry_builds_the_kinds_implement() -> None:
    registry = Registry()
    scripted.register(registry)
    runtime = from_json(scripted.ScriptedRuntime, {"kind": "ScriptedRuntime",
                                                   "metadata": {"name": "a", "namespace": "b"}})
    ctx = EngineContext(runtime=runtime, dataset=None, gateway=MemoryGateway(), kind=scripted.KIND,
                        now=lambda: datetime.now(UTC), log=logging.LoggerAdapter(logging.getLogger()))
    implement = registry.implement("ScriptedRuntime", ctx)
    assert isinstance(implement, Implement) and isinstance(implement, scripted.ScriptedEngine)


def test_unknown_kind_says_how_to_add_one() -> None:
    with pytest.raises(UnknownRuntimeKind, match=r"fluid_lifecycle\.engines"):
        Registry().get("CurveRuntime")
