"""What ``make bench`` creates: N Dataset/runtime pairs of one engine, as the user would.

``alluxio`` is the workload Fluid's own controllers were measured on: every Dataset mounts one
https web UFS, every AlluxioRuntime has one worker (``replicas: 1``), one MEM level of 1Gi, and
kwok's pod delays set to 0 through ``spec.podMetadata`` annotations (3 nodes). ``scripted`` is the
test engine (no execs); ``jindo`` the same shape as ``alluxio`` with a JindoRuntime.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import attrs

from engines.alluxio.kind import KIND_SPEC as ALLUXIO
from engines.jindo.kind import KIND_SPEC as JINDO
from lifecycle.k8s.gateway import Obj, Resource
from lifecycle.testing import scripted
from tests.cluster import IMMEDIATE_START

WEB_UFS = "https://downloads.example.org/datasets/"  # one web UFS, mounted by every pair
JINDO_UFS = "s3://bench/datasets"
MEM_LEVEL = {"levels": [{"mediumtype": "MEM", "path": "/dev/shm", "quota": "1Gi"}]}


def _immediate(spec: dict[str, Any], *parts: str) -> dict[str, Any]:
    for part in (spec, *(spec.setdefault(p, {}) for p in parts)):
        part.setdefault("podMetadata", {}).setdefault("annotations", {}).update(IMMEDIATE_START)
    return spec


def _dataset(name: str, namespace: str, uri: str) -> Obj:
    # Placement Shared, as Fluid was run: N workers share 3 nodes (Exclusive fits 3 pairs).
    return {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"mounts": [{"mountPoint": uri, "name": "data"}], "placement": "Shared"}}


def _runtime(res: Resource, name: str, namespace: str, spec: dict[str, Any]) -> Obj:
    return {"apiVersion": res.api_version, "kind": res.kind, "metadata": {"name": name, "namespace": namespace},
            "spec": copy.deepcopy(spec)}


@attrs.frozen
class Workload:
    engine: str
    runtime: Resource
    ufs: str | None  # the UFS folder the local cluster must hold (None: the engine mounts nothing real)
    operator_env: dict[str, str]  # how the operator process finds the engine
    pair: Callable[[str, str], list[Obj]]  # (name, namespace) -> the Dataset and its runtime


def _scripted(name: str, namespace: str) -> list[Obj]:
    return [_dataset(name, namespace, f"s3://bucket/{name}"),
            _runtime(scripted.KIND.resource, name, namespace, {"replicas": 1, "podAnnotations": IMMEDIATE_START})]


def _alluxio(name: str, namespace: str) -> list[Obj]:
    spec = _immediate({"replicas": 1, "tieredstore": copy.deepcopy(MEM_LEVEL)}, "fuse")
    return [_dataset(name, namespace, WEB_UFS), _runtime(ALLUXIO.resource, name, namespace, spec)]


def _jindo(name: str, namespace: str) -> list[Obj]:
    spec = _immediate({"replicas": 1, "tieredstore": copy.deepcopy(MEM_LEVEL)}, "fuse")
    return [_dataset(name, namespace, JINDO_UFS), _runtime(JINDO.resource, name, namespace, spec)]


WORKLOADS = {
    "scripted": Workload("scripted", scripted.KIND.resource, None,
                         {"FLUIDLC_ENGINES": "lifecycle.testing.scripted:register"}, _scripted),
    "alluxio": Workload("alluxio", ALLUXIO.resource, WEB_UFS, {"FLUIDLC_ENGINES": ""}, _alluxio),
    "jindo": Workload("jindo", JINDO.resource, JINDO_UFS, {"FLUIDLC_ENGINES": ""}, _jindo),
}
