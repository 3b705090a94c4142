"""Runtimes on the host network get ports of their own, recorded in the cluster, never in memory."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from engines.alluxio.kind import KIND_SPEC as ALLUXIO
from engines.cache import ports, render, valuestext
from lifecycle.engine.settings import parse_port_range
from lifecycle.k8s.gateway import CONFIG_MAP, STATEFUL_SET
from lifecycle.k8s.memory import MemoryGateway
from lifecycle.k8s.ownership import MANAGED_BY_LABEL, MANAGER
from lifecycle.reconcile.reconciler import Reconciler
from tests.unit.cache_cluster import NAME, NS, FakeCluster, alluxio_manifest, dataset_manifest, seed

ALLUXIO_PORT_NAMES = 11  # master rpc, web, embedded and three job ports; worker rpc, web and three job ports


def pair(cluster: FakeCluster, name: str = NAME, **spec: Any) -> dict[str, dict[str, int]]:
    """Create a Dataset and AlluxioRuntime, settle them, and return the ports they run with."""
    cluster.gw.create(dataset_manifest(name))
    cluster.gw.create(alluxio_manifest(name, **spec))
    cluster.settle(name)
    return running_ports(cluster, name)


def running_ports(cluster: FakeCluster, name: str) -> dict[str, dict[str, int]]:
    out = {}
    for role in ("master", "worker"):
        sts = cluster.get(STATEFUL_SET, f"{name}-{role}")
        out[role] = {p["name"]: p["containerPort"] for c in sts["spec"]["template"]["spec"]["containers"]
                     for p in c.get("ports") or []}
    return out


def numbers(held: dict[str, dict[str, int]]) -> set[int]:
    return {n for named in held.values() for n in named.values()}


@pytest.fixture
def cluster(tmp_path: Path) -> FakeCluster:
    made = FakeCluster(tmp_path)
    seed(made)
    return made


def test_two_runtimes_on_the_host_network_get_disjoint_ports_from_the_range(cluster: FakeCluster) -> None:
    first, second = pair(cluster), pair(cluster, "second")
    assert cluster.dataset()["status"]["phase"] == "Bound"
    assert len(numbers(first)) == len(numbers(second)) == ALLUXIO_PORT_NAMES
    assert not numbers(first) & numbers(second)
    assert numbers(first) | numbers(second) <= set(range(20000, 26001))
    values = cluster.get(CONFIG_MAP, "second-alluxio-values")
    assert numbers(yaml.safe_load(values["data"]["data"])[ports.PORTS_KEY]) == numbers(second)
    assert values["metadata"]["labels"][ports.HOLDS_PORTS_LABEL] == "true"  # what allocation lists
    assert ports.HOLDS_PORTS_LABEL not in cluster.get(CONFIG_MAP, "second-config")["metadata"]["labels"]
    site = cluster.get(CONFIG_MAP, "second-config")["data"]["alluxio-site.properties"]
    assert f"alluxio.master.rpc.port={second['master']['rpc']}" in site


def test_ports_stay_the_same_across_passes_and_operator_restarts(cluster: FakeCluster) -> None:
    before = pair(cluster)
    cluster.reconciler = Reconciler(cluster.gw, cluster.reconciler.registry, now=cluster.now,
                                    settings=cluster.reconciler.settings)  # a new process: nothing in memory
    cluster.settle(passes=4)
    assert running_ports(cluster, NAME) == before
    assert "RuntimeUpdated" not in [e.reason for e in cluster.gw.events]


def test_ports_the_spec_sets_are_used_as_given_and_kept_from_others(cluster: FakeCluster) -> None:
    own = pair(cluster, master={"ports": {"rpc": 20000, "web": 20001}})
    assert own["master"]["rpc"] == 20000 and own["master"]["web"] == 20001
    other = pair(cluster, "second")
    assert not numbers(own) & numbers(other)


def test_container_network_runtimes_keep_the_default_ports(cluster: FakeCluster) -> None:
    held = pair(cluster, master={"networkMode": "ContainerNetwork"}, worker={"networkMode": "ContainerNetwork"})
    assert held["master"]["rpc"] == 19998 and held["worker"]["rpc"] == 29999
    values = cluster.get(CONFIG_MAP, f"{NAME}-alluxio-values")
    assert yaml.safe_load(values["data"]["data"])[ports.PORTS_KEY] == {}  # holds nothing on the nodes
    assert ports.HOLDS_PORTS_LABEL not in values["metadata"]["labels"]


def test_a_runtime_moved_to_the_host_network_in_place_gets_ports_from_the_range(cluster: FakeCluster) -> None:
    other = pair(cluster, "other")
    pair(cluster, master={"networkMode": "ContainerNetwork"}, worker={"networkMode": "ContainerNetwork"})
    cluster.gw.patch(ALLUXIO.resource, NS, NAME, {"spec": {"master": {"networkMode": "HostNetwork"},
                                                           "worker": {"networkMode": "HostNetwork"}}})
    cluster.settle(passes=4)
    moved = running_ports(cluster, NAME)
    assert numbers(moved) <= set(range(20000, 26001)) and not numbers(moved) & numbers(other)
    values = cluster.get(CONFIG_MAP, f"{NAME}-alluxio-values")
    assert numbers(yaml.safe_load(values["data"]["data"])[ports.PORTS_KEY]) == numbers(moved)
    assert values["metadata"]["labels"][ports.HOLDS_PORTS_LABEL] == "true"


def test_a_runtime_made_before_port_allocation_keeps_its_ports(cluster: FakeCluster) -> None:
    pair(cluster)
    values = cluster.get(CONFIG_MAP, f"{NAME}-alluxio-values")
    old = yaml.safe_load(values["data"]["data"])
    del old[ports.PORTS_KEY]
    cluster.gw.patch(CONFIG_MAP, NS, values["metadata"]["name"], {"data": {"data": yaml.safe_dump(old)}})
    cluster.settle(passes=3)
    assert running_ports(cluster, NAME)["master"]["rpc"] == 19998  # the defaults it ran with before


def test_an_exhausted_range_is_a_clear_failure_naming_the_fix(cluster: FakeCluster) -> None:
    cluster.reconciler.settings["port_range"] = "20000-20005"
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest())
    outcome = cluster.settle(passes=3)
    assert outcome.failure is not None
    assert "AlluxioRuntime team/imagenet: no free host port left in 20000-20005" in outcome.failure
    assert "widen the operator's --port-range" in outcome.failure
    assert cluster.get(ALLUXIO.resource, NAME)["status"]["lifecycle"]["state"] == "SettingUpMaster"


def test_shutdown_gives_the_ports_back(cluster: FakeCluster) -> None:
    first = pair(cluster)
    cluster.gw.delete(ALLUXIO.resource, NS, NAME)
    cluster.settle(passes=6)
    assert cluster.gw.get(ALLUXIO.resource, NS, NAME) is None
    again = pair(cluster, "second")
    assert numbers(again) == numbers(first)


@pytest.mark.parametrize("text", ["20000", "b-c", "26000-20000", "0-10", "1-70000"])
def test_a_bad_port_range_is_refused_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape("is not FIRST-LAST within 1-65535, e.g. 20000-26000")):
        parse_port_range(text)
    assert parse_port_range("20000-26000") == (20000, 26000)


def test_the_api_gateway_port_is_the_masters_and_allocated_too(cluster: FakeCluster) -> None:
    first = pair(cluster, apiGateway={"enabled": True})
    second = pair(cluster, "second", apiGateway={"enabled": True})
    assert first["master"]["rest"] != second["master"]["rest"]  # the proxy container's port
    assert not numbers(first) & numbers(second)
    for name, held in ((NAME, first), ("second", second)):
        status = cluster.get(ALLUXIO.resource, name)["status"]
        assert status["apiGateway"]["endpoint"] == f"{name}-master-0.{NS}:{held['master']['rest']}"
        site = cluster.get(CONFIG_MAP, f"{name}-config")["data"]["alluxio-site.properties"]
        assert f"alluxio.proxy.web.port={held['master']['rest']}\n" in site
    own = pair(cluster, "third", apiGateway={"enabled": True, "ports": {"rest": 24000}})
    assert own["master"]["rest"] == 24000


def test_each_recorded_configmap_is_parsed_once_per_version_and_a_changed_one_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    gw = MemoryGateway()
    for i in range(3):
        gw.create({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": f"r{i}-values", "namespace": NS, "ownerReferences": [{"uid": f"rt-{i}"}],
                                "labels": {MANAGED_BY_LABEL: MANAGER, ports.HOLDS_PORTS_LABEL: "true"}},
                   "data": {"data": yaml.safe_dump({ports.PORTS_KEY: {"master": {"rpc": 20000 + i}}})}})
    parsed: list[str] = []
    real = ports.recorded
    monkeypatch.setattr(ports, "recorded", lambda cm: parsed.append(cm["metadata"]["name"]) or real(cm))
    held = ports.Reservations()
    wanted, window = {"master": ["rpc"]}, (20000, 20010)
    assert held.allocate(gw, "new-1", wanted, {}, window, "a")["master"]["rpc"] == 20003
    assert held.allocate(gw, "new-2", wanted, {}, window, "b")["master"]["rpc"] == 20004
    assert sorted(parsed) == ["r0-values", "r1-values", "r2-values"], "parsed again at the same version"
    moved = yaml.safe_dump({ports.PORTS_KEY: {"master": {"rpc": 20005}}})
    gw.patch(CONFIG_MAP, NS, "r0-values", {"data": {"data": moved}})
    held.release("new-1")
    assert held.allocate(gw, "new-3", wanted, {}, window, "c")["master"]["rpc"] == 20000
    assert parsed.count("r0-values") == 2 and len(parsed) == 4


def test_allocation_reads_only_the_configmaps_new_or_changed_since_it_last_read_them() -> None:
    gw = MemoryGateway()
    for i in range(3):
        gw.create({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": f"r{i}-values", "namespace": NS, "ownerReferences": [{"uid": f"rt-{i}"}],
                                "labels": {MANAGED_BY_LABEL: MANAGER, ports.HOLDS_PORTS_LABEL: "true"}},
                   "data": {"data": yaml.safe_dump({ports.PORTS_KEY: {"master": {"rpc": 20000 + i}}})}})
    before = gw.all_objects()
    read: list[str] = []  # the ConfigMaps handed to allocation as objects (each one a decode from a cache)

    def counted(method: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            found = method(*args, **kwargs)
            read.extend(o["metadata"]["name"] for o in (found if isinstance(found, list) else [found] if found else []))
            return found
        return call

    for name in ("get", "list"):
        setattr(gw, name, counted(getattr(gw, name)))
    held, wanted, window = ports.Reservations(), {"master": ["rpc"]}, (20000, 20010)
    assert held.allocate(gw, "new-1", wanted, {}, window, "a")["master"]["rpc"] == 20003
    assert sorted(read) == ["r0-values", "r1-values", "r2-values"]
    read.clear()
    assert held.allocate(gw, "new-2", wanted, {}, window, "b")["master"]["rpc"] == 20004
    assert read == [], "read again at the same versions"
    assert gw.all_objects() == before, "allocation changed an object"
    moved = yaml.safe_dump({ports.PORTS_KEY: {"master": {"rpc": 20009}}})
    gw.patch(CONFIG_MAP, NS, "r1-values", {"data": {"data": moved}})
    gw.delete(CONFIG_MAP, NS, "r2-values")
    assert held.allocate(gw, "new-3", wanted, {}, window, "c")["master"]["rpc"] == 20001
    assert read == ["r1-values"]


def test_a_runtimes_own_values_are_parsed_once_per_version_and_forgotten_with_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    gw = MemoryGateway()
    own = gw.create({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": "r-values", "namespace": NS, "ownerReferences": [{"uid": "rt"}]},
                     "data": {"data": yaml.safe_dump({ports.PORTS_KEY: {"master": {"rpc": 20007}}})}})
    parsed: list[str] = []
    real = ports.recorded
    monkeypatch.setattr(ports, "recorded", lambda cm: parsed.append(cm["metadata"]["name"]) or real(cm))
    held = ports.Reservations()
    defaults = {"master": {"rpc": 19998}}
    for _ in range(3):  # three passes of the runtime
        got = ports.resolve(gw, held, "rt", "rt", defaults, {}, ["master"], own, (20000, 20010))
        assert got["master"]["rpc"] == 20007
    assert parsed == ["r-values"]
    held.release("rt")
    ports.resolve(gw, held, "rt", "rt", defaults, {}, ["master"], own, (20000, 20010))
    assert parsed == ["r-values", "r-values"], "kept after its runtime was released"


def test_the_values_are_dumped_again_only_when_they_change(monkeypatch: pytest.MonkeyPatch) -> None:
    dumps: list[object] = []
    real = valuestext.dump
    monkeypatch.setattr(render.valuestext, "dump", lambda data: dumps.append(data) or real(data))
    shared: dict[str, object] = {}
    first = render.values_text(shared, "rt", {"a": 1, "b": [1, 2]})
    assert render.values_text(shared, "rt", {"b": [1, 2], "a": 1}) == first and len(dumps) == 1
    changed = render.values_text(shared, "rt", {"a": 2, "b": [1, 2]})
    assert changed == yaml.safe_dump({"a": 2, "b": [1, 2]}, sort_keys=True) and len(dumps) == 2
    render.forget(shared, "rt")
    render.values_text(shared, "rt", {"a": 2, "b": [1, 2]})
    assert len(dumps) == 3, "kept after its runtime was shut down"
