"""The Go build scripts' step runner (lifecycle/deploy/gobuild.sh): numbered steps, a heartbeat while
a long step runs, durations, and a failing step that stops the build. The real builds are exercised
by every cluster test (they run build.sh); a cold one takes too long for a test."""

from __future__ import annotations

import re
import subprocess

from lifecycle.deploy import ROOT

LIB = ROOT / "gobuild.sh"


def _run(script: str, heartbeat: str = "1") -> subprocess.CompletedProcess[str]:
    prelude = f'set -euo pipefail; source "{LIB}"; build_name=test; steps=2; started=$SECONDS\n'
    return subprocess.run(["bash", "-c", prelude + script], env={"PATH": "/usr/bin:/bin", "FLUIDLC_BUILD_HEARTBEAT":
                          heartbeat}, capture_output=True, text=True, timeout=30, check=False)


def test_a_long_step_says_it_is_alive_and_how_long_it_took() -> None:
    result = _run('step "building slowly" sleep 2.5; step "building quickly" true; echo finished')
    assert result.returncode == 0, result.stderr
    assert result.stdout == "finished\n"
    lines = [line.split("] ", 1)[1] for line in result.stderr.splitlines()]
    assert lines[0] == "step 1/2: building slowly ..."
    beats = [line for line in lines if line.startswith("  still building slowly: ")]
    assert beats, lines  # one a second here; bash's SECONDS counts whole seconds, so not exactly two
    assert all(re.fullmatch(r"  still building slowly: \d+s in this step, \d+s in all", b) for b in beats), beats
    assert re.fullmatch(r"done building slowly in [2-9]s \(step 1/2, \d+s in all\)", lines[-3]), lines
    assert lines[-2] == "step 2/2: building quickly ..."
    assert re.fullmatch(r"done building quickly in [01]s \(step 2/2, \d+s in all\)", lines[-1]), lines


def test_a_failing_step_stops_the_build_and_says_which() -> None:
    result = _run('step "building badly" false; echo not-reached')
    assert result.returncode == 1
    assert "not-reached" not in result.stdout
    assert "error: building badly failed" in result.stderr


def test_durations_read_as_minutes_and_seconds() -> None:
    assert _run("elapsed 836; echo; elapsed 59").stdout == "13m56s\n59s"
