"""Commands run in pods of the in-memory API server, answered by the stand-in cache CLIs in-process.

An engine that execs into its master (Alluxio's ``alluxio fs mount``, Jindo's ``jindo admin``) needs
something in the pod to answer; on the local cluster that is the stand-in CLIs on kwok's PATH. This
is the same for ``MemoryGateway.exec_handler``: each pod has a state folder under ``root``, the
under file systems live in ``root/ufs`` (``ufs_file`` puts a file there), and the pod's Secret and
ConfigMap volumes are written out as files, as a kubelet would mount them.
"""

from __future__ import annotations

import io
from pathlib import Path

from lifecycle.k8s.gateway import CONFIG_MAP, POD, SECRET, ExecResult
from lifecycle.k8s.memory import MemoryGateway
from lifecycle.local.projection import volume_files, write_pod_root
from lifecycle.local.standin import alluxio, jindo
from lifecycle.local.standin import cache as standin

TOOLS = {"alluxio": alluxio.resolve, "jindocache": jindo.resolve, "jindo": jindo.resolve_fs}


class StandinExec:
    """``MemoryGateway.exec_handler`` running the stand-in CLIs; ``failing`` names commands to fail."""

    def __init__(self, gateway: MemoryGateway, root: Path):
        self.gateway, self.root = gateway, root
        self.failing: set[str] = set()
        (root / "ufs").mkdir(parents=True, exist_ok=True)

    def ufs_file(self, uri: str, size: int) -> None:
        path = standin.ufs_local_path(self.root / "ufs", uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)

    def __call__(self, namespace: str, pod: str, container: str | None, argv: list[str]) -> ExecResult:
        if argv[0] not in TOOLS:
            return ExecResult("", f"{argv[0]}: command not found", 127)
        pod_root = self.root / "pods" / namespace / pod
        pod_root.parent.mkdir(parents=True, exist_ok=True)
        live = self.gateway.get(POD, namespace, pod)
        write_pod_root(pod_root, volume_files(live or {}, lambda name: self.gateway.get(SECRET, namespace, name),
                                              lambda name: self.gateway.get(CONFIG_MAP, namespace, name)))
        env = {"STANDIN_STATE_DIR": str(self.root / "exec" / namespace / pod),
               "STANDIN_UFS_ROOT": str(self.root / "ufs"), "STANDIN_FAIL": ",".join(sorted(self.failing)),
               "STANDIN_POD_ROOT": str(pod_root)}
        out, err = io.StringIO(), io.StringIO()
        code = standin.run_cli(argv[0], argv[1:], env, TOOLS[argv[0]], stdout=out, stderr=err)
        return ExecResult(out.getvalue(), err.getvalue(), code)


__all__ = ["TOOLS", "StandinExec"]
