"""A clock that moves only when told: tests of sliding windows count instead of timing."""

from __future__ import annotations

import threading


class ManualClock:
    """Seconds that stand still until :meth:`sleep` or :meth:`advance` moves them (thread-safe).

    Pass ``clock`` as the clock and ``clock.sleep`` as the sleep of the unit under test: a caller
    that sleeps moves time on by exactly what it slept, however fast or slow the machine is."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += seconds
