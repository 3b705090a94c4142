"""The README's run command, as a newcomer runs it: its own control plane, the sample, Bound."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_fluidlc_run_brings_the_sample_to_bound_on_its_own_cluster(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "FLUIDLC_ENGINES")}
    env["FLUIDLC_CLUSTER_DIR"] = str(tmp_path / "cluster")
    fluidlc = [sys.executable, "-m", "lifecycle.cli.main"]
    try:
        run = subprocess.run([*fluidlc, "run", "--exit-when-bound"], env=env, cwd=REPO, capture_output=True,
                             text=True, timeout=300)
        out = run.stdout + run.stderr
        assert run.returncode == 0, out[-4000:]
        assert "no KUBECONFIG: starting a local control plane" in out
        assert "applied AlluxioRuntime default/imagenet" in out
        for stage in ("SettingUpWorkers", "Ready"):
            assert f"AlluxioRuntime default/imagenet: {stage}" in out, out[-4000:]
        header = next(line for line in out.splitlines() if line.startswith("NAME "))
        assert header.split() == ["NAME", "UFS", "TOTAL", "SIZE", "CACHED", "CACHE", "CAPACITY", "CACHED",
                                  "PERCENTAGE", "PHASE", "AGE"]
        row = out.splitlines()[out.splitlines().index(header) + 1].split()
        # The table waits for the background metadata sync: size and percentage are filled in.
        assert row[0] == "imagenet" and row[5] == "Bound", row
        assert row[1].endswith("iB") and row[4].endswith("%"), row
        assert "all sample datasets are Bound" in out
    finally:
        subprocess.run([*fluidlc, "cluster", "down"], env=env, cwd=REPO, capture_output=True, timeout=120)
