"""Entry point: ``create_app(seed)`` builds the Fortnox sandbox (FastAPI) with its state handle.

Start it with ``python -m sandbox fortnox --port 8801 --seed 1``. The returned app carries the
:class:`~.emulator.FortnoxSandbox` handle as ``app.state.sandbox`` (also ``app.sandbox``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import errors, gateway
from . import live as live_mode
from .admin import router as admin_router
from .emulator import FortnoxSandbox
from .errors import FortnoxError, WarehouseError
from .oauth_routes import router as oauth_router
from .resources import (
    company,
    credits,
    documents,
    euvat,
    payments,
    prices,
    purchaseorders,
    registers,
    warehouse,
)
from .web import dumps
from .ws_routes import EventsMiddleware
from .ws_routes import router as events_router


class FortnoxApp(FastAPI):
    """FastAPI with the gateway in front, at the raw ASGI level (see :mod:`.gateway`)."""

    sandbox: FortnoxSandbox

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        await gateway.handle(self.sandbox, super().__call__, scope, receive, send)


def _json(body: Any, status: int) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


def create_app(seed: int = 1, *, rate_limit: int = 25, rate_window: float = 5.0,
               access_ttl: float = 3600.0, live: bool = False,
               live_delay_seconds: float = live_mode.DEFAULT_DELAY_SECONDS) -> FortnoxApp:
    """A fresh sandbox: one default company (seeded), the default client, all knobs off.

    ``live``: documents move on by themselves after ``live_delay_seconds`` (:mod:`.live`).
    """
    app = FortnoxApp(title="Fortnox sandbox", docs_url="/_sandbox/docs", openapi_url="/_sandbox/openapi.json",
                     redoc_url=None)
    app.sandbox = FortnoxSandbox(seed, rate_limit=rate_limit, rate_window=rate_window, access_ttl=access_ttl)
    app.state.sandbox = app.sandbox

    @app.exception_handler(FortnoxError)
    async def fortnox_error(request: Request, exc: FortnoxError) -> Response:
        return _json(exc.body(), exc.status)

    @app.exception_handler(WarehouseError)
    async def warehouse_error(request: Request, exc: WarehouseError) -> Response:
        return _json(exc.body(), exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/_sandbox"):
            return _json({"detail": exc.detail}, exc.status_code)
        if exc.status_code == 404:
            return _json(errors.NO_ROUTE_BODY, 404)
        if exc.status_code == 405:
            return _json({"message": "Method not allowed"}, 405)  # [I] e.g. DELETE /3/orders/1
        return _json({"message": str(exc.detail)}, exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # a sandbox bug still answers like Fortnox's "system exception" (and uvicorn logs it)
        return _json(errors.SERVER_ERROR_BODY, 500)

    @app.exception_handler(RequestValidationError)
    async def admin_validation(request: Request, exc: RequestValidationError) -> Response:
        return _json({"detail": exc.errors()}, 422)

    app.include_router(oauth_router)
    app.include_router(admin_router)
    app.include_router(events_router)  # WebSocket /topics-v1 and /_sandbox/events/...
    app.add_middleware(EventsMiddleware)  # events after every write (see .events)
    for router in (registers.router, documents.order_router, documents.invoice_router, credits.router,
                   payments.router, prices.router, company.router, warehouse.router, euvat.router, purchaseorders.router):
        app.include_router(router)
    live_mode.install(app, app.sandbox, live=live, seed=seed, delay_seconds=live_delay_seconds)
    return app
