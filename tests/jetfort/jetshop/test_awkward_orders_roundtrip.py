"""Every awkward order kind survives the trip sandbox -> SOAP -> zeep -> jetfort model unchanged."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from jetfort.jetshop.convert import aware, to_wire_time
from jetfort.jetshop.hook import JetshopHook
from jetfort.shop.models import PaymentProvider, RowType, ShopOrder
from sandbox.jetshop.seed import AWKWARD_KINDS
from sandbox.jetshop.state import JetshopSandbox

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def _assert_same(order: ShopOrder, raw: dict[str, Any]) -> None:
    assert order.order_id == raw["OrderId"] and order.currency == raw["CurrencyCode"]
    assert order.total_inc_vat == raw["OrderTotalIncVat"] and order.vat_total == raw["VatTotal"]
    assert order.total_ex_vat == raw["OrderTotalExVat"]
    assert order.order_discount_inc_vat == raw["OrderDiscountIncVat"] and order.discount_code == raw["DiscountCode"]
    assert order.payment.authorized_amount == raw["AuthorizedAmount"]
    assert order.payment.fee_inc_vat == raw["PaymentFeeIncVat"]
    assert order.freight_inc_vat == raw["FreightPriceIncVat"] and order.freight_vat_rate == raw["FreightVat"]
    assert order.customer.email == raw["Email"] and order.customer.company_name == raw["CompanyName"]
    assert order.comment == raw["Comment"]
    for prefix, address in (("BillTo", order.billing), ("ShipTo", order.delivery)):
        assert (address.first_name, address.last_name, address.street, address.company, address.country_code) == (
            raw[prefix + "FirstName"], raw[prefix + "LastName"], raw[prefix + "Address"], raw[prefix + "Company"],
            raw[prefix + "CountryCode"])
    assert len(order.rows) == len(raw["OrderItems"])
    for row, r in zip(order.rows, raw["OrderItems"], strict=True):
        assert row.article_number == (r["ArticleNumber"] or None)
        assert (row.name, row.quantity, row.variant_text) == (r["Name"], r["Quantity"], r["AttValue"])
        assert (row.unit_price_inc_vat, row.vat_rate, row.discount_inc_vat, row.total_inc_vat) == (
            r["UnitPriceIncVat"], r["Vat"], r["DiscountIncVat"], r["RowTotalIncVat"])
        assert row.row_type.value == r["ItemType"]


@pytest.mark.parametrize("kind", AWKWARD_KINDS)
def test_awkward_order_round_trips(kind: str, hook: JetshopHook, sb: JetshopSandbox) -> None:
    oid = sb.awkward_orders()[kind]
    _assert_same(hook.get_order(oid), sb.order("demoshop", oid))


def test_kind_specific_meanings_reach_the_model(hook: JetshopHook, sb: JetshopSandbox) -> None:
    kinds = sb.awkward_orders()
    assert hook.get_order(kinds["unknown_status_id"]).status_name == ""
    assert hook.get_order(kinds["missing_article_number"]).rows[1].article_number is None
    assert hook.get_order(kinds["negative_quantity"]).rows[1].quantity == -1
    gift = hook.get_order(kinds["gift_card_redeemed_row"]).rows[1]
    assert gift.row_type is RowType.GIFT_CARD and gift.unit_price_inc_vat == Decimal("-200.0000")
    eur = hook.get_order(kinds["currency_eur_eu_consumer"])
    assert (eur.currency, eur.culture, eur.currency_rate) == ("EUR", "en-GB", Decimal("11.4523"))
    assert hook.get_order(kinds["swish_payment"]).payment.provider is PaymentProvider.SWISH
    assert not hook.get_order(kinds["swish_payment"]).payment.provider.capturable
    assert hook.get_order(kinds["company_buyer_eu_reverse_charge"]).customer.is_company
    assert not hook.get_order(kinds["plain_single_row"]).customer.is_company
    special = hook.get_order(kinds["xml_special_chars"])
    assert special.billing.street == "Ängsvägen <1>" and "🎁" in special.comment


def test_all_demo_orders_page_through_the_hook(hook: JetshopHook, sb: JetshopSandbox) -> None:
    sb.generate_orders("demoshop", 300, seed=5)
    orders = hook.list_orders(page_size=200)
    assert len(orders) == len(sb.orders("demoshop"))
    assert {o.order_id for o in orders} == {o["OrderId"] for o in sb.orders("demoshop")}


def test_shop_times_convert_both_ways_across_daylight_saving() -> None:
    winter, summer = datetime(2026, 1, 16, 9, 30, 47, 690000), datetime(2026, 7, 1, 12, 0)
    assert aware(winter, STOCKHOLM).utcoffset().total_seconds() == 3600  # type: ignore[union-attr]
    assert aware(summer, STOCKHOLM).utcoffset().total_seconds() == 7200  # type: ignore[union-attr]
    utc_noon = datetime.fromisoformat("2026-07-01T10:00:00+00:00")
    assert to_wire_time(utc_noon, STOCKHOLM) == summer
    assert to_wire_time(summer, STOCKHOLM) == summer  # naive input is already shop-local
