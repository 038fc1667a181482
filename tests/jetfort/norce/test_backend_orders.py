"""NorceShop's order side: the Query pull, statuses, channels, status back with delivery notes, cancel."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from jetfort.norce.backend import NorceShop
from jetfort.norce.errors import NorceNotFound, NorceRejected
from jetfort.shop.errors import ShopItemError, ShopUnreadableOrder
from jetfort.shop.interface import ShopBackend
from jetfort.shop.models import StatusUpdate
from tests.jetfort.norce.fake_norce import FakeNorce, make_shop, order_row

STATUS, NOTE = "Order/SendOrderStatus", "Order/CreateDeliveryNote"


def test_norce_shop_is_a_shop_backend_and_the_conn_types_hook() -> None:
    shop = make_shop(FakeNorce())
    assert isinstance(shop, ShopBackend)
    assert (NorceShop.conn_type, NorceShop.conn_name_attr, NorceShop.default_conn_name, NorceShop.hook_name,
            NorceShop.backend_name) == ("norce", "norce_conn_id", "norce_default", "Norce Commerce", "norce")
    assert NorceShop(norce_conn_id="norce_x").norce_conn_id == "norce_x"  # how Airflow's "Test" builds it
    assert shop.shop_id == "demoshop" and "secret" not in repr(shop)


def test_pull_filters_application_status_and_window_in_utc() -> None:
    fake = FakeNorce(orders=[order_row(1001), order_row(1002)])
    since = datetime(2026, 12, 1, 1, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
    until = datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
    orders = list(make_shop(fake).iter_orders(status_id=2, modified_from=since, modified_to=until))
    assert [o.order_id for o in orders] == [1001, 1002]
    [params] = [p for e, p in fake.queries if e == "Orders/Orders"]
    assert params == {
        "$filter": "ApplicationId eq 1244 and StatusId eq 2"
                   " and (Updated ge 2026-12-01T00:00:00Z or (Updated eq null and Created ge 2026-12-01T00:00:00Z))"
                   " and (Updated le 2026-12-02T00:00:00Z or (Updated eq null and Created le 2026-12-02T00:00:00Z))",
        "$expand": "Items,Buyer,Payer,ShipTo", "$orderby": "Id", "$top": 500}
    order = orders[0]
    assert order.shop_id == "demoshop" and order.channel_id == 1244 and order.currency == "SEK"
    assert order.total_inc_vat == Decimal(249) and order.freight_inc_vat == Decimal(49)


def test_unreadable_order_is_collected_or_raised() -> None:
    bad = order_row(1002)
    bad["Items"][0]["QtyOrdered"] = "two"
    fake = FakeNorce(orders=[order_row(1001), bad, order_row(1003)])
    unreadable: list[ShopUnreadableOrder] = []
    assert [o.order_id for o in make_shop(fake).iter_orders(unreadable=unreadable)] == [1001, 1003]
    assert len(unreadable) == 1 and unreadable[0].order_id == 1002 and "QtyOrdered" in unreadable[0].field_path
    with pytest.raises(ShopUnreadableOrder, match="QtyOrdered"):
        list(make_shop(fake).iter_orders())


def test_get_order_by_id_or_number_and_not_found() -> None:
    fake = FakeNorce(orders=[order_row(1001, order_no="5501")])
    shop = make_shop(fake)
    assert shop.get_order(1001).order_number == "5501"
    assert shop.get_order(order_number="5501").order_id == 1001
    assert [p["$filter"] for e, p in fake.queries if e == "Orders/Orders"] == [
        "ApplicationId eq 1244 and QuotationId eq 1001", "ApplicationId eq 1244 and OrderNo eq '5501'"]
    with pytest.raises(NorceNotFound, match="order 1002 not found"):
        shop.get_order(1002)


def test_statuses_are_the_21_norce_values() -> None:
    statuses = make_shop(FakeNorce()).get_statuses()
    assert [s.status_id for s in statuses] == list(range(21))
    assert [s.name for s in statuses if s.is_cancelled] == ["Cancelled"]
    assert not any(s.captures_payment for s in statuses)
    assert statuses[8].name == "PartlyDelivered" and statuses[20].name == "Reserved"


def test_one_channel_per_application() -> None:
    [channel] = make_shop(FakeNorce()).get_channels()
    assert channel.channel_id == 1244 and channel.is_default and channel.currency == ""


def test_delivered_with_tracking_makes_one_delivery_note_then_the_status() -> None:
    fake = FakeNorce(orders=[order_row(1001, order_no="5501")])
    shop = make_shop(fake)
    result = shop.set_order_status(1001, 4, tracking_number="TRK1", erp_reference="5501", send_email=True)
    assert result.success and "delivery note 5501-TRK1 created" in result.message
    assert [p.op for p in fake.posts] == [NOTE, STATUS]
    note = fake.posts[0].body
    assert note["OrderNo"] == "5501" and note["NoteNo"] == "5501-TRK1"
    assert note["DeliveryNotePackages"] == [{"ParcelNumber": "TRK1", "StatusId": 4}]
    assert note["DeliveryNoteItems"] == [{"RowNumber": 1, "ItemNo": "A-100", "Description": "Mug", "Qty": 2}]
    assert fake.posts[1].body == {"ClientOrderRef": 1001, "ErpOrderNo": "5501", "OrderStatus": "Delivered"}

    again = shop.set_order_status(1001, 4, tracking_number="TRK1", erp_reference="5501")
    assert again.success and "exists" in again.message
    assert [p.op for p in fake.posts] == [NOTE, STATUS, STATUS] and len(fake.notes) == 1


def test_delivery_note_after_a_lost_answer_is_not_made_twice() -> None:
    fake = FakeNorce(orders=[order_row(1001)], faults=["drop"])
    assert make_shop(fake).set_order_status(1001, 8, tracking_number="TRK1", erp_reference="5501").success
    assert len(fake.notes) == 1 and len(fake.posted(NOTE)) == 1


def test_tracking_without_erp_number_is_a_clear_error() -> None:
    fake = FakeNorce(orders=[order_row(1001)])
    shop = make_shop(fake)
    with pytest.raises(NorceRejected, match=r"order 1001: .*erp_reference"):
        shop.set_order_status(1001, 4, tracking_number="TRK1")
    result = shop.set_order_status(1001, 4, tracking_number="TRK1", strict=False)
    assert not result.success and "erp_reference" in result.message
    assert fake.posts == []


def test_status_without_tracking_is_only_the_status() -> None:
    fake = FakeNorce(orders=[order_row(1001)])
    assert make_shop(fake).set_order_status(1001, 2).success
    assert [(p.op, p.body) for p in fake.posts] == [
        (STATUS, {"ClientOrderRef": 1001, "ErpOrderNo": "", "OrderStatus": "Confirmed"})]


def test_refusal_is_a_result_unless_strict() -> None:
    fake = FakeNorce(orders=[order_row(1001)])
    shop = make_shop(fake)
    updates = [StatusUpdate(order_id=1001, status_id=2), StatusUpdate(order_id=1999, status_id=2)]
    results = shop.set_order_statuses(updates, strict=False)
    assert [r.success for r in results] == [True, False] and "Order not found" in results[1].message
    with pytest.raises(ShopItemError, match="1 of 2 item"):
        shop.set_order_statuses(updates)


def test_cancel_order() -> None:
    fake = FakeNorce(orders=[order_row(1001)])
    assert make_shop(fake).cancel_order(1001, "5501").success
    assert [(p.op, p.body) for p in fake.posts] == [
        ("Order/CancelOrder", {"ClientOrderRef": 1001, "ErpOrderNo": "5501"})]


def test_test_connection_reads_one_page_and_close_closes_the_client() -> None:
    fake = FakeNorce(orders=[order_row(1001)])
    shop = make_shop(fake)
    ok, message = shop.test_connection()
    assert ok and "application 1244" in message
    assert fake.queries[-1] == ("Orders/Orders", {"$filter": "ApplicationId eq 1244", "$top": 1})
    shop.close()
    assert fake.closed


def test_pushed_order_is_read_with_the_connection_identity() -> None:
    payload = {
        "ClientOrderRef": "1001", "CurrencyCode": "SEK", "SubmitDate": "2026-12-01T10:00:00",
        "SellTo": {"Person": {"FirstName": "Anna", "LastName": "Svensson", "Email": "anna@example.se",
                              "Address": {"Line1": "Storgatan 1", "ZipCode": "11122", "City": "Stockholm",
                                          "Country": "SE"}}},
        "Items": [{"LineNo": 1, "PartNo": "A-100", "Description": "Mug", "Quantity": 2, "UnitPrice": 80,
                   "UnitPriceOriginal": 80, "UnitVat": 20, "VatRate": 25, "Discount": 0, "Type": "ErpStandard",
                   "TypeGroup": "Physical"}],
        "Payments": [{"PaymentCode": 1, "PaymentMethodCode": "KlarnaCheckout", "PaymentRef": "klarna-77",
                      "Amount": 200, "PaymentName": "Klarna"}]}
    order = make_shop(FakeNorce()).order_from_push(payload)
    assert (order.shop_id, order.order_id, order.channel_id) == ("demoshop", 1001, 1244)
    assert order.payment.transaction_id == "klarna-77" and order.total_inc_vat == Decimal(200)
