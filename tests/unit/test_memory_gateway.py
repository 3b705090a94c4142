"""The in-memory API server's apply and version listing, held to what the real one does (the same
scenarios run in tests/cluster/test_gateway.py against kube-apiserver)."""

from __future__ import annotations

from lifecycle.k8s.gateway import CONFIG_MAP, Gateway, Obj
from lifecycle.k8s.memory import MemoryGateway
from lifecycle.k8s.ownership import Owner, marker


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


def owner_reapplies_leaving_fields_out(gw: Gateway, namespace: str) -> Obj:
    """The operator's way: made by a create alone, then applied (twice) without some of its fields."""
    owner = Owner(gw, "uid-7", "Dataset team/x")
    made = owner.apply(config_map(namespace, {"keep": "1", "drop": "1"}, {"keep": "1", "drop": "1"}), CONFIG_MAP, None)
    gw.patch(CONFIG_MAP, namespace, "applied", {"metadata": {"annotations": {"theirs": "x"}}})
    applied = owner.apply(config_map(namespace, {"keep": "2"}, {"keep": "2", "list": "a"}), CONFIG_MAP, made)
    assert applied["data"] == {"keep": "2", "list": "a"}, "a field only the create set goes when an apply leaves it out"
    assert not gw.claim_created_fields(CONFIG_MAP, applied), "handed over once"
    again = owner.apply(config_map(namespace, {"keep": "3"}, {"keep": "3"}), CONFIG_MAP, applied)
    assert again["data"] == {"keep": "3"}, "a field only an apply set goes when the next leaves it out"
    found = gw.get(CONFIG_MAP, namespace, "applied")
    assert found is not None
    return found


def assert_only_the_owners_dropped_fields_are_gone(found: Obj) -> None:
    assert found["metadata"]["labels"] == {"keep": "3", **marker("uid-7")}
    assert found["metadata"]["annotations"] == {"theirs": "x"}  # another writer's field stays


def test_fields_a_create_set_are_removed_by_an_apply_that_leaves_them_out() -> None:
    gw = MemoryGateway()
    assert_only_the_owners_dropped_fields_are_gone(owner_reapplies_leaving_fields_out(gw, "team"))
    assert gw.writes["create"] == 1 and gw.writes["apply"] == 2 and gw.writes["patch"] == 2  # theirs + the claim


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


def assert_versions_follow_the_objects(gw: Gateway, namespace: str) -> None:
    """``list_versions`` names what ``list`` returns, each at the version ``get`` reads."""
    for name, labels in (("plain", {}), ("marked", {"holds": "ports"})):
        gw.create({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": name, "namespace": namespace, "labels": labels}, "data": {"a": "1"}})
    gw.patch(CONFIG_MAP, namespace, "marked", {"data": {"a": "2"}})

    def version(name: str) -> str:
        found = gw.get(CONFIG_MAP, namespace, name)
        assert found is not None
        return str(found["metadata"]["resourceVersion"])

    marked = {(namespace, "marked"): version("marked")}
    assert gw.list_versions(CONFIG_MAP, namespace, {"holds": "ports"}) == marked
    everything = gw.list_versions(CONFIG_MAP, namespace)
    ours = {k: v for k, v in everything.items() if k[1] in ("plain", "marked")}
    assert ours == {**marked, (namespace, "plain"): version("plain")}
    gw.delete(CONFIG_MAP, namespace, "marked")
    assert gw.list_versions(CONFIG_MAP, namespace, {"holds": "ports"}) == {}


def test_the_versions_listed_follow_the_objects() -> None:
    assert_versions_follow_the_objects(MemoryGateway(), "team")
