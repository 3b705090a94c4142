"""The bench's memory profile: a signalled process writes what its memory is made of and, traced,
what it holds is put on the innermost lines of our code that allocated it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import pytest

from tests.bench import heap

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("frames", [0, 8])
def test_a_signalled_process_writes_its_memory_and_the_bench_reads_it(tmp_path: Path, frames: int) -> None:
    program = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from tests.bench import heap
        heap.install(Path({str(tmp_path)!r}), frames=int(sys.argv[1]))
        if not heap.tracemalloc.is_tracing():  # (importing the index under the trace is slow)
            from lifecycle.k8s.index import ObjectIndex
            pod = {{"kind": "Pod", "metadata": {{"name": "p", "namespace": "ns", "labels": {{"app": "x"}}}}}}
            cache = ObjectIndex({{("ns", f"p{{i}}"): pod for i in range(100)}}, packed=True)
        class Kept:
            def __init__(self): self.data = bytearray(4096)
        held = [Kept() for _ in range(2000)]  # about 8 MiB, on this line
        class Table:
            def __init__(self): self.rows = {{i: [i] for i in range(5000)}}
        table = Table()
        class Texts:  # a dict of only strings and bytes: the collector does not track it
            def __init__(self): self.by_key = {{f"k{{i}}": bytes(1000) for i in range(200)}}
        texts = Texts()
        import threading
        holding = threading.Event()
        def hold():  # a local of a running thread: only its frame leads to it
            kept_here = bytes(300_000)
            holding.set()
            time.sleep(60)
        threading.Thread(target=hold, daemon=True).start()
        holding.wait()
        print("ready", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", program, str(frames)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        found = heap.ask(proc.pid, tmp_path, 0, patience=30)
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert found, "no state was written"
    assert found["rss"] > 2000 * 4096
    assert set(found["malloc"]) == {"in_use", "free", "mmapped", "heap"}
    assert ("__main__.Kept", 2000) in [(name, count) for name, count, _ in found["census"]]
    # the rows' dict and its 5,000 lists are put on the instance holding them, not on the dict
    assert ("__main__.Table", 5001) in [(name, count) for name, count, _ in found["holders"]]
    # the bytearrays are over the pools' 512 bytes: C heap, put on the instances holding them
    kept = {(kind, owner): (count, size) for kind, owner, count, size in found["large"]}
    assert kept["bytearray", "__main__.Kept"][0] == 2000 and kept["bytearray", "__main__.Kept"][1] >= 2000 * 4096
    assert kept["bytes", "__main__.Texts"][0] == 200
    assert kept["bytes", "frame"][1] >= 300_000  # found through the dict the collector does not track
    assert found["large_total"] >= sum(size for _, size in kept.values())
    # the 5,000 lists of one int each are small: the pools, put on the Table too
    small = {(kind, owner): count for kind, owner, count, _ in found["small"]}
    assert small["list", "__main__.Table"] == 5000 and found["small_total"] > 5000 * sys.getsizeof([0])
    if frames:
        where, size = {ours: size for ours, _, size, _ in found["top"]}, 2000 * 4096
        assert where["<string>:11"] >= size  # the bytearrays, made in __init__ on line 11
        assert found["traced"] >= size and found["traced_peak"] >= found["traced"]
        assert found["malloc"]["in_use"] >= found["tracing"] > 0  # the trace itself lives in the C heap
        assert "pymalloc" not in found  # the interpreter prints no pool statistics while traced
    else:
        assert "top" not in found and "traced" not in found
        [(kind, count, text, index)] = found["caches"]
        assert (kind, count) == ("Pod", 100) and text >= 100 * len(b'{"kind":"Pod","metadata":{"name":"p"}}')
        assert 100 * 8 < index < text * 10  # at least a pointer a key, and not the texts counted again
        assert found["pymalloc"]["bytes in arenas"] >= found["pymalloc"]["bytes in allocated blocks"] > 0


def test_an_allocation_is_put_on_our_innermost_lines_not_the_library_that_made_it(tmp_path: Path) -> None:
    library = tmp_path / "site-packages" / "lib.py"
    cache, user = tmp_path / "lifecycle" / "k8s" / "cache.py", tmp_path / "lifecycle" / "reconcile" / "user.py"
    for path, text in ((library, "def make():\n    return [bytearray(1000) for _ in range(100)]\n"),
                       (cache, "import lib\n\ndef keep():\n    return lib.make()\n"),
                       (user, "import cache\n\n\ndef use():\n    return cache.keep()\n")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    sys.path[:0] = [str(library.parent), str(cache.parent), str(user.parent)]
    tracemalloc.start(8)
    try:
        import user as user_module  # type: ignore[import-not-found]

        kept = user_module.use()
        snapshot = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
        sys.path[:3] = []
        for name in ("user", "cache", "lib"):
            sys.modules.pop(name, None)
    rows = {(o, i): (size, blocks) for o, i, size, blocks in heap.top(snapshot, n=50)}
    size, blocks = rows[("lifecycle/k8s/cache.py:4 < lifecycle/reconcile/user.py:5", "lib.py:2")]
    assert blocks >= 100 and size >= 100 * 1000
    assert len(kept) == 100


def test_the_interpreter_allocators_summary_is_read_by_name() -> None:
    text = textwrap.dedent("""\
        # arenas allocated current         =                    3
        3 arenas * 1048576 bytes/arena     =            3,145,728

        # bytes in allocated blocks        =            2,186,928
        # bytes in available blocks        =              302,064
        38 unused pools * 16384 bytes      =              622,592
        # bytes lost to pool headers       =                7,344
        Total                              =            3,145,728
    """)
    assert heap.parse_pymalloc(text) == {
        "arenas allocated current": 3, "bytes in arenas": 3145728, "bytes in allocated blocks": 2186928,
        "bytes in available blocks": 302064, "bytes in unused pools": 622592, "bytes lost to pool headers": 7344}


def test_a_state_prints_as_the_benchs_tables() -> None:
    from rich.console import Console

    from tests.bench.__main__ import _heap_tables

    mib = 2**20
    state = {"rss": 200 * mib, "malloc": {"in_use": 90 * mib, "free": mib, "mmapped": mib, "heap": 92 * mib},
             "pymalloc": {"bytes in arenas": 70 * mib, "bytes in allocated blocks": 60 * mib},
             "census": [("dict", 1000, mib)], "holders": [("module", 10, mib)], "caches": [],
             "small": [("str", "function", 5000, 3 * mib)], "small_total": 40 * mib,
             "large": [("bytes", "lifecycle.k8s.index.ObjectIndex", 3000, 25 * mib)], "large_total": 30 * mib}
    console = Console(record=True, width=400)
    _heap_tables(console, "now", state)
    text = " ".join(console.export_text().split())  # a title wraps to its table's width
    assert "the operator's memory now: RSS 200.0 MiB; the interpreter's pools 70.0 MiB, in use 60.0" in text
    assert "objects of up to 512 bytes now (the pools), by type and first holder that is not a container; " \
           "all of them 40.0 MiB of the 60.0 in use" in text
    assert "objects of over 512 bytes now (the C heap), by type and first holder that is not a container; " \
           "all of them 30.0 MiB of the 90.0 in use" in text
    assert "lifecycle.k8s.index.ObjectIndex" in text and "25.0" in text
