"""The indexed object table, packed or not, answers every list exactly as a walk over all its objects
would, whether a label key was indexed before the objects came, after, or was never asked for."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from lifecycle.k8s.index import ObjectIndex, unpack

NAMESPACES = ("", "a", "b")
NAMES = ("x", "y", "z")
LABELS = st.dictionaries(st.sampled_from(("app", "role", "release")), st.sampled_from(("1", "2")), max_size=3)
# ("put", namespace, name, labels), ("delete", namespace, name) or ("select", namespace or None, labels)
STEPS = st.lists(st.one_of(st.tuples(st.just("put"), st.sampled_from(NAMESPACES), st.sampled_from(NAMES), LABELS),
                           st.tuples(st.just("delete"), st.sampled_from(NAMESPACES), st.sampled_from(NAMES)),
                           st.tuples(st.just("select"), st.none() | st.sampled_from(NAMESPACES), LABELS)),
                 max_size=40)


def obj(namespace: str, name: str, labels: dict[str, str], version: int = 1) -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name, "labels": labels, "resourceVersion": str(version)}}


def walked(objects: dict[tuple[str, str], dict[str, Any]], namespace: str | None,
           labels: dict[str, str]) -> list[dict[str, Any]]:
    return [o for key, o in sorted(objects.items())
            if (namespace is None or key[0] == namespace)
            and all(o["metadata"]["labels"].get(k) == v for k, v in labels.items())]


def answers(index: ObjectIndex, plain: dict[tuple[str, str], dict[str, Any]], namespace: str | None,
            labels: dict[str, str]) -> None:
    expected = walked(plain, namespace, labels)
    assert index.select(namespace, labels) == expected
    assert index.versions(namespace, labels) == {
        (o["metadata"]["namespace"], o["metadata"]["name"]): o["metadata"]["resourceVersion"] for o in expected}
    if index.packed:
        assert [unpack(t) for t in index.select_texts(namespace, labels)] == expected


@given(STEPS, st.none() | st.sampled_from(NAMESPACES), LABELS, st.booleans(),
       st.lists(st.sampled_from(("app", "role")), max_size=2))
def test_a_list_is_what_a_walk_over_every_object_finds(steps: list[Any], namespace: str | None,
                                                       labels: dict[str, str], packed: bool,
                                                       indexed_first: list[str]) -> None:
    index, plain = ObjectIndex(packed=packed, label_keys=indexed_first), {}
    for n, step in enumerate(steps):
        if step[0] == "put":
            _, ns, name, labelled = step
            index[(ns, name)] = plain[(ns, name)] = obj(ns, name, labelled, n)
        elif step[0] == "delete":
            index.pop(step[1:], None)
            plain.pop(step[1:], None)
        else:
            answers(index, plain, step[1], step[2])
    answers(index, plain, namespace, labels)
    assert dict(index) == plain
    listed_again = ObjectIndex(plain, packed=packed, label_keys=index.label_keys)
    answers(listed_again, plain, namespace, labels)


def test_only_the_label_keys_selected_by_are_indexed_and_an_emptied_index_is_dropped() -> None:
    index = ObjectIndex({("a", "x"): obj("a", "x", {"role": "master", "pod-name": "x-0"})}, packed=True)
    assert index.label_keys == ()
    assert [o["metadata"]["name"] for o in index.select("a", {"role": "master"})] == ["x"]
    assert index.label_keys == ("role",)  # the pod's name, never selected by, has no index
    index[("a", "x")] = obj("a", "x", {"role": "worker"})
    assert index.select("a", {"role": "master"}) == []
    assert [o["metadata"]["labels"] for o in index.select(None, {"role": "worker"})] == [{"role": "worker"}]
    del index[("a", "x")]
    assert index._by_label == {"role": {}} and not index._namespaces and not index._versions and len(index) == 0
