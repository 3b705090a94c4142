"""Field ownership on the API server: handing the fields our create set to our applies.

An object is made with a plain create (so one that someone else made meanwhile is a Conflict and is
never taken over), which the API server books as an ``Update`` by our field manager. Server-side
apply removes a field it no longer sets only when nobody else owns it, and that ``Update`` entry
still would. Applying right after each create would settle it at a request per object; most of our
objects are never applied again, so instead the first apply over one is preceded by a JSON patch
that makes the create's entry an ``Apply`` entry (or merges it into ours, for an object an earlier
version both created and applied), tested against the entries it was made from.
"""

from __future__ import annotations

from typing import Any

from lifecycle.k8s.gateway import Obj


def union(a: Obj, b: Obj) -> Obj:
    """The union of two ``fieldsV1`` sets (nested maps whose leaves are empty maps)."""
    merged = dict(a)
    for key, value in b.items():
        merged[key] = union(merged[key], value) if isinstance(merged.get(key), dict) else value
    return merged


def _index(entries: list[Any], manager: str, operation: str) -> int | None:
    for i, entry in enumerate(entries):
        if (isinstance(entry, dict) and entry.get("manager") == manager and entry.get("operation") == operation
                and not entry.get("subresource")):
            return i
    return None


def claim_patch(obj: Obj, manager: str) -> list[Obj]:
    """The JSON patch that hands ``manager``'s create (its ``Update`` entry) of ``obj`` to its applies;
    empty when there is none."""
    entries = (obj.get("metadata") or {}).get("managedFields") or []
    created, applied = _index(entries, manager, "Update"), _index(entries, manager, "Apply")
    if created is None:
        return []
    path = "/metadata/managedFields"
    tests = [{"op": "test", "path": f"{path}/{created}/manager", "value": manager},
             {"op": "test", "path": f"{path}/{created}/operation", "value": "Update"}]
    if applied is None:
        return [*tests, {"op": "replace", "path": f"{path}/{created}/operation", "value": "Apply"}]
    fields = union(entries[applied].get("fieldsV1") or {}, entries[created].get("fieldsV1") or {})
    return [
        *tests,
        {"op": "test", "path": f"{path}/{applied}/manager", "value": manager},
        {"op": "test", "path": f"{path}/{applied}/operation", "value": "Apply"},
        {"op": "replace", "path": f"{path}/{applied}/fieldsV1", "value": fields},
        {"op": "remove", "path": f"{path}/{created}"},  # after the replace, so the indices still hold
    ]
