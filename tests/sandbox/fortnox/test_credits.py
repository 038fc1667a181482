"""Credit invoices in the Fortnox sandbox: a credit is the original negated in every figure, it can be
told apart from the original in the invoice list, and a credit of selected rows can be POSTed."""

from __future__ import annotations

from typing import Any

from .conftest import Api


def _invoice(api: Api, **header: Any) -> dict[str, Any]:
    rows = header.pop("rows")
    response = api.post("/3/invoices", {"Invoice": {"CustomerNumber": "1", "InvoiceRows": rows, **header}})
    assert response.status_code == 201, response.text
    return response.json()["Invoice"]


def test_a_credit_negates_rows_amount_discounts_freight_and_fee(api: Api) -> None:
    invoice = _invoice(api, Freight=49, AdministrationFee=29, ExternalInvoiceReference1="jetfort:se:1", rows=[
        {"ArticleNumber": "1001", "DeliveredQuantity": 3, "Price": 100, "Discount": 10, "DiscountType": "AMOUNT"},
        {"ArticleNumber": "1011", "DeliveredQuantity": 2, "Price": 50, "VAT": 12, "Discount": 10},
    ])
    number = invoice["DocumentNumber"]
    api.put(f"/3/invoices/{number}/bookkeep")
    credit_number = api.put(f"/3/invoices/{number}/credit").json()["Invoice"]["CreditInvoiceReference"]
    credit = api.get(f"/3/invoices/{credit_number}").json()["Invoice"]
    assert (credit["Credit"], credit["InvoiceReference"], credit["CreditInvoiceReference"]) == ("true", number, number)
    for name in ("Net", "TotalVAT", "Total", "Freight", "AdministrationFee", "FreightVAT"):
        assert credit[name] == -invoice[name], name
    assert [(r["DeliveredQuantity"], r["Total"]) for r in credit["InvoiceRows"]] == [
        (f"-{r['DeliveredQuantity']}", -r["Total"]) for r in invoice["InvoiceRows"]]
    # the copy carries the original's key: credit=false leaves it out of the list
    listed = api.get("/3/invoices?externalinvoicereference1=jetfort:se:1&credit=false").json()["Invoices"]
    assert [i["DocumentNumber"] for i in listed] == [number]
    both = api.get("/3/invoices?externalinvoicereference1=jetfort:se:1").json()["Invoices"]
    assert sorted(i["DocumentNumber"] for i in both) == sorted([number, credit_number])


def test_a_posted_credit_of_selected_rows_totals_minus_the_refund(api: Api) -> None:
    credit = _invoice(api, rows=[
        {"Description": "Kreditfaktura för faktura 1: retur 3"},
        # 3 units back for 100.00 incl. 25 % VAT: net 80.00 = 3 x 26.67 - 0.01 (a negated sale's discount)
        {"ArticleNumber": "1001", "DeliveredQuantity": -3, "Price": 26.67, "Discount": -0.01,
         "DiscountType": "AMOUNT", "VAT": 25},
    ])
    assert credit["InvoiceRows"][1]["Total"] == -80 and credit["TotalVAT"] == -20 and credit["Total"] == -100
    assert credit["Credit"] == "false"  # read-only: what real Fortnox sets here is UNCONFIRMED (FIDELITY.md)


def test_an_invoiced_order_cannot_be_cancelled(api: Api) -> None:
    response = api.post("/3/orders", {"Order": {"CustomerNumber": "1", "OrderRows": [
        {"ArticleNumber": "1001", "OrderedQuantity": 1, "DeliveredQuantity": 1}]}})
    number = response.json()["Order"]["DocumentNumber"]
    assert api.put(f"/3/orders/{number}/createinvoice").status_code == 200
    refused = api.put(f"/3/orders/{number}/cancel")
    assert refused.status_code == 400 and "fakturerad" in refused.text
