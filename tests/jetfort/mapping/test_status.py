"""mapping.status: Fortnox document facts → shop states, on plain data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from jetfort.fortnox.models import FortnoxInvoice, FortnoxOrder
from jetfort.mapping.status import (
    InvoiceFacts,
    OrderFacts,
    PaymentFacts,
    capture_amount,
    derive,
    invoice_facts,
    order_facts,
    to_push,
    tracking_url,
)

D = Decimal


def test_open_order_has_no_state() -> None:
    assert derive(OrderFacts("5", total=D("100"), currency="SEK"), None).states == ()


def test_new_order_warehouse_ready_is_not_delivered_unless_the_tenant_says_so() -> None:
    order = OrderFacts("5", warehouse_ready=True)
    assert derive(order, None).states == ()
    assert derive(order, None, warehouse_ready_means_delivered=True).states == ("delivered",)


def test_invoice_created_from_order_is_delivered_and_invoiced() -> None:
    order = OrderFacts("5", invoice_reference="12", total=D("100"))
    derived = derive(order, None)
    assert derived.states == ("delivered", "invoiced")
    assert derived.invoice_number == "12"
    assert "invoice 12" in derived.reasons["delivered"]


def test_invoice_detail_wins_for_total_and_dates() -> None:
    order = OrderFacts("5", invoice_reference="12", total=D("100"), currency="SEK")
    invoice = InvoiceFacts("12", total=D("99"), balance=D("99"), invoice_date=dt.date(2026, 11, 3),
                           currency="SEK", order_reference="5")
    derived = derive(order, invoice)
    assert derived.states == ("delivered", "invoiced")
    assert (derived.document_type, derived.document_number, derived.total) == ("invoice", "12", D("99"))
    assert derived.dates["invoiced"] == "2026-11-03"


def test_direct_invoice_is_invoiced_only_until_a_delivery_signal() -> None:
    invoice = InvoiceFacts("7", total=D("50"), balance=D("50"))
    assert derive(None, invoice).states == ("invoiced",)
    assert derive(None, InvoiceFacts("7", total=D("50"), balance=D("50"), sent=True)).states == (
        "delivered", "invoiced")
    tracked = derive(None, InvoiceFacts("7", total=D("50"), balance=D("50"), tracking=" PN123 "))
    assert tracked.states == ("delivered", "invoiced") and tracked.tracking == "PN123"


def test_tracking_alone_means_delivered_on_an_order() -> None:
    derived = derive(OrderFacts("5", tracking="PN1"), None)
    assert derived.states == ("delivered",)
    assert derived.tracking == "PN1"


@pytest.mark.parametrize("invoice", [
    InvoiceFacts("12", total=D("100"), balance=D("0"), final_pay_date=dt.date(2026, 11, 5)),
    InvoiceFacts("12", total=D("100"), balance=D("0")),
])
def test_paid_implies_invoiced_and_delivered(invoice: InvoiceFacts) -> None:
    payments = [PaymentFacts(D("40"), dt.date(2026, 11, 4)), PaymentFacts(D("60"), dt.date(2026, 11, 5))]
    derived = derive(OrderFacts("5", invoice_reference="12"), invoice, payments)
    assert derived.states == ("delivered", "invoiced", "paid")
    assert derived.dates["paid"] == "2026-11-05"


def test_partly_paid_is_not_paid_and_zero_invoice_is_not_paid_by_balance() -> None:
    assert "paid" not in derive(None, InvoiceFacts("1", total=D("100"), balance=D("30"))).states
    assert "paid" not in derive(None, InvoiceFacts("1", total=D("0"), balance=D("0"))).states


@pytest.mark.parametrize(("order", "invoice", "why"), [
    (OrderFacts("5", cancelled=True), None, "order 5 cancelled"),
    (OrderFacts("5", invoice_reference="12"), InvoiceFacts("12", cancelled=True), "invoice 12 cancelled"),
    (None, InvoiceFacts("12", credit_invoice_reference="13", balance=D("0"), total=D("10")), "credited"),
    (None, InvoiceFacts("13", credit=True, credit_invoice_reference="12"), "credit note"),
])
def test_cancelled(order: OrderFacts | None, invoice: InvoiceFacts | None, why: str) -> None:
    derived = derive(order, invoice)
    assert derived.cancelled
    assert why in derived.reasons["cancelled"]


def test_to_push_orders_states_and_never_moves_backwards() -> None:
    assert to_push(["paid", "delivered", "invoiced"], []) == (["delivered", "invoiced", "paid"], [])
    assert to_push(["delivered", "invoiced", "paid"], ["delivered"]) == (["invoiced", "paid"], [])
    assert to_push(["delivered", "invoiced"], ["paid"]) == ([], ["delivered", "invoiced"])
    assert to_push(["delivered", "invoiced", "paid"], ["delivered", "invoiced", "paid"]) == ([], [])


def test_cancelled_supersedes_everything_not_yet_pushed() -> None:
    assert to_push(["delivered", "invoiced", "cancelled"], []) == (["cancelled"], ["delivered", "invoiced"])
    assert to_push(["delivered", "cancelled"], ["delivered"]) == (["cancelled"], [])
    assert to_push(["cancelled"], ["cancelled"]) == ([], [])


def test_capture_amount_is_the_lower_of_total_and_authorised() -> None:
    assert capture_amount(D("2106"), D("2106.25")) == D("2106")
    assert capture_amount(D("500"), D("400")) == D("400")
    assert capture_amount(None, D("400")) == D("400")
    assert capture_amount(D("-5"), D("400")) == D("0")
    assert capture_amount(None, None) == D("0")


def test_tracking_url_template() -> None:
    assert tracking_url("https://t.example/?id={tracking}", "AB 1/2") == "https://t.example/?id=AB%201%2F2"
    assert tracking_url(None, "X") is None and tracking_url("https://t/{tracking}", None) is None


def test_facts_from_hook_models_read_the_configured_tracking_field() -> None:
    order = FortnoxOrder.model_validate({"DocumentNumber": "5", "Cancelled": False, "InvoiceReference": "0",
                                         "WarehouseReady": True, "Total": 125, "Currency": "SEK",
                                         "ExternalInvoiceReference2": "PN42", "YourReference": "YR"})
    facts = order_facts(order, tracking_field="ExternalInvoiceReference2")
    assert facts.invoice_reference is None and facts.tracking == "PN42" and facts.total == D("125")
    assert order_facts(order, tracking_field="YourReference").tracking == "YR"
    invoice = FortnoxInvoice.model_validate({"DocumentNumber": "12", "Cancelled": False, "Credit": "false",
                                             "CreditInvoiceReference": "0", "Balance": 0, "Total": 125,
                                             "FinalPayDate": "2026-11-05", "OrderReference": "5"})
    ifacts = invoice_facts(invoice, tracking_field="ExternalInvoiceReference2")
    assert ifacts.final_pay_date == dt.date(2026, 11, 5) and ifacts.order_reference == "5"
    assert not ifacts.credit and ifacts.tracking is None
    assert derive(facts, ifacts).states == ("delivered", "invoiced", "paid")
