"""Two local clusters started at the same moment on one machine both come up, on ports of their own.

Each cluster folder is seeded with the same recorded ports, as if both had last run on them: each
`up` then wants exactly the ports the other one wants, and only choosing a port and binding it
while no other cluster chooses (the machine-wide port lock) keeps them apart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from lifecycle.k8s.gateway import NODE
from lifecycle.k8s.kube import KubeGateway
from lifecycle.local import LocalCluster
from lifecycle.local.components import Ports
from lifecycle.local.processes import free_port

FLUIDLC = [sys.executable, "-m", "lifecycle.cli.main"]


def _distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def test_two_clusters_started_at_the_same_moment_both_come_up(tmp_path: Path) -> None:
    fields = list(Ports.__dataclass_fields__)
    wanted = dict(zip(fields, _distinct_free_ports(len(fields)), strict=True))
    names = ("left", "right")
    envs = {}
    for name in names:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "cluster.json").write_text(json.dumps({"name": name, "ports": wanted}))
        env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        envs[name] = {**env, "FLUIDLC_CLUSTER_DIR": str(folder)}
    started = time.monotonic()
    try:
        ups = {name: subprocess.Popen([*FLUIDLC, "cluster", "up", "--nodes", "1", "--name", name], env=envs[name],
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for name in names}
        outputs = {name: up.communicate(timeout=300)[0] for name, up in ups.items()}
        took = time.monotonic() - started
        for name, up in ups.items():
            assert up.returncode == 0, f"{name}:\n{outputs[name][-4000:]}"
        clusters = {name: LocalCluster(name, tmp_path / name) for name in names}
        recorded = {name: c.ports for name, c in clusters.items()}
        assert recorded["left"] is not None and recorded["right"] is not None
        left, right = set(recorded["left"].to_json().values()), set(recorded["right"].to_json().values())
        assert not left & right, f"shared ports: {sorted(left & right)}"
        for name, cluster in clusters.items():
            status = subprocess.run([*FLUIDLC, "cluster", "status", "--name", name], env=envs[name],
                                    capture_output=True, text=True, timeout=60)
            assert status.returncode == 0, status.stdout + status.stderr
            with cluster.connect() as api:
                nodes = KubeGateway(api).list(NODE)
                assert [n["metadata"]["name"] for n in nodes] == ["kwok-node-0"], name
        print(f"two clusters up side by side in {took:.1f}s")
    finally:
        for name in names:
            subprocess.run([*FLUIDLC, "cluster", "down", "--name", name], env=envs[name], capture_output=True,
                           timeout=120)
    for name in names:
        assert LocalCluster(name, tmp_path / name).running() == []
