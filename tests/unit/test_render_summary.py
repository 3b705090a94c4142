"""A pass compares summaries (kind, name, hash) kept under a digest of the rendering's inputs, and
renders a runtime's objects only when those inputs change: waiting and idle passes render nothing,
and what the digest leaves out (the statuses, bar the Dataset's mounts) cannot change the objects."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from engines.alluxio.engine import AlluxioEngine
from engines.alluxio.kind import KIND_SPEC as ALLUXIO
from engines.cache import render
from engines.jindo.engine import JindoEngine
from engines.jindo.kind import KIND_SPEC as JINDO
from lifecycle.k8s.gateway import CONFIG_MAP, STATEFUL_SET, Obj
from tests.unit.cache_cluster import (
    NAME,
    FakeCluster,
    alluxio_manifest,
    context,
    dataset_manifest,
    delete_pair,
    seed,
)
from tests.unit.test_jindo_engine import jindo_manifest


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The objects rendered, by kind: every call of ``render.desired`` and ``render.worker_set``."""
    made: list[str] = []
    desired, worker_set = render.desired, render.worker_set

    def counted_desired(e: render.Cache, replicas: int) -> list[Obj]:
        out = desired(e, replicas)
        made.extend(o["kind"] for o in out)
        return out

    def counted_worker_set(e: render.Cache, replicas: int) -> Obj:
        made.append("worker StatefulSet")
        return worker_set(e, replicas)

    monkeypatch.setattr(render, "desired", counted_desired)
    monkeypatch.setattr(render, "worker_set", counted_worker_set)
    return made


def test_a_pass_waiting_for_its_master_renders_nothing(cluster: FakeCluster, renders: list[str]) -> None:
    cluster.unready.add(f"{NAME}-master")
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest())
    cluster.settle(passes=3)
    assert cluster.get(ALLUXIO.resource, NAME)["status"]["lifecycle"]["state"] == "SettingUpMaster"
    assert renders, "setup rendered the objects"
    renders.clear()
    cluster.settle(passes=5)
    assert renders == []
    cluster.unready.clear()
    cluster.settle()
    assert cluster.dataset()["status"]["phase"] == "Bound"


def test_an_idle_pass_renders_nothing_and_a_spec_change_renders_again(bound: FakeCluster,
                                                                       renders: list[str]) -> None:
    bound.settle(passes=2)
    renders.clear()
    bound.settle(passes=4)
    assert renders == []
    bound.patch_spec(ALLUXIO.resource, NAME, {"worker": {"properties": {"alluxio.worker.block.heartbeat": "5s"}}})
    bound.settle(passes=3)
    assert "StatefulSet" in renders
    opts = bound.get(CONFIG_MAP, f"{NAME}-config")["data"]["ALLUXIO_WORKER_JAVA_OPTS"]
    assert opts == "-Dalluxio.worker.block.heartbeat=5s"


def test_a_lost_object_is_made_again_from_the_summary(bound: FakeCluster) -> None:
    bound.settle(passes=2)
    bound.gw.delete(STATEFUL_SET, "team", f"{NAME}-master")
    bound.settle()
    assert bound.get(STATEFUL_SET, f"{NAME}-master")
    assert bound.dataset()["status"]["phase"] == "Bound"


@pytest.mark.parametrize("kind", ["alluxio", "jindo"])
def test_rendering_reads_no_status_but_the_datasets_mounts(tmp_path: Path, kind: str) -> None:
    cluster = FakeCluster(tmp_path)
    seed(cluster)
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest() if kind == "alluxio" else jindo_manifest(NAME))
    cluster.settle()
    assert cluster.dataset()["status"]["phase"] == "Bound"
    spec, engine_type = (ALLUXIO, AlluxioEngine) if kind == "alluxio" else (JINDO, JindoEngine)
    ctx = context(cluster, spec)
    assert ctx.runtime.status is not None and ctx.dataset is not None and ctx.dataset.status is not None
    full = render.desired(engine_type(ctx), 3)
    ctx.runtime = attrs.evolve(ctx.runtime, status=None)
    ctx.dataset = attrs.evolve(ctx.dataset, status=type(ctx.dataset.status)(mounts=ctx.dataset.status.mounts))
    assert render.desired(engine_type(ctx), 3) == full


def test_the_summaries_go_with_their_runtime(bound: FakeCluster) -> None:
    uid = bound.get(ALLUXIO.resource, NAME)["metadata"]["uid"]
    assert uid in bound.reconciler.shared["rendered"]
    delete_pair(bound)
    assert uid not in bound.reconciler.shared["rendered"]
