"""The company's VAT codes: which VAT rates a document row may carry.

Fortnox knows the Swedish rates (25, 12, 6, 0 %) out of the box; other rates exist only where the
company has set up its own VAT codes (Inställningar > Bokföring > Moms), e.g. one per OSS country and
rate, linked to a sales account and an output-VAT account (Fortnox support, MOSS article 208332585).
The API has no endpoint for VAT codes, so tests set them up here, as a bookkeeper would in the UI.
A row whose VAT is not one of the company's rates is refused (2000459 "Kunde inte hitta moms").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .state import Company

SWEDISH_VAT_RATES = (25, 12, 6, 0)
INFO_KEY = "VatCodes"


def company_vat_rates(company: Company) -> set[Decimal]:
    """Every VAT rate (percent) a row of this company may carry."""
    codes: dict[str, dict[str, Any]] = company.info.get(INFO_KEY, {})
    return {Decimal(r) for r in SWEDISH_VAT_RATES} | {Decimal(str(c["Rate"])) for c in codes.values()}


def add_vat_code(company: Company, code: str, rate: float | str, *, sales_account: int, vat_account: int,
                 description: str) -> None:
    """A company-defined VAT code (e.g. ``OSS-DE-19``) with its sales and output-VAT accounts, as a
    bookkeeper sets it up in Fortnox: the accounts are added to the chart and the rate becomes bookable."""
    with company.lock:
        company.info.setdefault(INFO_KEY, {})[code] = {"Code": code, "Rate": str(rate), "Description": description,
                                                       "SalesAccount": sales_account, "VATAccount": vat_account}
        for number, text, vat_code in ((sales_account, f"Försäljning {description}", code),
                                       (vat_account, f"Utgående moms {description}", "")):
            company.put("accounts", str(number), {
                "Active": True, "BalanceBroughtForward": 0, "CostCenter": None, "CostCenterSettings": "ALLOWED",
                "Description": text, "Number": number, "Project": "", "ProjectSettings": "ALLOWED",
                "SRU": 7410 if vat_code else 7369, "VATCode": vat_code or None, "Year": 1,
                "BalanceCarriedForward": 0,
            })
