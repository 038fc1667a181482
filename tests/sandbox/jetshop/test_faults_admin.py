"""Fault knobs really break the transport, and the /_sandbox admin routes expose and change state."""

from __future__ import annotations

import time

import pytest
import requests

from sandbox.jetshop.state import JetshopSandbox
from tests.sandbox.jetshop.wire import add_update, post, product_get, text, xml

NEW = add_update("<ArticleNumber>F-1</ArticleNumber><Culture>sv-SE</Culture><Name>Fault</Name>")


def test_reset_aborts_the_connection_without_doing_the_work(http: requests.Session, url: str,
                                                             sb: JetshopSandbox) -> None:
    sb.faults.update(forced={"reset": 1})
    with pytest.raises(requests.ConnectionError):
        post(http, url, NEW)
    assert sb.product("demoshop", "F-1") is None
    assert sb.faults.counts["reset"] == 1
    assert post(http, url, NEW).status_code == 200  # next request is served normally


def test_drop_after_commit_does_the_work_then_aborts(http: requests.Session, url: str,
                                                      sb: JetshopSandbox) -> None:
    sb.faults.update(forced={"drop_after_commit": 1})
    with pytest.raises(requests.ConnectionError):
        post(http, url, NEW)
    assert sb.product("demoshop", "F-1") is not None
    again = xml(post(http, url, NEW))
    assert text(again, "StatusMainProductCreateDelete") == "SuccessUpdate"


def test_server_error_is_a_5xx_without_a_soap_fault(http: requests.Session, url: str, sb: JetshopSandbox) -> None:
    sb.faults.update(forced={"server_error": 1})
    r = post(http, url, NEW)
    assert r.status_code == 503 and "Fault" not in r.text
    assert sb.product("demoshop", "F-1") is None


def test_latency_and_rate_limit_knobs(http: requests.Session, url: str, sb: JetshopSandbox) -> None:
    sb.faults.update(latency=0.3)
    started = time.monotonic()
    assert post(http, url, product_get("1001")).status_code == 200
    assert time.monotonic() - started >= 0.3
    sb.faults.update(latency=0.0, forced={"rate_limit": 1})
    assert post(http, url, product_get("1001")).status_code == 429


def test_fault_probabilities_are_replayable_from_their_seed(http: requests.Session, url: str,
                                                            sb: JetshopSandbox) -> None:
    def run() -> list[int]:
        sb.clear_faults()
        sb.faults.update(server_error=0.5, seed=42)
        return [post(http, url, product_get("1001")).status_code for _ in range(12)]
    first = run()
    assert 200 in first and 503 in first
    assert run() == first


def test_admin_faults_route_sets_and_rejects_knobs(base_url: str, sb: JetshopSandbox) -> None:
    r = requests.post(f"{base_url}/_sandbox/faults", json={"server_error": 0.25}, timeout=10)
    assert r.status_code == 200 and sb.faults.plan.server_error == 0.25
    assert requests.post(f"{base_url}/_sandbox/faults", json={"bogus": 1}, timeout=10).status_code == 400
    assert requests.get(f"{base_url}/_sandbox/faults", timeout=10).json()["plan"]["server_error"] == 0.25
    requests.delete(f"{base_url}/_sandbox/faults", timeout=10)
    assert sb.faults.plan.server_error == 0


def test_admin_routes_expose_orders_kinds_and_events(base_url: str, http: requests.Session, url: str,
                                                     sb: JetshopSandbox) -> None:
    kinds = requests.get(f"{base_url}/_sandbox/awkward-kinds", timeout=10).json()
    assert len(kinds["kinds"]) >= 30 and set(kinds["orders"]) == set(kinds["kinds"])
    oid = kinds["orders"]["currency_eur_eu_consumer"]
    by_kind = requests.get(f"{base_url}/_sandbox/shops/demoshop/orders",
                           params={"kind": "currency_eur_eu_consumer"}, timeout=10).json()
    assert [o["OrderId"] for o in by_kind] == [oid]
    assert by_kind[0]["CurrencyCode"] == "EUR" and isinstance(by_kind[0]["OrderTotalIncVat"], str)
    body = ('<Order_UpdateStatus xmlns="WebServiceProvider"><orderStatusUpdates><OrderStatusUpdate>'
            f"<OrderId>{oid}</OrderId><OrderStatusId>3</OrderStatusId><TrackingNumber>Z9</TrackingNumber>"
            "<SendEmailToCustomer>true</SendEmailToCustomer></OrderStatusUpdate></orderStatusUpdates>"
            "</Order_UpdateStatus>")
    assert text(xml(post(http, url, body)), "Success") == "true"
    captures = requests.get(f"{base_url}/_sandbox/captures", params={"order_id": oid}, timeout=10).json()
    assert len(captures) == 1 and captures[0]["currency"] == "EUR"
    emails = requests.get(f"{base_url}/_sandbox/emails", params={"shop_id": "demoshop"}, timeout=10).json()
    assert [e["order_id"] for e in emails] == [oid] and emails[0]["to"] == "lukas@example.de"
    changes = requests.get(f"{base_url}/_sandbox/status-changes", timeout=10).json()
    assert changes[0]["to_status_id"] == 3 and changes[0]["tracking_number"] == "Z9"
    shops = requests.get(f"{base_url}/_sandbox/shops", timeout=10).json()
    assert {s["shop_id"] for s in shops} == {"demoshop", "nordicshop"}


def test_admin_add_generate_touch_and_reset(base_url: str, sb: JetshopSandbox) -> None:
    added = requests.post(f"{base_url}/_sandbox/shops/demoshop/orders", timeout=10, json={
        "rows": [{"article": "1001", "qty": 2}], "freight": "0", "kind": "demo-added",
        "order_date": "2026-11-20T10:00:00"}).json()["order_id"]
    order = sb.order("demoshop", added)
    assert order["OrderTotalIncVat"] == 498 and order["_kind"] == "demo-added"
    bad = requests.post(f"{base_url}/_sandbox/shops/demoshop/orders", json={"nonsense": 1}, timeout=10)
    assert bad.status_code == 400
    ids = requests.post(f"{base_url}/_sandbox/shops/nordicshop/orders/generate", json={"count": 5}, timeout=10)
    assert len(ids.json()["order_ids"]) == 5
    assert all(sb.order("nordicshop", i)["OrderStatusId"] == 10 for i in ids.json()["order_ids"])
    requests.post(f"{base_url}/_sandbox/shops/demoshop/orders/touch",
                  json={"order_ids": [added], "when": "2026-12-24T15:00:00"}, timeout=10)
    assert sb.order("demoshop", added)["ModifiedDate"].isoformat() == "2026-12-24T15:00:00"
    count = len(sb.orders("demoshop"))
    reset = requests.post(f"{base_url}/_sandbox/reset", json={"seed": 1}, timeout=10).json()
    assert reset["seed"] == 1 and len(sb.orders("demoshop")) == count - 1
    assert requests.get(f"{base_url}/_sandbox/shops/nope/orders", timeout=10).status_code == 404


def test_articles_can_be_seeded_explicitly(base_url: str, http: requests.Session, url: str) -> None:
    r = requests.post(f"{base_url}/_sandbox/shops/demoshop/articles", timeout=10, json=[
        {"article_number": "FNX-101", "name": "Hammare", "vat": "0.25", "price_inc_vat": "250", "stock": 3}])
    assert r.json() == {"count": 1}
    root = xml(post(http, url, product_get("FNX-101")))
    assert (text(root, "Name"), text(root, "Price"), text(root, "NewStockCount")) == ("Hammare", "200.0000", "3")
    product = requests.get(f"{base_url}/_sandbox/shops/demoshop/products/FNX-101", timeout=10).json()
    assert product["prices"]["7C7DFEC3-2312-4DC9-A74F-913F3DA0C686"]["PriceIncVat"] == "250"
