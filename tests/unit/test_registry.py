"""Engines plug in by entry point; the template engine satisfies the reference's Engine."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from lifecycle.api import from_json
from lifecycle.engine.contract import Engine, EngineContext, Implement
from lifecycle.engine.registry import Registry, UnknownRuntimeKind
from lifecycle.k8s.memory import MemoryGateway
from lifecycle.testing import scripted


def test_installed_engines_are_discovered_through_entry_points() -> None:
    kinds = {k.kind: k for k in Registry().discover().kinds()}
    assert {"AlluxioRuntime", "JindoRuntime"} <= set(kinds)
    assert kinds["AlluxioRuntime"].finalizer == "alluxio-runtime-controller-finalizer"
    assert kinds["JindoRuntime"].plural == "jindoruntimes"


def test_build_wraps_the_implement_in_the_template_engine() -> None:
    registry = Registry()
    scripted.register(registry)
    runtime = from_json(scripted.ScriptedRuntime, {"kind": "ScriptedRuntime",
                                                   "metadata": {"name": "a", "namespace": "b"}})
    ctx = EngineContext(runtime=runtime, dataset=None, gateway=MemoryGateway(), kind=scripted.KIND,
                        now=lambda: datetime.now(UTC), log=logging.LoggerAdapter(logging.getLogger()))
    engine = registry.build("ScriptedRuntime", ctx)
    assert isinstance(engine, Engine) and isinstance(engine.implement, Implement)
    assert engine.id == "b-a"


def test_unknown_kind_says_how_to_add_one() -> None:
    with pytest.raises(UnknownRuntimeKind, match=r"fluid_lifecycle\.engines"):
        Registry().get("CurveRuntime")


def test_the_engine_protocol_sets_up_on_its_own_and_resumes_where_it_stopped() -> None:
    """Engine.setup() outside a reconcile: it claims the dataset and records the state it reached."""
    from lifecycle.api.dataset import Dataset
    from lifecycle.k8s.gateway import STATEFUL_SET

    registry = Registry()
    scripted.register(registry)
    gw = MemoryGateway((scripted.KIND.resource,))
    ds = from_json(Dataset, gw.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
                                       "metadata": {"name": "a", "namespace": "b"},
                                       "spec": {"mounts": [{"mountPoint": "s3://x/y", "name": "y"}]}}))
    runtime = from_json(scripted.ScriptedRuntime, gw.create({
        "apiVersion": "data.fluid.io/v1alpha1", "kind": "ScriptedRuntime", "metadata": {"name": "a", "namespace": "b"},
        "spec": {"replicas": 1}}))

    def engine() -> Engine:
        ctx = EngineContext(runtime=runtime, dataset=ds, gateway=gw, kind=scripted.KIND,
                            now=lambda: datetime.now(UTC), log=logging.LoggerAdapter(logging.getLogger()))
        return registry.build("ScriptedRuntime", ctx)

    assert engine().setup() is False
    assert runtime.status is not None and runtime.status.lifecycle is not None
    assert runtime.status.lifecycle.state == "SettingUpMaster"
    gw.set_status(STATEFUL_SET, "b", "a-master", {"readyReplicas": 1})
    assert engine().setup() is False  # continues at the master, not from the start
    assert runtime.status.lifecycle.state == "SettingUpWorkers"
