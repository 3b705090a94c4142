"""Runs the command of a data operation's pod on the local cluster, so a DataLoad really loads.

kwok runs no container: it moves pods through their phases, and completes a Job's pod a second or
more after it is ready, with exit code 0. For the pod of an operation's Job (labelled by the
operation machine, ``lifecycle.reconcile.operation.JOB_LABEL``) the exec provisioner acts as the
kubelet once the pod is bound to a node: it runs the container's command here, through the same
stand-in CLIs an exec into the cache master runs, in that master's environment (the pod the
engine names in ``TOOL_POD_ANNOTATION``), so the master's simulated cache holds what was loaded.
The output is kept in the operation pod's state directory; a command that fails marks the pod
Failed with its exit code (and the Job controller retries or fails the Job as it would).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

from lifecycle.engine.operations import TOOL_POD_ANNOTATION
from lifecycle.k8s.gateway import POD, ApiError, Conflict, Gateway, NotFound, Obj
from lifecycle.reconcile.operation import JOB_LABEL

log = logging.getLogger("exec-provisioner")

RESULT = "operation.result"  # in the pod's state directory: the exit code, once it ran
OUTPUT = "operation.log"
TIMEOUT = 600.0


def operation_pod(pod: Obj) -> bool:
    meta = pod.get("metadata") or {}
    return JOB_LABEL in (meta.get("labels") or {}) and bool((pod.get("spec") or {}).get("nodeName")) \
        and not meta.get("deletionTimestamp") and (pod.get("status") or {}).get("phase") in (None, "Pending",
                                                                                               "Running")


class OperationRunner:
    def __init__(self, gw: Gateway, cluster_dir: Path):
        self.gw = gw
        self.cluster_dir = cluster_dir
        self._started: set[str] = set()
        self._lock = threading.Lock()

    def state_dir(self, namespace: str, pod: str) -> Path:
        return self.cluster_dir / "exec" / namespace / pod

    def seen(self, pod: Obj, master_env: dict[str, str]) -> None:
        """Start the pod's command once (never again after a restart: its result is on disk)."""
        meta = pod["metadata"]
        if not operation_pod(pod):
            return
        uid = meta.get("uid") or ""
        folder = self.state_dir(meta["namespace"], meta["name"])
        with self._lock:
            if uid in self._started or (folder / RESULT).exists():
                return
            self._started.add(uid)
        threading.Thread(target=self._run, args=(pod, master_env, folder), name=f"run-{meta['name']}",
                         daemon=True).start()

    def _run(self, pod: Obj, master_env: dict[str, str], folder: Path) -> None:
        meta = pod["metadata"]
        containers = (pod.get("spec") or {}).get("containers") or []
        command = [*(containers[0].get("command") or []), *(containers[0].get("args") or [])] if containers else []
        folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **master_env}
        env["PATH"] = os.pathsep.join([str(self.cluster_dir / "standin-bin"), str(Path(sys.executable).parent),
                                       os.environ.get("PATH", os.defpath)])
        try:
            done = subprocess.run(command, env=env, cwd=master_env.get("STANDIN_STATE_DIR") or folder,
                                  capture_output=True, text=True, timeout=TIMEOUT, check=False)
            code, output = done.returncode, done.stdout + done.stderr
        except (OSError, subprocess.TimeoutExpired) as exc:
            code, output = 127, f"{exc}\n"
        (folder / OUTPUT).write_text(output)
        (folder / RESULT).write_text(f"{code}\n")
        log.info("operation pod %s/%s ran %s: exit %d", meta["namespace"], meta["name"], command[:3], code)
        if code != 0:
            self._fail(pod, code, output)

    def _fail(self, pod: Obj, code: int, output: str) -> None:
        meta = pod["metadata"]
        for _ in range(5):
            current = self.gw.get(POD, meta["namespace"], meta["name"])
            if current is None:
                return
            status = dict(current.get("status") or {})
            status["phase"] = "Failed"
            status["containerStatuses"] = [{
                "name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False, "restartCount": 0,
                "state": {"terminated": {"exitCode": code, "reason": "Error", "message": output[-2000:]}}}
                for c in (current.get("spec") or {}).get("containers") or []]
            try:
                self.gw.replace_status({**current, "status": status})
                return
            except Conflict:
                continue
            except (NotFound, ApiError) as exc:
                log.warning("cannot mark %s/%s Failed: %s", meta["namespace"], meta["name"], exc)
                return


__all__ = ["TOOL_POD_ANNOTATION", "OperationRunner", "operation_pod"]
