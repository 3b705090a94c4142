"""Freed C-heap memory goes back to the system: the RSS falls when the operator trims."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from lifecycle.operator import trim

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(trim.malloc_trim() is None, reason="the C library has no malloc_trim")
def test_a_trim_gives_freed_heap_memory_back() -> None:
    # in a fresh process: 30 MB of blocks freed below one still in use stay with the process
    # (free() gives back only the heap's top), until a trim
    program = textwrap.dedent("""
        from pathlib import Path
        from lifecycle.operator import trim
        def rss():
            line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS:"))
            return int(line.split()[1])
        blocks = [bytearray(b"x" * 60_000) for _ in range(500)]
        pin = bytearray(b"x" * 60_000)
        del blocks
        before = rss()
        trim.malloc_trim()()
        print(before, rss())
    """)
    out = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, check=True)
    before, after = map(int, out.stdout.split())
    assert before - after > 20_000, (before, after)  # KiB: most of the 30 MB went back


def test_the_loop_trims_every_interval_until_stopped() -> None:
    stop, calls = threading.Event(), []

    def fake() -> bool:
        calls.append(1)
        if len(calls) == 3:
            stop.set()
        return True

    assert trim.trim_loop(stop, 0.01, fake) == 3


def test_an_interval_of_zero_starts_no_trimming() -> None:
    assert trim.start(threading.Event(), 0) is None
