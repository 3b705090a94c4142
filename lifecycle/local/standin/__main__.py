"""``python -m lifecycle.local.standin TOOL ARGS...``: one stand-in CLI, as kwok runs it for a pod exec.

The local cluster puts a shim named after each tool (``alluxio``, ``jindocache``, ``jindo``) on
kwok's PATH that runs this package with the interpreter fluidlc runs on, as the top-level package
``standin`` (its folder's parent first on ``sys.path``, without site-packages): only this package
and the standard library are imported, never the operator, so an exec costs a Python start-up.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from . import alluxio, jindo

TOOLS: dict[str, Callable[[Sequence[str]], int]] = {
    "alluxio": alluxio.main,
    "jindocache": jindo.main,
    "jindo": jindo.fs_main,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in TOOLS:
        sys.stderr.write(f"usage: standin {{{','.join(TOOLS)}}} ARGS...\n")
        return 2
    return TOOLS[args[0]](args[1:])


if __name__ == "__main__":
    sys.exit(main())
