"""What the bench's idle window reports a write changed: the fields, two levels deep, without the
bookkeeping every update changes."""

from __future__ import annotations

from tests.bench.watchers import changed_fields


def test_a_status_write_is_named_by_the_fields_it_changed() -> None:
    before = {"metadata": {"resourceVersion": "1", "name": "a"}, "status": {"phase": "Bound", "cacheStates": {"x": 1}}}
    after = {"metadata": {"resourceVersion": "2", "name": "a"}, "status": {"phase": "Bound", "cacheStates": {"x": 2},
                                                                          "ufsTotal": "1KiB"}}
    assert changed_fields(before, after) == ["status.cacheStates", "status.ufsTotal"]


def test_an_update_that_changed_only_bookkeeping_changed_nothing() -> None:
    before = {"metadata": {"resourceVersion": "1", "managedFields": [], "generation": 1}, "spec": {"a": 1}}
    after = {"metadata": {"resourceVersion": "2", "managedFields": [{"m": 1}], "generation": 2}, "spec": {"a": 1}}
    assert changed_fields(before, after) == []
