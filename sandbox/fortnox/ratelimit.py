"""Fortnox's request budget: N requests in any sliding window of W seconds, per client and tenant.

Fortnox allows 25 requests per 5 s sliding window per (client id, tenant) and answers 429 beyond
it. The limiter keeps the timestamps of every *accepted* request, so tests can check the largest
number of accepted requests in any window from the sandbox's own counters.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

Key = tuple[int, str]  # (tenant id, client id)


def max_in_window(stamps: list[float], window: float) -> int:
    """Largest number of timestamps inside any half-open interval of ``window`` seconds."""
    ordered = sorted(stamps)
    best, start = 0, 0
    for end, stamp in enumerate(ordered):
        while stamp - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


class SlidingWindowLimiter:
    """Accept a request if fewer than ``limit`` were accepted in the last ``window`` seconds.

    Arrivals are stamped by ``clock`` (seconds, monotonic); tests pass a clock they move."""

    def __init__(self, limit: int = 25, window: float = 5.0, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._lock = threading.Lock()
        self._recent: dict[Key, deque[float]] = defaultdict(deque)
        self.accepted: dict[Key, list[float]] = defaultdict(list)
        self.rejected: dict[Key, int] = defaultdict(int)

    def configure(self, limit: int | None = None, window: float | None = None) -> None:
        with self._lock:
            if limit is not None:
                self.limit = limit
            if window is not None:
                self.window = window

    def try_acquire(self, key: Key, now: float | None = None) -> bool:
        now = self.clock() if now is None else now
        with self._lock:
            recent = self._recent[key]
            while recent and recent[0] <= now - self.window:
                recent.popleft()
            if len(recent) >= self.limit:
                self.rejected[key] += 1
                return False
            recent.append(now)
            self.accepted[key].append(now)
            return True

    def reset(self) -> None:
        with self._lock:
            self._recent.clear()
            self.accepted.clear()
            self.rejected.clear()

    def max_in_window(self, key: Key, window: float | None = None) -> int:
        """Largest number of accepted requests inside any interval of ``window`` seconds."""
        with self._lock:
            stamps = list(self.accepted.get(key, []))
        return max_in_window(stamps, self.window if window is None else window)

    def stats(self, tenant_id: int) -> dict[str, Any]:
        """Per-client counters for one company."""
        keys = [k for k in set(self.accepted) | set(self.rejected) if k[0] == tenant_id]
        clients = {
            client: {
                "accepted": len(self.accepted.get((tenant_id, client), [])),
                "rejected_429": self.rejected.get((tenant_id, client), 0),
                "max_in_window": self.max_in_window((tenant_id, client)),
            }
            for _, client in sorted(keys)
        }
        return {"limit": self.limit, "window": self.window, "clients": clients}

    def timestamps(self, tenant_id: int) -> dict[str, list[float]]:
        with self._lock:
            return {c: list(v) for (t, c), v in self.accepted.items() if t == tenant_id}
