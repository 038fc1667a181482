"""Status back and credits: only a full credit (or a cancellation) makes an invoice look cancelled."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from jetfort.mapping.status import InvoiceFacts, derive, invoice_facts

D = Decimal


def test_a_partial_credit_is_not_a_cancellation() -> None:
    partial = InvoiceFacts("12", credit_invoice_reference="13", total=D("500"), balance=D("500"),
                           credited_total=D("125"))
    derived = derive(None, partial)
    assert not derived.cancelled and derived.states == ("invoiced",)


def test_a_full_credit_is_a_cancellation_and_an_unread_credit_counts_as_full() -> None:
    full = InvoiceFacts("12", credit_invoice_reference="13", total=D("500"), credited_total=D("500"))
    assert derive(None, full).cancelled
    assert "credit invoice 13" in derive(None, full).reasons["cancelled"]
    assert derive(None, InvoiceFacts("12", credit_invoice_reference="13", total=D("500"))).cancelled


def test_the_credit_note_s_amount_comes_from_the_credit_invoice() -> None:
    invoice = SimpleNamespace(document_number="12", cancelled=False, credit=False, credit_invoice_reference="13",
                              booked=True, sent=True, total=D("500"), balance=D("500"), final_pay_date=None,
                              invoice_date=None, currency="SEK", order_reference=None, external_invoice_reference2="")
    note = SimpleNamespace(total=D("-125"))
    facts = invoice_facts(invoice, tracking_field="ExternalInvoiceReference2", credit_note=note)
    assert facts.credited_total == D("125") and not derive(None, facts).cancelled
    assert invoice_facts(invoice, tracking_field="ExternalInvoiceReference2").credited_total is None
