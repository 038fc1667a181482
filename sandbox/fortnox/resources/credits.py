"""Document actions that end or reverse a sale: cancel an order, bookkeep, cancel or credit an invoice.

Rules modelled (sources in the sandbox README and FIDELITY.md, section "Credits and cancellations"):

- ``PUT /3/orders/{n}/cancel``: a cancelled or invoiced order cannot be cancelled (2000530 / 2000454;
  whether real Fortnox refuses an invoiced order is UNCONFIRMED, the sandbox refuses: credit the
  invoice instead).
- ``PUT /3/invoices/{n}/cancel``: not when cancelled, booked or with a registered payment (2000451).
- ``PUT /3/invoices/{n}/credit``: once per invoice (2000452), never of a credit invoice (2000453), not
  of a cancelled one. The credit invoice is a negated copy: every row's ``DeliveredQuantity`` and an
  AMOUNT ``Discount`` change sign (so each row total is the original's, negated), ``Freight`` and
  ``AdministrationFee`` change sign; the header (references, the idempotency field included) is
  copied. It carries ``Credit: "true"``, ``CreditInvoiceReference`` and ``InvoiceReference`` = the
  original; the original gets ``CreditInvoiceReference`` = the credit. The answer is the original.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .. import errors, stock, totals
from ..errors import bad_request
from ..validation import BLANK
from ..web import company_of, reply
from .documents import (
    INVOICE,
    ORDER,
    READ_ONLY,
    _action_body,
    _ensure_editable,
    _get,
    _order_articles,
    build,
    render,
)

router = APIRouter()

#: row fields a credit invoice copies from the original (quantity and AMOUNT discount are negated)
CREDIT_ROW_FIELDS = ("AccountNumber", "ArticleNumber", "Description", "Discount", "DiscountType", "Price", "Unit",
                     "VAT", "CostCenter", "Project")
#: header fields the credit does not copy (Fortnox sets them anew)
CREDIT_HEADER_SKIP = ("InvoiceRows", "DocumentNumber", "OCR", "InvoiceDate", "DueDate", "OutboundDate",
                      "EmailInformation", "EDIInformation", "Labels")


@router.put("/3/orders/{number}/cancel")
async def cancel_order(request: Request, number: str) -> Response:
    await _action_body(request)
    company = company_of(request)
    with company.lock:
        order = _get(company, ORDER, number)
        _ensure_editable(ORDER, order)
        order["Cancelled"] = True
        company.put("orders", number, order)
        stock.refresh_articles(company, _order_articles(order))
        return reply({"Order": render(request, ORDER, order)})


@router.put("/3/invoices/{number}/bookkeep")
async def bookkeep(request: Request, number: str) -> Response:
    await _action_body(request)
    company = company_of(request)
    with company.lock:
        invoice = _get(company, INVOICE, number)
        if invoice["Cancelled"]:
            raise bad_request(errors.DOC_CANCELLED)
        if invoice["Booked"]:
            raise bad_request(errors.ALREADY_BOOKED)
        invoice.update(Booked=True, VoucherNumber=company.next_counter("voucher"), VoucherSeries="B", VoucherYear=1)
        company.put("invoices", number, invoice)
        return reply({"Invoice": render(request, INVOICE, invoice)})


@router.put("/3/invoices/{number}/cancel")
async def cancel_invoice(request: Request, number: str) -> Response:
    await _action_body(request)
    company = company_of(request)
    with company.lock:
        invoice = _get(company, INVOICE, number)
        if invoice["Cancelled"]:
            raise bad_request(errors.DOC_CANCELLED)
        if invoice["Booked"]:
            raise bad_request(errors.INVOICE_BOOKED_CANCEL)
        if any(str(p["InvoiceNumber"]) == number for p in company.data["invoicepayments"].values()):
            raise bad_request(errors.INVOICE_BOOKED_CANCEL)
        invoice["Cancelled"] = True
        stock.deliver(company, invoice["InvoiceRows"], -1)
        company.put("invoices", number, invoice)
        return reply({"Invoice": render(request, INVOICE, invoice)})


def _negated(value: Any) -> Any:
    amount = totals.dec(value)
    return totals.num(-amount) if amount else value


def _credit_row(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k in CREDIT_ROW_FIELDS}
    out["DeliveredQuantity"] = totals.qty_text(-totals.dec(row.get("DeliveredQuantity")))
    if row.get("DiscountType") == "AMOUNT" and row.get("Discount"):
        out["Discount"] = _negated(row["Discount"])
    if out.get("AccountNumber") is None:
        out["AccountNumber"] = BLANK
    return out


@router.put("/3/invoices/{number}/credit")
async def credit_invoice(request: Request, number: str) -> Response:
    await _action_body(request)
    company = company_of(request)
    with company.lock:
        invoice = _get(company, INVOICE, number)
        if invoice["Cancelled"]:
            raise bad_request(errors.DOC_CANCELLED)
        if invoice["Credit"] == "true":
            raise bad_request(errors.CREDIT_OF_CREDIT)
        if invoice["CreditInvoiceReference"] != "0":
            raise bad_request(errors.ALREADY_CREDITED)
        header = {k: v for k, v in invoice.items() if k not in READ_ONLY and k not in CREDIT_HEADER_SKIP}
        for name in ("Freight", "AdministrationFee"):
            if header.get(name):
                header[name] = _negated(header[name])
        header["InvoiceRows"] = [_credit_row(row) for row in invoice["InvoiceRows"]]
        credit = build(INVOICE, company, header)
        credit.update(Credit="true", CreditInvoiceReference=number, InvoiceReference=number)
        stock.deliver(company, credit["InvoiceRows"], +1)
        company.put("invoices", credit["DocumentNumber"], credit)
        invoice["CreditInvoiceReference"] = credit["DocumentNumber"]
        company.put("invoices", number, invoice)
        return reply({"Invoice": render(request, INVOICE, invoice)})
