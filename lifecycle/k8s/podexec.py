"""Running a command in a pod through the API server's exec endpoint, as `kubectl exec` does.

A real kubelet reports the exit code as a status cause; besides that, three things of the local
kwok cluster are handled here so that callers need not know them:
  * kwok reports a non-zero exit of the command as a failure message ("... exit status 3") rather
    than as an exit code; the code is recovered from that message.
  * the kubernetes client leaves the websocket's TCP socket open when the server closes first,
    which surfaces as a ResourceWarning (an error under the test suite's warning filter).
  * kwok may not know a new pod's Exec for a moment ("no exec found"); that refusal is retried.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from kubernetes import client
from kubernetes.stream import stream
from kubernetes.stream.ws_client import ERROR_CHANNEL

_EXIT_STATUS = re.compile(r"exit status (\d+)")


class PodExecError(RuntimeError):
    """The command could not be run at all (no Exec for the pod, command not found, timeout)."""


class ExecNotKnownYet(PodExecError):
    """kwok has no Exec for the pod (yet): nothing was run, so asking again is safe."""


@dataclass(frozen=True)
class ExecResult:
    stdout: str
    stderr: str
    returncode: int


def _returncode(status: dict[str, Any] | None, where: str) -> int:
    if not status or status.get("status") == "Success":
        return 0
    causes = (status.get("details") or {}).get("causes") or []
    for cause in causes:
        # A real kubelet reports the code as a cause of reason ExitCode.
        if cause.get("reason") == "ExitCode":
            return int(cause["message"])
    message = str(status.get("message", ""))
    found = _EXIT_STATUS.search(message)
    if found and "cmd wait" in message:
        return int(found.group(1))
    error = ExecNotKnownYet if "no exec found" in message else PodExecError
    raise error(
        f"exec in {where} failed: {message}; "
        "if it says 'no exec found', the exec provisioner has not made the pod's Exec "
        "(see exec-provisioner.log); if 'executable file not found', the command is not on kwok's PATH"
    )


def exec_in_pod(
    api: client.ApiClient,
    namespace: str,
    pod: str,
    argv: Sequence[str],
    container: str | None = None,
    timeout: float = 60.0,
    wait_for_exec: float = 15.0,
) -> ExecResult:
    """Run `argv` in the pod (no shell, no stdin) and return its output and exit code.

    kwok learns about a pod's Exec through a watch, which lags behind the exec provisioner, most
    after an API-server restart; for up to `wait_for_exec` seconds such a refusal is retried.
    """
    deadline = time.monotonic() + wait_for_exec
    while True:
        try:
            return _exec_once(api, namespace, pod, argv, container, timeout)
        except ExecNotKnownYet:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)


def _exec_once(
    api: client.ApiClient, namespace: str, pod: str, argv: Sequence[str], container: str | None, timeout: float
) -> ExecResult:
    core = client.CoreV1Api(api)
    extra = {"container": container} if container else {}
    where = f"pod {namespace}/{pod}"
    ws = stream(
        core.connect_get_namespaced_pod_exec,
        pod,
        namespace,
        command=list(argv),
        stdin=False,
        stdout=True,
        stderr=True,
        tty=False,
        _preload_content=False,
        **extra,
    )
    try:
        ws.run_forever(timeout=timeout)
        if ws.is_open():
            # Name the program only: the arguments may carry secret mount options.
            raise PodExecError(f"exec of {argv[0]!r} in {where} did not finish within {timeout:g}s")
        stdout, stderr = ws.read_stdout(), ws.read_stderr()
        status = yaml.safe_load(ws.read_channel(ERROR_CHANNEL) or "null")
    finally:
        ws.close()
        # close() does nothing once the server has closed the websocket; the socket must still go.
        if ws.sock is not None:
            ws.sock.shutdown()
    return ExecResult(stdout, stderr, _returncode(status, where))
