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
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

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


class OrderGenerator(Protocol):
    """A shop sandbox's live order source (Jetshop, Norce)."""

    @property
    def interval(self) -> float: ...

    def tick(self) -> Any: ...

    def report(self) -> dict[str, Any]: ...

    def create(self, count: int) -> Sequence[Any]: ...


def install_order_routes(app: FastAPI, name: str, generator: OrderGenerator | None,
                         describe: Callable[[Sequence[Any]], list[dict[str, Any]]]) -> None:
    """``GET /_sandbox/live`` and ``POST /_sandbox/live/orders`` of a shop sandbox; with a generator also
    its :class:`LiveLoop` in the app's lifespan. ``describe`` turns what ``create`` made into JSON rows."""
    loop: LiveLoop | None = None
    if generator is not None:
        source = generator

        async def tick() -> None:
            source.tick()

        loop = LiveLoop(name, tick, period=min(1.0, generator.interval))
        app.router.lifespan_context = loop.lifespan
    app.state.live = generator
    app.state.live_loop = loop

    @app.get("/_sandbox/live")
    def live_report() -> JSONResponse:
        if generator is None or loop is None:
            return JSONResponse(OFF)
        return JSONResponse({**generator.report(), "loop": loop.status()})

    @app.post("/_sandbox/live/orders")
    async def live_orders(request: Request) -> JSONResponse:
        """The next ``count`` orders of the live sequence, now (default 1)."""
        if generator is None:
            raise HTTPException(409, "live mode is off: start the sandbox with --live")
        body = await request.json() if await request.body() else {}
        try:
            count = int(body.get("count", 1)) if isinstance(body, dict) else int(body)
        except (TypeError, ValueError):
            raise HTTPException(400, "count must be an integer 1..1000") from None
        if not 1 <= count <= 1000:
            raise HTTPException(400, "count must be 1..1000")
        return JSONResponse({"orders": describe(generator.create(count))})
