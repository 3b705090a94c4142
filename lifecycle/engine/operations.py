"""The optional part of the engine contract: the work of data operations.

The operation machine (``lifecycle.machine.tables.OPERATION``) decides when an operation runs and
holds the Dataset's lock; the engine of the Dataset's runtime says *what* runs, as a Job. An engine
lists the kinds it can do in ``operation_kinds`` and builds each run's Job in ``operation_job``;
one that lists nothing (the default of ``ImplementBase``), or raises ``Unsupported``, makes the
operation ``Failed`` with a reason that names the runtime and the kind, never a crash. A
third-party engine adds operations the way it adds a runtime: by implementing these methods.

``operation_progress`` reads how far a run is from its Job (and whatever the engine's tool
reports); ``None`` leaves the progress as it was.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from lifecycle.api.operation import Operation
from lifecycle.k8s.gateway import Obj

# On an operation's pod: the pod of the cache tool its command talks to (the master, for a cache).
TOOL_POD_ANNOTATION = "data.fluid.io/operation-tool-pod"


class Unsupported(Exception):
    """This runtime cannot run this operation (or this form of it); the message says what would."""


@runtime_checkable
class OperationWork(Protocol):
    def operation_kinds(self) -> tuple[str, ...]: ...

    def operation_job(self, op: Operation, name: str) -> Obj:
        """The batch/v1 Job of one run, called ``name``; the lifecycle adds our marker, the owner
        reference to the operation and the labels that find it again."""
        ...

    def operation_progress(self, op: Operation, job: Obj) -> str | None: ...


def job_manifest(name: str, namespace: str, image: str, command: list[str], *,
                 env: dict[str, str] | None = None, labels: dict[str, str] | None = None,
                 annotations: dict[str, str] | None = None, extra_pod: dict[str, Any] | None = None,
                 volume_mounts: list[Obj] | None = None, backoff_limit: int = 3) -> Obj:
    """A plain one-pod Job running ``command``: what most engines' operations need."""
    container: dict[str, Any] = {"name": "operation", "image": image, "command": command}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in sorted(env.items())]
    if volume_mounts:
        container["volumeMounts"] = list(volume_mounts)
    pod_meta: dict[str, Any] = {"labels": dict(labels or {})}
    if annotations:
        pod_meta["annotations"] = dict(annotations)
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "spec": {"backoffLimit": backoff_limit, "template": {
            "metadata": pod_meta,
            "spec": {"restartPolicy": "Never", "containers": [container], **(extra_pod or {})}}},
    }


def job_condition(job: Obj | None, type_: str) -> bool:
    """The Job has condition ``type_`` (Complete, Failed) with status True."""
    return any(c.get("type") == type_ and c.get("status") == "True"
               for c in ((job or {}).get("status") or {}).get("conditions") or [])


def job_state(job: Obj) -> str:
    """How a run's Job stands: succeeded, failed, running or starting."""
    status = job.get("status") or {}
    if job_condition(job, "Complete") or status.get("succeeded"):
        return "succeeded"
    if job_condition(job, "Failed"):
        return "failed"
    return "running" if status.get("active") else "starting"


__all__ = ["TOOL_POD_ANNOTATION", "OperationWork", "Unsupported", "job_condition", "job_manifest", "job_state"]
