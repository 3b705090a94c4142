"""What the operator's memory is made of during a bench run (``PROFILE=memory``): the operator
runs as ``python -m tests.bench.heap <operator args>`` and, on SIGUSR2, writes its state into a
directory; the bench asks at its start, at all Bound and after the idle window, and prints it.

RSS is more than the Python objects: the C allocator's free memory it has not given back, the
interpreter's free pools and what C libraries (OpenSSL) hold. The state splits it that way, so a
high RSS is not blamed on objects that are not there, counts the objects the collector tracks
by type, and measures the informers' caches (their objects' text and the index around it). With
``BENCH_HEAP_FRAMES=<n>`` the operator also runs under ``tracemalloc`` with that many frames and
the bench prints the lines of our code holding the most; that slows the operator some twentyfold,
so it is for small runs. (The interpreter's pool statistics, ``sys._debugmallocstats``,
print nothing while tracemalloc wraps the allocator, so a traced run has none.)"""

from __future__ import annotations

import collections
import ctypes
import gc
import json
import os
import re
import signal
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from types import FrameType
from typing import Any

SIGNAL = signal.SIGUSR2
OURS = ("/lifecycle/", "/engines/")
CONTEXT = 3  # of our frames shown per allocation: the line that allocated and who kept what it made


def install(out: Path, frames: int = 0) -> None:
    """Each SIGUSR2 from now on writes ``heap-<n>.json`` (and, tracing ``frames`` deep, ``.snapshot``)."""
    if frames:
        tracemalloc.start(frames)
    taken = [0]

    def dump(signum: int, frame: Any) -> None:
        n, taken[0] = taken[0], taken[0] + 1
        state: dict[str, Any] = {"rss": _rss(), "malloc": malloc_state(), "census": census(), "caches": caches()}
        walked = walk()  # once, for both tables below
        state["holders"] = holders(walked=walked)
        state.update(placed(walked=walked))
        if tracemalloc.is_tracing():
            state["traced"], state["traced_peak"] = tracemalloc.get_traced_memory()
            state["tracing"] = tracemalloc.get_tracemalloc_memory()
            tracemalloc.take_snapshot().dump(str(out / f"heap-{n}.snapshot"))
            tracemalloc.reset_peak()  # the peak of the next one is not this dump's
        else:
            state["pymalloc"] = pymalloc_state()
        (out / f"heap-{n}.part").write_text(json.dumps(state))
        os.replace(out / f"heap-{n}.part", out / f"heap-{n}.json")  # last: the bench waits for it

    signal.signal(SIGNAL, dump)


def ask(pid: int, out: Path, n: int, patience: float = 600) -> dict[str, Any]:
    """Signal the operator for its ``n``-th state and read it, with the top lines of a traced one."""
    os.kill(pid, SIGNAL)
    path = out / f"heap-{n}.json"
    deadline = time.monotonic() + patience
    while not path.exists():
        if time.monotonic() > deadline:
            return {}
        time.sleep(0.5)
    state: dict[str, Any] = json.loads(path.read_text())
    snapshot = out / f"heap-{n}.snapshot"
    if snapshot.exists():
        state["top"] = top(tracemalloc.Snapshot.load(str(snapshot)))
    return state


def census(n: int = 15) -> list[tuple[str, int, int]]:
    """(type, objects, their own bytes) of what the collector tracks, most objects first: containers
    only (a dict of strings alone is not tracked), but enough to see what a pair leaves behind."""
    counts: collections.Counter[str] = collections.Counter()
    sizes: collections.Counter[str] = collections.Counter()
    for obj in gc.get_objects():
        name = _type_name(type(obj))
        counts[name] += 1
        sizes[name] += sys.getsizeof(obj)
    return [(name, count, sizes[name]) for name, count in counts.most_common(n)]


Walk = tuple[dict[int, Any], list[Any]]  # each object's first referrer by id, and every object reached


def holders(n: int = 12, walked: Walk | None = None) -> list[tuple[str, int, int]]:
    """(what holds them, containers, their own bytes) of the dicts, lists and sets the collector
    tracks, most bytes first. A container held by another is put on the first holder up the chain
    that is not one (an instance, a module, a function's cell, a frame), so the census names the
    structure that keeps what a pair leaves behind, not the dict inside it."""
    holder, reachable = walked or walk()
    counts: collections.Counter[str] = collections.Counter()
    sizes: collections.Counter[str] = collections.Counter()
    for obj in reachable:
        if type(obj) not in (dict, list, set) or not gc.is_tracked(obj):
            continue
        name = _owner(holder, obj)
        counts[name] += 1
        sizes[name] += sys.getsizeof(obj)
    return [(name, counts[name], size) for name, size in sizes.most_common(n)]


SMALL = 512  # the interpreter's pools serve objects up to this size; larger ones come from the C heap


def placed(n: int = 15, walked: Walk | None = None) -> dict[str, Any]:
    """Every object reachable from what the collector tracks, by type and first holder that is not a
    container (as ``holders`` puts them), split where the interpreter does: up to ``SMALL`` bytes
    (``small``: its pools) and over (``large``: the C heap; long strings and bytes, the tables of
    big dicts and lists). Each is (type, held by, objects, bytes) rows, most bytes first, with the
    bytes of all (``small_total``, ``large_total``). What the C heap holds beyond ``large_total`` is
    C libraries' own (OpenSSL, libyaml) or the interpreter's."""
    holder, reachable = walked or walk()
    counts: dict[str, collections.Counter[tuple[str, str]]] = {"small": collections.Counter(),
                                                               "large": collections.Counter()}
    sizes: dict[str, collections.Counter[tuple[str, str]]] = {"small": collections.Counter(),
                                                              "large": collections.Counter()}
    for obj in reachable:
        size = sys.getsizeof(obj)
        where = "large" if size > SMALL else "small"
        key = (_type_name(type(obj)), _owner(holder, obj))
        counts[where][key] += 1
        sizes[where][key] += size
    found: dict[str, Any] = {}
    for where in ("small", "large"):
        found[where] = [(kind, owner, counts[where][kind, owner], size)
                        for (kind, owner), size in sizes[where].most_common(n)]
        found[f"{where}_total"] = sum(sizes[where].values())
    return found


def _frames() -> list[Any]:
    """The frames every thread is running, callers included: what a running function holds in its
    locals is reachable from nothing the collector tracks until its frame is asked for."""
    found = []
    for top in sys._current_frames().values():
        frame: FrameType | None = top
        while frame is not None:
            found.append(frame)
            frame = frame.f_back
    return found


def walk() -> Walk:
    """Each object's first referrer, by id, and every object reachable from what the collector
    tracks and from the threads' running frames, each once. The walk goes on through objects it
    does not track: a dict of only strings and bytes (an informer cache's texts by key) is
    untracked, so its values are found only through it."""
    holder: dict[int, Any] = {}
    reachable = list({id(obj): obj for obj in gc.get_objects() + _frames()}.values())
    seen = {id(obj) for obj in reachable}
    for parent in reachable:  # grows as the walk finds objects
        for child in _referents(parent):
            if id(child) not in seen:
                seen.add(id(child))
                holder[id(child)] = parent
                if not gc.is_tracked(child):
                    reachable.append(child)
            else:
                holder.setdefault(id(child), parent)
    return holder, reachable


def _referents(obj: Any) -> list[Any]:
    """What ``obj`` refers to; for a frame, its locals too (the collector's view of a frame another
    thread is running is empty)."""
    found = gc.get_referents(obj)
    return [*found, *obj.f_locals.values()] if isinstance(obj, FrameType) else found


def _owner(holder: dict[int, Any], obj: Any) -> str:
    """The type of the first holder up ``obj``'s chain that is not a container."""
    up, steps = holder.get(id(obj)), 0
    while up is not None and type(up) in (dict, list, set, tuple) and steps < 32:
        up, steps = holder.get(id(up)), steps + 1
    return "nothing tracked" if up is None else _type_name(type(up))


def _type_name(kind: type) -> str:
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def caches() -> list[tuple[str, int, int, int]]:
    """(kind, objects, bytes of their text, bytes of the index around them) of each packed object
    index (the informers' caches, ``lifecycle.k8s.index``), most text first: the texts are bytes
    objects of the C heap, the index (keys, label sets, versions) lives in the interpreter's pools."""
    module = sys.modules.get("lifecycle.k8s.index")
    if module is None:
        return []
    found = []
    for obj in gc.get_objects():
        if isinstance(obj, module.ObjectIndex) and obj.packed and len(obj):
            texts = list(obj._objects.values())
            kind = str(json.loads(texts[0]).get("kind", "?"))
            found.append((kind, len(texts), sum(sys.getsizeof(t) for t in texts), _index_bytes(obj, texts)))
    return sorted(found, key=lambda row: -row[2])


def _index_bytes(index: Any, texts: list[bytes]) -> int:
    """The bytes of an index's tables and what only they hold (keys, label pairs, versions), each
    object counted once, the texts not at all."""
    seen = {id(t) for t in texts}
    total, pending = 0, [index._objects, index._namespaces, index._by_label, index._versions]
    while pending:
        obj = pending.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            pending.extend(obj.keys())
            pending.extend(obj.values())
        elif isinstance(obj, (set, frozenset, tuple, list)):
            pending.extend(obj)
    return total


def top(snapshot: tracemalloc.Snapshot, n: int = 20) -> list[tuple[str, str, int, int]]:
    """(our lines, the line that allocated, bytes, blocks), most bytes first. Each allocation is put
    on the innermost frames of our code that led to it (the cache that decoded a list and who asked
    it, not orjson), or on its own frame when none of ours is on the stack (imports, the client)."""
    held: dict[tuple[str, str], list[int]] = {}
    for trace in snapshot.traces:
        frames = list(trace.traceback)  # oldest first
        if not frames:
            continue
        innermost = frames[-1]
        ours = [f for f in reversed(frames) if any(part in f.filename for part in OURS)][:CONTEXT] or [innermost]
        key = (" < ".join(_where(f) for f in ours), _where(innermost))
        sums = held.setdefault(key, [0, 0])
        sums[0] += trace.size
        sums[1] += 1
    ranked = sorted(held.items(), key=lambda item: -item[1][0])[:n]
    return [(ours, innermost, size, blocks) for (ours, innermost), (size, blocks) in ranked]


def _where(frame: tracemalloc.Frame) -> str:
    """``package/module.py:line`` from the repository or site-packages, or the file's name."""
    path = frame.filename
    for anchor in ("/site-packages/", *OURS, "/tests/"):
        if anchor in path:
            rest = path.rsplit(anchor, 1)[1]
            path = rest if anchor == "/site-packages/" else anchor.strip("/") + "/" + rest
            break
    else:
        path = path.rsplit("/", 1)[-1]
    return f"{path}:{frame.lineno}"


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def malloc_state() -> dict[str, int]:
    """glibc's heap, all arenas: bytes in use, free but kept, and in mmapped blocks ({} elsewhere)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
    except (OSError, AttributeError):
        return {}
    info = libc.mallinfo2()
    return {"in_use": info.uordblks, "free": info.fordblks, "mmapped": info.hblkhd, "heap": info.arena}


def pymalloc_state() -> dict[str, int]:
    """The interpreter's small-object allocator: ``sys._debugmallocstats`` writes it to fd 2, so
    fd 2 is pointed at a file while it does."""
    with tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        return parse_pymalloc(captured.read().decode(errors="replace"))


def parse_pymalloc(text: str) -> dict[str, int]:
    """The byte counts of ``sys._debugmallocstats``' summary, keyed as it names them."""
    found = {}
    for line in text.splitlines():
        if m := re.match(r"^# (bytes in [a-z ]+blocks|bytes lost to [a-z ]+|arenas allocated current)\s*=\s*([\d,]+)",
                         line):
            found[m.group(1).strip()] = int(m.group(2).replace(",", ""))
        elif m := re.match(r"^\d+ (unused pools|arenas) \*.*=\s*([\d,]+)$", line):
            found[f"bytes in {m.group(1)}"] = int(m.group(2).replace(",", ""))
    return found


def _rss() -> int:
    """``tests.bench.watchers.rss_mib`` of this process, in bytes: that module imports the API
    client, which the unit tests of this one would otherwise load for nothing."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> int:
    install(Path(os.environ["BENCH_HEAP_DIR"]), int(os.environ.get("BENCH_HEAP_FRAMES") or 0))
    from lifecycle.cli.main import main as operator

    return operator(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
