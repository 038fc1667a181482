"""Live mode shared by the sandboxes: a background loop in the app's lifespan, and its bookkeeping.

``python -m sandbox {jetshop|fortnox} --live`` makes a sandbox move on by itself: new shop orders
arrive (:mod:`sandbox.jetshop.live`), documents in Fortnox get delivered, invoiced, booked, paid or
cancelled (:mod:`sandbox.fortnox.live`). Both do their work in a ``tick`` that tests call directly
with a driven clock; :class:`LiveLoop` calls it every ``period`` seconds from startup to shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

log = logging.getLogger("sandbox.live")


class LiveLoop:
    """Runs ``tick()`` every ``period`` seconds in the server's event loop while the app lives."""

    def __init__(self, name: str, tick: Callable[[], Awaitable[Any]], period: float) -> None:
        self.name = name
        self.tick = tick
        self.period = max(0.01, float(period))
        self.ticks = 0
        self.errors: deque[str] = deque(maxlen=20)
        self.running = False

    async def run(self) -> None:
        self.running = True
        try:
            while True:
                try:
                    await self.tick()
                    self.ticks += 1
                except Exception as exc:  # a sandbox bug must not stop live mode for good
                    log.exception("%s live tick failed", self.name)
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(self.period)
        finally:
            self.running = False

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        """FastAPI ``lifespan``: start the loop on startup, cancel it (and wait) on shutdown."""
        task = asyncio.create_task(self.run(), name=f"{self.name}-live")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def status(self) -> dict[str, Any]:
        return {"running": self.running, "period_seconds": self.period, "ticks": self.ticks,
                "errors": list(self.errors)}


def bump(counter: dict[str, int], key: str, by: int = 1) -> None:
    counter[key] = counter.get(key, 0) + by


OFF = {"enabled": False, "hint": "start the sandbox with --live to make it move on by itself"}
