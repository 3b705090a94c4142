"""State, namespace and output formats shared by the cache CLI stand-ins, plus helpers for tests.

Every CLI invocation is a separate process (kwok runs each pod exec locally), so whatever a later
invocation or a test must see lives in one JSON file per state directory. The file is rewritten
atomically (temp file + rename) while an exclusive flock is held, so concurrent execs neither lose
updates nor leave a torn file. Tests use the helpers at the end of this module to seed metrics and
to assert which argument vectors the CLIs received.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import io
import json
import os
import posixpath
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TextIO
from urllib.parse import urlsplit

STATE_FILE = "standin-state.json"
LOCK_FILE = ".standin-state.lock"
TOOLS = ("alluxio", "jindocache", "jindo")
INVOCATION_LOG_LIMIT = 2000
GIB = 1024**3
MEDIUMS = ("MEM", "SSD", "HDD")
DEFAULT_ROOT_UFS = "/underFSStorage"
DEFAULT_CLUSTER = "dev"  # the cluster `fluidlc cluster` commands mean without --name

State = dict[str, Any]


class StandinError(Exception):
    """A failed command: the message goes to stderr (or stdout, where the real tool puts it); exit 1."""

    def __init__(self, message: str, *, on_stdout: bool = False) -> None:
        super().__init__(message)
        self.on_stdout = on_stdout


class UsageError(StandinError):
    """Arguments the real tool would reject before doing anything."""


# The classes here are NamedTuples and plain classes, not dataclasses: every exec into a simulated
# pod starts this program, and importing and applying ``dataclasses`` was a quarter of its start-up.


class Settings(NamedTuple):
    """What the environment of one invocation says about the simulated cluster."""

    state_dir: Path
    ufs_root: Path
    workers: int
    capacity: int
    medium: str
    failing: frozenset[str]
    master_host: str
    root_ufs: str
    pod_root: Path | None  # where the pod's files are: its Secret volumes, as a kubelet would project them
    cluster: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        state_dir = Path(env.get("STANDIN_STATE_DIR") or os.getcwd())
        ufs_root = Path(env.get("STANDIN_UFS_ROOT") or state_dir / "ufs")
        workers = _positive_int(env, "STANDIN_WORKERS", 1)
        capacity = _positive_int(env, "STANDIN_CACHE_CAPACITY", 2 * GIB * workers)
        medium = (env.get("STANDIN_CACHE_MEDIUM") or "MEM").upper()
        if medium not in MEDIUMS:
            raise StandinError(f"STANDIN_CACHE_MEDIUM must be one of {', '.join(MEDIUMS)}, not {medium}")
        failing = frozenset(name.strip() for name in env.get("STANDIN_FAIL", "").split(",") if name.strip())
        master_host = env.get("STANDIN_MASTER_HOST") or "localhost"
        root_ufs = env.get("STANDIN_ROOT_UFS") or DEFAULT_ROOT_UFS
        pod_root = Path(env["STANDIN_POD_ROOT"]) if env.get("STANDIN_POD_ROOT") else None
        cluster = env.get("STANDIN_CLUSTER") or ""
        return cls(state_dir, ufs_root, workers, capacity, medium, failing, master_host, root_ufs, pod_root,
                   cluster)


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise StandinError(f"{name} must be an integer, not {raw!r}") from None
    if value < 0:
        raise StandinError(f"{name} must not be negative, not {raw!r}")
    return value


def _now_ms() -> int:
    return int(time.time() * 1000)


def _empty_tool_state() -> dict[str, Any]:
    return {"mounts": [], "cached": {}, "metadata_loaded": [], "metrics": {}, "cache_sets": None}


def empty_state() -> State:
    return {
        "started_ms": _now_ms(),
        "tools": {tool: _empty_tool_state() for tool in TOOLS},
        "invocations": [],
        "counters": {},
    }


def _read(state_dir: Path) -> State:
    path = state_dir / STATE_FILE
    if not path.exists():
        return empty_state()
    with path.open(encoding="utf-8") as fh:
        state: State = json.load(fh)
    for tool in TOOLS:
        tool_state = state.setdefault("tools", {}).setdefault(tool, _empty_tool_state())
        for key, value in _empty_tool_state().items():
            tool_state.setdefault(key, value)
    return state


def _write(state_dir: Path, state: State) -> None:
    """Replace the state file in one rename, so a reader never sees half of it. No fsync: this is a
    simulated cache on a throwaway cluster (etcd runs with --unsafe-no-fsync too), and a sync per
    exec was a tenth of the unit tests' time."""
    tmp = state_dir / f".standin-state.{os.getpid()}.tmp"  # the caller holds the state lock
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state, fh, indent=1)
        os.replace(tmp, state_dir / STATE_FILE)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def locked_state(state_dir: Path | str) -> Iterator[State]:
    """Yield the state with the lock held; it is written back only if the block completes."""
    directory = Path(state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / LOCK_FILE).open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        state = _read(directory)
        yield state
        _write(directory, state)


# ---------------------------------------------------------------- the under file system and namespace


def ufs_local_path(ufs_root: Path, uri: str) -> Path:
    """Map `scheme://authority/path` to `<ufs_root>/scheme/authority/path`; a bare path is `local`."""
    parts = urlsplit(uri)
    if parts.scheme and "://" in uri:
        segments = [parts.scheme, parts.netloc, *parts.path.split("/")]
    else:
        segments = ["local", *uri.split("/")]
    segments = [segment for segment in segments if segment not in ("", ".")]
    if ".." in segments:
        raise StandinError(f"Ufs path {uri} is invalid")
    return ufs_root.joinpath(*segments)


def missing_ufs(settings: Settings, uri: str) -> str:
    """Appended to the tool's error for a mount of a UFS path that is not there: the folder the local
    cluster serves it from, and the command that fills it (the error reaches the runtime's events)."""
    command = f"fluidlc cluster ufs add {uri}"
    if settings.cluster and settings.cluster != DEFAULT_CLUSTER:
        command += f" --name {settings.cluster}"
    local = ufs_local_path(settings.ufs_root, uri)
    return f"; on the local cluster that is the folder {local}: create it with `{command}`"


def normalize_path(path: str) -> str:
    """Clean a namespace path the way AlluxioURI does; only absolute paths are accepted."""
    if not path.startswith("/"):
        raise StandinError(f"Path {path} is invalid: it must be absolute")
    clean = posixpath.normpath(path)
    return "/" + clean.lstrip("/")


def is_under(path: str, parent: str) -> bool:
    return parent == "/" or path == parent or path.startswith(parent + "/")


class Entry(NamedTuple):
    path: str
    is_dir: bool
    size: int
    mtime_ms: int


class Namespace:
    """The cache's file tree: mount points over local UFS directories, plus an optional root UFS."""

    def __init__(self, mounts: list[dict[str, Any]], ufs_root: Path, root_ufs: str | None = None) -> None:
        self.mounts, self.ufs_root, self.root_ufs = mounts, ufs_root, root_ufs
        self._mount_paths = sorted((m["path"] for m in self.mounts), key=len, reverse=True)

    def mount_of(self, path: str) -> tuple[str, str] | None:
        """The (mount path, UFS URI) that serves `path`, the deepest mount winning."""
        for mount_path in self._mount_paths:
            if is_under(path, mount_path):
                return mount_path, next(m["ufs"] for m in self.mounts if m["path"] == mount_path)
        if self.root_ufs is not None:
            return "/", self.root_ufs
        return None

    def local(self, path: str) -> Path | None:
        served = self.mount_of(path)
        if served is None:
            return None
        mount_path, ufs = served
        relative = path[len(mount_path) :].lstrip("/") if mount_path != "/" else path.lstrip("/")
        base = ufs_local_path(self.ufs_root, ufs)
        return base / relative if relative else base

    def _implied_dirs(self, path: str) -> set[str]:
        """Names of children of `path` that exist only because a mount point lies below them."""
        prefix = path.rstrip("/") + "/"
        names = set()
        for mount_path in self._mount_paths:
            if mount_path != path and mount_path.startswith(prefix):
                names.add(mount_path[len(prefix) :].split("/", 1)[0])
        return names

    def stat(self, path: str) -> Entry | None:
        local = self.local(path)
        if local is not None:
            try:
                info = local.stat()
            except OSError:
                info = None
            if info is not None:
                is_dir = local.is_dir()
                return Entry(path, is_dir, 0 if is_dir else info.st_size, int(info.st_mtime * 1000))
        if path == "/" or path in self._mount_paths or self._implied_dirs(path):
            return Entry(path, True, 0, 0)
        return None

    def children(self, path: str) -> list[Entry]:
        found: dict[str, Entry] = {}
        local = self.local(path)
        if local is not None and local.is_dir():
            with os.scandir(local) as listing:
                for item in listing:
                    child = posixpath.join(path, item.name)
                    try:
                        if item.is_dir(follow_symlinks=False):
                            found[item.name] = Entry(child, True, 0, int(item.stat().st_mtime * 1000))
                        elif item.is_file():
                            info = item.stat()
                            found[item.name] = Entry(child, False, info.st_size, int(info.st_mtime * 1000))
                    except OSError:
                        continue
        for name in self._implied_dirs(path):
            child = posixpath.join(path, name)
            entry = self.stat(child)
            found[name] = entry if entry is not None and entry.is_dir else Entry(child, True, 0, 0)
        return [found[name] for name in sorted(found)]

    def walk(self, path: str) -> Iterator[Entry]:
        """Every descendant of `path` (not `path` itself), depth first in name order."""
        pending = [path]
        while pending:
            current = pending.pop()
            below = self.children(current)
            yield from below
            pending.extend(entry.path for entry in reversed(below) if entry.is_dir)

    def files(self, path: str) -> Iterator[Entry]:
        """The files at or below `path`."""
        entry = self.stat(path)
        if entry is None:
            return
        if not entry.is_dir:
            yield entry
            return
        yield from (item for item in self.walk(path) if not item.is_dir)


# ---------------------------------------------------------------- formats


def format_size(size: int) -> str:
    """Human-readable bytes as Alluxio prints them: 1024-based, switching unit above 5 of the next."""
    value = float(size)
    if value <= 5 * 1024:
        return f"{size}B"
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value <= 5 * 1024:
            return f"{value:.2f}{unit}"
    return f"{value / 1024:.2f}PB"


def format_number(value: float) -> str:
    """Grouped digits with at most five decimals, like Java's DecimalFormat("###,###.#####")."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.5f}".rstrip("0").rstrip(".")


def format_java_date(epoch_ms: int) -> str:
    """Alluxio's CommonUtils.convertMsToDate: MM-dd-yyyy HH:mm:ss:SSS in local time."""
    return time.strftime("%m-%d-%Y %H:%M:%S", time.localtime(epoch_ms / 1000)) + f":{epoch_ms % 1000:03d}"


def format_uptime(millis: int) -> str:
    seconds = max(millis, 0) // 1000
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{days} day(s), {hours} hour(s), {minutes} minute(s), and {seconds} second(s)"


# ---------------------------------------------------------------- running one invocation


class Context:
    """What a command handler works with: settings, the whole state, its tool's part, and stdout."""

    def __init__(self, tool: str, settings: Settings, state: State, out: TextIO) -> None:
        self.tool, self.settings, self.state, self.out = tool, settings, state, out

    @property
    def tool_state(self) -> dict[str, Any]:
        result: dict[str, Any] = self.state["tools"][self.tool]
        return result

    def used_bytes(self) -> int:
        return sum(self.tool_state["cached"].values())

    def print(self, line: str = "") -> None:
        self.out.write(line + "\n")


SECRETS_DIR = "/etc/fluid/secrets"


def read_pod_file(settings: Settings, path: str) -> str:
    """A file of the pod (a mounted Secret's key, say), or the error a missing one gives."""
    local = settings.pod_root / path.lstrip("/") if settings.pod_root is not None else None
    if local is None or not local.is_file():
        raise StandinError(f"{path}: No such file or directory")
    return local.read_text()


def read_properties(text: str) -> dict[str, str]:
    """A Java properties file as ``Properties.load`` reads it (the forms a writer that escapes uses)."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.lstrip()
        if not line or line[0] in "#!":
            continue
        key, i = _read_part(line, 0, stop_at_separator=True)
        while i < len(line) and line[i] in " \t":  # whitespace before the value is not the value
            i += 1
        value, _ = _read_part(line, i, stop_at_separator=False)
        out[key.strip()] = value
    return out


def _read_part(line: str, i: int, stop_at_separator: bool) -> tuple[str, int]:
    """Characters from ``i`` with escapes resolved, up to a separator (then past it) or the end."""
    part: list[str] = []
    while i < len(line):
        char = line[i]
        if char == "\\" and i + 1 < len(line):
            part.append(_unescape(line, i + 1))
            i += 6 if line[i + 1] == "u" else 2
            continue
        if stop_at_separator and char in "=:":
            return "".join(part), i + 1
        part.append(char)
        i += 1
    return "".join(part), i


def _unescape(line: str, i: int) -> str:
    char = line[i]
    if char == "u":
        return chr(int(line[i + 1:i + 5], 16))
    return {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}.get(char, char)


def fingerprint(value: str) -> str:
    """What the state keeps of a secret the tool read: enough for a test to tell two apart, not the value."""
    import hashlib  # here, not at the top: only a mount with a secret needs it, every exec would pay it

    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:16]


class Command(NamedTuple):
    """A parsed invocation: the names STANDIN_FAIL may target and the handler to run."""

    names: tuple[str, ...]
    handler: Callable[[Context], None]


def _record(state: State, tool: str, argv: Sequence[str], name: str, status: int) -> None:
    log = state.setdefault("invocations", [])
    log.append({"tool": tool, "argv": list(argv), "command": name, "exit": status, "at_ms": _now_ms()})
    del log[:-INVOCATION_LOG_LIMIT]
    counters = state.setdefault("counters", {})
    key = f"{tool} {name}"
    counters[key] = counters.get(key, 0) + 1


def run_cli(
    tool: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    resolve: Callable[[Sequence[str]], Command],
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Parse, inject faults, run under the state lock, log the invocation; return the exit status."""
    out_stream = stdout if stdout is not None else sys.stdout
    err_stream = stderr if stderr is not None else sys.stderr
    try:
        settings = Settings.from_env(env)
    except StandinError as error:
        err_stream.write(f"{error}\n")
        return 1
    buffer = io.StringIO()
    status = 0
    message = ""
    with locked_state(settings.state_dir) as state:
        try:
            command = resolve(argv)
        except UsageError as error:
            _record(state, tool, argv, argv[0].lstrip("-") if argv else "(none)", 1)
            err_stream.write(f"{error}\n")
            return 1
        name = command.names[0]
        targeted = [n for n in command.names if n in settings.failing or f"{tool}:{n}" in settings.failing]
        if targeted:
            status = 1
            message = f"Injected failure of '{targeted[0]}' (STANDIN_FAIL)"
        else:
            saved = copy.deepcopy(state["tools"][tool])
            try:
                command.handler(Context(tool, settings, state, buffer))
            except StandinError as error:
                state["tools"][tool] = saved
                status = 1
                if error.on_stdout:
                    buffer.write(f"{error}\n")
                else:
                    message = str(error)
        _record(state, tool, argv, name, status)
    out_stream.write(buffer.getvalue())
    out_stream.flush()
    if message:
        err_stream.write(message.rstrip("\n") + "\n")
    return status


# ---------------------------------------------------------------- helpers for tests


def read_state(state_dir: Path | str) -> State:
    """A snapshot of the whole state (an empty one before the first invocation)."""
    with locked_state(state_dir) as state:
        return copy.deepcopy(state)


def mounts(state_dir: Path | str, tool: str = "alluxio") -> list[dict[str, Any]]:
    """The mount table a tool holds: dicts with path, ufs, readonly, shared and options."""
    result: list[dict[str, Any]] = read_state(state_dir)["tools"][tool]["mounts"]
    return result


def cached_bytes(state_dir: Path | str, tool: str = "alluxio") -> int:
    return sum(read_state(state_dir)["tools"][tool]["cached"].values())


def set_cached(state_dir: Path | str, files: Mapping[str, int], tool: str = "alluxio") -> None:
    """Replace what the cache holds: namespace file path -> cached bytes."""
    with locked_state(state_dir) as state:
        state["tools"][tool]["cached"] = {normalize_path(path): int(size) for path, size in files.items()}


def metric_name(name: str) -> str:
    """Short names such as BytesReadLocal mean the cluster metric Cluster.BytesReadLocal."""
    return name if "." in name else f"Cluster.{name}"


def set_metrics(state_dir: Path | str, values: Mapping[str, float] | None = None, **named: float) -> None:
    """Set Alluxio metrics reported by `fsadmin report metrics` (bytes, or bytes/minute for *Throughput)."""
    updates = {**(values or {}), **named}
    with locked_state(state_dir) as state:
        stored = state["tools"]["alluxio"]["metrics"]
        for name, value in updates.items():
            stored[metric_name(name)] = value


def metrics(state_dir: Path | str) -> dict[str, float]:
    result: dict[str, float] = read_state(state_dir)["tools"]["alluxio"]["metrics"]
    return result


def invocations(state_dir: Path | str, tool: str | None = None) -> list[dict[str, Any]]:
    """Logged invocations, oldest first: dicts with tool, argv, command, exit and at_ms."""
    log: list[dict[str, Any]] = read_state(state_dir)["invocations"]
    return [entry for entry in log if tool is None or entry["tool"] == tool]


def counters(state_dir: Path | str) -> dict[str, int]:
    """Invocation counts keyed "<tool> <command>", e.g. "alluxio mount"."""
    result: dict[str, int] = read_state(state_dir)["counters"]
    return result


def reset(state_dir: Path | str) -> None:
    with locked_state(state_dir) as state:
        state.clear()
        state.update(empty_state())
