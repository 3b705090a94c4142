"""The indexed object table, packed or not, answers every list exactly as a walk over all its objects would."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from lifecycle.k8s.index import ObjectIndex, unpack

NAMESPACES = ("", "a", "b")
NAMES = ("x", "y", "z")
LABELS = st.dictionaries(st.sampled_from(("app", "role", "release")), st.sampled_from(("1", "2")), max_size=3)
# (namespace, name, labels) to store, or (namespace, name, None) to delete
STEPS = st.lists(st.tuples(st.sampled_from(NAMESPACES), st.sampled_from(NAMES), st.none() | LABELS), max_size=30)


def obj(namespace: str, name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name, "labels": labels}}


def walked(objects: dict[tuple[str, str], dict[str, Any]], namespace: str | None,
           labels: dict[str, str]) -> list[dict[str, Any]]:
    return [o for key, o in sorted(objects.items())
            if (namespace is None or key[0] == namespace)
            and all(o["metadata"]["labels"].get(k) == v for k, v in labels.items())]


@given(STEPS, st.none() | st.sampled_from(NAMESPACES), LABELS, st.booleans())
def test_a_list_is_what_a_walk_over_every_object_finds(steps: list[Any], namespace: str | None,
                                                       labels: dict[str, str], packed: bool) -> None:
    index, plain = ObjectIndex(packed=packed), {}
    for ns, name, labelled in steps:
        if labelled is None:
            index.pop((ns, name), None)
            plain.pop((ns, name), None)
        else:
            index[(ns, name)] = plain[(ns, name)] = obj(ns, name, labelled)
    assert index.select(namespace, labels) == walked(plain, namespace, labels)
    assert dict(index) == plain
    if packed:
        assert [unpack(t) for t in index.select_texts(namespace, labels)] == walked(plain, namespace, labels)


def test_a_relabelled_object_leaves_its_old_label_and_an_emptied_index_is_dropped() -> None:
    index = ObjectIndex({("a", "x"): obj("a", "x", {"role": "master"})})
    index[("a", "x")] = obj("a", "x", {"role": "worker"})
    assert index.select("a", {"role": "master"}) == []
    assert [o["metadata"]["labels"] for o in index.select(None, {"role": "worker"})] == [{"role": "worker"}]
    del index[("a", "x")]
    assert not index._labels and not index._namespaces and len(index) == 0
