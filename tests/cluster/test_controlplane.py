"""The local control plane does what the operator's tests rely on: a real API server of the pinned
version, Ready kwok nodes reached at 127.0.0.1, workload controllers and the scheduler at work, exec into
simulated pods running local processes, failures that name their component, and a `down` that
leaves nothing running.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from lifecycle.k8s.connection import ApiServer
from lifecycle.k8s.podexec import exec_in_pod
from lifecycle.local import COMPONENTS, ComponentError, LocalCluster
from lifecycle.local.binaries import BINARIES, BUILD_SCRIPT, locate
from lifecycle.local.exec_provisioner import EXEC_GROUP, EXEC_PLURAL, EXEC_VERSION
from lifecycle.local.nodes import CAPACITY, KWOK_NODE_ANNOTATION, NODE_IP, node_names
from lifecycle.local.processes import LOOPBACK
from tests.cluster import IMMEDIATE_START, eventually
from tests.cluster.conftest import NODES

pytestmark = pytest.mark.cluster

KUBERNETES_VERSION = "v1.37.2"
POD_TIMEOUT = 60  # kwok's pod stages take 1-5 s each for create and ready, unless IMMEDIATE_START


def _pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": IMMEDIATE_START},
        "spec": {"containers": [{"name": "main", "image": "registry.invalid/standin:1"}]},
    }


def _template(labels: dict[str, str], node_selector: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "main", "image": "registry.invalid/standin:1"}]}
    if node_selector:
        spec["nodeSelector"] = node_selector
    return {"metadata": {"labels": labels}, "spec": spec}


def _ready(pod: client.V1Pod) -> bool:
    status = pod.status
    if status is None or status.phase != "Running":
        return False
    return any(c.type == "Ready" and c.status == "True" for c in status.conditions or [])


def _pods(core: client.CoreV1Api, namespace: str, selector: str) -> list[client.V1Pod]:
    return list(core.list_namespaced_pod(namespace, label_selector=selector).items)


def _running_pod(typed_kube: client.ApiClient, namespace: str, name: str) -> client.V1Pod:
    core = client.CoreV1Api(typed_kube)
    core.create_namespaced_pod(namespace, client.V1Pod.model_validate(_pod(name)))
    return eventually(
        lambda: core.read_namespaced_pod(name, namespace), _ready, POD_TIMEOUT, f"pod {name} Running and Ready"
    )


def _exec_object(typed_kube: client.ApiClient, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = client.CustomObjectsApi(typed_kube).get_namespaced_custom_object(
            EXEC_GROUP, EXEC_VERSION, namespace, EXEC_PLURAL, name
        )
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return found


def test_the_api_server_reports_the_pinned_version(typed_kube: client.ApiClient) -> None:
    assert client.VersionApi(typed_kube).get_code().git_version == KUBERNETES_VERSION


def test_nodes_are_ready_at_loopback_with_labels_and_capacity(cluster: LocalCluster,
                                                             typed_kube: client.ApiClient) -> None:
    nodes = client.CoreV1Api(typed_kube).list_node().items
    assert sorted(n.metadata.name for n in nodes if n.metadata) == node_names(NODES)
    assert cluster.ports is not None
    for node in nodes:
        assert node.metadata is not None and node.status is not None and node.spec is not None
        name = node.metadata.name
        assert node.metadata.labels is not None and node.metadata.annotations is not None
        assert node.metadata.labels["kubernetes.io/hostname"] == name
        assert node.metadata.labels["kubernetes.io/os"] == "linux"
        assert node.metadata.labels["type"] == "kwok"
        assert node.metadata.annotations[KWOK_NODE_ANNOTATION] == "fake"
        assert node.status.capacity == CAPACITY
        assert node.status.allocatable == CAPACITY
        conditions = {c.type: c.status for c in node.status.conditions or []}
        assert conditions["Ready"] == "True", name
        # Untainted, so DaemonSet pods without tolerations land on every node.
        assert not node.spec.taints, name
        # The API server dials the InternalDNS address for exec and logs: only ever kwok on the
        # loopback interface. The InternalIP is never dialled.
        addresses = {a.type: a.address for a in node.status.addresses or []}
        assert addresses == {"InternalDNS": LOOPBACK, "InternalIP": NODE_IP, "Hostname": name}, name
        assert node.status.daemon_endpoints is not None
        assert node.status.daemon_endpoints.kubelet_endpoint is not None
        assert node.status.daemon_endpoints.kubelet_endpoint.port == cluster.ports.kwok


def test_statefulset_pods_run_and_get_ready_on_kwok_nodes(typed_kube: client.ApiClient, namespace: str) -> None:
    apps, core = client.AppsV1Api(typed_kube), client.CoreV1Api(typed_kube)
    labels = {"app": "web"}
    statefulset = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "web"},
        "spec": {
            "serviceName": "web",
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": _template(labels),
        },
    }
    apps.create_namespaced_stateful_set(namespace, client.V1StatefulSet.model_validate(statefulset))

    pods = eventually(
        lambda: _pods(core, namespace, "app=web"),
        lambda pods: len(pods) == 2 and all(_ready(p) for p in pods),
        2 * POD_TIMEOUT,
        "2 StatefulSet pods Running and Ready",
    )
    assert sorted(p.metadata.name for p in pods if p.metadata) == ["web-0", "web-1"]
    assert {p.spec.node_name for p in pods if p.spec} <= set(node_names(NODES))
    eventually(
        lambda: apps.read_namespaced_stateful_set("web", namespace).status,
        lambda status: status is not None and status.ready_replicas == 2,
        10,
        "the StatefulSet's readyReplicas at 2",
    )


def test_a_service_of_host_network_pods_gets_their_endpoints(typed_kube: client.ApiClient, namespace: str) -> None:
    """Cache masters and workers run on the host network, so their pod IP is the node's InternalIP;
    a loopback one is refused by the endpoints controllers, which then retry every such Service
    for good and fill the API server with failed writes and events."""
    core, discovery = client.CoreV1Api(typed_kube), client.DiscoveryV1Api(typed_kube)
    pod = _pod("master-0")
    pod["metadata"]["labels"] = {"app": "master"}
    pod["spec"]["hostNetwork"] = True
    core.create_namespaced_pod(namespace, client.V1Pod.model_validate(pod))
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "master-0"},
               "spec": {"clusterIP": "None", "selector": {"app": "master"}, "ports": [{"name": "rpc", "port": 19998}]}}
    core.create_namespaced_service(namespace, client.V1Service.model_validate(service))

    def addresses() -> list[str]:
        selector = "kubernetes.io/service-name=master-0"
        slices = discovery.list_namespaced_endpoint_slice(namespace, label_selector=selector)
        return [a for s in slices.items for e in s.endpoints or [] for a in e.addresses]

    found = eventually(addresses, lambda found: found == [NODE_IP], POD_TIMEOUT, "the Service's endpoint slice")
    assert found == [NODE_IP]
    failed = core.list_namespaced_event(namespace, field_selector="involvedObject.name=master-0")
    assert not [e.reason for e in failed.items if (e.reason or "").startswith("Failed")]


def test_daemonset_lands_only_on_nodes_with_its_node_selector(typed_kube: client.ApiClient, namespace: str) -> None:
    apps, core = client.AppsV1Api(typed_kube), client.CoreV1Api(typed_kube)
    # The namespace is unique, so the label value keeps parallel runs and reruns apart.
    key = "fluidlc.test/daemonset-target"
    chosen = node_names(NODES)[::2]
    for name in chosen:
        core.patch_node(name, {"metadata": {"labels": {key: namespace}}})
    try:
        labels = {"app": "agent"}
        daemonset = {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent"},
            "spec": {"selector": {"matchLabels": labels}, "template": _template(labels, {key: namespace})},
        }
        apps.create_namespaced_daemon_set(namespace, client.V1DaemonSet.model_validate(daemonset))

        pods = eventually(
            lambda: _pods(core, namespace, "app=agent"),
            lambda pods: len(pods) == len(chosen) and all(_ready(p) for p in pods),
            POD_TIMEOUT,
            f"DaemonSet pods Running on {chosen}",
        )
        assert sorted(p.spec.node_name for p in pods if p.spec and p.spec.node_name) == chosen
        status = apps.read_namespaced_daemon_set("agent", namespace).status
        assert status is not None and status.desired_number_scheduled == len(chosen)
    finally:
        for name in chosen:
            core.patch_node(name, {"metadata": {"labels": {key: None}}})


def test_exec_runs_a_local_process_that_knows_its_pod(
    cluster: LocalCluster, kube: ApiServer, typed_kube: client.ApiClient, namespace: str
) -> None:
    _running_pod(typed_kube, namespace, "master-0")
    state_dir = cluster.dir / "exec" / namespace / "master-0"

    result = exec_in_pod(
        kube, namespace, "master-0",
        ["sh", "-c", 'echo "$STANDIN_POD"; pwd; echo "$STANDIN_UFS_ROOT"; echo from-the-pod > marker'],
    )  # fmt: skip

    assert result.returncode == 0, result
    assert result.stdout.splitlines() == [f"{namespace}/master-0", str(state_dir), str(cluster.dir / "ufs")]
    # The command ran as a local process: what it wrote is in the pod's state directory on this host.
    assert (state_dir / "marker").read_text() == "from-the-pod\n"


def test_exec_reports_the_exit_code_and_finds_the_standin_cache_clis(
    cluster: LocalCluster, kube: ApiServer, typed_kube: client.ApiClient, namespace: str
) -> None:
    _running_pod(typed_kube, namespace, "master-0")

    failed = exec_in_pod(kube, namespace, "master-0", ["sh", "-c", "echo oops >&2; exit 3"])
    assert (failed.returncode, failed.stderr) == (3, "oops\n")

    which = "for tool in alluxio jindocache; do command -v $tool; done"
    found = exec_in_pod(kube, namespace, "master-0", ["sh", "-c", which])
    standin_bin = cluster.layout.standin_bin
    assert found.stdout.splitlines() == [str(standin_bin / "alluxio"), str(standin_bin / "jindocache")]
    # Until its Exec exists, kwok runs an exec without the pod's state directory: wait for it.
    eventually(lambda: _exec_object(typed_kube, namespace, "master-0"), bool, 15, "the pod's Exec")
    version = exec_in_pod(kube, namespace, "master-0", ["alluxio", "version"])
    assert (version.returncode, version.stdout.strip()) == (0, "2.8.1"), version


def test_the_exec_of_a_pod_goes_away_with_the_pod(typed_kube: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(typed_kube)
    core.create_namespaced_pod(namespace, client.V1Pod.model_validate(_pod("short-lived")))
    eventually(lambda: _exec_object(typed_kube, namespace, "short-lived"), bool, 15, "the pod's Exec")

    core.delete_namespaced_pod("short-lived", namespace, grace_period_seconds=0)

    eventually(lambda: _exec_object(typed_kube, namespace, "short-lived"), lambda e: e is None, 30, "the Exec deleted")


def test_the_exec_provisioner_survives_an_api_server_restart(
    cluster: LocalCluster, kube: ApiServer, typed_kube: client.ApiClient, namespace: str
) -> None:
    before = {s.name: s.pid for s in cluster.status()}

    cluster.restart("kube-apiserver")

    _running_pod(typed_kube, namespace, "after-restart")
    eventually(lambda: _exec_object(typed_kube, namespace, "after-restart"), bool, 30, "an Exec for the new pod")
    result = exec_in_pod(kube, namespace, "after-restart", ["sh", "-c", 'echo "$STANDIN_POD"'])
    assert result.stdout == f"{namespace}/after-restart\n"
    after = {s.name: s.pid for s in cluster.status()}
    assert after["exec-provisioner"] == before["exec-provisioner"]
    assert after["kube-apiserver"] != before["kube-apiserver"]


def _fake_build(tmp_path: Path, etcd_script: str) -> Path:
    """A copy of the real build (symlinks) whose etcd is the given shell script."""
    real = locate()
    fake = tmp_path / "build"
    (fake / "bin").mkdir(parents=True)
    for name in ("stages", "crds"):
        (fake / name).symlink_to(real.bin_dir.parent / name)
    for name in BINARIES:
        if name != "etcd":
            (fake / "bin" / name).symlink_to(real.binary(name))
    etcd = fake / "bin" / "etcd"
    etcd.write_text(etcd_script)
    etcd.chmod(0o755)
    return fake / "bin"


def test_up_names_a_component_that_exits_and_its_log(tmp_path: Path) -> None:
    bin_dir = _fake_build(tmp_path, "#!/bin/sh\necho 'etcd: member has no data dir, giving up' >&2\nexit 3\n")
    broken = LocalCluster("broken", tmp_path / "cluster", bin_dir=bin_dir, tie_to_caller=True)

    with pytest.raises(ComponentError) as failure:
        broken.up(nodes=1)

    error = failure.value
    assert error.component == "etcd"
    assert "exited with code 3" in error.problem
    assert error.log == broken.dir / "logs" / "etcd.log"
    message = str(error)
    assert str(error.log) in message
    assert "giving up" in message  # the last lines of the log are part of the message
    assert broken.running() == []


def test_up_names_a_component_that_never_gets_ready(tmp_path: Path) -> None:
    bin_dir = _fake_build(tmp_path, "#!/bin/sh\necho 'etcd: waiting forever'\nexec sleep 300\n")
    stuck = LocalCluster("stuck", tmp_path / "cluster", bin_dir=bin_dir, timeouts={"etcd": 1.5}, tie_to_caller=True)

    with pytest.raises(ComponentError) as failure:
        stuck.up(nodes=1)

    error = failure.value
    assert error.component == "etcd"
    assert "not ready within 1.5s" in error.problem
    assert "waiting forever" in str(error)
    # The hanging process was stopped on the way out.
    assert stuck.running() == []
    assert not (stuck.dir / "run" / "etcd.pid").exists()


def test_up_names_missing_binaries(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()

    with pytest.raises(ComponentError) as failure:
        LocalCluster("empty", tmp_path / "cluster", bin_dir=empty).up(nodes=1)

    assert failure.value.component == "binaries"
    assert str(empty / "kube-apiserver") in failure.value.problem
    assert str(BUILD_SCRIPT) in failure.value.fix


def test_down_leaves_no_process_and_up_resumes_the_cluster(cluster: LocalCluster, typed_kube: client.ApiClient) -> None:
    # Last in the module: it takes the session's cluster down and brings it back for later modules.
    pids = {s.name: s.pid for s in cluster.status() if s.running}
    assert sorted(pids) == sorted(COMPONENTS)
    core = client.CoreV1Api(typed_kube)
    core.create_namespaced_config_map("default", client.V1ConfigMap.model_validate({"metadata": {"name": "kept"}}))

    stopped = cluster.down()

    assert sorted(stopped) == sorted(COMPONENTS)
    for name, pid in pids.items():
        assert pid is not None
        assert not Path(f"/proc/{pid}").exists(), f"{name} (pid {pid}) still exists"
        # Nothing it spawned into its process group is left either.
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)
    assert cluster.running() == []

    ports = cluster.ports
    cluster.up(nodes=NODES)

    # Same ports, so existing kubeconfigs and clients keep working, and the objects are still there.
    assert cluster.ports == ports
    assert client.VersionApi(typed_kube).get_code().git_version == KUBERNETES_VERSION
    assert core.read_namespaced_config_map("kept", "default").metadata is not None
