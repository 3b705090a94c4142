"""Host ports for runtimes on the host network.

A runtime in ``HostNetwork`` mode (the reference's default) binds its ports on the node itself,
so two runtimes with the default ports cannot share a node: the scheduler refuses the second
one's pods. As the reference does, each such runtime gets its own ports from a range
(``settings['port_range']``, default 20000-26000: ``parse_port_range``), except the ports its spec sets.

No allocation is kept in memory across passes: a runtime's ports are recorded in its values
ConfigMap (``allocatedPorts``), which the engine writes before any workload, so the next pass,
another operator process and the allocation of other runtimes all read them from the API server.
``Reservations`` (one per operator process, shared by its worker threads) covers the moment between
choosing ports and writing that ConfigMap, when another thread could choose the same ones. It also
remembers the ports it read from each ConfigMap at each resourceVersion: every new runtime needs
every other one's ports, and reading and parsing all their values again made setting up N
runtimes cost N² decodes and parses. Allocation lists the ConfigMaps' versions only, and reads a
ConfigMap only when it is new or changed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import NamedTuple

import yaml

from engines.cache import valuestext
from lifecycle import CONFIG_MAP, MANAGED_BY_LABEL, MANAGER, Gateway, Obj

# On the values ConfigMaps that record ports, so allocation lists only those (one list per new
# runtime, of the runtimes on the host network).
HOLDS_PORTS_LABEL = "data.fluid.io/holds-host-ports"
VALUES_KEY = "data"  # the key of the values ConfigMap that holds the rendered values
PORTS_KEY = "allocatedPorts"

Ports = dict[str, dict[str, int]]  # component ("master", "worker") -> port name -> number


class PortsExhausted(RuntimeError):
    pass


def recorded(values_config_map: Obj | None) -> Ports | None:
    """The ports a values ConfigMap records, or None if it records none (or cannot be read)."""
    text = ((values_config_map or {}).get("data") or {}).get(VALUES_KEY)
    if not text:
        return None
    try:
        values = valuestext.load(text)
    except yaml.YAMLError:
        return None
    ports = values.get(PORTS_KEY) if isinstance(values, dict) else None
    if not isinstance(ports, dict):
        return None
    return {str(c): {str(k): int(v) for k, v in (named or {}).items()} for c, named in ports.items()}


def _numbers(ports: Mapping[str, Mapping[str, int]]) -> set[int]:
    return {n for named in ports.values() for n in named.values()}


class _Read(NamedTuple):
    """What one version of a values ConfigMap says: the ports it records and whose it is."""

    version: str
    ports: Ports | None
    owners: frozenset[str]  # the UIDs of its owner references


class Reservations:
    """Ports chosen by this process and perhaps not written yet, and the lock of choosing them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chosen: dict[str, set[int]] = {}  # runtime UID -> ports
        self._read: dict[tuple[str, str], _Read] = {}  # (namespace, name) of a ConfigMap -> its last read
        self._read_lock = threading.Lock()

    def recorded(self, values_config_map: Obj | None) -> Ports | None:
        """``recorded``, parsed once per version of the ConfigMap: every pass of every runtime on
        the host network reads its own, and allocation reads every other one's."""
        return self._of(values_config_map).ports if values_config_map is not None else None

    def _of(self, config_map: Obj) -> _Read:
        meta = config_map["metadata"]
        key, version = (meta.get("namespace") or "", meta["name"]), meta.get("resourceVersion", "")
        with self._read_lock:
            read = self._read.get(key)
        if read is None or read.version != version or not version:
            owners = frozenset(str(r.get("uid")) for r in meta.get("ownerReferences") or [])
            read = _Read(version, recorded(config_map), owners)
            if version:
                with self._read_lock:
                    self._read[key] = read
        return read

    def allocate(self, gateway: Gateway, uid: str, wanted: Mapping[str, Iterable[str]], fixed: Ports,
                 port_range: tuple[int, int], who: str) -> Ports:
        """Ports for every name in ``wanted`` that ``fixed`` (the spec's own) does not set, the
        lowest free ones of the range; the choice is held for ``uid`` until it is released."""
        with self._lock:
            used = self._in_use(gateway, uid) | _numbers(fixed)
            for other, numbers in self._chosen.items():
                if other != uid:
                    used |= numbers
            free = (n for n in range(port_range[0], port_range[1] + 1) if n not in used)
            out: Ports = {}
            for component, names in wanted.items():
                out[component] = dict(fixed.get(component, {}))
                for name in names:
                    if name in out[component]:
                        continue
                    number = next(free, None)
                    if number is None:
                        raise PortsExhausted(
                            f"{who}: no free host port left in {port_range[0]}-{port_range[1]} ({len(used)} held "
                            "by other runtimes); widen the operator's --port-range, delete unused runtimes, or set "
                            "networkmode: ContainerNetwork")
                    out[component][name] = number
            self._chosen[uid] = _numbers(out)
            return out

    def _in_use(self, gateway: Gateway, exclude_uid: str) -> set[int]:
        """Host ports other runtimes record in their values ConfigMaps. Only their versions are
        listed, and only a ConfigMap new or changed since its last read is read (and parsed): every
        new runtime asks this, and decoding every other runtime's values each time made setting up
        N runtimes cost N² decodes (allocation was 17 % of the operator's setup CPU at 1,000 pairs)."""
        used: set[int] = set()
        versions = gateway.list_versions(CONFIG_MAP, None,
                                          labels={MANAGED_BY_LABEL: MANAGER, HOLDS_PORTS_LABEL: "true"})
        for key, version in versions.items():
            with self._read_lock:
                read = self._read.get(key)
            if read is None or not version or read.version != version:
                config_map = gateway.get(CONFIG_MAP, *key)
                if config_map is None:
                    continue  # deleted since it was listed
                read = self._of(config_map)
            if exclude_uid not in read.owners:
                used |= _numbers(read.ports or {})
        with self._read_lock:  # a port-holding ConfigMap deleted without its runtime's release
            for gone in [k for k, read in self._read.items() if read.ports and k not in versions]:
                del self._read[gone]
        return used

    def release(self, uid: str) -> None:
        """Forget the ports of a runtime that is gone (its ConfigMap goes with it)."""
        with self._lock:
            self._chosen.pop(uid, None)
        with self._read_lock:
            for key in [k for k, read in self._read.items() if uid in read.owners]:
                del self._read[key]


def resolve(gateway: Gateway, reservations: Reservations, uid: str, who: str, defaults: Ports, fixed: Ports,
            on_host: list[str], values_config_map: Obj | None, port_range: tuple[int, int]) -> Ports:
    """Every component's ports: the spec's own (``fixed``), then those the values ConfigMap records
    for this runtime, then, for components on the host network (``on_host``), free ones from
    ``port_range``; components on the pod network keep their defaults."""
    held = reservations.recorded(values_config_map)
    if held is None and values_config_map is not None:
        held = defaults  # made before ports were allocated: it keeps the ports it runs with
    held = held or {}
    kept = {c: {**held.get(c, {}), **fixed.get(c, {})} for c in on_host}
    if any(set(defaults[c]) - set(kept[c]) for c in on_host):
        kept = reservations.allocate(gateway, uid, {c: list(defaults[c]) for c in on_host}, kept, port_range, who)
    return {c: kept[c] if c in kept else {**named, **fixed.get(c, {})} for c, named in defaults.items()}


def reservations_of(shared: dict[str, object]) -> Reservations:
    """The process-wide reservations, kept in ``EngineContext.shared``."""
    found = shared.setdefault("host-ports", Reservations())
    assert isinstance(found, Reservations)
    return found
