"""Repeated events counted on one Event object, as Kubernetes' own recorders do.

A reconcile that keeps failing the same way (a spec that does not parse, a Secret that is missing)
reports the same warning on every retry. Instead of a new Event object each time, a repeat within
``window`` seconds raises the ``count`` and ``lastTimestamp`` of the first one, so ``kubectl
describe`` shows "x12 over 5m" and the namespace does not fill with copies. The memory is small
(the last ``size`` distinct events) and losing it on restart only starts a fresh count.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

EventKey = tuple[str, str, str, str, str]  # namespace, involved object (uid or name), type, reason, message


class EventCounts:
    def __init__(self, size: int = 4096, window: float = 600.0):
        self.size, self.window = size, window
        self._seen: OrderedDict[EventKey, tuple[str, int, float]] = OrderedDict()
        self._lock = threading.Lock()

    def repeat_of(self, key: EventKey) -> tuple[str, int] | None:
        """The name and count of the Event this one repeats, if it was recorded within the window."""
        with self._lock:
            found = self._seen.get(key)
            if found is None or time.monotonic() - found[2] > self.window:
                return None
            return found[0], found[1]

    def recorded(self, key: EventKey, name: str, count: int) -> None:
        with self._lock:
            self._seen[key] = (name, count, time.monotonic())
            self._seen.move_to_end(key)
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)

    def forget(self, key: EventKey) -> None:
        with self._lock:
            self._seen.pop(key, None)
