"""The Alluxio engine: AlluxioRuntime served by an Alluxio master, workers and a FUSE DaemonSet.

``register`` is the ``fluid_lifecycle.engines`` entry point; the engine module is imported only when
an engine is built, so listing kinds (for CRDs, or the registry) needs just the API model.
"""

from engines.alluxio.kind import KIND_SPEC
from lifecycle import entry_point

register = entry_point(KIND_SPEC, "engines.alluxio.engine:AlluxioEngine")
