"""``make bench [PAIRS=N] [ENGINE=scripted|alluxio|jindo] [IDLE=seconds] [MEMORY_PAIRS=N] [PROFILE=1|cpu|memory]``:
how fast pairs bind and what they cost, printed as figures (never asserted); with PROFILE=1, also
where the operator's time goes during setup and the idle window; PROFILE=cpu, where its own CPU goes
(tests/bench/profile.py); PROFILE=memory, what its memory is made of at its start, at all Bound and
after the idle window (tests/bench/heap.py).

1. In memory (no API server): the operator's own cost per pair as the pairs grow to MEMORY_PAIRS
   (default 10,000), in batches: it must not grow with N.
2. On a fresh local control plane (3 kwok nodes), the operator as a process of its own: PAIRS
   pairs (default 100) of ENGINE (default scripted; ``alluxio`` is the workload Fluid was measured
   on, see tests/bench/workload.py), then an idle window of IDLE seconds (default 120), then the
   floor (tests/bench/floor.py) in the same cluster: every figure is printed beside the floor's.
3. The same with the controller-manager's client limits raised (200 requests/s, burst 400) from
   its default 20, which is what bounds the time to Bound of 2. on a small machine.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

from tests.bench import heap
from tests.bench.cluster_run import nodes_for, on_cluster, summary
from tests.bench.memory_curve import curve
from tests.bench.workload import WORKLOADS

console = Console()


def _stopped(signum: int, frame: object) -> None:
    """SIGTERM ends the run as Ctrl-C does: the ``finally`` blocks stop the operator (and with it
    py-spy) and the control plane, instead of leaving the operator running."""
    raise SystemExit(128 + signum)


def main() -> int:
    signal.signal(signal.SIGTERM, _stopped)
    pairs = int(os.environ.get("BENCH_PAIRS", "100"))
    engine = os.environ.get("BENCH_ENGINE", "scripted")
    idle = float(os.environ.get("BENCH_IDLE", "120"))
    memory_pairs = int(os.environ.get("BENCH_MEMORY_PAIRS", "10000"))
    if engine not in WORKLOADS:
        console.print(f"[red]ENGINE={engine}: one of {', '.join(WORKLOADS)}")
        return 2
    parts = set(filter(None, os.environ.get("BENCH_PARTS", "memory,cluster,manager").split(",")))
    console.print(f"[bold]machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    if "memory" in parts and memory_pairs:
        table = Table(title=f"in memory, scripted engine: cost per pair up to {memory_pairs:,} pairs")
        for column in ("pairs", "setup ms per pair", "idle ms per pass", "RSS KiB per pair", "Bound"):
            table.add_column(column, justify="right")
        def say(row: tuple[int, float, float, float, int]) -> None:
            console.print(f"  {row[0]:,} pairs: setup {row[1]:.2f} ms per pair, idle {row[2]:.2f} ms per pass, "
                          f"{row[3]:.1f} KiB per pair, {row[4]:,} Bound")

        for n, setup, idle_ms, rss, bound in curve(memory_pairs, max(1, memory_pairs // 5), each=say):
            table.add_row(f"{n:,}", f"{setup:.2f}", f"{idle_ms:.2f}", f"{rss:.1f}", f"{bound:,}")
        console.print(table)
    for variant, qps in (("cluster", None), ("manager", 200)):
        if variant not in parts:
            continue
        title = f"{ENGINE_TITLE.get(engine, engine)}: {pairs} pairs on the local control plane, " \
            f"{nodes_for(pairs)} nodes" + (
            f", controller-manager at {qps} requests/s" if qps else "")
        console.print(f"[bold]{title} ...")
        figures = on_cluster(WORKLOADS[engine], pairs, idle, manager_qps=qps)
        _table(console, title, (("figure", "left"), ("value", "right")), summary(figures))
        for key, window, order in (("profile", "setup", "with what they call"),
                                   ("profile_own", "setup", "by their own time"),
                                   ("idle_profile", "idle", "with what they call"),
                                   ("idle_profile_own", "idle", "by their own time")):
            if not figures.get(key):
                continue
            _table(console, f"where the operator's {window} time goes, {order} "
                            f"(py-spy samples of {figures['profile_sampled']})",
                   (("function (module)", "left"), ("own %", "right"), ("with callees %", "right")),
                   [(name, f"{own:.1f}", f"{inclusive:.1f}") for name, own, inclusive in figures[key]])
        for key, when in (("heap_start", "at its start"), ("heap_bound", "at all Bound"),
                          ("heap_idle", "after the idle window")):
            if figures.get(key):
                _heap_tables(console, when, figures[key])
    return 0


def _heap_tables(console: Console, when: str, found: dict[str, Any]) -> None:
    """PROFILE=memory: what the RSS is made of, the objects by type and, traced, the lines holding them."""
    mib = 1 / (1024 * 1024)
    malloc, pymalloc = found.get("malloc", {}), found.get("pymalloc")
    parts = [f"RSS {found['rss'] * mib:.1f} MiB"]
    if pymalloc:
        parts.append(f"the interpreter's pools {pymalloc.get('bytes in arenas', 0) * mib:.1f} MiB, in use "
                     f"{pymalloc.get('bytes in allocated blocks', 0) * mib:.1f}")
    if "traced" in found:
        parts.append(f"Python objects traced {found['traced'] * mib:.1f} MiB (peak {found['traced_peak'] * mib:.1f}; "
                     f"the trace's own {found['tracing'] * mib:.1f} is in the C heap)")
    parts.append(f"C heap in use {malloc.get('in_use', 0) * mib:.1f} MiB, free but kept "
                 f"{malloc.get('free', 0) * mib:.1f}, mmapped {malloc.get('mmapped', 0) * mib:.1f}")
    console.print(f"[bold]the operator's memory {when}:[/] " + "; ".join(parts))
    _table(console, f"objects the collector tracks {when}, by type",
           (("type", "left"), ("objects", "right"), ("own MiB", "right")),
           [(name, f"{count:,}", f"{size * mib:.1f}") for name, count, size in found["census"]])
    if found.get("holders"):
        _table(console, f"dicts, lists and sets {when}, by the first holder up their chain that is not one",
               (("held by", "left"), ("containers", "right"), ("own MiB", "right")),
               [(name, f"{count:,}", f"{size * mib:.1f}") for name, count, size in found["holders"]])
    pools = (pymalloc or {}).get("bytes in allocated blocks", 0)
    for where, bound, heap_name, whole in (("small", "up to", "the pools", pools),
                                           ("large", "over", "the C heap", malloc.get("in_use", 0))):
        if found.get(where):
            of_whole = f" of the {whole * mib:.1f} in use" if whole else ""  # a traced run has no pool figures
            _table(console, f"objects of {bound} {heap.SMALL} bytes {when} ({heap_name}), by type and first holder "
                            f"that is not a container; all of them {found[f'{where}_total'] * mib:.1f} MiB{of_whole}",
                   (("type", "left"), ("held by", "left"), ("objects", "right"), ("MiB", "right")),
                   [(kind, owner, f"{count:,}", f"{size * mib:.1f}") for kind, owner, count, size in found[where]])
    if found.get("caches"):
        _table(console, f"the informers' caches {when}: texts in the C heap, their index in the pools",
               (("kind", "left"), ("objects", "right"), ("text MiB", "right"), ("KiB per object", "right"),
                ("index MiB", "right")),
               [(kind, f"{count:,}", f"{text * mib:.1f}", f"{text / count / 1024:.1f}", f"{index * mib:.1f}")
                for kind, count, text, index in found["caches"]])
    if found.get("top"):
        _table(console, f"where the operator's Python objects are {when} (tracemalloc, by our innermost lines)",
               (("our lines (innermost first)", "left"), ("allocated at", "left"), ("MiB", "right"),
                ("blocks", "right")),
               [(ours, innermost if innermost not in ours else "", f"{size * mib:.2f}", f"{blocks:,}")
                for ours, innermost, size, blocks in found["top"]])


Justify = Literal["left", "right"]


def _table(console: Console, title: str, columns: tuple[tuple[str, Justify], ...],
           rows: Sequence[tuple[str, ...]]) -> None:
    table = Table(title=title)
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for row in rows:
        table.add_row(*row)
    console.print(table)


ENGINE_TITLE = {"alluxio": "Alluxio (one web UFS, 1 worker, MEM 1Gi)", "scripted": "scripted engine",
                "jindo": "Jindo (1 worker, MEM 1Gi)"}

if __name__ == "__main__":
    sys.exit(main())
