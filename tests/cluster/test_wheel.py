"""fluid-lifecycle as a user installs it: a wheel built from this checkout, installed into a fresh
virtualenv outside the repository and run from another folder, finds everything it needs in the
package (CRDs, samples, the stand-in CLIs, the Go pins and build scripts) and nothing in the checkout.

The control-plane binaries come from the shared cache: the shipped build.sh has the same pins and
recipe as the checkout's, so it finds the build the other tests use. Nothing is downloaded: the
wheel is built and installed offline, and its dependencies are those of the environment running
the tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


class Installed:
    """The fresh virtualenv and the environment every command runs in (no KUBECONFIG, no checkout)."""

    def __init__(self, venv: Path, home: Path) -> None:
        self.venv = venv
        self.cwd = home
        drop = ("KUBECONFIG", "PYTHONPATH", "VIRTUAL_ENV", "FLUIDLC_ENGINES", "FLUIDLC_CLUSTER_DIR", "XDG_STATE_HOME")
        self.env = {k: v for k, v in os.environ.items() if k not in drop}
        # The user's PATH (Go, openssl) without the checkout's own venv, after the fresh one.
        path = [p for p in self.env.get("PATH", os.defpath).split(os.pathsep) if p and not Path(p).is_relative_to(REPO)]
        self.env["PATH"] = os.pathsep.join([str(venv / "bin"), *path])

    def run(self, *argv: str, cluster: Path | None = None, timeout: float = 300,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        extra = {"FLUIDLC_CLUSTER_DIR": str(cluster)} if cluster is not None else {}
        return subprocess.run([str(self.venv / "bin" / argv[0]), *argv[1:]], cwd=self.cwd,
                              env={**self.env, **extra, **(env or {})}, capture_output=True, text=True,
                              timeout=timeout)

    def ok(self, *argv: str, **kwargs: object) -> str:
        done = self.run(*argv, **kwargs)  # type: ignore[arg-type]
        out = done.stdout + done.stderr
        assert done.returncode == 0, f"{' '.join(argv)} exited with {done.returncode}:\n{out[-4000:]}"
        return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    started = time.monotonic()
    # Offline: the build uses this environment's setuptools, and the fresh virtualenv gets only the
    # wheel; its dependencies are read from this environment's site-packages, after its own.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--wheel-dir", str(root / "dist"), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = (root / "dist").glob("fluid_lifecycle-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True, timeout=120)
    python = root / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-index",
                    "--no-deps", str(wheel)], check=True, capture_output=True, timeout=600)
    fresh_site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                check=True, capture_output=True, text=True).stdout.strip()
    Path(fresh_site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    print(f"wheel built and installed into a fresh virtualenv in {time.monotonic() - started:.0f}s")
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    return Installed(root / "venv", elsewhere)


def test_the_installed_package_is_its_own_and_checks_what_it_ships(installed: Installed) -> None:
    site = installed.ok("python", "-c", "import lifecycle, lifecycle.local.standin as standin, engines; "
                                        "print(lifecycle.__file__, standin.__file__, engines.__file__)")
    for module in site.split():
        assert Path(module).is_relative_to(installed.venv), f"{module} is not the installed one"

    checked = installed.ok("fluidlc", "generate", "--check")
    assert f"CRDs in {installed.venv}" in checked and "are up to date (7 kinds)" in checked
    assert "operator.yaml is up to date" in checked and "the chart in" in checked
    assert "diagrams: skipped" in checked
    assert "are up to date" in installed.ok("fluidlc", "crds", "--check")
    refused = installed.run("fluidlc", "crds")
    assert refused.returncode != 0 and "pass --out DIR" in refused.stderr

    sample = installed.cwd / "pair.yaml"
    sample.write_text(installed.ok("fluidlc", "samples", "alluxio"))
    said = installed.ok("fluidlc", "validate", str(sample)).strip().splitlines()
    assert said[-1] == "1 file(s) valid (1 Dataset/runtime pair(s) checked)", said
    listed = installed.ok("fluidlc", "samples")
    assert str(installed.venv) in listed and str(REPO) not in listed


def test_a_local_cluster_from_the_wheel_lives_in_the_state_folder_and_runs_the_shipped_standins(
        installed: Installed, tmp_path: Path) -> None:
    state = tmp_path / "state"
    unset = installed.run("fluidlc", "cluster", "status", env={"XDG_STATE_HOME": str(state)})
    assert unset.returncode == 1
    assert f"{state}/fluid-lifecycle/clusters/dev" in unset.stdout, unset.stdout

    folder = tmp_path / "cluster"
    try:
        up = installed.ok("fluidlc", "cluster", "up", "--nodes", "1", cluster=folder)
        assert f"kubeconfig: {folder}/kubeconfig" in up
        assert f"simulated UFS: {folder}/ufs" in up and "fluidlc cluster ufs add s3://bucket/path" in up
        status = installed.ok("fluidlc", "cluster", "status", cluster=folder)
        assert f"cluster dev in {folder}: up" in status
        shim = (folder / "standin-bin" / "alluxio").read_text()
        assert f"exec {installed.venv}/bin/python -I -S -c " in shim and "site-packages/lifecycle/local" in shim
        added = installed.ok("fluidlc", "cluster", "ufs", "add", "s3://photos/2024", "--size", "1Mi", cluster=folder)
        assert f"3 file(s), 1.00MiB in {folder}/ufs/s3/photos/2024" in added
    finally:
        down = installed.run("fluidlc", "cluster", "down", cluster=folder, timeout=120)
    assert down.returncode == 0 and "stopped" in down.stdout, down.stdout + down.stderr


def test_fluidlc_run_from_the_wheel_brings_the_sample_to_bound(installed: Installed, tmp_path: Path) -> None:
    folder = tmp_path / "run-cluster"
    try:
        out = installed.ok("fluidlc", "run", "--exit-when-bound", "--nodes", "3", cluster=folder, timeout=400)
    finally:
        installed.run("fluidlc", "cluster", "down", cluster=folder, timeout=120)
    assert "no KUBECONFIG: starting a local control plane" in out
    assert f"simulated UFS s3://imagenet/train: 3 file(s), 6.00MiB in {folder}/ufs/s3/imagenet/train" in out
    assert "AlluxioRuntime default/imagenet: Ready" in out
    assert "all sample datasets are Bound" in out
