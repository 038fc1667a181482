"""Capture through CreateInvoice: once per invoice number, through lost answers and repeats; never for a
cancelled order; IsLastInvoiceForOrder false on a partial capture."""

from __future__ import annotations

from decimal import Decimal

import pytest

from jetfort.norce.errors import NorceConnectionError, NorceRejected
from jetfort.shop.errors import ShopCaptureRefused, ShopRejected
from tests.jetfort.norce.fake_norce import FakeNorce, make_shop, order_row

INVOICE = "Order/CreateInvoice"


def test_capture_creates_one_invoice_for_the_whole_order() -> None:
    fake = FakeNorce(orders=[order_row(status=4)])
    result = make_shop(fake).capture_payment(1001, erp_reference="5501", invoice_number="9001")
    assert result.success and not result.already_captured
    assert result.captured_amount == Decimal("249.00") and result.capture_id == "9001"
    [post] = fake.posted(INVOICE)
    assert post.body["InvoiceNo"] == "9001" and post.body["ClientOrderRef"] == 1001
    assert post.body["ErpOrderNo"] == "5501" and post.body["InvoiceDate"] == "2026-12-05"
    assert post.body["Payment"]["Amount"] == Decimal("249.00") and post.body["IsLastInvoiceForOrder"] is True
    assert [i["PartNo"] for i in post.body["Items"]] == ["A-100", "FRAKT"]


def test_three_calls_with_lost_answers_capture_once() -> None:
    fake = FakeNorce(orders=[order_row(status=4)])
    shop = make_shop(fake)

    fake.faults = ["drop"]  # applied, answer lost: looked up, not resent
    first = shop.capture_payment(1001, erp_reference="5501", invoice_number="9001")
    assert first.success and first.captured_amount == Decimal(249)

    second = shop.capture_payment(1001, erp_reference="5501", invoice_number="9001")  # a rerun task
    assert second.success and second.already_captured and second.captured_amount == Decimal(249)

    fake.faults = ["drop"]
    third = shop.capture_payment(1001, Decimal(249), erp_reference="5501", invoice_number="9001")
    assert third.already_captured

    assert len(fake.invoices) == 1
    assert len(fake.posted(INVOICE)) == 1


def test_lost_before_applied_is_sent_again_and_captures_once() -> None:
    fake = FakeNorce(orders=[order_row(status=4)], faults=["reset"])
    result = make_shop(fake).capture_payment(1001, invoice_number="9001")
    assert result.success and len(fake.invoices) == 1 and len(fake.posted(INVOICE)) == 2


def test_capture_in_doubt_raises_and_the_next_call_looks_first() -> None:
    fake = FakeNorce(orders=[order_row(status=4)], faults=["reset", "reset", "reset"])
    with pytest.raises(NorceConnectionError):  # transient: stays in doubt for the caller, never a refusal
        make_shop(fake).capture_payment(1001, invoice_number="9001", strict=False)
    assert fake.invoices == []
    fake.faults = ["drop"]
    again = make_shop(fake).capture_payment(1001, invoice_number="9001")
    assert again.success and len(fake.invoices) == 1 and len(fake.posted(INVOICE)) == 4


@pytest.mark.parametrize("status", [6, 15])
def test_cancelled_order_is_never_captured(status: int) -> None:
    fake = FakeNorce(orders=[order_row(status=status)])
    shop = make_shop(fake)
    result = shop.capture_payment(1001, invoice_number="9001", strict=False)
    assert not result.success and "cancelled" in result.message
    with pytest.raises(ShopCaptureRefused, match="cancelled"):
        shop.capture_payment(1001, invoice_number="9001")
    assert fake.posted(INVOICE) == [] and fake.invoices == []


def test_partial_capture_is_not_the_last_invoice() -> None:
    fake = FakeNorce(orders=[order_row(status=8)])
    result = make_shop(fake).capture_payment(1001, Decimal(100), invoice_number="9001")
    assert result.success and result.captured_amount == Decimal(100)
    [post] = fake.posted(INVOICE)
    assert post.body["IsLastInvoiceForOrder"] is False and post.body["Payment"]["Amount"] == Decimal(100)


def test_amount_above_the_order_is_refused_without_a_call() -> None:
    fake = FakeNorce(orders=[order_row(status=4)])
    result = make_shop(fake).capture_payment(1001, Decimal(250), invoice_number="9001", strict=False)
    assert not result.success and "above what remains authorised (249" in result.message
    assert fake.posted(INVOICE) == []


def test_norce_refusal_is_a_result_when_not_strict() -> None:
    fake = FakeNorce(orders=[order_row(status=4, items=[{"LineNumber": 1, "PartNo": "A", "QtyOrdered": 1,
                                                         "PriceSale": 10, "VatRate": 25}])])

    def refuse(op: str, body: object) -> object:
        raise NorceRejected("Capture of 12.5 SEK exceeds the 0 still reserved", operation=op)

    fake._apply = refuse  # type: ignore[method-assign]
    result = make_shop(fake).capture_payment(1001, invoice_number="9001", strict=False)
    assert not result.success and "exceeds the 0 still reserved" in result.message


def test_capture_needs_the_invoice_number() -> None:
    fake = FakeNorce(orders=[order_row(status=4)])
    with pytest.raises(ShopRejected, match="invoice_number"):
        make_shop(fake).capture_payment(1001)
    assert fake.posts == []


def test_without_the_invoice_query_norces_duplicate_refusal_keeps_it_single() -> None:
    """Where Query does not serve Orders/Invoices, a lost answer is resent and Norce's "must be unique"
    refusal of the number says the invoice is there."""
    fake = FakeNorce(orders=[order_row(status=4)], unserved={"Orders/Invoices"}, faults=["drop"])
    shop = make_shop(fake)
    first = shop.capture_payment(1001, invoice_number="9001")
    assert first.success and len(fake.invoices) == 1 and len(fake.posted(INVOICE)) == 2
    again = shop.capture_payment(1001, invoice_number="9001")
    assert again.success and again.already_captured and len(fake.invoices) == 1


def test_a_refusal_that_is_not_about_the_number_stays_a_refusal() -> None:
    fake = FakeNorce(orders=[order_row(status=4)], unserved={"Orders/Invoices"})

    def refuse(op: str, body: object) -> object:
        raise NorceRejected("The reservation of order 1001 is closed; nothing more can be captured.", operation=op)

    fake._apply = refuse  # type: ignore[method-assign]
    result = make_shop(fake).capture_payment(1001, invoice_number="9001", strict=False)
    assert not result.success and not result.already_captured and "closed" in result.message


def test_status_back_reads_the_order_once_and_again_only_after_jetfort_changed_it() -> None:
    fake = FakeNorce(orders=[order_row(status=2)])
    shop = make_shop(fake)
    assert shop.get_order(1001).status_id == 2  # what the order-status flow reads before capturing
    assert shop.capture_payment(1001, erp_reference="5501", invoice_number="9001").success
    result = shop.set_order_status(1001, 4, tracking_number="PN1SE", erp_reference="5501")
    assert result.success and len(fake.posted("Order/CreateDeliveryNote")) == 1
    assert fake.calls["Orders/Orders"] == 1  # the capture reused the row; the note's rows never change
    shop.get_order(1001)  # after jetfort's own writes: read from Norce again
    assert fake.calls["Orders/Orders"] == 2
