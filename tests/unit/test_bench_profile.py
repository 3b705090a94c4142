"""The bench's profile: py-spy's folded stacks added up per function, roots left out."""

from __future__ import annotations

from tests.bench.profile import fold


def test_samples_add_up_per_function_by_own_and_inclusive_share() -> None:
    lines = [
        "_bootstrap (threading.py:1000);work (lifecycle/operator/manager.py:10);reconcile (lifecycle/reconcile/"
        "reconciler.py:50);loads (json/__init__.py:346) 6",
        "_bootstrap (threading.py:1000);work (lifecycle/operator/manager.py:12);reconcile (lifecycle/reconcile/"
        "reconciler.py:61) 3",
        "_bootstrap (threading.py:1000);watch (lifecycle/k8s/informer.py:80) 1",
        "not a sample line",
    ]
    top = fold(lines, 10)
    by_name = {name: (own, inclusive) for name, own, inclusive in top}
    assert "_bootstrap (threading.py)" not in by_name  # every sample's root
    assert by_name["reconcile (lifecycle/reconcile/reconciler.py)"] == (30.0, 90.0)  # lines of one function add up
    assert by_name["loads (json/__init__.py)"] == (60.0, 60.0)
    assert by_name["watch (lifecycle/k8s/informer.py)"] == (10.0, 10.0)
    assert [name for name, _, _ in top][:2] == ["reconcile (lifecycle/reconcile/reconciler.py)",
                                                "work (lifecycle/operator/manager.py)"]  # a tie: own time first
    assert fold([], 5) == []


def test_by_own_time_the_function_doing_the_work_comes_first() -> None:
    lines = ["_bootstrap (t.py:1);work (m.py:10);loads (json/__init__.py:346) 6",
             "_bootstrap (t.py:1);work (m.py:12) 3", "_bootstrap (t.py:1);watch (i.py:80) 1"]
    assert [(name, own) for name, own, _ in fold(lines, 2, by_own=True)] == [("loads (json/__init__.py)", 60.0),
                                                                            ("work (m.py)", 30.0)]


def test_a_cpu_profile_samples_only_the_thread_holding_the_interpreter_lock(monkeypatch, tmp_path) -> None:
    import subprocess

    from tests.bench import profile

    started: list[list[str]] = []
    monkeypatch.setattr(subprocess, "Popen", lambda argv, **_: started.append(argv))
    every, cpu = profile.Profile(1, tmp_path / "a"), profile.Profile(1, tmp_path / "b", gil=True)
    assert "--gil" not in started[0] and started[0][started[0].index("--rate") + 1] == str(profile.RATE)
    assert "--gil" in started[1] and started[1][started[1].index("--rate") + 1] == str(profile.GIL_RATE)
    assert (every.sampled, cpu.sampled) == ("all its threads", "the thread holding the interpreter lock")
