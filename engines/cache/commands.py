"""Commands in the master pod: how a cache engine runs its CLI, and what a failure says.

A command is an argument vector (never a shell string) run through the API server's exec. A failure
of any kind (no pod, the exec broke, a non-zero exit) becomes a ``CacheCommandError`` whose message
names the runtime, the command and the pod, with every secret value replaced.
"""

from __future__ import annotations

from collections.abc import Sequence

from engines.cache import ufs
from lifecycle import Gateway, NotFound

DEFAULT_COMMAND_TIMEOUT = 60.0
OUTPUT_SHOWN = 400  # characters of a failed command's output that reach the message


class CacheCommandError(RuntimeError):
    """A command in the master failed or could not run; the message never carries a secret value."""


def run(gateway: Gateway, namespace: str, pod: str, container: str, argv: Sequence[str], *, ref: str,
        secrets: Sequence[str] = (), timeout: float = DEFAULT_COMMAND_TIMEOUT) -> str:
    """Run ``argv`` in ``container`` of ``pod``; its standard output, or CacheCommandError."""
    shown = ufs.describe(argv, secrets)
    try:
        result = gateway.exec(namespace, pod, container, list(argv), timeout)
    except NotFound:
        raise CacheCommandError(f"{ref}: cannot run `{shown}`: pod {namespace}/{pod} does not exist; "
                                "it comes back with the master StatefulSet") from None
    except Exception as exc:  # exec errors (timeouts, websocket failures) may quote the command line
        raise CacheCommandError(f"{ref}: `{shown}` in pod {namespace}/{pod} failed: "
                                f"{ufs.redact(str(exc), secrets)}") from None
    if result.code != 0:
        output = ufs.redact((result.stderr.strip() or result.stdout.strip())[-OUTPUT_SHOWN:], secrets)
        raise CacheCommandError(f"{ref}: `{shown}` in pod {namespace}/{pod} exited with status "
                                f"{result.code}: {output or 'no output'}")
    return result.stdout
