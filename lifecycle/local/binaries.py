"""Finding the control-plane binaries and kwok's YAMLs that the shipped controlplane/build.sh produces.

build.sh and the Go module pins beside it are package data (``lifecycle/deploy/controlplane``, which
the repository's ``deploy/controlplane`` links to), so an installed fluidlc builds the same binaries
into the same cache (``$FLUIDLC_CACHE``, default ``~/.cache/fluid-lifecycle``) on first use.
build.sh is idempotent and answers in well under a second from its cache; when another build is
running it waits for that one, so calling it on every `up` is both cheap and safe.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from lifecycle.deploy import CONTROLPLANE_BUILD, HELM_BUILD
from lifecycle.local.processes import ComponentError

BUILD_SCRIPT = CONTROLPLANE_BUILD
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok")
# Stages as build.sh copies them from kwok's module: node fast, node heartbeat-with-lease, pod general.
STAGES = (
    "node-initialize.yaml",
    "node-heartbeat-with-lease.yaml",
    "pod-create.yaml",
    "pod-init-container-running.yaml",
    "pod-init-container-completed.yaml",
    "pod-ready.yaml",
    "pod-complete.yaml",
    "pod-delete.yaml",
)
CRDS = ("kwok.x-k8s.io_execs.yaml", "kwok.x-k8s.io_clusterexecs.yaml")


@dataclass(frozen=True)
class ControlPlaneBuild:
    """A bin directory plus its sibling stages/ and crds/ directories."""

    bin_dir: Path

    def binary(self, name: str) -> Path:
        return self.bin_dir / name

    @property
    def stages(self) -> list[Path]:
        return [self.bin_dir.parent / "stages" / name for name in STAGES]

    @property
    def crds(self) -> list[Path]:
        return [self.bin_dir.parent / "crds" / name for name in CRDS]

    def missing(self) -> list[Path]:
        wanted = [self.binary(b) for b in BINARIES] + self.stages + self.crds
        return [p for p in wanted if not p.exists()]


def locate(bin_dir: Path | None = None) -> ControlPlaneBuild:
    """The build in `bin_dir`, or the one build.sh reports (building it first when needed)."""
    if bin_dir is None:
        # Through bash: an installed package's data files need not keep their executable bit.
        result = subprocess.run(["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, text=True, check=False)
        lines = result.stdout.strip().splitlines()
        if result.returncode != 0 or not lines:
            raise ComponentError(
                "binaries",
                f"{BUILD_SCRIPT} exited with code {result.returncode}",
                "read its messages above; a cold build needs Go >= 1.26 and about 8 GiB of disk",
            )
        bin_dir = Path(lines[-1])
    build = ControlPlaneBuild(bin_dir)
    missing = build.missing()
    if missing:
        raise ComponentError(
            "binaries",
            f"missing from the control-plane build: {', '.join(str(p) for p in missing)}",
            f"run {BUILD_SCRIPT} (in a checkout: deploy/controlplane/build.sh)",
        )
    return build


def locate_helm() -> Path:
    """The helm binary built from the shipped pin (tools/build-helm.sh), building it first when needed."""
    result = subprocess.run(["bash", str(HELM_BUILD)], stdout=subprocess.PIPE, text=True, check=False)
    lines = result.stdout.strip().splitlines()
    helm = Path(lines[-1]) / "helm" if lines else None
    if result.returncode != 0 or helm is None or not helm.exists():
        raise ComponentError("helm", f"{HELM_BUILD} exited with code {result.returncode}",
                             "read its messages above; a cold build needs Go >= 1.26 and about 3 GiB of disk")
    return helm
