"""Alluxio's command line, as the engine runs it in the master: the argument vectors, and how their
output is read (as Alluxio 2.x prints it). Pure functions, so each format is tested on its own."""

from __future__ import annotations

import re
from collections.abc import Sequence

from engines.cache import report
from engines.cache.report import CacheReport, HitCounters
from engines.cache.system import MountedUFS
from engines.cache.ufs import ResolvedMount

LIST_MOUNTS = ["alluxio", "fs", "mount"]
REPORT_SUMMARY = ["alluxio", "fsadmin", "report", "summary"]
REPORT_METRICS = ["alluxio", "fsadmin", "report", "metrics"]
COUNT_ROOT = ["alluxio", "fs", "count", "/"]
FREE_ALL = ["alluxio", "fs", "free", "-f", "/"]
_MOUNT_ROW = re.compile(r"^(\S+)\s+on\s+(\S+)\s+\((\S+), capacity=.*?, used=.*?, (not )?read-only, (not )?shared,")
_METRIC = re.compile(r"^(\S+)\s+\(Type: \w+, Value: ([^)]+)\)\s*$")


def mount_argv(mount: ResolvedMount) -> list[str]:
    """``alluxio fs mount [--readonly] [--shared] --option k=v... <path> <ufs>``; a Secret-backed option
    names its file (the mount-file mode), never the value."""
    argv = ["alluxio", "fs", "mount"]
    if mount.read_only:
        argv.append("--readonly")
    if mount.shared:
        argv.append("--shared")
    for key, value in sorted(mount.file_options.items()):
        argv += ["--option", f"{key}={value}"]
    return [*argv, mount.path, mount.ufs]


def unmount_argv(path: str) -> list[str]:
    return ["alluxio", "fs", "unmount", path]


def load_metadata_argv(path: str) -> list[str]:
    return ["alluxio", "fs", "loadMetadata", "-R", path]


def parse_mounts(text: str) -> dict[str, MountedUFS]:
    """``alluxio fs mount`` lines: ``<ufs>  on  <path>  (<type>, ..., [not ]read-only, ...)``."""
    table = {}
    for line in text.splitlines():
        row = _MOUNT_ROW.match(line.strip())
        if row:
            table[row.group(2)] = MountedUFS(row.group(1), read_only=row.group(4) is None)
    return table


def has_capacity(summary_text: str) -> bool:
    return "Total Capacity" in report.report_values(summary_text)


def parse_report(summary_text: str, metrics_text: str | None) -> CacheReport:
    """The cache's capacity and use from ``report summary``, its hit counters from ``report metrics``
    (None without its text)."""
    summary = report.report_values(summary_text)
    capacity, used = report.tool_size(summary["Total Capacity"]), report.tool_size(summary.get("Used Capacity"))
    if metrics_text is None:
        return CacheReport(capacity=capacity, used=used)
    metrics: dict[str, str] = {}
    for line in metrics_text.splitlines():
        found = _METRIC.match(line.strip())
        if found:
            metrics[found.group(1)] = found.group(2)

    def size(name: str) -> int:
        return report.tool_size(metrics.get(f"Cluster.{name}"))

    hits = HitCounters(
        local=size("BytesReadLocal") + size("BytesReadDomain"),
        remote=size("BytesReadRemote"),
        ufs=size("BytesReadUfsAll"),
        local_throughput=size("BytesReadLocalThroughput") + size("BytesReadDomainThroughput"),
        remote_throughput=size("BytesReadRemoteThroughput"),
        ufs_throughput=size("BytesReadUfsThroughput"),
    )
    return CacheReport(capacity=capacity, used=used, hits=hits)


def parse_count(text: str) -> tuple[int, int] | None:
    """Files and bytes from ``alluxio fs count``'s table; None if it printed something else."""
    lines: Sequence[str] = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) < 2 or not lines[0].startswith("File Count"):
        return None
    files, _folders, size = lines[1].split()[:3]
    return int(files), int(size)
