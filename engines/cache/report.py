"""Numbers a cache reports, in the formats the reference shows them.

Sizes are binary with two decimals (``"10.00GiB"``), ratios one decimal (``"57.3%"``), durations
like Go's (``"2m30s"``). Keys missing from a report stay out of ``cacheStates`` rather than
showing a made-up zero.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import attrs

from lifecycle import format_bytes, format_ratio, parse_quantity, parse_tool_size

ISO = "%Y-%m-%dT%H:%M:%SZ"
_CAPACITY_UNITS = (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))


@attrs.frozen
class HitCounters:
    """Bytes read (and bytes per minute) from the local worker, a remote worker and the UFS."""

    local: int = 0
    remote: int = 0
    ufs: int = 0
    local_throughput: int = 0
    remote_throughput: int = 0
    ufs_throughput: int = 0


@attrs.frozen
class CacheReport:
    capacity: int
    used: int
    hits: HitCounters | None = None


def cache_states(report: CacheReport, ufs_total: int | None) -> dict[str, str]:
    states = {"cached": format_bytes(report.used), "cacheCapacity": format_bytes(report.capacity)}
    if ufs_total is not None:
        states["cachedPercentage"] = cached_percentage(report.used, ufs_total)
    hits = report.hits
    if hits is not None:
        total = hits.local + hits.remote + hits.ufs
        states["cacheHitRatio"] = format_ratio(hits.local + hits.remote, total)
        states["localHitRatio"] = format_ratio(hits.local, total)
        states["remoteHitRatio"] = format_ratio(hits.remote, total)
        throughput = hits.local_throughput + hits.remote_throughput + hits.ufs_throughput
        states["cacheThroughputRatio"] = format_ratio(hits.local_throughput + hits.remote_throughput, throughput)
        states["localThroughputRatio"] = format_ratio(hits.local_throughput, throughput)
        states["remoteThroughputRatio"] = format_ratio(hits.remote_throughput, throughput)
    return states


def with_cached_percentage(states: dict[str, str] | None, ufs_total: int) -> dict[str, str] | None:
    """``states`` with the percentage recomputed for a newly known UFS size, without asking the cache
    again: the cached bytes are already in ``states``."""
    if not states or "cached" not in states:
        return states
    try:
        cached = parse_tool_size(states["cached"])
    except ValueError:
        return states
    return {**states, "cachedPercentage": cached_percentage(cached, ufs_total)}


def cached_percentage(cached: int, ufs_total: int) -> str:
    """How much of the UFS is cached, as the Cached Percentage column shows it (capped at 100%)."""
    return format_ratio(min(cached, ufs_total), ufs_total)


def ufs_total_bytes(text: str | None) -> int | None:
    """``status.ufsTotal`` back to bytes; None while it is unknown or being calculated."""
    if not text or text.startswith("["):
        return None
    try:
        return parse_tool_size(text)
    except ValueError:
        return None


def go_duration(seconds: float) -> str:
    """``150`` -> ``"2m30s"``, as Go prints a duration rounded to the second."""
    total = max(round(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, ISO).replace(tzinfo=UTC)
    except ValueError:
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None


def quantity_bytes(text: str | None) -> int:
    return int(parse_quantity(text)) if text else 0


def capacity_label_value(size: int) -> str:
    """A byte count as a label value: ``"2GiB"`` when exact, else ``"1.50GiB"``."""
    for suffix, unit in _CAPACITY_UNITS:
        if size >= unit and size % unit == 0:
            return f"{size // unit}{suffix}B"
    return format_bytes(Decimal(size)) if size >= 1024 else f"{size}B"


_REPORT_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z ]*?):\s*(\S.*?)\s*$")


def report_values(text: str) -> dict[str, str]:
    """``Name: value`` lines of a report, the first occurrence of each name."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _REPORT_LINE.match(line)
        if match:
            values.setdefault(match.group(1), match.group(2))
    return values


def tool_size(text: str | None) -> int:
    """A size as a cache tool prints it; throughputs end in ``/MIN``."""
    if not text:
        return 0
    return parse_tool_size(text.removesuffix("/MIN").strip())
