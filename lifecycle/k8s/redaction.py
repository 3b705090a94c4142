"""Secret values out of every text that leaves the operator.

A value can show up in a tool's error output, an exception, a command line shown in a message; the
forms it takes there are not only the value as stored: a file read back keeps its trailing newline,
a shell quotes it, JSON and Python escape it, a URL encodes it. ``redact`` replaces each form.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

REDACTED = "******"
# Shorter values are not hunted for in text: they would blank out common words, not secrets.
MIN_REDACTED = 3


def forms(value: str) -> set[str]:
    """The ways ``value`` may be printed: as is, trimmed, shell-quoted, escaped and URL-encoded."""
    found = {value, value.strip(), shlex.quote(value), json.dumps(value)[1:-1], repr(value)[1:-1],
             quote(value, safe=""), quote_plus(value), quote(value)}
    trimmed = value.strip()
    found |= {shlex.quote(trimmed), json.dumps(trimmed)[1:-1], quote(trimmed, safe=""), quote_plus(trimmed)}
    return {f for f in found if len(f) >= MIN_REDACTED}


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every form of every secret value replaced by ``REDACTED``, longest first."""
    for form in sorted({f for value in secrets for f in forms(value)}, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return text
