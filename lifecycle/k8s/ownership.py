"""Ownership as a mechanism: the operator changes only what it made.

Everything a runtime's engine creates carries our marker: the managed-by label and the UID of
the runtime it belongs to. An object is *ours* for a runtime when it carries that marker, or when
its controller owner reference is that runtime (what the reference made for the same runtime, as
Kubernetes' own garbage collector sees it). Creating comes first; an object found under a name we
want is taken over only when it is ours, and otherwise ``ObjectInTheWay`` names it and the fix,
which the pair reports (a condition and a Warning event) while it waits. Apply and delete go only
to objects that are ours, and a delete carries the object's UID as a precondition, so an object
recreated under the name meanwhile by someone else is never deleted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from lifecycle.k8s.gateway import Conflict, Gateway, Obj, Resource

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGER = "fluid-lifecycle"
OWNER_LABEL = "data.fluid.io/owner-uid"
# The reference's mark on the PVs and PVCs it makes; ours carry it too, so its tools know them.
CREATED_BY = ("CreatedBy", "fluid")


def marker(owner_uid: str) -> dict[str, str]:
    """The labels every object of a runtime carries."""
    return {MANAGED_BY_LABEL: MANAGER, OWNER_LABEL: owner_uid}


def marked(obj: Obj, owner_uid: str) -> Obj:
    """``obj`` with the marker of ``owner_uid`` among its labels."""
    meta = obj.setdefault("metadata", {})
    meta["labels"] = {**(meta.get("labels") or {}), **marker(owner_uid)}
    return obj


def is_ours(obj: Obj, owner_uid: str) -> bool:
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    if labels.get(MANAGED_BY_LABEL) == MANAGER and labels.get(OWNER_LABEL) == owner_uid:
        return True
    return any(ref.get("uid") == owner_uid and ref.get("controller") for ref in meta.get("ownerReferences") or [])


def describe(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind', 'object')} {where}{meta.get('name')}"


class ObjectInTheWay(RuntimeError):
    """Objects that are not ours stand under names the pair needs; the message names each and the fix."""

    reason = "ObjectInTheWay"

    def __init__(self, who: str, objects: Iterable[Obj]):
        self.objects = list(objects)
        names = ", ".join(describe(o) for o in self.objects)
        super().__init__(
            f"{who}: {names} already exist{'s' if len(self.objects) == 1 else ''} and "
            f"{'is' if len(self.objects) == 1 else 'are'} not ours (no {MANAGED_BY_LABEL}={MANAGER} and "
            f"{OWNER_LABEL} of this runtime); they are left untouched: rename or delete "
            f"{'it' if len(self.objects) == 1 else 'them'}, or give the Dataset and runtime another name")


class Owner:
    """The gateway as one runtime may use it: creates, applies and deletes only what is its own."""

    def __init__(self, gateway: Gateway, owner_uid: str, who: str):
        self.gateway, self.uid, self.who = gateway, owner_uid, who

    def in_the_way(self, live: Iterable[Obj | None]) -> list[Obj]:
        """The objects among ``live`` that exist and are not ours."""
        return [o for o in live if o is not None and not is_ours(o, self.uid)]

    def check(self, live: Iterable[Obj | None]) -> None:
        found = self.in_the_way(live)
        if found:
            raise ObjectInTheWay(self.who, found)

    def create(self, obj: Obj, res: Resource) -> Obj:
        """Create ``obj`` (marked); an object already there is returned if ours, else in the way."""
        meta = obj["metadata"]
        try:
            return self.gateway.create(marked(obj, self.uid))
        except Conflict:
            live = self.gateway.get(res, meta.get("namespace"), meta["name"])
            if live is None:
                raise  # gone again meanwhile: the next pass creates it
            self.check([live])
            return live

    def apply(self, obj: Obj, res: Resource, live: Obj | None) -> Obj:
        """Server-side apply of ``obj`` (marked) over ``live`` when that is ours. Without a live object
        it is created, so one that someone else made meanwhile is never taken over. Before the first
        apply over an object we created, the create's fields are handed to the applies, so that what
        they leave out is removed (``lifecycle.k8s.fields``); a crash between the two leaves them
        handed over, and the apply comes at the next pass."""
        marked(obj, self.uid)
        if live is None:
            try:
                return self.gateway.create(obj)
            except Conflict:
                live = self.gateway.get(res, obj["metadata"].get("namespace"), obj["metadata"]["name"])
                if live is None:
                    raise
        self.check([live])
        self.gateway.claim_created_fields(res, live)
        return self.gateway.apply(obj)

    def delete(self, res: Resource, live: Obj | None) -> bool:
        """Delete ``live`` if it is ours and still the same object; False when nothing was deleted."""
        if live is None or live["metadata"].get("deletionTimestamp") or not is_ours(live, self.uid):
            return False
        meta = live["metadata"]
        with contextlib.suppress(Conflict):  # replaced meanwhile: that one is not ours to delete
            return self.gateway.delete(res, meta.get("namespace"), meta["name"], uid=meta.get("uid"))
        return False
