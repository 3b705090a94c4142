"""The lifecycle machines drawn from their tables: Mermaid and DOT text, and SVG.

Every edge carries its trigger and the hooks that guard it, so the picture is the table. A guard
that also writes (``MachineTable.writing_guards``) is drawn with a trailing ``*``. The state whose
internal transition runs Sync carries a note listing the Sync steps in order with their flags, so
what the model checker and the tests read is what is drawn. (SVG is drawn from the DOT text by
``lifecycle.generate.diagrams``.)
"""

from __future__ import annotations

from typing import Any

from lifecycle.machine.table import MachineTable, SyncStep, Transition

WRITES = "*"

Table = MachineTable[Any, Any]


def edge_label(t: Transition[Any, Any], writing: frozenset[str] = frozenset()) -> str:
    """``trigger {should? step} [when & !unless] / do``; a writing guard ends in ``*``."""
    def guard(name: str) -> str:
        return name + (WRITES if name in writing else "")

    parts = [t.trigger]
    if t.step is not None:
        parts.append("{" + (f"{t.step.should}? " if t.step.should else "") + t.step.do + "}")
    guards = [*map(guard, t.when), *(f"!{guard(u)}" for u in t.unless)]
    if guards:
        parts.append("[" + " & ".join(guards) + "]")
    if t.do:
        parts.append(f"/ {t.do}")
    return " ".join(parts)


def _edges(table: Table) -> list[tuple[str, str, str]]:
    edges = []
    for t in table.transitions:
        for source in t.source:
            label = edge_label(t, table.writing_guards) + (" (in place)" if t.internal else "")
            edges.append((str(source), str(t.dest or source), label))
    return edges


def sync_lines(steps: tuple[SyncStep[Any], ...]) -> list[str]:
    """``1. sync_metadata``, ``3. sync_runtime (stops Sync if it changed anything)``, ..."""
    return [f"{i}. {s.hook}" + (f" ({'; '.join(s.flags)})" if s.flags else "") for i, s in enumerate(steps, 1)]


def _sync_state(table: Table) -> str | None:
    """The state whose internal ``sync`` row runs the Sync steps, if the table has one."""
    for t in table.transitions:
        if t.internal and t.do == "sync":
            return str(t.source[0])
    return None


def mermaid(table: Table, current: str | None = None, sync: tuple[SyncStep[Any], ...] = ()) -> str:
    lines = ["stateDiagram-v2", "  direction LR"]
    for s in table.states:
        lines.append(f"  {s.name}: {s.name}")
    lines.append(f"  [*] --> {table.initial}")
    for source, dest, label in _edges(table):
        lines.append(f"  {source} --> {dest}: {label}")
    for s in table.states:
        if s.final:
            lines.append(f"  {s.name} --> [*]")
    at = _sync_state(table)
    if sync and at:
        lines.append(f"  note right of {at}")
        lines += [f"    {line}" for line in ["Sync steps, in order:", *sync_lines(sync)]]
        lines.append("  end note")
    if table.writing_guards:
        lines.append(f"  %% {WRITES}: a guard that also writes status")
    if current:
        lines += ["  classDef current fill:#ffd27f,stroke:#c77700,stroke-width:3px", f"  class {current} current"]
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(table: Table, current: str | None = None, sync: tuple[SyncStep[Any], ...] = ()) -> str:
    title = f"{table.name} lifecycle" + (f"  ({WRITES}: a guard that also writes status)"
                                          if table.writing_guards else "")
    lines = [
        f"digraph {table.name} {{",
        "  rankdir=TB;",
        f"  label={_quote(title)}; labelloc=t; fontname=Helvetica;",
        "  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=Helvetica];",
        "  edge [fontname=Helvetica, fontsize=9];",
        "  __start [shape=point, width=0.15, label=\"\"];",
    ]
    for s in table.states:
        attrs = [f"label={_quote(str(s.name))}", f"tooltip={_quote(s.doc)}"]
        if s.final:
            attrs.append("peripheries=2")
        if s.name == current:
            attrs += ["fillcolor=\"#ffd27f\"", "penwidth=3"]
        lines.append(f"  {s.name} [{', '.join(attrs)}];")
    lines.append(f"  __start -> {table.initial};")
    for source, dest, label in _edges(table):
        lines.append(f"  {source} -> {dest} [label={_quote(label)}];")
    at = _sync_state(table)
    if sync and at:
        text = "\\l".join(["Sync steps, in order:", *sync_lines(sync)]) + "\\l"
        lines.append(f"  __sync [shape=note, fontsize=9, fillcolor=\"#f4f4f4\", label=\"{text}\"];")
        lines.append(f"  {at} -> __sync [style=dashed, arrowhead=none];")
    lines.append("}")
    return "\n".join(lines) + "\n"
