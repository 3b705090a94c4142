"""Gives every pod of a local cluster a kwok `Exec` of its own, so an exec into a simulated pod runs
a local command that knows which pod it stands in for.

kwok runs the command of an exec as a child process of itself and tells it nothing about the pod.
An `Exec` named like the pod (kwok matches it by namespace and name) carries the pod's identity and
its own state directory in environment variables:

    STANDIN_POD        <namespace>/<pod>
    STANDIN_STATE_DIR  <cluster dir>/exec/<namespace>/<pod>   (also the working directory)
    STANDIN_UFS_ROOT   <cluster dir>/ufs                      (shared by all pods)
    STANDIN_POD_ROOT   the files of the pod's Secret and ConfigMap volumes, outside the cluster folder
    STANDIN_CLUSTER    the cluster's name, for the hints of the stand-ins' error messages

The state directory is kept when the pod goes away, like a node-local cache directory would be;
a pod recreated under the same name finds it again.

`LocalCluster.up` runs this module as a process of its own. It lists and watches pods in all
namespaces and re-lists after any watch error (an API-server restart, 410 Gone), so Execs are
created and deleted correctly across restarts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from lifecycle.k8s.connection import connect
from lifecycle.k8s.gateway import CONFIG_MAP, POD, SECRET, ApiError, Conflict, Forbidden, NotFound, Obj, Resource
from lifecycle.k8s.kube import Gone, KubeGateway
from lifecycle.local.operation_runner import TOOL_POD_ANNOTATION, OperationRunner
from lifecycle.local.projection import remove_pod_root, runtime_dir, volume_files, write_pod_root

EXEC_GROUP, EXEC_VERSION, EXEC_PLURAL = "kwok.x-k8s.io", "v1alpha1", "execs"
EXEC = Resource(EXEC_GROUP, EXEC_VERSION, "Exec", EXEC_PLURAL)
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGER = "fluidlc-exec-provisioner"
WATCH_SECONDS = 300

log = logging.getLogger("exec-provisioner")


def state_dir(cluster_dir: Path, namespace: str, pod: str) -> Path:
    return cluster_dir / "exec" / namespace / pod


def ufs_root(cluster_dir: Path) -> Path:
    return cluster_dir / "ufs"


def pod_roots(cluster_dir: Path) -> Path:
    """Where the files of the cluster's pods' Secret volumes are: outside the cluster folder, on a
    memory-backed file system where there is one (``lifecycle.local.projection``)."""
    return runtime_dir() / f"fluidlc-{os.getuid()}" / hashlib.sha256(str(cluster_dir).encode()).hexdigest()[:12]


def pod_root(cluster_dir: Path, namespace: str, pod: str) -> Path:
    return pod_roots(cluster_dir) / namespace / pod


def cluster_name(cluster_dir: Path) -> str:
    """The name `fluidlc cluster up` recorded for the cluster in ``cluster_dir`` ("" if none)."""
    try:
        return str(json.loads((cluster_dir / "cluster.json").read_text()).get("name") or "")
    except (OSError, ValueError):
        return ""


def exec_manifest(cluster_dir: Path, namespace: str, pod: str, cluster: str = "") -> dict[str, Any]:
    """The Exec for one pod: every container of it runs commands locally with the pod's environment."""
    workdir = state_dir(cluster_dir, namespace, pod)
    envs = {
        "STANDIN_POD": f"{namespace}/{pod}",
        "STANDIN_STATE_DIR": str(workdir),
        "STANDIN_UFS_ROOT": str(ufs_root(cluster_dir)),
        "STANDIN_POD_ROOT": str(pod_root(cluster_dir, namespace, pod)),
        **({"STANDIN_CLUSTER": cluster} if cluster else {}),
    }
    env_list = [{"name": k, "value": v} for k, v in envs.items()]
    return {
        "apiVersion": EXEC.api_version,
        "kind": "Exec",
        "metadata": {"name": pod, "namespace": namespace, "labels": {MANAGED_BY_LABEL: MANAGER}},
        "spec": {"execs": [{"local": {"workDir": str(workdir), "envs": env_list}}]},
    }


def _identity(pod: Obj) -> tuple[str, str, str] | None:
    """(namespace, name, uid) of a pod."""
    meta = pod.get("metadata") or {}
    if not meta.get("namespace") or not meta.get("name"):
        return None
    return meta["namespace"], meta["name"], meta.get("uid") or ""


class ExecProvisioner:
    """Keeps one managed Exec per existing pod."""

    def __init__(self, gw: KubeGateway, cluster_dir: Path) -> None:
        self.gw = gw
        self.cluster_dir = cluster_dir
        self.cluster = cluster_name(cluster_dir)
        # Pods (namespace, name, uid) whose Exec is known to exist, so status updates cost no API call.
        self.provisioned: set[tuple[str, str, str]] = set()
        # Pods with Secret volumes, and what was projected for each: a Secret event re-projects them.
        self.projected: dict[tuple[str, str], tuple[Obj, dict[str, bytes]]] = {}
        self._lock = threading.Lock()
        self.runner = OperationRunner(gw, cluster_dir)

    def run_operation(self, pod: Obj) -> None:
        """A data operation's pod runs its command against the cache tool's pod it names."""
        meta = pod.get("metadata") or {}
        tool_pod = (meta.get("annotations") or {}).get(TOOL_POD_ANNOTATION)
        if tool_pod:
            manifest = exec_manifest(self.cluster_dir, meta["namespace"], tool_pod, self.cluster)
            envs = {e["name"]: e["value"] for e in manifest["spec"]["execs"][0]["local"]["envs"]}
            self.runner.seen(pod, envs)

    def project(self, pod: Obj) -> None:
        """Write the files of the pod's Secret volumes under its pod root, as a kubelet mounts them."""
        meta = pod["metadata"]
        key = (meta["namespace"], meta["name"])
        if not any(v.get("secret") or v.get("configMap") for v in (pod.get("spec") or {}).get("volumes") or []):
            return
        files = volume_files(pod, lambda name: self.gw.get(SECRET, key[0], name),
                             lambda name: self.gw.get(CONFIG_MAP, key[0], name))
        with self._lock:
            if self.projected.get(key, (None, None))[1] == files:
                self.projected[key] = (pod, files)
                return
            write_pod_root(pod_root(self.cluster_dir, *key), files)
            self.projected[key] = (pod, files)

    def unproject(self, namespace: str, pod: str) -> None:
        with self._lock:
            self.projected.pop((namespace, pod), None)
            remove_pod_root(pod_root(self.cluster_dir, namespace, pod))

    def secret_changed(self, secret: Obj) -> None:
        meta = secret.get("metadata") or {}
        with self._lock:
            pods = [pod for (ns, _), (pod, _files) in self.projected.items() if ns == meta.get("namespace")
                    and any((v.get("secret") or {}).get("secretName") == meta.get("name")
                            for v in (pod.get("spec") or {}).get("volumes") or [])]
        for pod in pods:
            self.project(pod)

    def ensure(self, namespace: str, pod: str, uid: str) -> None:
        if (namespace, pod, uid) in self.provisioned:
            return
        state_dir(self.cluster_dir, namespace, pod).mkdir(parents=True, exist_ok=True)
        try:
            self.gw.create(exec_manifest(self.cluster_dir, namespace, pod, self.cluster))
            log.info("created Exec %s/%s", namespace, pod)
        except Conflict:
            pass  # ours from before a restart, or one a test wrote on purpose: either way it stays
        except (Forbidden, NotFound) as exc:
            # The namespace is terminating or gone; its pods are going too.
            log.info("no Exec for %s/%s: %s", namespace, pod, exc)
            return
        self.provisioned.add((namespace, pod, uid))

    def remove(self, namespace: str, pod: str) -> None:
        self.provisioned = {p for p in self.provisioned if p[:2] != (namespace, pod)}
        existing = self.gw.get(EXEC, namespace, pod)
        if existing is None or (existing["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL) != MANAGER:
            return
        try:
            # The precondition keeps a just-recreated Exec of a new pod with the same name.
            if self.gw.delete(EXEC, namespace, pod, uid=existing["metadata"]["uid"]):
                log.info("deleted Exec %s/%s", namespace, pod)
        except Conflict:
            pass

    def sync(self) -> str:
        """Provision every pod and drop managed Execs whose pod is gone; returns the pods' resourceVersion."""
        pods, version = self.gw.list_with_version(POD)
        self.provisioned = set()
        present = set()
        for pod in pods:
            identity = _identity(pod)
            if identity is not None:
                present.add(identity[:2])
                self.ensure(*identity)
                self.project(pod)
                self.run_operation(pod)
        for item in self.gw.list(EXEC, labels={MANAGED_BY_LABEL: MANAGER}):
            key = (item["metadata"]["namespace"], item["metadata"]["name"])
            if key not in present:
                self.remove(*key)
        # Pods that went while this process was away leave no files behind.
        roots = pod_roots(self.cluster_dir)
        for folder in sorted(roots.glob("*/*")) if roots.is_dir() else []:
            if folder.is_dir() and not folder.name.startswith(".") and (folder.parent.name, folder.name) not in present:
                self.unproject(folder.parent.name, folder.name)
        return version

    def watch_from(self, resource_version: str) -> None:
        """Follow pod events until the watch fails; a watch that ends is resumed from its last version."""
        while True:
            for kind, obj in self.gw.watch(POD, resource_version, timeout_seconds=WATCH_SECONDS,
                                           stall_seconds=WATCH_SECONDS + 30):
                resource_version = (obj.get("metadata") or {}).get("resourceVersion") or resource_version
                identity = _identity(obj) if kind != "BOOKMARK" else None
                if identity is not None and kind in ("ADDED", "MODIFIED"):
                    self.ensure(*identity)
                    self.project(obj)
                    self.run_operation(obj)
                elif identity is not None and kind == "DELETED":
                    self.remove(*identity[:2])
                    self.unproject(*identity[:2])

    def follow_secrets(self) -> None:
        """Re-project the pods that mount a Secret when it changes (a rotation), as a kubelet does."""
        while True:
            try:
                _, version = self.gw.list_with_version(SECRET)
                while True:
                    for kind, obj in self.gw.watch(SECRET, version, timeout_seconds=WATCH_SECONDS,
                                                   stall_seconds=WATCH_SECONDS + 30):
                        version = (obj.get("metadata") or {}).get("resourceVersion") or version
                        if kind in ("ADDED", "MODIFIED"):
                            self.secret_changed(obj)
            except Exception as exc:  # the API server is away, or the watch expired: list again
                log.info("watch of secrets ended (%s); listing again", exc)
                time.sleep(1.0)

    def run(self, ready_file: Path | None = None) -> None:
        """Sync, then watch; after any error re-list with a short backoff. Runs until killed."""
        threading.Thread(target=self.follow_secrets, name="secrets", daemon=True).start()
        backoff = 0.5
        while True:
            try:
                resource_version = self.sync()
                if ready_file is not None and not ready_file.exists():
                    ready_file.touch()
                    log.info("initial sync done; watching pods in all namespaces")
                backoff = 0.5
                self.watch_from(resource_version)
            except Gone:
                log.info("watch expired (410 Gone); re-listing pods")
                continue
            except ApiError as exc:
                log.warning("API error %s; re-listing in %.1fs", exc, backoff)
            except Exception as exc:  # connection refused or reset: the API server is away
                log.warning("API server unreachable (%s); re-listing in %.1fs", exc, backoff)
            time.sleep(backoff)
            backoff = min(backoff * 2, 2.0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", required=True, type=Path)
    parser.add_argument("--cluster-dir", required=True, type=Path)
    parser.add_argument("--ready-file", type=Path, help="touched once the first sync is done")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    gw = KubeGateway(connect(str(args.kubeconfig)), (EXEC,), component=MANAGER)
    ExecProvisioner(gw, args.cluster_dir.resolve()).run(args.ready_file)


if __name__ == "__main__":
    main()
