"""Contract: JetshopHook talks to the sandbox through the WSDL for every operation, in jetfort's models."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from jetfort.jetshop.errors import JetshopNotFound
from jetfort.jetshop.hook import JetshopHook
from jetfort.jetshop.modelled import CONFIRMED_OPERATIONS, MODELLED_OPERATIONS
from jetfort.shop.models import (
    DynamicFieldValue,
    PaymentProvider,
    PriceListPrice,
    ProductUpsert,
    StockUpdate,
)
from sandbox.jetshop.modelled import MODELLED_OPERATIONS as SANDBOX_MODELLED
from sandbox.jetshop.state import JetshopSandbox

STOCKHOLM = ZoneInfo("Europe/Stockholm")
PL_SE = "7C7DFEC3-2312-4DC9-A74F-913F3DA0C686"
PL_NO = "0036268D-6D49-4A21-B0A2-3C12AF44FB14"


def test_every_wsdl_operation_is_exercised_here_and_listed_as_confirmed_or_modelled(
        sb: JetshopSandbox, hook: JetshopHook) -> None:
    assert set(sb.schema.operations) == set(CONFIRMED_OPERATIONS) | set(MODELLED_OPERATIONS)
    assert tuple(SANDBOX_MODELLED) == MODELLED_OPERATIONS
    hook.get_statuses()
    hook.get_channels()
    hook.search_orders_page()
    hook.get_order(10000)
    hook.set_order_status(10000, 2)
    hook.capture_payment(10001)
    hook.get_product("1001")
    hook.search_products_page()
    hook.upsert_products([ProductUpsert(article_number="C-1", name="c")])
    hook.update_prices([PriceListPrice(article_number="C-1", price_list_id=PL_SE, price_inc_vat=Decimal(10))])
    hook.save_dynamic_fields([DynamicFieldValue(article_number="1001", key="atr_colour", values={"sv-SE": "Röd"})])
    hook.get_dynamic_fields("1001")
    hook.delete_product("C-1")
    called = {c["operation"] for c in sb.calls}
    assert called == set(sb.schema.operations)


def test_statuses_and_channels(hook: JetshopHook, make_hook: Callable[..., JetshopHook]) -> None:
    statuses = {s.status_id: s for s in hook.get_statuses()}
    assert statuses[3].captures_payment and statuses[3].name == "Skickad"
    assert statuses[4].is_cancelled and not statuses[1].captures_payment
    assert {s.name for s in hook.get_statuses("en-GB")} >= {"Delivered", "Cancelled"}
    channels = {c.channel_id: c for c in hook.get_channels()}
    assert (channels[2].currency, channels[2].culture, channels[2].price_list_id) == ("NOK", "nb-NO", PL_NO)
    assert channels[1].is_default and channels[4].currency == "EUR"
    nordic = make_hook("nordicshop")
    assert [s.status_id for s in nordic.get_statuses()] == [10, 20, 30, 40, 50]


def test_iter_orders_pages_through_everything_once(hook: JetshopHook, sb: JetshopSandbox) -> None:
    expected = sorted(o["OrderId"] for o in sb.orders("demoshop") if o["OrderStatusId"] == 1)
    got = [o.order_id for o in hook.iter_orders(status_id=1, page_size=6)]
    assert sorted(got) == expected and len(got) == len(set(got))
    page = hook.search_orders_page(status_id=1, page_size=6)
    assert page.total_count == len(expected) and page.has_more and len(page.orders) == 6
    calls = sb.call_count("Order_Search")
    list(hook.iter_orders(status_id=1, page_size=6))
    assert sb.call_count("Order_Search") - calls == -(-len(expected) // 6)


def test_search_by_channel_and_modified_window_with_aware_datetimes(hook: JetshopHook, sb: JetshopSandbox) -> None:
    norway = hook.list_orders(channel_id=2)
    assert norway and {o.currency for o in norway} == {"NOK"}
    # 10:00-12:00 Stockholm (CET, UTC+1) written as UTC: 09:00-11:00Z
    frm = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    orders = hook.list_orders(modified_from=frm, modified_to=frm + timedelta(hours=2))
    local = [o for o in sb.orders("demoshop")
             if datetime(2026, 11, 2, 10) <= o["ModifiedDate"] < datetime(2026, 11, 2, 12)]
    assert sorted(o.order_id for o in orders) == sorted(o["OrderId"] for o in local) and local
    for order in orders:
        assert order.modified_date.tzinfo is not None
        assert frm <= order.modified_date < frm + timedelta(hours=2)


def test_get_order_maps_every_part_of_the_order(hook: JetshopHook, sb: JetshopSandbox) -> None:
    oid = sb.awkward_orders()["company_buyer_se"]
    raw = sb.order("demoshop", oid)
    order = hook.get_order(oid)
    assert order.shop_id == "demoshop" and order.key == f"demoshop:{oid}"
    assert order.order_date == raw["OrderDate"].replace(tzinfo=STOCKHOLM)
    assert order.customer.is_company and order.customer.org_number == "556677-8899"
    assert order.customer.vat_number == "SE556677889901" and order.customer.customer_id == 7001
    assert order.billing.company == "Bygg & Co AB" and order.delivery.city == raw["ShipToCity"]
    assert order.channel_id == 3 and order.currency == "SEK" and order.culture == "sv-SE"
    assert order.payment.provider is PaymentProvider.INVOICE
    assert order.total_inc_vat == raw["OrderTotalIncVat"] and isinstance(order.total_inc_vat, Decimal)
    assert order.vat_total == raw["VatTotal"] and order.freight_inc_vat == raw["FreightPriceIncVat"]
    assert [(r.article_number, r.quantity, r.unit_price_inc_vat, r.vat_rate) for r in order.rows] == [
        (r["ArticleNumber"], r["Quantity"], r["UnitPriceIncVat"], r["Vat"]) for r in raw["OrderItems"]]
    assert order.status_name == "Ny"
    by_number = hook.get_order(order_number=str(oid))
    assert by_number == order
    with pytest.raises(JetshopNotFound, match="424242"):
        hook.get_order(424242)


def test_set_status_with_tracking_and_mail(hook: JetshopHook, sb: JetshopSandbox) -> None:
    oid = sb.awkward_orders()["dibs_payment"]
    result = hook.set_order_status(oid, 3, tracking_number="00370712345", carrier="PostNord",
                                   tracking_url="https://tracking.postnord.com/00370712345", send_email=True)
    assert result.success and result.payment_captured
    assert result.captured_amount == sb.order("demoshop", oid)["AuthorizedAmount"]
    order = hook.get_order(oid)
    assert (order.status_id, order.tracking_number, order.payment.status) == (3, "00370712345", "Captured")
    mail = sb.emails("demoshop", oid)
    assert len(mail) == 1 and "00370712345" in mail[0]["body"]
    change = sb.status_changes("demoshop", oid)[0]
    assert (change["from_status_id"], change["to_status_id"], change["carrier"]) == (1, 3, "PostNord")


def test_capture_payment_partial_then_idempotent(hook: JetshopHook, sb: JetshopSandbox) -> None:
    oid = sb.awkward_orders()["card_payment"]
    first = hook.capture_payment(oid, Decimal("100.00"))
    assert first.success and not first.already_captured and first.captured_amount == Decimal("100.00")
    again = hook.capture_payment(oid)
    assert again.already_captured and again.capture_id == first.capture_id
    assert len(sb.captures("demoshop", oid)) == 1


def test_product_get_maps_prices_stock_and_variants(hook: JetshopHook) -> None:
    parent = hook.get_product("1002")
    assert parent is not None and parent.has_variants
    assert [(v.article_number, v.att_value) for v in parent.variants] == [("1003", "S"), ("1004", "M"), ("1005", "L")]
    variant = hook.get_product("1004", "nb-NO")
    assert variant is not None and variant.name == "Hettegenser" and variant.parent_article_number == "1002"
    assert variant.att_value == "M" and variant.stock is not None and variant.stock.stock_count == 22
    assert variant.price_ex_vat == Decimal("479.2000") and variant.discounted_price_ex_vat is None
    assert variant.vat_rate == Decimal("0.25") and variant.price_list_id == PL_SE
    assert hook.get_product("NOPE") is None


def test_upsert_is_partial_and_per_culture(hook: JetshopHook) -> None:
    created = hook.upsert_products([
        ProductUpsert(article_number="C-2", culture="sv-SE", name="Lampa", description="<p>Ljus</p>",
                      vat_rate=Decimal("0.25"), stock=StockUpdate(article_number="C-2", stock_count=5)),
        ProductUpsert(article_number="C-2", culture="nb-NO", name="Lampe")])
    assert [r.status for r in created] == ["SuccessNew", "SuccessUpdate"] and created[0].created
    hook.upsert_products([ProductUpsert(article_number="C-2", sub_name="Mässing")])
    sv = hook.get_product("C-2")
    assert sv is not None and (sv.name, sv.sub_name, sv.description) == ("Lampa", "Mässing", "<p>Ljus</p>")
    nb = hook.get_product("C-2", "nb-NO")
    assert nb is not None and nb.name == "Lampe" and nb.stock is not None and nb.stock.stock_count == 5


def test_stock_update_sets_count_status_and_delivery_date(hook: JetshopHook) -> None:
    when = datetime(2026, 12, 1, 0, 0, tzinfo=STOCKHOLM)
    results = hook.update_stock([StockUpdate(article_number="1001", stock_count=0, stock_status_id=9,
                                             delivery_date=when),
                                 StockUpdate(article_number="1006", stock_count=42)])
    assert all(r.success and r.stock_result == "Success" for r in results)
    p = hook.get_product("1001")
    assert p is not None and p.stock is not None
    assert (p.stock.stock_count, p.stock.stock_status_id, p.stock.stock_status_name) == (0, 9, "Kommer datum")
    assert p.stock.delivery_date == when and p.name == "T-shirt bomull"


def test_price_list_update_and_the_no_discount_sentinel(hook: JetshopHook, sb: JetshopSandbox) -> None:
    results = hook.update_prices([
        PriceListPrice(article_number="1006", price_list_id=PL_SE.lower(), price_inc_vat=Decimal("150"),
                       discounted_price_inc_vat=Decimal("120")),
        PriceListPrice(article_number="1006", price_list_id=PL_NO, price_inc_vat=Decimal("160"))])
    assert all(r.success for r in results)
    assert sb.price("demoshop", "1006", PL_NO)["DiscountedPriceIncVat"] == -1  # type: ignore[index]
    product = hook.get_product("1006")
    assert product is not None
    assert (product.price_ex_vat, product.discounted_price_ex_vat) == (Decimal("120.0000"), Decimal("96.0000"))
    hook.update_prices([PriceListPrice(article_number="1006", price_list_id=PL_SE, price_inc_vat=Decimal("150"))])
    product = hook.get_product("1006")
    assert product is not None and product.discounted_price_ex_vat is None


def test_product_listing_pages_through_the_assortment_modelled(hook: JetshopHook, sb: JetshopSandbox) -> None:
    everything = list(hook.iter_products(page_size=4))
    numbers = [p.article_number for p in everything]
    assert numbers == sorted(set(numbers)) and {"1001", "1003", "GIFT-500"} <= set(numbers)
    variant = next(p for p in everything if p.article_number == "1003")
    assert (variant.parent_article_number, variant.att_value) == ("1002", "S")
    hook.upsert_products([ProductUpsert(article_number="1001", quantity_suffix="st",
                                        manufacturer_article_number="M-1")])
    since = datetime.now(STOCKHOLM) - timedelta(minutes=1)
    changed = list(hook.iter_products(modified_from=since))
    assert [(p.article_number, p.quantity_suffix, p.manufacturer_article_number) for p in changed] == [
        ("1001", "st", "M-1")]


def test_delete_product(hook: JetshopHook, sb: JetshopSandbox) -> None:
    assert hook.delete_product("1007").deleted
    assert sb.product("demoshop", "1007") is None
    assert hook.delete_product("1007").not_found


def test_hook_uses_the_live_wsdl_when_configured(make_hook: Callable[..., JetshopHook], base_url: str) -> None:
    hook = make_hook(wsdl_url=base_url + "/Webservice20/v3.0/webservice.asmx?WSDL")
    assert len(hook.get_statuses()) == 8
    assert hook.get_conn().wsdl.location.endswith("?WSDL")


def test_hook_from_an_airflow_connection(base_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_JETSHOP_CONTRACT", json.dumps({
        "conn_type": "jetshop", "host": base_url, "login": "jetfort-nordic", "password": "nordic-secret",
        "extra": {"shop_id": "nordicshop", "culture": "fi-FI"}}))
    hook = JetshopHook("jetshop_contract")
    try:
        assert hook.settings.endpoint == base_url + "/Webservice20/v3.0/webservice.asmx"
        assert hook.test_connection() == (True, "Connected to shop nordicshop: 5 order statuses")
        assert hook.get_statuses()[0].name == "New order"  # fi-FI falls back to the English names
    finally:
        hook.close()


def test_acknowledging_orders_while_iterating_misses_none(hook: JetshopHook, sb: JetshopSandbox) -> None:
    sb.generate_orders("demoshop", 40, seed=2)
    expected = {o["OrderId"] for o in sb.orders("demoshop") if o["OrderStatusId"] == 1}
    acknowledged = set()
    for order in hook.iter_orders(status_id=1, page_size=7):
        hook.set_order_status(order.order_id, 6)  # leaves the status filter while we page
        acknowledged.add(order.order_id)
    assert acknowledged == expected
    assert hook.list_orders(status_id=1) == []


def test_variant_articles_are_created_under_their_parent(hook: JetshopHook) -> None:
    results = hook.upsert_products([
        ProductUpsert(article_number="V-PARENT", name="Jacka"),
        ProductUpsert(article_number="V-PARENT-RED", name="Jacka", parent_article_number="V-PARENT",
                      att_value="Röd", stock=StockUpdate(article_number="V-PARENT-RED", stock_count=3))])
    assert [r.status for r in results] == ["SuccessNew", "SuccessNew"]
    parent = hook.get_product("V-PARENT")
    assert parent is not None and parent.has_variants
    assert [(v.article_number, v.att_value) for v in parent.variants] == [("V-PARENT-RED", "Röd")]
    orphan = hook.upsert_products([ProductUpsert(article_number="V-ORPHAN", parent_article_number="NO-SUCH")],
                                  strict=False)
    assert not orphan[0].success


def test_dynamic_fields_save_and_read_per_culture(hook: JetshopHook) -> None:
    saved = hook.save_dynamic_fields([
        DynamicFieldValue(article_number="1001", key="atr_colour", values={"sv-SE": "Blå", "nb-NO": "Blå"}),
        DynamicFieldValue(article_number="1001", key="atr_material", values={"sv-SE": "Bomull"})])
    assert all(r.success and r.product_id for r in saved)
    assert hook.get_dynamic_fields("1001", ["sv-SE", "nb-NO"]) == {
        "atr_colour": {"sv-SE": "Blå", "nb-NO": "Blå"}, "atr_material": {"sv-SE": "Bomull"}}
    assert hook.get_dynamic_fields("1001", ["nb-NO"]) == {"atr_colour": {"nb-NO": "Blå"}}
    refused = hook.save_dynamic_fields([DynamicFieldValue(article_number="1001", key="b2c_mp",
                                                          values={"sv-SE": "true"})], strict=False)
    assert not refused[0].success
    assert refused[0].message == "No dynamic field, connected to product, found with key."


def test_a_form_saved_with_empty_fields_gets_the_documented_defaults(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The connection form stores an empty field as "": that is "not set", never a time zone named ""."""
    monkeypatch.setenv("AIRFLOW_CONN_JETSHOP_FORM_EMPTY", json.dumps({
        "conn_type": "jetshop", "host": "http://127.0.0.1:1/Services/WebService.svc", "login": "u",
        "password": "p", "extra": {"shop_id": "demoshop", "timezone": "", "culture": "", "timeout": None}}))
    settings = JetshopHook("jetshop_form_empty").settings
    assert (settings.timezone, settings.culture, settings.timeout) == ("Europe/Stockholm", "sv-SE", 30.0)
