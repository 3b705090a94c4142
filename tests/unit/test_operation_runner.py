"""The local cluster runs an operation pod's command against the cache tool's pod it names."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lifecycle.k8s.gateway import POD
from lifecycle.k8s.memory import MemoryGateway
from lifecycle.local.operation_runner import OUTPUT, RESULT, OperationRunner, operation_pod
from lifecycle.reconcile.operation import JOB_LABEL


def pod(name: str, script: str, node: str | None = "node-0") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "ml", "labels": {JOB_LABEL: "load-warm"}},
            "spec": {"nodeName": node, "containers": [{"name": "operation", "image": "x",
                                                       "command": ["/bin/sh", "-c", script]}]},
            "status": {"phase": "Pending"}}


def wait_for(path: Path) -> str:
    for _ in range(200):
        if path.exists():
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} never written")


def test_the_command_runs_once_in_the_tool_pods_environment(tmp_path: Path) -> None:
    gw = MemoryGateway()
    runner = OperationRunner(gw, tmp_path)
    master = tmp_path / "exec" / "ml" / "cache-master-0"
    master.mkdir(parents=True)
    made = gw.create(pod("warm-load-1-abc", 'echo "$STANDIN_STATE_DIR" >> runs; echo "$PATH"'))
    env = {"STANDIN_STATE_DIR": str(master)}
    runner.seen(made, env)
    folder = tmp_path / "exec" / "ml" / "warm-load-1-abc"
    assert wait_for(folder / RESULT).strip() == "0"
    assert (folder / OUTPUT).read_text().startswith(str(tmp_path / "standin-bin"))  # the stand-in CLIs come first
    assert (master / "runs").read_text() == f"{master}\n"
    runner.seen(made, env)  # seen again (a MODIFIED event, a restart): never runs twice
    time.sleep(0.2)
    assert (master / "runs").read_text() == f"{master}\n"


def test_a_failing_command_marks_the_pod_failed_with_its_exit_code(tmp_path: Path) -> None:
    gw = MemoryGateway()
    runner = OperationRunner(gw, tmp_path)
    made = gw.create(pod("bad-load-1-abc", "echo no such path >&2; exit 3"))
    runner.seen(made, {})
    wait_for(tmp_path / "exec" / "ml" / "bad-load-1-abc" / RESULT)
    for _ in range(100):
        status = (gw.get(POD, "ml", "bad-load-1-abc") or {}).get("status") or {}
        if status.get("phase") == "Failed":
            break
        time.sleep(0.05)
    (container,) = status["containerStatuses"]
    assert status["phase"] == "Failed" and container["state"]["terminated"]["exitCode"] == 3
    assert "no such path" in container["state"]["terminated"]["message"]


def test_only_scheduled_operation_pods_run() -> None:
    assert operation_pod(pod("a", "true"))
    assert not operation_pod(pod("a", "true", node=None))
    plain = pod("a", "true")
    plain["metadata"]["labels"] = {}
    assert not operation_pod(plain)
