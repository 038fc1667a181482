"""Order push: Norce POSTs OrderRequest with Basic auth, retries on failure, sometimes twice; shapes per §2a."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox.norce.state import NorceSandbox
from sandbox.server import serve_in_thread

OK = (200, {"StatusCode": "OK", "Description": "", "HasErpOrderNo": False, "ErpOrderNo": None})


@dataclass
class Receiver:
    url: str
    calls: list[dict[str, Any]] = field(default_factory=list)
    script: list[tuple[int, Any]] = field(default_factory=list)
    delay: float = 0.0


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[Receiver]:
    app = FastAPI()
    box = Receiver("")

    @app.post("/{path:path}")
    async def receive(path: str, request: Request) -> Response:
        box.calls.append({"path": "/" + path, "auth": request.headers.get("authorization"),
                          "body": await request.json()})
        if box.delay:
            await asyncio.sleep(box.delay)
        status, body = box.script.pop(0) if box.script else OK
        return JSONResponse(body, status_code=status) if not isinstance(body, str) else Response(body, status)

    with serve_in_thread(app) as base:
        box.url = base + "/erp/orders"
        yield box


@pytest.fixture
def receiver(receiver_server: Receiver, sb: NorceSandbox) -> Receiver:
    receiver_server.calls.clear()
    receiver_server.script.clear()
    receiver_server.delay = 0.0
    sb.set_push_target(receiver_server.url, "norce", "s3cret")
    return receiver_server


def add(sb: NorceSandbox, **spec: Any) -> str:
    return sb.add_order({"rows": [{"part_no": "1001", "qty": 2}], "freight_inc_vat": "49.00", **spec}).ref


def test_new_order_is_pushed_with_basic_auth_as_an_order_request(sb: NorceSandbox, receiver: Receiver) -> None:
    ref = add(sb)
    assert ref == "100121"  # the 20 seeded orders have 100101 ... 100120
    assert sb.push_pending() == 1
    (call,) = receiver.calls
    assert call["path"] == "/erp/orders"
    assert call["auth"] == "Basic " + base64.b64encode(b"norce:s3cret").decode()
    body = call["body"]
    assert body["ClientOrderRef"] == "100121" and isinstance(body["ClientOrderRef"], str)
    assert "OrderNo" not in body and "TotalAmount" not in body and "OrderTotal" not in body
    assert body["SubmitDate"] == "2025-06-12T14:00:00"  # 12:00Z in Stockholm summer time, no offset
    tee, freight = body["Items"]
    assert (tee["Quantity"], tee["Quantity2"], tee["UnitPrice"], tee["UnitVat"], tee["VatRate"]) == \
        (2, None, 199.2, 49.8, 25.0)
    assert (freight["Type"], freight["TypeGroup"], freight["UnitPrice"]) == ("Freight", "Fee", 39.2)
    assert body["Payments"][0]["Amount"] == 547.0  # incl. VAT: 2 x 249.00 + 49.00
    assert sb.order_state(ref)["pushes"][0]["state"] == "delivered"
    assert sb.push_pending() == 0


def test_legacy_path_appends_create_order(sb: NorceSandbox, receiver: Receiver) -> None:
    sb.set_push_target(receiver.url, "norce", "s3cret", legacy_path=True)
    add(sb)
    sb.push_pending()
    assert receiver.calls[0]["path"] == "/erp/orders/CreateOrder"


def test_failures_are_retried_after_5_then_10_seconds(sb: NorceSandbox, receiver: Receiver) -> None:
    receiver.script[:] = [(500, "boom"), (200, {"StatusCode": "Failed", "Description": "ERP down"}), OK]
    ref = add(sb)
    assert sb.push_pending() == 1
    assert sb.push_pending() == 0  # not due yet
    sb.advance(4.9)
    assert sb.push_pending() == 0
    sb.advance(0.1)
    assert sb.push_pending() == 1
    sb.advance(9.9)
    assert sb.push_pending() == 0
    sb.advance(0.1)
    assert sb.push_pending() == 1
    (push,) = sb.order_state(ref)["pushes"]
    assert [a["reason"] for a in push["attempts"]] == ["HTTP 500", "StatusCode 'Failed': ERP down", "OK"]
    assert push["state"] == "delivered" and len(receiver.calls) == 3


def test_gives_up_after_the_schedule(sb: NorceSandbox, receiver: Receiver) -> None:
    sb.set_knobs(push_schedule=[1, 1])
    receiver.script[:] = [(503, "down")] * 5
    ref = add(sb)
    for _ in range(4):
        sb.push_pending()
        sb.advance(1)
    assert sb.order_state(ref)["pushes"][0]["state"] == "dead"
    assert len(receiver.calls) == 3


def test_erp_number_from_the_response_becomes_the_order_number(sb: NorceSandbox, receiver: Receiver) -> None:
    receiver.script[:] = [(200, {"statusCode": "OK", "hasErpOrderNo": True, "erpOrderNo": "FN-77"})]
    ref = add(sb)
    sb.push_pending()
    state = sb.order_state(ref)
    assert state["order_no"] == "FN-77" and state["query_row"]["OrderNo"] == "FN-77"


def test_duplicate_push_knob_sends_the_same_order_twice(sb: NorceSandbox, receiver: Receiver) -> None:
    sb.set_knobs(duplicate_push_percent=100.0)
    ref = add(sb)
    sb.push_pending()
    sb.advance(5)
    sb.push_pending()
    assert [c["body"]["ClientOrderRef"] for c in receiver.calls] == [ref, ref]
    assert sb.stats()["pushes"]["duplicates"] == 1


def test_a_slow_receiver_times_out_and_gets_the_order_again(sb: NorceSandbox, receiver: Receiver) -> None:
    sb.set_knobs(push_timeout=0.2)
    receiver.delay = 0.5
    ref = add(sb)
    sb.push_pending()
    receiver.delay = 0.0
    sb.advance(5)
    sb.push_pending()
    assert [c["body"]["ClientOrderRef"] for c in receiver.calls] == [ref, ref]
    attempts = sb.order_state(ref)["pushes"][0]["attempts"]
    assert attempts[0]["reason"] == "ReadTimeout" and attempts[1]["ok"] is True


def test_no_target_no_push(sb: NorceSandbox) -> None:
    add(sb)
    assert sb.push_pending() == 0


def test_seeded_special_orders_render_per_reference(sb: NorceSandbox) -> None:
    decimal = sb.order_state("100102")["order_request"]["Items"][0]
    assert (decimal["Quantity"], decimal["Quantity2"], decimal["UnitOfMeasure"]) == (1, 1.5, "kg")
    b2b = sb.order_state("100103")["order_request"]
    assert b2b["SellTo"]["Company"]["VatNo"] == "SE556677889901"
    assert b2b["SellTo"]["Person"]["Address"]["Country"] == "SE"
    assert b2b["CustomerOrderRef"] == "PO-4711"
    eur = sb.order_state("100104")["order_request"]
    assert eur["CurrencyCode"] == "EUR" and eur["Items"][0]["VatRate"] == 25.5
    assert sb.order_state("100101")["order_request"]["SellTo"]["Company"] is None
    discounted = sb.order_state("100105")["order_request"]["Items"][0]
    assert (discounted["UnitPrice"], discounted["UnitPriceOriginal"], discounted["Discount"]) == (55.2, 63.2, 32.0)


def test_admin_routes_add_and_push(sb: NorceSandbox, receiver: Receiver, base_url: str) -> None:
    import requests  # the admin API as e2e tests use it

    added = requests.post(base_url + "/_sandbox/orders", json={"rows": [{"part_no": "1011", "qty": "0.5"}]},
                          timeout=10).json()
    run = requests.post(base_url + "/_sandbox/push/run", timeout=10).json()
    assert run["attempts"] == 1 and receiver.calls[0]["body"]["ClientOrderRef"] == added["client_order_ref"]
    state = requests.get(base_url + f"/_sandbox/orders/{added['client_order_ref']}", timeout=10).json()
    assert state["pushes"][0]["state"] == "delivered"
    assert "s3cret" not in requests.get(base_url + "/_sandbox/push", timeout=10).text


def test_an_external_order_ref_that_is_not_an_int32_is_served_as_is(sb: NorceSandbox, receiver: Receiver) -> None:
    ref = add(sb, client_order_ref="EXT-1", erp_order_no="FN-5")
    sb.push_pending()
    assert receiver.calls[0]["body"]["ClientOrderRef"] == "EXT-1"
    row = sb.order_state(ref)["query_row"]
    assert row["QuotationId"] is None and row["OrderNo"] == "FN-5"
