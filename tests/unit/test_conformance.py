"""The conformance kit against the three engines we ship (Alluxio, Jindo, the scripted engine),
and against broken engines, to show that each check fails when its invariant is broken."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lifecycle.cli.conformance import run_kit, standin_exec
from lifecycle.cli.main import main
from lifecycle.engine.contract import EngineContext
from lifecycle.engine.registry import Registry
from lifecycle.k8s.gateway import CONFIG_MAP
from lifecycle.testing import conformance, scripted
from tests.tally import TALLY

KINDS = ("AlluxioRuntime", "JindoRuntime", "ScriptedRuntime")


def registry() -> Registry:
    made = Registry().discover()
    scripted.register(made)
    return made


@pytest.mark.parametrize("kind", KINDS)
def test_every_engine_we_ship_passes_the_fast_checks(kind: str, tmp_path: Path) -> None:
    results = run_kit(kind, registry(), tmp_path, deep=False)
    assert [r.check for r in results] == list(conformance.FAST)
    assert [(r.check, r.detail) for r in results if not r.passed] == []


@pytest.mark.deep
@pytest.mark.parametrize("kind", KINDS)
def test_every_engine_we_ship_survives_a_crash_after_every_write(kind: str, tmp_path: Path) -> None:
    (result,) = conformance.run(conformance.Kit(registry().get(kind), registry(),
                                                exec_handler=standin_exec(tmp_path)),
                                conformance.DEEP)
    assert result.passed, result.detail
    assert result.figures["crash points"] > 10 and result.figures["diverged"] == 0
    TALLY[f"conformance crash points ({kind})"] += result.figures["crash points"]


# -- broken engines: each check must notice its own kind of lie ---------------------------------


class LeavesItsConfigBehind(scripted.ScriptedEngine):
    def shutdown(self) -> None:
        """Removes the workloads but forgets the UFS record it made (a ConfigMap of its own)."""
        keep = self.gw.get(CONFIG_MAP, self.ns, f"{self.name}-ufs")
        super().shutdown()
        if keep is not None and self.gw.get(CONFIG_MAP, self.ns, f"{self.name}-ufs") is None:
            keep["metadata"].pop("ownerReferences", None)
            for field in ("uid", "resourceVersion", "creationTimestamp"):
                keep["metadata"].pop(field, None)
            self.gw.create(keep)


class AlwaysChanges(scripted.ScriptedEngine):
    def sync_replicas(self) -> None:
        """Rewrites its status on every pass, as an engine that compares nothing would."""
        self.gw.patch(CONFIG_MAP, self.ns, f"{self.name}-ufs", {"metadata": {"annotations": {
            "touched": str(len(self.script.calls))}}})


class ShutsDownFirst(scripted.ScriptedEngine):
    def delete_volume(self) -> None:
        """Tears the cache down while pods may still have the volume mounted, then deletes it."""
        self.shutdown()
        super().delete_volume()


class ReadyTooSoon(scripted.ScriptedEngine):
    def check_master_ready(self) -> bool:
        return True

    def check_workers_ready(self) -> bool:
        return True

    def check_and_update_runtime_status(self) -> bool:
        return True


def kit_for(engine: type[scripted.ScriptedEngine]) -> conformance.Kit:
    registry = Registry()
    script = scripted.Script()

    def build(ctx: EngineContext) -> Any:
        return engine(ctx, script)

    registry.register(scripted.KIND, build)
    return conformance.Kit(scripted.KIND, registry)


@pytest.mark.parametrize(("engine", "check", "says"), [
    (LeavesItsConfigBehind, "deletion_leaves_nothing", "left behind"),
    (AlwaysChanges, "idle_writes_nothing", "an idle pass wrote"),
    (ShutsDownFirst, "deletion_in_order", "while the volume was still there"),
    (ReadyTooSoon, "binds", "did not settle"),  # says ready, then unhealthy: setup goes round for ever
])
def test_a_broken_engine_fails_the_check_for_its_bug(engine: type[scripted.ScriptedEngine], check: str,
                                                     says: str) -> None:
    results = {r.check: r for r in conformance.run(kit_for(engine), conformance.FAST)}
    assert not results[check].passed and says in results[check].detail, results[check]


def test_the_command_line_runs_the_kit_and_names_unknown_kinds(capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLUIDLC_ENGINES", "lifecycle.testing.scripted:register")
    assert main(["conformance", "ScriptedRuntime"]) == 0
    out = capsys.readouterr().out
    n = len(conformance.FAST)
    assert f"ScriptedRuntime: {n}/{n} checks passed" in out and "PASS  in_use_blocks_deletion" in out
    assert main(["conformance", "CurveRuntime"]) == 2
    assert "no engine is registered for runtime kind 'CurveRuntime'" in capsys.readouterr().out
