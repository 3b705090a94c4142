"""``fluidlc conformance KIND``: the conformance kit (``lifecycle.testing.conformance``) against the
engine registered for a runtime kind, installed (entry points) or named in ``$FLUIDLC_ENGINES``.

Commands the engine runs in its pods are answered by the stand-in cache CLIs, with a small file
in the pair's under file system; ``--deep`` adds the crash after every write of the pair's life.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from lifecycle.engine.registry import Registry, UnknownRuntimeKind
from lifecycle.k8s.memory import ExecHandler, MemoryGateway
from lifecycle.local.standin_exec import StandinExec
from lifecycle.testing import conformance

UFS_FILE = ("s3://conformance/data/part-0.bin", 4096)


def standin_exec(root: Path) -> conformance.ExecFactory:
    """Each simulated cluster gets stand-in CLIs with their own state, sharing one UFS folder."""
    def make(api: MemoryGateway) -> ExecHandler:
        handler = StandinExec(api, Path(tempfile.mkdtemp(prefix="world-", dir=root)))
        handler.ufs_file(*UFS_FILE)
        return handler

    return make


def run_kit(kind: str, registry: Registry, root: Path, deep: bool) -> list[conformance.Result]:
    kit = conformance.Kit(registry.get(kind), registry, exec_handler=standin_exec(root))
    return conformance.run(kit, conformance.FAST + (conformance.DEEP if deep else ()))


def _conformance(args: argparse.Namespace) -> int:
    if not args.verbose:  # every move of every pass is logged at INFO: the results are the output here
        logging.getLogger().setLevel(logging.WARNING)
    registry = Registry().discover()
    try:
        registry.get(args.kind)
    except UnknownRuntimeKind as error:
        print(error)
        return 2
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fluidlc-conformance-") as root:
        results = run_kit(args.kind, registry, Path(root), args.deep)
    for r in results:
        figures = "".join(f"; {k}: {v}" for k, v in r.figures.items())
        print(f"{'PASS' if r.passed else 'FAIL'}  {r.check}{figures}" + (f"\n      {r.detail}" if r.detail else ""))
    failed = [r.check for r in results if not r.passed]
    seconds = time.monotonic() - started
    print(f"{args.kind}: {len(results) - len(failed)}/{len(results)} checks passed in {seconds:.1f}s")
    return 1 if failed else 0


def add_conformance_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "conformance", help="check that a runtime kind's engine keeps the lifecycle's invariants (in memory)",
        description="Drives one Dataset/runtime pair of KIND through setup, Bound, deletion in use and "
                    "deletion on a simulated cluster, holding the engine to the lifecycle's invariants. "
                    "An engine under development: FLUIDLC_ENGINES=my_engine:register fluidlc conformance "
                    "CurveRuntime.")
    parser.add_argument("kind", metavar="KIND", help="a registered runtime kind, e.g. AlluxioRuntime")
    parser.add_argument("--deep", action="store_true",
                        help="also crash the operator after every single write of the pair's life")
    parser.set_defaults(func=_conformance)
