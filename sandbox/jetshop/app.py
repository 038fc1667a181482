"""FastAPI app of the Jetshop sandbox: the SOAP endpoint, its ``?WSDL``, and ``/_sandbox`` admin routes."""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime
from decimal import Decimal
from typing import Any

import anyio
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.requests import ClientDisconnect

from sandbox.faults import Fault, FaultPlan
from sandbox.jetshop import live as live_mode
from sandbox.jetshop import seed as seeding
from sandbox.jetshop.modelled import MODELLED_OPERATIONS
from sandbox.jetshop.state import JetshopSandbox
from sandbox.server import abort_connection

ENDPOINT = "/Webservice20/v3.0/webservice.asmx"


def create_app(seed: int = 1, base_time: datetime | None = None, *, live: bool = False,
               orders_per_minute: float = live_mode.DEFAULT_ORDERS_PER_MINUTE,
               returns_percent: float = live_mode.DEFAULT_RETURNS_PERCENT) -> FastAPI:
    """Build the sandbox; same seed, same shops, catalog and orders.

    ``live``: new orders keep arriving (``orders_per_minute``) and about ``returns_percent`` in 100
    posted ones get returns, see :mod:`sandbox.jetshop.live`.
    """
    sandbox = JetshopSandbox(seed=seed, base_time=base_time)
    app = FastAPI(title="Jetshop sandbox", docs_url="/_sandbox/docs", openapi_url="/_sandbox/openapi.json")
    app.state.jetshop = sandbox

    @app.get(ENDPOINT)
    async def wsdl_or_help(request: Request) -> Response:
        if any(k.lower() == "wsdl" for k in request.query_params):
            base = str(request.base_url).rstrip("/") + ENDPOINT
            text = sandbox.schema.wsdl_bytes.decode("utf-8").replace(
                'location="https://integration.jetshop.se/Webservice20/v3.0/webservice.asmx"', f'location="{base}"')
            return Response(text, media_type="text/xml; charset=utf-8")
        ops = "".join(f"<li>{op}{' (modelled)' if op in MODELLED_OPERATIONS else ''}</li>"
                      for op in sandbox.schema.operations)
        return HTMLResponse(f"<html><body><h1>WebService</h1><p>Jetshop sandbox. Operations:</p><ul>{ops}</ul>"
                            f'<p><a href="{ENDPOINT}?WSDL">Service Description</a></p></body></html>')

    @app.post(ENDPOINT)
    async def soap(request: Request) -> Response:
        fault = sandbox.faults.decide("POST")
        if sandbox.faults.plan.latency:
            await asyncio.sleep(sandbox.faults.plan.latency)
        if fault is Fault.RESET:
            return await _abort(request)
        if fault is Fault.SERVER_ERROR:
            return HTMLResponse("<html><head><title>Service Unavailable</title></head><body><h2>Service "
                                "Unavailable</h2><hr><p>HTTP Error 503. The service is unavailable.</p>",
                                status_code=503)
        if fault is Fault.RATE_LIMIT:
            return HTMLResponse("<html><body>HTTP Error 429. Too many requests.", status_code=429,
                                headers={"Retry-After": "1"})
        try:
            raw = await request.body()
        except ClientDisconnect:  # the client gave up (timeout) while we were slow on purpose
            return Response(status_code=499)
        login, password = _basic_auth(request)
        status, body, headers = await anyio.to_thread.run_sync(sandbox.handle, raw, login, password)
        if fault is Fault.DROP_AFTER_COMMIT:
            return await _abort(request)  # the work above is committed; the answer is lost
        media_type = headers.pop("Content-Type", None)
        return Response(body, status_code=status, headers=headers, media_type=media_type)

    _admin_routes(app, sandbox)
    live_mode.install(app, sandbox, live=live, seed=seed, orders_per_minute=orders_per_minute,
                      returns_percent=returns_percent)
    return app


def _basic_auth(request: Request) -> tuple[str | None, str | None]:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None, None
    try:
        login, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None, None
    return login, password


async def _abort(request: Request) -> Response:
    """Close the TCP connection with a RST and no HTTP response (client sees a ConnectionError)."""
    await abort_connection(request)
    await asyncio.sleep(0)
    return Response(status_code=204)  # never reaches the wire: the connection is gone


def jsonable(value: Any) -> Any:
    """JSON for admin routes: Decimal as string (no float rounding), datetimes ISO, private keys kept."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    return value


def _admin_routes(app: FastAPI, sb: JetshopSandbox) -> None:
    def shop_or_404(shop_id: str) -> Any:
        if shop_id not in sb.shops:
            raise HTTPException(404, f"unknown shop {shop_id!r}; known: {sorted(sb.shops)}")
        return sb.shops[shop_id]

    @app.get("/_sandbox/faults")
    def get_faults() -> JSONResponse:
        return JSONResponse({"plan": jsonable(sb.faults.plan.as_dict()), "counts": sb.faults.counts})

    @app.post("/_sandbox/faults")
    async def set_faults(request: Request) -> JSONResponse:
        try:
            plan = sb.faults.update(**(await request.json()))
        except TypeError as exc:
            raise HTTPException(400, str(exc)) from None
        return JSONResponse({"plan": jsonable(plan.as_dict())})

    @app.delete("/_sandbox/faults")
    def clear_faults() -> JSONResponse:
        sb.faults.configure(FaultPlan())
        return JSONResponse({"plan": jsonable(sb.faults.plan.as_dict())})

    @app.post("/_sandbox/reset")
    async def reset(request: Request) -> JSONResponse:
        body = await request.json() if await request.body() else {}
        base = body.get("base_time")
        base_time = None
        if base == "now":
            base_time = datetime.now(sb.shops["demoshop"].timezone).replace(tzinfo=None, microsecond=0)
        elif base:
            base_time = datetime.fromisoformat(base)
        sb.reset(body.get("seed"), base_time)
        return JSONResponse({"seed": sb.seed, "base_time": sb.base_time.isoformat()})

    @app.get("/_sandbox/shops")
    def shops() -> JSONResponse:
        return JSONResponse([{"shop_id": s.shop_id, "name": s.name, "login": s.login, "password": s.password,
                              "cultures": s.cultures, "channels": s.channels,
                              "default_price_list": s.default_price_list} for s in sb.shops.values()])

    @app.post("/_sandbox/shops")
    async def add_shop(request: Request) -> JSONResponse:
        """Body: ``shop_id``, ``login``, ``password``, optional ``like`` (a seeded shop, default
        demoshop) and ``name``: another merchant's shop in this sandbox (201), 409 if the id or login
        is taken."""
        body = await request.json()
        missing = [k for k in ("shop_id", "login", "password") if not body.get(k)]
        if missing:
            raise HTTPException(400, f"missing {', '.join(missing)}")
        try:
            shop = sb.add_shop(str(body["shop_id"]), login=str(body["login"]), password=str(body["password"]),
                               like=str(body.get("like", "demoshop")), name=body.get("name"))
        except LookupError as exc:
            raise HTTPException(400, str(exc)) from None
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from None
        return JSONResponse({"shop_id": shop.shop_id, "name": shop.name, "login": shop.login}, status_code=201)

    @app.get("/_sandbox/shops/{shop_id}/statuses")
    def statuses(shop_id: str) -> JSONResponse:
        return JSONResponse(jsonable(shop_or_404(shop_id).statuses))

    @app.get("/_sandbox/awkward-kinds")
    def kinds(shop_id: str = "demoshop") -> JSONResponse:
        return JSONResponse({"kinds": list(seeding.AWKWARD_KINDS), "orders": sb.awkward_orders(shop_id)})

    @app.get("/_sandbox/shops/{shop_id}/orders")
    def orders(shop_id: str, kind: str | None = None, status_id: int | None = None) -> JSONResponse:
        shop_or_404(shop_id)
        found = [o for o in sb.orders(shop_id) if (kind is None or o["_kind"] == kind)
                 and (status_id is None or o["OrderStatusId"] == status_id)]
        return JSONResponse(jsonable(found))

    @app.get("/_sandbox/shops/{shop_id}/orders/{order_id}")
    def order(shop_id: str, order_id: int) -> JSONResponse:
        if order_id not in shop_or_404(shop_id).orders:
            raise HTTPException(404, f"no order {order_id} in {shop_id}")
        return JSONResponse(jsonable(sb.order(shop_id, order_id)))

    @app.post("/_sandbox/shops/{shop_id}/orders")
    async def add_order(shop_id: str, request: Request) -> JSONResponse:
        """Body: OrderSpec fields; ``rows`` as ``seed.row`` keyword dicts (``article``, ``qty``, ``unit``, ...)."""
        shop_or_404(shop_id)
        body = await request.json()
        if "rows" in body:
            body["rows"] = [seeding.row(**r) for r in body["rows"]]
        when = body.pop("order_date", None)
        kind = body.pop("kind", "added")
        try:
            oid = sb.add_order(shop_id, kind=kind, order_date=datetime.fromisoformat(when) if when else None, **body)
        except (TypeError, KeyError, StopIteration) as exc:
            raise HTTPException(400, f"bad order spec: {exc}") from None
        return JSONResponse({"order_id": oid})

    @app.post("/_sandbox/shops/{shop_id}/orders/{order_id}/returns")
    async def add_return(shop_id: str, order_id: int, request: Request) -> JSONResponse:
        """MODELLED return. Body: ``rows`` [{row_id, quantity, amount_inc_vat?}], ``freight_inc_vat``,
        ``payment_fee_inc_vat``, ``status_id`` (all but ``rows`` optional); answers ``{"return_id"}``."""
        if order_id not in shop_or_404(shop_id).orders:
            raise HTTPException(404, f"no order {order_id} in {shop_id}")
        body = await request.json()
        try:
            rid = sb.add_return(shop_id, order_id, list(body["rows"]),
                                freight_inc_vat=str(body.get("freight_inc_vat", 0)),
                                payment_fee_inc_vat=str(body.get("payment_fee_inc_vat", 0)),
                                status_id=body.get("status_id"))
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise HTTPException(400, f"bad return: {exc}") from None
        return JSONResponse({"return_id": rid})

    @app.post("/_sandbox/shops/{shop_id}/orders/{order_id}/status")
    async def set_status(shop_id: str, order_id: int, request: Request) -> JSONResponse:
        """Move an order to a status as a shop user would. Body: ``{"status_id": n}``."""
        if order_id not in shop_or_404(shop_id).orders:
            raise HTTPException(404, f"no order {order_id} in {shop_id}")
        try:
            sb.set_status(shop_id, order_id, int((await request.json())["status_id"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise HTTPException(400, f"bad status: {exc}") from None
        return JSONResponse({"ok": True})

    @app.post("/_sandbox/shops/{shop_id}/orders/generate")
    async def generate(shop_id: str, request: Request) -> JSONResponse:
        shop_or_404(shop_id)
        body = await request.json()
        start = body.get("start")
        ids = sb.generate_orders(shop_id, int(body.get("count", 100)), seed=body.get("seed"),
                                 start=datetime.fromisoformat(start) if start else None,
                                 status_id=body.get("status_id"))
        return JSONResponse({"order_ids": ids})

    @app.post("/_sandbox/shops/{shop_id}/orders/touch")
    async def touch(shop_id: str, request: Request) -> JSONResponse:
        shop_or_404(shop_id)
        body = await request.json() if await request.body() else {}
        when = body.get("when")
        sb.touch_orders(shop_id, body.get("order_ids"), datetime.fromisoformat(when) if when else None)
        return JSONResponse({"ok": True})

    @app.get("/_sandbox/shops/{shop_id}/products/{article_number}")
    def product(shop_id: str, article_number: str) -> JSONResponse:
        shop_or_404(shop_id)
        art = sb.product(shop_id, article_number)
        if art is None:
            raise HTTPException(404, f"no article {article_number}")
        prices = {pl: sb.price(shop_id, article_number, pl) for pl in sb.shops[shop_id].price_lists}
        return JSONResponse(jsonable({**art, "prices": prices}))

    @app.post("/_sandbox/shops/{shop_id}/articles")
    async def seed_articles(shop_id: str, request: Request) -> JSONResponse:
        shop_or_404(shop_id)
        articles = await request.json()
        sb.seed_articles(shop_id, articles)
        return JSONResponse({"count": len(articles)})

    for name in ("captures", "emails", "status_changes"):
        def make(event: str) -> Any:
            def route(shop_id: str | None = None, order_id: int | None = None) -> JSONResponse:
                return JSONResponse(jsonable(getattr(sb, event)(shop_id, order_id)))
            return route
        app.get(f"/_sandbox/{name.replace('_', '-')}")(make(name))

    @app.get("/_sandbox/calls")
    def calls() -> JSONResponse:
        with sb.lock:
            return JSONResponse(list(sb.calls))
