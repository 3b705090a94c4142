"""The lifecycle machines drawn from their tables: Mermaid and DOT text, and SVG.

Every edge carries its trigger and the hooks that guard it, so the picture is the table. The
SVG is rendered from the DOT text and records that text's hash, which lets the drift check say
"stale" without depending on the fonts of the machine that renders it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from lifecycle.machine.tables import MACHINES, MachineTable, Transition

DIAGRAMS_DIR = Path(__file__).resolve().parents[2] / "diagrams"
SOURCE_MARK = "<!-- fluid-lifecycle dot sha256: {} -->"


def edge_label(t: Transition) -> str:
    """``trigger {should? step} [when & !unless] / do``."""
    parts = [t.trigger]
    if t.step is not None:
        parts.append("{" + (f"{t.step.should}? " if t.step.should else "") + t.step.do + "}")
    guards = [*t.when, *(f"!{u}" for u in t.unless)]
    if guards:
        parts.append("[" + " & ".join(guards) + "]")
    if t.do:
        parts.append(f"/ {t.do}")
    return " ".join(parts)


def _edges(table: MachineTable) -> list[tuple[str, str, str]]:
    edges = []
    for t in table.transitions:
        for source in t.source:
            label = edge_label(t) + (" (in place)" if t.dest is None else "")
            edges.append((source, t.dest or source, label))
    return edges


def mermaid(table: MachineTable, current: str | None = None) -> str:
    lines = ["stateDiagram-v2", "  direction LR"]
    for s in table.states:
        lines.append(f"  {s.name}: {s.name}")
    lines.append(f"  [*] --> {table.initial}")
    for source, dest, label in _edges(table):
        lines.append(f"  {source} --> {dest}: {label}")
    for s in table.states:
        if s.final:
            lines.append(f"  {s.name} --> [*]")
    if current:
        lines += ["  classDef current fill:#ffd27f,stroke:#c77700,stroke-width:3px", f"  class {current} current"]
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(table: MachineTable, current: str | None = None) -> str:
    lines = [
        f"digraph {table.name} {{",
        "  rankdir=TB;",
        f"  label={_quote(f'{table.name} lifecycle')}; labelloc=t; fontname=Helvetica;",
        "  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=Helvetica];",
        "  edge [fontname=Helvetica, fontsize=9];",
        "  __start [shape=point, width=0.15, label=\"\"];",
    ]
    for s in table.states:
        attrs = [f"label={_quote(s.name)}", f"tooltip={_quote(s.doc)}"]
        if s.final:
            attrs.append("peripheries=2")
        if s.name == current:
            attrs += ["fillcolor=\"#ffd27f\"", "penwidth=3"]
        lines.append(f"  {s.name} [{', '.join(attrs)}];")
    lines.append(f"  __start -> {table.initial};")
    for source, dest, label in _edges(table):
        lines.append(f"  {source} -> {dest} [label={_quote(label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def svg(dot_text: str) -> str:
    import pygraphviz

    graph = pygraphviz.AGraph(string=dot_text)
    rendered = graph.draw(format="svg", prog="dot").decode()
    mark = SOURCE_MARK.format(hashlib.sha256(dot_text.encode()).hexdigest())
    head, sep, rest = rendered.partition("?>")
    return f"{head}{sep}\n{mark}{rest}" if sep else f"{mark}\n{rendered}"


def files(tables: tuple[MachineTable, ...] = MACHINES) -> dict[str, str]:
    """Text files of ``diagrams/``: name -> content (the SVGs are checked through their DOT hash)."""
    out = {}
    for table in tables:
        stem = table.name.lower()
        out[f"{stem}.mmd"] = mermaid(table)
        out[f"{stem}.dot"] = dot(table)
    return out


def write(out_dir: Path = DIAGRAMS_DIR) -> list[Path]:
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


def stale(out_dir: Path = DIAGRAMS_DIR) -> list[str]:
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
