"""What each control-plane component is started with and how its readiness is checked.

Every server binds 127.0.0.1 on a port picked for this cluster. The flags that make a loopback-only
API server work (advertise address, no endpoint reconciler, kubelet address type) are explained
where they are set.
"""

from __future__ import annotations

import http.client
import json
import os
import shlex
import ssl
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from lifecycle.local.binaries import ControlPlaneBuild
from lifecycle.local.nodes import NODE_IP
from lifecycle.local.pki import SERVICE_CLUSTER_IP_RANGE, Pki
from lifecycle.local.processes import LOOPBACK

# In start order; `down` stops them in reverse.
COMPONENTS = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "exec-provisioner",
)
# The cache CLIs engines run in master pods; kwok finds a shim of each first on its PATH.
STANDIN_TOOLS = ("alluxio", "jindocache", "jindo")
# The folder holding the stand-ins' package, and how a shim starts it: as the top-level package
# ``standin``, the folder appended to sys.path so it can shadow nothing of the standard library.
STANDIN_HOME = Path(__file__).resolve().parent
# (It imports the entry point itself: runpy adds imports the stand-ins need nothing of.)
_STANDIN_BOOT = 'import sys; sys.path.append({folder}); from standin.__main__ import main; sys.exit(main())'
POD_CIDR = "10.0.0.0/16"
NODE_LEASE_SECONDS = 40


@dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    kube_apiserver: int
    kube_controller_manager: int
    kube_scheduler: int
    kwok: int

    def of(self, component: str) -> int | None:
        """The port a component serves on (etcd: its client port); None for the exec provisioner."""
        name = "etcd_client" if component == "etcd" else component.replace("-", "_")
        port: int | None = asdict(self).get(name)
        return port

    def to_json(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class ComponentStatus:
    """What ``fluidlc cluster status`` shows of one component."""

    name: str
    running: bool
    pid: int | None
    port: int | None
    log: Path
    rss_bytes: int | None


@dataclass(frozen=True)
class Layout:
    """Where a cluster keeps its files; everything lives in one folder."""

    dir: Path

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    @property
    def state_file(self) -> Path:
        return self.dir / "cluster.json"

    @property
    def pki(self) -> Pki:
        return Pki(self.dir / "pki")

    @property
    def etcd_data(self) -> Path:
        return self.dir / "etcd"

    @property
    def exec_dir(self) -> Path:
        return self.dir / "exec"

    @property
    def ufs(self) -> Path:
        return self.dir / "ufs"

    @property
    def standin_bin(self) -> Path:
        return self.dir / "standin-bin"

    @property
    def logs(self) -> Path:
        return self.dir / "logs"

    @property
    def run(self) -> Path:
        return self.dir / "run"

    @property
    def provisioner_ready(self) -> Path:
        return self.run / "exec-provisioner.ready"

    def log(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    @property
    def audit_policy(self) -> Path:
        return self.dir / "audit-policy.yaml"

    @property
    def audit_log(self) -> Path:
        return self.logs / "audit.log"

    def pid_file(self, component: str) -> Path:
        return self.run / f"{component}.pid"


def command(component: str, layout: Layout, ports: Ports, build: ControlPlaneBuild) -> list[str]:
    pki = layout.pki
    serving = [f"--tls-cert-file={pki.serving_cert}", f"--tls-private-key-file={pki.serving_key}"]
    client_kubeconfig = [
        f"--kubeconfig={layout.kubeconfig}",
        f"--authentication-kubeconfig={layout.kubeconfig}",
        f"--authorization-kubeconfig={layout.kubeconfig}",
    ]
    if component == "etcd":
        client_url = f"http://{LOOPBACK}:{ports.etcd_client}"
        peer_url = f"http://{LOOPBACK}:{ports.etcd_peer}"
        return [
            str(build.binary("etcd")),
            "--name=default",
            f"--data-dir={layout.etcd_data}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}",
            # A throwaway cluster: losing the last writes on a host crash is fine, fsync latency is not.
            "--unsafe-no-fsync",
            "--log-level=warn",
        ]
    if component == "kube-apiserver":
        return [
            str(build.binary("kube-apiserver")),
            f"--etcd-servers=http://{LOOPBACK}:{ports.etcd_client}",
            f"--bind-address={LOOPBACK}",
            f"--secure-port={ports.kube_apiserver}",
            # Without an explicit advertise address the API server looks for a default route.
            f"--advertise-address={LOOPBACK}",
            # The default reconciler rejects a loopback address for the `kubernetes` endpoints.
            "--endpoint-reconciler-type=none",
            *serving,
            f"--client-ca-file={pki.ca_cert}",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={pki.service_account_pub}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            f"--encryption-provider-config={pki.encryption_config}",
            "--authorization-mode=Node,RBAC",
            "--allow-privileged=true",
            # exec/logs go to kwok's kubelet endpoint: authenticate as admin, verify kwok's certificate
            # (our serving certificate) and dial the node's InternalDNS address, which is 127.0.0.1
            # (its InternalIP is one nothing dials: ``lifecycle.local.nodes``).
            f"--kubelet-client-certificate={pki.admin_cert}",
            f"--kubelet-client-key={pki.admin_key}",
            f"--kubelet-certificate-authority={pki.ca_cert}",
            "--kubelet-preferred-address-types=InternalDNS",
            # Open watches would otherwise hold a stopping API server until it is killed.
            "--shutdown-watch-termination-grace-period=1s",
            "--profiling=false",
        ]
    if component == "kube-controller-manager":
        return [
            str(build.binary("kube-controller-manager")),
            *client_kubeconfig,
            "--leader-elect=false",
            f"--bind-address={LOOPBACK}",
            f"--secure-port={ports.kube_controller_manager}",
            *serving,
            f"--service-account-private-key-file={pki.service_account_key}",
            f"--root-ca-file={pki.ca_cert}",
            f"--cluster-signing-cert-file={pki.ca_cert}",
            f"--cluster-signing-key-file={pki.ca_key}",
            "--use-service-account-credentials=false",
            # All default controllers: garbage collector, StatefulSet, DaemonSet, PVC protection, ...
            "--controllers=*",
            "--profiling=false",
        ]
    if component == "kube-scheduler":
        return [
            str(build.binary("kube-scheduler")),
            *client_kubeconfig,
            "--leader-elect=false",
            f"--bind-address={LOOPBACK}",
            f"--secure-port={ports.kube_scheduler}",
            *serving,
            "--profiling=false",
        ]
    if component == "kwok":
        return [
            str(build.binary("kwok")),
            f"--kubeconfig={layout.kubeconfig}",
            *(f"--config={stage}" for stage in build.stages),
            "--manage-all-nodes=true",
            # kwok's kubelet-like server; it serves exec for the pods on every simulated node.
            f"--server-address={LOOPBACK}:{ports.kwok}",
            *serving,
            # Node status templates fill in these when a node lacks them.
            f"--node-ip={NODE_IP}",
            f"--node-port={ports.kwok}",
            f"--node-lease-duration-seconds={NODE_LEASE_SECONDS}",
            f"--cidr={POD_CIDR}",
            "--enable-crds=Exec,ClusterExec",
        ]
    if component == "exec-provisioner":
        return [
            sys.executable,
            "-m",
            "lifecycle.local.exec_provisioner",
            f"--kubeconfig={layout.kubeconfig}",
            f"--cluster-dir={layout.dir}",
            f"--ready-file={layout.provisioner_ready}",
        ]
    raise ValueError(f"unknown control-plane component {component!r}; known: {', '.join(COMPONENTS)}")


def audit_args(layout: Layout) -> tuple[str, ...]:
    """The API server's flags for an audit log of every request, as JSON lines in logs/audit.log."""
    return (f"--audit-policy-file={layout.audit_policy}", f"--audit-log-path={layout.audit_log}",
            "--audit-log-format=json")


def write_audit_policy(layout: Layout, level: str) -> None:
    """One rule: every request at ``level`` (Metadata, Request or RequestResponse)."""
    policy = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": level}]}
    layout.audit_policy.write_text(json.dumps(policy))


def standin_command(python: str = sys.executable) -> list[str]:
    """The command a shim runs, before the tool's name and arguments."""
    return [python, "-I", "-S", "-c", _STANDIN_BOOT.format(folder=json.dumps(str(STANDIN_HOME)))]


def write_standin_shims(layout: Layout, python: str = sys.executable) -> list[Path]:
    """One executable per stand-in cache CLI in ``layout.standin_bin``: the package
    ``lifecycle.local.standin`` run as the top-level ``standin`` by the interpreter fluidlc runs on,
    isolated (``-I -S``: no site-packages, no environment), so an exec finds the installed stand-ins
    wherever they are and imports nothing of the operator."""
    layout.standin_bin.mkdir(parents=True, exist_ok=True)
    written = []
    for tool in STANDIN_TOOLS:
        shim = layout.standin_bin / tool
        text = (f"#!/bin/sh\n# Stand-in for the `{tool}` CLI of a cache master pod, written by `fluidlc cluster up`.\n"
                f"exec {shlex.join(standin_command(python))} {tool} \"$@\"\n")
        if not shim.exists() or shim.read_text() != text:
            tmp = shim.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.chmod(0o755)
            tmp.replace(shim)
        written.append(shim)
    return written


def environment(component: str, layout: Layout) -> dict[str, str] | None:
    """Environment overrides; None inherits the caller's environment unchanged."""
    if component == "kwok":
        # Exec commands run as kwok's children and resolve through its PATH: the stand-in cache CLIs
        # (`alluxio`, `jindocache`, `jindo`) first, then this interpreter's bin directory for `python3`.
        env = dict(os.environ)
        path = [str(layout.standin_bin), str(Path(sys.executable).parent), env.get("PATH", os.defpath)]
        env["PATH"] = os.pathsep.join(path)
        return env
    return None


FIXES = {
    "etcd": "look for the cause in the log; 'address already in use' means another process holds the port: "
    "run `fluidlc cluster down` for a stale cluster, or use another --name",
    "kube-apiserver": "look for the cause in the log; on a loaded machine raise the timeout "
    "(LocalCluster(timeouts={'kube-apiserver': ...}))",
    "kube-controller-manager": "look for the cause in the log; it needs a working kube-apiserver",
    "kube-scheduler": "look for the cause in the log; it needs a working kube-apiserver",
    "kwok": "look for the cause in the log; the stage and CRD files come from the control-plane build (build.sh)",
    "exec-provisioner": "look for the traceback in the log; it runs "
    "`python -m lifecycle.local.exec_provisioner` with this interpreter",
}


def _get(port: int, path: str, context: ssl.SSLContext | None) -> tuple[int, str]:
    conn: http.client.HTTPConnection
    if context is None:
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=3)
    else:
        conn = http.client.HTTPSConnection(LOOPBACK, port, timeout=3, context=context)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read(2048).decode("utf-8", errors="replace").strip()
    finally:
        conn.close()


def tls_context(pki: Pki, client_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    if client_cert:
        context.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
    return context


def probe(component: str, layout: Layout, ports: Ports) -> tuple[bool, str]:
    """One readiness check: (ready, what was seen)."""
    try:
        if component == "etcd":
            status, body = _get(ports.etcd_client, "/health", None)
            return status == 200 and json.loads(body).get("health") == "true", f"/health: {status} {body}"
        if component == "kube-apiserver":
            # With the admin certificate: anonymous requests are refused while RBAC bootstraps.
            status, body = _get(ports.kube_apiserver, "/readyz", tls_context(layout.pki, client_cert=True))
            return status == 200, f"/readyz: {status} {body[-300:]}"
        if component in ("kube-controller-manager", "kube-scheduler"):
            port = ports.of(component)
            assert port is not None
            status, body = _get(port, "/healthz", tls_context(layout.pki, client_cert=False))
            return status == 200, f"/healthz: {status} {body}"
        if component == "kwok":
            status, body = _get(ports.kwok, "/healthz", None)
            return status == 200, f"/healthz: {status} {body}"
        if component == "exec-provisioner":
            ready = layout.provisioner_ready.exists()
            return ready, "initial sync done" if ready else "initial sync not done yet"
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    raise ValueError(f"unknown control-plane component {component!r}")
