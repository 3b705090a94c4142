"""``diagrams/``: the lifecycle machines drawn from their tables, written and checked for drift.

The drawing itself is ``lifecycle.machine.render``; this module decides which files there are and
whether the committed ones are current. The SVG is rendered from the DOT text and records that
text's hash, which lets the drift check say "stale" without depending on the fonts of the machine
that renders it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pygraphviz

from lifecycle.deploy import checkout
from lifecycle.machine.render import dot, mermaid
from lifecycle.machine.table import MachineTable
from lifecycle.machine.tables import MACHINES, RUNTIME, SYNC_STEPS

# Documentation of a checkout (the README shows them), not package data; None when installed.
_CHECKOUT = checkout()
DIAGRAMS_DIR = _CHECKOUT / "diagrams" if _CHECKOUT is not None else None
SOURCE_MARK = "<!-- fluid-lifecycle dot sha256: {} -->"


def svg(dot_text: str) -> str:
    graph = pygraphviz.AGraph(string=dot_text)
    rendered = graph.draw(format="svg", prog="dot").decode()
    mark = SOURCE_MARK.format(hashlib.sha256(dot_text.encode()).hexdigest())
    head, sep, rest = rendered.partition("?>")
    return f"{head}{sep}\n{mark}{rest}" if sep else f"{mark}\n{rendered}"


def drawn(table: MachineTable[Any, Any], fmt: str, current: str | None = None) -> str:
    """One machine as ``mermaid``, ``dot`` or ``svg``, with the Sync steps where the table runs them."""
    sync = SYNC_STEPS if table is RUNTIME else ()
    if fmt == "mermaid":
        return mermaid(table, current, sync)
    text = dot(table, current, sync)
    return svg(text) if fmt == "svg" else text


def files(tables: tuple[MachineTable[Any, Any], ...] = MACHINES) -> dict[str, str]:
    """Text files of ``diagrams/``: name -> content (the SVGs are checked through their DOT hash)."""
    out = {}
    for table in tables:
        stem = table.name.lower()
        out[f"{stem}.mmd"] = drawn(table, "mermaid")
        out[f"{stem}.dot"] = drawn(table, "dot")
    return out


def write(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files().items():
        path = out_dir / name
        path.write_text(text)
        written.append(path)
        if name.endswith(".dot"):
            svg_path = path.with_suffix(".svg")
            svg_path.write_text(svg(text))
            written.append(svg_path)
    return written


def stale(out_dir: Path) -> list[str]:
    """Files of ``diagrams/`` that do not match the tables (missing, edited, or rendered from old DOT)."""
    problems = []
    for name, text in files().items():
        path = out_dir / name
        if not path.exists() or path.read_text() != text:
            problems.append(name)
        if name.endswith(".dot"):
            svg_path = path.with_suffix(".svg")
            mark = SOURCE_MARK.format(hashlib.sha256(text.encode()).hexdigest())
            if not svg_path.exists() or mark not in svg_path.read_text():
                problems.append(svg_path.name)
    return problems
