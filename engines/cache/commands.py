"""Commands in the master pod: how a cache engine runs its CLI, and what a failure says.

A command is an argument vector (never a shell string) run through the API server's exec; it never
carries a secret value (those are files in the pod). A failure of any kind (no pod, the exec broke, a
non-zero exit) becomes a ``CacheCommandError`` whose message names the runtime, the command and the
pod, with every secret value of the pair replaced, in whatever form the tool printed it. The values
are looked up only then: a command that succeeds costs no read of a Secret.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from engines.cache import ufs
from lifecycle import Gateway, NotFound, redact

DEFAULT_COMMAND_TIMEOUT = 60.0
OUTPUT_SHOWN = 400  # characters of a failed command's output that reach the message


class CacheCommandError(RuntimeError):
    """A command in the master failed or could not run; the message never carries a secret value."""


def run(gateway: Gateway, namespace: str, pod: str, container: str, argv: Sequence[str], *, ref: str,
        secrets: Callable[[], Iterable[str]] = tuple, timeout: float = DEFAULT_COMMAND_TIMEOUT) -> str:
    """Run ``argv`` in ``container`` of ``pod``; its standard output, or CacheCommandError."""
    try:
        result = gateway.exec(namespace, pod, container, list(argv), timeout)
    except NotFound:
        raise CacheCommandError(f"{ref}: cannot run `{ufs.describe(argv, secrets())}`: pod {namespace}/{pod} "
                                "does not exist; it comes back with the master StatefulSet") from None
    except Exception as exc:  # exec errors (timeouts, websocket failures) may quote the command line
        values = list(secrets())
        raise CacheCommandError(f"{ref}: `{ufs.describe(argv, values)}` in pod {namespace}/{pod} failed: "
                                f"{redact(str(exc), values)}") from None
    if result.code != 0:
        values = list(secrets())
        # Redacted whole, then trimmed: a cut must not leave half a secret that no longer matches.
        output = redact(result.stderr or result.stdout, values).strip()[-OUTPUT_SHOWN:]
        raise CacheCommandError(f"{ref}: `{ufs.describe(argv, values)}` in pod {namespace}/{pod} exited with "
                                f"status {result.code}: {output or 'no output'}")
    return result.stdout
