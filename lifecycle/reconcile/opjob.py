"""Where an operation's Job runs, and what it leaves behind for the operation that runs after it.

The engine says what a run does (``OperationWork.operation_job``); the operation's own spec says
where its pod goes: ``affinity``, ``tolerations``, ``nodeSelector``, ``schedulerName``,
``imagePullSecrets``, ``resources``, ``podMetadata`` and, for DataBackup, ``runAs``. They are put on
every engine's Job here, so a third-party engine gets them without a line of its own (what the
engine set itself is kept).

``spec.runAfter.affinityStrategy`` places a run near its predecessor's: a finished run records the
labels of the node its pod ran on (``status.nodeLabels``: the hostname, zone and region, and the keys
its own node affinity named); a successor with policy ``Require`` gets a required node affinity on
the keys it lists (the hostname by default), with ``Prefer`` a weighted preferred one.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from lifecycle.api.operation import AffinityStrategy, Operation
from lifecycle.k8s.gateway import NODE, POD, Gateway, Obj

HOSTNAME = "kubernetes.io/hostname"
TOPOLOGY = (HOSTNAME, "topology.kubernetes.io/region", "topology.kubernetes.io/zone")
POD_FIELDS = (("affinity", "affinity"), ("tolerations", "tolerations"), ("node_selector", "nodeSelector"),
              ("scheduler_name", "schedulerName"), ("image_pull_secrets", "imagePullSecrets"))
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


def dress(job: Obj, op: Operation, predecessor_labels: dict[str, str] | None) -> None:
    """Put the operation's placement and pod metadata on the engine's Job."""
    spec = getattr(op, "spec", None)
    template = job["spec"]["template"]
    _place(template["spec"], spec)
    meta = getattr(spec, "pod_metadata", None)
    if meta is not None:
        pod_meta = template.setdefault("metadata", {})
        for key, extra in (("labels", meta.labels), ("annotations", meta.annotations)):
            if extra:
                pod_meta[key] = {**extra, **(pod_meta.get(key) or {})}
    after = op.run_after
    if after is not None and after.affinity_strategy is not None and predecessor_labels:
        _near(template["spec"], after.affinity_strategy, predecessor_labels)


def _place(pod: Obj, spec: Any) -> None:
    for attr, key in POD_FIELDS:
        value = getattr(spec, attr, None)
        if value and key not in pod:
            pod[key] = copy.deepcopy(value)
    resources = getattr(spec, "resources", None)
    for container in pod.get("containers") or []:
        if resources and "resources" not in container:
            container["resources"] = copy.deepcopy(resources)
    run_as = getattr(spec, "run_as", None)
    if run_as is not None:
        context = pod.setdefault("securityContext", {})
        for key, value in (("runAsUser", run_as.uid), ("runAsGroup", run_as.gid)):
            if value is not None:
                context.setdefault(key, value)


def _near(pod: Obj, strategy: AffinityStrategy, labels: dict[str, str]) -> None:
    node_affinity = pod.setdefault("affinity", {}).setdefault("nodeAffinity", {})
    if strategy.policy == "Require":
        keys = [r.name for r in strategy.require or []] or [HOSTNAME]
        expressions = [{"key": k, "operator": "In", "values": [labels[k]]} for k in keys if k in labels]
        if not expressions:
            return
        required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
        terms = required.setdefault("nodeSelectorTerms", []) or [{}]
        for term in terms:  # terms are ORed: each must also hold the predecessor's node
            term["matchExpressions"] = [*(term.get("matchExpressions") or []), *copy.deepcopy(expressions)]
        required["nodeSelectorTerms"] = terms
    elif strategy.policy == "Prefer":
        prefer = [(p.name, p.weight) for p in strategy.prefer or []] or [(HOSTNAME, 100)]
        preferred = node_affinity.setdefault("preferredDuringSchedulingIgnoredDuringExecution", [])
        preferred += [{"weight": weight, "preference": {"matchExpressions": [
            {"key": key, "operator": "In", "values": [labels[key]]}]}} for key, weight in prefer if key in labels]


def node_labels(gateway: Gateway, namespace: str, job: str, op: Operation) -> dict[str, str] | None:
    """The labels a successor can be placed by: of the node the run's latest pod ran on."""
    pods = [p for p in gateway.list(POD, namespace, labels={JOB_NAME_LABEL: job})
            if (p.get("spec") or {}).get("nodeName")]
    if not pods:
        return None
    pod = max(pods, key=lambda p: p["metadata"].get("creationTimestamp") or "")
    node_name = pod["spec"]["nodeName"]
    node = gateway.get(NODE, None, node_name)
    labels = dict(((node or {}).get("metadata") or {}).get("labels") or {})
    labels.setdefault(HOSTNAME, node_name)
    keys = {*TOPOLOGY, *_affinity_keys(getattr(getattr(op, "spec", None), "affinity", None))}
    return {k: v for k, v in sorted(labels.items()) if k in keys}


def _affinity_keys(affinity: dict[str, Any] | None) -> set[str]:
    node_affinity = (affinity or {}).get("nodeAffinity") or {}
    terms = [*((node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get(
        "nodeSelectorTerms") or []),
             *(p.get("preference") or {} for p in node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution")
               or [])]
    return {e["key"] for t in terms for e in t.get("matchExpressions") or [] if e.get("key")}


def job_message(job: Obj | None, type_: str) -> str | None:
    for c in ((job or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return str(c.get("message") or c.get("reason") or "") or None
    return None


def duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes or hours else "") + f"{seconds}s"


__all__ = ["HOSTNAME", "dress", "duration", "job_message", "node_labels"]
