"""Data operations of a master/worker cache: each run is a one-pod Job running the cache's own CLI.

A cache system says which operation kinds it can do (``OPERATION_KINDS``) and the command lines of
each (``operation_commands``); this module turns them into the Job, in the runtime's image, with the
master pod it talks to named in an annotation (which also lets the local cluster run the command
against that master's simulated cache). Progress is the Job's state and how much of the Dataset the
cache holds, as the runtime's last report says.
"""

from __future__ import annotations

import shlex
from typing import Any, ClassVar

from lifecycle import TOOL_POD_ANNOTATION, Obj, Operation, Unsupported, job_manifest, job_state


class CacheOperations:
    """Mixed into a cache engine; the engine supplies ``ns``, ``master_pod``, ``ctx``, ``ref`` and the
    hooks named below."""

    OPERATION_KINDS: ClassVar[tuple[str, ...]] = ()
    ns: str
    master_pod: str
    ctx: Any
    ref: str

    def operation_kinds(self) -> tuple[str, ...]:
        return self.OPERATION_KINDS

    def operation_image(self) -> str:
        raise NotImplementedError

    def operation_commands(self, op: Operation) -> list[list[str]]:
        raise Unsupported(f"{self.ref} cannot run {op.KIND}")

    def operation_job(self, op: Operation, name: str) -> Obj:
        if op.KIND not in self.OPERATION_KINDS:
            raise Unsupported(f"{self.ref} cannot run {op.KIND}; it runs {', '.join(self.OPERATION_KINDS) or 'none'}")
        script = " && ".join(shlex.join(argv) for argv in self.operation_commands(op))
        volumes, mounts = self.operation_volumes(op)
        return job_manifest(name, self.ns, self.operation_image(), ["/bin/sh", "-c", script],
                            annotations={TOOL_POD_ANNOTATION: self.master_pod},
                            extra_pod={"volumes": volumes} if volumes else None, volume_mounts=mounts)

    def operation_volumes(self, op: Operation) -> tuple[list[Obj], list[Obj]]:
        """The pod volumes a run needs, and where its container mounts them (none by default)."""
        return [], []

    def operation_progress(self, op: Operation, job: Obj) -> str | None:
        run = job_state(job)
        runtime_status = self.ctx.runtime.status
        cached = (runtime_status.cache_states or {}).get("cachedPercentage") if runtime_status else None
        return f"{run}; {cached} of the Dataset cached" if cached else run
