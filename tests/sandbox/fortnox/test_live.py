"""Live mode of the Fortnox sandbox: documents move on, visible through the API the status flow reads."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.fortnox import create_app
from sandbox.fortnox.live import LiveFortnox, s10_check_digit, tracking_number
from sandbox.server import serve_in_thread
from tests.sandbox.fortnox.conftest import Api, Server

S10 = re.compile(r"^[A-Z]{2}\d{9}SE$")


def _order(customer: str, article: str = "1001", qty: int = 2, key: str = "") -> dict[str, Any]:
    return {"Order": {"CustomerNumber": customer, "ExternalInvoiceReference1": key,
                      "OrderRows": [{"ArticleNumber": article, "OrderedQuantity": qty, "DeliveredQuantity": qty}]}}


def _invoice(customer: str, article: str = "1011", qty: int = 3, key: str = "") -> dict[str, Any]:
    return {"Invoice": {"CustomerNumber": customer, "ExternalInvoiceReference1": key,
                        "InvoiceRows": [{"ArticleNumber": article, "DeliveredQuantity": qty}]}}


def _customer(i: int) -> str:
    return "16" if i % 4 == 0 else str(1 + i % 15)  # 16 is an EUR customer (reverse charge)


@pytest.fixture
def live() -> Iterator[tuple[Api, LiveFortnox]]:
    app = create_app(seed=1, live=True, live_delay_seconds=120, rate_limit=100_000)
    with serve_in_thread(app) as base:
        server = Server(base, app.sandbox)
        yield Api(server, app.sandbox.default, server.token(app.sandbox.default)), app.state.live


def _run(mover: LiveFortnox, *, minutes: float, step: float = 30) -> list[dict[str, Any]]:
    made: list[dict[str, Any]] = []
    for _ in range(round(minutes * 60 / step)):
        mover.sb.clock.advance(step)
        made += asyncio.run(mover.tick())
    return made


def test_created_documents_move_on_and_show_up_in_lastmodified_lists(live: tuple[Api, LiveFortnox]) -> None:
    api, mover = live
    for i in range(24):
        assert api.post("/3/orders", _order(_customer(i), key=f"jetfort:se:{10100 + i}")).status_code == 201
        assert api.post("/3/invoices", _invoice(_customer(i), key=f"jetfort:nordic:{10100 + i}")).status_code == 201
    assert asyncio.run(mover.tick()) == []  # planned, nothing due yet
    mover.sb.clock.advance(60)
    since = mover.sb.clock.now().strftime("%Y-%m-%d %H:%M:%S")  # after creation, before any move
    assert api.get(f"/3/orders?lastmodified={since}").json()["Orders"] == []
    assert _run(mover, minutes=0.9, step=6) == []  # nothing before the delay (120 s; the clock is at +114 s)
    made = _run(mover, minutes=15)
    assert not [m for m in made if "refused" in m]
    moved = {(m["document"], m["number"]) for m in made}
    by_move: dict[str, list[dict[str, Any]]] = {}
    for m in made:
        by_move.setdefault(m["move"], []).append(m)
    for move in ("order_delivered", "order_invoiced", "order_cancelled", "invoice_delivered", "invoice_sent",
                 "invoice_booked", "invoice_paid"):
        assert by_move.get(move), f"no {move} in {sorted(by_move)}"

    # exactly the moved documents are in the lastmodified lists the status flow reads
    orders = {o["DocumentNumber"] for o in api.get(f"/3/orders?lastmodified={since}").json()["Orders"]}
    assert orders == {n for d, n in moved if d == "order"}
    invoices = {i["DocumentNumber"] for i in api.get(f"/3/invoices?lastmodified={since}&limit=500")
                .json()["Invoices"]}
    assert invoices == {n for d, n in moved if d == "invoice"} | {
        m["invoice"] for m in by_move["order_invoiced"]}
    # and each document shows its change
    for m in by_move["order_delivered"]:
        order = api.get(f"/3/orders/{m['number']}").json()["Order"]
        assert S10.match(order["ExternalInvoiceReference2"]) and order["ExternalInvoiceReference2"] == m["tracking"]
        assert order["DeliveryDate"] and order["ExternalInvoiceReference1"].startswith("jetfort:se:")
    for m in by_move["order_invoiced"]:
        order = api.get(f"/3/orders/{m['number']}").json()["Order"]
        assert order["InvoiceReference"] == m["invoice"]
        assert api.get(f"/3/invoices/{m['invoice']}").json()["Invoice"]["OrderReference"] == m["number"]
    for m in by_move["order_cancelled"]:
        assert api.get(f"/3/orders/{m['number']}").json()["Order"]["Cancelled"] is True
    for m in by_move["invoice_delivered"]:
        assert api.get(f"/3/invoices/{m['number']}").json()["Invoice"]["ExternalInvoiceReference2"] == m["tracking"]
    for m in by_move["invoice_sent"]:
        assert api.get(f"/3/invoices/{m['number']}").json()["Invoice"]["Sent"] is True
    paid = {m["number"] for m in by_move["invoice_paid"]}
    fully_paid = {i["DocumentNumber"] for i in api.get("/3/invoices?filter=fullypaid&limit=500").json()["Invoices"]}
    assert paid == fully_paid
    for number in paid:
        invoice = api.get(f"/3/invoices/{number}").json()["Invoice"]
        assert invoice["Booked"] is True and float(invoice["Balance"]) == 0 and invoice["FinalPayDate"]
    assert any(m["currency"] == "EUR" for m in by_move["invoice_paid"])
    payments = api.get("/3/invoicepayments").json()["InvoicePayments"]
    assert len(payments) == len(paid) and all(p["Booked"] for p in payments)

    report = requests.get(api.server.base + "/_sandbox/live", timeout=10).json()
    assert report["enabled"] and report["moved_total"] == len(made)
    assert {k: v for k, v in report["moves"].items() if v} == {k: len(v) for k, v in by_move.items()}
    assert report["documents"]["orders"] == 24 and report["refused"] == {}


def _plans(seed: int, *, delay: float = 60) -> dict[tuple[str, str], list[tuple[str, str, str]]]:
    """Create the same documents in a fresh live sandbox (in process), move them for 20 minutes."""
    app = create_app(seed=seed, live=True, live_delay_seconds=delay)
    mover: LiveFortnox = app.state.live
    tenant = app.sandbox.default.tenant_id
    clock = app.sandbox.clock
    clock.time = lambda: 1_796_000_000.0 + clock.offset  # type: ignore[method-assign]  # a frozen clock
    mover.started = clock.time()

    async def build() -> None:
        for i in range(12):
            status, _ = await mover.call(tenant, "POST", "/3/orders", _order(_customer(i)))
            assert status == 201
            status, _ = await mover.call(tenant, "POST", "/3/invoices", _invoice(_customer(i)))
            assert status == 201

    asyncio.run(build())
    made = _run(mover, minutes=20, step=45)
    out: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for m in made:
        out.setdefault((m["document"], m["number"]), []).append((m["move"], m.get("tracking", ""), m["at"]))
    return out


def test_the_same_seed_moves_the_same_documents_the_same_way() -> None:
    first, again, other = _plans(1), _plans(1), _plans(2)
    assert first == again
    assert len(first) >= 12
    assert first != other


def test_a_document_someone_else_moved_first_is_left_alone(live: tuple[Api, LiveFortnox]) -> None:
    api, mover = live
    numbers = [api.post("/3/orders", _order("2")).json()["Order"]["DocumentNumber"] for _ in range(4)]
    mover.scan()
    number = next(n for n in numbers if mover.plans[(api.credentials.tenant_id, "orders", n)].steps)
    assert api.put(f"/3/orders/{number}/cancel").status_code == 200  # the shop's staff got there first
    made = _run(mover, minutes=10)
    assert number not in {m["number"] for m in made if m["document"] == "order"}
    plan = mover.plans[(api.credentials.tenant_id, "orders", number)]
    assert plan.ended == "superseded: cancelled" and plan.done == []
    assert sum(mover.skipped.values()) >= 1


def test_a_move_fortnox_refuses_ends_the_plan_and_is_reported(live: tuple[Api, LiveFortnox]) -> None:
    api, mover = live
    numbers = [api.post("/3/invoices", _invoice("2")).json()["Invoice"]["DocumentNumber"] for _ in range(40)]
    mover.scan()
    plans = [mover.plans[(api.credentials.tenant_id, "invoices", n)] for n in numbers]
    plan = next(p for p in plans if p.steps and p.steps[0].move == "invoice_cancelled")
    # the customer paid part of it before anyone cancelled it: Fortnox refuses the cancel
    paid = api.post("/3/invoicepayments", {"InvoicePayment": {"InvoiceNumber": int(plan.number), "Amount": 10}})
    assert paid.status_code == 201
    made = _run(mover, minutes=4)
    refused = [m for m in made if m["number"] == plan.number and m["document"] == "invoice"]
    assert len(refused) == 1 and refused[0]["move"] == "invoice_cancelled"
    assert refused[0]["refused"].startswith("HTTP 400")
    assert plan.ended is not None and plan.ended.startswith("refused: HTTP 400") and plan.steps == []
    assert api.get(f"/3/invoices/{plan.number}").json()["Invoice"]["Cancelled"] is False
    report = requests.get(api.server.base + "/_sandbox/live", timeout=5).json()
    assert report["refused"] == {"invoice_cancelled": 1}


def test_the_loop_moves_documents_in_the_background_and_stops_on_shutdown() -> None:
    app = create_app(seed=1, live=True, live_delay_seconds=0, rate_limit=100_000)
    with serve_in_thread(app, lifespan="on") as base:
        server = Server(base, app.sandbox)
        api = Api(server, app.sandbox.default, server.token(app.sandbox.default))
        numbers = [api.post("/3/orders", _order("3")).json()["Order"]["DocumentNumber"] for _ in range(3)]
        deadline = time.monotonic() + 15
        report: dict[str, Any] = {}
        while time.monotonic() < deadline:
            report = requests.get(base + "/_sandbox/live", timeout=5).json()
            if report["moved_total"] >= 2:
                break
            time.sleep(0.1)
        assert report["moved_total"] >= 2 and report["loop"]["running"], report
        moved = [m["number"] for m in report["recent"] if m["document"] == "order"]
        order = api.get(f"/3/orders/{moved[0]}").json()["Order"]
        assert moved[0] in numbers
        assert order["Cancelled"] or order["InvoiceReference"] != "0" or order["ExternalInvoiceReference2"]
    assert not app.state.live_loop.running


def test_without_live_there_is_no_mover_and_no_loop(server: Server) -> None:
    assert requests.get(server.base + "/_sandbox/live", timeout=5).json()["enabled"] is False
    assert requests.post(server.base + "/_sandbox/live/tick", timeout=5).status_code == 409
    app = create_app(seed=1)
    assert app.state.live is None and app.state.live_loop is None


def test_tracking_numbers_are_s10_parcel_ids_with_the_upu_check_digit() -> None:
    assert s10_check_digit("12345678") == 5  # RR123456785SE, the UPU example
    assert s10_check_digit("47312482") == 9  # AA473124829GB
    numbers = {tracking_number(random.Random(n)) for n in range(50)}
    assert len(numbers) == 50
    assert all(S10.match(t) and int(t[10]) == s10_check_digit(t[2:10]) for t in numbers)
