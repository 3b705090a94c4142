"""DataProcess: the user's own processor run against the Dataset's volume, on any runtime.

Unlike the other three kinds, a DataProcess asks nothing of the cache system: it is a Job that mounts
the Dataset's PVC at ``spec.dataset.mountPath`` (``subPath`` inside it) and runs either a script
(``processor.script``: image, command, source, env, volumes, resources) or a whole pod spec
(``processor.job.podSpec``, the volume added to every container). So the lifecycle builds it for
every engine (``work_of``); an engine that lists DataProcess among its own kinds builds it instead.
"""

from __future__ import annotations

import copy
from typing import Any

from lifecycle.api.operation import Operation
from lifecycle.api.operations import DataProcess, ScriptProcessor
from lifecycle.api.validation.operation import DATASET_VOLUME
from lifecycle.engine.operations import OperationWork, Unsupported, job_state
from lifecycle.k8s.gateway import Obj
from lifecycle.k8s.naming import pvc_name

PROCESS = "DataProcess"
SCRIPT_CONTAINER = "script-processor"


def dataset_volume(op: DataProcess) -> tuple[Obj, Obj]:
    """The Dataset's PVC as a pod volume, and its mount where the processor reads it."""
    target = op.spec.dataset
    assert target is not None  # validated: a DataProcess names its Dataset and where it is mounted
    volume = {"name": DATASET_VOLUME, "persistentVolumeClaim": {"claimName": pvc_name(target.name)}}
    mount: Obj = {"name": DATASET_VOLUME, "mountPath": target.mount_path}
    if target.sub_path:
        mount["subPath"] = target.sub_path
    return volume, mount


def _script_pod(script: ScriptProcessor, volume: Obj, mount: Obj) -> Obj:
    if not script.image:
        raise Unsupported("processor.script has no image; set processor.script.image")
    image = f"{script.image}:{script.image_tag}" if script.image_tag else script.image
    container: Obj = {"name": SCRIPT_CONTAINER, "image": image,
                      "volumeMounts": [*copy.deepcopy(script.volume_mounts or []), mount]}
    optional: dict[str, Any] = {"imagePullPolicy": script.image_pull_policy, "command": script.command,
                                "args": [script.source] if script.source else None, "env": script.env,
                                "resources": script.resources}
    container.update({k: copy.deepcopy(v) for k, v in optional.items() if v})
    return {"restartPolicy": script.restart_policy or "Never", "containers": [container],
            "volumes": [*copy.deepcopy(script.volumes or []), volume]}


def _job_pod(pod_spec: Obj, volume: Obj, mount: Obj) -> Obj:
    pod = copy.deepcopy(pod_spec)
    pod["volumes"] = [*(pod.get("volumes") or []), volume]
    for group in ("initContainers", "containers"):
        for container in pod.get(group) or []:
            container["volumeMounts"] = [*(container.get("volumeMounts") or []), dict(mount)]
    if pod.get("restartPolicy") not in ("Never", "OnFailure"):
        pod["restartPolicy"] = "Never"  # a Job's pod cannot restart Always
    return pod


def process_job(op: DataProcess, name: str, namespace: str) -> Obj:
    """The batch/v1 Job of one run of ``op``: one pod, not retried (a user's script may not be safe to
    run twice; a Cron or OnEvent DataProcess runs again at its next tick or event)."""
    processor = op.spec.processor
    if processor is None or (processor.script is None and processor.job is None):
        raise Unsupported("spec.processor has neither script nor job")
    volume, mount = dataset_volume(op)
    if processor.script is not None:
        pod = _script_pod(processor.script, volume, mount)
    else:
        assert processor.job is not None
        pod = _job_pod(processor.job.pod_spec or {}, volume, mount)
    if processor.service_account_name:
        pod["serviceAccountName"] = processor.service_account_name
    meta = processor.pod_metadata
    template: Obj = {"labels": dict(meta.labels or {}) if meta else {}}
    if meta and meta.annotations:
        template["annotations"] = dict(meta.annotations)
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": namespace, "labels": {}},
            "spec": {"backoffLimit": 0, "template": {"metadata": template, "spec": pod}}}


class WithProcess:
    """An engine's operation work with DataProcess added: built here unless the engine builds it."""

    def __init__(self, engine: OperationWork | None, namespace: str):
        self.engine = engine
        self.namespace = namespace
        self._own = tuple(engine.operation_kinds()) if engine is not None else ()

    def _ours(self, op: Operation) -> bool:
        return op.KIND == PROCESS and PROCESS not in self._own

    def operation_kinds(self) -> tuple[str, ...]:
        return self._own if PROCESS in self._own else (*self._own, PROCESS)

    def operation_job(self, op: Operation, name: str) -> Obj:
        if isinstance(op, DataProcess) and self._ours(op):
            return process_job(op, name, self.namespace)
        if self.engine is None:
            raise Unsupported(f"the runtime cannot run {op.KIND}")
        return self.engine.operation_job(op, name)

    def operation_progress(self, op: Operation, job: Obj) -> str | None:
        if self._ours(op) or self.engine is None:
            return job_state(job)
        return self.engine.operation_progress(op, job)


def work_of(engine: Any, namespace: str) -> WithProcess:
    """What a Dataset's runtime can run: its engine's operations, and DataProcess on any runtime."""
    return WithProcess(engine if isinstance(engine, OperationWork) else None, namespace)


__all__ = ["DATASET_VOLUME", "SCRIPT_CONTAINER", "WithProcess", "dataset_volume", "process_job", "work_of"]
