"""The operator settings an engine reads from ``EngineContext.settings``, and how they are spelled.

The operator process fills ``settings`` from its flags (``lifecycle.operator.settings``); engines
read them by these names. Values arrive parsed: a port range is a ``(first, last)`` tuple.
"""

from __future__ import annotations

DEFAULT_PORT_RANGE = (20000, 26000)


def parse_port_range(text: str | tuple[int, int] | None) -> tuple[int, int]:
    """``"20000-26000"`` -> ``(20000, 26000)``; the default for None; a clear error for anything else."""
    if text is None:
        return DEFAULT_PORT_RANGE
    if isinstance(text, tuple):
        return text
    low, sep, high = str(text).partition("-")
    try:
        first, last = int(low), int(high)
    except ValueError:
        first = last = 0
    if not sep or not 1 <= first <= last <= 65535:
        raise ValueError(f"port range {text!r} is not FIRST-LAST within 1-65535, e.g. 20000-26000")
    return first, last
