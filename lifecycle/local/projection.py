"""What a kubelet would put into a simulated pod: the files of its Secret volumes.

kwok runs a pod's exec as a local process, which has no volumes. To let a cache CLI stand-in read
a mounted Secret as the real tool does (the mount-file mode of encryptOptions), the files of each
Secret volume are written under a pod root of the pod's own, at their mount paths, as a kubelet
projects them: one file per key. The pod root is kept outside the cluster folder, on a
memory-backed file system where one exists (as a kubelet keeps Secret volumes on tmpfs), readable by
this user only, and removed with the pod.
"""

from __future__ import annotations

import base64
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from lifecycle.k8s.gateway import Obj

SecretLookup = Callable[[str], Obj | None]  # Secret name in the pod's namespace -> the Secret


def secret_files(pod: Obj, secret: SecretLookup) -> dict[str, bytes]:
    """Absolute path in the pod -> content, for every key of every Secret volume its containers mount."""
    volumes = {v["name"]: v["secret"] for v in (pod.get("spec") or {}).get("volumes") or [] if v.get("secret")}
    files: dict[str, bytes] = {}
    for container in (pod.get("spec") or {}).get("containers") or []:
        for mount in container.get("volumeMounts") or []:
            source = volumes.get(mount.get("name"))
            found = secret(source["secretName"]) if source else None
            if source is None or found is None:
                continue
            data = {k: base64.b64decode(v) for k, v in (found.get("data") or {}).items()}
            data.update({k: str(v).encode() for k, v in (found.get("stringData") or {}).items()})
            items = source.get("items") or [{"key": k, "path": k} for k in sorted(data)]
            for item in items:
                if item["key"] in data:
                    files[f"{mount['mountPath'].rstrip('/')}/{item['path']}"] = data[item["key"]]
    return files


def runtime_dir() -> Path:
    """Where pod roots live: $XDG_RUNTIME_DIR, else /dev/shm, else the temporary directory."""
    for candidate in (os.environ.get("XDG_RUNTIME_DIR"), "/dev/shm"):
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK):
            return Path(candidate)
    return Path(tempfile.gettempdir())


def write_pod_root(root: Path, files: dict[str, bytes]) -> None:
    """Make ``root`` hold exactly ``files`` (paths inside the pod), only readable by this user. Two
    writers of one pod (execs run concurrently) take turns."""
    root.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (root.parent / f".{root.name}.lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        staging = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=root.parent))
        try:
            for path, content in files.items():
                target = staging / path.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(content)
            remove_pod_root(root)
            staging.rename(root)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def remove_pod_root(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
