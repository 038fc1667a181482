"""Invoice payments: registering money against an invoice updates its Balance and FinalPayDate."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .. import errors, totals
from ..errors import bad_request, not_found
from ..query import ListSpec, page, select
from ..state import Company
from ..validation import validate
from ..web import base_url, company_of, params_of, read_json, reply, with_url
from .documents import register_payment_effect

router = APIRouter()
SPEC = ListSpec(plural="InvoicePayments", search={"invoicenumber": lambda p: str(p["InvoiceNumber"])},
                sort={"paymentdate": "PaymentDate", "number": "Number"}, default_sort="number")
ITEM = ("Amount", "Booked", "Currency", "CurrencyRate", "CurrencyUnit", "InvoiceNumber", "Number", "PaymentDate",
        "Source", "WriteOffExist")


def _render(request: Request, payment: dict[str, Any]) -> dict[str, Any]:
    return with_url(copy.deepcopy(payment), f"{base_url(request)}/3/invoicepayments/{payment['Number']}")


def _get(company: Company, number: str) -> dict[str, Any]:
    payment = company.get("invoicepayments", number)
    if payment is None:
        raise not_found("invoicepayments")
    return payment


def _latest_date(company: Company, invoice_number: str) -> str | None:
    dates = [p["PaymentDate"] for p in company.data["invoicepayments"].values()
             if str(p["InvoiceNumber"]) == invoice_number]
    return max(dates) if dates else None


@router.get("/3/invoicepayments")
async def list_payments(request: Request) -> Response:
    company = company_of(request)
    params, multi = params_of(request)
    with company.lock:
        items = [(p, company.modified_at("invoicepayments", k)) for k, p in company.data["invoicepayments"].items()]
        rows, meta = page(select(items, params, multi, SPEC), params)
        listed = [with_url({k: p.get(k) for k in ITEM}, f"{base_url(request)}/3/invoicepayments/{p['Number']}")
                  for p in rows]
        return reply({"MetaInformation": meta, "InvoicePayments": listed})


@router.get("/3/invoicepayments/{number}")
async def get_payment(request: Request, number: str) -> Response:
    company = company_of(request)
    with company.lock:
        return reply({"InvoicePayment": _render(request, _get(company, number))})


@router.post("/3/invoicepayments")
async def create_payment(request: Request) -> Response:
    body = await read_json(request)
    company = company_of(request)
    given = validate("InvoicePayment", body, create=True)
    with company.lock:
        invoice_number = str(given["InvoiceNumber"])
        invoice = company.get("invoices", invoice_number)
        if invoice is None:
            raise bad_request((errors.NOT_FOUND["invoices"][0], errors.NOT_FOUND["invoices"][1]))
        if invoice["Cancelled"]:
            raise bad_request(errors.PAYMENT_ON_CANCELLED)
        payment_date = str(given.get("PaymentDate") or company.clock.today().isoformat())
        if payment_date < str(invoice["InvoiceDate"]):
            raise bad_request(errors.PAYMENT_TOO_EARLY)
        rate = totals.dec(invoice.get("CurrencyRate") or 1) / totals.dec(invoice.get("CurrencyUnit") or 1)
        if invoice["Currency"] != "SEK" and "AmountCurrency" not in given:
            raise bad_request(errors.REQUIRED, "AmountCurrency")
        amount_currency = totals.dec(given.get("AmountCurrency", given.get("Amount", 0)))
        amount = totals.dec(given["Amount"]) if "Amount" in given else amount_currency * rate
        number = company.next_number("invoicepayments")
        payment = {
            "Amount": totals.num(amount), "AmountCurrency": totals.num(amount_currency), "Booked": False,
            "Currency": invoice["Currency"], "CurrencyRate": invoice["CurrencyRate"],
            "CurrencyUnit": invoice["CurrencyUnit"],
            "ExternalInvoiceReference1": invoice["ExternalInvoiceReference1"],
            "ExternalInvoiceReference2": invoice["ExternalInvoiceReference2"],
            "InvoiceCustomerName": invoice["CustomerName"], "InvoiceCustomerNumber": invoice["CustomerNumber"],
            "InvoiceDueDate": invoice["DueDate"], "InvoiceNumber": int(invoice_number) if invoice_number.isdigit() else invoice_number,
            "InvoiceOCR": invoice["OCR"], "InvoiceTotal": str(invoice["Total"]),
            "ModeOfPayment": given.get("ModeOfPayment", ""), "ModeOfPaymentAccount": given.get("ModeOfPaymentAccount", 1930),
            "Number": number, "PaymentDate": payment_date, "Source": "manual", "VoucherNumber": None,
            "VoucherSeries": None, "VoucherYear": None, "WriteOffExist": bool(given.get("WriteOffs")),
            "WriteOffs": given.get("WriteOffs", []),
        }
        company.put("invoicepayments", number, payment)
        register_payment_effect(company, invoice_number, _latest_date(company, invoice_number))
        return reply({"InvoicePayment": _render(request, payment)}, 201)


@router.put("/3/invoicepayments/{number}/bookkeep")
async def bookkeep_payment(request: Request, number: str) -> Response:
    company = company_of(request)
    with company.lock:
        payment = _get(company, number)
        if payment["Booked"]:
            raise bad_request(errors.ALREADY_BOOKED)
        payment.update(Booked=True, VoucherNumber=company.next_counter("voucher"), VoucherSeries="C", VoucherYear=1)
        company.put("invoicepayments", number, payment)
        return reply({"InvoicePayment": _render(request, payment)})


@router.delete("/3/invoicepayments/{number}")
async def delete_payment(request: Request, number: str) -> Response:
    company = company_of(request)
    with company.lock:
        payment = _get(company, number)
        if payment["Booked"]:
            raise bad_request(errors.NO_DELETE)
        company.delete("invoicepayments", number)
        invoice_number = str(payment["InvoiceNumber"])
        register_payment_effect(company, invoice_number, _latest_date(company, invoice_number))
    return Response(status_code=204)
