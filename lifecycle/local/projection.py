"""What a kubelet would put into a simulated pod: the files of its Secret and ConfigMap volumes.

kwok runs a pod's exec as a local process, which has no volumes. To let a cache CLI stand-in read
a mounted Secret as the real tool does (the mount-file mode of encryptOptions), and its own
configuration file, the files of each Secret and ConfigMap volume are written under a pod root of
the pod's own, at their mount paths, as a kubelet projects them: one file per key, or the one key a
``subPath`` names. The pod root is kept outside the cluster folder, on a
memory-backed file system where one exists (as a kubelet keeps Secret volumes on tmpfs), readable by
this user only, and removed with the pod.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from lifecycle.k8s.gateway import Obj

Lookup = Callable[[str], Obj | None]  # name in the pod's namespace -> the Secret (or ConfigMap)


def _data(volume: Obj, secret: Lookup, config_map: Lookup) -> tuple[Obj, dict[str, bytes]] | None:
    """The volume's source and the bytes of each of its keys; None for other volumes or a missing source."""
    if volume.get("secret"):
        source, found = volume["secret"], secret(volume["secret"].get("secretName", ""))
        if found is None:
            return None
        data = {k: base64.b64decode(v) for k, v in (found.get("data") or {}).items()}
        data.update({k: str(v).encode() for k, v in (found.get("stringData") or {}).items()})
        return source, data
    if volume.get("configMap"):
        source, found = volume["configMap"], config_map(volume["configMap"].get("name", ""))
        if found is None:
            return None
        return source, {k: str(v).encode() for k, v in (found.get("data") or {}).items()}
    return None


def volume_files(pod: Obj, secret: Lookup, config_map: Lookup = lambda name: None) -> dict[str, bytes]:
    """Absolute path in the pod -> content, for the Secret and ConfigMap volumes its containers mount."""
    volumes = {v["name"]: v for v in (pod.get("spec") or {}).get("volumes") or []}
    files: dict[str, bytes] = {}
    for container in (pod.get("spec") or {}).get("containers") or []:
        for mount in container.get("volumeMounts") or []:
            found = _data(volumes.get(mount.get("name")) or {}, secret, config_map)
            if found is None:
                continue
            source, data = found
            if mount.get("subPath"):
                if mount["subPath"] in data:
                    files[mount["mountPath"]] = data[mount["subPath"]]
                continue
            items = source.get("items") or [{"key": k, "path": k} for k in sorted(data)]
            for item in items:
                if item["key"] in data:
                    files[f"{mount['mountPath'].rstrip('/')}/{item['path']}"] = data[item["key"]]
    return files


def secret_files(pod: Obj, secret: Lookup) -> dict[str, bytes]:
    """The files of the pod's Secret volumes alone."""
    return volume_files(pod, secret)


def runtime_dir() -> Path:
    """Where pod roots live: $XDG_RUNTIME_DIR, else /dev/shm, else the temporary directory."""
    for candidate in (os.environ.get("XDG_RUNTIME_DIR"), "/dev/shm"):
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK):
            return Path(candidate)
    return Path(tempfile.gettempdir())


def write_pod_root(root: Path, files: dict[str, bytes]) -> None:
    """Make ``root`` hold exactly ``files`` (paths inside the pod), only readable by this user.

    ``root`` is a symbolic link to a folder of the current files, swapped in one rename, so a
    command reading a file while the projection changes sees the old file or the new one, never
    none (kubelets swap Secret volumes the same way). Two writers of one pod take turns.
    """
    root.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (root.parent / f".{root.name}.lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        # The folder is named by its contents: an exec whose projection has not changed (most of
        # them) finds the link already pointing at it and writes nothing.
        current = f".{root.name}-{_digest(files)}"
        old = Path(os.readlink(root)) if root.is_symlink() else None
        if old == Path(current) and (root.parent / current).is_dir():
            return
        staging = root.parent / current
        shutil.rmtree(staging, ignore_errors=True)  # left half-written by a writer that died
        staging.mkdir(mode=0o700)
        try:
            for path, content in files.items():
                target = staging / path.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(content)
            if root.exists() and not root.is_symlink():
                shutil.rmtree(root)  # a folder from before projections were links
            link = root.parent / f".{root.name}.link"
            link.unlink(missing_ok=True)
            link.symlink_to(staging.name)
            os.replace(link, root)
            if old is not None and old != Path(current):
                shutil.rmtree(root.parent / old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def _digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(path.encode() + b"\0" + str(len(files[path])).encode() + b"\0" + files[path])
    return h.hexdigest()[:16]


def remove_pod_root(root: Path) -> None:
    if root.is_symlink():
        target = root.parent / os.readlink(root)
        root.unlink(missing_ok=True)
        shutil.rmtree(target, ignore_errors=True)
    else:
        shutil.rmtree(root, ignore_errors=True)
