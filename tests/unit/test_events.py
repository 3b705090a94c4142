"""Repeats of an event are recognised within a window, and the memory of them stays bounded."""

from __future__ import annotations

import pytest

from lifecycle.k8s import events
from lifecycle.k8s.events import EventCounts

KEY = ("team", "uid-1", "Warning", "ErrorValidateSpecFields", "spec.replicas: must be at least 0")


def test_a_repeat_within_the_window_names_the_first_event(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(events.time, "monotonic", lambda: clock[0])
    counts = EventCounts(window=600)
    assert counts.repeat_of(KEY) is None
    counts.recorded(KEY, "imagenet.abc", 1)
    clock[0] += 599
    assert counts.repeat_of(KEY) == ("imagenet.abc", 1)
    counts.recorded(KEY, "imagenet.abc", 2)
    clock[0] += 601
    assert counts.repeat_of(KEY) is None  # quiet for longer than the window: a new event
    assert counts.repeat_of((*KEY[:4], "another message")) is None


def test_only_the_most_recent_events_are_remembered() -> None:
    counts = EventCounts(size=2)
    keys = [(*KEY[:4], f"message {i}") for i in range(3)]
    for i, key in enumerate(keys):
        counts.recorded(key, f"event-{i}", 1)
    assert counts.repeat_of(keys[0]) is None
    assert counts.repeat_of(keys[2]) == ("event-2", 1)
