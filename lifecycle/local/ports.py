"""Choosing a local cluster's ports so that clusters started side by side never race for one.

A free port is only free until someone binds it, and a cluster binds its ports one component at a
time over several seconds (the controller manager's only after the API server is ready). Two `up`s
started at the same moment used to see the same ports free and lose the race to each other
("address already in use"). Now a component's ports are checked, and replaced when taken, while a
machine-wide lock (a file in the user's cache folder) is held, and the lock is kept until the
component listens on them; a cluster choosing at the same moment then sees them taken.

Other programs do not take the lock: a port they grab between the check and the bind makes the
component exit with "address already in use", and `LocalCluster.up` starts it again on fresh ports.
"""

from __future__ import annotations

import contextlib
import fcntl
import socket
from collections.abc import Iterable, Iterator
from dataclasses import asdict, replace
from pathlib import Path

from lifecycle.local.components import Ports
from lifecycle.local.places import cache_root
from lifecycle.local.processes import LOOPBACK, free_port, port_is_free

LOCK_FILE = "ports.lock"
ADDRESS_IN_USE = "address already in use"
# The ports each component binds; the exec provisioner binds none.
BOUND: dict[str, tuple[str, ...]] = {
    "etcd": ("etcd_client", "etcd_peer"),
    "kube-apiserver": ("kube_apiserver",),
    "kube-controller-manager": ("kube_controller_manager",),
    "kube-scheduler": ("kube_scheduler",),
    "kwok": ("kwok",),
}


@contextlib.contextmanager
def machine_lock(path: Path | None = None) -> Iterator[None]:
    """Held by one cluster at a time on this machine (for this user's cache folder); the kernel
    releases it when the holder exits, so a killed `up` never leaves it taken."""
    path = path if path is not None else cache_root() / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        yield


def unset() -> Ports:
    """Ports none of which is chosen yet (0 is never a usable port)."""
    return Ports(**dict.fromkeys(Ports.__dataclass_fields__, 0))


def recorded(previous: dict[str, int] | None) -> Ports:
    """The ports a previous run recorded, as candidates (0 where none was)."""
    return replace(unset(), **{k: int(v) for k, v in (previous or {}).items() if k in Ports.__dataclass_fields__})


def choose(ports: Ports, fields: Iterable[str], fresh: bool = False) -> Ports:
    """``ports`` with each of ``fields`` kept when it is free now (unless ``fresh``), else a new free one.

    Call it with the machine lock held, and keep holding it until the component listens."""
    fields = list(fields)
    taken = {port for name, port in asdict(ports).items() if name not in fields and port}
    chosen: dict[str, int] = {}
    for name in fields:
        port = 0 if fresh else getattr(ports, name)
        while not port or port in taken or not port_is_free(port):
            port = free_port()
        taken.add(port)
        chosen[name] = port
    return replace(ports, **chosen)


_TCP_LISTEN = "0A"


def listening(port: int, host: str = LOOPBACK) -> bool:
    """Whether a socket listens on ``host:port`` now.

    Read from /proc/net/tcp rather than by connecting, which would leave a "TLS handshake error"
    line in the log of every server probed."""
    wanted = f"{socket.inet_aton(host)[::-1].hex().upper()}:{port:04X}"
    try:
        table = Path("/proc/net/tcp").read_text()
    except OSError:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            return sock.connect_ex((host, port)) == 0
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[1] in (wanted, f"00000000:{port:04X}") and fields[3] == _TCP_LISTEN:
            return True
    return False
