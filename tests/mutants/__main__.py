"""``make mutants``: mutation testing of the lifecycle tables against the behavioural tests.

1. A baseline run of tests/unit and tests/property (not the cluster or deep tests, and not the
   drift checks of generated files, which "catch" any change to a drawn row without saying
   anything about behaviour) must pass; it records which tests run a lifecycle machine at all
   and how long each takes. Only those tests, plus the static checks of tests/unit/test_tables.py,
   can tell a mutant from the real tables, so only they run against the mutants.
2. Those tests are collected once, in one pytest session; every mutant of
   ``lifecycle.testing.mutants`` runs in a process forked from it, with the mutant's tables swapped
   in, running only the tests that reach a state where the mutant differs until the first one
   fails and kills it. Tests that killed earlier mutants run first.
3. The score (killed / total, by operator and by the killing test file) and the survivors are
   printed; a survivor declared equivalent in the harness is listed with its reason and does not
   count against the score.

``python -m tests.mutants [--jobs N] [--only SUBSTRING] [--timeout S]``; exits 1 below the target.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import pytest
from hypothesis import configuration

from lifecycle.machine.table import MachineTable
from lifecycle.testing import mutants
from lifecycle.testing.mutants import Mutant

ROOT = Path(__file__).resolve().parents[2]
SUITES = ("tests/unit", "tests/property")
# Drift checks: they compare generated files with the tables, so any drawn change fails them.
DRIFT = ("tests/unit/test_diagrams.py::test_committed_diagrams_are_current",
         "tests/unit/test_cli.py::test_one_command_checks_every_generated_file",
         "tests/unit/test_crds.py::test_committed_crds_match_the_models")
STATIC = "tests/unit/test_tables.py"
EVERYWHERE = frozenset({("*", "*")})
TARGET = 0.95
HUNG = "(no result in time)"
# Plain asserts: the test modules are imported before pytest starts (once, for every fork).
PYTEST_ARGS = ["-q", "--assert=plain", "-p", "no:cacheprovider", "-m", "not cluster and not deep",
               "--hypothesis-seed=0", "-W", "error", *(f"--deselect={d}" for d in DRIFT)]


class Trace:
    """Baseline plugin: in which (machine, state) each test tried triggers, how long each took,
    what failed."""

    def __init__(self) -> None:
        self.touching: dict[str, set[tuple[str, str]]] = collections.defaultdict(set)
        self.durations: dict[str, float] = {}
        self.failed: list[str] = []
        self._current = ""
        real = MachineTable.triggers_from

        def traced(table: MachineTable[Any, Any], state: Any) -> tuple[str, ...]:
            if self._current:
                self.touching[self._current].add((table.name, str(state)))
            return real(table, state)

        MachineTable.triggers_from = traced  # type: ignore[method-assign]

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Any:
        self._current = item.nodeid
        try:
            return (yield)
        finally:
            self._current = ""

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.durations[report.nodeid] = self.durations.get(report.nodeid, 0.0) + report.duration
        if report.failed:
            self.failed.append(report.nodeid)


class FirstFailure:
    """In a mutant's process: the first test that fails, and how many ran."""

    def __init__(self) -> None:
        self.killer: str | None = None
        self.message = ""
        self.ran = 0

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            self.ran += 1
        if report.failed and self.killer is None:
            self.killer = report.nodeid
            self.message = str(report.longrepr).strip().splitlines()[-1][:200] if report.longrepr else ""


class Driver:
    """The one pytest session of the mutant run: it collects once, then hands the items to
    ``run``, which forks a process per mutant that runs some of them."""

    def __init__(self, run: Callable[[dict[str, pytest.Item]], None]):
        self.run = run

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        self.run({item.nodeid: item for item in session.items})
        return True


def _quiet(log: Path) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _baseline_child(files: list[str], log: Path, out: Connection) -> None:
    _quiet(log)
    configuration.set_hypothesis_home_dir(str(log.parent / "hypothesis"))
    trace = Trace()
    code = pytest.main([*PYTEST_ARGS, *files], plugins=[trace])
    out.send((int(code), {n: sorted(at) for n, at in trace.touching.items()}, trace.durations, trace.failed))


def _mutant_child(mutant: Mutant, items: list[pytest.Item], log: Path, out: Connection) -> None:
    """Runs ``items`` in order against ``mutant`` until one fails (in a forked process)."""
    _quiet(log)
    configuration.set_hypothesis_home_dir(str(log.parent / "hypothesis"))
    config = items[0].config
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is not None:  # tmp_path folders of their own: processes running at once never share one
        factory._given_basetemp = log.with_suffix(".tmp")
        factory._basetemp = None
    first = FirstFailure()
    config.pluginmanager.register(first)
    swaps = mutants.replacements(mutant)
    for item in items:  # parameters collected from the real tables (test_tables.py's) take the mutant's
        callspec = getattr(item, "callspec", None)
        if callspec is not None:
            for name, value in list(callspec.params.items()):
                if id(value) in swaps:
                    callspec.params[name] = swaps[id(value)]
    with mutants.applied(mutant):
        for i, item in enumerate(items):
            item.ihook.pytest_runtest_protocol(item=item, nextitem=items[i + 1] if i + 1 < len(items) else None)
            if first.killer is not None:
                break
    out.send((int(first.killer is not None), first.killer, first.message, first.ran))


class Pool:
    """Forked children, at most ``jobs`` at once, from this single-threaded process (forking with
    threads running is unsafe); each child sends one result down its pipe."""

    def __init__(self, jobs: int, timeout: float):
        self.jobs, self.timeout = jobs, timeout
        self.ctx = multiprocessing.get_context("fork")

    def run(self, tasks: Iterator[tuple[Any, Callable[[], tuple[Any, tuple[Any, ...]]]]]
            ) -> Iterator[tuple[Any, Any, bool]]:
        """(label, what the child sent or None, timed out) per task, as they finish. A task is a
        label and a function giving the child's target and arguments when it starts (so the test
        order can learn from the results so far)."""
        running: dict[Connection, tuple[Any, Any, float]] = {}
        queue = iter(tasks)
        exhausted = False
        while running or not exhausted:
            while not exhausted and len(running) < self.jobs:
                task = next(queue, None)
                if task is None:
                    exhausted = True
                    break
                label, make = task
                target, args = make()
                here, there = self.ctx.Pipe(duplex=False)
                proc = self.ctx.Process(target=target, args=(*args, there))
                proc.start()
                there.close()
                running[here] = (label, proc, time.monotonic() + self.timeout)
            if not running:
                break
            soonest = min(deadline for _, _, deadline in running.values())
            ready = wait(list(running), timeout=max(0.0, soonest - time.monotonic()))
            now = time.monotonic()
            for conn in list(running):
                label, proc, deadline = running[conn]
                if conn not in ready and now < deadline:
                    continue
                got = None
                if conn in ready:
                    try:
                        got = conn.recv()
                    except EOFError:
                        got = None
                timed_out = conn not in ready
                if proc.is_alive() and timed_out:
                    proc.kill()
                proc.join()
                conn.close()
                del running[conn]
                yield label, got, timed_out


Coverage = dict[str, frozenset[tuple[str, str]]]


def baseline(jobs: int, logs: Path, without: tuple[str, ...] = (),
             only: list[str] | None = None) -> tuple[Coverage, dict[str, float]]:
    """Where each test that runs a machine takes it (every static test of the tables is taken to
    see everything), after a run that must pass on the real tables; exits if any test fails."""
    files = sorted(str(p.relative_to(ROOT)) for s in SUITES for p in (ROOT / s).rglob("test_*.py")
                   if str(p.relative_to(ROOT)) not in without and (only is None or str(p.relative_to(ROOT)) in only))
    shards = [files[k::jobs] for k in range(jobs)]
    tasks = ((k, lambda k=k: (_baseline_child, (shards[k], logs / f"baseline-{k}.log"))) for k in range(jobs))
    touching: dict[str, frozenset[tuple[str, str]]] = {}
    durations: dict[str, float] = {}
    for k, got, _ in Pool(jobs, 3600.0).run(tasks):
        if got is None or got[0] != 0:
            sys.exit(f"the baseline run fails without any mutant ({got[3] if got else 'crashed'}); "
                     f"see {logs / f'baseline-{k}.log'}")
        touching.update({n: frozenset(map(tuple, at)) for n, at in got[1].items()})
        durations.update(got[2])
    for n in durations:
        if n.startswith(STATIC + "::"):
            touching[n] = EVERYWHERE
    return touching, durations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutants", description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutants run at once")
    parser.add_argument("--only", default="", help="run only mutants whose key contains this")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds before a mutant's tests are given up on (reported as a survivor)")
    parser.add_argument("--keys", type=Path, help="run only the mutants whose keys this file lists, one a line")
    parser.add_argument("--tests", nargs="*", default=None, metavar="TEST_FILE",
                        help="only these test files (default: every file of tests/unit and tests/property)")
    parser.add_argument("--without", action="append", default=[], metavar="TEST_FILE",
                        help="leave these test files out (to measure what they add)")
    parser.add_argument("--all", action="store_true",
                        help="run the mutants declared equivalent too (each confirms its declaration)")
    parser.add_argument("--json", type=Path, help="write every mutant's key and killer here")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    started = time.monotonic()
    logs = Path(tempfile.mkdtemp(prefix="mutants-"))
    coverage, durations = baseline(args.jobs, logs, tuple(args.without), args.tests)
    chosen = sorted(coverage)
    files = sorted({n.partition("::")[0] for n in chosen})
    print(f"baseline passed in {time.monotonic() - started:.0f}s; {len(chosen)} tests in {len(files)} files "
          f"run a lifecycle machine or check the tables")
    wanted = set(args.keys.read_text().split()) if args.keys else None
    population = [m for m in mutants.generate() if args.only in m.key and (wanted is None or m.key in wanted)]
    kills: collections.Counter[str] = collections.Counter()
    results: dict[str, tuple[str | None, str]] = {}
    pending = [m for m in population if args.all or not m.equivalent]

    def order(m: Mutant) -> list[str]:
        """The tests that reach a state where ``m`` differs, earlier killers and faster ones first;
        the static checks of the tables last, so a mutant they kill got past every behavioural test."""
        seeing = [n for n in chosen if coverage[n] is EVERYWHERE or coverage[n] & m.states]
        return sorted(seeing, key=lambda n: (n.startswith(STATIC), -kills[n], durations.get(n, 0.0)))

    def run(items: dict[str, pytest.Item]) -> None:
        def task(m: Mutant) -> tuple[Mutant, Callable[[], tuple[Any, tuple[Any, ...]]]]:
            def start() -> tuple[Any, tuple[Any, ...]]:
                return _mutant_child, (m, [items[n] for n in order(m) if n in items],
                                       logs / f"{m.key.replace('/', '_')}.log")
            return m, start

        for done, (m, got, timed_out) in enumerate(Pool(args.jobs, args.timeout).run(task(m) for m in pending), 1):
            if timed_out:
                killer, message = HUNG, f"no result in {args.timeout:g}s"
            elif got is None:
                killer, message = "(crashed)", "the test process died"
            elif got[1] is None:
                killer, message = None, f"{got[3]} tests passed"
            else:
                killer, message = got[1], got[2]
                kills[got[1]] += 1
            results[m.key] = (killer, message)
            mark = "survived" if killer is None else "killed"
            print(f"[{done}/{len(pending)}] {mark:8} {m.key}" + (f"  by {killer}" if killer else ""), flush=True)

    if pending:  # one collection; every mutant's process is forked from it
        pytest.main(["-s", *PYTEST_ARGS, *files], plugins=[Driver(run)])
    for m in population:
        results.setdefault(m.key, (None, "declared equivalent; not run"))
    if args.json:
        args.json.write_text(json.dumps({k: killer for k, (killer, _) in results.items()}, indent=1))
    return report(population, results, time.monotonic() - started)


def report(population: list[Mutant], results: dict[str, tuple[str | None, str]], seconds: float) -> int:
    """The score counts a mutant as killed by behaviour when a test other than the static checks of
    the tables failed (those run last, so a mutant only they kill passed every behavioural test)."""
    by_op: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0])  # behaviour, static, total
    by_file: collections.Counter[str] = collections.Counter()
    survivors, equivalent, static = [], [], []
    for m in population:
        killer, _ = results[m.key]
        if killer is None and m.equivalent:
            equivalent.append(m)
            continue
        by_op[m.operator][2] += 1
        if killer is None or killer == HUNG:  # too slow to tell is not a kill: a loaded machine is slow
            survivors.append(m)
        elif killer.startswith(STATIC):
            by_op[m.operator][1] += 1
            static.append(m)
            by_file[killer.partition("::")[0]] += 1
        else:
            by_op[m.operator][0] += 1
            by_file[killer.partition("::")[0]] += 1
    total = sum(t for _, _, t in by_op.values())
    killed = sum(k for k, _, _ in by_op.values())
    only_static = sum(k for _, k, _ in by_op.values())
    print(f"\nmutation score: {killed}/{total} killed by behaviour ({killed / max(total, 1):.1%}); "
          f"{only_static} more only by the static checks of {STATIC}; {len(survivors)} survived; "
          f"{len(equivalent)} declared equivalent (not counted); {seconds:.0f}s")
    print(f"  {'operator':22} {'behaviour':>9} {'static':>6} {'total':>5}")
    for op in mutants.OPERATORS:
        if op in by_op:
            b, st, t = by_op[op]
            print(f"  {op:22} {b:9} {st:6} {t:5}")
    print("killed by:")
    for f, n in by_file.most_common():
        print(f"  {n:4}  {f}")
    for m in equivalent:
        print(f"equivalent: {m.key}: {m.equivalent}")
    for m in static:
        print(f"only static: {m.key} ({m.operator})")
    for m in survivors:
        print(f"SURVIVED: {m.key} ({m.operator})" + (" (no result in time)" if results[m.key][0] == HUNG else ""))
    return 0 if killed >= TARGET * total else 1


if __name__ == "__main__":
    sys.exit(main())
