"""FastAPI app of the Norce Commerce sandbox: identity, Query 2.0, Connect 4.0 Order (+ Product/Job),
and ``/_sandbox`` admin routes. ``app.state.norce`` is the :class:`NorceSandbox` handle for tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import anyio
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.faults import FaultPlan
from sandbox.norce import auth, product_routes, query
from sandbox.norce import live as live_mode
from sandbox.norce import seed as seeding
from sandbox.norce.modelled import MODELLED
from sandbox.norce.orders import (
    Body,
    ConnectError,
    cancel_order,
    create_delivery_note,
    create_invoice,
    credit_payment,
    send_order_status,
)
from sandbox.norce.state import NorceSandbox

CONNECT_BASE = "/commerce/connect/4.0/"
ORDER_OPERATIONS: dict[str, Callable[[NorceSandbox, Body], None]] = {
    "Order/SendOrderStatus": send_order_status,
    "Order/CreateDeliveryNote": create_delivery_note,
    "Order/CancelOrder": cancel_order,
    "Order/CreateInvoice": create_invoice,
    "Order/CreditPayment": credit_payment,
}


def create_app(seed: int = 1, base_time: datetime | None = None, *, live: bool = False,
               orders_per_minute: float = live_mode.DEFAULT_ORDERS_PER_MINUTE, **knobs: Any) -> FastAPI:
    """Build the sandbox; same seed and ``base_time``, same orders. ``knobs``: see ``state.Knobs``.
    ``live``: new checkouts keep arriving and are pushed (``orders_per_minute``), see ``live.py``."""
    sandbox = NorceSandbox(seed=seed, base_time=base_time, **knobs)
    app = FastAPI(title="Norce Commerce sandbox", docs_url="/_sandbox/docs", openapi_url="/_sandbox/openapi.json")
    app.state.norce = sandbox
    live_mode.install(app, sandbox, live=live, seed=seed, orders_per_minute=orders_per_minute)
    auth.install_fault_handler(app)
    auth.register(app, sandbox)
    query.register(app, sandbox)
    for operation, handler in ORDER_OPERATIONS.items():
        _connect_route(app, sandbox, operation, handler)
    product_routes.register(app, sandbox)
    _admin_routes(app, sandbox)
    app.add_middleware(CanonicalPaths, fastapi_app=app, sandbox=sandbox)
    sandbox.pusher.start()
    return app


class CanonicalPaths:
    """Norce (IIS/ASP.NET) matches paths case-insensitively: rewrite to the registered spelling, count calls.

    A plain ASGI middleware (not ``BaseHTTPMiddleware``) so the fault plan can still reach the socket.
    """

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI, sandbox: NorceSandbox) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self.sandbox = sandbox
        self._routes: dict[str, str] | None = None

    def canonical(self, path: str) -> str:
        if self._routes is None:
            self._routes = {getattr(r, "path", "").lower(): getattr(r, "path", "")
                            for r in self.fastapi_app.routes if "{" not in getattr(r, "path", "{")}
        lower = path.lower()
        if lower.startswith(query.QUERY_BASE):
            return query.QUERY_BASE + path[len(query.QUERY_BASE):]
        return self._routes.get(lower, path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = self.canonical(scope["path"])
            if path != scope["path"]:
                scope = dict(scope, path=path, raw_path=path.encode())
            if not path.startswith("/_sandbox"):
                self.sandbox.count_call(scope["method"], path)
        await self.app(scope, receive, send)


def _connect_route(app: FastAPI, sb: NorceSandbox, operation: str,
                   handler: Callable[[NorceSandbox, Body], None]) -> None:
    deps = [Depends(auth.apply_faults), Depends(auth.require_bearer), Depends(auth.connect_application_id)]

    async def endpoint(request: Request) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in ("application/json", "text/json", "application/*+json"):
            return JSONResponse({"title": "Unsupported Media Type", "status": 415}, status_code=415)
        raw = await request.body()
        try:
            if not raw.strip():
                raise ConnectError("A non-empty request body is required.", "$")
            try:
                data = json.loads(raw, parse_float=Decimal)
            except ValueError as exc:
                raise ConnectError(f"The request body is not valid JSON: {exc}", "$") from None
            with sb.lock:
                handler(sb, Body(data))
        except ConnectError as exc:
            return JSONResponse(_plain(exc.body()), status_code=exc.status)
        return await auth.finish(request, Response(status_code=200))

    endpoint.__name__ = operation.replace("/", "_")
    app.post(CONNECT_BASE + operation, dependencies=deps)(endpoint)


def _plain(value: Any) -> Any:
    """JSON-ready: Decimal as string (no float rounding), datetimes ISO."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return value


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    data = json.loads(raw) if raw.strip() else {}
    if not isinstance(data, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return data


def _admin_routes(app: FastAPI, sb: NorceSandbox) -> None:
    @app.get("/_sandbox/faults")
    def get_faults() -> JSONResponse:
        return JSONResponse({"plan": _plain(sb.faults.plan.as_dict()), "counts": sb.faults.counts})

    @app.post("/_sandbox/faults")
    async def set_faults(request: Request) -> JSONResponse:
        try:
            plan = sb.faults.update(**(await _json(request)))
        except TypeError as exc:
            raise HTTPException(400, str(exc)) from None
        return JSONResponse({"plan": _plain(plan.as_dict())})

    @app.delete("/_sandbox/faults")
    def clear_faults() -> JSONResponse:
        sb.faults.configure(FaultPlan())
        return JSONResponse({"plan": _plain(sb.faults.plan.as_dict())})

    @app.get("/_sandbox/knobs")
    def get_knobs() -> JSONResponse:
        return JSONResponse(_plain(sb.knobs.as_dict()))

    @app.post("/_sandbox/knobs")
    async def set_knobs(request: Request) -> JSONResponse:
        try:
            return JSONResponse(_plain(sb.set_knobs(**(await _json(request))).as_dict()))
        except TypeError as exc:
            raise HTTPException(400, str(exc)) from None

    @app.post("/_sandbox/reset")
    async def reset(request: Request) -> JSONResponse:
        body = await _json(request)
        base = body.get("base_time")
        sb.reset(body.get("seed"), datetime.fromisoformat(base.replace("Z", "+00:00")) if base else None)
        return JSONResponse({"seed": sb.seed, "now": sb.clock().isoformat()})

    @app.get("/_sandbox/clock")
    def get_clock() -> JSONResponse:
        return JSONResponse({"now": sb.clock().isoformat(), "frozen": sb.clock.base is not None})

    @app.post("/_sandbox/clock")
    async def move_clock(request: Request) -> JSONResponse:
        """Body ``{"advance_seconds": n}``: moves token expiry, rate-limit refill and push retries."""
        body = await _json(request)
        try:
            return JSONResponse({"now": sb.advance(float(body["advance_seconds"])).isoformat()})
        except (KeyError, TypeError, ValueError) as exc:
            raise HTTPException(400, f"expected {{'advance_seconds': number}}: {exc}") from None

    @app.get("/_sandbox/stats")
    def stats() -> JSONResponse:
        return JSONResponse(_plain(sb.stats()))

    @app.get("/_sandbox/credentials")
    def credentials() -> JSONResponse:
        return JSONResponse({"client_id": seeding.CLIENT_ID, "client_secret": seeding.CLIENT_SECRET,
                             "slug": seeding.SLUG, "environment": seeding.ENVIRONMENT,
                             "application_id": seeding.APPLICATION_ID, "account_id": seeding.ACCOUNT_ID})

    @app.get("/_sandbox/secrets")
    def secrets() -> JSONResponse:
        """Every secret the sandbox knows (client secret, access tokens issued, the push login's password),
        for tests that search logs and databases for leaks."""
        with sb.lock:
            found = [("client secret", seeding.CLIENT_SECRET), *(("access token", token) for token in sb.tokens)]
            target = sb.pusher.target
            if target is not None and target.password:
                found.append(("push password", target.password))
        return JSONResponse({"secrets": [value for _, value in found], "kinds": [kind for kind, _ in found]})

    @app.get("/_sandbox/modelled")
    def modelled() -> JSONResponse:
        return JSONResponse([m.as_dict() for m in MODELLED])

    _order_admin(app, sb)
    _push_admin(app, sb)


def _order_admin(app: FastAPI, sb: NorceSandbox) -> None:
    @app.get("/_sandbox/orders")
    def orders(kind: str | None = None) -> JSONResponse:
        return JSONResponse(_plain([{"id": o.id, "client_order_ref": o.ref, "order_no": o.order_no,
                                     "kind": o.kind, "status_id": o.status_id, "currency": o.currency,
                                     "total_inc_vat": o.total_inc_vat, "order_date": o.order_date,
                                     "updated": o.updated}
                                    for o in sb.order_list() if kind is None or o.kind == kind]))

    @app.post("/_sandbox/orders")
    async def add_order(request: Request) -> JSONResponse:
        """Body: an order spec (see README.md); ``push`` (default true) queues it for the receiver,
        ``push_now`` also delivers every due push before answering."""
        body = await _json(request)
        push = bool(body.pop("push", True))
        push_now = bool(body.pop("push_now", False))
        try:
            order = sb.add_order(body, push=push)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise HTTPException(400, f"bad order spec: {exc}") from None
        if push and push_now:
            await anyio.to_thread.run_sync(sb.push_pending)
        return JSONResponse({"id": order.id, "client_order_ref": order.ref})

    @app.get("/_sandbox/orders/{ref}")
    def order(ref: str) -> JSONResponse:
        try:
            return JSONResponse(_plain(sb.order_state(ref)))
        except KeyError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/_sandbox/captures")
    def captures() -> JSONResponse:
        return JSONResponse(_plain(sb.captures()))


def _push_admin(app: FastAPI, sb: NorceSandbox) -> None:
    @app.post("/_sandbox/push-target")
    async def push_target(request: Request) -> JSONResponse:
        """Body ``{url, username, password, legacy_path}``; ``url`` null switches pushing off."""
        body = await _json(request)
        sb.set_push_target(body.get("url"), str(body.get("username", "")), str(body.get("password", "")),
                           bool(body.get("legacy_path", False)))
        return JSONResponse({"target": repr(sb.pusher.target)})

    @app.get("/_sandbox/push")
    def pushes(ref: str | None = None) -> JSONResponse:
        return JSONResponse(_plain({"target": repr(sb.pusher.target), "summary": sb.pusher.summary(),
                                    "deliveries": sb.pusher.deliveries(ref)}))

    @app.post("/_sandbox/push/run")
    def run_pushes() -> JSONResponse:
        """Deliver every due push now (synchronously)."""
        return JSONResponse({"attempts": sb.push_pending(), "summary": sb.pusher.summary()})

    @app.post("/_sandbox/push/requeue/{ref}")
    def requeue(ref: str) -> JSONResponse:
        """Push an existing order (again), e.g. a seeded one."""
        try:
            order = sb.order_by_ref(ref)
        except KeyError as exc:
            raise HTTPException(404, str(exc)) from None
        sb.pusher.enqueue(order)
        return JSONResponse({"queued": ref})
