"""Starting, watching and stopping the local control plane's processes by the PIDs recorded for them.

Each component runs in a session of its own, so it outlives the `cluster up` command that started it,
and stopping it also stops what it spawned (kwok runs `kubectl exec` commands as its children).
A pid file records the PID together with the process start time, so a PID the kernel has since
handed to an unrelated process is never signalled.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


class ComponentError(RuntimeError):
    """A control-plane component could not be started or did not become ready."""

    def __init__(self, component: str, problem: str, fix: str, log: Path | None = None) -> None:
        self.component = component
        self.problem = problem
        self.fix = fix
        self.log = log
        lines = [f"{component}: {problem}"]
        if log is not None:
            lines.append(f"  log: {log}")
            tail = log_tail(log)
            if tail:
                lines.append("  last lines of the log:")
                lines.extend(f"    {line}" for line in tail)
        lines.append(f"  fix: {fix}")
        super().__init__("\n".join(lines))


def free_port(host: str = LOOPBACK) -> int:
    """A port nobody uses right now, picked by the kernel. Only free until someone binds it: the
    local cluster chooses its ports under a machine-wide lock (lifecycle.local.ports)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether a server could listen on `port` (SO_REUSEADDR, as the Go servers use, so TIME_WAIT is fine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def rss_bytes(pid: int) -> int | None:
    """The resident memory of ``pid``, or None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def log_tail(log: Path, lines: int = 15) -> list[str]:
    """The last lines of a component log, for error messages."""
    try:
        with log.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return text.rstrip("\n").splitlines()[-lines:]


def process_start_time(pid: int) -> str | None:
    """The start time of `pid` (clock ticks since boot), or None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses; fields after it are plain.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]


@dataclass(frozen=True)
class Recorded:
    """A process as its pid file describes it."""

    pid: int
    start_time: str

    def alive(self) -> bool:
        return process_start_time(self.pid) == self.start_time


def write_pid_file(path: Path, pid: int) -> Recorded:
    start_time = process_start_time(pid)
    if start_time is None:
        # It already exited; record it anyway so its log is still found through the pid file.
        start_time = "exited"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{pid} {start_time}\n")
    tmp.replace(path)
    return Recorded(pid, start_time)


def read_pid_file(path: Path) -> Recorded | None:
    try:
        pid, start_time = path.read_text().split()
        return Recorded(int(pid), start_time)
    except (OSError, ValueError):
        return None


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: the kernel kills it when the starting process dies,
    # so a test run that is killed outright leaves no control plane behind.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Process:
    """One component process: its command line, its log file and its pid file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        pid_file: Path,
        env: Mapping[str, str] | None = None,
        fix_if_missing: str = "build the control plane again (deploy/controlplane/build.sh in a checkout)",
    ) -> None:
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log = log
        self.pid_file = pid_file
        self.env = dict(env) if env is not None else None
        self.fix_if_missing = fix_if_missing
        self._child: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        self._spawned: int | None = None
        self._exit_code: int | None = None

    def start(self, tie_to_caller: bool = False) -> Recorded:
        """Start the process in a session of its own, appending its output to its log.

        Tied to the caller it is a subprocess.Popen child that the kernel kills when the caller
        dies. Otherwise it is spawned without a Popen object: nothing in this interpreter then
        claims it, and it keeps running after the interpreter exits.
        """
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self._log_offset = out.tell()
            out.write(f"==> {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(self.argv)}\n".encode())
            out.flush()
            try:
                if tie_to_caller:
                    self._child = subprocess.Popen(
                        self.argv,
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env=self.env,
                        start_new_session=True,
                        preexec_fn=_die_with_parent,
                    )
                    pid = self._child.pid
                else:
                    pid = os.posix_spawn(
                        self.argv[0],
                        self.argv,
                        self.env if self.env is not None else os.environ,
                        file_actions=[
                            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                            (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                            (os.POSIX_SPAWN_DUP2, out.fileno(), 2),
                        ],
                        setsid=True,
                    )
                    self._spawned = pid
            except OSError as exc:
                raise ComponentError(
                    self.name, f"cannot run {self.argv[0]}: {exc.strerror}", self.fix_if_missing, self.log
                ) from exc
        return write_pid_file(self.pid_file, pid)

    def recorded(self) -> Recorded | None:
        return read_pid_file(self.pid_file)

    def log_since_start(self, limit: int = 64 * 1024) -> str:
        """What the process wrote to its log since this object last started it (at most ``limit`` bytes)."""
        try:
            with self.log.open("rb") as f:
                f.seek(self._log_offset)
                return f.read(limit).decode("utf-8", errors="replace")
        except OSError:
            return ""

    def _reap(self) -> None:
        # Collect our own child as soon as it exits, so it does not linger as a zombie.
        if self._child is not None:
            self._child.poll()
        elif self._spawned is not None and self._exit_code is None:
            with contextlib.suppress(ChildProcessError):
                pid, status = os.waitpid(self._spawned, os.WNOHANG)
                if pid:
                    self._exit_code = os.waitstatus_to_exitcode(status)

    def running(self) -> bool:
        self._reap()
        rec = self.recorded()
        return rec is not None and rec.alive()

    def exit_code(self) -> int | None:
        """The exit code when this object started the process and it has exited."""
        self._reap()
        return self._child.returncode if self._child is not None else self._exit_code

    def stop(self, grace: float = 10.0) -> bool:
        """Stop by the recorded PID: SIGTERM to its process group, SIGKILL after `grace` seconds.

        Returns whether a running process was stopped. The pid file is removed either way.
        """
        rec = self.recorded()
        stopped = False
        if rec is not None and rec.alive():
            stopped = True
            _signal_group(rec.pid, signal.SIGTERM)
            if not self._wait_gone(rec, grace):
                _signal_group(rec.pid, signal.SIGKILL)
                self._wait_gone(rec, 5.0)
            # The group leader is gone; commands it had spawned into its group go with it.
            _signal_group(rec.pid, signal.SIGKILL)
        if self._child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._child.wait(timeout=1.0)
        self._reap()
        self._child = None
        self._spawned = None
        self.pid_file.unlink(missing_ok=True)
        return stopped

    def _wait_gone(self, rec: Recorded, timeout: float) -> bool:
        return wait_for(lambda: not self.running() or not rec.alive(), timeout, interval=0.05)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; returns whether it held."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
