"""Where the operator's time goes during a bench run: py-spy samples the operator process (all its
threads, from outside, so the operator runs unchanged) and the samples are folded into the
functions that hold the most of them, by their own time and with what they call."""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
from pathlib import Path

# Samples per second: enough for a minutes-long run. At 50 a second py-spy took half a core of the
# two while sampling the operator's ~40 threads during a 1,000-pair run, and slowed what it measured.
RATE = 10
# Sampling only the thread holding the interpreter lock is cheaper, and the operator holds it a
# fifth of the time: at 10 a second a 100-pair run gave some 60 samples, too few to rank by.
GIL_RATE = 50


class Profile:
    """``py-spy record`` of one process until ``stop``; ``top`` reads what it wrote. With ``gil``
    only the thread holding the interpreter lock is sampled: where the operator's own CPU goes,
    without the threads that wait on the API server."""

    def __init__(self, pid: int, out: Path, gil: bool = False):
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.out = out
        self.sampled = "the thread holding the interpreter lock" if gil else "all its threads"
        rate = GIL_RATE if gil else RATE
        self.process = subprocess.Popen([spy, "record", "--pid", str(pid), "--format", "raw", "--rate", str(rate),
                                         "--nonblocking", "--output", str(out), *(["--gil"] if gil else [])],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self) -> None:
        """py-spy writes its file when interrupted, as on Ctrl-C."""
        if self.process.poll() is None:
            self.process.send_signal(2)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def top(self, n: int = 15, by_own: bool = False) -> list[tuple[str, float, float]]:
        """(function, % of samples in it, % of samples in it or below it), by the third figure or,
        ``by_own``, by the second."""
        if not self.out.exists():
            return []
        return fold(self.out.read_text(errors="replace").splitlines(), n, by_own)


def fold(lines: list[str], n: int, by_own: bool = False) -> list[tuple[str, float, float]]:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_name(f) for f in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return []
    # The threads' roots (thread start-up, the worker loop) hold nearly every sample and say nothing.
    if by_own:
        return [(f, 100 * own[f] / total, 100 * inclusive[f] / total)
                for f in sorted(own, key=lambda f: (-own[f], f))[:n]]
    ranked = sorted(inclusive, key=lambda f: (-inclusive[f], -own[f], f))  # a tie: the one doing the work first
    interesting = [f for f in ranked if inclusive[f] < 0.97 * total and not f.startswith("<module>")]
    return [(f, 100 * own[f] / total, 100 * inclusive[f] / total) for f in interesting[:n]]


def _name(frame: str) -> str:
    """``function (path/to/module.py:line)`` without the line: samples of one function add up."""
    function, _, where = frame.partition(" (")
    return f"{function} ({where.rsplit(':', 1)[0]})" if where else function
