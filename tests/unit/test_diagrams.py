"""diagrams/ is generated from the tables; a stale file fails here."""

from __future__ import annotations

from pathlib import Path

from lifecycle.generate import diagrams
from lifecycle.machine.tables import RUNTIME


def test_committed_diagrams_are_current() -> None:
    assert diagrams.DIAGRAMS_DIR is not None, "the tests run in a checkout"
    assert diagrams.stale(diagrams.DIAGRAMS_DIR) == [], "run `make diagrams` and commit diagrams/"


def test_stale_check_notices_an_edited_table(tmp_path: Path) -> None:
    diagrams.write(tmp_path)
    assert diagrams.stale(tmp_path) == []
    edited = (tmp_path / "runtime.dot").read_text().replace("master_ready", "x")
    (tmp_path / "runtime.dot").write_text(edited)
    assert diagrams.stale(tmp_path) == ["runtime.dot"]
    (tmp_path / "runtime.svg").write_text(diagrams.svg(edited))  # an SVG drawn from an old table
    assert diagrams.stale(tmp_path) == ["runtime.dot", "runtime.svg"]
    (tmp_path / "dataset.mmd").unlink()
    assert "dataset.mmd" in diagrams.stale(tmp_path)


def test_edges_carry_guard_names_and_the_current_state_is_highlighted() -> None:
    text = diagrams.mermaid(RUNTIME, current="SettingUpWorkers")
    assert "SettingUpMaster --> PreparingUFS: master_ready {should_setup_master? setup_master} " \
           "[check_master_ready]" in text
    assert "class SettingUpWorkers current" in text
    assert 'SettingUpWorkers [label="SettingUpWorkers"' in diagrams.dot(RUNTIME, current="SettingUpWorkers")
    assert "penwidth=3" in diagrams.dot(RUNTIME, current="Ready").split("Ready [")[1].split("]")[0]
