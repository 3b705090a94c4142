"""The local cluster's port choice, without a cluster: recorded ports kept while free, taken ones
replaced, no port twice, and a machine-wide lock that one chooser holds at a time."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from lifecycle.local.ports import BOUND, choose, listening, machine_lock, recorded, unset
from lifecycle.local.processes import free_port


def test_free_recorded_ports_are_kept_and_taken_ones_replaced() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        kept = free_port()
        ports = recorded({"etcd_client": kept, "etcd_peer": taken, "kwok": 0})
        chosen = choose(ports, BOUND["etcd"])
        assert chosen.etcd_client == kept
        assert chosen.etcd_peer not in (0, taken, kept)
        assert chosen.kwok == 0, "only the component's own ports are chosen"
        assert choose(chosen, BOUND["etcd"], fresh=True).etcd_client != kept


def test_every_port_of_a_cluster_is_different() -> None:
    ports = choose(unset(), [name for names in BOUND.values() for name in names])
    values = list(asdict(ports).values())
    assert 0 not in values and len(set(values)) == len(values)


def test_listening_sees_a_listener_not_a_bound_socket() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        assert not listening(port)
        sock.listen()
        assert listening(port)


def test_the_machine_lock_is_held_by_one_process_at_a_time(tmp_path: Path) -> None:
    lock = tmp_path / "ports.lock"
    holder = ("import sys, time; from pathlib import Path; from lifecycle.local.ports import machine_lock\n"
              "with machine_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(1.5)\n")
    with subprocess.Popen([sys.executable, "-c", holder, str(lock)], stdout=subprocess.PIPE, text=True) as other:
        assert other.stdout is not None and other.stdout.readline() == "held\n"
        t0 = time.monotonic()
        with machine_lock(lock):
            waited = time.monotonic() - t0
        assert waited > 0.5, "the lock was not held by the other process"
