"""Pushed orders as the orders flow reads them: pending inbox rows of the shop's Norce connection, read
with the shop backend; unreadable ones are returned (never dropped) and rows leave the inbox only when
marked consumed."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from jetfort.ledger import Ledger
from jetfort.norce.backend import NorceShop
from jetfort.norce.settings import NorceSettings
from jetfort.rules import parse_tenant
from jetfort.shop.errors import ShopUnreadableOrder
from jetfort.tasks.orders.inbox import mark_consumed, note_unusable, read_pushed
from jetfort.tasks.runtime import TenantRuntime

REPO = Path(__file__).resolve().parents[3]
COMBO = json.loads((REPO / "include/mappings/tenants/demo_combo.json").read_text())
CONN = "norce_demo"
NORCE_SHOP = {
    "key": "norce", "backend": "norce", "norce_conn_id": CONN,
    "channels": [{"key": "se", "norce_application_id": 1244, "culture": "sv-SE", "currency": "SEK",
                  "norce_price_list": "SEK-BASE", "fortnox_price_list": "A"}],
}
#: A pushed OrderRequest (norce-api.md §2a): 2 x ART-1 at 79.20 + 19.80 VAT.
ORDER: dict[str, Any] = {
    "Header": {"ApplicationKey": None}, "ClientOrderRef": "1000123", "ErpOrderNo": "", "OrderType": 1,
    "SubmitDate": "2026-12-01T10:15:00", "CurrencyCode": "SEK",
    "SellTo": {"Company": None, "Person": {"Email": "anna@example.se", "FirstName": "Anna", "LastName": "Svensson",
                                           "Address": {"Line1": "Storgatan 1", "ZipCode": "11122",
                                                       "City": "Stockholm", "Country": "SE"}}},
    "Items": [{"LineNo": 1, "PartNo": "ART-1", "Description": "Mug", "Quantity": 2, "UnitPrice": 79.2,
               "UnitPriceOriginal": 79.2, "UnitVat": 19.8, "VatRate": 25, "Discount": 0,
               "Type": "ErpStandard", "TypeGroup": "Physical"}],
    "Payments": [{"PaymentCode": 7, "PaymentMethodCode": "CARD", "PaymentRef": "psp-9f2", "Amount": 198.0,
                  "CurrencyCode": "SEK", "PaymentName": "Card"}],
}


@pytest.fixture
def runtime(sqlite_url: str) -> TenantRuntime:
    rules = copy.deepcopy(COMBO)
    rules["shops"] = [COMBO["shops"][0], NORCE_SHOP]
    for section, name in (("orders", "trigger_statuses_by_shop"), ("orders", "transferred_status_by_shop"),
                          ("status_map", "states_by_shop"), ("stock", "per_channel")):
        rules.get(section, {}).pop(name, None)
    rules.pop("price_lists", None)
    return TenantRuntime(parse_tenant("mix", rules), ledger=Ledger.from_url(sqlite_url))


@pytest.fixture
def shop() -> NorceShop:
    settings = NorceSettings.from_params(conn_id=CONN, slug="demoshop", environment="stage", client_id="jetfort-demo",
                                         client_secret="norce-demo-secret", application_id=1244)
    return NorceShop(CONN, settings=settings, clock=lambda: dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC))


def test_pushed_orders_are_read_with_the_shop_backend(runtime: TenantRuntime, shop: NorceShop) -> None:
    runtime.ledger.inbox_put(CONN, "1000123", ORDER)
    batch = read_pushed(runtime, "norce", shop)
    assert batch.unreadable == []
    [order] = batch.orders
    assert (order.order_id, order.order_number, order.channel_id, order.shop_id) == (1000123, "1000123", 1244,
                                                                                    "demoshop")
    assert order.total_inc_vat == Decimal("198.00")
    assert runtime.ledger.inbox_count_pending(CONN) == 1  # reading consumes nothing


def test_an_unreadable_push_is_returned_not_dropped(runtime: TenantRuntime, shop: NorceShop) -> None:
    runtime.ledger.inbox_put(CONN, "basket-7", {**ORDER, "ClientOrderRef": "basket-7"})  # not an int32
    runtime.ledger.inbox_put(CONN, "1000123", ORDER)
    batch = read_pushed(runtime, "norce", shop)
    assert [o.order_id for o in batch.orders] == [1000123]
    [problem] = batch.unreadable
    assert problem.order_id is None and problem.field_path == "ClientOrderRef"
    assert batch.unreadable_refs == ["basket-7"] and batch.ref_of == {1000123: "1000123"}
    assert set(batch.refs) == {"basket-7", "1000123"}


class _BuggyShop:
    def order_from_push(self, payload: dict[str, Any]) -> Any:
        return payload["NoSuchField"]


def test_a_reader_that_fails_otherwise_still_reports_the_order(runtime: TenantRuntime) -> None:
    runtime.ledger.inbox_put(CONN, "1000123", ORDER)
    batch = read_pushed(runtime, "norce", _BuggyShop())  # type: ignore[arg-type]
    assert batch.orders == []
    [problem] = batch.unreadable
    assert isinstance(problem, ShopUnreadableOrder)
    assert (problem.order_id, problem.order_number, problem.field) == (1000123, "1000123", "OrderRequest")
    assert "KeyError" in str(problem)


def test_consumed_rows_are_not_read_again_and_a_newer_push_is_kept(runtime: TenantRuntime, shop: NorceShop) -> None:
    runtime.ledger.inbox_put(CONN, "1000123", ORDER)
    runtime.ledger.inbox_put(CONN, "1000124", {**ORDER, "ClientOrderRef": "1000124"})
    batch = read_pushed(runtime, "norce", shop)
    runtime.ledger.inbox_put(CONN, "1000124", {**ORDER, "ClientOrderRef": "1000124",
                                               "CustomerOrderComment": "ring twice"})
    assert mark_consumed(runtime, "norce", batch.consumable()) == 1
    again = read_pushed(runtime, "norce", shop)
    assert [(o.order_id, o.comment) for o in again.orders] == [(1000124, "ring twice")]


def test_limit_and_keep(runtime: TenantRuntime, shop: NorceShop) -> None:
    for ref in ("1000123", "1000124", "1000125"):
        runtime.ledger.inbox_put(CONN, ref, {**ORDER, "ClientOrderRef": ref})
    batch = read_pushed(runtime, "norce", shop, limit=2)
    assert [o.order_id for o in batch.orders] == [1000123, 1000124]
    assert mark_consumed(runtime, "norce", batch.consumable(keep=["1000124"])) == 1
    note_unusable(runtime, "norce", {"1000124": "left for the next run"})
    pending = runtime.ledger.inbox_pending(CONN)
    assert [(e.ref, e.last_error) for e in pending] == [("1000124", "left for the next run"), ("1000125", None)]


def test_a_shop_without_a_norce_connection_has_no_inbox(runtime: TenantRuntime, shop: NorceShop) -> None:
    jetshop_key = runtime.rules.shops[0].key
    runtime.ledger.inbox_put(CONN, "1000123", ORDER)
    batch = read_pushed(runtime, jetshop_key, shop)
    assert (batch.orders, batch.unreadable, batch.refs) == ([], [], {})
    assert mark_consumed(runtime, jetshop_key, ["1000123"]) == 0
    assert runtime.ledger.inbox_count_pending(CONN) == 1
    with pytest.raises(KeyError, match="no shop 'nowhere'"):
        read_pushed(runtime, "nowhere", shop)
