"""The `jindocache` and `jindo` stand-ins: the JindoCache commands Fluid's jindocache engine execs in masters.

The capacity report uses JindoCache's `Total/Used Disk|MEM Capacity:` lines, which engines read to
fill the runtime's cache status; mounts, loads and format-cache act on the shared stand-in state.
`jindo fs -count jindo:///<mount>` sizes the UFS behind a mount in Hadoop's count columns
(directories, files, bytes, path), as Fluid reads it for the Dataset's ufsTotal.
"""

from __future__ import annotations

import os
import posixpath
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlsplit

from .cache import (
    Command,
    Context,
    Namespace,
    StandinError,
    UsageError,
    format_size,
    is_under,
    missing_ufs,
    normalize_path,
    run_cli,
    ufs_local_path,
)

TOOL = "jindocache"
FS_TOOL = "jindo"
VERSION = "6.2.0"
RPC_PORT = 8101

USAGE = """Usage: jindocache [COMMAND]
  -report
  -mount [<path> <realpath>]
  -unmount <path>
  -load [-meta] [-data] [-s] [-m] [-R] [-replica <value>] <path>
  -uncache <path>
  -formatCache [-force]
  -listCacheSet
  -refreshCacheSet [-path] <localPath>"""

FS_USAGE = """Usage: jindo fs [COMMAND]
  -count [-h] <path> ..."""

Handler = Callable[[Context], None]

LOAD_FLAGS = {"-meta", "-data", "-atomic", "-m", "-dryrun", "-f", "-s", "-R"}
LOAD_VALUED = {"-replica", "-filter", "-thread", "-cachelist"}


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    return run_cli(TOOL, sys.argv[1:] if argv is None else argv, os.environ if env is None else env, resolve)


def fs_main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """The `jindo` CLI: the file-system commands, over the namespace `jindocache` mounted."""
    return run_cli(FS_TOOL, sys.argv[1:] if argv is None else argv, os.environ if env is None else env, resolve_fs)


def resolve_fs(argv: Sequence[str]) -> Command:
    if len(argv) < 2 or argv[0] != "fs" or argv[1] != "-count":
        raise UsageError(f"Unknown or malformed command: {' '.join(argv)}\n{FS_USAGE}")
    rest = list(argv[2:])
    human = "-h" in rest
    targets = [arg for arg in rest if arg != "-h"]
    if not targets or any(arg.startswith("-") for arg in targets):
        raise UsageError(f"-count takes one or more paths and the flag -h\n{FS_USAGE}")
    return Command(("count",), _counter(targets, human))


def _counter(targets: list[str], human: bool) -> Handler:
    def count(ctx: Context) -> None:
        cache = ctx.state["tools"][TOOL]
        ns = Namespace(cache["mounts"], ctx.settings.ufs_root)
        for target in targets:
            path = _namespace_path(cache["mounts"], target)
            entry = ns.stat(path)
            if entry is None:
                raise StandinError(f"count: `{target}': No such file or directory")
            dirs, files, size = (1, 0, 0) if entry.is_dir else (0, 1, entry.size)
            for item in ns.walk(path) if entry.is_dir else ():
                dirs, files, size = (dirs + 1, files, size) if item.is_dir else (dirs, files + 1, size + item.size)
            shown = format_size(size) if human else str(size)
            ctx.print(f"{dirs:>12} {files:>12} {shown:>18} {target}")

    return count


def resolve(argv: Sequence[str]) -> Command:
    if not argv:
        raise UsageError(USAGE)
    command, rest = argv[0], list(argv[1:])
    for name, accepts, handler in _COMMANDS:
        if command == f"-{name}" and accepts(rest):
            return Command((name,), handler(rest))
    raise UsageError(f"Unknown or malformed command: {' '.join(argv)}\n{USAGE}")


def _namespace(ctx: Context) -> Namespace:
    return Namespace(ctx.tool_state["mounts"], ctx.settings.ufs_root)


def _report(ctx: Context) -> None:
    settings = ctx.settings
    used = ctx.used_bytes()
    in_memory = settings.medium == "MEM"
    disk_total, disk_used = (0, 0) if in_memory else (settings.capacity, used)
    mem_total, mem_used = (settings.capacity, used) if in_memory else (0, 0)
    for line in (
        f"Namespace Address: {settings.master_host}:{RPC_PORT}",
        f"Rpc Port: {RPC_PORT}",
        f"Started: {time.ctime(ctx.state['started_ms'] / 1000)}",
        f"Version: {VERSION}",
        f"Live Nodes: {settings.workers}",
        "Decommission Nodes: 0",
        f"Total Disk Capacity: {format_size(disk_total)}",
        f"Used Disk Capacity: {format_size(disk_used)}",
        f"Total MEM Capacity: {format_size(mem_total)}",
        f"Used MEM Capacity: {format_size(mem_used)}",
    ):
        ctx.print(line)


def _list_mounts(ctx: Context) -> None:
    for mount in sorted(ctx.tool_state["mounts"], key=lambda m: m["path"]):
        ctx.print(f"Mount point: {mount['path']}  Real path: {mount['ufs']}")


def _mount_path(raw: str) -> str:
    return normalize_path(raw if raw.startswith("/") else "/" + raw)


def _mounter(raw_path: str, ufs: str) -> Handler:
    def mount(ctx: Context) -> None:
        path = _mount_path(raw_path)
        table = ctx.tool_state["mounts"]
        if any(m["path"] == path for m in table):
            raise StandinError("Mount point already exists", on_stdout=True)
        if not ufs_local_path(ctx.settings.ufs_root, ufs).exists():
            hint = missing_ufs(ctx.settings, ufs)
            raise StandinError(f"Failed to mount {path}: {ufs} No such file or directory{hint}")
        table.append({"path": path, "ufs": ufs, "readonly": False, "shared": False, "options": {}})

    return mount


def _drop_cached(ctx: Context, path: str) -> None:
    cached = ctx.tool_state["cached"]
    for file_path in [p for p in cached if is_under(p, path)]:
        del cached[file_path]


def _unmounter(raw_path: str) -> Handler:
    def unmount(ctx: Context) -> None:
        path = _mount_path(raw_path)
        table = ctx.tool_state["mounts"]
        if not any(m["path"] == path for m in table):
            raise StandinError(f"Failed to unmount {path}: mount point not found")
        table[:] = [m for m in table if m["path"] != path]
        _drop_cached(ctx, path)
        loaded = ctx.tool_state["metadata_loaded"]
        loaded[:] = [p for p in loaded if not is_under(p, path)]

    return unmount


def _format_cache(ctx: Context) -> None:
    ctx.tool_state["cached"] = {}


def _namespace_path(mounts: list[dict[str, str]], target: str) -> str:
    """Accept jindo:///path, a namespace path, or a mounted UFS URI; return the namespace path."""
    parts = urlsplit(target)
    if parts.scheme == "jindo":
        return normalize_path("/" + parts.netloc + parts.path)
    if target.startswith("/"):
        return normalize_path(target)
    for mount in mounts:
        ufs = mount["ufs"].rstrip("/")
        if target.rstrip("/") == ufs or target.startswith(ufs + "/"):
            return normalize_path(posixpath.join(mount["path"], target[len(ufs) :].lstrip("/")))
    raise StandinError(f"{target}: No such file or directory")


def _uncacher(target: str) -> Handler:
    def uncache(ctx: Context) -> None:
        _drop_cached(ctx, _namespace_path(ctx.tool_state["mounts"], target))

    return uncache


def _load_targets(args: list[str]) -> tuple[set[str], list[str]]:
    """The flags and the paths of ``-load`` arguments."""
    flags: set[str] = set()
    targets: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg in LOAD_FLAGS:
            flags.add(arg)
        elif arg in LOAD_VALUED:
            if index >= len(args):
                raise UsageError(f"Missing value for {arg}\n{USAGE}")
            index += 1
        elif arg.startswith("-"):
            raise UsageError(f"Unknown option {arg}\n{USAGE}")
        else:
            targets.append(arg)
    return flags, targets


def _loader(args: list[str]) -> Handler:
    flags, targets = _load_targets(args)
    if len(targets) != 1:
        raise UsageError(f"-load takes one path, not {len(targets)}\n{USAGE}")

    def load(ctx: Context) -> None:
        ns = _namespace(ctx)
        path = _namespace_path(ctx.tool_state["mounts"], targets[0])
        if ns.stat(path) is None:
            raise StandinError(f"{targets[0]}: No such file or directory")
        files = list(ns.files(path))
        if "-meta" in flags and "-dryrun" not in flags and path not in ctx.tool_state["metadata_loaded"]:
            ctx.tool_state["metadata_loaded"].append(path)
        loaded = 0
        if "-data" in flags and "-dryrun" not in flags:
            cached = ctx.tool_state["cached"]
            room = ctx.settings.capacity - ctx.used_bytes()
            for item in files:
                missing = min(item.size - cached.get(item.path, 0), room)
                if missing > 0:
                    cached[item.path] = cached.get(item.path, 0) + missing
                    room -= missing
                    loaded += missing
        ctx.print(f"Load {targets[0]}: {len(files)} files, {format_size(loaded)} cached")

    return load


def _list_cache_sets(ctx: Context) -> None:
    source = ctx.tool_state["cache_sets"]
    if source:
        ctx.print(f"cacheSet: {source}")
        ctx.print("  cacheStrategy: DISTRIBUTED")


def _cache_set_refresher(source: str) -> Handler:
    def refresh(ctx: Context) -> None:
        ctx.tool_state["cache_sets"] = source

    return refresh


# jindocache's sub-commands: name, which arguments it takes, and the handler made from them.
_COMMANDS: tuple[tuple[str, Callable[[list[str]], bool], Callable[[list[str]], Handler]], ...] = (
    ("report", lambda rest: not rest, lambda rest: _report),
    ("mount", lambda rest: not rest, lambda rest: _list_mounts),
    ("mount", lambda rest: len(rest) == 2, lambda rest: _mounter(*rest)),
    ("unmount", lambda rest: len(rest) == 1, lambda rest: _unmounter(rest[0])),
    ("formatCache", lambda rest: rest in ([], ["-force"]), lambda rest: _format_cache),
    ("uncache", lambda rest: len(rest) == 1, lambda rest: _uncacher(rest[0])),
    ("load", lambda rest: True, _loader),
    ("listCacheSet", lambda rest: not rest, lambda rest: _list_cache_sets),
    ("refreshCacheSet", lambda rest: len(rest) == 1 or (len(rest) == 2 and rest[0] == "-path"),
     lambda rest: _cache_set_refresher(rest[-1])),
)


if __name__ == "__main__":
    sys.exit(main())
