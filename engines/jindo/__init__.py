"""The Jindo engine: JindoRuntime served by JindoCache master, workers and a FUSE DaemonSet.

``register`` is the ``fluid_lifecycle.engines`` entry point (see ``engines.alluxio``).
"""

from engines.jindo.kind import KIND_SPEC
from lifecycle import entry_point

register = entry_point(KIND_SPEC, "engines.jindo.engine:JindoEngine")
