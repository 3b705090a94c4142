"""The in-memory API server's apply, held to what the real one does (the same scenario runs in
tests/cluster/test_gateway.py against kube-apiserver)."""

from __future__ import annotations

from lifecycle.k8s.gateway import CONFIG_MAP, Gateway, Obj
from lifecycle.k8s.memory import MemoryGateway


def config_map(namespace: str, labels: dict[str, str], data: dict[str, str]) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "applied", "namespace": namespace, "labels": labels}, "data": data}


def reapply_leaving_fields_out(gw: Gateway, namespace: str) -> Obj:
    """Apply, let another writer add an annotation, then apply again without some of our fields."""
    gw.apply(config_map(namespace, {"keep": "1", "drop": "1"}, {"keep": "1", "drop": "1", "list": "a,b"}))
    gw.patch(CONFIG_MAP, namespace, "applied", {"metadata": {"annotations": {"theirs": "x"}}})
    gw.apply(config_map(namespace, {"keep": "2"}, {"keep": "2", "list": "a"}))
    found = gw.get(CONFIG_MAP, namespace, "applied")
    assert found is not None
    return found


def assert_only_our_dropped_fields_are_gone(found: Obj) -> None:
    assert found["metadata"]["labels"] == {"keep": "2"}
    assert found["data"] == {"keep": "2", "list": "a"}
    assert found["metadata"]["annotations"] == {"theirs": "x"}  # another writer's field stays


def test_a_field_the_last_apply_set_and_this_one_leaves_out_is_removed() -> None:
    assert_only_our_dropped_fields_are_gone(reapply_leaving_fields_out(MemoryGateway(), "team"))


def test_an_object_made_again_forgets_what_was_applied_to_the_old_one() -> None:
    gw = MemoryGateway()
    gw.apply(config_map("team", {"old": "1"}, {"old": "1"}))
    gw.delete(CONFIG_MAP, "team", "applied")
    gw.create(config_map("team", {"old": "1"}, {"old": "1"}))
    gw.apply(config_map("team", {"new": "1"}, {"new": "1"}))
    found = gw.get(CONFIG_MAP, "team", "applied")
    assert found is not None and found["data"] == {"old": "1", "new": "1"}
