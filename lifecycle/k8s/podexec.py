"""Running a command in a pod through the API server's exec endpoint, as `kubectl exec` does.

A cache engine runs its CLI this way several times per runtime, so the cost of one exec is the
operator's cost per reconcile. ``PodExec`` therefore uses the API server's one TLS context (the CA
and client certificate are read once, not per command) and keeps a TLS session, which every next
connection offers again: the server resumes it instead of a full handshake with certificate checks.
Measured on the local control plane, that is a third of the CPU of the client's own exec
(`kubernetes.stream`, which loads the certificates, builds a client and polls for every command).
The session is read from a connection only after a full handshake: on the Python versions before
the fix of CPython gh-116810 (3.11 among them) each read of ``SSLSocket.session`` leaks a copy of
the session, about 7 KiB with the local API server, which at 1,000 pairs was some 80 KiB a second
of cache reports. A TLS 1.3 session of the Kubernetes API server (Go) resumes any number of times;
a server that refuses it again gets a full handshake, whose session serves from then on.
The websocket itself is the `websocket-client` library's, on the socket made here.

A real kubelet reports the exit code as a status cause; besides that, two things of the local kwok
cluster are handled here so that callers need not know them:
  * kwok reports a non-zero exit of the command as a failure message ("... exit status 3") rather
    than as an exit code; the code is recovered from that message.
  * kwok may not know a new pod's Exec for a moment ("no exec found"); that refusal is retried.

The command's arguments travel in the request's query, as in every Kubernetes exec: no error raised
here quotes the URL or more of the command than its program.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import websocket

from lifecycle.k8s.connection import ApiServer

CHANNEL_PROTOCOL = "v4.channel.k8s.io"  # a binary frame: one byte naming the stream, then its bytes
STDOUT, STDERR, STATUS = 1, 2, 3
_EXIT_STATUS = re.compile(r"exit status (\d+)")


class PodExecError(RuntimeError):
    """The command could not be run at all (no Exec for the pod, command not found, timeout)."""


class ExecNotKnownYet(PodExecError):
    """kwok has no Exec for the pod (yet): nothing was run, so asking again is safe."""


class ExecRefused(PodExecError):
    """The API server refused the exec request itself (no such pod, forbidden): ``status`` is its
    HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


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


class PodExec:
    """Execs through the API server ``api``, whose TLS context serves every connection and which
    supplies the URL and the credentials of each (a refreshed token included). Safe to share between
    threads."""

    def __init__(self, api: ApiServer) -> None:
        if api.proxy:
            raise PodExecError("exec through a proxy is not supported: reach the API server directly "
                               "(remove proxy-url from the kubeconfig's cluster)")
        self.api = api
        self.server_name = api.server_name
        self.tls = api.tls
        self.session: ssl.SSLSession | None = None
        self.resumed = 0  # connections whose TLS session was resumed (a figure for tests and benches)
        self.sessions_taken = 0  # full handshakes whose session was kept for the next connections

    def run(self, namespace: str, pod: str, argv: Sequence[str], container: str | None = None,
            timeout: float = 60.0, wait_for_exec: float = 15.0) -> ExecResult:
        """Run ``argv`` in the pod (no shell, no stdin) and return its output and exit code.

        kwok learns about a pod's Exec through a watch, which lags behind the exec provisioner, most
        after an API-server restart; for up to ``wait_for_exec`` seconds such a refusal is retried.
        """
        deadline = time.monotonic() + wait_for_exec
        while True:
            try:
                return self._once(namespace, pod, argv, container, timeout)
            except ExecNotKnownYet:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.5)

    def _once(self, namespace: str, pod: str, argv: Sequence[str], container: str | None,
              timeout: float) -> ExecResult:
        where = f"pod {namespace}/{pod}"
        query = [("command", arg) for arg in argv] + [("stdout", "true"), ("stderr", "true")]
        if container:
            query.append(("container", container))
        url = self.api.url(f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}/exec", query)
        headers = self.api.authorization()
        deadline = time.monotonic() + timeout
        ws: Any = self._connect(url, headers, timeout, where)
        streams: dict[int, bytearray] = {STDOUT: bytearray(), STDERR: bytearray(), STATUS: bytearray()}
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    # Name the program only: the arguments may carry mount options.
                    raise PodExecError(f"exec of {argv[0]!r} in {where} did not finish within {timeout:g}s")
                ws.settimeout(left)
                try:
                    opcode, data = ws.recv_data()
                except websocket.WebSocketTimeoutException:
                    continue  # the deadline check above says so
                except websocket.WebSocketConnectionClosedException:
                    break
                except websocket.WebSocketException as exc:  # a broken frame; its text quotes no request
                    raise PodExecError(f"exec of {argv[0]!r} in {where} broke off: {exc}") from None
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    break
                if data and data[0] in streams:
                    streams[data[0]] += data[1:]
        finally:
            if isinstance(ws.sock, ssl.SSLSocket):
                self._keep_session(ws.sock)
            ws.shutdown()
        status = json.loads(streams[STATUS]) if streams[STATUS].strip() else None
        return ExecResult(streams[STDOUT].decode(errors="replace"), streams[STDERR].decode(errors="replace"),
                          _returncode(status, where))

    def _keep_session(self, sock: ssl.SSLSocket) -> None:
        """At a connection's end (a TLS 1.3 server sends its ticket after the handshake): keep the
        session of a full handshake for the next connections; a resumed one leaves it be."""
        if sock.session_reused:
            self.resumed += 1
        else:
            self.session = sock.session
            self.sessions_taken += 1

    def _connect(self, url: str, headers: dict[str, str], timeout: float, where: str) -> Any:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        raw = socket.create_connection((host, parts.port or (443 if self.tls else 80)), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # else a resumed handshake waits ~40 ms on ACKs
        sock: socket.socket = raw
        try:
            if self.tls is not None:
                sock = self.tls.wrap_socket(raw, server_hostname=self.server_name or host, session=self.session)
            ws: Any = websocket.WebSocket(skip_utf8_validation=True)  # the library's types are partial
            header = [f"{name}: {value}" for name, value in headers.items()]
            ws_url = ("wss" if self.tls else "ws") + url[url.index(":"):]
            ws.connect(ws_url, socket=sock, header=header, subprotocols=[CHANNEL_PROTOCOL], timeout=timeout)
        except websocket.WebSocketBadStatusException as exc:
            sock.close()
            raise ExecRefused(f"exec in {where} refused: {_status_message(exc)}", exc.status_code) from None
        except websocket.WebSocketException as exc:
            sock.close()
            raise PodExecError(f"exec in {where}: the websocket handshake failed: {exc}") from None
        except BaseException:
            sock.close()
            raise
        return ws


def _status_message(exc: websocket.WebSocketBadStatusException) -> str:
    """The API server's own words (a Status object) for a refused exec, never the request's URL."""
    body = exc.resp_body or b""
    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message or f"HTTP {exc.status_code}")


def exec_in_pod(api: ApiServer, namespace: str, pod: str, argv: Sequence[str], container: str | None = None,
                timeout: float = 60.0, wait_for_exec: float = 15.0) -> ExecResult:
    """One command, for callers that run a few (tests, the CLI); the operator keeps a ``PodExec``."""
    return PodExec(api).run(namespace, pod, argv, container, timeout, wait_for_exec)
