"""``fluidlc check``: the model checker of the lifecycle tables, from the command line.

It checks the tables this fluidlc was built with, within ``--depth`` environment moves, prints how
many states it explored, how long it took and each invariant it proved, and exits 1 with the
shortest trace it found when one does not hold.
"""

from __future__ import annotations

import argparse
from typing import Any

from lifecycle.machine.check import check, describe_all
from lifecycle.machine.check.explore import Report

DEFAULT_DEPTH = 3


def print_report(r: Report) -> int:
    print(f"explored {r.states} states ({r.passes} reconcile passes) within {r.depth} environment moves "
          f"in {r.seconds:.1f}s")
    if r.violation is not None:
        print(r.violation)
        return 1
    for name, doc in describe_all():
        print(f"  held  {name}: {doc}")
    return 0


def _check(args: argparse.Namespace) -> int:
    return print_report(check(args.depth, liveness=not args.safety_only))


def add_check_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check", help="prove the lifecycle tables: every reachable state of a pair, every invariant",
        description="Runs the Dataset and Runtime tables as the reconcile runs them against an abstract pair whose "
                    "facts are free (readiness, lost workloads, pods, deletions, hook failures, crashes between "
                    "writes), explores every state within --depth environment moves and checks the safety and "
                    "liveness invariants; on a violation prints the shortest trace and exits 1.")
    parser.add_argument("--depth", type=int, default=DEFAULT_DEPTH,
                        help=f"environment moves to explore (default {DEFAULT_DEPTH}; each one multiplies the states "
                             "by about six)")
    parser.add_argument("--safety-only", action="store_true", help="skip the liveness check from every state")
    parser.set_defaults(func=_check)
