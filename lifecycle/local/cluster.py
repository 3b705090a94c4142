"""LocalCluster: bring a local control plane up, report on it and take it down again.

The cluster's folder holds everything: PKI, kubeconfig, etcd data, logs, pid files, the exec state
of simulated pods and the shared UFS root. `cluster.json` in it records the ports and the binaries,
so a later `down` or `status` (in another process) finds the same cluster.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lifecycle.k8s.connection import ApiServer, connect
from lifecycle.k8s.kube import KubeGateway
from lifecycle.local import bootstrap, components, nodes
from lifecycle.local.binaries import ControlPlaneBuild, locate
from lifecycle.local.components import COMPONENTS, ComponentStatus, Layout, Ports
from lifecycle.local.exec_provisioner import pod_roots
from lifecycle.local.pki import ensure_pki, write_kubeconfig
from lifecycle.local.places import cluster_dir
from lifecycle.local.ports import ADDRESS_IN_USE, BOUND, choose, listening, machine_lock, recorded
from lifecycle.local.processes import LOOPBACK, ComponentError, Process, rss_bytes, wait_for

DEFAULT_NAME = "dev"
DEFAULT_TIMEOUTS: dict[str, float] = {
    "etcd": 30,
    # The first start bootstraps RBAC and priority levels; on 2 cores that takes a while.
    "kube-apiserver": 120,
    "kube-controller-manager": 60,
    "kube-scheduler": 60,
    "kwok": 60,
    "exec-provisioner": 30,
    "crds": 30,
    "nodes": 60,
    "default-service-account": 60,
}

# Starts of a component on fresh ports after another program took one ("address already in use").
PORT_ATTEMPTS = 3

Progress = Callable[[str], None]


def default_dir(name: str = DEFAULT_NAME) -> Path:
    """$FLUIDLC_CLUSTER_DIR when set (it is the cluster folder itself), else the user's state folder
    (``${XDG_STATE_HOME:-~/.local/state}/fluid-lifecycle/clusters/<name>``)."""
    return cluster_dir(name)


class LocalCluster:
    """A control plane on 127.0.0.1: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
    kwok (simulated nodes and pods) and the exec provisioner.

    `tie_to_caller=True` makes the processes die with the Python process that started them; the
    test fixture uses it so that a killed test run leaves nothing behind. The CLI leaves it off so
    the cluster outlives `fluidlc cluster up`.
    """

    def __init__(
        self,
        name: str = DEFAULT_NAME,
        dir: Path | str | None = None,
        *,
        bin_dir: Path | str | None = None,
        timeouts: dict[str, float] | None = None,
        tie_to_caller: bool = False,
        extra_args: dict[str, tuple[str, ...]] | None = None,
        audit_level: str | None = None,
    ) -> None:
        self.name = name
        # Flags added to a component's command line, e.g. {"kube-controller-manager": ("--kube-api-qps=200",)}.
        self.extra_args = dict(extra_args or {})
        self.dir = Path(dir if dir is not None else default_dir(name)).resolve()
        self.layout = Layout(self.dir)
        # An API audit log of every request at this level (None, Metadata, Request, RequestResponse),
        # as JSON lines in logs/audit.log.
        self.audit_level = audit_level
        if audit_level:
            self.extra_args["kube-apiserver"] = (*self.extra_args.get("kube-apiserver", ()),
                                                 *components.audit_args(self.layout))
        self.kubeconfig = self.layout.kubeconfig
        self.timeouts = {**DEFAULT_TIMEOUTS, **(timeouts or {})}
        self.tie_to_caller = tie_to_caller
        self._bin_dir = Path(bin_dir) if bin_dir is not None else None
        self._processes: dict[str, Process] = {}
        # Seconds each step of the last `up` took, for reporting start-up cost.
        self.timings: dict[str, float] = {}
        self._current_step = ""

    # --- recorded state -------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        try:
            state: dict[str, Any] = json.loads(self.layout.state_file.read_text())
            return state
        except (OSError, ValueError):
            return {}

    def _not_set_up(self) -> ComponentError:
        return ComponentError("cluster", f"nothing has been set up in {self.dir}", "run `fluidlc cluster up`")

    @property
    def ports(self) -> Ports | None:
        recorded = self._state().get("ports")
        return Ports(**recorded) if recorded else None

    @property
    def server(self) -> str:
        ports = self.ports
        if ports is None:
            raise self._not_set_up()
        return f"https://{LOOPBACK}:{ports.kube_apiserver}"

    def _build(self) -> ControlPlaneBuild:
        recorded = self._state().get("bin_dir")
        return ControlPlaneBuild(Path(recorded)) if recorded else locate(self._bin_dir)

    def _process(self, component: str, build: ControlPlaneBuild | None = None) -> Process:
        if component not in self._processes:
            ports = self.ports
            if ports is None:
                raise self._not_set_up()
            self._processes[component] = Process(
                component,
                [*components.command(component, self.layout, ports, build or self._build()),
                 *self.extra_args.get(component, ())],
                self.layout.log(component),
                self.layout.pid_file(component),
                env=components.environment(component, self.layout),
            )
        return self._processes[component]

    def _record(self, ports: Ports, **state: Any) -> None:
        """cluster.json with these ports, and the kubeconfig once the API server's port is chosen."""
        recorded = {**self._state(), **state, "ports": ports.to_json()}
        tmp = self.layout.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(recorded, indent=2) + "\n")
        tmp.replace(self.layout.state_file)
        if ports.kube_apiserver:
            write_kubeconfig(self.layout.kubeconfig, self.layout.pki, self.server, self.name)

    # --- status ---------------------------------------------------------------------------------

    def status(self) -> list[ComponentStatus]:
        ports = self.ports
        result = []
        for component in COMPONENTS:
            process = self._process(component) if ports is not None else None
            recorded = process.recorded() if process is not None else None
            running = process is not None and process.running()
            result.append(
                ComponentStatus(
                    name=component,
                    running=running,
                    pid=recorded.pid if recorded is not None else None,
                    port=(ports.of(component) or None) if ports is not None else None,
                    log=self.layout.log(component),
                    rss_bytes=rss_bytes(recorded.pid) if running and recorded is not None else None,
                )
            )
        return result

    def running(self) -> list[str]:
        """Names of the components that are running now."""
        return [s.name for s in self.status() if s.running]

    def connect(self) -> ApiServer:
        """This cluster's API server, as admin; close it (or use it as a context manager) when done."""
        if not self.kubeconfig.exists():
            raise ComponentError("cluster", f"no kubeconfig at {self.kubeconfig}", "run `fluidlc cluster up`")
        return connect(str(self.kubeconfig))

    # --- up ---------------------------------------------------------------------------------------

    def up(self, nodes: int = 3, *, fresh: bool = False, progress: Progress | None = None) -> None:
        """Start every component, wait for each to be ready, and create `nodes` simulated nodes.

        A cluster folder that was used before keeps its objects (etcd data) and, when they are free,
        its ports; `fresh=True` discards the objects, the pods' exec state and the logs (the UFS root
        stays). On failure everything started so far is stopped again and a ComponentError names the
        step or component, the problem and the log to read.
        """
        say = progress or (lambda _message: None)
        running = self.running() if self.layout.state_file.exists() else []
        if running and len(running) == len(COMPONENTS):
            say(f"cluster {self.name!r} is already up in {self.dir}")
            return
        if running:
            raise ComponentError(
                "cluster",
                f"partly running in {self.dir} ({', '.join(running)} running)",
                "run `fluidlc cluster down` first",
            )
        self.timings = {}
        started_at = time.monotonic()
        self._processes = {}
        self._current_step = "binaries"
        try:
            self._up(nodes, fresh, say)
        except ComponentError:
            self.down()
            raise
        except Exception as exc:
            # An API call of a step failed (creating CRDs or nodes): the API server's log tells why.
            self.down()
            raise ComponentError(
                self._current_step,
                f"failed: {type(exc).__name__}: {exc}",
                "look for the cause in the API server log",
                self.layout.log("kube-apiserver"),
            ) from exc
        except BaseException:
            # KeyboardInterrupt included: never leave half a cluster running.
            self.down()
            raise
        self.timings["total"] = time.monotonic() - started_at
        say(f"cluster {self.name!r} is up in {self.timings['total']:.1f}s")

    def _step(self, label: str, say: Progress) -> Callable[[], None]:
        t0 = time.monotonic()
        self._current_step = label

        def done() -> None:
            self.timings[label] = time.monotonic() - t0
            say(f"{label} ready ({self.timings[label]:.1f}s)")

        return done

    def _up(self, node_count: int, fresh: bool, say: Progress) -> None:
        layout = self.layout
        done = self._step("binaries", say)
        build = locate(self._bin_dir)
        done()

        done = self._step("pki", say)
        self.dir.mkdir(parents=True, exist_ok=True)
        ensure_pki(layout.pki.dir)
        if self.audit_level:
            components.write_audit_policy(layout, self.audit_level)
        done()

        if fresh:
            for path in (layout.etcd_data, layout.exec_dir, layout.logs):
                shutil.rmtree(path, ignore_errors=True)
        for path in (layout.logs, layout.run, layout.exec_dir, layout.ufs):
            path.mkdir(parents=True, exist_ok=True)
        layout.provisioner_ready.unlink(missing_ok=True)
        components.write_standin_shims(layout)

        # The previous run's ports are the candidates, so that its kubeconfig stays valid; each is
        # checked, or replaced, as its component starts (see _start_on_own_ports).
        self._record(recorded(self._state().get("ports")), name=self.name, bin_dir=str(build.bin_dir),
                     nodes=node_count)

        for component in ("etcd", "kube-apiserver"):
            done = self._step(component, say)
            self._start_on_own_ports((component,), build)
            done()

        with self.connect() as api:
            gw = KubeGateway(api)
            done = self._step("crds", say)
            bootstrap.install_crds(gw, build.crds, self.timeouts["crds"], self.layout.log("kube-apiserver"))
            done()

            # These three only need the API server; starting them together saves their start-up time.
            done = self._step("kube-controller-manager, kube-scheduler, kwok", say)
            self._start_on_own_ports(("kube-controller-manager", "kube-scheduler", "kwok"), build)
            done()

            done = self._step(f"{node_count} nodes", say)
            kwok_port = self._recorded_ports().kwok
            names = nodes.ensure_nodes(gw, node_count, kwok_port)
            nodes.wait_nodes_ready(gw, names, kwok_port, self.timeouts["nodes"], layout.log("kwok"))
            done()

            done = self._step("exec-provisioner", say)
            self._start("exec-provisioner", build)
            self._wait_ready("exec-provisioner")
            done()

            # Pods need their namespace's `default` ServiceAccount, which the controller manager makes.
            done = self._step("default service account", say)
            bootstrap.wait_default_service_account(gw, self.timeouts["default-service-account"],
                                                   self.layout.log("kube-controller-manager"))
            done()

    def _start(self, component: str, build: ControlPlaneBuild) -> None:
        self._processes.pop(component, None)
        self._process(component, build).start(tie_to_caller=self.tie_to_caller)

    def _recorded_ports(self) -> Ports:
        ports = self.ports
        if ports is None:
            raise self._not_set_up()
        return ports

    def _start_on_own_ports(self, group: tuple[str, ...], build: ControlPlaneBuild) -> None:
        """Start ``group`` on ports no other cluster is choosing at the same time, and wait until each
        component is ready. One that lost a port to another program anyway starts again on fresh ones."""
        pending, fresh = group, False
        for attempt in range(1, PORT_ATTEMPTS + 1):
            with machine_lock():
                fields = [name for component in pending for name in BOUND.get(component, ())]
                ports = choose(self._recorded_ports(), fields, fresh=fresh)
                self._record(ports)
                for component in pending:
                    self._start(component, build)
                for component in pending:
                    self._wait_listening(component, ports)
            lost = [c for c in pending if not self._ready_unless_port_lost(c, last_try=attempt == PORT_ATTEMPTS)]
            if not lost:
                return
            pending, fresh = tuple(lost), True

    def _wait_listening(self, component: str, ports: Ports) -> None:
        """Until the component listens on all its ports, or has exited (its readiness check says why)."""
        process = self._process(component)
        wanted = [getattr(ports, name) for name in BOUND.get(component, ())]
        wait_for(lambda: not process.running() or all(listening(port) for port in wanted),
                 self.timeouts[component], interval=0.05)

    def _ready_unless_port_lost(self, component: str, last_try: bool) -> bool:
        """Wait until ready: True; False when it exited because one of its ports was taken."""
        try:
            self._wait_ready(component)
        except ComponentError:
            process = self._process(component)
            if last_try or process.running() or ADDRESS_IN_USE not in process.log_since_start():
                raise
            return False
        return True

    def _wait_ready(self, component: str) -> None:
        process = self._process(component)
        ports = self.ports
        assert ports is not None
        timeout = self.timeouts[component]
        seen = "no answer yet"

        def ready() -> bool:
            nonlocal seen
            if not process.running():
                code = process.exit_code()
                raise ComponentError(
                    component,
                    f"exited{f' with code {code}' if code is not None else ''} before it became ready",
                    components.FIXES[component],
                    process.log,
                )
            ok, seen = components.probe(component, self.layout, ports)
            return ok

        if not wait_for(ready, timeout, interval=0.2):
            raise ComponentError(
                component,
                f"not ready within {timeout:g}s (last check: {seen})",
                components.FIXES[component],
                process.log,
            )

    # --- restart / down -------------------------------------------------------------------------

    def restart(self, component: str, grace: float = 10.0) -> None:
        """Stop one component and start it again with the same flags, waiting until it is ready."""
        if component not in COMPONENTS:
            raise ValueError(f"unknown control-plane component {component!r}; known: {', '.join(COMPONENTS)}")
        if self.ports is None:
            raise self._not_set_up()
        self._process(component).stop(grace)
        if component == "exec-provisioner":
            self.layout.provisioner_ready.unlink(missing_ok=True)
        self._start(component, self._build())
        self._wait_ready(component)

    def down(self, grace: float = 10.0) -> list[str]:
        """Stop every component by its recorded PID (SIGTERM, SIGKILL after `grace` s); returns those stopped.

        The folder with its data and logs stays, so the next `up` resumes the same cluster; the files
        of the pods' Secret volumes (kept outside it) go, and are written again when it is up.
        """
        if not self.layout.state_file.exists():
            return []
        stopped = []
        for component in reversed(COMPONENTS):
            if self._process(component).stop(grace):
                stopped.append(component)
        self._processes = {}
        shutil.rmtree(pod_roots(self.dir), ignore_errors=True)
        return stopped
