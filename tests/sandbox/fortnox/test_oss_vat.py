"""OSS in the Fortnox sandbox: rates only where the company has VAT codes, fractional rates on order
rows but not invoice rows, and the EU threshold (``/3/euvatlimitregulation``) from its invoices."""

from __future__ import annotations

from typing import Any

from sandbox.fortnox.seed import customer_entity
from sandbox.fortnox.vatcodes import add_vat_code

from .conftest import Api

BUYER = "90"


def _eu_private(api: Api, country: str = "DE") -> None:
    api.company.put("customers", BUYER, customer_entity(BUYER, "Eva Muster", Type="PRIVATE", CountryCode=country,
                                                        VATType="EUVAT"))


def _row(vat: Any, account: int, price: float = 100) -> dict[str, Any]:
    return {"Description": "Ware", "AccountNumber": account, "DeliveredQuantity": 1, "Price": price, "VAT": vat}


def test_a_foreign_rate_needs_the_companys_vat_code(api: Api) -> None:
    _eu_private(api)
    refused = api.post("/3/invoices", {"Invoice": {"CustomerNumber": BUYER, "InvoiceRows": [_row(19, 3106)]}})
    assert refused.status_code == 400 and refused.json()["ErrorInformation"]["code"] == 2000459
    add_vat_code(api.company, "OSS-DE-19", 19, sales_account=3150, vat_account=2690, description="OSS DE 19 %")
    booked = api.post("/3/invoices", {"Invoice": {"CustomerNumber": BUYER, "InvoiceRows": [_row(19, 3150)]}})
    assert booked.status_code == 201, booked.text
    invoice = booked.json()["Invoice"]
    assert invoice["InvoiceRows"][0]["VAT"] == 19 and invoice["InvoiceRows"][0]["AccountNumber"] == 3150
    assert invoice["TotalVAT"] == 19 and invoice["Total"] == 119


def test_a_fractional_rate_fits_an_order_row_not_an_invoice_row(api: Api) -> None:
    _eu_private(api, "FI")
    add_vat_code(api.company, "OSS-FI-25.5", "25.5", sales_account=3157, vat_account=2697, description="OSS FI")
    refused = api.post("/3/invoices", {"Invoice": {"CustomerNumber": BUYER, "InvoiceRows": [_row(25.5, 3157)]}})
    assert refused.status_code == 400 and refused.json()["ErrorInformation"]["code"] == 2000108
    created = api.post("/3/orders", {"Order": {"CustomerNumber": BUYER, "OrderRows": [
        {**_row(25.5, 3157), "OrderedQuantity": 1}]}})
    assert created.status_code == 201, created.text
    order = created.json()["Order"]
    assert order["OrderRows"][0]["VAT"] == 25.5 and order["TotalVAT"] == 25.5 and order["Total"] == 126
    # the order's invoice keeps the rate (UNCONFIRMED choice, FIDELITY.md)
    assert api.put(f"/3/orders/{order['DocumentNumber']}/createinvoice").status_code == 200
    number = api.get(f"/3/orders/{order['DocumentNumber']}").json()["Order"]["InvoiceReference"]
    invoice = api.get(f"/3/invoices/{number}", contract=False).json()["Invoice"]
    assert invoice["InvoiceRows"][0]["VAT"] == 25.5 and invoice["Total"] == 126


def test_eu_threshold_counts_invoices_to_eu_private_buyers(api: Api) -> None:
    year = api.company.clock.today().year
    empty = api.get(f"/3/euvatlimitregulation?year={year}").json()["EUVatLimitRegulation"]
    assert empty == {"IsOverLimit": False, "Limit": 99680, "TotalExclVat": 0, "Year": str(year)}
    _eu_private(api)
    swedish = api.get("/3/customers/1").json()["Customer"]["CustomerNumber"]
    for customer, price in ((BUYER, 60000), (swedish, 500000), (BUYER, 40000)):
        answer = api.post("/3/invoices", {"Invoice": {"CustomerNumber": customer,
                                                       "InvoiceRows": [_row(25, 3106 if customer == BUYER else 3001,
                                                                            price)]}})
        assert answer.status_code == 201, answer.text
    over = api.get("/3/euvatlimitregulation", params={"year": year}).json()["EUVatLimitRegulation"]
    assert over == {"IsOverLimit": True, "Limit": 99680, "TotalExclVat": 100000, "Year": str(year)}
    last_year = api.get(f"/3/euvatlimitregulation?year={year - 1}").json()["EUVatLimitRegulation"]
    assert last_year["TotalExclVat"] == 0 and last_year["IsOverLimit"] is False
    assert api.get("/3/euvatlimitregulation").json()["EUVatLimitRegulation"]["Year"] == str(year)
