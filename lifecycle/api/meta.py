"""Object metadata and status conditions shared by every kind of the API."""

from __future__ import annotations

from typing import Any

import attrs

from lifecycle.api._model import extra_field, field

GROUP = "data.fluid.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


@attrs.define
class OwnerReference:
    api_version: str = field(required=True)
    kind: str = field(required=True)
    name: str = field(required=True)
    uid: str = field(required=True)
    controller: bool | None = field()
    block_owner_deletion: bool | None = field()
    extra: dict[str, Any] = extra_field()


@attrs.define
class ObjectMeta:
    name: str | None = field()
    namespace: str | None = field()
    uid: str | None = field()
    resource_version: str | None = field()
    generation: int | None = field()
    creation_timestamp: str | None = field()
    deletion_timestamp: str | None = field()
    labels: dict[str, str] | None = field()
    annotations: dict[str, str] | None = field()
    finalizers: list[str] | None = field()
    owner_references: list[OwnerReference] | None = field()
    extra: dict[str, Any] = extra_field()


@attrs.define
class Condition:
    """A status condition. Datasets stamp lastUpdateTime, runtimes lastProbeTime (as the reference)."""

    type: str = field(required=True, doc="Kind of condition, e.g. Ready or MasterReady.")
    status: str = field(required=True, enum=("True", "False", "Unknown"))
    reason: str | None = field(doc="One-word CamelCase reason for the last transition.")
    message: str | None = field(doc="Human-readable details.")
    last_update_time: str | None = field(fmt="date-time")
    last_probe_time: str | None = field(fmt="date-time")
    last_transition_time: str | None = field(fmt="date-time")
    observed_generation: int | None = field(minimum=0, doc="The .metadata.generation this was computed from.")
    extra: dict[str, Any] = extra_field()


def set_condition(
    conditions: list[Condition],
    new: Condition,
    now: str,
    *,
    stamp: str = "last_update_time",
) -> bool:
    """Put a condition in place of the one of the same type; True if anything changed.

    ``lastTransitionTime`` moves only when the status flips, and nothing at all is touched while
    type, status, reason, message and observedGeneration are unchanged: an idle object is not
    rewritten just to refresh a timestamp.
    """
    for i, old in enumerate(conditions):
        if old.type != new.type:
            continue
        if (old.status, old.reason, old.message, old.observed_generation) == (
            new.status,
            new.reason,
            new.message,
            new.observed_generation,
        ):
            return False
        transition = old.last_transition_time if old.status == new.status else now
        conditions[i] = _stamped(new, transition or now, stamp, now)
        return True
    conditions.append(_stamped(new, now, stamp, now))
    return True


def _stamped(cond: Condition, transition: str, stamp: str, now: str) -> Condition:
    stamped = attrs.evolve(cond, last_transition_time=transition)
    setattr(stamped, stamp, now)
    return stamped


def find_condition(conditions: list[Condition] | None, type_: str) -> Condition | None:
    return next((c for c in conditions or () if c.type == type_), None)
