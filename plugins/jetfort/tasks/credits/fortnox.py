"""The Fortnox side of money back: read the original, and write each credit effectively once.

Every write is found again after a crash between the Fortnox call and the ledger commit:

- a POSTed credit invoice carries the event's key (``jetfort:<shop>:<order id>:r<return id>`` or
  ``...:cancel``) in the tenant's idempotency field; it is looked up (exact equality) before every
  POST and after a lost answer;
- a full credit (``PUT /3/invoices/{n}/credit``) is found on the original's ``CreditInvoiceReference``;
  the credit copies the original's header, the order's key included, so the key is overwritten with
  the cancellation's (the orders flow ignores credit invoices in any case);
- cancelling an order or invoice is repeatable (the hook reads the document back on doubt).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from jetfort.fortnox.errors import FortnoxAmbiguousWrite
from jetfort.fortnox.models import FortnoxInvoice, FortnoxOrder
from jetfort.mapping.credits import CreditPlan, Original, OriginalRow
from jetfort.tasks.orders.common import CREATE_ATTEMPTS, PostingIncomplete
from jetfort.tasks.runtime import TenantRuntime

log = logging.getLogger(__name__)

ZERO = Decimal(0)
#: header fields a POSTed credit invoice copies from the original
COPIED = ("CustomerNumber", "CustomerName", "Currency", "CurrencyRate", "CurrencyUnit", "VATIncluded",
          "YourOrderNumber", "YourReference", "OurReference", "PriceList", "Project", "CostCenter",
          "Address1", "Address2", "ZipCode", "City", "Country", "DeliveryName", "DeliveryAddress1",
          "DeliveryAddress2", "DeliveryZipCode", "DeliveryCity", "DeliveryCountry")


def _d(value: Any) -> Decimal:
    return ZERO if value is None else Decimal(str(value))


def original_of(document: FortnoxOrder | FortnoxInvoice) -> Original:
    """The facts :mod:`jetfort.mapping.credits` decides on, from a Fortnox order or invoice."""
    rows = tuple(OriginalRow(
        article_number=row.article_number or None, quantity=_d(row.delivered_quantity), price=_d(row.price),
        vat=_d(row.vat), account=row.account_number, description=row.description or "", unit=row.unit or None,
        discount=_d(row.discount), discount_type=str(row.discount_type) if row.discount_type else None)
        for row in document.rows or ())
    common: dict[str, Any] = dict(
        document_number=str(document.document_number), rows=rows, vat_included=bool(document.vat_included),
        freight=_d(document.freight), administration_fee=_d(document.administration_fee), total=_d(document.total),
        cancelled=bool(document.cancelled), sent=bool(document.sent))
    if isinstance(document, FortnoxOrder):
        return Original(kind="order", invoice_reference=document.invoice_reference, **common)
    paid = document.final_pay_date is not None or (
        document.balance is not None and document.total is not None and document.balance != document.total)
    return Original(kind="invoice", booked=bool(document.booked), paid_any=paid, credit=bool(document.credit),
                    credit_invoice_reference=document.credit_invoice_reference, **common)


class FortnoxCredits:
    """The Fortnox calls of one shop's credits stage."""

    def __init__(self, runtime: TenantRuntime) -> None:
        self.hook = runtime.fortnox
        self.field = runtime.rules.orders.idempotency_field

    def documents(self, kind: str, number: str) -> tuple[Original, Original | None, FortnoxInvoice | None]:
        """(the linked document, its invoice, the invoice model) — the invoice None while an order is not
        invoiced."""
        if kind == "order":
            order = self.hook.get_order(number)
            original = original_of(order)
            if not order.invoice_reference:
                return original, None, None
            invoice = self.hook.get_invoice(order.invoice_reference)
            return original, original_of(invoice), invoice
        invoice = self.hook.get_invoice(number)
        facts = original_of(invoice)
        return facts, facts, invoice

    def find(self, key: str) -> str | None:
        hits = self.hook.find_invoices_by_reference(key, field=self.field)
        return str(hits[0].document_number) if hits else None

    def post_credit(self, key: str, plan: CreditPlan, invoice: FortnoxInvoice, remarks: str) -> tuple[str, bool]:
        """POST the credit invoice of ``plan`` unless one carries ``key`` already: (number, adopted)."""
        existing = self.find(key)
        if existing is not None:
            return existing, True
        payload = credit_payload(key, self.field, plan, invoice, remarks)
        for _attempt in range(CREATE_ATTEMPTS):
            try:
                return self.hook.create_document("invoice", payload), False
            except FortnoxAmbiguousWrite:
                log.warning("credit %s: the create's answer was lost; looking it up", key)
                existing = self.find(key)
                if existing is not None:
                    return existing, True
        raise PostingIncomplete(f"credit {key}: create answered ambiguously {CREATE_ATTEMPTS} times")

    def credit_full(self, number: str, key: str, remarks: str) -> str:
        """``PUT credit`` the invoice (once: an existing credit reference is taken), then give the credit
        its own key in place of the order's copied one. Returns the credit invoice's number."""
        invoice = self.hook.get_invoice(number)
        credit = invoice.credit_invoice_reference or self.hook.credit_invoice(number).credit_invoice_reference
        if not credit:
            raise PostingIncomplete(f"invoice {number}: credit answered without a credit invoice reference")
        current = self.hook.get_invoice(credit)
        value = getattr(current, "external_invoice_reference1" if self.field == "ExternalInvoiceReference1"
                        else "external_invoice_reference2")
        if value != key and not current.booked:
            self.hook.update_invoice_fields(credit, {self.field: key, "Remarks": remarks})
        return str(credit)


def credit_payload(key: str, field: str, plan: CreditPlan, invoice: FortnoxInvoice, remarks: str) -> dict[str, Any]:
    """The POST body of a credit invoice: the original's buyer and terms, the plan's rows, the key."""
    source = invoice.to_payload()
    header = {name: source[name] for name in COPIED if source.get(name) not in (None, "")}
    text_row = {"Description": remarks[:255]}
    rows = [text_row, *(row.to_payload() for row in plan.document_rows)]
    for row in rows:
        row.pop("OrderedQuantity", None)
        if isinstance(row.get("VAT"), float) and row["VAT"].is_integer():  # 25.0 → 25; 25.5 stays (never
            row["VAT"] = int(row["VAT"])  # rounded to another rate: Fortnox refuses it, the credit is quarantined)
    header.update({"InvoiceRows": rows, field: key, "Remarks": remarks[:1024]})
    if plan.header_freight:
        header["Freight"] = float(plan.header_freight)
    if plan.header_fee:
        header["AdministrationFee"] = float(plan.header_fee)
    return header
