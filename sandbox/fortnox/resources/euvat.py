"""``GET /3/euvatlimitregulation?year=``: the EU distance-sales threshold (EUR 10 000 = 99 680 SEK).

Computed from the company's invoices to private customers in another EU country: their amounts
excluding VAT (``Total - TotalVAT - RoundOff``, in SEK at the invoice's rate), cancelled invoices
left out and credit invoices subtracted, for the calendar year of the invoice date. ``IsOverLimit``
once the sum exceeds the limit (Fortnox: "om beloppet 99 680 kr överskrids"). Shape from the OpenAPI
``EUVatLimitRegulation {IsOverLimit, Limit, TotalExclVat, Year}``; the computation is UNCONFIRMED
(no recording), see FIDELITY.md.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .. import errors, totals
from ..errors import bad_request
from ..state import Company
from ..web import company_of, params_of, reply

router = APIRouter()
LIMIT_SEK = 99680
EU_OTHER = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SI", "SK",
})


def _eu_private(company: Company, customer_number: Any) -> bool:
    customer = company.get("customers", str(customer_number)) or {}
    return customer.get("Type") == "PRIVATE" and customer.get("CountryCode") in EU_OTHER


def total_excl_vat(company: Company, year: int) -> Decimal:
    total = Decimal(0)
    for invoice in company.data["invoices"].values():
        if invoice.get("Cancelled") or not str(invoice.get("InvoiceDate") or "").startswith(f"{year}-"):
            continue
        if not _eu_private(company, invoice.get("CustomerNumber")):
            continue
        amount = (totals.dec(invoice.get("Total")) - totals.dec(invoice.get("TotalVAT"))
                  - totals.dec(invoice.get("RoundOff")))
        rate = totals.dec(invoice.get("CurrencyRate") or 1) / totals.dec(invoice.get("CurrencyUnit") or 1)
        total += amount * rate  # a credit invoice carries negative amounts
    return total.quantize(Decimal("0.01"))


@router.get("/3/euvatlimitregulation")
async def eu_vat_limit(request: Request) -> Response:
    company = company_of(request)
    params, _ = params_of(request)
    text = params.get("year") or str(company.clock.today().year)
    if not text.isdigit():
        raise bad_request(errors.NOT_NUMERIC, text)
    with company.lock:
        amount = total_excl_vat(company, int(text))
    return reply({"EUVatLimitRegulation": {"IsOverLimit": amount > LIMIT_SEK, "Limit": LIMIT_SEK,
                                           "TotalExclVat": totals.num(amount), "Year": text}})
