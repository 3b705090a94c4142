"""An explicit-state model checker of the lifecycle tables.

``check(depth)`` runs the Dataset and Runtime tables (the product's, or any changed copy) as the
reconcile runs them, against an abstract pair whose facts are free, enumerates every state within
``depth`` environment moves and proves the invariants of ``invariants`` on each, or returns the
shortest trace to a violation. ``fluidlc check`` is its command line.
"""

from lifecycle.machine.check.explore import Checker, Report, Violation, check
from lifecycle.machine.check.invariants import LIVENESS, SAFETY, describe_all
from lifecycle.machine.check.world import World

__all__ = ["LIVENESS", "SAFETY", "Checker", "Report", "Violation", "World", "check", "describe_all"]
