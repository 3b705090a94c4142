"""What Alluxio runs for each data operation, as command lines of its CLI.

DataLoad: ``alluxio fs loadMetadata -R`` (when asked) and ``alluxio fs distributedLoad
--replication N`` per target path (the Dataset's root when none is given). DataBackup: ``alluxio
fsadmin backup <dir> --local``, the master's metadata journal written where the backup path points
(a ``pvc://`` path's claim is mounted in the Job's pod).
DataMigrate: ``alluxio fs distributedCp`` from one end to the other (an external URI is read through
Alluxio's root mount or written to it).
"""

from __future__ import annotations

from lifecycle import DataBackup, DataLoad, DataMigrate, Obj, Operation, Unsupported

KINDS = ("DataLoad", "DataBackup", "DataMigrate")
BACKUP_MOUNT = "/alluxio-backups"


def commands(op: Operation) -> list[list[str]]:
    if isinstance(op, DataLoad):
        out: list[list[str]] = []
        targets = [(t.path, t.replicas) for t in op.spec.target or []] or [("/", None)]
        for path, replicas in targets:
            if op.spec.load_metadata:
                out.append(["alluxio", "fs", "loadMetadata", "-R", path])
            out.append(["alluxio", "fs", "distributedLoad", "--replication", str(replicas or 1), path])
        return out
    if isinstance(op, DataBackup):
        return [["alluxio", "fsadmin", "backup", backup_dir(op), "--local"]]
    if isinstance(op, DataMigrate):
        src, dst = _end(op.spec.from_), _end(op.spec.to)
        return [["alluxio", "fs", "distributedCp", src, dst]]
    raise Unsupported(f"Alluxio cannot run {op.KIND}")


def volumes(op: Operation) -> tuple[list[Obj], list[Obj]]:
    """A backup to ``pvc://<claim>/<path>`` writes into that claim, mounted where ``backup_dir`` points."""
    claim = op.spec.claim if isinstance(op, DataBackup) else None
    if claim is None:
        return [], []
    return ([{"name": "backup", "persistentVolumeClaim": {"claimName": claim[0]}}],
            [{"name": "backup", "mountPath": BACKUP_MOUNT}])


def backup_dir(op: DataBackup) -> str:
    """Where in the Job's pod the backup goes: a PVC's sub-path under the claim's mount, a local path as is."""
    claim = op.spec.claim
    if claim is not None:
        return f"{BACKUP_MOUNT}/{claim[1]}".rstrip("/")
    return (op.spec.backup_path or "").partition("://")[2] or BACKUP_MOUNT


def _end(end: object) -> str:
    dataset = getattr(end, "dataset", None)
    if dataset is not None:
        return str(dataset.path or "/")
    storage = getattr(end, "external_storage", None)
    return str(storage.uri) if storage is not None else "/"
