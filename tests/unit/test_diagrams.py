"""diagrams/ is generated from the tables; a stale file fails here."""

from __future__ import annotations

from pathlib import Path

import attrs

from lifecycle.generate import diagrams
from lifecycle.machine import render
from lifecycle.machine.tables import RUNTIME, SYNC_STEPS


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


def test_every_sync_step_is_drawn_in_order_with_each_of_its_flags() -> None:
    """What the reconcile runs in Ready is what the picture says: the Sync steps, in order, each
    with its should hook, the check that overrides it, its interval and whether it stops Sync."""
    for text in (diagrams.drawn(RUNTIME, "mermaid"), diagrams.drawn(RUNTIME, "dot")):
        at = [text.index(f"{i}. {step.hook}") for i, step in enumerate(SYNC_STEPS, 1)]
        assert at == sorted(at)
        for i, step in enumerate(SYNC_STEPS, 1):
            line = text[text.index(f"{i}. {step.hook}"):].splitlines()[0].split("\\l")[0]
            assert ("stops Sync if it changed anything" in line) == step.stop_if_changed, line
            assert ("at most every" in line) == (step.interval is not None), line
            assert step.interval is None or f"at most every {step.interval:g}s" in line, line
            assert (f"if {step.should}" in line) == (step.should is not None), line
            assert (f"or {step.also}" in line) == (step.also is not None), line
    flipped = tuple(attrs.evolve(s, stop_if_changed=not s.stop_if_changed) for s in SYNC_STEPS)
    assert render.mermaid(RUNTIME, sync=flipped) != diagrams.drawn(RUNTIME, "mermaid")
