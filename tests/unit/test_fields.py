"""Handing a create's fields to the applies: the JSON patch is made only from the entries it names."""

from __future__ import annotations

from lifecycle.k8s.fields import claim_patch, union

CREATED = {"manager": "fluid-lifecycle", "operation": "Update", "fieldsV1": {"f:data": {"f:a": {}, "f:b": {}}}}
APPLIED = {"manager": "fluid-lifecycle", "operation": "Apply", "fieldsV1": {"f:data": {"f:a": {}}, "f:metadata": {}}}
THEIRS = {"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:metadata": {"f:annotations": {}}}}


def with_fields(*entries: dict[str, object]) -> dict[str, object]:
    return {"metadata": {"managedFields": list(entries)}}


def test_union_keeps_every_field_of_both_sets() -> None:
    assert union({"f:a": {"f:x": {}}, "f:b": {}}, {"f:a": {"f:y": {}}, "f:c": {}}) == \
        {"f:a": {"f:x": {}, "f:y": {}}, "f:b": {}, "f:c": {}}


def test_the_create_entry_goes_into_the_apply_entry_and_is_removed() -> None:
    patch = claim_patch(with_fields(THEIRS, CREATED, APPLIED), "fluid-lifecycle")  # an earlier version's
    tests = [(op["path"], op["value"]) for op in patch if op["op"] == "test"]
    assert tests == [("/metadata/managedFields/1/manager", "fluid-lifecycle"),
                     ("/metadata/managedFields/1/operation", "Update"),
                     ("/metadata/managedFields/2/manager", "fluid-lifecycle"),
                     ("/metadata/managedFields/2/operation", "Apply")]
    assert patch[-2] == {"op": "replace", "path": "/metadata/managedFields/2/fieldsV1",
                         "value": {"f:data": {"f:a": {}, "f:b": {}}, "f:metadata": {}}}
    assert patch[-1] == {"op": "remove", "path": "/metadata/managedFields/1"}  # after the replace: indices hold


def test_a_create_never_applied_becomes_the_apply_entry() -> None:
    assert claim_patch(with_fields(THEIRS, CREATED), "fluid-lifecycle") == [
        {"op": "test", "path": "/metadata/managedFields/1/manager", "value": "fluid-lifecycle"},
        {"op": "test", "path": "/metadata/managedFields/1/operation", "value": "Update"},
        {"op": "replace", "path": "/metadata/managedFields/1/operation", "value": "Apply"}]


def test_nothing_to_hand_over_without_a_create_entry_of_our_manager() -> None:
    assert claim_patch(with_fields(APPLIED, THEIRS), "fluid-lifecycle") == []  # already handed over
    assert claim_patch(with_fields({**CREATED, "manager": "kubectl"}, APPLIED), "fluid-lifecycle") == []
    assert claim_patch(with_fields({**CREATED, "subresource": "status"}, APPLIED), "fluid-lifecycle") == []
    assert claim_patch({"metadata": {}}, "fluid-lifecycle") == []
