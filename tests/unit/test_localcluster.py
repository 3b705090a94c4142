"""The parts of the local control plane that need no cluster: PKI files, the kubeconfig, free ports,
pid files and stopping by PID, and the manifests and exit-code handling used against kwok.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lifecycle.k8s.podexec import ExecNotKnownYet, PodExecError, _returncode
from lifecycle.local import nodes
from lifecycle.local.binaries import ControlPlaneBuild
from lifecycle.local.components import Layout, Ports, command
from lifecycle.local.exec_provisioner import MANAGED_BY_LABEL, MANAGER, exec_manifest, pod_root
from lifecycle.local.pki import Pki, ensure_pki, kubeconfig, write_kubeconfig
from lifecycle.local.processes import (
    Process,
    free_port,
    port_is_free,
    process_start_time,
    read_pid_file,
    write_pid_file,
)
from lifecycle.local.projection import write_pod_root


def _openssl_text(cert: Path, *options: str) -> str:
    result = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", *options], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return ensure_pki(tmp_path_factory.mktemp("pki"))


def test_pki_writes_every_file_with_private_keys_private(pki: Pki) -> None:
    for path in pki.files():
        assert path.stat().st_size > 0, path
    for key in (pki.ca_key, pki.serving_key, pki.admin_key, pki.service_account_key):
        assert key.stat().st_mode & 0o077 == 0, key


def test_serving_certificate_names_loopback_and_the_in_cluster_service(pki: Pki) -> None:
    sans = _openssl_text(pki.serving_cert, "-ext", "subjectAltName")
    for name in ("IP Address:127.0.0.1", "IP Address:10.96.0.1", "DNS:localhost", "DNS:kubernetes",
                 "DNS:kubernetes.default", "DNS:kubernetes.default.svc"):  # fmt: skip
        assert name in sans
    verify = subprocess.run(
        ["openssl", "verify", "-CAfile", str(pki.ca_cert), str(pki.serving_cert), str(pki.admin_cert)],
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_admin_certificate_is_a_system_masters_client(pki: Pki) -> None:
    assert "O = system:masters" in _openssl_text(pki.admin_cert, "-subject")
    assert "TLS Web Client Authentication" in _openssl_text(pki.admin_cert, "-ext", "extendedKeyUsage")


def test_existing_pki_is_kept(pki: Pki) -> None:
    before = {p: p.read_bytes() for p in pki.files()}
    ensure_pki(pki.dir)
    assert {p: p.read_bytes() for p in pki.files()} == before


def test_kubeconfig_points_at_loopback_with_embedded_credentials(pki: Pki, tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "kubeconfig", pki, "https://127.0.0.1:6443", "dev")
    config = yaml.safe_load(path.read_text())
    assert config == kubeconfig(pki, "https://127.0.0.1:6443", "dev")
    assert config["current-context"] == "fluidlc-dev"
    (cluster,) = config["clusters"]
    assert cluster["cluster"]["server"] == "https://127.0.0.1:6443"
    assert base64.b64decode(cluster["cluster"]["certificate-authority-data"]) == pki.ca_cert.read_bytes()
    (user,) = config["users"]
    assert base64.b64decode(user["user"]["client-certificate-data"]) == pki.admin_cert.read_bytes()
    assert base64.b64decode(user["user"]["client-key-data"]) == pki.admin_key.read_bytes()
    assert path.stat().st_mode & 0o077 == 0


def test_free_port_is_bindable_and_a_listening_port_is_not_free() -> None:
    port = free_port()
    assert port_is_free(port)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        assert not port_is_free(port)


def test_pid_file_records_the_process_and_notices_when_it_is_gone(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        recorded = write_pid_file(tmp_path / "x.pid", child.pid)
        assert read_pid_file(tmp_path / "x.pid") == recorded
        assert recorded.alive()
        # Same PID with another start time: a different process, never to be signalled.
        assert not type(recorded)(recorded.pid, "1").alive()
    finally:
        child.kill()
        child.wait()
    assert not recorded.alive()
    assert process_start_time(child.pid) is None


def test_unreadable_pid_file_means_no_process(tmp_path: Path) -> None:
    (tmp_path / "bad.pid").write_text("not a pid\n")
    assert read_pid_file(tmp_path / "bad.pid") is None
    assert read_pid_file(tmp_path / "missing.pid") is None


@pytest.mark.parametrize("tied", [True, False], ids=["tied-to-caller", "detached"])
def test_stop_ends_the_process_and_what_it_spawned(tmp_path: Path, tied: bool) -> None:
    grandchild_pid = tmp_path / "grandchild"
    script = f"sleep 300 & echo $! > {grandchild_pid}; echo started; wait"
    process = Process("sleeper", ["/bin/sh", "-c", script], tmp_path / "sleeper.log", tmp_path / "sleeper.pid")
    recorded = process.start(tie_to_caller=tied)
    deadline = time.monotonic() + 10
    while not grandchild_pid.exists() or not grandchild_pid.read_text().strip():
        assert time.monotonic() < deadline, "the script did not start its child"
        time.sleep(0.05)
    grandchild = int(grandchild_pid.read_text())
    assert process.running()

    assert process.stop(grace=5)

    assert not process.running()
    assert not recorded.alive()
    assert not (tmp_path / "sleeper.pid").exists()
    deadline = time.monotonic() + 5
    while process_start_time(grandchild) is not None:
        assert time.monotonic() < deadline, "the spawned sleep survived"
        time.sleep(0.05)
    assert "starting: /bin/sh -c" in (tmp_path / "sleeper.log").read_text()


def test_stop_of_a_process_that_is_not_running_is_a_no_op(tmp_path: Path) -> None:
    process = Process("gone", ["/bin/true"], tmp_path / "gone.log", tmp_path / "gone.pid")
    assert not process.stop()


def test_every_server_binds_loopback_only(tmp_path: Path) -> None:
    ports = Ports(2379, 2380, 6443, 10257, 10259, 10250)
    build = ControlPlaneBuild(tmp_path / "bin")
    layout = Layout(tmp_path)
    argv = {name: command(name, layout, ports, build) for name in
            ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")}  # fmt: skip
    assert "--listen-client-urls=http://127.0.0.1:2379" in argv["etcd"]
    assert "--listen-peer-urls=http://127.0.0.1:2380" in argv["etcd"]
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        assert "--bind-address=127.0.0.1" in argv[name]
    assert "--advertise-address=127.0.0.1" in argv["kube-apiserver"]
    assert "--server-address=127.0.0.1:10250" in argv["kwok"]
    # The API server reaches kwok at a node's InternalDNS address (loopback); its InternalIP is
    # never dialled.
    assert "--kubelet-preferred-address-types=InternalDNS" in argv["kube-apiserver"]
    assert "--node-ip=192.0.2.1" in argv["kwok"]
    assert "--enable-crds=Exec,ClusterExec" in argv["kwok"]
    assert ports.of("etcd") == 2379 and ports.of("kwok") == 10250 and ports.of("exec-provisioner") is None


def test_node_manifest_is_untainted_reached_at_loopback_with_kwok_as_kubelet() -> None:
    node = nodes.node_manifest("kwok-node-0", 10250)
    assert node["metadata"]["annotations"] == {"kwok.x-k8s.io/node": "fake"}
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "kwok-node-0"
    assert node["metadata"]["labels"]["type"] == "kwok"
    assert "taints" not in node["spec"]
    addresses = {a["type"]: a["address"] for a in node["status"]["addresses"]}
    # The API server dials the InternalDNS address; the InternalIP is one the endpoints controllers
    # accept for host-network pods (not a loopback address) and nothing dials.
    assert addresses == {"InternalDNS": "127.0.0.1", "InternalIP": "192.0.2.1", "Hostname": "kwok-node-0"}
    assert node["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert node["status"]["capacity"] == {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "1Ti"}


def test_exec_manifest_gives_the_pod_its_identity_and_state_directory(tmp_path: Path) -> None:
    manifest = exec_manifest(tmp_path, "ns1", "master-0")
    assert manifest["kind"] == "Exec" and manifest["apiVersion"] == "kwok.x-k8s.io/v1alpha1"
    assert manifest["metadata"] == {"name": "master-0", "namespace": "ns1", "labels": {MANAGED_BY_LABEL: MANAGER}}
    (target,) = manifest["spec"]["execs"]
    assert target["local"]["workDir"] == str(tmp_path / "exec" / "ns1" / "master-0")
    assert {e["name"]: e["value"] for e in target["local"]["envs"]} == {
        "STANDIN_POD": "ns1/master-0",
        "STANDIN_STATE_DIR": str(tmp_path / "exec" / "ns1" / "master-0"),
        "STANDIN_UFS_ROOT": str(tmp_path / "ufs"),
        "STANDIN_POD_ROOT": str(pod_root(tmp_path, "ns1", "master-0")),
    }
    # The files of the pod's Secret volumes are kept outside the cluster folder.
    assert tmp_path not in pod_root(tmp_path, "ns1", "master-0").parents


def test_exit_codes_are_recovered_from_kwok_failure_messages() -> None:
    assert _returncode(None, "pod a/b") == 0
    assert _returncode({"status": "Success"}, "pod a/b") == 0
    kwok = "Internal error occurred: error executing command in container: cmd wait: sh -c exit 3: exit status 3"
    assert _returncode({"status": "Failure", "message": kwok}, "pod a/b") == 3
    kubelet = {"status": "Failure", "details": {"causes": [{"reason": "ExitCode", "message": "7"}]}}
    assert _returncode(kubelet, "pod a/b") == 7
    with pytest.raises(ExecNotKnownYet, match="no exec found"):
        _returncode({"status": "Failure", "message": 'no exec found for container "main"'}, "pod a/b")
    with pytest.raises(PodExecError, match="executable file not found") as failure:
        _returncode({"status": "Failure", "message": 'cmd start: exec: "x": executable file not found'}, "pod a/b")
    assert not isinstance(failure.value, ExecNotKnownYet)


def test_an_exec_timeout_names_the_program_but_not_its_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mount options with secrets travel in argv; an error that reaches events must not carry them."""
    import websocket

    from lifecycle.k8s import podexec
    from lifecycle.k8s.connection import ApiServer
    from lifecycle.k8s.kubeconfig import Target

    class Silent:
        """A websocket on which the command never finishes."""
        sock = None
        closed = False

        def settimeout(self, timeout: float) -> None:
            return None

        def recv_data(self) -> tuple[int, bytes]:
            raise websocket.WebSocketTimeoutException("timed out")

        def shutdown(self) -> None:
            self.closed = True

    silent = Silent()
    runner = podexec.PodExec(ApiServer(Target("https://127.0.0.1:1", "a test", verify=False)))
    monkeypatch.setattr(runner, "_connect", lambda *args: silent)
    with pytest.raises(PodExecError) as err:
        runner.run("ns", "master-0", ["alluxio", "fs", "mount", "--option", "secret=hunter2"], timeout=0.1)
    assert "'alluxio'" in str(err.value) and "within 0.1s" in str(err.value) and "hunter2" not in str(err.value)
    assert silent.closed


def test_exec_through_a_proxy_is_refused_with_the_fix() -> None:
    from lifecycle.k8s import podexec
    from lifecycle.k8s.connection import ApiServer
    from lifecycle.k8s.kubeconfig import Target

    proxied = ApiServer(Target("https://127.0.0.1:1", "a test", verify=False, proxy="http://127.0.0.1:3128"))
    with pytest.raises(PodExecError, match="remove proxy-url"):
        podexec.PodExec(proxied)


def test_extra_flags_reach_only_their_component(tmp_path: Path) -> None:
    import json

    from lifecycle.local import LocalCluster

    cluster = LocalCluster("flags", tmp_path, extra_args={"kube-controller-manager": ("--kube-api-qps=200",)})
    cluster.layout.state_file.parent.mkdir(parents=True, exist_ok=True)
    cluster.layout.state_file.write_text(json.dumps({
        "ports": Ports(2379, 2380, 6443, 10257, 10259, 10250).to_json(), "bin_dir": str(tmp_path / "bin")}))
    assert cluster._process("kube-controller-manager").argv[-1] == "--kube-api-qps=200"
    assert "--kube-api-qps=200" not in cluster._process("kube-scheduler").argv


def test_a_pod_root_is_rewritten_only_when_its_files_change(tmp_path: Path) -> None:
    root = tmp_path / "pods" / "ns1_master-0"
    write_pod_root(root, {"/etc/a.conf": b"one"})
    first = os.readlink(root)
    stamp = (root / "etc/a.conf").stat().st_mtime_ns
    write_pod_root(root, {"/etc/a.conf": b"one"})
    assert os.readlink(root) == first and (root / "etc/a.conf").stat().st_mtime_ns == stamp
    write_pod_root(root, {"/etc/a.conf": b"two", "/etc/b": b""})
    assert (root / "etc/a.conf").read_bytes() == b"two" and (root / "etc/b").exists()
    assert [p.name for p in root.parent.iterdir() if p.is_dir() and not p.is_symlink()] == [os.readlink(root)]
