"""Connect Order bodies against the reference (§3.1-§3.4), and the look-send-look rule for documents."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from jetfort.norce import connect_orders as co
from jetfort.norce.errors import NorceConnectionError
from jetfort.shop.errors import ShopRejected
from jetfort.shop.models import Address, OrderRow, RowType, ShopCustomer, ShopOrder
from tests.jetfort.norce.fake_norce import FakeNorce, order_row

#: reference §3.1, copied by hand: the 21 names and their integers
REFERENCE_STATUSES = (
    "Created=0, Allocation=1, Confirmed=2, BackOrder=3, Delivered=4, Invoiced=5, Cancelled=6, CreditControl=7, "
    "PartlyDelivered=8, Acknowledged=9, ErpConfirmed=10, ReadyForPickup=11, PickedUp=12, NotPickedUp=13, OnHold=14, "
    "WaitingForCancel=15, WaitingForOnHoldRemoved=16, CancelError=17, AcknowledgementError=18, "
    "ReadyForReservation=19, Reserved=20")


def shop_order(**overrides: object) -> ShopOrder:
    rows = [OrderRow(row_id=1, article_number="A-100", name="Mug", quantity=Decimal(2),
                     unit_price_inc_vat=Decimal(100), unit_price_ex_vat=Decimal(80), vat_rate=Decimal("0.25"),
                     total_inc_vat=Decimal(200)),
            OrderRow(row_id=3, article_number="SERVICE", name="Insurance", row_type=RowType.OTHER,
                     quantity=Decimal(1), unit_price_inc_vat=Decimal(25), unit_price_ex_vat=Decimal(20),
                     vat_rate=Decimal("0.25"), total_inc_vat=Decimal(25)),
            OrderRow(row_id=4, article_number="ROPE", name="Rope", quantity=Decimal("1.5"),
                     unit_price_inc_vat=Decimal(10), unit_price_ex_vat=Decimal(8), vat_rate=Decimal("0.25"),
                     total_inc_vat=Decimal(15))]
    values: dict[str, object] = dict(
        shop_id="demoshop", order_id=1001, order_number="1001", order_date=datetime(2026, 12, 1, tzinfo=UTC),
        modified_date=datetime(2026, 12, 1, tzinfo=UTC), status_id=2, channel_id=1244, currency="SEK",
        customer=ShopCustomer(), billing=Address(), delivery=Address(), rows=rows,
        total_inc_vat=Decimal(240), total_ex_vat=Decimal(192), vat_total=Decimal(48))
    values.update(overrides)
    return ShopOrder(**values)  # type: ignore[arg-type]


def test_status_names_are_the_reference_enum() -> None:
    expected = {int(v): n for n, v in (pair.strip().split("=") for pair in REFERENCE_STATUSES.split(","))}
    assert expected == co.ORDER_STATUSES


def test_send_order_status_body() -> None:
    assert co.send_order_status_body(1001, 4, "5501") == {
        "ClientOrderRef": 1001, "ErpOrderNo": "5501", "OrderStatus": "Delivered"}
    assert co.send_order_status_body(1001, 20) == {"ClientOrderRef": 1001, "ErpOrderNo": "", "OrderStatus": "Reserved"}


@pytest.mark.parametrize("bad", [0, -5, 2**31, True])
def test_client_order_ref_must_be_an_int32(bad: int) -> None:
    with pytest.raises(ShopRejected, match="ClientOrderRef must be a positive int32"):
        co.send_order_status_body(bad, 4)


def test_unknown_status_is_refused_by_number() -> None:
    with pytest.raises(ShopRejected, match="status 21 is not a Norce OrderStatus"):
        co.send_order_status_body(1001, 21)


def test_cancel_order_body_asks_no_psp_cancel() -> None:
    assert co.cancel_order_body(1001, "5501") == {"ClientOrderRef": 1001, "ErpOrderNo": "5501"}


def test_delivery_note_body_lists_product_rows_and_one_parcel() -> None:
    body = co.delivery_note_body(shop_order(), erp_reference="5501", note_no="5501-TRK1", tracking_number="TRK1",
                                 status_id=4, delivery_date=datetime(2026, 12, 5, 10, 30, tzinfo=ZoneInfo("Europe/Stockholm")))
    assert body == {
        "OrderNo": "5501", "NoteNo": "5501-TRK1", "DeliveryDate": "2026-12-05T09:30:00Z", "StatusId": 4,
        "DeliveryNoteItems": [
            {"RowNumber": 1, "ItemNo": "A-100", "Description": "Mug", "Qty": Decimal(2)},
            {"RowNumber": 4, "ItemNo": "ROPE", "Description": "Rope", "Qty": Decimal("1.5")}],
        "DeliveryNotePackages": [{"ParcelNumber": "TRK1", "StatusId": 4}]}


def test_delivery_note_needs_the_erp_order_number() -> None:
    with pytest.raises(ShopRejected, match=r"order 1001: .*erp_reference"):
        co.delivery_note_body(shop_order(), erp_reference="", note_no="x", tracking_number="T", status_id=4,
                              delivery_date=datetime(2026, 12, 5, tzinfo=UTC))


def test_invoice_body_from_the_query_rows() -> None:
    body = co.invoice_body(shop_order(), order_row()["Items"], erp_reference="5501", invoice_number="9001",
                           amount=Decimal("249.00"), is_last=True, invoice_date=date(2026, 12, 5))
    assert body == {
        "ClientOrderRef": 1001, "ErpOrderNo": "5501", "InvoiceNo": "9001", "InvoiceDate": "2026-12-05",
        "CurrencyCode": "SEK", "IsLastInvoiceForOrder": True,
        "Payment": {"Amount": Decimal("249.00"), "CurrencyCode": "SEK"},
        "Items": [
            {"PartNo": "A-100", "Quantity": 2, "UnitPrice": Decimal("80"), "UnitVat": Decimal("20"),
             "VatRate": Decimal(25), "Description": "Mug", "LineNo": 1},
            {"PartNo": "FRAKT", "Quantity": 1, "UnitPrice": Decimal("39.2"), "UnitVat": Decimal("9.8"),
             "VatRate": Decimal(25), "Description": "Frakt", "LineNo": 2}]}
    assert isinstance(body["Items"][0]["Quantity"], int)


def test_invoice_names_the_payment_when_its_reference_is_known() -> None:
    order = shop_order(payment={"transaction_id": "klarna-77", "method": "KlarnaCheckout"})
    body = co.invoice_body(order, order_row()["Items"], erp_reference=None, invoice_number="9001",
                           amount=Decimal(10), is_last=False, invoice_date=date(2026, 12, 5))
    assert body["Payment"] == {"Amount": Decimal(10), "CurrencyCode": "SEK", "PaymentRef": "klarna-77"}
    assert body["ErpOrderNo"] == "" and body["IsLastInvoiceForOrder"] is False


def test_fractional_quantity_goes_out_as_one_unit_of_the_whole_line() -> None:
    items = [{"LineNumber": 4, "PartNo": "ROPE", "ProductName": "Rope", "QtyOrdered": Decimal("1.5"),
              "PriceSale": Decimal(8), "VatRate": 25, "LineAmount": Decimal(12)}]
    assert co.invoice_items(1001, items) == [
        {"PartNo": "ROPE", "Quantity": 1, "UnitPrice": Decimal(12), "UnitVat": Decimal(3), "VatRate": Decimal(25),
         "Description": "1.5 x Rope", "LineNo": 4}]


def test_invoice_row_without_part_number_is_named() -> None:
    items = [dict(order_row()["Items"][0]), {"LineNumber": 2, "PartNo": None, "QtyOrdered": 1, "PriceSale": 1,
                                             "VatRate": 25}]
    with pytest.raises(ShopRejected, match=r"order 1001 Items\[1\]: PartNo is missing"):
        co.invoice_items(1001, items)


def test_invoice_row_with_text_for_a_number_is_named() -> None:
    items = [{"LineNumber": 1, "PartNo": "A", "QtyOrdered": "2", "PriceSale": 1, "VatRate": 25}]
    with pytest.raises(ShopRejected, match=r"Items\[0\]: QtyOrdered '2' is not a number"):
        co.invoice_items(1001, items)


def test_invoice_needs_an_invoice_number() -> None:
    with pytest.raises(ShopRejected, match="InvoiceNo"):
        co.invoice_body(shop_order(), [], erp_reference=None, invoice_number="", amount=Decimal(1), is_last=True,
                        invoice_date=date(2026, 12, 5))


def test_note_number_is_deterministic_and_fits_50_characters() -> None:
    assert co.note_number("5501", "TRK1") == "5501-TRK1"
    long = co.note_number("5501", "X" * 60)
    assert long == co.note_number("5501", "X" * 60) and len(long) <= 50 and long.startswith("5501-")
    assert long != co.note_number("5501", "X" * 59 + "Y")


def test_odata_text_doubles_quotes() -> None:
    assert co.odata_text("O'Brien") == "'O''Brien'"


def invoice(number: str = "9001") -> dict[str, object]:
    return co.invoice_body(shop_order(), order_row()["Items"], erp_reference="5501", invoice_number=number,
                           amount=Decimal("249"), is_last=True, invoice_date=date(2026, 12, 5))


def test_lost_answer_is_looked_up_not_resent() -> None:
    fake = FakeNorce(faults=["drop"])
    assert co.create_invoice(fake, invoice()) is None
    assert len(fake.posted("Order/CreateInvoice")) == 1 and len(fake.invoices) == 1


def test_answer_lost_before_norce_applied_it_is_sent_again_once() -> None:
    fake = FakeNorce(faults=["reset"])
    assert co.create_invoice(fake, invoice()) is None
    assert len(fake.posted("Order/CreateInvoice")) == 2 and len(fake.invoices) == 1


def test_existing_invoice_is_returned_and_nothing_is_sent() -> None:
    fake = FakeNorce(invoices=[{"InvoiceNo": "9001", "TotalAmount": Decimal(249)}])
    assert co.create_invoice(fake, invoice()) == {"InvoiceNo": "9001", "TotalAmount": Decimal(249)}
    assert fake.posted("Order/CreateInvoice") == []


def test_every_send_lost_raises_after_the_bound() -> None:
    fake = FakeNorce(faults=["reset", "reset", "reset"])
    with pytest.raises(NorceConnectionError):
        co.create_invoice(fake, invoice(), attempts=3)
    assert len(fake.posted("Order/CreateInvoice")) == 3 and fake.invoices == []


def test_duplicate_refusal_after_a_hidden_resend_counts_as_made() -> None:
    """A client that resent after a lost answer meets its own invoice: Norce refuses the duplicate."""
    fake = FakeNorce()

    class ResendingClient(FakeNorce):
        def connect_post(self, op: str, body: object, headers: object = None, *,
                         retry_on_reset: bool = False) -> object:
            fake.connect_post(op, body)  # applied, answer lost inside the client, which sends again:
            return fake.connect_post(op, body)

        def query_pages(self, entity: str, params: object = None):  # type: ignore[no-untyped-def, override]
            return fake.query_pages(entity, params)  # type: ignore[arg-type]

    assert co.create_invoice(ResendingClient(), invoice()) is None
    assert len(fake.invoices) == 1


def test_status_post_may_be_resent_after_a_lost_answer() -> None:
    fake = FakeNorce(orders=[order_row()])
    co.send_order_status(fake, 1001, 4, "5501")
    assert fake.posts[0].retry_on_reset is True
    co.cancel_order(fake, 1001, "5501")
    assert fake.posts[1].retry_on_reset is False
