"""The informer survives what an API server does to watches: 410 Gone, stalls, disconnects."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

from lifecycle.k8s.gateway import DATASET, SECRET, Forbidden
from lifecycle.k8s.kube import Gone
from lifecycle.operator.cache import Cache
from lifecycle.operator.informer import Informer
from lifecycle.operator.manager import UnionCache


def obj(name: str, rv: int) -> dict[str, Any]:
    return {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
            "metadata": {"name": name, "namespace": "ns", "resourceVersion": str(rv)}}


class ScriptedServer:
    """Lists and watches as told by a script of steps; stops the informer when the script ends."""

    def __init__(self, stop: threading.Event, lists: list[list[dict[str, Any]]], watches: list[Any]):
        self.stop, self.lists, self.watches = stop, lists, watches
        self.listed = 0
        self.watched_from: list[str] = []
        self.timeouts: list[tuple[int, float]] = []

    def list_with_version(self, res: Any, namespace: Any = None, labels: Any = None,
                          metadata_only: bool = False) -> tuple[list[Any], str]:
        items = self.lists[min(self.listed, len(self.lists) - 1)]
        self.listed += 1
        return items, str(max([int(i["metadata"]["resourceVersion"]) for i in items] or [1]))

    def watch(self, res: Any, version: str, namespace: Any, timeout: int, stall: float,
              metadata_only: bool = False) -> Iterator[Any]:
        self.watched_from.append(version)
        self.timeouts.append((timeout, stall))
        if not self.watches:
            self.stop.set()
            return
        step = self.watches.pop(0)
        if isinstance(step, Exception):
            raise step
        yield from step


def run(server: ScriptedServer, stop: threading.Event) -> tuple[Informer, list[tuple[str, str]]]:
    seen: list[tuple[str, str]] = []
    informer = Informer(server, DATASET, lambda kind, o: seen.append((kind, o["metadata"]["name"])))  # type: ignore[arg-type]
    informer.run(stop)
    return informer, seen


def test_gone_lists_again_and_reports_what_changed_meanwhile() -> None:
    stop = threading.Event()
    server = ScriptedServer(stop, lists=[[obj("a", 1), obj("b", 2)], [obj("a", 5), obj("c", 6)]],
                            watches=[Gone("too old"), [("ADDED", obj("d", 7))]])
    informer, seen = run(server, stop)
    assert server.listed == 2
    assert seen == [("ADDED", "a"), ("ADDED", "b"), ("MODIFIED", "a"), ("ADDED", "c"), ("DELETED", "b"),
                    ("ADDED", "d")]
    assert [k[1] for k in informer.cached_keys()] == ["a", "c", "d"]


def test_a_stalled_or_dropped_watch_resumes_from_the_last_version_seen() -> None:
    stop = threading.Event()
    server = ScriptedServer(stop, lists=[[obj("a", 1)]], watches=[
        [("MODIFIED", obj("a", 3)), ("BOOKMARK", {"metadata": {"resourceVersion": "9"}})],
        TimeoutError("read timed out: the watch stalled"),
        [("DELETED", obj("a", 10))],
    ])
    informer, seen = run(server, stop)
    assert server.watched_from[:2] == ["1", "9"]  # the bookmark's version is where it resumes
    assert server.listed == 2 and seen[-1] == ("DELETED", "a") and informer.cached_keys() == []


def test_a_quiet_watch_is_ended_by_the_server_before_it_could_look_stalled() -> None:
    stop = threading.Event()
    server = ScriptedServer(stop, lists=[[obj("a", 1)]], watches=[[], [("MODIFIED", obj("a", 2))]])
    informer, seen = run(server, stop)
    # A watch that ends with nothing in it is resumed from the same version, without a list.
    assert server.listed == 1 and server.watched_from[:2] == ["1", "1"] and seen[-1] == ("MODIFIED", "a")
    assert all(timeout < stall for timeout, stall in server.timeouts)
    assert [k[1] for k in informer.cached_keys()] == ["a"]


def test_the_cache_keeps_objects_without_their_managed_fields() -> None:
    stop = threading.Event()
    fields = [{"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:spec": {}}}]
    listed, watched, ours = obj("a", 1), obj("b", 2), obj("c", 3)
    for o in (listed, watched, ours):
        o["metadata"]["managedFields"] = fields
    server = ScriptedServer(stop, lists=[[listed]], watches=[[("ADDED", watched)]])
    informer, _ = run(server, stop)
    informer.remember(ours)
    for name in ("a", "b", "c"):
        cached = informer.get("ns", name)
        assert cached is not None and "managedFields" not in cached["metadata"], name
    assert ours["metadata"]["managedFields"] == fields  # the caller's own object is left alone


def test_the_cache_keeps_compact_text_and_every_read_is_a_copy_of_its_own() -> None:
    stop = threading.Event()
    a = {**obj("a", 1), "spec": {"phase": "Running", "note": "é" * 3}}
    informer, _ = run(ScriptedServer(stop, lists=[[a]], watches=[]), stop)
    text = informer._cache.text(("ns", "a"))
    assert text is not None and json.loads(text) == a and len(text) < len(json.dumps(a))  # compact
    got = informer.get("ns", "a")
    assert got == a
    assert got is not None
    got["spec"]["phase"] = "changed by a reader"
    listed = informer.list("ns")
    listed[0]["metadata"]["labels"] = {"changed": "too"}
    assert informer.get("ns", "a") == a and informer.list("ns") == [a]


def test_the_versions_listed_follow_every_change_and_decode_nothing(monkeypatch: Any) -> None:
    stop = threading.Event()
    labelled = {**obj("b", 2), "metadata": {**obj("b", 2)["metadata"], "labels": {"holds": "ports"}}}
    server = ScriptedServer(stop, lists=[[obj("a", 1), labelled, obj("c", 3)]],
                            watches=[[("MODIFIED", obj("a", 5)), ("DELETED", obj("c", 6))]])
    informer, _ = run(server, stop)
    informer.remember({**labelled, "metadata": {**labelled["metadata"], "resourceVersion": "8"}})
    decoded: list[bytes] = []
    monkeypatch.setattr("lifecycle.operator.informer.unpack", lambda text: decoded.append(text) or {})
    assert informer.list_versions("ns") == {("ns", "a"): "5", ("ns", "b"): "8"}
    assert informer.list_versions(labels={"holds": "ports"}) == {("ns", "b"): "8"}
    assert informer.list_versions("other") == {} and decoded == []
    union: Cache = UnionCache([informer])
    assert union.list_versions("ns", {"holds": "ports"}) == {("ns", "b"): "8"}


def test_updates_the_filter_finds_dull_are_cached_but_not_handed_on() -> None:
    stop = threading.Event()
    status_only = obj("a", 2)
    status_only["status"] = {"phase": "Bound"}
    respec = obj("a", 3)
    respec["spec"] = {"replicas": 2}
    server = ScriptedServer(stop, lists=[[obj("a", 1)]], watches=[[("MODIFIED", status_only), ("MODIFIED", respec)]])
    seen: list[tuple[str, str]] = []
    informer = Informer(server, DATASET, lambda kind, o: seen.append((kind, o["metadata"]["resourceVersion"])),  # type: ignore[arg-type]
                        notify=lambda old, new: old.get("spec") != new.get("spec"))
    informer.run(stop)
    assert seen == [("ADDED", "1"), ("MODIFIED", "3")]
    cached = informer.get("ns", "a")
    assert cached is not None and cached["metadata"]["resourceVersion"] == "3"


class ForbiddingServer:
    """Refuses every list, as an API server does for an account without the RBAC rule."""

    def __init__(self, stop: threading.Event, refusals: int):
        self.stop, self.refusals, self.lists = stop, refusals, 0

    def list_with_version(self, res: Any, namespace: Any = None, labels: Any = None,
                          metadata_only: bool = False) -> tuple[list[Any], str]:
        self.lists += 1
        if self.lists >= self.refusals:
            self.stop.set()
        raise Forbidden(f'GET /api/v1/{res.plural}: {res.plural} is forbidden', 403)


def test_a_forbidden_optional_watch_counts_as_synced_and_says_what_it_costs(caplog: Any) -> None:
    stop = threading.Event()
    informer = Informer(ForbiddingServer(stop, 1), SECRET, lambda *_: None,  # type: ignore[arg-type]
                        optional="changes are seen at the next resync; grant list and watch")
    informer.run(stop)
    assert informer.synced.is_set() and not informer.available
    assert "carrying on without this watch: changes are seen at the next resync" in caplog.text


def test_a_forbidden_required_watch_keeps_trying_and_names_the_fix(caplog: Any) -> None:
    stop = threading.Event()
    server = ForbiddingServer(stop, 2)
    informer = Informer(server, DATASET, lambda *_: None)  # type: ignore[arg-type]
    informer.run(stop)
    assert server.lists == 2 and not informer.synced.is_set()
    assert "grant list and watch on datasets to the operator's account" in caplog.text


def test_a_reader_changing_what_it_read_leaves_the_cache_alone() -> None:
    stop = threading.Event()
    server = ScriptedServer(stop, lists=[[obj("a", 1)]], watches=[[("MODIFIED", obj("a", 2))]])
    informer, _ = run(server, stop)
    got = informer.get("ns", "a")
    assert got is not None
    got["metadata"]["resourceVersion"] = "changed by a reader"
    informer.list("ns")[0]["metadata"]["labels"] = {"changed": "too"}
    again = informer.get("ns", "a")
    assert again == obj("a", 2) and again is not got


def test_namespaces_watched_apart_read_as_one_cache() -> None:
    def informer_of(namespace: str, name: str) -> Informer:
        stop = threading.Event()
        item = {**obj(name, 1), "metadata": {**obj(name, 1)["metadata"], "namespace": namespace}}
        server = ScriptedServer(stop, lists=[[item]], watches=[])
        informer = Informer(server, DATASET, lambda kind, o: None, namespace)  # type: ignore[arg-type]
        informer.run(stop)
        return informer

    union: Cache = UnionCache([informer_of("a", "x"), informer_of("b", "y")])
    assert [o["metadata"]["name"] for o in union.list()] == ["x", "y"]
    assert [o["metadata"]["name"] for o in union.list("b")] == ["y"]
    assert union.get("a", "x") is not None and union.get("a", "y") is None
