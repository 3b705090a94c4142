"""The `alluxio` stand-in: the `fs`, `fsadmin report` and `version` commands engines exec in masters.

Output follows Alluxio 2.x (mount table lines, `count` columns, the report summary and metrics
lines) because engines parse it exactly as they would parse the real master's answers.
"""

from __future__ import annotations

import json
import os
import posixpath
import sys
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from .cache import (
    SECRETS_DIR,
    Command,
    Context,
    Entry,
    Namespace,
    StandinError,
    UsageError,
    fingerprint,
    format_java_date,
    format_number,
    format_size,
    format_uptime,
    is_under,
    missing_ufs,
    normalize_path,
    read_pod_file,
    read_properties,
    run_cli,
    ufs_local_path,
)

TOOL = "alluxio"
VERSION = "2.8.1"
RPC_PORT = 19998
WEB_PORT = 19999
USAGE = """Usage: alluxio [COMMAND] [GENERIC_COMMAND_OPTIONS] [COMMAND_ARGS]

COMMAND is one of:
    fs        Command line tool for interacting with the Alluxio filesystem.
    fsadmin   Command line tool for use by Alluxio filesystem admins.
    version   Print Alluxio version and exit."""

FS_USAGE = """Usage: alluxio fs [generic options]
       [count [-h] <path>]
       [distributedLoad [--replication <num>] [--active-jobs <num>] <path>]
       [du [-h|-s|--memory] <path>]
       [free [-f] <path>]
       [load [--local] <path>]
       [loadMetadata [-R] [-F] <path>]
       [ls [-d|-f|-p|-R|-h|--sort=option|-r] <path>]
       [mount [--readonly] [--shared] [--option <key=val>] <alluxioPath> <ufsURI>]
       [setReplication [--max <num> | --min <num>] [-R] <path>]
       [unmount <alluxioPath>]"""

REPORT_USAGE = """Usage: alluxio fsadmin report [category] [category args]
Report Alluxio running cluster information.
Where [category] is an optional argument. If no arguments are passed in, summary information
will be printed out.
[category] can be one of the following:
    capacity         worker capacity information
    metrics          metrics information
    summary          cluster summary
    ufs              under storage system information"""

LS_FORMAT = "{:<12}{:<15}{:<15}{:>15}{:>16}{:>24}{:>5} {}"
COUNT_FORMAT = "{:<25}{:<25}{:<15}"
MEDIUM_COLUMNS = ("MEM", "SSD", "HDD")
DU_FORMAT = "{:<13} {:<16} {}"


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    return run_cli(TOOL, sys.argv[1:] if argv is None else argv, os.environ if env is None else env, resolve)


def resolve(argv: Sequence[str]) -> Command:
    if not argv:
        raise UsageError(USAGE)
    command, rest = argv[0], list(argv[1:])
    if command == "fs":
        return _resolve_fs(rest)
    if command == "fsadmin":
        return _resolve_fsadmin(rest)
    if command == "version":
        return Command(("version",), lambda ctx: ctx.print(VERSION))
    raise UsageError(f"Unknown command: {command}\n{USAGE}")


# ---------------------------------------------------------------- argument parsing


def _strip_generic_properties(args: Sequence[str]) -> list[str]:
    """Drop -Dkey=value JVM properties, which the real shell accepts anywhere; keep option values."""
    kept: list[str] = []
    for index, arg in enumerate(args):
        if arg.startswith("-D") and "=" in arg and (index == 0 or args[index - 1] != "--option"):
            continue
        kept.append(arg)
    return kept


def _parse(
    args: Sequence[str], usage: str, flags: Collection[str] = (), valued: Collection[str] = ()
) -> tuple[dict[str, Any], list[str]]:
    """Split options from positional arguments; values are taken verbatim, never shell-interpreted."""
    options: dict[str, Any] = {}
    positional: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        name, sep, inline = arg.lstrip("-").partition("=")
        if name in valued:
            if sep:
                value = inline
            elif index < len(args):
                value = args[index]
                index += 1
            else:
                raise UsageError(f"Missing argument for option: {name}\nUsage: {usage}")
            options.setdefault(name, []).append(value)
        elif name in flags and not sep:
            options[name] = True
        else:
            raise UsageError(f"Unrecognized option: {arg}\nUsage: {usage}")
    return options, positional


def _expect_args(command: str, positional: Sequence[str], usage: str, count: int) -> None:
    if len(positional) != count:
        raise UsageError(f"Command {command} takes {count} arguments, not {len(positional)}\nUsage: {usage}")


def _expect_some(command: str, positional: Sequence[str], usage: str) -> None:
    if not positional:
        raise UsageError(
            f"Command {command} takes at least 1 arguments, not {len(positional)}\nUsage: {usage}"
        )


def _namespace(ctx: Context) -> Namespace:
    return Namespace(ctx.tool_state["mounts"], ctx.settings.ufs_root, _root_ufs(ctx))


def _existing(ns: Namespace, raw: str) -> tuple[str, Entry]:
    path = normalize_path(raw)
    entry = ns.stat(path)
    if entry is None:
        raise StandinError(f'Path "{path}" does not exist.')
    return path, entry


# ---------------------------------------------------------------- fs commands

FsParser = Callable[[list[str]], Command]


def _resolve_fs(args: list[str]) -> Command:
    args = _strip_generic_properties(args)
    if not args:
        raise UsageError(FS_USAGE)
    name, rest = args[0], args[1:]
    parser = _FS_COMMANDS.get(name)
    if parser is None:
        raise UsageError(f"{name} is an unknown command.\n{FS_USAGE}")
    return parser(rest)


def _fs_mount(args: list[str]) -> Command:
    usage = "mount [--readonly] [--shared] [-v/--verbose] [--option <key=val>] <alluxioPath> <ufsURI>"
    options, positional = _parse(args, usage, flags={"readonly", "shared", "v", "verbose"}, valued={"option"})
    if not positional:
        return Command(("mount",), _list_mounts)
    if len(positional) != 2:
        raise UsageError(f"Command mount takes 0 or 2 arguments, not {len(positional)}\nUsage: {usage}")
    properties: dict[str, str] = {}
    for pair in options.get("option", []):
        key, sep, value = pair.partition("=")
        properties[key] = value if sep else "true"
    alluxio_path, ufs = positional

    def mount(ctx: Context) -> None:
        path = normalize_path(alluxio_path)
        table = ctx.tool_state["mounts"]
        if path == "/" or any(m["path"] == path for m in table):
            raise StandinError(f"Mount point {path} already exists")
        if not ufs_local_path(ctx.settings.ufs_root, ufs).exists():
            raise StandinError(f"Ufs path {ufs} does not exist{missing_ufs(ctx.settings, ufs)}")
        # An option whose value is a file under the Secrets directory is read from the pod's file (the
        # reference's mount-file mode); the state keeps the path and a fingerprint, never the value.
        secrets = {key: fingerprint(read_pod_file(ctx.settings, value)) for key, value in properties.items()
                   if value.startswith(SECRETS_DIR + "/")}
        table.append(
            {
                "path": path,
                "ufs": ufs,
                "readonly": bool(options.get("readonly")),
                "shared": bool(options.get("shared")),
                "options": properties,
                "secrets": secrets,
            }
        )
        ctx.print(f"Mounted {ufs} at {path}")

    return Command(("mount",), mount)


SITE = "/opt/alluxio/conf/alluxio-site.properties"


def _root_ufs(ctx: Context) -> str:
    """The root UFS the master was started with: its site properties when the pod has them."""
    local = ctx.settings.pod_root / SITE.lstrip("/") if ctx.settings.pod_root is not None else None
    if local is not None and local.is_file():
        root = read_properties(local.read_text()).get("alluxio.master.mount.table.root.ufs")
        if root:
            return root
    return ctx.settings.root_ufs


def _ufs_type(uri: str) -> str:
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else "local"
    return "web" if scheme in ("http", "https") else scheme


def _java_map(properties: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{key}={value}" for key, value in properties.items()) + "}"


def _mount_lines(ctx: Context) -> list[str]:
    root_ufs = _root_ufs(ctx)
    rows = [
        (m["ufs"], m["path"], _ufs_type(m["ufs"]), -1, -1, m["readonly"], m["shared"], m["options"])
        for m in sorted(ctx.tool_state["mounts"], key=lambda m: m["path"])
    ]
    rows.append((root_ufs, "/", _ufs_type(root_ufs), 0, 0, False, False, {}))
    ufs_width = max(len(row[0]) for row in rows)
    path_width = max(len(row[1]) for row in rows)
    return [
        f"{ufs:<{ufs_width}}  on  {path:<{path_width}}  ({kind}, capacity={format_size(capacity)},"
        f" used={format_size(used)}, {'' if readonly else 'not '}read-only,"
        f" {'' if shared else 'not '}shared, properties={_java_map(props)})"
        for ufs, path, kind, capacity, used, readonly, shared, props in rows
    ]


def _list_mounts(ctx: Context) -> None:
    for line in _mount_lines(ctx):
        ctx.print(line)


def _fs_unmount(args: list[str]) -> Command:
    usage = "unmount <alluxioPath>"
    _, positional = _parse(args, usage)
    _expect_args("unmount", positional, usage, 1)

    def unmount(ctx: Context) -> None:
        path = normalize_path(positional[0])
        table = ctx.tool_state["mounts"]
        if path == "/":
            raise StandinError("Cannot unmount the root mount point.")
        if not any(m["path"] == path for m in table):
            raise StandinError(f"Failed to unmount: {path} is not a mount point")
        table[:] = [m for m in table if m["path"] != path]
        cached = ctx.tool_state["cached"]
        for file_path in [p for p in cached if is_under(p, path)]:
            del cached[file_path]
        loaded = ctx.tool_state["metadata_loaded"]
        loaded[:] = [p for p in loaded if not is_under(p, path)]
        ctx.print(f"Unmounted {path}")

    return Command(("unmount", "umount"), unmount)


def _fs_count(args: list[str]) -> Command:
    usage = "count [-h] <path>"
    options, positional = _parse(args, usage, flags={"h"})
    _expect_args("count", positional, usage, 1)

    def count(ctx: Context) -> None:
        ns = _namespace(ctx)
        path, entry = _existing(ns, positional[0])
        files = folders = size = 0
        for item in [entry] if not entry.is_dir else ns.walk(path):
            if item.is_dir:
                folders += 1
            else:
                files += 1
                size += item.size
        shown = format_size(size) if options.get("h") else str(size)
        ctx.print(COUNT_FORMAT.format("File Count", "Folder Count", "Folder Size"))
        ctx.print(COUNT_FORMAT.format(files, folders, shown))

    return Command(("count",), count)


def _fs_load_metadata(args: list[str]) -> Command:
    usage = "loadMetadata [-R] [-F] <path>"
    _, positional = _parse(args, usage, flags={"R", "F"})
    _expect_some("loadMetadata", positional, usage)

    def load_metadata(ctx: Context) -> None:
        ns = _namespace(ctx)
        loaded = ctx.tool_state["metadata_loaded"]
        for raw in positional:
            path, _ = _existing(ns, raw)
            if path not in loaded:
                loaded.append(path)

    return Command(("loadMetadata",), load_metadata)


def _fs_ls(args: list[str]) -> Command:
    usage = "ls [-d|-f|-p|-R|-h|--sort=option|-r] <path>"
    options, positional = _parse(args, usage, flags={"d", "f", "p", "R", "h", "r"}, valued={"sort"})
    _expect_some("ls", positional, usage)

    def ls(ctx: Context) -> None:
        ns = _namespace(ctx)
        cached = ctx.tool_state["cached"]
        for raw in positional:
            path, entry = _existing(ns, raw)
            if not entry.is_dir or options.get("d"):
                listed = [entry]
            else:
                below = ns.walk(path) if options.get("R") else ns.children(path)
                listed = sorted(below, key=lambda e: e.path)
            if options.get("r"):
                listed.reverse()
            for item in listed:
                if item.is_dir:
                    mode, size, state = "drwxr-xr-x", str(len(ns.children(item.path))), "DIR"
                else:
                    percent = 100 if item.size == 0 else cached.get(item.path, 0) * 100 // item.size
                    mode, state = "-rw-r--r--", f"{percent}%"
                    size = format_size(item.size) if options.get("h") else str(item.size)
                modified = format_java_date(item.mtime_ms)
                ctx.print(
                    LS_FORMAT.format(mode, "root", "root", size, "PERSISTED", modified, state, item.path)
                )

    return Command(("ls",), ls)


def _fs_du(args: list[str]) -> Command:
    usage = "du [-h|-s|--memory] <path>"
    options, positional = _parse(args, usage, flags={"h", "s", "memory"})
    _expect_some("du", positional, usage)

    def shown(size: int) -> str:
        return format_size(size) if options.get("h") else str(size)

    def du(ctx: Context) -> None:
        ns = _namespace(ctx)
        cached = ctx.tool_state["cached"]
        ctx.print(DU_FORMAT.format("File Size", "In Alluxio", "Path").rstrip())
        for raw in positional:
            path, _ = _existing(ns, raw)
            rows = [(f.path, f.size, min(cached.get(f.path, 0), f.size)) for f in ns.files(path)]
            if options.get("s"):
                rows = [(path, sum(r[1] for r in rows), sum(r[2] for r in rows))]
            for row_path, size, in_cache in rows:
                percent = in_cache * 100 // size if size else 0
                ctx.print(DU_FORMAT.format(shown(size), f"{shown(in_cache)} ({percent}%)", row_path))

    return Command(("du",), du)


def _fs_free(args: list[str]) -> Command:
    usage = "free [-f] [--include <address1>,...] [--exclude <address1>,...] <path>"
    _, positional = _parse(args, usage, flags={"f"}, valued={"include", "exclude"})
    _expect_some("free", positional, usage)

    def free(ctx: Context) -> None:
        ns = _namespace(ctx)
        cached = ctx.tool_state["cached"]
        for raw in positional:
            path, _ = _existing(ns, raw)
            for file_path in [p for p in cached if is_under(p, path)]:
                del cached[file_path]
            ctx.print(f"{path} was successfully freed from Alluxio space.")

    return Command(("free",), free)


def _cache_files(ctx: Context, path: str) -> tuple[list[str], int]:
    """Bring the files under `path` into the cache until it is full; bytes come from the UFS."""
    ns = _namespace(ctx)
    cached = ctx.tool_state["cached"]
    room = ctx.settings.capacity - ctx.used_bytes()
    loaded: list[str] = []
    total = 0
    for item in ns.files(path):
        missing = item.size - cached.get(item.path, 0)
        if missing <= 0:
            continue
        if room <= 0:
            break
        added = min(missing, room)
        cached[item.path] = cached.get(item.path, 0) + added
        room -= added
        total += added
        loaded.append(item.path)
    metrics = ctx.tool_state["metrics"]
    metrics["Cluster.BytesReadUfsAll"] = metrics.get("Cluster.BytesReadUfsAll", 0) + total
    return loaded, total


def _fs_load(args: list[str]) -> Command:
    usage = "load [--local] <path>"
    _, positional = _parse(args, usage, flags={"local"})
    _expect_args("load", positional, usage, 1)

    def load(ctx: Context) -> None:
        path, _ = _existing(_namespace(ctx), positional[0])
        loaded, _ = _cache_files(ctx, path)
        if not loaded:
            ctx.print(f"{path} already in Alluxio fully")
        for file_path in loaded:
            ctx.print(f"{file_path} loaded")

    return Command(("load",), load)


def _fs_distributed_load(args: list[str]) -> Command:
    usage = "distributedLoad [--replication <num>] [--active-jobs <num>] [--batch-size <num>] <path>"
    valued = {
        "replication",
        "active-jobs",
        "batch-size",
        "index",
        "hosts",
        "host-file",
        "excluded-hosts",
        "excluded-host-file",
        "locality",
        "locality-file",
        "excluded-locality",
        "excluded-locality-file",
    }
    _, positional = _parse(args, usage, flags={"passive-cache", "async"}, valued=valued)
    _expect_args("distributedLoad", positional, usage, 1)

    def distributed_load(ctx: Context) -> None:
        path, _ = _existing(_namespace(ctx), positional[0])
        loaded, _ = _cache_files(ctx, path)
        job = ctx.state["started_ms"] % 1_000_000 + len(ctx.state["invocations"])
        ctx.print("Please wait for command submission to finish..")
        ctx.print(f"Submitted successfully, jobControlId = {job}")
        ctx.print("Waiting for the command to finish ...")
        ctx.print("Get command status information below: ")
        ctx.print(f"Successfully loaded path {path}")
        ctx.print(f"Total completed file count is {len(loaded)}, failed file count is 0")
        ctx.print(f"Finished running the command, jobControlId = {job}")

    return Command(("distributedLoad",), distributed_load)


def _fs_set_replication(args: list[str]) -> Command:
    usage = "setReplication [-R] [--max <num> | --min <num>] <path>"
    options, positional = _parse(args, usage, flags={"R"}, valued={"max", "min"})
    _expect_args("setReplication", positional, usage, 1)

    def set_replication(ctx: Context) -> None:
        path, _ = _existing(_namespace(ctx), positional[0])
        ctx.print(f"Changed the replication level of {path}")
        for bound in ("max", "min"):
            if bound in options:
                ctx.print(f"replication{bound.capitalize()} was set to {options[bound][-1]}")

    return Command(("setReplication",), set_replication)


def _fs_distributed_cp(args: list[str]) -> Command:
    """Copy files from an Alluxio path or a UFS URI to an Alluxio path (its mount's UFS folder): the
    copies are sparse files of the sources' sizes, as the simulated UFS's files are."""
    usage = "distributedCp [--active-jobs <num>] [--batch-size <num>] <src> <dst>"
    _, positional = _parse(args, usage, flags=set(), valued={"active-jobs", "batch-size"})
    _expect_args("distributedCp", positional, usage, 2)

    def distributed_cp(ctx: Context) -> None:
        ns = _namespace(ctx)
        source, target = positional
        if "://" in source:
            base = ufs_local_path(ctx.settings.ufs_root, source)
            if not base.exists():
                raise StandinError(f"Path {source} does not exist.{missing_ufs(ctx.settings, source)}")
            files = [(str(p.relative_to(base)), p.stat().st_size) for p in sorted(base.rglob("*")) if p.is_file()]
            if base.is_file():
                files = [(base.name, base.stat().st_size)]
        else:
            path, _ = _existing(ns, source)
            files = [(posixpath.relpath(f.path, path) if f.path != path else posixpath.basename(path), f.size)
                     for f in ns.files(path)]
        destination = ns.local(normalize_path(target))
        if destination is None:
            raise StandinError(f"Path {target} is not in a mounted under storage")
        for relative, size in files:
            out = destination / relative
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("wb") as fh:
                fh.truncate(size)
        ctx.print(f"Copied {source} to {target}: {len(files)} file(s)")

    return Command(("distributedCp",), distributed_cp)


_FS_COMMANDS: dict[str, FsParser] = {
    "count": _fs_count,
    "distributedCp": _fs_distributed_cp,
    "distributedLoad": _fs_distributed_load,
    "du": _fs_du,
    "free": _fs_free,
    "load": _fs_load,
    "loadMetadata": _fs_load_metadata,
    "ls": _fs_ls,
    "mount": _fs_mount,
    "setReplication": _fs_set_replication,
    "umount": _fs_unmount,
    "unmount": _fs_unmount,
}


# ---------------------------------------------------------------- fsadmin report


def _fsadmin_backup(args: list[str]) -> Command:
    """The master's metadata (its mount table) as a backup file in a folder of the pod: with
    --local the master's own folder, which on the local cluster is a subfolder of its state."""
    usage = "backup [directory] [--local]"
    _, positional = _parse(args, usage, flags={"local"}, valued=set())

    def backup(ctx: Context) -> None:
        folder = ctx.settings.state_dir / "backups" / (positional[0].lstrip("/") if positional else "default")
        folder.mkdir(parents=True, exist_ok=True)
        name = f"alluxio-backup-{time.strftime('%Y-%m-%d-%H%M%S', time.gmtime())}.gz"
        (folder / name).write_text(json.dumps({"mounts": ctx.tool_state["mounts"]}))
        ctx.print(f"Backup Host        : {ctx.settings.master_host}")
        ctx.print(f"Backup URI         : {positional[0] if positional else '/'}/{name}")
        ctx.print(f"Backup Entry Count : {len(ctx.tool_state['mounts'])}")

    return Command(("backup",), backup)


def _resolve_fsadmin(args: list[str]) -> Command:
    args = _strip_generic_properties(args)
    if args and args[0] == "backup":
        return _fsadmin_backup(args[1:])
    if not args or args[0] != "report":
        raise UsageError(f"{args[0] if args else ''} is an unknown command.\n{REPORT_USAGE}".lstrip())
    category = args[1] if len(args) > 1 else "summary"
    reporters: dict[str, Callable[[Context], None]] = {
        "summary": _report_summary,
        "capacity": _report_capacity,
        "metrics": _report_metrics,
        "ufs": _report_ufs,
    }
    if category not in reporters:
        raise UsageError(f"report category is invalid.\n{REPORT_USAGE}")
    return Command(("report", category), reporters[category])


def _tier_lines(indent: str, title: str, size: int, medium: str) -> list[str]:
    return [f"{indent}{title}: {format_size(size)}", f"{indent}    Tier: {medium}  Size: {format_size(size)}"]


def _report_summary(ctx: Context) -> None:
    settings = ctx.settings
    started = ctx.state["started_ms"]
    uptime = int(time.time() * 1000) - started
    used = ctx.used_bytes()
    lines = [
        "Alluxio cluster summary: ",
        f"    Master Address: {settings.master_host}:{RPC_PORT}",
        f"    Web Port: {WEB_PORT}",
        f"    Rpc Port: {RPC_PORT}",
        f"    Started: {format_java_date(started)}",
        f"    Uptime: {format_uptime(uptime)}",
        f"    Version: {VERSION}",
        "    Safe Mode: false",
        "    Zookeeper Enabled: false",
        f"    Live Workers: {settings.workers}",
        "    Lost Workers: 0",
        *_tier_lines("    ", "Total Capacity", settings.capacity, settings.medium),
        *_tier_lines("    ", "Used Capacity", used, settings.medium),
        f"    Free Capacity: {format_size(max(settings.capacity - used, 0))}",
    ]
    for line in lines:
        ctx.print(line)


def _split(total: int, parts: int) -> list[int]:
    share, extra = divmod(total, parts) if parts else (0, 0)
    return [share + (1 if index < extra else 0) for index in range(parts)]


def _report_capacity(ctx: Context) -> None:
    settings = ctx.settings
    used = ctx.used_bytes()
    ctx.print("Capacity information for all workers: ")
    for line in [
        *_tier_lines("    ", "Total Capacity", settings.capacity, settings.medium),
        *_tier_lines("    ", "Used Capacity", used, settings.medium),
    ]:
        ctx.print(line)
    if settings.capacity:
        percent = used * 100 // settings.capacity
        ctx.print(f"    Used Percentage: {percent}%")
        ctx.print(f"    Free Percentage: {100 - percent}%")
    row = "{:<16} {:<16} {:<13} {:<16} {:<13} {:<13} {:<13}"
    ctx.print()
    ctx.print(row.format("Worker Name", "Last Heartbeat", "Storage", "Total", "MEM", "SSD", "HDD").rstrip())
    for index, (capacity, worker_used) in enumerate(
        zip(_split(settings.capacity, settings.workers), _split(used, settings.workers), strict=True)
    ):
        by_tier = [(capacity, worker_used) if m == settings.medium else (0, 0) for m in MEDIUM_COLUMNS]
        share = f" ({worker_used * 100 // capacity}%)" if capacity else ""
        capacity_cells = [format_size(capacity), *(format_size(total) for total, _ in by_tier)]
        used_cells = [format_size(worker_used) + share, *(format_size(part) for _, part in by_tier)]
        ctx.print(row.format(f"worker-{index}", "0", "Capacity", *capacity_cells).rstrip())
        ctx.print(row.format("", "", "Used", *used_cells).rstrip())


BYTES_METRICS = (
    "BytesReadAlluxio",
    "BytesReadDomain",
    "BytesReadLocal",
    "BytesReadRemote",
    "BytesReadUfsAll",
    "BytesWrittenAlluxio",
    "BytesWrittenDomain",
    "BytesWrittenLocal",
    "BytesWrittenUfsAll",
)


def _metric_values(ctx: Context) -> dict[str, float]:
    settings = ctx.settings
    used = ctx.used_bytes()
    values: dict[str, float] = {}
    for name in BYTES_METRICS:
        values[f"Cluster.{name}"] = 0
        throughput = name.replace("UfsAll", "Ufs") + "Throughput"
        values[f"Cluster.{throughput}"] = 0
    for kind, amount in (("Total", settings.capacity), ("Used", used), ("Free", settings.capacity - used)):
        values[f"Cluster.Capacity{kind}"] = amount
        for medium in ("HDD", "MEM", "SSD"):
            values[f"Cluster.Capacity{kind}Tier{medium}"] = amount if medium == settings.medium else 0
    values["Cluster.Workers"] = settings.workers
    ns = _namespace(ctx)
    files = {item.path for loaded in ctx.tool_state["metadata_loaded"] for item in ns.files(loaded)}
    values["Master.FilesCompleted"] = len(files)
    values["Master.TotalPaths"] = len(files)
    values["Master.PathsMounted"] = len(ctx.tool_state["mounts"])
    values.update(ctx.tool_state["metrics"])
    return values


def _metric_line(name: str, value: float) -> str:
    if name.startswith("Cluster.Bytes") and name.endswith("Throughput"):
        return f"{name}  (Type: GAUGE, Value: {format_size(int(value))}/MIN)"
    if name.startswith("Cluster.Bytes"):
        return f"{name}  (Type: COUNTER, Value: {format_size(int(value))})"
    kind = "GAUGE" if name.startswith("Cluster.") or name == "Master.TotalPaths" else "COUNTER"
    return f"{name}  (Type: {kind}, Value: {format_number(value)})"


def _report_metrics(ctx: Context) -> None:
    for name, value in sorted(_metric_values(ctx).items()):
        ctx.print(_metric_line(name, value))


def _report_ufs(ctx: Context) -> None:
    ctx.print("Alluxio under storage system information:")
    _list_mounts(ctx)


if __name__ == "__main__":
    sys.exit(main())
