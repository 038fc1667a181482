"""Stock and stock status by thresholds, per shop; warehouse balances summed over stock points."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest

from jetfort.mapping.stock import StockPolicy, shop_stock_policy, stock_quantities, stock_update
from jetfort.rules import parse_tenant

POLICY = StockPolicy(low_at_or_below=5, out_at_or_below=0, in_stock=1, out_of_stock=2, low_stock=3, expected=9)


@pytest.mark.parametrize(("quantity", "count", "status"), [
    (Decimal("12"), 12, 1), (Decimal("5"), 5, 3), (Decimal("1.9"), 1, 3), (Decimal("0"), 0, 2),
    (Decimal("-4"), 0, 2), (None, 0, 2),
])
def test_status_by_thresholds(quantity: Decimal | None, count: int, status: int) -> None:
    update, cell = stock_update("1001", quantity, POLICY)
    assert (update.stock_count, update.stock_status_id) == (count, status)
    assert cell == f"{count}|{status}|"


def test_out_of_stock_with_an_expected_date_uses_the_expected_status() -> None:
    day = dt.date(2027, 1, 15)
    update, cell = stock_update("1001", 0, POLICY, day)
    assert update.stock_status_id == 9 and update.delivery_date is not None
    assert update.delivery_date.date() == day and cell.endswith("|2027-01-15")
    no_expected = StockPolicy(low_at_or_below=5, out_at_or_below=0, in_stock=1, out_of_stock=2, expected=None)
    assert stock_update("1001", 0, no_expected, day)[0].stock_status_id == 2
    assert stock_update("1001", 8, POLICY, day)[0].delivery_date is None  # in stock: no date


def test_shop_policy_takes_a_channel_override() -> None:
    rules = parse_tenant("t", {
        "flow": "erp", "fortnox_conn_id": "fx",
        "shops": [{"key": "se", "jetshop_conn_id": "a", "channels": [
            {"key": "se", "culture": "sv-SE", "currency": "SEK", "price_list_guid": "7C7DFEC3-2312-4DC9-A74F-913F3DA0C686"}]},
            {"key": "nordic", "jetshop_conn_id": "b", "channels": [
                {"key": "fi", "culture": "fi-FI", "currency": "EUR", "price_list_guid": "9D04E5F7-3C1A-4B0E-A2D8-77C1E0B4F3A2"}]}],
        "stock": {"thresholds": {"low_at_or_below": 5, "out_at_or_below": 0},
                  "per_channel": {"nordic/fi": {"thresholds": {"low_at_or_below": 10, "out_at_or_below": 2}}}},
    })
    assert shop_stock_policy(rules, "se").out_at_or_below == 0
    nordic = shop_stock_policy(rules, "nordic")
    assert nordic.out_at_or_below == 2 and stock_update("1", 2, nordic)[0].stock_status_id == nordic.out_of_stock


def test_warehouse_balances_are_summed_over_the_tenants_stock_points() -> None:
    rows = [SimpleNamespace(item_id="1001", stock_point_code="HUV", available_stock=Decimal(4)),
            SimpleNamespace(item_id="1001", stock_point_code="BUTIK", available_stock=Decimal(3)),
            SimpleNamespace(item_id="1001", stock_point_code="RETUR", available_stock=Decimal(100)),
            SimpleNamespace(item_id="1002", stock_point_code="HUV", available_stock=None)]
    assert stock_quantities(rows, ["HUV", "BUTIK"]) == {"1001": Decimal(7), "1002": Decimal(0)}
